//! `exit`: a child process's exit code.

use super::{Expectation, Fail};
use crate::error::Invalid;
use crate::step::{ValidateCx, View};
use crate::template::Vars;
use serde::Deserialize;

/// `exit = { code = 0 }`, or `exit = { nonzero = true }` (exited by itself with a failure code).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitExpect {
    /// Exactly this code.
    pub code: Option<i32>,
    /// Any non-zero code (not killed, not a signal).
    pub nonzero: Option<bool>,
}

impl Expectation for ExitExpect {
    fn validate(&self, _cx: &ValidateCx) -> Result<(), Invalid> {
        if self.code.is_some() == self.nonzero.is_some() {
            return Err(Invalid::new("", "give exactly one of `code` or `nonzero`"));
        }
        Ok(())
    }

    fn judge_step(&self, view: &View<'_>, _vars: &Vars) -> Result<(), Fail> {
        let Some(exit) = view.exit else {
            return Err((
                "a process exit".into(),
                "this kind of step runs no process".into(),
            ));
        };
        let got = exit.map_or("no exit code (killed or a signal)".to_string(), |c| {
            format!("exit {c}")
        });
        match (self.code, self.nonzero, exit) {
            (Some(want), _, Some(c)) if c == want => Ok(()),
            (Some(want), _, _) => Err((format!("exit {want}"), got)),
            (None, Some(true), Some(c)) if c != 0 => Ok(()),
            (None, Some(false), Some(0)) => Ok(()),
            (None, Some(nz), _) => Err((if nz { "a non-zero exit" } else { "exit 0" }.into(), got)),
            (None, None, _) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let v = Vars::default();
        let at = |e: Option<i32>| View {
            exit: Some(e),
            ..View::default()
        };
        let nz = ExitExpect {
            code: None,
            nonzero: Some(true),
        };
        assert!(nz.judge_step(&at(Some(2)), &v).is_ok());
        assert!(nz.judge_step(&at(Some(0)), &v).is_err());
        assert!(
            nz.judge_step(&at(None), &v).is_err(),
            "killed is not a clean failure"
        );
        let zero = ExitExpect {
            code: Some(0),
            nonzero: None,
        };
        assert!(zero.judge_step(&at(Some(0)), &v).is_ok());
        assert!(zero.judge_step(&View::default(), &v).is_err());
        assert!(
            ExitExpect {
                code: Some(0),
                nonzero: Some(true)
            }
            .validate(&ValidateCx::default())
            .is_err()
        );
    }
}
