//! `wait` steps: a wait the protocol mandates, such as a device code's lifetime (`expires_in`) before showing
//! that the code is dead. Never used for readiness (that is polled with deadlines); capped so a target that
//! announces a long lifetime cannot stall a run.

use super::{Kind, Recorded, StepCx, ValidateCx, View, expand};
use crate::error::Invalid;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::time::Duration;

/// `wait = { seconds = "{expires_in}", plus_ms = 2000, max_s = 30 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitStep {
    /// Whole seconds to wait (a template, e.g. a captured `expires_in`).
    pub seconds: String,
    /// Milliseconds added (default 0).
    #[serde(default)]
    pub plus_ms: u64,
    /// The most seconds this step may wait; a longer wait fails the step with the reason (default 30).
    #[serde(default = "default_max")]
    pub max_s: u64,
}

fn default_max() -> u64 {
    30
}

/// What a wait step did.
#[derive(Debug, Clone, Serialize)]
pub struct WaitRecord {
    /// The protocol wait, in whole seconds, before `plus_ms`.
    pub seconds: u64,
    /// Why it did not wait, if it did not.
    pub refused: Option<String>,
}

impl Kind for WaitStep {
    type Record = WaitRecord;

    fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
        cx.template("seconds", &self.seconds)?;
        if self.max_s == 0 || self.max_s > 300 {
            return Err(Invalid::new("max_s", "between 1 and 300"));
        }
        Ok(())
    }

    async fn run(&self, cx: &StepCx<'_>) -> Result<WaitRecord, String> {
        let text = expand(cx.vars, &self.seconds)?;
        let seconds: u64 = text
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not a whole number of seconds"))?;
        if seconds > self.max_s {
            return Ok(WaitRecord {
                seconds,
                refused: Some(format!(
                    "{seconds} s is longer than this step waits ({} s); give the target a shorter-lived fixture",
                    self.max_s
                )),
            });
        }
        tokio::time::sleep(Duration::from_secs(seconds) + Duration::from_millis(self.plus_ms))
            .await;
        Ok(WaitRecord {
            seconds,
            refused: None,
        })
    }
}

impl Recorded for WaitRecord {
    fn view(&self) -> View<'_> {
        View {
            not_run: self.refused.as_deref(),
            ..View::default()
        }
    }

    fn request_line(&self) -> String {
        format!("wait {} s", self.seconds)
    }

    fn render(&self, out: &mut String) {
        match &self.refused {
            Some(why) => {
                let _ = writeln!(out, "did not wait: {why}");
            }
            None => {
                let _ = writeln!(out, "waited the protocol's {} s", self.seconds);
            }
        }
    }
}
