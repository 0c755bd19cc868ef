//! Live progress on a terminal: an overall bar and one line per running job.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Event, Reporter, duration, is_problem, job_label};

pub struct Progress {
    multi: MultiProgress,
    overall: ProgressBar,
    running: Mutex<HashMap<usize, ProgressBar>>,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    pub fn new() -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template(
                "{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} jobs  {elapsed}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Progress {
            multi,
            overall,
            running: Mutex::new(HashMap::new()),
        }
    }

    fn job_style() -> ProgressStyle {
        ProgressStyle::with_template("  {spinner} {msg} {elapsed:>4}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
    }
}

impl Reporter for Progress {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::Planned { plan } => {
                self.overall.set_length(plan.jobs.len() as u64);
                self.overall
                    .set_prefix(format!("{} {}", plan.project.name, plan.version.version));
                self.overall.enable_steady_tick(Duration::from_millis(200));
            }
            Event::Started { plan, job } => {
                let bar = self
                    .multi
                    .add(ProgressBar::new_spinner().with_style(Self::job_style()));
                bar.set_message(job_label(plan, *job));
                bar.enable_steady_tick(Duration::from_millis(120));
                if let Ok(mut running) = self.running.lock() {
                    running.insert(*job, bar);
                }
            }
            Event::Finished { plan, job, result } => {
                if let Some(bar) = self.running.lock().ok().and_then(|mut r| r.remove(job)) {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                self.overall.inc(1);
                if is_problem(result.status) && !result.duration.is_zero() {
                    let _ = self.multi.println(format!(
                        "{} {} ({})",
                        result.status.as_str(),
                        job_label(plan, *job),
                        duration(result.duration)
                    ));
                }
            }
        }
    }

    fn finish(&self) {
        if let Ok(mut running) = self.running.lock() {
            for (_, bar) in running.drain() {
                bar.finish_and_clear();
            }
        }
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
    }
}
