//! Progress while scenarios run: a bar on a terminal, one plain line per scenario elsewhere (CI logs),
//! nothing with `--quiet`.

use crate::report::{Outcome, ScenarioResult};
use std::sync::atomic::{AtomicUsize, Ordering};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// An indicatif progress bar (stderr is a terminal).
    Bar,
    /// A line per finished scenario.
    Lines,
    /// Nothing.
    Quiet,
}

/// Progress of a run; shared by the scenario tasks.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    display: Display,
    total: usize,
    done: AtomicUsize,
}

impl Progress {
    /// Progress for `total` scenarios.
    pub fn new(total: usize, display: Display) -> Progress {
        let bar = (display == Display::Bar).then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} scenarios  {wide_msg}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        Progress {
            bar,
            display,
            total,
            done: AtomicUsize::new(0),
        }
    }

    /// Records a finished scenario.
    pub fn finished(&self, r: &ScenarioResult) {
        let n = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        match self.display {
            Display::Bar => {
                if let Some(bar) = &self.bar {
                    bar.set_message(r.id.clone());
                    bar.inc(1);
                }
            }
            Display::Lines => {
                let label = match r.outcome {
                    Outcome::Pass => "PASS",
                    Outcome::Fail => "FAIL",
                    Outcome::Warn => "WARN",
                    Outcome::Skip => "SKIP",
                    Outcome::Info => "INFO",
                };
                let width = self.total.to_string().len();
                eprintln!(
                    "[{n:>width$}/{}] {label} {} ({} ms)",
                    self.total, r.id, r.duration_ms
                );
            }
            Display::Quiet => {}
        }
    }

    /// Removes the bar before the report is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
