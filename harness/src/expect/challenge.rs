//! `challenge`: the `WWW-Authenticate` challenges of a response (RFC 9110 §11.6.1, RFC 6750 §3).

use super::{Expectation, Fail, expand, response};
use crate::error::Invalid;
use crate::step::{ValidateCx, View};
use crate::template::Vars;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Expectations on the `WWW-Authenticate` challenges of a response.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeExpect {
    /// Auth-scheme to look for, matched case-insensitively (default `bearer`).
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// Parameters that a challenge of that scheme carries, non-empty.
    #[serde(default)]
    pub has: Vec<String>,
    /// Parameters that no challenge of that scheme carries.
    #[serde(default)]
    pub lacks: Vec<String>,
    /// Parameters with exact values (templates).
    #[serde(default)]
    pub equals: BTreeMap<String, String>,
    /// Parameters whose value, where present, is an absolute `https` URL without a fragment.
    #[serde(default)]
    pub https_url: Vec<String>,
}

fn default_scheme() -> String {
    "bearer".into()
}

/// An absolute `https` URL without a fragment.
pub fn is_https_url(s: &str) -> bool {
    url::Url::parse(s)
        .is_ok_and(|u| u.scheme() == "https" && u.fragment().is_none() && u.host().is_some())
}

impl Expectation for ChallengeExpect {
    fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
        for v in self.equals.values() {
            cx.template("equals", v)?;
        }
        Ok(())
    }

    fn judge_step(&self, view: &View<'_>, vars: &Vars) -> Result<(), Fail> {
        let r = response(view)?;
        let all = r.challenges();
        let fields: Vec<&str> = r.header_values("www-authenticate").collect();
        let shown = if fields.is_empty() {
            "no WWW-Authenticate field".to_string()
        } else {
            format!("WWW-Authenticate: {}", fields.join(" | "))
        };
        let matching: Vec<_> = all.iter().filter(|ch| ch.is(&self.scheme)).collect();
        if matching.is_empty() {
            return Err((
                format!("a `{}` challenge in WWW-Authenticate", self.scheme),
                format!("status {} ({shown})", r.status),
            ));
        }
        for p in &self.lacks {
            if let Some(v) = matching.iter().find_map(|ch| ch.param(p)) {
                return Err((
                    format!("no `{p}` parameter"),
                    format!("{p}=\"{v}\" ({shown})"),
                ));
            }
        }
        let mut wanted: Vec<(String, Option<String>)> =
            self.has.iter().map(|p| (p.clone(), None)).collect();
        for (k, v) in &self.equals {
            wanted.push((k.clone(), Some(expand(vars, v)?)));
        }
        // One challenge must satisfy everything asked of it.
        let ok = matching.iter().any(|ch| {
            wanted.iter().all(|(p, v)| match (ch.param(p), v) {
                (Some(got), Some(want)) => got == want,
                (Some(got), None) => !got.is_empty(),
                (None, _) => false,
            }) && self
                .https_url
                .iter()
                .all(|p| ch.param(p).is_none_or(is_https_url))
        });
        if !ok {
            return Err((self.describe(&wanted), shown));
        }
        Ok(())
    }
}

impl ChallengeExpect {
    fn describe(&self, wanted: &[(String, Option<String>)]) -> String {
        let mut expected: Vec<String> = self.has.iter().map(|p| format!("`{p}`")).collect();
        expected.extend(
            wanted
                .iter()
                .filter_map(|(p, v)| v.as_ref().map(|v| format!("{p}=\"{v}\""))),
        );
        expected.extend(
            self.https_url
                .iter()
                .map(|p| format!("`{p}` (if present) an absolute https URL without fragment")),
        );
        format!("a {} challenge with {}", self.scheme, expected.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_templates_are_checked() {
        let c: ChallengeExpect =
            toml::from_str("equals = { resource_metadata = \"{nope}\" }").unwrap();
        assert_eq!(
            c.validate(&ValidateCx::default()).unwrap_err().field,
            "equals"
        );
    }

    #[test]
    fn https_urls() {
        assert!(is_https_url("https://a.test/x"));
        assert!(!is_https_url("http://a.test/x"));
        assert!(!is_https_url("https://a.test/x#f"));
    }
}
