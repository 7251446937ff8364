//! The global secret check, run over every scenario of every profile: no credential the harness knows (the
//! target file's keys and credentials, minted tokens, keys created during the run, and the values derived
//! from keys) appears in a response, a header, a program's output or log, except where the protocol returns
//! it (the response that created a key, what a step's `may_show` names). A failure names the step and the
//! placeholder, never the secret.

use super::judge::Evidence;
use crate::redact::Redactor;
use crate::report::{CheckResult, Mismatch, Outcome};
use crate::requirements::Level;

/// The requirement the global check reports under: presented credentials are never echoed.
pub const REQUIREMENT: &str = "HYG-004";

/// What the global check asserts, as the report shows it.
pub const WHAT: &str = "global: no credential the harness knows appears in any response, header, output or log \
                        where the protocol does not return it";

/// At most this many leaks are listed in one failure.
const MAX_LISTED: usize = 5;

/// Judges the global secret check over every step of `ev`; `revealed` pairs a secret with a step allowed to
/// show it; `public` values (publishable keys) are not secrets.
pub fn check(
    ev: &Evidence<'_>,
    redactor: &Redactor,
    revealed: &[(String, String)],
    public: &[String],
) -> CheckResult {
    let leaks = leaks(ev, redactor, revealed, public);
    let mut result = CheckResult {
        requirement: REQUIREMENT.into(),
        // A live credential reaching output is a disclosure, not the catalog's SHOULD about echoing garbage:
        // held to MUST (README, "The global secret check").
        level: Level::Must,
        what: WHAT.into(),
        outcome: Outcome::Pass,
        mismatch: None,
        request: None,
        skip_reason: None,
    };
    if let Some((step, _)) = leaks.first() {
        let listed: Vec<String> = leaks
            .iter()
            .take(MAX_LISTED)
            .map(|(step, what)| format!("step `{step}`: {what}"))
            .collect();
        let more = leaks.len().saturating_sub(MAX_LISTED);
        result.outcome = Outcome::Fail;
        result.mismatch = Some(Mismatch {
            step: Some(step.clone()),
            expected: "no known credential in any response, header or output".into(),
            got: format!(
                "{}{}",
                listed.join("; "),
                if more > 0 {
                    format!("; and {more} more")
                } else {
                    String::new()
                }
            ),
        });
    }
    result
}

/// Every (step, "PLACE contains PLACEHOLDER") found.
fn leaks(
    ev: &Evidence<'_>,
    redactor: &Redactor,
    revealed: &[(String, String)],
    public: &[String],
) -> Vec<(String, String)> {
    let secrets: Vec<&(String, String)> = redactor
        .pairs()
        .iter()
        .filter(|(_, p)| p.starts_with("[KEY:") || p.starts_with("[TOKEN:"))
        .filter(|(s, _)| !public.iter().any(|p| p.contains(s.as_str())))
        .collect();
    let mut out = Vec::new();
    for (step, record) in ev.records {
        let allowed = |secret: &str| {
            revealed
                .iter()
                .any(|(v, s)| s == step && (v == secret || v.contains(secret)))
        };
        for (place, text) in places(record) {
            // Longest first: a derived value inside a key already found is not listed again.
            let mut found: Vec<&str> = Vec::new();
            for (secret, placeholder) in &secrets {
                if text.contains(secret.as_str())
                    && !found.iter().any(|f| f.contains(secret.as_str()))
                {
                    found.push(secret);
                    if !allowed(secret) {
                        out.push((step.clone(), format!("the {place} contains {placeholder}")));
                    }
                }
            }
        }
    }
    out
}

/// The texts of a record the target produced: response headers, bodies, outputs and logs.
fn places(record: &crate::step::Record) -> Vec<(String, String)> {
    let view = record.view();
    let mut out: Vec<(String, String)> = view
        .outputs
        .iter()
        .map(|(name, text)| (name_of(name), text.to_string()))
        .collect();
    if let Some(Ok(r)) = view.response {
        for (n, v) in &r.headers {
            out.push((format!("response header `{n}`"), v.clone()));
        }
    }
    out
}

fn name_of(output: &str) -> String {
    match output {
        "body" => "response body".into(),
        "stdout" | "stderr" => format!("program's {output}"),
        other => format!("{other} output"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Response, SentRequest};
    use crate::expect::RunView;
    use crate::step::Record;
    use crate::step::http::HttpRecord;
    use std::collections::BTreeMap;

    fn http(body: &str, header: &str) -> Record {
        Record::Http(HttpRecord {
            request: SentRequest {
                method: "GET".into(),
                url: "https://t/x".into(),
                headers: vec![],
                body: None,
                raw: false,
            },
            response: Ok(Response {
                status: 401,
                headers: vec![("x-echo".into(), header.into())],
                body: body.into(),
                body_cut: None,
            }),
        })
    }

    fn judge(records: &[(String, Record)], revealed: &[(String, String)]) -> CheckResult {
        let mut r = Redactor::default();
        r.add("sk_live_secret_1", "[KEY:dev]");
        r.add("session-handle-1", "[SESSION:1]");
        r.add("pk_public_value_1", "[KEY:pk]");
        let journal = Vec::new();
        let groups = BTreeMap::new();
        let vars = crate::template::Vars::default();
        let ev = Evidence {
            records,
            vars: &vars,
            run: RunView { journal: &journal },
            exited: None,
            groups: &groups,
        };
        check(&ev, &r, revealed, &["pk_public_value_1".to_string()])
    }

    #[test]
    fn a_key_in_a_body_or_header_fails_naming_step_and_placeholder() {
        let recs = vec![
            ("clean".to_string(), http("{}", "x")),
            ("echo".to_string(), http("bad key sk_live_secret_1", "x")),
            ("hdr".to_string(), http("{}", "sk_live_secret_1")),
        ];
        let c = judge(&recs, &[]);
        assert_eq!(c.outcome, Outcome::Fail);
        let m = c.mismatch.unwrap();
        assert_eq!(m.step.as_deref(), Some("echo"));
        assert!(
            m.got
                .contains("step `echo`: the response body contains [KEY:dev]"),
            "{}",
            m.got
        );
        assert!(
            m.got
                .contains("step `hdr`: the response header `x-echo` contains [KEY:dev]")
        );
        assert!(!m.got.contains("sk_live"), "never the secret");
    }

    #[test]
    fn allowed_where_revealed_and_sessions_are_not_credentials() {
        let recs = vec![
            (
                "create".to_string(),
                http("{\"key\": \"sk_live_secret_1\"}", "x"),
            ),
            ("s".to_string(), http("session-handle-1", "x")),
            ("p".to_string(), http("pk_public_value_1", "x")),
        ];
        let ok = judge(&recs, &[("sk_live_secret_1".into(), "create".into())]);
        assert_eq!(ok.outcome, Outcome::Pass);
        let elsewhere = judge(&recs, &[("sk_live_secret_1".into(), "other".into())]);
        assert_eq!(elsewhere.outcome, Outcome::Fail);
    }
}
