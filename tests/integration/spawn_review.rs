//! A hostile review of how jobs start (issue 15): what a job finds when it
//! starts (its descriptors, its environment) and what a job can make matrix
//! do through the files it shares with it (dist/logs). Each test is a
//! question asked with the real binary, kept so the answer stays right.

use crate::support::{Project, run, script_config};

fn two_targets(build: &str) -> Project {
    Project::with_config(&script_config(
        r#"os = ["linux"]
arch = ["amd64", "arm64"]"#,
        build,
    ))
}

/// A job plants links in dist/logs where the next jobs' logs go (the other
/// target's build log, which matrix starts afresh, and its own archive
/// job's log, which matrix appends to): matrix must not write through
/// them. The jobs whose log is a link fail, naming it.
#[test]
fn a_link_planted_at_a_log_name_is_never_written_through() {
    let outside = tempfile::tempdir().unwrap();
    let (first, second) = (outside.path().join("a"), outside.path().join("b"));
    for f in [&first, &second] {
        std::fs::write(f, "keep\n").unwrap();
    }
    let build = format!(
        r#"command = ["sh", "-c", "logs=$(dirname \"$0\")/../../logs; case {{{{ arch }}}} in amd64) ln -s {} \"$logs/build-linux-arm64.log\"; ln -s {} \"$logs/archive-linux-amd64.log\";; esac; printf '#!/bin/sh\n' > \"$0\"; chmod +x \"$0\"", "{{{{ out }}}}/{{{{ bin }}}}"]"#,
        first.display(),
        second.display()
    );
    let p = two_targets(&build);
    let (code, out, err) = run(&mut p.matrix(&["build", "-j", "1", "--keep-going"]));
    assert_eq!(std::fs::read_to_string(&first).unwrap(), "keep\n");
    assert_eq!(std::fs::read_to_string(&second).unwrap(), "keep\n");
    assert_eq!(code, 1, "{out}\n{err}");
    let err: String = err.split_whitespace().filter(|w| *w != "|").collect();
    for log in ["build-linux-arm64.log", "archive-linux-amd64.log"] {
        assert!(err.contains(&format!("logs/{log}")), "{log}: {err}");
    }
    assert!(err.contains("isasymboliclink"), "{err}");
}
