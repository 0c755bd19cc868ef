//! The crate's modules sit in one ordered list of layers, and a module
//! imports only modules below its own: no cycles between modules.
//!
//! Reads every source file reachable from src/lib.rs (test modules and
//! `#[cfg(test)]` items left out: tests may reach anywhere), collects the
//! `crate::<module>` paths in its code (comments and string literals left
//! out: a doc link names a reader, not a dependency) and fails naming each
//! edge that points up the list.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The top-level modules, lowest first: each may import only modules listed
/// before it. Data flows along the list: config (which reads the axes into
/// `matrix`'s Spec and each channel into its packager's settings) → plan →
/// exec (which writes dist/ with `package` and the packagers) → the release
/// folder (`dist_check` checks one, `merge` joins shard dists into one with
/// the same binary check) → `repo` (`matrix publish`, `matrix channel`);
/// `release` holds the library's entry points and `cli` only turns flags
/// into calls. Vocabulary that many layers share (target names, counts,
/// processes, the axis expansion, archive formats and digests, the
/// manifest, OCI descriptors) sits at the bottom, so a low module never
/// reaches up for a word. A new module takes its place here.
const LAYERS: &[&str] = &[
    // Knowledge and words every layer uses; they import nothing above.
    "target",
    "human",
    "process",
    "inspect",
    "matrix",
    "image",
    "package",
    // Config to plan: each packager owns its `[channels.<name>]` keys, which
    // config reads; templates, versions and presets read config.
    "packager",
    "config",
    "template",
    "version",
    // The action cache stores files by digest (the sources digest asks
    // git through version); plan and exec name the inputs.
    "cache",
    "preset",
    "plan",
    "shard",
    // Running the plan.
    "engine",
    "toolchain",
    "exec",
    "report",
    // The release folder and what is done with it.
    "ci",
    "dist_check",
    "merge",
    "repo",
    // Entry points.
    "init",
    "error",
    "release",
    "cli",
];

/// One `crate::<module>` path in a module's code.
struct Edge {
    from: String,
    to: String,
    line: usize,
}

#[test]
fn modules_import_only_layers_below_their_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let problems = back_edges(&src);
    assert!(problems.is_empty(), "{problems}");
}

/// Every violation under `src`, one per line (empty when there is none).
fn back_edges(src: &Path) -> String {
    let mut problems = String::new();
    let mut files = Vec::new();
    collect(&src.join("lib.rs"), src, None, &mut files);
    let tops: BTreeSet<&str> = files.iter().filter_map(|(top, _)| top.as_deref()).collect();
    for top in &tops {
        if !LAYERS.contains(top) {
            writeln!(problems, "module `{top}` is in no layer: add it to LAYERS").unwrap();
        }
    }
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    for (top, file) in &files {
        let Some(top) = top else { continue };
        for edge in edges(top, file, &tops) {
            if let (Some(from), Some(to)) = (rank(&edge.from), rank(&edge.to))
                && to > from
            {
                writeln!(
                    problems,
                    "{}:{}: `{}` imports `{}`, a layer above it",
                    file.strip_prefix(src.parent().unwrap())
                        .unwrap_or(file)
                        .display(),
                    edge.line,
                    edge.from,
                    edge.to
                )
                .unwrap();
            }
        }
    }
    problems
}

/// The files of the module in `file` and of its non-test submodules, each
/// with its top-level module (`None` for lib.rs itself). `dir` is where the
/// module's submodules live.
fn collect(file: &Path, dir: &Path, top: Option<&str>, out: &mut Vec<(Option<String>, PathBuf)>) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let code = without_tests(&code_only(&text));
    out.push((top.map(str::to_string), file.to_path_buf()));
    for name in module_declarations(&code) {
        let flat = dir.join(format!("{name}.rs"));
        let (child, child_dir) = if flat.is_file() {
            (flat, dir.join(&name))
        } else {
            (dir.join(&name).join("mod.rs"), dir.join(&name))
        };
        let child_top = top.map(str::to_string).unwrap_or_else(|| name.clone());
        collect(&child, &child_dir, Some(&child_top), out);
    }
}

/// The names of `mod name;` declarations (file modules) in `code`.
fn module_declarations(code: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in code.lines() {
        let mut words = line.trim().trim_end_matches(';').split_whitespace();
        let mut word = words.next();
        if word.is_some_and(|w| w.starts_with("pub")) {
            word = words.next();
        }
        if word == Some("mod")
            && line.trim().ends_with(';')
            && let Some(name) = words.next()
        {
            names.push(name.to_string());
        }
    }
    names
}

/// The `crate::<module>` paths of `file` (already without tests) that name
/// another top-level module than `top`.
fn edges(top: &str, file: &Path, tops: &BTreeSet<&str>) -> Vec<Edge> {
    let text = std::fs::read_to_string(file).unwrap();
    let code = without_tests(&code_only(&text));
    let mut out = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let line = code[..at].matches('\n').count() + 1;
        let rest = &code[at + "crate::".len()..];
        for name in first_names(rest) {
            if name != top && tops.contains(name.as_str()) {
                out.push(Edge {
                    from: top.to_string(),
                    to: name,
                    line,
                });
            }
        }
    }
    out
}

