//! C projects for `matrix init`: how the build is driven (a Makefile,
//! CMake or Meson), what the program is called, and whether the build
//! takes its output path from outside (`make OUT=...`), which is what a
//! matrix build needs to put each target's binary in its own folder.

use std::path::Path;

use super::InitError;
use super::detect::{self, Build, CBuild, Facts};

pub(super) fn make(
    dir: &Path,
    file: &str,
    bin: Option<&str>,
    facts: &mut Facts,
) -> Result<(), InitError> {
    let path = dir.join(file);
    let source = detect::read_manifest(&path)?;
    let text = &source.text;
    let out = assigns(text, "OUT") && uses(text, "OUT");
    let version = assigns(text, "VERSION") || uses(text, "VERSION");
    let sets_cc = hard_assigns(text, "CC");
    let candidates = make_binaries(text);
    facts.binary = detect::pick(or_folder(candidates, facts), bin, &path, facts)?;
    facts.found.push(format!(
        "{file}: C, binary {}{}",
        facts.binary,
        if out { ", written to $(OUT)" } else { "" }
    ));
    if !out {
        facts.edits.push(format!(
            "{file} does not take the output file from OUT: make it write the binary to $(OUT) (e.g. `OUT ?= build/{bin}` and `$(CC) ... -o $(OUT)`), or change [build] command so the binary ends up at {{{{ out }}}}/{{{{ bin }}}}",
            bin = facts.binary
        ));
    }
    if sets_cc {
        facts.edits.push(format!(
            "{file} sets CC itself (`CC =`), which overrides the cross compiler matrix passes in the environment: write `CC ?= cc` instead"
        ));
    }
    facts.build = Build::C(CBuild::Make {
        file: file.to_string(),
        out,
        version,
        sets_cc,
    });
    Ok(())
}

pub(super) fn cmake(dir: &Path, bin: Option<&str>, facts: &mut Facts) -> Result<(), InitError> {
    let path = dir.join("CMakeLists.txt");
    let source = detect::read_manifest(&path)?;
    if let Some(name) = call_arg(&source.text, "project").and_then(|n| detect::sanitize_name(&n)) {
        facts.name = name;
    }
    let candidates = call_args(&source.text, "add_executable");
    facts.binary = detect::pick(or_folder(candidates, facts), bin, &path, facts)?;
    facts
        .found
        .push(format!("CMakeLists.txt: C, binary {}", facts.binary));
    facts.edits.push(
        "the CMake build command is a starting point: check that it leaves the binary at {{ out }}/{{ bin }} for every target (Windows and macOS need a CMake toolchain file)".into(),
    );
    facts.build = Build::C(CBuild::CMake);
    Ok(())
}

pub(super) fn meson(dir: &Path, bin: Option<&str>, facts: &mut Facts) -> Result<(), InitError> {
    let path = dir.join("meson.build");
    let source = detect::read_manifest(&path)?;
    if let Some(name) = call_arg(&source.text, "project").and_then(|n| detect::sanitize_name(&n)) {
        facts.name = name;
    }
    let candidates = call_args(&source.text, "executable");
    facts.binary = detect::pick(or_folder(candidates, facts), bin, &path, facts)?;
    facts
        .found
        .push(format!("meson.build: C, binary {}", facts.binary));
    facts.edits.push(
        "the Meson build command is a starting point: check that it leaves the binary at {{ out }}/{{ bin }} for every target (cross builds need a Meson cross file)".into(),
    );
    facts.build = Build::C(CBuild::Meson);
    Ok(())
}

fn or_folder(mut candidates: Vec<String>, facts: &Facts) -> Vec<String> {
    if candidates.is_empty() {
        candidates.push(facts.name.clone());
    }
    candidates
}

/// Whether the Makefile assigns `var` (`=`, `:=`, `::=`, `?=`, `+=`).
fn assigns(text: &str, var: &str) -> bool {
    logical_lines(text).any(|l| assignment(&l, var).is_some())
}

/// Whether it assigns `var` unconditionally (so the environment loses).
fn hard_assigns(text: &str, var: &str) -> bool {
    logical_lines(text).any(|l| assignment(&l, var).is_some_and(|op| op != "?="))
}

fn assignment(line: &str, var: &str) -> Option<&'static str> {
    let line = line.trim_start();
    let line = line.strip_prefix("override ").unwrap_or(line).trim_start();
    let rest = line.strip_prefix(var)?.trim_start();
    ["::=", ":=", "?=", "+=", "="]
        .into_iter()
        .find(|op| rest.starts_with(op))
}

fn uses(text: &str, var: &str) -> bool {
    text.contains(&format!("$({var})")) || text.contains(&format!("${{{var}}}"))
}

fn value_of(text: &str, var: &str) -> Option<String> {
    logical_lines(text).find_map(|l| {
        let op = assignment(&l, var)?;
        let (_, value) = l.split_once(op)?;
        Some(value.split('#').next().unwrap_or("").trim().to_string())
    })
}

