//! The toolchain preset's name, which `matrix.toml` shares with later
//! stages.
//!
//! Part of the first stage of the flow (config). Only the vocabulary lives
//! here, so that config imports nothing above it; what each preset does is
//! implemented in `preset`, which re-exports the type under its old path.
//! (The archive format and the checksum algorithm are `package`'s words:
//! config, above it, imports them.)

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
