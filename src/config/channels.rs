//! The release-channel parts of `matrix.toml`: `[release]` (download URLs,
//! release notes) and `[channels.<name>]` (Homebrew, Snapcraft, Chocolatey,
//! Scoop inputs rendered from the release's own records).
//!
//! Part of the first stage of the flow (config). `kind` picks the
//! channel's [`Settings`] variant, each the config type of its packager
//! (`crate::packager::<kind>`); a key another kind owns is kept aside and
//! is an error at plan time, at its line and column.

use std::borrow::Cow;
use std::sync::LazyLock;

use schemars::JsonSchema;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::When;
pub use crate::packager::registry::{ChannelKind, PACKAGERS, Settings};
use crate::packager::registry::{fields, read_key};
pub use crate::packager::snap::{Confinement, Grade};

/// `[release]`: settings for the release as a whole.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Release {
    /// Where users download an artifact (template; `{{ artifact }}` is its
    /// file name), e.g.
    /// `https://github.com/o/r/releases/download/{{ tag }}/{{ artifact }}`.
    #[serde(default)]
    pub url: Option<String>,
    /// Write dist/RELEASE_NOTES.md: `true` requires the changelog to have
    /// this version's section (a snapshot only warns), `false` never writes
    /// notes; unset writes them when the changelog file exists.
    #[serde(default)]
    pub notes: Option<bool>,
    /// The Keep a Changelog file the notes take this version's section from.
    #[serde(default = "default_changelog")]
    pub changelog: String,
    /// Text for the notes' "Known Limitations" section.
    #[serde(default)]
    pub known_limitations: Option<String>,
    /// Your own release-notes template instead of the built-in one.
    #[serde(default)]
    pub notes_template: Option<String>,
}

impl Default for Release {
    fn default() -> Self {
        Release {
            url: None,
            notes: None,
            changelog: default_changelog(),
            known_limitations: None,
            notes_template: None,
        }
    }
}

fn default_changelog() -> String {
    "CHANGELOG.md".to_string()
}

/// `[channels.<name>]`: one channel. `kind` picks the format; the keys
/// of its [`Settings`] apply to that kind only.
#[derive(Debug, Clone)]
pub struct Channel {
    /// Which targets feed it (default: the kind's operating systems).
    pub when: Option<When>,
    /// Download URL template (default: `[release] url`).
    pub url: Option<String>,
    /// Your own template file for the channel's main file.
    pub template: Option<String>,
    /// Package name or id (default: the project name).
    pub name: Option<String>,
    /// `cache = false`: a package channel's job always runs and is never
    /// stored in the action cache (default true).
    pub cache: bool,
    /// The kind and its own keys.
    pub settings: Settings,
    /// Keys set that another kind owns, in `FOREIGN_ORDER`: a plan error.
    pub foreign: Vec<&'static str>,
}

/// The plan JSON shows a channel as written, as one table of every key
/// any kind takes (in [`KEYS`] order), `null` where unset (keys of kinds
/// added since [`FIRST_KEYS`]: absent) and `package`
/// true unless the kind's config says otherwise: the shape it had when
/// every kind's keys shared one struct.
impl Serialize for Channel {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeMap};
        let own = match serde_json::to_value(&self.settings).map_err(S::Error::custom)? {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        let mut map = serializer.serialize_map(Some(KEYS.len()))?;
        for key in KEYS.iter() {
            // The keys every channel has go straight to the serializer, so
            // `when` keeps the order it was written in.
            match *key {
                "when" => map.serialize_entry(key, &self.when)?,
                "url" => map.serialize_entry(key, &self.url)?,
                "template" => map.serialize_entry(key, &self.template)?,
                "name" => map.serialize_entry(key, &self.name)?,
                // Shown only when set, so plans without it read as before.
                "cache" if self.cache => {}
                "cache" => map.serialize_entry(key, &false)?,
                _ => match own.get(*key) {
                    Some(value) => map.serialize_entry(key, value)?,
                    None if *key == "package" => map.serialize_entry(key, &true)?,
                    // Keys of kinds added since are shown only when set,
                    // so a plan without them reads as it always did.
                    None if !FIRST_KEYS.contains(key) => {}
                    None => map.serialize_entry(key, &serde_json::Value::Null)?,
                },
            }
        }
        map.end()
    }
}

/// The keys every channel has, whatever its kind.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Common {
    /// Which targets feed it (default: the kind's operating systems).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    when: Option<When>,
    /// Download URL template (default: `[release] url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    /// Your own template file for the channel's main file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    template: Option<String>,
    /// Package name or id (default: the project name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// Keep the packages this channel builds (deb, rpm, msi, snap) in the
    /// action cache (default true); `false`: its job always runs and is
    /// never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cache: Option<bool>,
}

