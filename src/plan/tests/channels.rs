//! Plan tests for release channels and release notes.

use super::*;
use crate::config::ChannelKind;

const BASE: &str = r#"
[project]
name = "hello"
description = "Says hello"
license = "MIT"
homepage = "https://example.org/hello"

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
            "channel brew cannot ship windows/amd64, windows/arm64: homebrew ships linux/amd64, linux/arm64, darwin/amd64, darwin/arm64 only",
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
fn a_default_when_leaves_out_what_the_kind_cannot_ship() {
    // BASE builds windows/arm64, which Chocolatey has no download slot for.
    let plan = plan_of(&channels("[channels.choco]\nkind = \"chocolatey\"\n"), &[]).unwrap();
    let choco = &plan.channels[0];
    let ids: Vec<&str> = choco
        .targets
        .iter()
        .map(|(t, _)| plan.targets[*t].id.as_str())
        .collect();
    assert_eq!(ids, ["windows/amd64"]);
    assert!(
        plan.warnings.iter().any(|w| w
            == "channel choco leaves out windows/arm64: chocolatey ships windows/amd64, windows/386 only (set the channel's `when` to choose its targets)"),
        "{:?}",
        plan.warnings
    );
    // Scoop ships windows/arm64: nothing left out, nothing to warn about.
    let plan = plan_of(&channels("[channels.scoop]\nkind = \"scoop\"\n"), &[]).unwrap();
    assert_eq!(plan.channels[0].targets.len(), 2);
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    // Nothing left to ship: an error that says what the kind ships.
    let e = config_error(
        &channels("[channels.choco]\nkind = \"chocolatey\"\n")
            .replace("arch = [\"amd64\", \"arm64\"]", "arch = [\"arm64\"]"),
    );
    assert!(e.message.contains("selects no target"), "{}", e.message);
    assert!(
        e.help
            .as_deref()
            .unwrap_or("")
            .contains("windows/amd64, windows/386"),
        "{:?}",
        e.help
    );
}

#[test]
fn a_when_that_selects_what_the_kind_cannot_ship_is_an_error() {
    let cases = [
        (
            "[channels.choco]\nkind = \"chocolatey\"\nwhen = { os = \"windows\" }\n",
            "channel choco cannot ship windows/arm64: chocolatey ships windows/amd64, windows/386 only",
            "leave it out with `when`, e.g. when = { os = \"windows\", arch = [\"amd64\", \"386\"] }",
        ),
        (
            "[channels.snap]\nkind = \"snapcraft\"\nwhen = { arch = \"arm64\" }\n",
            "channel snap cannot ship darwin/arm64, windows/arm64: snapcraft ships linux/amd64",
            "leave them out with `when`, e.g. when = { os = \"linux\", arch = [\"amd64\", \"arm64\", \"386\", \"arm\", \"ppc64le\", \"s390x\", \"riscv64\"] }",
        ),
    ];
    for (extra, want, help) in cases {
        let text = channels(extra);
        let e = config_error(&text);
        assert!(e.message.contains(want), "{}", e.message);
        assert_eq!(e.help.as_deref(), Some(help));
        let line = text.lines().nth(e.line - 1).unwrap_or("");
        assert!(line.starts_with("when"), "{want}: points at {line:?}");
    }
    // A target matrix knows no platform for cannot be shipped either.
    let e = config_error(
        &channels("[channels.brew]\nkind = \"homebrew\"\nwhen = { os = \"linux\" }\n")
            .replace(
                "arch = [\"amd64\", \"arm64\"]",
                "arch = [\"amd64\", \"loong64\"]",
            )
            .replace(
                "[archive]\n",
                "[archive]\nname = \"{{ project }}_{{ target_slug }}\"\n",
            ),
    );
    assert!(
        e.message.contains("cannot ship linux/loong64"),
        "{}",
        e.message
    );
}

