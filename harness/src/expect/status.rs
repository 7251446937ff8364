//! `status` and `status_not`: the HTTP status matches one of the patterns (`401`, `"2xx"`), or none of them.

use super::{Expectation, Fail, response};
use crate::error::Invalid;
use crate::step::{ValidateCx, View};
use crate::template::Vars;
use serde::Deserialize;

/// A status code or a class such as `"2xx"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StatusPattern {
    /// One code.
    Code(u16),
    /// A class: `1xx` … `5xx`.
    Class(String),
}

impl StatusPattern {
    /// Does `status` match?
    pub fn matches(&self, status: u16) -> bool {
        match self {
            StatusPattern::Code(c) => *c == status,
            StatusPattern::Class(c) => {
                c.len() == 3
                    && c.ends_with("xx")
                    && c.as_bytes()[0].wrapping_sub(b'0') as u16 == status / 100
            }
        }
    }

    /// Is it a status (100–599) or a class (`1xx`–`5xx`)?
    pub fn valid(&self) -> bool {
        match self {
            StatusPattern::Code(c) => (100..600).contains(c),
            StatusPattern::Class(c) => {
                c.len() == 3 && c.ends_with("xx") && (b'1'..=b'5').contains(&c.as_bytes()[0])
            }
        }
    }
}

impl std::fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusPattern::Code(c) => write!(f, "{c}"),
            StatusPattern::Class(c) => f.write_str(c),
        }
    }
}

/// Patterns joined with "or".
pub fn list(p: &[StatusPattern]) -> String {
    p.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}

fn validate_all(patterns: &[StatusPattern]) -> Result<(), Invalid> {
    match patterns.iter().find(|p| !p.valid()) {
        Some(p) => Err(Invalid::new(
            "",
            format!("`{p}` is not a status or class like \"4xx\""),
        )),
        None => Ok(()),
    }
}

/// `status`: the status matches one of these.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct StatusIs(pub Vec<StatusPattern>);

impl Expectation for StatusIs {
    fn validate(&self, _cx: &ValidateCx) -> Result<(), Invalid> {
        validate_all(&self.0)
    }

    fn judge_step(&self, view: &View<'_>, _vars: &Vars) -> Result<(), Fail> {
        let r = response(view)?;
        if !self.0.iter().any(|p| p.matches(r.status)) {
            return Err((
                format!("status {}", list(&self.0)),
                format!("status {}", r.status),
            ));
        }
        Ok(())
    }
}

/// `status_not`: the status matches none of these.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct StatusNot(pub Vec<StatusPattern>);

impl Expectation for StatusNot {
    fn validate(&self, _cx: &ValidateCx) -> Result<(), Invalid> {
        validate_all(&self.0)
    }

    fn judge_step(&self, view: &View<'_>, _vars: &Vars) -> Result<(), Fail> {
        let r = response(view)?;
        if self.0.iter().any(|p| p.matches(r.status)) {
            return Err((
                format!("status other than {}", list(&self.0)),
                format!("status {}", r.status),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_codes() {
        assert!(StatusPattern::Class("4xx".into()).matches(404));
        assert!(!StatusPattern::Class("4xx".into()).matches(500));
        assert!(StatusPattern::Code(401).matches(401));
    }

    #[test]
    fn invalid_patterns_are_refused() {
        let cx = ValidateCx::default();
        for bad in [
            StatusPattern::Code(99),
            StatusPattern::Code(600),
            StatusPattern::Class("6xx".into()),
            StatusPattern::Class("4x".into()),
        ] {
            assert!(StatusIs(vec![bad.clone()]).validate(&cx).is_err(), "{bad}");
            assert!(StatusNot(vec![bad]).validate(&cx).is_err());
        }
    }
}
