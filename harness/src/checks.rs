//! Evaluating a check's expectations against what the steps recorded.

use crate::exchange::{Response, StepRecord};
use crate::scenario::{
    ChallengeExpect, Check, Expect, HeaderExpect, JsonExpect, StatusPattern, UpstreamExpect,
};
use crate::template::Vars;
use authconform_mocks::JournalEntry;
use std::collections::BTreeMap;

/// Why a check did not hold: the first expectation that failed, and where.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Mismatch {
    /// The step whose response failed the expectation (None for journal expectations).
    pub step: Option<String>,
    /// What was expected.
    pub expected: String,
    /// What was observed.
    pub got: String,
}

/// Evaluates `check`; Ok when every expectation holds for every named step.
pub fn evaluate(
    check: &Check,
    records: &BTreeMap<String, StepRecord>,
    vars: &Vars,
    journal: &[JournalEntry],
) -> Result<(), Mismatch> {
    let mut first_mismatch = None;
    let mut judged = 0;
    for step in &check.steps {
        if let Some(when) = &check.when_status {
            // Only responses with one of these statuses are judged; steps without a response are not.
            let Some(r) = records.get(step).and_then(StepRecord::response) else {
                continue;
            };
            if !when.iter().any(|p| p.matches(r.status)) {
                continue;
            }
        }
        judged += 1;
        match step_holds(check, step, records, vars) {
            Ok(()) if check.any => {
                first_mismatch = None;
                break;
            }
            Ok(()) => {}
            Err(m) if check.any => {
                first_mismatch.get_or_insert(m);
            }
            Err(m) => return Err(m),
        }
    }
    if let Some(m) = first_mismatch {
        return Err(m);
    }
    if judged == 0 && !check.steps.is_empty() {
        let when = check.when_status.as_deref().map(list).unwrap_or_default();
        return Err(Mismatch {
            step: check.steps.first().cloned(),
            expected: format!("at least one of the steps answered with status {when}"),
            got: "none did".into(),
        });
    }
    if let Some(u) = &check.expect.upstream {
        upstream(u, vars, journal).map_err(|(expected, got)| Mismatch {
            step: None,
            expected,
            got,
        })?;
    }
    Ok(())
}

fn step_holds(
    check: &Check,
    step: &str,
    records: &BTreeMap<String, StepRecord>,
    vars: &Vars,
) -> Result<(), Mismatch> {
    {
        let mm = |expected: String, got: String| Mismatch {
            step: Some(step.to_string()),
            expected,
            got,
        };
        let Some(record) = records.get(step) else {
            return Err(mm(
                "the step to run".into(),
                "it did not run (scenario stopped early)".into(),
            ));
        };
        match record {
            StepRecord::NotRun { reason } => {
                return Err(mm("the step to run".into(), format!("not run: {reason}")));
            }
            StepRecord::Http {
                response: Err(e), ..
            } => {
                return Err(mm("an HTTP response".into(), format!("none: {e}")));
            }
            StepRecord::Http {
                response: Ok(r), ..
            } => {
                response_expectations(&check.expect, r, vars).map_err(|(e, g)| mm(e, g))?;
            }
            StepRecord::Mcp { result, .. } => {
                if let Some(want_ok) = check.expect.mcp_ok {
                    match (result, want_ok) {
                        (Ok(s), true) => {
                            if let Some(Err(e)) = &s.call {
                                return Err(mm("the tool call to succeed".into(), e.clone()));
                            }
                        }
                        (Err(e), true) => {
                            return Err(mm("an MCP session to succeed".into(), e.clone()));
                        }
                        (Ok(_), false) => {
                            return Err(mm(
                                "the MCP session to be refused".into(),
                                "it succeeded".into(),
                            ));
                        }
                        (Err(_), false) => {}
                    }
                }
                if check.expect.status.is_some()
                    || check.expect.challenge.is_some()
                    || !check.expect.json.is_empty()
                {
                    return Err(mm(
                        "an HTTP response".into(),
                        "an MCP client step has no single response".into(),
                    ));
                }
            }
        }
    }
    Ok(())
}

