//! The text of the matrix.toml `matrix init` writes: a working file with
//! a comment on every choice, built from the [`Facts`] alone (pure: the
//! same facts give the same bytes, which the snapshot tests pin).
//!
//! Every value read from the project goes through [`q`] (TOML string
//! escaping) or [`comment`] (one line, no control characters), so a hostile
//! README or Cargo.toml cannot add keys or break the file.

use super::detect::{Build, CBuild, Facts, License};
use super::tables::{self, Grid};
use crate::target::Platform;

/// A TOML basic string on one line: quotes, backslashes and control
/// characters escaped.
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text made safe for a `#` comment: one line, no control characters.
fn comment(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| q(i)).collect();
    format!("[{}]", quoted.join(", "))
}

struct Doc(String);

impl Doc {
    fn line(&mut self, s: &str) {
        self.0.push_str(s);
        self.0.push('\n');
    }

    /// A paragraph of comment text, wrapped at 78 columns.
    fn note(&mut self, text: &str) {
        let mut line = String::from("#");
        for word in comment(text).split_whitespace() {
            if line.len() + 1 + word.len() > 78 && line.len() > 1 {
                self.line(&line);
                line = String::from("#");
            }
            line.push(' ');
            line.push_str(word);
        }
        if line.len() > 1 {
            self.line(&line);
        }
    }
}

/// The whole file.
pub fn render(facts: &Facts, matrix_version: &str) -> String {
    let mut d = Doc(String::new());
    d.note(&format!(
        "matrix.toml for {}, written by `matrix init` (matrix {matrix_version}).",
        facts.name
    ));
    d.note(
        "`matrix plan` shows the targets and jobs, `matrix doctor` the toolchains each target needs, `matrix build --snapshot` builds without a release tag; `matrix schema` prints every key.",
    );
    if !facts.edits.is_empty() {
        d.note("Before the first build (see the EDIT comments):");
        for e in &facts.edits {
            d.note(&format!("- {e}"));
        }
    }
    d.line("");
    project(&mut d, facts);
    d.line("");
    match &facts.build {
        Build::Go { .. } => go(&mut d, facts),
        Build::Rust { .. } => rust(&mut d, facts),
        Build::C(c) => c_build(&mut d, facts, c),
    }
    d.line("");
    archive(&mut d, facts);
    d.line("");
    d.line("[checksum]");
    d.line("algorithm = \"sha256\"");
    d.line("name = \"{{ project }}_{{ version }}_checksums.txt\"");
    d.line("");
    release(&mut d, facts);
    channels(&mut d, facts);
    if let Some(dockerfile) = &facts.dockerfile {
        d.line("");
        images(&mut d, facts, dockerfile);
    }
    d.0
}

fn project(d: &mut Doc, facts: &Facts) {
    d.line("[project]");
    d.line(&format!("name = {}", q(&facts.name)));
    match &facts.description {
        Some(desc) => d.line(&format!("description = {}", q(desc))),
        None => d.line("# description = \"What it does, in one line.\""),
    }
    match &facts.homepage {
        Some(h) => d.line(&format!("homepage = {}", q(h))),
        None => d.line("# homepage = \"https://example.org/project\""),
    }
    match &facts.license {
        License::Known { spdx, from } => {
            d.line(&format!("license = {}   # from {}", q(spdx), comment(from)));
            if super::text::needs_version_choice(spdx) {
                d.note(&format!(
                    "The license text does not say whether later versions apply: write {} if your source files say \"or (at your option) any later version\".",
                    spdx.replace("-only", "-or-later")
                ));
            }
        }
        License::Unclear { note } => {
            d.note(&format!(
                "license: {note}; write its SPDX expression, e.g. license = \"MIT OR Apache-2.0\""
            ));
            d.line("# license = \"\"");
        }
        License::None => {
            d.line("# license = \"MIT\"   # an SPDX expression; no LICENSE file was found")
        }
    }
}

/// The os and arch axes (then `extra` axis lines) and the excludes.
fn grid(d: &mut Doc, g: &Grid, extra: &[&str]) {
    d.line(&format!("os = {}", list(&g.oses)));
    d.line(&format!("arch = {}", list(&g.arches)));
    for line in extra {
        d.line(line);
    }
    if !g.exclude.is_empty() {
        d.line("exclude = [");
        for (os, arches) in &g.exclude {
            d.line(&format!("  {{ os = {}, arch = {} }},", q(os), list(arches)));
        }
        d.line("]");
    }
}

