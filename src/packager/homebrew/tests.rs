use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;
use crate::packager::input::Release;

fn release() -> Release {
    Release {
        name: "hello".into(),
        description: "Says hello to the world".into(),
        homepage: "https://github.com/acme/hello".into(),
        license: "MIT OR Apache-2.0".into(),
        version: "1.2.3".into(),
        tag: "v1.2.3".into(),
        prerelease: String::new(),
        commit: "0123456789abcdef0123456789abcdef01234567".into(),
        timestamp: 1_700_000_000,
        is_snapshot: false,
    }
}

/// A package as `exec` would build it; `wrapped` puts everything in a
/// `hello_1.2.3_<os>_<arch>/` folder. `variant` only changes the names.
fn package(os: &str, arch: &str, format: Format, wrapped: bool, variant: &str) -> Package {
    let platform = crate::target::platform(os, arch, None).unwrap();
    let slug = format!("hello_1.2.3_{os}_{arch}{variant}");
    let file_name = format!("{slug}{}", format.extension());
    let seed = file_name
        .bytes()
        .fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
    let inner = |path: &str| {
        if wrapped {
            format!("{slug}/{path}")
        } else {
            path.to_string()
        }
    };
    let binary_in_archive = if format == Format::Binary {
        file_name.clone()
    } else {
        inner("hello")
    };
    let files = if format == Format::Binary {
        Vec::new()
    } else {
        [
            "LICENSE",
            "completions/hello.bash",
            "completions/_hello",
            "completions/hello.fish",
            "man/hello.1",
        ]
        .iter()
        .map(|f| inner(f))
        .collect()
    };
    Package {
        target: format!("{os}/{arch}"),
        os: os.into(),
        arch: arch.into(),
        variant: None,
        platform,
        url: format!("https://github.com/acme/hello/releases/download/v1.2.3/{file_name}"),
        path: PathBuf::from("dist").join(&file_name),
        file_name,
        sha256: format!("{seed:016x}").repeat(4),
        size: 1234,
        format,
        binary: "hello".into(),
        binary_in_archive,
        binary_file: PathBuf::from(format!("dist/build/{slug}/hello")),
        files,
    }
}

fn four(format: Format, wrapped: bool) -> ChannelInput {
    ChannelInput {
        release: release(),
        packages: [
            ("darwin", "amd64"),
            ("darwin", "arm64"),
            ("linux", "amd64"),
            ("linux", "arm64"),
        ]
        .iter()
        .map(|(os, arch)| package(os, arch, format, wrapped, ""))
        .collect(),
    }
}

fn opts() -> HomebrewOptions {
    HomebrewOptions {
        channel: "brew".into(),
        class_name: None,
        formula: None,
        desc: None,
        test_args: vec!["--version".into()],
        caveats: None,
    }
}

