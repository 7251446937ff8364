//! Transcripts: what a scenario exchanged, as stable, redacted text that snapshots are diffed against.
//!
//! Normalisation: secrets → `[TOKEN:name]`/`[KEY:name]`/`[SESSION:name]` (the scenario's redactor), loopback
//! ports → `[PORT:target]`/`[PORT:issuer]`/…, `Date`/`Last-Modified`/`Expires` → `[DATE]`, `ETag` → `[ETAG]`, framing headers (`content-length`,
//! `transfer-encoding`) dropped, headers sorted by name (duplicates keep their order), JSON bodies re-rendered
//! with sorted keys, bodies cut at [`MAX_TEXT`] characters.

use crate::exchange::Response;
use crate::redact::Redactor;
use crate::report::CheckResult;
use crate::step::Record;
use std::fmt::Write as _;

/// Longest body kept in a transcript, in characters.
pub const MAX_TEXT: usize = 4000;

/// Replaces run-specific values (ports, RFC 3339 timestamps, the target's volatile JSON members) by stable
/// placeholders.
#[derive(Debug, Clone, Default)]
pub struct Normalizer {
    pairs: Vec<(String, String)>,
    volatile: Vec<String>,
}

/// An RFC 3339 date-time (`2026-11-29T18:46:29.123Z`, `…+01:00`).
static TIMESTAMP: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")
        .expect("valid pattern")
});

/// JSON members that hold a time in seconds by their specification (RFC 7591 §3.2.1), volatile everywhere.
const TIMESTAMP_MEMBERS: &[&str] = &["client_id_issued_at", "client_secret_expires_at"];

impl Normalizer {
    /// Registers the port of `url` under `name`: `127.0.0.1:PORT` → `127.0.0.1:[PORT:name]`, also
    /// percent-encoded (`127.0.0.1%3APORT`, as in a redirect's `iss` or a `resource` parameter).
    pub fn port(&mut self, url: &str, name: &str) {
        if let Some(port) = url::Url::parse(url).ok().and_then(|u| u.port()) {
            for host in ["127.0.0.1", "localhost", "LOCALHOST", "[::1]"] {
                self.pairs
                    .push((format!("{host}:{port}"), format!("{host}:[PORT:{name}]")));
                self.pairs.push((
                    format!("{host}%3A{port}"),
                    format!("{host}%3A[PORT:{name}]"),
                ));
            }
        }
    }

    /// Declares JSON members whose values differ from run to run (`"prefix"`, `"created"`): shown as
    /// `"[VOLATILE]"` in `"member": value` pairs.
    pub fn volatile(&mut self, members: &[String]) {
        self.volatile.extend(members.iter().cloned());
    }

    /// `text` with every registered value replaced.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (from, to) in &self.pairs {
            if out.contains(from.as_str()) {
                out = out.replace(from.as_str(), to);
            }
        }
        let timestamps = TIMESTAMP_MEMBERS.iter().map(|m| m.to_string());
        for m in self.volatile.iter().cloned().chain(timestamps) {
            let re = regex::Regex::new(&format!(
                r#""{}":("(\\.|[^"\\])*"|[^,}}\]]*)"#,
                regex::escape(&m)
            ));
            if let Ok(re) = re {
                out = re
                    .replace_all(&out, format!(r#""{m}":"[VOLATILE]""#).as_str())
                    .into_owned();
            }
        }
        TIMESTAMP.replace_all(&out, "[TIME]").into_owned()
    }
}

/// Renders a scenario's steps and check outcomes as transcript text.
pub fn render(
    steps: &[(String, Record)],
    checks: &[CheckResult],
    redactor: &Redactor,
    norm: &Normalizer,
) -> String {
    let mut out = String::new();
    for (name, record) in steps {
        let _ = writeln!(out, "## step {name}");
        record.render(&mut out);
        out.push('\n');
    }
    let _ = writeln!(out, "## checks");
    for c in checks {
        let _ = writeln!(
            out,
            "{:<4} {} {} {}",
            format!("{:?}", c.outcome).to_uppercase(),
            c.requirement,
            c.level,
            c.what
        );
    }
    norm.apply(&redactor.redact(&out))
}