/// Every key a channel of some kind takes, in the order an unknown key's
/// error lists them: `FIRST_KEYS`, then those of kinds added since.
pub static KEYS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut keys = with_new_keys(FIRST_KEYS);
    keys.extend(NEW_COMMON_KEYS);
    keys
});

/// The keys every channel has that came after [`FIRST_KEYS`].
const NEW_COMMON_KEYS: &[&str] = &["cache"];

/// The keys of the kinds matrix began with, in the order its errors have
/// always listed them (a test checks them against the kinds' config types).
const FIRST_KEYS: &[&str] = &[
    "kind",
    "when",
    "url",
    "template",
    "name",
    "summary",
    "class",
    "test",
    "caveats",
    "desc",
    "grade",
    "confinement",
    "base",
    "plugs",
    "authors",
    "owners",
    "tags",
    "license-url",
    "project-source-url",
    "package-source-url",
    "docs-url",
    "bug-tracker-url",
    "icon-url",
    "release-notes",
    "install-template",
    "uninstall-template",
    "bin",
    "checkver",
    "package",
];

/// The order a channel's foreign keys are reported in (the first one set
/// is the error): each kind's keys in turn, `summary` after Snapcraft's and
/// `package` last, then those of kinds added since.
static FOREIGN_ORDER: LazyLock<Vec<&'static str>> = LazyLock::new(|| with_new_keys(FIRST_FOREIGN));

const FIRST_FOREIGN: &[&str] = &[
    "class",
    "test",
    "caveats",
    "desc",
    "grade",
    "confinement",
    "base",
    "plugs",
    "summary",
    "authors",
    "owners",
    "tags",
    "license-url",
    "project-source-url",
    "package-source-url",
    "docs-url",
    "bug-tracker-url",
    "icon-url",
    "release-notes",
    "install-template",
    "uninstall-template",
    "bin",
    "checkver",
    "package",
];

/// `first`, then the keys of the registry's kinds it lacks, in order.
fn with_new_keys(first: &[&'static str]) -> Vec<&'static str> {
    let mut keys = first.to_vec();
    for p in PACKAGERS {
        for key in p.kind.keys() {
            if !keys.contains(key) {
                keys.push(key);
            }
        }
    }
    keys
}

impl Channel {
    pub fn kind(&self) -> ChannelKind {
        self.settings.kind()
    }

    /// The keys that are set and belong to another kind, for errors.
    pub fn foreign_keys(&self) -> &[&'static str] {
        &self.foreign
    }

    /// The channel from its keys (each already read with its owner's type).
    fn from_keys(kind: ChannelKind, set: Vec<(&'static str, toml::Value)>) -> Result<Self, String> {
        let common_keys = fields::<Common>();
        let own = kind.keys();
        let (mut common, mut mine) = (toml::Table::new(), toml::Table::new());
        let mut foreign = Vec::new();
        for (key, value) in set {
            if common_keys.contains(&key) {
                common.insert(key.to_string(), value);
            } else if own.contains(&key) {
                mine.insert(key.to_string(), value);
            } else if !is_default(key, &value) {
                foreign.push(key);
            }
        }
        foreign.sort_by_key(|k| FOREIGN_ORDER.iter().position(|x| x == k));
        let common: Common = toml::Value::Table(common)
            .try_into()
            .map_err(|e| e.message().to_string())?;
        let settings = Settings::read(kind, mine).map_err(|e| e.message().to_string())?;
        Ok(Channel {
            when: common.when,
            url: common.url,
            template: common.template,
            name: common.name,
            cache: common.cache.unwrap_or(true),
            settings,
            foreign,
        })
    }
}

/// Whether `value` is what the kind owning `key` takes when it is unset
/// (`package = true`), which sets nothing another kind could refuse.
fn is_default(key: &str, value: &toml::Value) -> bool {
    PACKAGERS
        .iter()
        .filter(|p| p.kind.keys().contains(&key))
        .filter_map(|p| Settings::read(p.kind, toml::Table::new()).ok())
        .filter_map(|s| toml::Value::try_from(s).ok())
        .any(|d| d.get(key) == Some(value))
}

impl<'de> Deserialize<'de> for Channel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct("Channel", keys(), ChannelVisitor)
    }
}

struct ChannelVisitor;

impl<'de> Visitor<'de> for ChannelVisitor {
    type Value = Channel;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("struct Channel")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Channel, A::Error> {
        let mut kind = None;
        let mut set = Vec::new();
        while let Some(key) = map.next_key_seed(Key)? {
            if key == "kind" {
                if kind.is_some() {
                    return Err(de::Error::duplicate_field("kind"));
                }
                kind = Some(map.next_value::<ChannelKind>()?);
            } else {
                if set.iter().any(|(k, _)| *k == key) {
                    return Err(de::Error::duplicate_field(key));
                }
                set.push((key, map.next_value_seed(Value(key))?));
            }
        }
        let kind = kind.ok_or_else(|| de::Error::missing_field("kind"))?;
        Channel::from_keys(kind, set).map_err(de::Error::custom)
    }
}

/// [`KEYS`], for serde.
fn keys() -> &'static [&'static str] {
    LazyLock::force(&KEYS).as_slice()
}