fn invalid_message(result: Result<String, PublishError>) -> String {
    match result {
        Err(PublishError::Invalid {
            channel, message, ..
        }) => {
            assert_eq!(channel, "brew");
            message
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn class_names_follow_homebrew() {
    for (name, class) in [
        ("hello", "Hello"),
        ("hello-c", "HelloC"),
        ("my_tool.rs", "MyToolRs"),
        ("HeLLo", "Hello"),
        ("foo@2", "FooAT2"),
        ("c++", "Cxx"),
        ("a--b", "A-B"),
        ("x-1", "X1"),
    ] {
        assert_eq!(class_s(name), class, "{name}");
    }
    assert!(is_class_name("HelloC"));
    assert!(!is_class_name("A-B"));
    assert!(!is_class_name("1password"));
    assert!(!is_class_name(""));
}

#[test]
fn a_desc_that_breaks_homebrews_rules_is_refused_with_a_fix() {
    let mut input = four(Format::TarGz, true);
    input.release.description = "A greeter that says hello.".into();
    let err = render(&input, &opts(), None).unwrap_err();
    let PublishError::Invalid { message, help, .. } = err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert!(
        message.contains("Description shouldn't start with an article.")
            && message.contains("Description shouldn't end with a full stop."),
        "{message}"
    );
    assert_eq!(
        help.as_deref(),
        Some(r#"set the channel's `desc` to "Greeter that says hello""#)
    );
    // The channel's own desc wins over the release's description.
    let fixed = HomebrewOptions {
        desc: Some("Greeter that says hello".into()),
        ..opts()
    };
    let text = render(&input, &fixed, None).unwrap();
    assert!(
        text.contains("  desc \"Greeter that says hello\"\n"),
        "{text}"
    );
    // The name rule uses the formula's name, not the class.
    let named = HomebrewOptions {
        formula: Some("greeter".into()),
        ..fixed
    };
    assert!(
        invalid_message(render(&input, &named, None))
            .contains("Description shouldn't start with the formula name.")
    );
}

#[test]
fn licenses_become_homebrew_expressions() {
    for (spdx, ruby) in [
        ("MIT", Some(r#""MIT""#)),
        (
            "MIT OR Apache-2.0",
            Some(r#"any_of: ["MIT", "Apache-2.0"]"#),
        ),
        (
            "MIT AND (BSD-2-Clause OR ISC)",
            Some(r#"all_of: ["MIT", { any_of: ["BSD-2-Clause", "ISC"] }]"#),
        ),
        (
            "MIT OR BSD-2-Clause AND ISC",
            Some(r#"any_of: ["MIT", { all_of: ["BSD-2-Clause", "ISC"] }]"#),
        ),
        (
            "Apache-2.0 WITH LLVM-exception",
            Some(r#""Apache-2.0" => { with: "LLVM-exception" }"#),
        ),
        ("(MIT)", Some(r#""MIT""#)),
        ("MIT OR", None),
        ("(MIT", None),
        ("MIT Apache-2.0", None),
        ("My \"License\"", None),
    ] {
        assert_eq!(ruby_license(spdx).as_deref(), ruby, "{spdx}");
    }
}

#[test]
fn ruby_strings_escape_interpolation() {
    assert_eq!(
        ruby_string(r#"a "b" \c #{d} #@e"#),
        r#""a \"b\" \\c \#{d} \#@e""#
    );
    assert_eq!(ruby_string("tab\tnl\n\u{7}"), r#""tab\tnl\n\u{7}""#);
    assert_eq!(
        ruby_heredoc("one\n\n#{x}\nEOS", Some(2)),
        "<<~EOS_\n    one\n\n    \\#{x}\n    EOS\n  EOS_"
    );
}

#[test]
fn completions_and_man_pages_by_name() {
    for (path, want) in [
        ("hello.bash", Some(("bash", "hello"))),
        ("bash/hello", Some(("bash", "hello"))),
        ("_hello", Some(("zsh", "_hello"))),
        ("hello.zsh", Some(("zsh", "_hello"))),
        ("zsh/hello", Some(("zsh", "_hello"))),
        ("hello.fish", Some(("fish", "hello.fish"))),
        ("hello.ps1", None),
    ] {
        let got = completion(path);
        assert_eq!(got.as_ref().map(|(s, n)| (*s, n.as_str())), want, "{path}");
    }
    assert_eq!(man_section("man/hello.1"), Some('1'));
    assert_eq!(man_section("man/hello.8.gz"), Some('8'));
    assert_eq!(man_section("man/hello.9"), None);
    assert_eq!(man_section("man/README.md"), None);
}

#[test]
fn formula_for_wrapped_archives() {
    let text = render(&four(Format::TarGz, true), &opts(), None).unwrap();
    assert!(text.contains("class Hello < Formula\n"), "{text}");
    assert!(
        text.contains("  desc \"Says hello to the world\"\n"),
        "{text}"
    );
    assert!(
        text.contains("  license any_of: [\"MIT\", \"Apache-2.0\"]\n"),
        "{text}"
    );
    let macos = text.find("  on_macos do\n").unwrap();
    let linux = text.find("  on_linux do\n").unwrap();
    assert!(macos < linux);
    assert_eq!(text.matches("    on_arm do\n").count(), 2);
    assert_eq!(text.matches("    on_intel do\n").count(), 2);
    // One shared install: Homebrew has cd'ed into the wrapping folder.
    assert_eq!(text.matches("def install").count(), 1);
    for line in [
        "    bin.install \"hello\"\n",
        "    bash_completion.install \"completions/hello.bash\" => \"hello\"\n",
        "    zsh_completion.install \"completions/_hello\"\n",
        "    fish_completion.install \"completions/hello.fish\"\n",
        "    man1.install \"man/hello.1\"\n",
        "    assert_match version.to_s, shell_output(\"#{bin}/hello --version\")\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(!text.contains("hello_1.2.3_linux_amd64/hello\""), "{text}");
    assert!(!text.contains("def caveats"));
    assert!(text.ends_with("  end\nend\n"), "{text}");
    // Same input, same text.
    assert_eq!(
        render(&four(Format::TarGz, true), &opts(), None).unwrap(),
        text
    );
}

#[test]
fn only_existing_blocks_are_written() {
    let mut input = four(Format::Zip, false);
    input.packages.retain(|p| p.target == "darwin/arm64");
    let text = render(&input, &opts(), None).unwrap();
    assert!(
        text.contains("on_macos do") && text.contains("on_arm do"),
        "{text}"
    );
    assert!(
        !text.contains("on_linux") && !text.contains("on_intel"),
        "{text}"
    );
}

#[test]
fn bare_binaries_get_an_install_per_block() {
    let text = render(&four(Format::Binary, false), &opts(), None).unwrap();
    assert_eq!(text.matches("def install").count(), 4, "{text}");
    assert!(
        text.contains("        bin.install \"hello_1.2.3_linux_arm64\" => \"hello\"\n"),
        "{text}"
    );
}

#[test]
fn test_block_follows_the_arguments() {
    assert_eq!(
        test_lines("hello", &[]),
        vec![r#"assert_predicate bin/"hello", :executable?"#]
    );
    assert_eq!(
        test_lines("hello", &["greet".into(), "#{x}".into()]),
        vec![r#"system bin/"hello", "greet", "\#{x}""#]
    );
}

#[test]
fn refused_inputs_name_the_targets() {
    let mut input = four(Format::TarGz, true);
    input
        .packages
        .push(package("windows", "amd64", Format::Zip, true, ""));
    assert!(invalid_message(render(&input, &opts(), None)).contains("windows/amd64"));

    let mut input = four(Format::TarGz, true);
    input
        .packages
        .push(package("linux", "386", Format::TarGz, true, ""));
    assert!(invalid_message(render(&input, &opts(), None)).contains("linux/386"));

    let mut input = four(Format::TarGz, true);
    input
        .packages
        .push(package("linux", "amd64", Format::TarGz, true, "_musl"));
    let message = invalid_message(render(&input, &opts(), None));
    assert!(
        message.contains("hello_1.2.3_linux_amd64.tar.gz")
            && message.contains("hello_1.2.3_linux_amd64_musl.tar.gz"),
        "{message}"
    );

    let mut input = four(Format::TarGz, true);
    input.packages.clear();
    assert!(invalid_message(render(&input, &opts(), None)).contains("no packages"));

    let mut input = four(Format::TarGz, true);
    input.release.name = "1password".into();
    assert!(invalid_message(render(&input, &opts(), None)).contains("`1password`"));
    let named = HomebrewOptions {
        class_name: Some("OnePassword".into()),
        ..opts()
    };
    assert!(
        render(&input, &named, None)
            .unwrap()
            .contains("class OnePassword < Formula")
    );

    let mut input = four(Format::TarGz, true);
    input.release.description = "z".repeat(100);
    assert!(invalid_message(render(&input, &opts(), None)).contains("current length is 100"));

    let mut input = four(Format::TarGz, true);
    input.packages[1].binary = "hi".into();
    assert!(invalid_message(render(&input, &opts(), None)).contains("`hi`"));
}

#[test]
fn user_templates_get_the_same_context() {
    let input = four(Format::TarGz, true);
    let template = "{{ class_name }} {{ desc | ruby }}\n{% for os in systems %}{% for cpu in os.cpus %}\
                    {{ os.name }}/{{ cpu.name }}={{ cpu.target }}\n{% endfor %}{% endfor %}";
    let text = render(&input, &opts(), Some(template)).unwrap();
    assert_eq!(
        text,
        "Hello \"Says hello to the world\"\nmacos/arm=darwin/arm64\nmacos/intel=darwin/amd64\n\
         linux/arm=linux/arm64\nlinux/intel=linux/amd64\n"
    );
    match render(&input, &opts(), Some("{{ nope }}")) {
        Err(PublishError::Template {
            channel, template, ..
        }) => {
            assert_eq!(
                (channel.as_str(), template.as_str()),
                ("brew", "user template")
            );
        }
        other => panic!("expected a template error, got {other:?}"),
    }
}

/// `ruby`, or `None` (skip) outside CI; CI must have it.
fn ruby() -> Option<&'static str> {
    if Command::new("ruby")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some("ruby");
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("ruby is required in CI: apt-get install -y ruby");
    }
    eprintln!("skipping: ruby is not installed (apt-get install -y ruby)");
    None
}

/// Writes the formula, checks its syntax with `ruby -c`, loads it in the
/// DSL harness and returns what the harness recorded.
fn run_harness(ruby: &str, dir: &Path, text: &str, class: &str) -> serde_json::Value {
    let formula = dir.join("formula.rb");
    std::fs::write(&formula, text).unwrap();
    let check = Command::new(ruby).arg("-c").arg(&formula).output().unwrap();
    assert!(
        check.status.success(),
        "ruby -c: {}\n{text}",
        String::from_utf8_lossy(&check.stderr)
    );
    let harness =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/packager/testdata/formula_harness.rb");
    let out = Command::new(ruby)
        .arg(harness)
        .arg(&formula)
        .arg(class)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "harness: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn ruby_loads_the_formula_as_homebrew_would() {
    let Some(ruby) = ruby() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut input = four(Format::TarGz, true);
    input.release.description = r##"Prints "#{HOME}" and \n, safely"##.into();
    let caveats = "Run:\n  hello --init\n\nThen #{edit} C:\\hello and #@x.\nEOS\n";
    let options = HomebrewOptions {
        caveats: Some(caveats.into()),
        ..opts()
    };
    let text = render(&input, &options, None).unwrap();
    let got = run_harness(ruby, dir.path(), &text, "Hello");

    assert_eq!(got["desc"], r##"Prints "#{HOME}" and \n, safely"##);
    assert_eq!(got["homepage"], "https://github.com/acme/hello");
    assert_eq!(got["version"], "1.2.3");
    assert_eq!(
        got["license"],
        serde_json::json!({"any_of": ["MIT", "Apache-2.0"]})
    );
    assert_eq!(got["caveats"], caveats.trim_end().to_string() + "\n");
    let blocks = got["blocks"].as_object().unwrap();
    assert_eq!(blocks.len(), input.packages.len(), "{blocks:?}");
    for p in &input.packages {
        let os = if p.os == "darwin" { "macos" } else { "linux" };
        let key = format!("{os}/{}", p.platform.homebrew_cpu.unwrap());
        let block = &blocks[&key];
        assert_eq!(block["url"], p.url.as_str(), "{key}");
        assert_eq!(block["sha256"], p.sha256.as_str(), "{key}");
    }
    assert_eq!(
        got["installs"],
        serde_json::json!({"any/any": [
            ["bin", "hello", "hello"],
            ["bash_completion", "completions/hello.bash", "hello"],
            ["zsh_completion", "completions/_hello", "_hello"],
            ["fish_completion", "completions/hello.fish", "hello.fish"],
            ["man1", "man/hello.1", "hello.1"],
        ]})
    );
    assert_eq!(
        got["test"],
        serde_json::json!([
            ["shell_output", "bin/hello --version"],
            ["assert_match", "1.2.3"]
        ])
    );
}

#[test]
fn ruby_loads_per_block_installs_and_licenses() {
    let Some(ruby) = ruby() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut input = four(Format::Binary, false);
    input.packages.retain(|p| p.os == "linux");
    input.release.name = "hello-c".into();
    input.release.license = "Apache-2.0 WITH LLVM-exception".into();
    let options = HomebrewOptions {
        test_args: vec!["greet".into(), "--name=#{x}".into()],
        // Indentation every line shares must survive `<<~`.
        caveats: Some("  indented\n\n    more\t(tab)".into()),
        ..opts()
    };
    let text = render(&input, &options, None).unwrap();
    let got = run_harness(ruby, dir.path(), &text, "HelloC");
    assert_eq!(
        got["license"],
        serde_json::json!({"Apache-2.0": {"with": "LLVM-exception"}})
    );
    assert_eq!(
        got["installs"],
        serde_json::json!({
            "linux/arm": [["bin", "hello_1.2.3_linux_arm64", "hello"]],
            "linux/intel": [["bin", "hello_1.2.3_linux_amd64", "hello"]],
        })
    );
    assert_eq!(
        got["test"],
        serde_json::json!([["system", "bin/hello", "greet", "--name=#{x}"]])
    );
    assert_eq!(got["caveats"], "  indented\n\n    more\t(tab)\n");
    assert_eq!(got["blocks"].as_object().unwrap().len(), 2);
}

#[test]
fn the_class_follows_the_formula_name() {
    // A channel `name` names the file `hello-cli.rb`; Homebrew looks for
    // the class `HelloCli` in it.
    let input = four(Format::TarGz, true);
    let named = HomebrewOptions {
        formula: Some("hello-cli".into()),
        ..opts()
    };
    let text = render(&input, &named, None).unwrap();
    assert!(text.contains("class HelloCli < Formula"), "{text}");
}

/// darwin/universal in place of the two darwin packages, as `exec` builds
/// it: the darwin/amd64 platform row, arch `universal`.
fn with_universal(format: Format) -> ChannelInput {
    let mut input = four(format, false);
    input.packages.retain(|p| p.os != "darwin");
    let mut universal = package("darwin", "amd64", format, false, "");
    universal.target = "darwin/universal".into();
    universal.arch = crate::target::UNIVERSAL_ARCH.into();
    universal.file_name = universal.file_name.replace("amd64", "universal");
    universal.url = universal.url.replace("amd64", "universal");
    universal.binary_in_archive = universal.binary_in_archive.replace("amd64", "universal");
    input.packages.insert(0, universal);
    input
}

#[test]
fn a_universal_binary_fills_on_macos_alone() {
    let text = render(&with_universal(Format::TarGz), &opts(), None).unwrap();
    let macos = text.find("  on_macos do\n").unwrap();
    let linux = text.find("  on_linux do\n").unwrap();
    let block = &text[macos..linux];
    assert!(
        block.contains(
            "    url \"https://github.com/acme/hello/releases/download/v1.2.3/hello_1.2.3_darwin_universal.tar.gz\"\n"
        ),
        "{text}"
    );
    assert!(
        !block.contains("on_arm") && !block.contains("on_intel"),
        "{text}"
    );
    assert_eq!(text.matches("    on_arm do\n").count(), 1, "{text}");
    assert_eq!(text.matches("def install").count(), 1, "{text}");

    // Bare binaries: the universal block carries its own install too.
    let Some(ruby) = ruby() else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = with_universal(Format::Binary);
    let text = render(&input, &opts(), None).unwrap();
    let got = run_harness(ruby, dir.path(), &text, "Hello");
    let blocks = got["blocks"].as_object().unwrap();
    let keys: Vec<&str> = blocks.keys().map(String::as_str).collect();
    assert_eq!(keys, ["linux/arm", "linux/intel", "macos/any"], "{text}");
    assert_eq!(blocks["macos/any"]["url"], input.packages[0].url.as_str());
    assert_eq!(
        got["installs"]["macos/any"],
        serde_json::json!([["bin", "hello_1.2.3_darwin_universal", "hello"]]),
        "{text}"
    );
}
