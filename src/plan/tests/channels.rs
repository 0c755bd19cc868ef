//! Plan tests for release channels and release notes.

use super::*;
use crate::config::ChannelKind;

const BASE: &str = r#"
[project]
name = "hello"
description = "Says hello"
license = "MIT"

[matrix]
os = ["darwin", "linux", "windows"]
arch = ["amd64", "arm64"]

[build]
command = "go build -o {{ out }}/{{ bin }} ."
binary = "hello"

[archive]
format-overrides = [ { when = { os = "windows" }, format = "zip" } ]

[release]
url = "https://dl.example/{{ tag }}/{{ artifact }}"
"#;

fn channels(extra: &str) -> String {
    format!("{BASE}{extra}")
}

#[test]
fn channels_select_their_targets_and_render_urls() {
    let text = channels(
        "[channels.brew]\nkind = \"homebrew\"\n[channels.scoop]\nkind = \"scoop\"\nurl = \"https://mirror/{{ artifact }}\"\n",
    );
    let loaded = config::parse(Path::new("matrix.toml"), text).unwrap();
    let mut req = request(&[]);
    req.has_changelog = true;
    let plan = build(&loaded, &req).unwrap();
    assert_eq!(plan.channels.len(), 2);
    let brew = &plan.channels[0];
    assert_eq!(brew.kind, ChannelKind::Homebrew);
    let ids: Vec<&str> = brew
        .targets
        .iter()
        .map(|(t, _)| plan.targets[*t].id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64"]
    );
    assert_eq!(
        brew.targets[0].1,
        "https://dl.example/v1.2.3/hello_1.2.3_darwin-amd64.tar.gz"
    );
    let scoop = &plan.channels[1];
    assert_eq!(scoop.targets.len(), 2);
    assert_eq!(
        scoop.targets[0].1,
        "https://mirror/hello_1.2.3_windows-amd64.zip"
    );
    let job = |id: &str| plan.jobs.iter().find(|j| j.id == id).unwrap();
    assert_eq!(
        job("channel-scoop").needs,
        ["archive-windows-amd64", "archive-windows-arm64"]
    );
    let checksums = &job("checksums").needs;
    for want in ["channel-brew", "channel-scoop", "release-notes"] {
        assert!(checksums.iter().any(|n| n == want), "{checksums:?}");
    }
    assert_eq!(job("release-notes").kind, JobKind::Notes);
    let notes = plan.notes.as_ref().unwrap();
    assert!(
        !notes.required,
        "unset notes are written when the changelog exists"
    );
    assert_eq!(notes.changelog, PathBuf::from("/src/hello/CHANGELOG.md"));
}

#[test]
fn notes_can_be_turned_off_or_required() {
    // Unset, and no changelog file: no notes.
    assert!(plan_of(BASE, &[]).unwrap().notes.is_none());
    let off = plan_of(
        &BASE.replace("[release]\n", "[release]\nnotes = false\n"),
        &[],
    )
    .unwrap();
    assert!(off.notes.is_none());
    assert!(!off.jobs.iter().any(|j| j.kind == JobKind::Notes));
    let on = plan_of(
        &BASE.replace("[release]\n", "[release]\nnotes = true\n"),
        &[],
    )
    .unwrap();
    assert!(on.notes.unwrap().required);
}

