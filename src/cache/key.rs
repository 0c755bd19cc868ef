//! A job's cache key: named inputs, written as canonical JSON, hashed.
//!
//! Part of `cache`. The names are kept beside the key so a miss can say
//! which input changed since the job's last recorded run
//! ([`Inputs::changed_since`]), not only that something did.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::package::checksum::{Algorithm, Hasher};

/// Everything that can change a job's output, by name (`command`, `env`,
/// `toolchain`, `sources`, ...). Each value is the input itself when it is
/// short, or its digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Inputs(pub BTreeMap<String, String>);

impl Inputs {
    /// Sets one input. A value that is not a string is stored as its JSON.
    pub fn set(&mut self, name: &str, value: impl Serialize) {
        let text = match serde_json::to_value(&value) {
            Ok(serde_json::Value::String(s)) => s,
            // Serialising plain data (maps, lists, strings) cannot fail;
            // should it, the input still changes with the value's Debug-less
            // placeholder and the job simply misses.
            Ok(v) => v.to_string(),
            Err(e) => format!("unserialisable: {e}"),
        };
        self.0.insert(name.to_string(), text);
    }

    /// The key: sha256 of the inputs as JSON with sorted names (a
    /// BTreeMap serialises in order, so the same inputs always give the
    /// same bytes).
    pub fn key(&self) -> String {
        let bytes = serde_json::to_vec(&self.0).unwrap_or_default();
        let mut hasher = Hasher::new(Algorithm::Sha256);
        hasher.update(&bytes);
        hasher.finalize_hex()
    }

    /// The names of the inputs that differ from `earlier` (added, removed
    /// or changed), in name order.
    pub fn changed_since(&self, earlier: &Inputs) -> Vec<String> {
        let mut names: Vec<String> = self
            .0
            .iter()
            .filter(|(k, v)| earlier.0.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .collect();
        names.extend(
            earlier
                .0
                .keys()
                .filter(|k| !self.0.contains_key(*k))
                .cloned(),
        );
        names.sort();
        names
    }
}

/// A path as key text, losing nothing: the path itself when it is UTF-8,
/// else a NUL (which no path holds) and the hex of its bytes, so two paths
/// that differ only in bytes that are not UTF-8 never give the same key
/// (`Path::display` writes both as U+FFFD).
pub fn path_text(path: &Path) -> String {
    match path.to_str() {
        Some(text) => text.to_string(),
        None => format!("\0bytes:{}", hex::encode(path.as_os_str().as_bytes())),
    }
}

/// Whether `text` looks like a key this module made (64 lowercase hex
/// digits): a key names files in the store, so nothing else may.
pub fn is_key(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(pairs: &[(&str, &str)]) -> Inputs {
        let mut i = Inputs::default();
        for (k, v) in pairs {
            i.set(k, v);
        }
        i
    }

    #[test]
    fn the_key_depends_on_every_input_and_not_on_insertion_order() {
        let a = inputs(&[("command", "go build"), ("env", "{}")]);
        let b = inputs(&[("env", "{}"), ("command", "go build")]);
        assert_eq!(a.key(), b.key());
        assert!(is_key(&a.key()));
        let c = inputs(&[("command", "go build -v"), ("env", "{}")]);
        assert_ne!(a.key(), c.key());
    }

    #[test]
    fn a_miss_names_what_changed() {
        let old = inputs(&[("command", "a"), ("env", "x"), ("gone", "1")]);
        let new = inputs(&[("command", "a"), ("env", "y"), ("new", "2")]);
        assert_eq!(new.changed_since(&old), ["env", "gone", "new"]);
        assert!(new.changed_since(&new).is_empty());
    }

    #[test]
    fn values_that_are_not_strings_are_json() {
        let mut i = Inputs::default();
        i.set("env", BTreeMap::from([("B", "2"), ("A", "1")]));
        assert_eq!(i.0["env"], r#"{"A":"1","B":"2"}"#);
    }

    #[test]
    fn paths_that_are_not_utf8_keep_their_bytes() {
        use std::ffi::OsStr;
        let a = Path::new(OsStr::from_bytes(b"src/\xff.c"));
        let b = Path::new(OsStr::from_bytes(b"src/\xfe.c"));
        assert_eq!(a.display().to_string(), b.display().to_string());
        assert_ne!(path_text(a), path_text(b));
        assert_eq!(path_text(a), "\0bytes:7372632fff2e63");
        assert_eq!(path_text(Path::new("src/é.c")), "src/é.c");
    }

    #[test]
    fn only_hex_digests_are_keys() {
        assert!(!is_key("../../etc/passwd"));
        assert!(!is_key(&"A".repeat(64)));
    }
}