fn go(d: &mut Doc, facts: &Facts) {
    let Build::Go {
        dir,
        unsupported,
        go_version,
        ..
    } = &facts.build
    else {
        return;
    };
    let platforms: Vec<&Platform> = tables::go()
        .into_iter()
        .filter(|p| !unsupported.contains(&p.name()))
        .collect();
    d.note(&format!(
        "Every platform matrix knows that Go cross-builds without cgo: {} targets.",
        platforms.len()
    ));
    if !unsupported.is_empty() {
        d.note(&format!(
            "Left out because {} cannot build them: {}.",
            go_version.as_deref().unwrap_or("this Go"),
            unsupported.join(", ")
        ));
    }
    d.line("[matrix]");
    grid(d, &tables::grid(&platforms), &[]);
    d.line("");
    d.line("[build]");
    d.note(
        "`go build -trimpath` with GOOS/GOARCH (GOARM for arm), CGO_ENABLED=0, and -ldflags \"-s -w -X main.version={{ version }}\": a `var version string` in package main gets the release version.",
    );
    d.line("preset = \"go\"");
    if let Some(dir) = dir {
        let others = if facts.other_binaries.is_empty() {
            String::new()
        } else {
            format!(
                "; other programs: {} (one binary per matrix.toml: copy this file, or pass `matrix init --bin NAME`)",
                facts.other_binaries.join(", ")
            )
        };
        d.line(&format!(
            "dir = {}   # the main package{}",
            q(dir),
            comment(&others)
        ));
    } else if !facts.other_binaries.is_empty() {
        d.note(&format!(
            "Other programs in cmd/: {} (to release one instead: `matrix init --force --bin NAME`).",
            facts.other_binaries.join(", ")
        ));
    }
    d.line(&format!("binary = {}", q(&facts.binary)));
    d.line("timeout = \"10m\"");
    d.line("# smoke = [\"--version\"]   # `matrix build --smoke` runs each Linux binary with these arguments");
}

fn rust(d: &mut Doc, facts: &Facts) {
    let Build::Rust {
        targets,
        unbuildable,
        workspace,
    } = &facts.build
    else {
        return;
    };
    let active = targets.iter().filter(|t| t.missing.is_empty()).count();
    d.note(&format!(
        "The targets the cargo presets can build on this machine ({active}) are on; the others are commented out with what they need: Debian packages and zig come with `matrix doctor --install` once the line is uncommented, `rustup target add` and cargo-zigbuild are yours to run. `matrix doctor` checks again."
    ));
    if !unbuildable.is_empty() {
        d.note(&format!(
            "No cargo preset builds {} (no cross linker is known for them).",
            unbuildable.join(", ")
        ));
    }
    d.line("[matrix]");
    d.line("include = [");
    // The host always stays on, so the file plans even without cargo here.
    let mut any_on = false;
    for t in targets {
        let entry = format!(
            "{{ os = {}, arch = {} }},",
            q(t.platform.os),
            q(t.platform.arch)
        );
        if t.missing.is_empty() || crate::target::is_host(t.platform) {
            any_on = true;
            if !t.missing.is_empty() {
                d.line(&format!(
                    "  # {} needs: {}",
                    t.platform.name(),
                    comment(&t.missing.join("; "))
                ));
            }
            d.line(&format!("  {entry}"));
        } else {
            d.line(&format!(
                "  # {} needs: {}",
                t.platform.name(),
                comment(&t.missing.join("; "))
            ));
            d.line(&format!("  # {entry}"));
        }
    }
    if !any_on && let Some(t) = targets.first() {
        d.line(&format!(
            "  {{ os = {}, arch = {} }},",
            q(t.platform.os),
            q(t.platform.arch)
        ));
    }
    d.line("]");
    d.line("");
    d.line("[build]");
    d.note("`cargo build --release --locked --target <triple>` with Debian's GNU cross linker where the target needs one; macOS through cargo-zigbuild (zig as the linker).");
    if *workspace {
        d.note("A workspace: cargo builds every member; the archives carry the binary below.");
    }
    d.line("preset = \"cargo\"");
    d.line(&format!("binary = {}", q(&facts.binary)));
    if !facts.other_binaries.is_empty() {
        d.note(&format!(
            "Other binaries: {} (to release one instead: `matrix init --force --bin NAME`).",
            facts.other_binaries.join(", ")
        ));
    }
    d.line("timeout = \"30m\"");
    d.line("# smoke = [\"--version\"]   # `matrix build --smoke` runs each Linux binary with these arguments");
    let zig: Vec<&Platform> = targets
        .iter()
        .filter(|t| t.preset == crate::preset::Preset::CargoZigbuild)
        .map(|t| t.platform)
        .collect();
    if !zig.is_empty() {
        d.line("overrides = [");
        for (os, arches) in by_os(&zig) {
            let all_of_os = targets
                .iter()
                .filter(|t| t.platform.os == os)
                .all(|t| t.preset == crate::preset::Preset::CargoZigbuild);
            if all_of_os {
                d.line(&format!(
                    "  {{ when = {{ os = {} }}, preset = \"cargo-zigbuild\" }},",
                    q(os)
                ));
            } else {
                d.line(&format!(
                    "  {{ when = {{ os = {}, arch = {} }}, preset = \"cargo-zigbuild\" }},",
                    q(os),
                    list(&arches)
                ));
            }
        }
        d.line("]");
    }
}