#[test]
fn channel_errors_point_at_the_key() {
    let cases = [
        (
            channels("[channels.brew]\nkind = \"homebrew\"\ngrade = \"stable\"\n"),
            "`grade` is not a homebrew setting",
            "grade",
        ),
        (
            channels("[channels.brew]\nkind = \"homebrew\"\nwhen = { os = \"windows\" }\n"),
            "homebrew only takes darwin and linux targets",
            "when",
        ),
        (
            channels("[channels.a]\nkind = \"scoop\"\n[channels.b]\nkind = \"scoop\"\n"),
            "channels a and b are both scoop",
            "kind",
        ),
        (
            BASE.replace(
                "url = \"https://dl.example/{{ tag }}/{{ artifact }}\"\n",
                "",
            ) + "[channels.brew]\nkind = \"homebrew\"\n",
            "needs a download URL",
            "[channels.brew]",
        ),
        (
            channels("[checksum]\nalgorithm = \"sha512\"\n[channels.brew]\nkind = \"homebrew\"\n"),
            "need sha256 digests",
            "algorithm",
        ),
        (
            channels("[channels.brew]\nkind = \"homebrew\"\nurl = \"{{ nope }}\"\n"),
            "unknown variable `nope`",
            "url",
        ),
        (
            channels("[channels.brew]\nkind = \"homebrew\"\nwhen = { libc = \"musl\" }\n"),
            "`when` names `libc`",
            "libc",
        ),
    ];
    for (text, want, line_has) in cases {
        let e = config_error(&text);
        assert!(e.message.contains(want), "{} lacks {want}", e.message);
        let line = text.lines().nth(e.line - 1).unwrap_or("");
        assert!(line.contains(line_has), "{want}: points at {line:?}");
    }
}

#[test]
fn a_target_filter_can_leave_a_channel_out() {
    let plan = plan_of(
        &channels("[channels.scoop]\nkind = \"scoop\"\n"),
        &["linux/amd64"],
    )
    .unwrap();
    assert!(plan.channels.is_empty());
    // Without a filter, a channel that selects nothing is a mistake.
    let e = config_error(
        &channels(
            "[channels.snap]\nkind = \"snapcraft\"\nwhen = { os = \"linux\", arch = \"amd64\" }\n",
        )
        .replace(
            "os = [\"darwin\", \"linux\", \"windows\"]",
            "os = [\"darwin\", \"windows\"]",
        )
        .replace("when = { os = \"linux\", arch = \"amd64\" }\n", ""),
    );
    assert!(e.message.contains("selects no target"), "{}", e.message);
}

#[test]
fn a_homebrew_desc_that_homebrew_refuses_stops_the_plan_at_its_line() {
    let text = channels("[channels.brew]\nkind = \"homebrew\"\n").replace(
        "description = \"Says hello\"",
        "description = \"A greeter that says hello.\"",
    );
    let e = config_error(&text);
    assert!(
        e.message
            .contains("Description shouldn't start with an article.")
            && e.message
                .contains("Description shouldn't end with a full stop."),
        "{}",
        e.message
    );
    let line = text.lines().nth(e.line - 1).unwrap_or("");
    assert!(line.starts_with("description ="), "points at {line:?}");
    let help = e.help.as_deref().unwrap_or_default();
    assert!(
        help.contains(r#"`desc = "Greeter that says hello"` under [channels.brew]"#),
        "{help}"
    );

    // The channel's own desc replaces the description, and is checked the
    // same way: here it starts with the formula's name.
    let own = format!("{text}desc = \"Hello, the greeter\"\n");
    let e = config_error(&own);
    assert!(
        e.message
            .contains("Description shouldn't start with the formula name."),
        "{}",
        e.message
    );
    let line = own.lines().nth(e.line - 1).unwrap_or("");
    assert!(line.starts_with("desc ="), "points at {line:?}");
    let fixed = format!("{text}desc = \"Greeter that says hello\"\n");
    assert!(plan_of(&fixed, &[]).is_ok());

    // `desc` is a Homebrew key only.
    let e = config_error(&channels(
        "[channels.scoop]\nkind = \"scoop\"\ndesc = \"Greeter\"\n",
    ));
    assert!(
        e.message.contains("`desc` is not a scoop setting"),
        "{}",
        e.message
    );
}

#[test]
fn a_scoop_channel_needs_a_project_license() {
    let text = channels("[channels.scoop]\nkind = \"scoop\"\n").replace("license = \"MIT\"\n", "");
    let e = config_error(&text);
    assert!(
        e.message.contains("a Scoop manifest needs a license"),
        "{}",
        e.message
    );
    let line = text.lines().nth(e.line - 1).unwrap_or("");
    assert!(line.contains("[project]"), "points at {line:?}");
}