#[test]
fn two_targets_in_one_place_of_a_package_are_an_error() {
    let text = channels("[channels.brew]\nkind = \"homebrew\"\n").replace(
        "arch = [\"amd64\", \"arm64\"]",
        "arch = [\"amd64\", \"arm64\"]\nlibc = [\"gnu\", \"musl\"]\nexclude = [ { os = [\"darwin\", \"windows\"], libc = \"musl\" } ]",
    );
    let e = config_error(&text);
    assert_eq!(
        e.message,
        "channel brew: linux/amd64/gnu and linux/amd64/musl would both fill the on_linux / on_intel block of the homebrew package"
    );
    // Narrowed with the key that tells them apart, it plans.
    let narrowed = text.replace(
        "kind = \"homebrew\"\n",
        "kind = \"homebrew\"\nwhen = { os = [\"darwin\", \"linux\"], libc = \"gnu\" }\n",
    );
    assert_eq!(
        plan_of(&narrowed, &[]).unwrap().channels[0].targets.len(),
        4
    );
}

#[test]
fn formats_the_kind_cannot_install_are_an_error() {
    // Without the zip override, windows archives are tar.gz.
    let tar = channels(
        "[channels.choco]\nkind = \"chocolatey\"\nwhen = { os = \"windows\", arch = \"amd64\" }\n",
    )
    .replace(
        "format-overrides = [ { when = { os = \"windows\" }, format = \"zip\" } ]\n",
        "",
    );
    let e = config_error(&tar);
    assert_eq!(
        e.message,
        "channel choco cannot install hello_1.2.3_windows-amd64.tar.gz (windows/amd64, a tar.gz archive): Chocolatey's install helpers unpack zip only (or take a bare binary)"
    );
    let zst = channels("[channels.snap]\nkind = \"snapcraft\"\n")
        .replace("[archive]\n", "[archive]\nformat = \"tar.zst\"\n");
    let e = config_error(&zst);
    assert!(
        e.message.contains("snapcraft cannot unpack tar.zst"),
        "{}",
        e.message
    );
    // One Chocolatey package installs its two downloads the same way.
    let mixed = channels("[channels.choco]\nkind = \"chocolatey\"\n")
        .replace("arch = [\"amd64\", \"arm64\"]", "arch = [\"amd64\", \"386\"]")
        .replace(
            "format-overrides = [ { when = { os = \"windows\" }, format = \"zip\" } ]",
            "format-overrides = [ { when = { os = \"windows\" }, format = \"zip\" }, { when = { os = \"windows\", arch = \"386\" }, format = \"binary\" } ]",
        );
    let e = config_error(&mixed);
    assert!(
        e.message
            .contains("one Chocolatey package installs both the same way"),
        "{}",
        e.message
    );
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
fn a_channel_package_name_is_a_plain_file_name() {
    for bad in ["../x", "a/b", ".hidden", ""] {
        let text = channels(&format!(
            "[channels.brew]\nkind = \"homebrew\"\nname = \"{bad}\"\n"
        ));
        let e = config_error(&text);
        assert!(
            e.message.contains("is not a usable file name"),
            "{bad}: {}",
            e.message
        );
        let line = text.lines().nth(e.line - 1).unwrap_or("");
        assert!(line.starts_with("name"), "{bad}: points at {line:?}");
    }
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

#[test]
fn a_scoop_channel_without_a_way_to_find_versions_is_a_plan_error() {
    // Downloads that carry the version, not from GitHub, and no homepage:
    // the manifest's autoupdate would have no checkver.
    let text = channels("[channels.scoop]\nkind = \"scoop\"\n")
        .replace("homepage = \"https://example.org/hello\"\n", "");
    let e = config_error(&text);
    assert!(
        e.message.contains("no way to find a new version"),
        "{}",
        e.message
    );
    // Any one of them is enough.
    assert!(plan_of(&channels("[channels.scoop]\nkind = \"scoop\"\n"), &[]).is_ok());
    let with_checkver = text.replace(
        "kind = \"scoop\"\n",
        "kind = \"scoop\"\ncheckver = \"github\"\n",
    );
    assert!(plan_of(&with_checkver, &[]).is_ok());
    let github = text.replace(
        "https://dl.example/{{ tag }}",
        "https://github.com/o/hello/releases/download/{{ tag }}",
    );
    assert!(plan_of(&github, &[]).is_ok());
}

#[test]
fn a_formula_class_ruby_refuses_is_a_plan_error() {
    let e = config_error(&channels(
        "[channels.brew]\nkind = \"homebrew\"\nname = \"1tool\"\n",
    ));
    assert!(
        e.message.contains("`1tool` is not a Ruby class name"),
        "{}",
        e.message
    );
    let e = config_error(&channels(
        "[channels.brew]\nkind = \"homebrew\"\nclass = \"not-a-class\"\n",
    ));
    assert!(e.message.contains("`not-a-class`"), "{}", e.message);
    let ok = channels("[channels.brew]\nkind = \"homebrew\"\nname = \"hello-cli\"\n");
    assert!(plan_of(&ok, &[]).is_ok());
}

/// BASE without `[release] url`, and `extra`.
fn without_url(extra: &str) -> String {
    BASE.replace(
        "url = \"https://dl.example/{{ tag }}/{{ artifact }}\"\n",
        "",
    ) + extra
}

const DEB: &str = "[channels.deb]\nkind = \"deb\"\nmaintainer = \"A <a@b.c>\"\n";

#[test]
fn packages_that_carry_the_binary_need_no_download_url() {
    // In the order written.
    let text = without_url(&format!(
        "{DEB}[channels.rpm]\nkind = \"rpm\"\n[channels.msi]\nkind = \"msi\"\nmanufacturer = \"Hello Inc\"\n"
    ));
    let plan = plan_of(&text, &[]).unwrap();
    let kinds: Vec<ChannelKind> = plan.channels.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [ChannelKind::Deb, ChannelKind::Rpm, ChannelKind::Msi]
    );
    for c in &plan.channels {
        assert!(!c.targets.is_empty(), "{}", c.name);
        assert!(
            c.targets.iter().all(|(_, url)| url.is_empty()),
            "{}",
            c.name
        );
    }
    // With a URL, they still show it, as they always did.
    let plan = plan_of(&channels(DEB), &[]).unwrap();
    assert!(
        plan.channels[0].targets[0]
            .1
            .starts_with("https://dl.example/")
    );
    // Every kind whose files name the download URL still needs one.
    for kind in ["homebrew", "snapcraft", "chocolatey", "scoop", "shell"] {
        let e = config_error(&without_url(&format!("[channels.c]\nkind = \"{kind}\"\n")));
        assert!(
            e.message.contains("needs a download URL"),
            "{kind}: {}",
            e.message
        );
    }
}

#[test]
fn the_apt_table_is_checked_where_it_is_written() {
    // Each bad value at its own line.
    for (table, want, line_has) in [
        ("suite = \"a/b\"", "\"a/b\" is not an apt suite", "suite ="),
        (
            "component = \"\"",
            "\"\" is not an apt component",
            "component =",
        ),
        ("origin = \"a\\nb\"", "is not an apt origin", "origin ="),
        (
            "label = \"x\"\nsuit = \"y\"",
            "unknown field `suit`",
            "suit =",
        ),
        ("suite = 1", "string", "suite ="),
    ] {
        let text = channels(&format!("{DEB}[channels.deb.apt]\n{table}\n"));
        let e = config_error(&text);
        assert!(e.message.contains(want), "{table}: {}", e.message);
        let line = text.lines().nth(e.line - 1).unwrap_or("");
        assert!(line.contains(line_has), "{table}: points at {line:?}");
    }
    // The table is the deb channel's own: rpm refuses it, at its key.
    let text = channels("[channels.rpm]\nkind = \"rpm\"\napt = { suite = \"edge\" }\n");
    let e = config_error(&text);
    assert!(
        e.message.contains("`apt` is not a rpm setting"),
        "{}",
        e.message
    );
    assert!(text.lines().nth(e.line - 1).unwrap().starts_with("apt ="));
    // One deb channel at most, so one apt table for `publish --layout apt`.
    let e = config_error(&channels(&format!(
        "{DEB}apt = {{ suite = \"a\" }}\n{}apt = {{ suite = \"b\" }}\n",
        DEB.replace("channels.deb", "channels.deb2")
    )));
    assert!(e.message.contains("are both deb"), "{}", e.message);
    // A good table plans, and the plan JSON shows it; without one, no key.
    let plan = plan_of(
        &channels(&format!(
            "{DEB}apt = {{ suite = \"edge\", label = \"Hello\" }}\n"
        )),
        &[],
    )
    .unwrap();
    let json = serde_json::to_value(&plan.channels[0].config).unwrap();
    assert_eq!(
        json["apt"],
        serde_json::json!({ "suite": "edge", "label": "Hello" })
    );
    let plan = plan_of(&channels(DEB), &[]).unwrap();
    let json = serde_json::to_value(&plan.channels[0].config).unwrap();
    assert!(json.get("apt").is_none() && json.get("release").is_none());
}