type Fail = (String, String);

fn list(p: &[StatusPattern]) -> String {
    p.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}

fn response_expectations(e: &Expect, r: &Response, vars: &Vars) -> Result<(), Fail> {
    if let Some(want) = &e.status
        && !want.iter().any(|p| p.matches(r.status))
    {
        return Err((format!("status {}", list(want)), status_line(r)));
    }
    if let Some(not) = &e.status_not
        && not.iter().any(|p| p.matches(r.status))
    {
        return Err((format!("status other than {}", list(not)), status_line(r)));
    }
    if let Some(c) = &e.challenge {
        challenge(c, r, vars)?;
    }
    for h in &e.header {
        header(h, r, vars)?;
    }
    if !e.json.is_empty() {
        let doc = r.json().ok_or_else(|| {
            (
                "a JSON body".to_string(),
                format!("{}: {}", status_line(r), snippet(&r.body)),
            )
        })?;
        for j in &e.json {
            json(j, &doc, vars)?;
        }
    }
    Ok(())
}

fn status_line(r: &Response) -> String {
    format!("status {}", r.status)
}

fn snippet(s: &str) -> String {
    let s = s.trim();
    if s.is_empty() {
        return "(empty body)".into();
    }
    let cut: String = s.chars().take(160).collect();
    if cut.len() < s.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

fn expand(vars: &Vars, t: &str) -> Result<String, Fail> {
    vars.expand(t)
        .map_err(|e| ("a value to compare with".into(), e.to_string()))
}

fn challenge(c: &ChallengeExpect, r: &Response, vars: &Vars) -> Result<(), Fail> {
    let all = r.challenges();
    let fields: Vec<&str> = r.header_values("www-authenticate").collect();
    let shown = if fields.is_empty() {
        "no WWW-Authenticate field".to_string()
    } else {
        format!("WWW-Authenticate: {}", fields.join(" | "))
    };
    let matching: Vec<_> = all.iter().filter(|ch| ch.is(&c.scheme)).collect();
    if matching.is_empty() {
        return Err((
            format!("a `{}` challenge in WWW-Authenticate", c.scheme),
            format!("{} ({shown})", status_line(r)),
        ));
    }
    for p in &c.lacks {
        if let Some(v) = matching.iter().find_map(|ch| ch.param(p)) {
            return Err((
                format!("no `{p}` parameter"),
                format!("{p}=\"{v}\" ({shown})"),
            ));
        }
    }
    let mut wanted: Vec<(String, Option<String>)> =
        c.has.iter().map(|p| (p.clone(), None)).collect();
    for (k, v) in &c.equals {
        wanted.push((k.clone(), Some(expand(vars, v)?)));
    }
    // One challenge must satisfy everything asked of it.
    let ok = matching.iter().any(|ch| {
        wanted.iter().all(|(p, v)| match (ch.param(p), v) {
            (Some(got), Some(want)) => got == want,
            (Some(got), None) => !got.is_empty(),
            (None, _) => false,
        }) && c
            .https_url
            .iter()
            .all(|p| ch.param(p).is_none_or(is_https_url))
    });
    if !ok {
        let mut expected: Vec<String> = c.has.iter().map(|p| format!("`{p}`")).collect();
        expected.extend(
            wanted
                .iter()
                .filter_map(|(p, v)| v.as_ref().map(|v| format!("{p}=\"{v}\""))),
        );
        expected.extend(
            c.https_url
                .iter()
                .map(|p| format!("`{p}` (if present) an absolute https URL without fragment")),
        );
        return Err((
            format!("a {} challenge with {}", c.scheme, expected.join(", ")),
            shown,
        ));
    }
    Ok(())
}

/// An absolute `https` URL without a fragment.
pub fn is_https_url(s: &str) -> bool {
    url::Url::parse(s)
        .is_ok_and(|u| u.scheme() == "https" && u.fragment().is_none() && u.host().is_some())
}

fn header(h: &HeaderExpect, r: &Response, vars: &Vars) -> Result<(), Fail> {
    let got = r.header(&h.name);
    let shown = got
        .map(|g| format!("{}: {g}", h.name))
        .unwrap_or_else(|| format!("no `{}` header", h.name));
    if let Some(prefix) = &h.starts_with
        && !got.is_some_and(|g| {
            g.to_ascii_lowercase()
                .starts_with(&prefix.to_ascii_lowercase())
        })
    {
        return Err((format!("{}: {prefix}…", h.name), shown));
    }
    if let Some(want) = &h.equals {
        let want = expand(vars, want)?;
        if got != Some(want.as_str()) {
            return Err((format!("{}: {want}", h.name), shown));
        }
    }
    if h.starts_with.is_none() && h.equals.is_none() && got.is_none() {
        return Err((format!("a `{}` header", h.name), shown));
    }
    Ok(())
}

fn json(j: &JsonExpect, doc: &serde_json::Value, vars: &Vars) -> Result<(), Fail> {
    let at = if j.pointer.is_empty() {
        "the document".to_string()
    } else {
        format!("`{}`", j.pointer)
    };
    let Some(v) = doc.pointer(&j.pointer) else {
        return Err((format!("a value at {at}"), "absent".into()));
    };
    let compact = |v: &serde_json::Value| snippet(&v.to_string());
    if let Some(want) = &j.equals {
        let want = expand(vars, want)?;
        if v.as_str() != Some(want.as_str()) {
            return Err((format!("{at} = \"{want}\""), compact(v)));
        }
    }
    if let Some(want) = j.equals_bool
        && v.as_bool() != Some(want)
    {
        return Err((format!("{at} = {want}"), compact(v)));
    }
    if j.non_empty_array == Some(true) && v.as_array().is_none_or(|a| a.is_empty()) {
        return Err((format!("{at} a non-empty array"), compact(v)));
    }
    if j.is_object == Some(true) && !v.is_object() {
        return Err((format!("{at} a JSON object"), compact(v)));
    }
    if let Some(want) = &j.contains {
        let want = expand(vars, want)?;
        if !v
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(want.as_str())))
        {
            return Err((format!("{at} containing \"{want}\""), compact(v)));
        }
    }
    if j.no_empty_members == Some(true) {
        let Some(obj) = v.as_object() else {
            return Err((format!("{at} a JSON object"), compact(v)));
        };
        let empty: Vec<&String> = obj
            .iter()
            .filter(|(_, m)| match m {
                serde_json::Value::Null => true,
                serde_json::Value::String(s) => s.is_empty(),
                serde_json::Value::Array(a) => a.is_empty(),
                serde_json::Value::Object(o) => o.is_empty(),
                _ => false,
            })
            .map(|(k, _)| k)
            .collect();
        if !empty.is_empty() {
            return Err((
                "no members with zero values (RFC 9728 §3.2)".into(),
                format!(
                    "empty: {}",
                    empty
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn upstream(u: &UpstreamExpect, vars: &Vars, journal: &[JournalEntry]) -> Result<(), Fail> {
    if journal.len() < u.min_requests {
        return Err((
            format!(
                "at least {} request(s) at the mock upstream",
                u.min_requests
            ),
            format!("{} request(s)", journal.len()),
        ));
    }
    if let Some(n) = u.requests
        && journal.len() != n
    {
        return Err((
            format!("exactly {n} request(s) at the mock upstream"),
            format!("{} request(s)", journal.len()),
        ));
    }
    for (name, value) in &u.header {
        let want = expand(vars, value)?;
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
    }
    for t in &u.never_contains {
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
    Ok(())
}
