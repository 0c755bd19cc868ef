//! The program a build's own command runs, for the plan-time check: the
//! first word of the argument vector, or, for `shell = true`, the first word
//! of the line when that is plainly a program (best effort: a line that
//! starts with a shell builtin, a keyword, an assignment or an expansion is
//! not checked, because only the shell knows what it runs).

use crate::plan::BuildStep;
use crate::preset::{Need, Source, program};

/// Builtins and keywords of POSIX sh (and the common bash ones): a line
/// that starts with one of these does not name a program first.
const SHELL_WORDS: &[&str] = &[
    "!", ".", ":", "[", "[[", "{", "}", "(", ")", "alias", "bg", "break", "builtin", "case", "cd",
    "command", "continue", "declare", "do", "done", "echo", "elif", "else", "esac", "eval", "exec",
    "exit", "export", "false", "fc", "fg", "fi", "for", "function", "getopts", "hash", "if", "in",
    "jobs", "kill", "let", "local", "printf", "pwd", "read", "readonly", "return", "select", "set",
    "shift", "source", "test", "then", "time", "times", "trap", "true", "type", "typeset",
    "ulimit", "umask", "unalias", "unset", "until", "wait", "while",
];

/// The program `step` runs, if it can be known without running a shell.
pub fn program_of(step: &BuildStep) -> Option<String> {
    if step.shell {
        // The plan made it `sh -c <line>`.
        return step.argv.get(2).and_then(|line| first_program(line));
    }
    step.argv.first().filter(|p| !p.is_empty()).cloned()
}

/// The first word of a shell line, when it is plainly a program name.
pub fn first_program(line: &str) -> Option<String> {
    let line = line.trim_start();
    let end = line
        .find(|c: char| c.is_whitespace() || matches!(c, ';' | '|' | '&' | '<' | '>' | '(' | ')'))
        .unwrap_or(line.len());
    let word = &line[..end];
    if word.is_empty() || SHELL_WORDS.contains(&word) || word.starts_with('-') {
        return None;
    }
    // Quoting, expansions and globs: only the shell knows the result.
    if word.contains(|c: char| {
        matches!(
            c,
            '$' | '`' | '\'' | '"' | '\\' | '*' | '?' | '[' | '{' | '}' | '~' | '#' | '!'
        )
    }) {
        return None;
    }
    // `NAME=value cmd`: an assignment, not a program.
    if let Some((name, _)) = word.split_once('=') {
        let is_name = name
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
        if is_name && !name.is_empty() {
            return None;
        }
    }
    Some(word.to_string())
}

/// What provides a program a command names: the Debian package (or zig
/// from PyPI) when matrix knows it, else the hint to install it by hand.
pub fn need_for_program(name: &str) -> Need {
    let apt = |packages: &[&str]| Source::Apt {
        packages: packages.iter().map(|p| p.to_string()).collect(),
    };
    let gnu = crate::target::PLATFORMS
        .iter()
        .find(|p| {
            p.gnu_prefix
                .is_some_and(|prefix| name == format!("{prefix}gcc"))
        })
        .filter(|p| !p.gnu_packages.is_empty());
    let source = match name {
        "go" => apt(&["golang-go"]),
        "make" => apt(&["make"]),
        "gcc" | "cc" => apt(&["gcc", "libc6-dev"]),
        "g++" | "c++" => apt(&["g++"]),
        "cmake" => apt(&["cmake"]),
        "meson" => apt(&["meson"]),
        "ninja" => apt(&["ninja-build"]),
        "python3" => apt(&["python3"]),
        "git" => apt(&["git"]),
        "zig" => Source::Zig,
        _ if name.starts_with("qemu-") && name.ends_with("-static") => apt(&["qemu-user-static"]),
        _ => match gnu {
            Some(p) => apt(p.gnu_packages),
            None => {
                let how = match name {
                    "cargo" | "rustc" => "install Rust with rustup: https://rustup.rs".to_string(),
                    _ if name.contains('/') => format!(
                        "{name} is not an executable file in the build folder: fix [build] command, or make the file executable (chmod +x)"
                    ),
                    _ => format!(
                        "install {name} (matrix does not know its package), or fix [build] command"
                    ),
                };
                return Need::Program {
                    name: name.to_string(),
                    source: Source::Manual,
                    install: how,
                };
            }
        },
    };
    program(name, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_words_of_shell_lines() {
        let cases = [
            ("make -s OUT=x", Some("make")),
            ("  go build ./... && cp a b", Some("go")),
            ("cargo build;cp a b", Some("cargo")),
            ("./build.sh --release", Some("./build.sh")),
            ("nonexistent-prog-xyz|tee log", Some("nonexistent-prog-xyz")),
            ("cd sub && make", None),
            ("export A=1; make", None),
            ("CC=gcc make", None),
            ("if true; then make; fi", None),
            ("$CC -o x x.c", None),
            ("\"my tool\" x", None),
            ("~/bin/tool", None),
            ("{ make; }", None),
            ("(cd sub && make)", None),
            ("! make", None),
            ("echo hi > x", None),
            ("", None),
            ("   ", None),
            ("-x", None),
        ];
        for (line, want) in cases {
            assert_eq!(first_program(line).as_deref(), want, "{line:?}");
        }
    }

    fn step(argv: &[&str], shell: bool) -> BuildStep {
        BuildStep {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            shell,
            env: Default::default(),
            dir: "/p".into(),
            out_dir: "/p/dist/build/x".into(),
            binary: "x".into(),
            artifact: "/p/dist/build/x/x".into(),
            preset: None,
            verify: false,
            smoke: None,
            timeout: None,
            container: None,
            no_cache: false,
            cache_dir: None,
        }
    }

    #[test]
    fn programs_of_steps() {
        assert_eq!(
            program_of(&step(&["nonexistent-prog-xyz", "a"], false)).as_deref(),
            Some("nonexistent-prog-xyz")
        );
        // An argument vector is never re-read as a shell line.
        assert_eq!(
            program_of(&step(&["cd", "x"], false)).as_deref(),
            Some("cd")
        );
        assert_eq!(
            program_of(&step(&["sh", "-c", "zig cc -o x x.c"], true)).as_deref(),
            Some("zig")
        );
        assert_eq!(program_of(&step(&["sh", "-c", "cd a && b"], true)), None);
        assert_eq!(program_of(&step(&[], false)), None);
    }

    #[test]
    fn known_programs_name_their_packages() {
        let packages = |name: &str| match need_for_program(name) {
            Need::Program {
                source: Source::Apt { packages },
                install,
                ..
            } => {
                assert!(install.starts_with("matrix doctor --install, or: sudo apt-get install -y --no-install-recommends "), "{install}");
                packages
            }
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(packages("go"), ["golang-go"]);
        assert_eq!(packages("make"), ["make"]);
        assert_eq!(
            packages("aarch64-linux-gnu-gcc"),
            ["gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"]
        );
        assert_eq!(
            packages("i686-w64-mingw32-gcc"),
            ["gcc-mingw-w64-i686-win32"]
        );
        assert_eq!(packages("qemu-riscv64-static"), ["qemu-user-static"]);
        assert!(matches!(
            need_for_program("zig"),
            Need::Program {
                source: Source::Zig,
                ..
            }
        ));
        let Need::Program {
            source, install, ..
        } = need_for_program("nonexistent-prog-xyz")
        else {
            unreachable!()
        };
        assert_eq!(source, Source::Manual);
        assert!(install.contains("fix [build] command"), "{install}");
    }
}