/// The program a Makefile builds: a `BIN`/`PROG`/`TARGET`... variable, the
/// file name of OUT's default, else the first plain rule target.
fn make_binaries(text: &str) -> Vec<String> {
    for var in [
        "BIN", "BINARY", "PROG", "PROGRAM", "TARGET", "EXE_NAME", "APP",
    ] {
        if let Some(v) = value_of(text, var).and_then(|v| plain_word(&v)) {
            return vec![v];
        }
    }
    if let Some(v) = value_of(text, "OUT") {
        let no_vars = strip_vars(&v);
        if let Some(name) = no_vars.rsplit('/').next().and_then(plain_word) {
            return vec![name];
        }
    }
    for l in logical_lines(text) {
        if l.starts_with(['\t', ' ', '#', '.']) {
            continue;
        }
        let Some((target, _)) = l.split_once(':') else {
            continue;
        };
        if l[target.len()..].starts_with(":=") || l[target.len()..].starts_with("::=") {
            continue;
        }
        let target = target.trim();
        let skip = [
            "all",
            "clean",
            "install",
            "uninstall",
            "check",
            "test",
            "dist",
            "distclean",
            "help",
        ];
        if let Some(w) =
            plain_word(target).filter(|w| !skip.contains(&w.as_str()) && !w.contains('.'))
        {
            return vec![w];
        }
    }
    Vec::new()
}

fn plain_word(v: &str) -> Option<String> {
    let v = v.trim();
    detect::is_plain_name(v).then(|| v.to_string())
}

/// `$(X)` and `${X}` references removed (`build/hello$(EXE)` is `build/hello`).
fn strip_vars(v: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && matches!(chars.peek(), Some('(' | '{')) {
            chars.next();
            depth += 1;
        } else if depth > 0 && matches!(c, ')' | '}') {
            depth -= 1;
        } else if depth > 0 && matches!(c, '(' | '{') {
            depth += 1;
        } else if depth == 0 {
            out.push(c);
        }
    }
    out
}

/// Lines with backslash continuations joined.
fn logical_lines(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut lines = text.lines();
    std::iter::from_fn(move || {
        let mut line = lines.next()?.to_string();
        while line.ends_with('\\') {
            line.pop();
            match lines.next() {
                Some(next) => line.push_str(next),
                None => break,
            }
        }
        Some(line)
    })
}

/// The first argument of the first `name(...)` call (CMake, Meson).
fn call_arg(text: &str, name: &str) -> Option<String> {
    call_args(text, name).into_iter().next()
}

/// The first argument of every `name(...)` call, quotes removed; only
/// plain names (a `${VAR}` argument is not one).
fn call_args(text: &str, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.starts_with('#') {
            continue;
        }
        let lower = line.to_ascii_lowercase();
        let Some(rest) = lower.strip_prefix(name) else {
            continue;
        };
        let Some(args) = rest.trim_start().strip_prefix('(') else {
            continue;
        };
        // Keep the original case: take the same slice from `line`.
        let args = &line[line.len() - args.len()..];
        let first = args
            .split(|c: char| c.is_whitespace() || c == ',' || c == ')')
            .find(|s| !s.is_empty())
            .unwrap_or("")
            .trim_matches(|c| c == '\'' || c == '"');
        if detect::is_plain_name(first) && !out.iter().any(|o| o == first) {
            out.push(first.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makefile_variables() {
        let mk = "VERSION ?= dev\nOUT ?= build/hello$(EXE)\nall:\n\t$(CC) -o '$(OUT)' x.c\n";
        assert!(assigns(mk, "OUT") && uses(mk, "OUT"));
        assert!(assigns(mk, "VERSION") && !uses(mk, "VERSION"));
        assert!(!hard_assigns(mk, "CC"));
        assert!(hard_assigns("CC = gcc\n", "CC"));
        assert!(!hard_assigns("CCFLAGS = -O2\n", "CC"));
        assert!(hard_assigns("override CC := clang\n", "CC"));
        assert_eq!(make_binaries(mk), ["hello"]);
        assert_eq!(make_binaries("PROG = tool # the tool\n"), ["tool"]);
        assert_eq!(
            make_binaries(
                ".PHONY: all\nall: frob\nfrob: frob.o util.o\n\t$(CC) -o $@ $^\nx := 1\n"
            ),
            ["frob"]
        );
        assert!(make_binaries("all:\n\tgo build\n").is_empty());
        assert_eq!(strip_vars("build/$(if $(W),x)hello${EXE}"), "build/hello");
        let cont = "OUT = \\\n  out/prog\n";
        assert_eq!(value_of(cont, "OUT").as_deref(), Some("out/prog"));
    }

    #[test]
    fn cmake_and_meson_calls() {
        let cmake = "cmake_minimum_required(VERSION 3.10)\nPROJECT(Frob C)\nadd_executable(frob main.c)\nadd_executable(${X} y.c)\n";
        assert_eq!(call_arg(cmake, "project").as_deref(), Some("Frob"));
        assert_eq!(call_args(cmake, "add_executable"), ["frob"]);
        let meson = "project('tool', 'c')\nexecutable('tool', 'main.c')\n# executable('old')\n";
        assert_eq!(call_args(meson, "executable"), ["tool"]);
    }
}