/// A response as transcript lines (`< …`).
pub fn response_text(out: &mut String, r: &Response) {
    let _ = writeln!(out, "< {}", r.status);
    let mut headers: Vec<(String, String)> = r
        .headers
        .iter()
        .filter(|(n, _)| n != "content-length" && n != "transfer-encoding")
        .map(|(n, v)| {
            let v = match n.as_str() {
                "date" | "last-modified" | "expires" => "[DATE]".to_string(),
                // Servers derive entity tags from bodies that hold ports and ids (Express does).
                "etag" => "[ETAG]".to_string(),
                _ => v.clone(),
            };
            (n.clone(), v)
        })
        .collect();
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    for (n, v) in headers {
        let _ = writeln!(out, "< {n}: {v}");
    }
    if !r.body.is_empty() {
        let _ = writeln!(out, "<");
        for line in body_text(&r.body).lines() {
            let _ = writeln!(out, "< {line}");
        }
    }
    if let Some(c) = &r.body_cut {
        let _ = writeln!(out, "< (body cut: {c})");
    }
}

/// A body as stable text: JSON with sorted keys, SSE with each `data:` JSON sorted, anything else as is.
pub fn body_text(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        return sorted(&v).to_string();
    }
    if body.lines().any(|l| l.starts_with("data:")) {
        return body
            .lines()
            .map(|l| match l.strip_prefix("data:") {
                Some(d) => match serde_json::from_str::<serde_json::Value>(d.trim()) {
                    Ok(v) => format!("data: {}", sorted(&v)),
                    Err(_) => l.to_string(),
                },
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
    }
    cut(body)
}

/// `s`, cut at [`MAX_TEXT`] characters.
pub fn cut(s: &str) -> String {
    if s.chars().count() <= MAX_TEXT {
        s.to_string()
    } else {
        format!(
            "{}… (cut at {MAX_TEXT} characters)",
            s.chars().take(MAX_TEXT).collect::<String>()
        )
    }
}

/// A JSON value with object keys in sorted order, whatever map type serde_json was built with.
pub fn sorted(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::new();
            for k in keys {
                out.insert(k.clone(), sorted(&m[k]));
            }
            serde_json::Value::Object(out)
        }
        serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_stable() {
        assert_eq!(
            body_text(r#"{"b":1,"a":{"d":2,"c":3}}"#),
            r#"{"a":{"c":3,"d":2},"b":1}"#
        );
        assert_eq!(
            body_text("data: \nid: 0\n\ndata: {\"z\":1,\"y\":2}\n"),
            "data: \nid: 0\n\ndata: {\"y\":2,\"z\":1}"
        );
        assert_eq!(body_text("plain"), "plain");
    }

    #[test]
    fn run_dependent_headers_are_placeholders() {
        let r = Response {
            status: 200,
            headers: vec![
                ("etag".into(), "W/\"bf-+e9TO3+FVnrtijQb0lFadYfguC8\"".into()),
                ("date".into(), "Mon, 23 Nov 2026 10:00:00 GMT".into()),
                ("content-length".into(), "12".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: String::new(),
            body_cut: None,
        };
        let mut out = String::new();
        response_text(&mut out, &r);
        assert_eq!(
            out,
            "< 200\n< content-type: application/json\n< date: [DATE]\n< etag: [ETAG]\n"
        );
    }

    #[test]
    fn timestamps_and_volatile_members_are_placeholders() {
        let mut n = Normalizer::default();
        n.volatile(&["prefix".to_string()]);
        assert_eq!(
            n.apply(r#"{"created":"2026-11-29T18:46:29.123Z","prefix":"Ab\"c1","n":1} at 2026-11-29 18:46:29+01:00"#),
            r#"{"created":"[TIME]","prefix":"[VOLATILE]","n":1} at [TIME]"#
        );
        let mut m = Normalizer::default();
        m.volatile(&["n".to_string()]);
        assert_eq!(m.apply(r#"{"n":12,"x":2}"#), r#"{"n":"[VOLATILE]","x":2}"#);
    }

    #[test]
    fn ports_are_named() {
        let mut n = Normalizer::default();
        n.port("https://127.0.0.1:4321/mcp", "target");
        assert_eq!(
            n.apply("GET https://127.0.0.1:4321/x"),
            "GET https://127.0.0.1:[PORT:target]/x"
        );
    }
}