/// Platforms grouped by os, in first-seen order.
fn by_os(ps: &[&Platform]) -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for p in ps {
        match out.iter_mut().find(|(os, _)| *os == p.os) {
            Some((_, arches)) => arches.push(p.arch),
            None => out.push((p.os, vec![p.arch])),
        }
    }
    out
}

fn c_build(d: &mut Doc, facts: &Facts, c: &CBuild) {
    let gnu = tables::c_gnu();
    let darwin = tables::c_darwin();
    let musl = tables::c_musl();
    d.note(&format!(
        "Debian's GNU cross compilers (and MinGW-w64) for {} targets with glibc, zig for macOS and for static Linux binaries with musl: {} targets.",
        gnu.len(),
        gnu.len() + darwin.len() + musl.len()
    ));
    d.line("[matrix]");
    grid(d, &tables::grid(&gnu), &["libc = [\"gnu\"]"]);
    d.line("include = [");
    for p in &darwin {
        d.line(&format!(
            "  {{ os = {}, arch = {}, libc = \"system\" }},",
            q(p.os),
            q(p.arch)
        ));
    }
    for p in &musl {
        d.line(&format!(
            "  {{ os = {}, arch = {}, libc = \"musl\" }},",
            q(p.os),
            q(p.arch)
        ));
    }
    d.line("]");
    d.line("");
    d.line("[build]");
    d.note("gcc-cross sets CC, CXX and AR to the target's GNU cross compiler; the overrides set them to `zig cc -target ...` for macOS and musl.");
    d.line("preset = \"gcc-cross\"");
    match c {
        CBuild::Make {
            out: true,
            version,
            sets_cc,
            ..
        } => {
            d.note("The Makefile writes the binary to $(OUT): each target gets its own.");
            if *sets_cc {
                d.note("EDIT: the Makefile sets CC itself; write `CC ?= cc` so the cross compiler from the environment is used.");
            }
            let version = if *version {
                ", \"VERSION={{ version }}\""
            } else {
                ""
            };
            d.line(&format!(
                "command = [\"make\", \"-s\", \"OUT={{{{ out }}}}/{{{{ bin }}}}\"{version}]"
            ));
        }
        CBuild::Make { file, .. } => {
            d.note(&format!(
                "EDIT: {file} does not take its output file from OUT. Make it write the binary to $(OUT) (a path matrix chooses per target), or change this command so the binary ends up at {{{{ out }}}}/{{{{ bin }}}}."
            ));
            d.line("command = [\"make\", \"-s\", \"OUT={{ out }}/{{ bin }}\", \"VERSION={{ version }}\"]");
        }
        CBuild::CMake => {
            d.note("EDIT: a starting point. CMake reads CC from the environment; a Windows or macOS target also needs -DCMAKE_SYSTEM_NAME=... (or a toolchain file), and the binary must end up at {{ out }}/{{ bin }}.");
            d.line("shell = true");
            d.line("command = \"cmake -S . -B '{{ out }}/build' -DCMAKE_BUILD_TYPE=Release && cmake --build '{{ out }}/build' && cp '{{ out }}/build/{{ bin }}' '{{ out }}/{{ bin }}'\"");
        }
        CBuild::Meson => {
            d.note("EDIT: a starting point. Meson reads CC from the environment for a native build only; a cross target needs a cross file (--cross-file), and the binary must end up at {{ out }}/{{ bin }}.");
            d.line("shell = true");
            d.line("command = \"meson setup '{{ out }}/build' --buildtype=release && meson compile -C '{{ out }}/build' && cp '{{ out }}/build/{{ bin }}' '{{ out }}/{{ bin }}'\"");
        }
    }
    d.line(&format!("binary = {}", q(&facts.binary)));
    if !facts.other_binaries.is_empty() {
        d.note(&format!(
            "Other programs: {} (to release one instead: `matrix init --force --bin NAME`).",
            facts.other_binaries.join(", ")
        ));
    }
    d.line("timeout = \"10m\"");
    d.line("# smoke = [\"--version\"]   # `matrix build --smoke` runs each Linux binary with these arguments");
    d.line("overrides = [");
    d.line("  { when = { os = \"darwin\" }, preset = \"zig-cc\" },");
    d.line("  { when = { libc = \"musl\" }, preset = \"zig-cc\", env = { CC = \"zig cc -target {{ target.zig_musl }}\" } },");
    d.line("]");
}

