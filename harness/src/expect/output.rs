//! `output`: what a step saw as text (stdout, stderr, tool results, bodies) contains, or never contains, a
//! value: e.g. a key never appears in anything a local server wrote.

use super::{Expectation, Fail, expand};
use crate::error::Invalid;
use crate::step::{ValidateCx, View};
use crate::template::Vars;
use serde::Deserialize;

/// Expectations on a step's texts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputExpect {
    /// Only these texts (`stdout`, `stderr`, `tool`, `body`, `error`); default: every text the step has.
    #[serde(default)]
    pub streams: Vec<String>,
    /// One of the texts contains each of these (templates; compared case-insensitively).
    #[serde(default)]
    pub contains: Vec<String>,
    /// One of the texts contains one of these (templates; case-insensitively), e.g. words that name an auth
    /// problem.
    #[serde(default)]
    pub contains_any: Vec<String>,
    /// No text contains any of these (templates, exact).
    #[serde(default)]
    pub never_contains: Vec<String>,
}

const STREAMS: &[&str] = &["stdout", "stderr", "tool", "body", "error"];

impl Expectation for OutputExpect {
    fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
        if self.contains.is_empty()
            && self.contains_any.is_empty()
            && self.never_contains.is_empty()
        {
            return Err(Invalid::new(
                "",
                "give `contains`, `contains_any` or `never_contains`",
            ));
        }
        for (i, s) in self.streams.iter().enumerate() {
            if !STREAMS.contains(&s.as_str()) {
                return Err(Invalid::new(
                    format!("streams[{i}]"),
                    format!("`{s}` is not one of {}", STREAMS.join(", ")),
                ));
            }
        }
        for v in &self.contains {
            cx.template("contains", v)?;
        }
        for v in &self.contains_any {
            cx.template("contains_any", v)?;
        }
        for v in &self.never_contains {
            cx.template("never_contains", v)?;
        }
        Ok(())
    }

    fn judge_step(&self, view: &View<'_>, vars: &Vars) -> Result<(), Fail> {
        let texts: Vec<&(&str, &str)> = view
            .outputs
            .iter()
            .filter(|(n, _)| self.streams.is_empty() || self.streams.iter().any(|s| s == n))
            .collect();
        for t in &self.never_contains {
            let needle = expand(vars, t)?;
            if needle.is_empty() {
                return Err((format!("a value for {t}"), "it is empty".into()));
            }
            if let Some((name, _)) = texts.iter().find(|(_, text)| text.contains(&needle)) {
                return Err((
                    format!("no {t} in what the step saw"),
                    format!("it is in {name}"),
                ));
            }
        }
        for t in &self.contains {
            contains_one(&texts, &[expand(vars, t)?])?;
        }
        if !self.contains_any.is_empty() {
            let mut needles = Vec::new();
            for t in &self.contains_any {
                needles.push(expand(vars, t)?);
            }
            contains_one(&texts, &needles)?;
        }
        Ok(())
    }
}

/// One of `texts` contains one of `needles`, case-insensitively.
fn contains_one(texts: &[&(&str, &str)], needles: &[String]) -> Result<(), Fail> {
    let lower: Vec<String> = needles.iter().map(|n| n.to_lowercase()).collect();
    if texts
        .iter()
        .any(|(_, text)| lower.iter().any(|n| text.to_lowercase().contains(n)))
    {
        return Ok(());
    }
    let names: Vec<&str> = texts.iter().map(|(n, _)| *n).collect();
    Err((
        format!(
            "{} in {}",
            lower
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" or "),
            names.join(" or ")
        ),
        "it is in none of them".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(outputs: Vec<(&'static str, &'a str)>) -> View<'a> {
        View {
            outputs,
            ..View::default()
        }
    }

    #[test]
    fn never_contains_looks_everywhere_and_contains_ignores_case() {
        let mut vars = Vars::default();
        vars.set("key.p", "secret-123");
        let e = OutputExpect {
            never_contains: vec!["{key.p}".into()],
            contains: vec!["API KEY".into()],
            ..Default::default()
        };
        let clean = view(vec![("stdout", "{}"), ("tool", "no api key set")]);
        assert!(e.judge_step(&clean, &vars).is_ok());
        let leaky = view(vec![("stderr", "using secret-123"), ("tool", "no api key")]);
        assert!(
            e.judge_step(&leaky, &vars)
                .unwrap_err()
                .1
                .contains("stderr")
        );
        let silent = view(vec![("tool", "failed")]);
        assert!(e.judge_step(&silent, &vars).is_err());
    }

    #[test]
    fn validation_rules() {
        let cx = ValidateCx::default();
        assert!(OutputExpect::default().validate(&cx).is_err());
        let bad = OutputExpect {
            streams: vec!["stdin".into()],
            never_contains: vec!["x".into()],
            ..Default::default()
        };
        assert_eq!(bad.validate(&cx).unwrap_err().field, "streams[0]");
    }
}
