//! One line per event, for CI logs and pipes: no bars, no colours.

use std::io::Write;
use std::sync::Mutex;

use super::{Event, Reporter, count, duration, is_problem, job_label};

pub struct Plain {
    out: Mutex<Box<dyn Write + Send>>,
    /// Also print the command of each build as it starts.
    verbose: bool,
}

impl Plain {
    pub fn stderr(verbose: bool) -> Self {
        Plain {
            out: Mutex::new(Box::new(std::io::stderr())),
            verbose,
        }
    }

    pub fn to_writer(out: Box<dyn Write + Send>, verbose: bool) -> Self {
        Plain {
            out: Mutex::new(out),
            verbose,
        }
    }

    fn line(&self, text: &str) {
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{text}");
        }
    }
}

impl Reporter for Plain {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::Planned { plan } => self.line(&format!(
                "matrix: building {} {} ({}, {})",
                plan.project.name,
                plan.version.version,
                count(plan.targets.len(), "target", "targets"),
                count(plan.jobs.len(), "job", "jobs")
            )),
            Event::Started { plan, job } => {
                let mut text = format!("{:<9} {}", "start", job_label(plan, *job));
                let j = &plan.jobs[*job];
                if let (true, crate::plan::JobKind::Build, Some(t)) =
                    (self.verbose, j.kind, j.target())
                {
                    text.push_str(&format!(
                        ": {}",
                        shell_words::join(&plan.targets[t].build.argv)
                    ));
                }
                self.line(&text);
            }
            Event::Finished { plan, job, result } => {
                // Settled-without-running jobs are only noise unless verbose.
                if result.duration.is_zero() && is_problem(result.status) && !self.verbose {
                    return;
                }
                let mut text = format!(
                    "{:<9} {} ({})",
                    result.status.as_str(),
                    job_label(plan, *job),
                    duration(result.duration)
                );
                let files: Vec<&str> = result
                    .artifact
                    .iter()
                    .chain(&result.extra)
                    .map(|a| a.path.as_str())
                    .collect();
                if !files.is_empty() {
                    text.push_str(&format!(" -> {}", files.join(", ")));
                }
                self.line(&text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn one_line_per_finished_job() {
        let plan = crate::plan::tests::sample_plan();
        let buf = Buf::default();
        let r = Plain::to_writer(Box::new(buf.clone()), false);
        r.event(&Event::Planned { plan: &plan });
        r.event(&Event::Started {
            plan: &plan,
            job: 0,
        });
        let result = crate::exec::JobResult {
            status: crate::exec::Status::Ok,
            duration: std::time::Duration::from_millis(1500),
            artifact: None,
            binary: None,
            produced: None,
            extra: Vec::new(),
            error: None,
        };
        r.event(&Event::Finished {
            plan: &plan,
            job: 0,
            result: &result,
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].starts_with("matrix: building hello 1.2.3 (2 targets, 6 jobs)"),
            "{text}"
        );
        assert_eq!(lines[1], "start     build linux/amd64");
        assert_eq!(lines[2], "ok        build linux/amd64 (1.5s)");
    }
}
