//! `upstream`: what the mock upstream API received during the scenario (its journal).

use super::{Expectation, Fail, RunView, Scope, expand};
use crate::error::Invalid;
use crate::step::ValidateCx;
use crate::template::Vars;
use authconform_mocks::JournalEntry;
use serde::Deserialize;

/// Header names that carry credentials.
pub const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "x-access-token",
];

/// Expectations on the mock upstream API's journal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamExpect {
    /// At least this many requests arrived (so a "never" below is not vacuous).
    #[serde(default)]
    pub min_requests: usize,
    /// Exactly this many requests arrived.
    pub requests: Option<usize>,
    /// Every request carried these headers with exactly these values (names and values are templates, e.g.
    /// `["{upstream_key_header}", "{principal.narrow.key}"]`).
    #[serde(default)]
    pub header: Vec<(String, String)>,
    /// No header value of any request contains any of these (templates, e.g. `{token.valid}`).
    #[serde(default)]
    pub never_contains: Vec<String>,
    /// No request carried a credential header (Authorization, Cookie, X-API-Key, …) other than those in
    /// `header`, and none carried one of those twice.
    #[serde(default)]
    pub no_other_credentials: bool,
}

impl Expectation for UpstreamExpect {
    fn scope(&self) -> Scope {
        Scope::Run
    }

    fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
        for (n, v) in &self.header {
            cx.template("header", n)?;
            cx.template("header", v)?;
        }
        for v in &self.never_contains {
            cx.template("never_contains", v)?;
        }
        let vacuous = !self.never_contains.is_empty() || self.no_other_credentials;
        if self.min_requests == 0 && self.requests.is_none_or(|n| n == 0) && vacuous {
            return Err(Invalid::new(
                "min_requests",
                "`never_contains` and `no_other_credentials` need `min_requests` ≥ 1, or they pass when nothing arrived",
            ));
        }
        if self.no_other_credentials && self.header.is_empty() {
            return Err(Invalid::new(
                "no_other_credentials",
                "name the one credential header expected in `header`",
            ));
        }
        Ok(())
    }

    fn judge_run(&self, run: &RunView<'_>, vars: &Vars) -> Result<(), Fail> {
        let journal = run.journal;
        if journal.len() < self.min_requests {
            return Err((
                format!(
                    "at least {} request(s) at the mock upstream",
                    self.min_requests
                ),
                format!("{} request(s)", journal.len()),
            ));
        }
        if let Some(n) = self.requests
            && journal.len() != n
        {
            return Err((
                format!("exactly {n} request(s) at the mock upstream"),
                format!("{} request(s)", journal.len()),
            ));
        }
        for (name, value) in &self.header {
            carried(journal, name, value, vars)?;
        }
        for t in &self.never_contains {
            let needle = expand(vars, t)?;
            for e in journal {
                if let Some((name, _)) = e.headers.iter().find(|(_, v)| v.contains(&needle)) {
                    return Err((
                        format!("no upstream request carrying {t}"),
                        format!("{} {} carried it in `{name}`", e.method, e.path),
                    ));
                }
            }
        }
        if self.no_other_credentials {
            let mut names = Vec::new();
            for (n, _) in &self.header {
                names.push(expand(vars, n)?);
            }
            only_expected_credentials(journal, &names)?;
        }
        Ok(())
    }
}

fn carried(journal: &[JournalEntry], name: &str, value: &str, vars: &Vars) -> Result<(), Fail> {
    let want = expand(vars, value)?;
    let name = &expand(vars, name)?;
    if let Some(e) = journal.iter().find(|e| {
        !e.headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case(name) && *v == want)
    }) {
        let got = e
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        return Err((
            format!("every upstream request carrying `{name}: {value}`"),
            format!(
                "{} {} carried {}",
                e.method,
                e.path,
                got.map(|v| format!("`{name}: {v}`"))
                    .unwrap_or_else(|| format!("no `{name}`"))
            ),
        ));
    }
    Ok(())
}

/// No credential header other than `names`, and none of those twice.
fn only_expected_credentials(journal: &[JournalEntry], names: &[String]) -> Result<(), Fail> {
    let allowed = |n: &str| names.iter().any(|h| h.eq_ignore_ascii_case(n));
    for e in journal {
        for c in CREDENTIAL_HEADERS {
            let n = e.header_values(c).len();
            if (n > 0 && !allowed(c)) || n > 1 {
                return Err((
                    format!("no credential besides {}", names.join(", ")),
                    format!("{} {} carried `{c}` {n} time(s)", e.method, e.path),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(headers: &[(&str, &str)]) -> JournalEntry {
        JournalEntry {
            method: "GET".into(),
            path: "/projects".into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            query: None,
            body: String::new(),
            at: std::time::SystemTime::now(),
            rule: None,
        }
    }

    fn only_key() -> UpstreamExpect {
        UpstreamExpect {
            min_requests: 1,
            requests: None,
            header: vec![("X-API-Key".into(), "{key.p}".into())],
            never_contains: vec![],
            no_other_credentials: true,
        }
    }

    #[test]
    fn other_credentials_and_duplicates_fail() {
        let mut vars = Vars::default();
        vars.set("key.p", "k1");
        let run = |j: &[JournalEntry]| only_key().judge_run(&RunView { journal: j }, &vars);
        assert!(run(&[entry(&[("x-api-key", "k1")])]).is_ok());
        assert!(run(&[entry(&[("x-api-key", "k1"), ("authorization", "Bearer t")])]).is_err());
        assert!(run(&[entry(&[("x-api-key", "k1"), ("x-api-key", "k2")])]).is_err());
        assert!(
            run(&[entry(&[("x-api-key", "k2")])]).is_err(),
            "another key"
        );
        assert!(run(&[]).is_err(), "nothing arrived");
    }

    #[test]
    fn vacuous_forms_are_refused() {
        let cx = ValidateCx::default();
        let mut e = only_key();
        e.min_requests = 0;
        assert_eq!(e.validate(&cx).unwrap_err().field, "min_requests");
        let mut e = only_key();
        e.header.clear();
        assert_eq!(e.validate(&cx).unwrap_err().field, "no_other_credentials");
    }
}
