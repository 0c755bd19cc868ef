//! The install.sh channel at plan time: its line in the registry and the
//! targets an installer can ship.

use serde::Serialize;

use super::{ShellConfig, ShellOptions};
use crate::packager::registry::{At, ChannelKind, Packager, PlanInput, Problem};
use crate::target::Platform;

pub const PACKAGER: Packager = Packager {
    kind: ChannelKind::Shell,
    name: "shell",
    title: "install.sh",
    dir: "shell",
    oses: &["linux", "darwin", "freebsd", "openbsd", "netbsd"],
    slot,
    format_problem: |_| None,
    one_format: false,
    format_hint: "tar.gz",
    universal: false,
    needs_url: true,
    cache_tools: None,
};

/// One build per platform the script can tell apart with `uname`.
fn slot(p: &Platform) -> Option<&'static str> {
    super::arch_name(p.os, p.arch, p.variant)?;
    static SLOTS: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        crate::target::PLATFORMS
            .iter()
            .map(|q| (q.name(), format!("the {} build", q.name())))
            .collect()
    });
    let name = p.name();
    slots
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, slot)| slot.as_str())
}

/// An install.sh channel, planned: the script's settings and file.
#[derive(Debug, Clone, Serialize)]
pub struct ShellStep {
    pub options: ShellOptions,
    /// The script under dist/: `shell/install.sh`.
    pub file: String,
}

pub fn plan(cx: &PlanInput, c: &ShellConfig) -> ShellStep {
    let script = c
        .script_name
        .clone()
        .unwrap_or_else(|| super::SCRIPT.to_string());
    ShellStep {
        file: format!("{}/{script}", PACKAGER.dir),
        options: ShellOptions {
            channel: cx.channel.to_string(),
            script,
            checksums: cx.checksums.to_string(),
            checksums_url: c.checksums_url.clone(),
        },
    }
}

/// The script's name is a plain file name the script can print, and a
/// `checksums-url` is an http(s) URL.
pub fn check(cx: &PlanInput, c: &ShellConfig) -> Result<(), Problem> {
    if let Some(name) = &c.script_name {
        let plain = !name.is_empty()
            && name.len() <= 128
            && !name.starts_with(['.', '-'])
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !plain {
            return Err(Problem {
                at: At::Channel(Some("script-name")),
                message: format!(
                    "channel {}: script-name {name:?} is not a plain file name",
                    cx.channel
                ),
                help: Some(
                    "use letters, digits, '.', '_' and '-', not starting with '.' or '-' (e.g. \"install.sh\")"
                        .into(),
                ),
            });
        }
    }
    if let Some(url) = &c.checksums_url {
        check_url(cx, url, At::Channel(Some("checksums-url")))?;
    }
    Ok(())
}

/// Each download URL is an http(s) URL; without `checksums-url`, each
/// must end with the archive's name (checked when the script is written),
/// so a query or a fragment cannot be there.
pub fn check_urls(cx: &PlanInput, c: &ShellConfig, urls: &[&str]) -> Result<(), Problem> {
    for url in urls {
        check_url(cx, url, At::Channel(None))?;
        if c.checksums_url.is_none() && url.contains(['?', '#']) {
            return Err(Problem {
                at: At::Channel(None),
                message: format!(
                    "channel {}: the download URL {url} has a query or fragment, so install.sh cannot tell where the checksums file is",
                    cx.channel
                ),
                help: Some(
                    "set `checksums-url` on the channel to the URL of the release's checksums file"
                        .into(),
                ),
            });
        }
    }
    Ok(())
}

fn check_url(cx: &PlanInput, url: &str, at: At) -> Result<(), Problem> {
    let http = url.starts_with("https://") || url.starts_with("http://");
    if !http || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Problem {
            at,
            message: format!(
                "channel {}: install.sh downloads with curl or wget, and {url:?} is not an http(s) URL",
                cx.channel
            ),
            help: Some("use an https:// URL (http:// is kept as written)".into()),
        });
    }
    Ok(())
}
