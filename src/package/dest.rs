//! Archive path rules, shared by file resolution and archive writing.
//!
//! A destination inside an archive is a `/`-separated, normalized, relative
//! path: no `..`, no leading `/`, no drive letter, no backslash. Config
//! values (`dst`, `wrap`) are normalized leniently with [`normalize_dest`];
//! final entry paths must already be normal ([`check_dest`]), so a path that
//! could extract outside the target directory never reaches an archive.

use super::PackageError;

/// Normalizes an archive path: `/`-separated, relative, no `.`/empty
/// components. Rejects `..`, absolute paths, backslashes (a separator on
/// Windows, so ambiguous) and NUL. An empty result is allowed here and means
/// "the archive's top level".
pub fn normalize_dest(dest: &str) -> Result<String, PackageError> {
    let unsafe_dest = |reason: &str| PackageError::UnsafeDest {
        dest: dest.to_string(),
        reason: reason.to_string(),
    };
    if dest.starts_with('/') {
        return Err(unsafe_dest("it is absolute"));
    }
    if dest.contains('\\') {
        return Err(unsafe_dest("it contains `\\`"));
    }
    if dest.contains('\0') {
        return Err(unsafe_dest("it contains a NUL byte"));
    }
    if dest.len() >= 2 && dest.as_bytes()[1] == b':' {
        return Err(unsafe_dest("it starts with a drive letter"));
    }
    let mut parts = Vec::new();
    for part in dest.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(unsafe_dest("it contains `..`")),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// Joins two normalized archive paths, either possibly empty.
pub(crate) fn join_dest(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

/// A final archive path must already be in normal form and name something.
pub(crate) fn check_dest(dest: &str) -> Result<(), PackageError> {
    let normal = normalize_dest(dest)?;
    if normal.is_empty() {
        return Err(PackageError::UnsafeDest {
            dest: dest.to_string(),
            reason: "it is empty".to_string(),
        });
    }
    if normal != dest {
        return Err(PackageError::UnsafeDest {
            dest: dest.to_string(),
            reason: format!("it is not normalized (should be `{normal}`)"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_and_check_dest_table() {
        let cases = [
            ("a/b", Ok("a/b")),
            ("./a//b/", Ok("a/b")),
            ("", Ok("")),
            (".", Ok("")),
            ("../a", Err(())),
            ("a/../../b", Err(())),
            ("/a", Err(())),
            ("a\\b", Err(())),
            ("C:/x", Err(())),
        ];
        for (input, want) in cases {
            let got = normalize_dest(input).map_err(|_| ());
            assert_eq!(got.as_deref().map_err(|_| ()), want, "{input}");
        }
        assert!(check_dest("a/b").is_ok());
        for bad in ["", "a//b", "./a", "a/", "../a"] {
            assert!(check_dest(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn join_dest_table() {
        for (a, b, want) in [("", "x", "x"), ("a", "", "a"), ("a/b", "c/d", "a/b/c/d")] {
            assert_eq!(join_dest(a, b), want);
        }
    }
}
