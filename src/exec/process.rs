//! A build job's process and its log.
//!
//! Part of `exec`. The process itself is started, timed out, cancelled and
//! killed (its whole tree) by [`crate::process`]; this is what a job adds:
//! the [`Spawn`] a plan's build step makes, and the log file's header, notes
//! and tail.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::plan::BuildStep;
pub use crate::process::{Ended, SUPERVISE_ARG, Spawn, describe, run, use_supervisor};

impl<'a> From<&'a BuildStep> for Spawn<'a> {
    fn from(step: &'a BuildStep) -> Self {
        Spawn {
            argv: &step.argv,
            env: &step.env,
            dir: &step.dir,
            timeout: step.timeout,
        }
    }
}

/// The last `n` lines of a log, reading at most the final 64 KiB; none if
/// the log is not a regular file in a folder of matrix's (a job that put a
/// FIFO at its log's name would otherwise hang the run here).
pub fn tail(log: &Path, n: usize) -> Vec<String> {
    let Ok(mut f) = crate::process::read_log(log) else {
        return Vec::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(64 * 1024);
    if f.seek(SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    let mut buf = Vec::new();
    if f.read_to_end(&mut buf).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && !lines.is_empty() {
        lines.remove(0); // probably cut in the middle
    }
    let skip = lines.len().saturating_sub(n);
    lines[skip..].iter().map(|l| l.to_string()).collect()
}

/// Appends a `# ` line to a log.
pub fn note(log: &Path, line: &str) -> io::Result<()> {
    notes(log, &[line])
}

/// Appends `# ` lines to a log: one open and one write for them all (a
/// release of thousands of small jobs pays per system call). A note may
/// quote outside input (a cache entry's paths, a shared store's input
/// names) or a message of several lines (an error and its details): each
/// line after a note's first is written `#   ` (indented, so no quoted
/// text reads as a note of its own), and other control characters but
/// tabs are written escaped (`\r`, `\u{1b}`), so a note sends a terminal
/// nothing.
pub fn notes(log: &Path, lines: &[&str]) -> io::Result<()> {
    let mut text = String::new();
    for line in lines {
        for (i, part) in line.split('\n').enumerate() {
            text.push_str(if i == 0 { "# " } else { "#   " });
            for c in part.chars() {
                if c.is_control() && c != '\t' {
                    text.extend(c.escape_debug());
                } else {
                    text.push(c);
                }
            }
            text.push('\n');
        }
    }
    crate::process::open_log(log)?.write_all(text.as_bytes())
}

/// Starts a log with what is about to run, so the log alone explains a
/// failure. Written at once, like [`notes`]; both open the log with
/// [`crate::process::open_log`], never through a link.
pub fn write_header(log: &Path, target: &str, step: &BuildStep) -> io::Result<()> {
    use std::fmt::Write as _;
    let mut text = format!("# target: {target}\n# dir: {}\n", step.dir.display());
    for (k, v) in &step.env {
        let _ = writeln!(text, "# env: {k}={v}");
    }
    let _ = writeln!(text, "# command: {}", shell_words::join(&step.argv));
    crate::process::open_log_afresh(log)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    #[test]
    fn quoted_text_cannot_pass_for_a_note_or_reach_a_terminal() {
        // A note may quote outside input (a cache entry's path, the input
        // names of a shared store's last-inputs file): a line after a
        // newline is indented, so it cannot pass for a note of its own, and
        // no escape sequence reaches a terminal.
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("job.log");
        note(
            &log,
            "miss (changed: a\n# cache: restored x, \u{1b}]0;t\u{7}b)\tok",
        )
        .unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            text,
            "# miss (changed: a\n#   # cache: restored x, \\u{1b}]0;t\\u{7}b)\tok\n"
        );
    }

    use tokio_util::sync::CancellationToken;

    fn step(argv: &[&str], timeout: Option<Duration>) -> BuildStep {
        BuildStep {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            shell: false,
            env: BTreeMap::from([("MATRIX_TEST_VAR".to_string(), "from env".to_string())]),
            dir: std::env::temp_dir(),
            out_dir: std::env::temp_dir(),
            binary: "x".into(),
            artifact: std::env::temp_dir().join("x"),
            preset: None,
            verify: false,
            smoke: None,
            timeout,
            container: None,
            no_cache: false,
            cache_dir: None,
        }
    }

    #[tokio::test]
    async fn output_and_env_reach_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("job.log");
        let s = step(
            &[
                "sh",
                "-c",
                "echo out; echo err >&2; echo \"$MATRIX_TEST_VAR\"; exit 3",
            ],
            None,
        );
        write_header(&log, "linux/amd64", &s).unwrap();
        let ended = run((&s).into(), &log, &CancellationToken::new())
            .await
            .unwrap();
        match ended {
            Ended::Exited(st) => assert_eq!(describe(&st), "exit status 3"),
            other => panic!("{other:?}"),
        }
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.starts_with("# target: linux/amd64\n"));
        assert!(text.contains("out\nerr\nfrom env\n"), "{text}");
        assert_eq!(tail(&log, 2), vec!["err", "from env"]);
    }
}