/// The first path segment after `crate::`: one name, or each name of a
/// `{a, b::c, d::{e}}` group.
fn first_names(rest: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    if !rest.starts_with('{') {
        return vec![ident(rest)];
    }
    let mut names = Vec::new();
    let mut depth = 0;
    let mut start = true;
    for (i, c) in rest.char_indices() {
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    start = true;
                    continue;
                }
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => {
                start = true;
                continue;
            }
            _ => {}
        }
        if start && depth == 1 && !c.is_whitespace() {
            names.push(ident(&rest[i..]));
            start = false;
        }
    }
    names
}

/// `text` with comments, string and char literals blanked (newlines kept,
/// so line numbers stay), leaving only code.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, s: &[char]| {
        for c in s {
            out.push(if *c == '\n' { '\n' } else { ' ' });
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let ident_before = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if c == '/' && next == Some('/') {
            let end = chars[i..]
                .iter()
                .position(|c| *c == '\n')
                .map_or(chars.len(), |p| i + p);
            blank(&mut out, &chars[i..end]);
            i = end;
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            let mut j = i;
            while j < chars.len() {
                if chars[j] == '/' && chars.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if chars[j] == '*' && chars.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, &chars[i..j]);
            i = j;
        } else if !ident_before
            && (c == 'r' || (c == 'b' && next == Some('r')))
            && raw_start(&chars, i).is_some()
        {
            let (quote, hashes) = raw_start(&chars, i).unwrap();
            let mut j = quote + 1;
            while j < chars.len() {
                if chars[j] == '"'
                    && chars[j + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|c| **c == '#')
                        .count()
                        == hashes
                {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            blank(&mut out, &chars[i..j]);
            i = j;
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, &chars[i..(j + 1).min(chars.len())]);
            i = j + 1;
        } else if c == '\'' && next == Some('\\') {
            let end = chars[i + 2..]
                .iter()
                .position(|c| *c == '\'')
                .map_or(chars.len(), |p| i + 2 + p + 1);
            blank(&mut out, &chars[i..end]);
            i = end;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            blank(&mut out, &chars[i..i + 3]);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Where a raw string starting at `i` (`r"`, `r#"`, `br#"`...) has its
/// opening quote, and how many `#` it has.
fn raw_start(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i + if chars[i] == 'b' { 2 } else { 1 };
    let hashes = chars[j..].iter().take_while(|c| **c == '#').count();
    j += hashes;
    (chars.get(j) == Some(&'"')).then_some((j, hashes))
}

/// `code` (from [`code_only`]) with every item under a `#[cfg(test)]` (or
/// `#[cfg(all(test, ...))]`) attribute blanked.
fn without_tests(code: &str) -> String {
    let mut out: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < out.len() {
        let Some(end) = test_attribute(&out, i) else {
            i += 1;
            continue;
        };
        // The item: up to a `;` before any brace, or to its closing brace.
        let mut j = end;
        let mut depth = 0;
        while j < out.len() {
            match out[j] {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        j += 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    j += 1;
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        let j = j.min(out.len());
        for c in &mut out[i..j] {
            if *c != '\n' {
                *c = ' ';
            }
        }
        i = j;
    }
    out.into_iter().collect()
}

/// If a cfg attribute that needs `test` starts at `i`, where it ends.
fn test_attribute(code: &[char], i: usize) -> Option<usize> {
    if code[i] != '#' || code.get(i + 1) != Some(&'[') {
        return None;
    }
    let end = i + code[i..].iter().position(|c| *c == ']')? + 1;
    let attr: String = code[i..end].iter().filter(|c| !c.is_whitespace()).collect();
    let needs_test = attr == "#[cfg(test)]" || attr.starts_with("#[cfg(all(test,");
    needs_test.then_some(end)
}

/// The check fails on a real back edge: a copy of a small tree where a low
/// module reaches up, in code, is refused with the file, line and edge,
/// while the same path in a comment, a string or a test module is not.
#[test]
fn a_module_reaching_up_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("package")).unwrap();
    let write = |p: &str, s: &str| std::fs::write(src.join(p), s).unwrap();
    write(
        "lib.rs",
        "pub mod target;\npub mod package;\npub mod cli;\n",
    );
    write("cli.rs", "use crate::{package, target::Os};\n");
    write(
        "target.rs",
        "//! Not [`crate::cli`].\nconst S: &str = \"crate::cli\";\n#[cfg(test)]\nmod tests {\n    use crate::cli;\n}\n",
    );
    write(
        "package/mod.rs",
        "mod manifest;\n#[cfg(test)]\nmod tests;\n",
    );
    write("package/tests.rs", "use crate::cli::Args;\n");
    write(
        "package/manifest.rs",
        "use std::path::Path;\n\nfn f() -> crate::cli::Args {\n    todo!()\n}\n",
    );
    let problems = back_edges(&src);
    assert_eq!(
        problems,
        "src/package/manifest.rs:3: `package` imports `cli`, a layer above it\n"
    );
}