fn archive(d: &mut Doc, facts: &Facts) {
    d.line("[archive]");
    let name = match facts.build {
        Build::C(_) => "{{ project }}_{{ version }}_{{ os }}_{{ arch }}_{{ libc }}",
        _ => "{{ project }}_{{ version }}_{{ os }}_{{ arch }}",
    };
    d.line(&format!("name = {}", q(name)));
    d.line("format = \"tar.gz\"");
    d.line("format-overrides = [ { when = { os = \"windows\" }, format = \"zip\" } ]");
    let files: Vec<&str> = facts.files.iter().map(String::as_str).collect();
    if files.is_empty() {
        d.line("# files = [\"LICENSE\", \"README.md\"]   # extra files for every archive (globs)");
    } else {
        d.line(&format!("files = {}", list(&files)));
    }
}

fn release(d: &mut Doc, facts: &Facts) {
    d.line("[release]");
    match &facts.changelog {
        Some(c) => {
            d.note("dist/RELEASE_NOTES.md is this version's section of the changelog (Keep a Changelog).");
            d.line(&format!("changelog = {}", q(c)));
        }
        None => d.line("# changelog = \"CHANGELOG.md\"   # a Keep a Changelog file: dist/RELEASE_NOTES.md takes this version's section"),
    }
    d.note("Where users download the archives; the channels below need it.");
    d.line(
        "# url = \"https://github.com/<owner>/<repo>/releases/download/{{ tag }}/{{ artifact }}\"",
    );
}

/// The channels whose operating systems the table has, commented out.
fn channels(d: &mut Doc, facts: &Facts) {
    let oses: Vec<&str> = match &facts.build {
        Build::Go { unsupported, .. } => tables::go()
            .iter()
            .filter(|p| !unsupported.contains(&p.name()))
            .map(|p| p.os)
            .collect(),
        Build::Rust { targets, .. } => targets.iter().map(|t| t.platform.os).collect(),
        Build::C(_) => vec!["linux", "windows", "darwin"],
    };
    let has = |os: &str| oses.contains(&os);
    d.line("");
    d.note("Release channels, off until you uncomment them. Each renders its files into dist/ from this release's archives and checksums, and needs [release] url.");
    if has("darwin") || has("linux") {
        d.line("");
        d.note("Homebrew: dist/homebrew/<name>.rb for the macOS and Linux amd64/arm64 archives.");
        d.line("# [channels.homebrew]");
        d.line("# kind = \"homebrew\"");
        d.line("# when = { os = [\"darwin\", \"linux\"], arch = [\"amd64\", \"arm64\"] }");
    }
    if has("windows") {
        d.line("");
        d.note("Scoop: dist/scoop/<name>.json for the Windows archives.");
        d.line("# [channels.scoop]");
        d.line("# kind = \"scoop\"");
        d.line("");
        d.note("Chocolatey: a .nuspec, install scripts and the .nupkg, for Windows amd64 and 386; needs `authors`.");
        d.line("# [channels.chocolatey]");
        d.line("# kind = \"chocolatey\"");
        d.line(&format!(
            "# authors = {}",
            q(&format!("The {} authors", facts.name))
        ));
        d.line("# when = { os = \"windows\", arch = [\"amd64\", \"386\"] }");
    }
    if has("linux") {
        d.line("");
        d.note("Snapcraft: snapcraft.yaml and one .snap per Linux architecture (packed with mksquashfs from squashfs-tools); needs a `summary` of at most 78 characters.");
        d.line("# [channels.snap]");
        d.line("# kind = \"snapcraft\"");
        d.line("# summary = \"What it does\"");
        d.line("# when = { os = \"linux\", arch = [\"amd64\", \"arm64\"] }");
    }
}

fn images(d: &mut Doc, facts: &Facts, dockerfile: &str) {
    d.note(&format!(
        "Container images from {dockerfile}, off until you uncomment them: a Dockerfile usually needs adapting. matrix builds it once per platform with the Linux binary in the build context (under its own name, e.g. `COPY {} /usr/local/bin/`), then one multi-platform index.",
        facts.binary
    ));
    d.line("# [images]");
    d.line(&format!(
        "# repositories = [{}]",
        q(&format!("ghcr.io/<owner>/{}", facts.name))
    ));
    d.line(&format!("# dockerfile = {}", q(dockerfile)));
    d.line("# matrix = { platform = [\"linux/amd64\", \"linux/arm64\"] }");
}