/// A key of [`KEYS`]; any other is serde's "unknown field", at the key.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<&'static str, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = &'static str;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<&'static str, E> {
        keys()
            .iter()
            .find(|k| **k == v)
            .copied()
            .ok_or_else(|| E::unknown_field(v, keys()))
    }
}

/// The value of `key`, read straight from the document with the type its
/// owner (the common keys, or the first kind that has it) gives it, so a
/// wrong value is an error at its own line and column.
struct Value(&'static str);

impl<'de> DeserializeSeed<'de> for Value {
    type Value = toml::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<toml::Value, D::Error> {
        let key = self.0;
        if fields::<Common>().contains(&key) {
            return read_key::<Common, D>(key, d);
        }
        let owner = PACKAGERS
            .iter()
            .find(|p| p.kind.keys().contains(&key))
            .ok_or_else(|| de::Error::unknown_field(key, keys()))?;
        owner.kind.read_key(key, d)
    }
}

impl JsonSchema for Channel {
    fn schema_name() -> Cow<'static, str> {
        "Channel".into()
    }

    /// One schema per kind: the common keys, `kind`, and the kind's own.
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let common = Common::json_schema(generator);
        let kinds: Vec<serde_json::Value> = PACKAGERS
            .iter()
            .map(|p| {
                let mut properties = serde_json::Map::new();
                properties.insert(
                    "kind".into(),
                    serde_json::json!({ "const": p.name, "description": "What a channel renders." }),
                );
                for schema in [&common, &p.kind.schema(generator)] {
                    if let Some(own) = schema.get("properties").and_then(|v| v.as_object()) {
                        properties.extend(own.clone());
                    }
                }
                // Every channel once took `package` (default true); a kind
                // that builds no package still accepts that default.
                properties.entry("package").or_insert_with(|| {
                    serde_json::json!({
                        "const": true,
                        "description": "This kind builds no package: only the default, true, is accepted."
                    })
                });
                serde_json::json!({
                    "type": "object",
                    "properties": properties,
                    "required": ["kind"],
                    "additionalProperties": false,
                })
            })
            .collect();
        schemars::json_schema!({
            "description": "`[channels.<name>]`: one channel. `kind` picks the format; the keys of its kind apply to that kind only.",
            "oneOf": kinds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_every_kinds_keys() {
        let mut owned: Vec<&str> = vec!["kind"];
        owned.extend(fields::<Common>());
        for p in PACKAGERS {
            owned.extend(p.kind.keys());
        }
        // No key is listed that no kind takes, and every key is listed.
        let mut want: Vec<&str> = KEYS.to_vec();
        want.sort();
        owned.sort();
        owned.dedup();
        assert_eq!(owned, want);
        let mut foreign: Vec<&str> = FOREIGN_ORDER.to_vec();
        foreign.extend(["kind", "when", "url", "template", "name"]);
        foreign.extend(NEW_COMMON_KEYS);
        foreign.sort();
        assert_eq!(foreign, want);
    }

    #[test]
    fn the_schema_gives_the_apt_table_to_deb_only() {
        let schema = serde_json::to_value(schemars::schema_for!(Channel)).unwrap();
        let kind = |name: &str| {
            schema["oneOf"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["properties"]["kind"]["const"] == name)
                .unwrap()["properties"]
                .clone()
        };
        let (deb, rpm) = (kind("deb"), kind("rpm"));
        assert!(deb.get("apt").is_some() && deb.get("release").is_none());
        assert!(rpm.get("release").is_some() && rpm.get("apt").is_none());
        let apt = &schema["$defs"]["AptConfig"];
        assert_eq!(apt["additionalProperties"], false, "{schema:#}");
        let mut keys: Vec<&String> = apt["properties"].as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["component", "label", "origin", "suite"]);
    }
}
