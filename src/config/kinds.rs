//! Names `matrix.toml` shares with later stages: the archive format, the
//! checksum algorithm and the toolchain preset.
//!
//! Part of the first stage of the flow (config). Only the vocabulary lives
//! here, so that config imports nothing downstream; what each value does is
//! implemented where it is used (`package::archive`, `package::checksum`,
//! `preset`), which re-export these types under their old paths.

/// Artifact format of a target.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub enum Format {
    #[serde(rename = "tar.gz")]
    TarGz,
    #[serde(rename = "tar.xz")]
    TarXz,
    #[serde(rename = "tar.zst")]
    TarZst,
    #[serde(rename = "zip")]
    Zip,
    /// The bare executable, no archive.
    #[serde(rename = "binary")]
    Binary,
}

/// Digest algorithm used for artifact checksums.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    #[default]
    Sha256,
    Sha512,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// `go build` with GOOS/GOARCH/GOARM and CGO_ENABLED=0.
    Go,
    /// `cargo build --target <triple>`, with the GNU cross linker where needed.
    Cargo,
    /// `cargo zigbuild --target <triple>` (zig as linker; macOS from Linux).
    CargoZigbuild,
    /// CC/CXX/AR set to Debian's GNU cross compilers; you give the command.
    GccCross,
    /// CC/CXX/AR set to `zig cc -target <zig target>`; you give the command.
    ZigCc,
}
