//! What a scenario is doing right now, so that a scenario cut off at its deadline says where it stood
//! ("while launching the target: …", "during step `tampered`") instead of only that it was late.
//!
//! The phase lives in a task-local set by [`tracked`]; [`set`] outside such a task does nothing.

use std::sync::{Arc, Mutex};

/// The phase text of one scenario, shared between its task and the deadline that watches it.
#[derive(Clone, Default)]
pub struct Phase(Arc<Mutex<String>>);

impl Phase {
    /// The last phase set, or an empty string.
    pub fn current(&self) -> String {
        self.0.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

tokio::task_local! {
    static PHASE: Phase;
}

/// Runs `fut` with `phase` as the phase [`set`] updates.
pub async fn tracked<F: std::future::Future>(phase: Phase, fut: F) -> F::Output {
    PHASE.scope(phase, fut).await
}

/// Records what the current scenario is doing.
pub fn set(what: impl Into<String>) {
    let _ = PHASE.try_with(|p| {
        if let Ok(mut slot) = p.0.lock() {
            *slot = what.into();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::{Phase, set, tracked};

    #[tokio::test]
    async fn a_phase_is_seen_outside_its_task_and_set_is_a_no_op_elsewhere() {
        set("ignored: no scenario here");
        let phase = Phase::default();
        tracked(phase.clone(), async { set("during step `a`") }).await;
        assert_eq!(phase.current(), "during step `a`");
    }
}
