//! `no_oauth_flow`: a local (stdio) server took its credential from the environment and started no OAuth
//! flow: it opened no browser and listened on no socket (LOCAL-001).

use super::{Expectation, Fail};
use crate::step::View;
use crate::template::Vars;
use serde::Deserialize;

/// `no_oauth_flow = true`.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct NoOAuthFlow(pub bool);

impl Expectation for NoOAuthFlow {
    fn judge_step(&self, view: &View<'_>, _vars: &Vars) -> Result<(), Fail> {
        let Some(signs) = &view.oauth_signs else {
            return Err((
                "a running process whose browser opens and listening sockets can be seen (mcp_stdio)".into(),
                "none could be seen: not an mcp_stdio step, no /proc, or the process had exited".into(),
            ));
        };
        match (signs.is_empty(), self.0) {
            (true, true) | (false, false) => Ok(()),
            (false, true) => Err((
                "no browser opened, no listening socket".into(),
                signs.join("; "),
            )),
            (true, false) => Err(("signs of an OAuth flow".into(), "none".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_fail_it() {
        let v = Vars::default();
        let clean = View {
            oauth_signs: Some(vec![]),
            ..View::default()
        };
        let browser = View {
            oauth_signs: Some(vec!["opened a browser at https://as/authorize".into()]),
            ..View::default()
        };
        assert!(NoOAuthFlow(true).judge_step(&clean, &v).is_ok());
        assert!(NoOAuthFlow(true).judge_step(&browser, &v).is_err());
        assert!(NoOAuthFlow(true).judge_step(&View::default(), &v).is_err());
    }
}
