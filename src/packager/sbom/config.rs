//! `[sbom]` of matrix.toml: which SBOM formats every archive gets.
//!
//! Read by `config` (one field of [`crate::config::Config`]); the plan
//! turns it into one SBOM job per archive. An absent table makes no SBOMs,
//! so a release without it is unchanged.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A document format an SBOM is written in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SbomFormat {
    /// CycloneDX 1.6 JSON, written as `<archive>.cdx.json`.
    Cyclonedx,
    /// SPDX 2.3 JSON, written as `<archive>.spdx.json`.
    Spdx,
}

impl SbomFormat {
    pub const ALL: [SbomFormat; 2] = [SbomFormat::Cyclonedx, SbomFormat::Spdx];

    pub fn as_str(self) -> &'static str {
        match self {
            SbomFormat::Cyclonedx => "cyclonedx",
            SbomFormat::Spdx => "spdx",
        }
    }

    /// What the archive's name is followed by in the SBOM's file name.
    pub fn extension(self) -> &'static str {
        match self {
            SbomFormat::Cyclonedx => ".cdx.json",
            SbomFormat::Spdx => ".spdx.json",
        }
    }
}

/// `[sbom]`: an SBOM per archive, from what its binary really contains.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SbomConfig {
    /// The formats to write (default both: `["cyclonedx", "spdx"]`).
    #[serde(default = "all_formats")]
    pub formats: Vec<SbomFormat>,
}

impl Default for SbomConfig {
    fn default() -> Self {
        SbomConfig {
            formats: all_formats(),
        }
    }
}

fn all_formats() -> Vec<SbomFormat> {
    SbomFormat::ALL.to_vec()
}

/// Why `[sbom]` cannot be used: the index in `sbom.formats` (if one entry
/// is at fault), the message and a hint, for `config` to place.
pub fn check(config: &SbomConfig) -> Result<(), (Option<usize>, String, String)> {
    if config.formats.is_empty() {
        return Err((
            None,
            "`formats` is empty, so no SBOM would be written".into(),
            "name at least one of \"cyclonedx\" and \"spdx\", or leave [sbom] out".into(),
        ));
    }
    for (i, f) in config.formats.iter().enumerate() {
        if config.formats[..i].contains(f) {
            return Err((
                Some(i),
                format!("format {:?} is listed twice", f.as_str()),
                "list each format once".into(),
            ));
        }
    }
    Ok(())
}
