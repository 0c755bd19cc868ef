//! Which targets each channel kind can ship, and where in its package each
//! one goes.
//!
//! Part of `plan`, so a channel that cannot ship a target fails before any
//! build runs. Each kind's rules (the ones its renderer applies to the
//! finished archives) are its packager's `slot` and `format_problem`, in
//! `crate::packager::<kind>/plan.rs`; here they are asked of every target.

use crate::config::ChannelKind;
use crate::package::archive::Format;
use crate::target::{PLATFORMS, Platform};

/// The place in a channel's package that a platform fills (two targets
/// filling one would be ambiguous), or `None` when the kind cannot ship it.
pub(super) fn slot(kind: ChannelKind, p: &Platform) -> Option<&'static str> {
    (kind.packager().slot)(p)
}

/// Every platform the kind can ship, by name (`windows/amd64`), in the
/// knowledge base's order.
pub(super) fn shippable(kind: ChannelKind) -> Vec<String> {
    let mut names: Vec<String> = PLATFORMS
        .iter()
        .filter(|p| slot(kind, p).is_some())
        .map(|p| p.name())
        .collect();
    names.dedup();
    names
}

/// The architectures the kind can ship, for a `when` in a help text.
pub(super) fn arches(kind: ChannelKind) -> Vec<&'static str> {
    let mut arches: Vec<&'static str> = Vec::new();
    for p in PLATFORMS.iter().filter(|p| slot(kind, p).is_some()) {
        if !arches.contains(&p.arch) {
            arches.push(p.arch);
        }
    }
    arches
}

/// Why the kind cannot install an archive of this format, if it cannot.
pub(super) fn format_problem(kind: ChannelKind, format: Format) -> Option<&'static str> {
    (kind.packager().format_problem)(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_ships_what_its_renderer_takes() {
        let cases = [
            (
                ChannelKind::Homebrew,
                &["linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"][..],
            ),
            (
                ChannelKind::Snapcraft,
                &[
                    "linux/amd64",
                    "linux/arm64",
                    "linux/386",
                    "linux/arm/v7",
                    "linux/ppc64le",
                    "linux/s390x",
                    "linux/riscv64",
                ][..],
            ),
            (
                ChannelKind::Chocolatey,
                &["windows/amd64", "windows/386"][..],
            ),
            (
                ChannelKind::Scoop,
                &["windows/amd64", "windows/386", "windows/arm64"][..],
            ),
        ];
        for (kind, want) in cases {
            assert_eq!(shippable(kind), want, "{}", kind.name());
            // Every shippable os is one the kind names as its own.
            for p in PLATFORMS.iter().filter(|p| slot(kind, p).is_some()) {
                assert!(kind.oses().contains(&p.os), "{}", p.name());
            }
        }
        assert_eq!(arches(ChannelKind::Chocolatey), ["amd64", "386"]);
    }

    #[test]
    fn two_platforms_never_share_a_slot() {
        for kind in [
            ChannelKind::Homebrew,
            ChannelKind::Snapcraft,
            ChannelKind::Chocolatey,
            ChannelKind::Scoop,
        ] {
            let slots: Vec<&str> = PLATFORMS.iter().filter_map(|p| slot(kind, p)).collect();
            let mut unique = slots.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), slots.len(), "{}: {slots:?}", kind.name());
        }
    }

    #[test]
    fn formats_each_kind_cannot_install() {
        assert!(format_problem(ChannelKind::Chocolatey, Format::TarGz).is_some());
        assert!(format_problem(ChannelKind::Chocolatey, Format::Zip).is_none());
        assert!(format_problem(ChannelKind::Chocolatey, Format::Binary).is_none());
        assert!(format_problem(ChannelKind::Snapcraft, Format::TarZst).is_some());
        assert!(format_problem(ChannelKind::Snapcraft, Format::TarGz).is_none());
        assert!(format_problem(ChannelKind::Homebrew, Format::TarZst).is_none());
    }
}
