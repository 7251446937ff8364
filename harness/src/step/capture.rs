//! Captures: values a step's response yields for later steps and checks (`capture.NAME = { header = … }`).

use super::Record;
use crate::error::Invalid;
use crate::template::Vars;
use serde::Deserialize;

/// Where a captured value comes from. Exactly one field is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    /// A response header (first value).
    pub header: Option<String>,
    /// A JSON pointer into the response body (or a tool result's JSON text).
    pub json: Option<String>,
    /// A parameter of the response's Bearer challenge.
    pub challenge: Option<String>,
    /// With `header`: a query parameter of the header's URL (`header = "location", query = "code"`: the code
    /// an authorization server redirects with), or of its fragment when the query lacks it.
    pub query: Option<String>,
    /// The value is a credential (a key the target created): redacted as `[KEY:NAME]` from then on, and
    /// allowed only in the response of the step that captured it.
    #[serde(default)]
    pub secret: bool,
    /// The value changes from run to run (an ID the target assigned): shown as `[ID:NAME]` in transcripts.
    #[serde(default)]
    pub stable: bool,
    /// Only from responses with one of these statuses (e.g. `[201]`: what a step over a set of operations
    /// created).
    pub status: Option<Vec<u16>>,
}

impl Capture {
    /// Exactly one source.
    pub fn validate(&self) -> Result<(), Invalid> {
        let n = [
            self.header.is_some(),
            self.json.is_some(),
            self.challenge.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if n != 1 {
            return Err(Invalid::new(
                "",
                "give exactly one of `header`, `json`, `challenge`",
            ));
        }
        if self.query.is_some() && self.header.is_none() {
            return Err(Invalid::new("query", "`query` reads a URL in a `header`"));
        }
        Ok(())
    }

    /// Whether the value is an MCP session ID (a bearer-like handle, redacted by name).
    pub fn is_session_id(&self) -> bool {
        self.header
            .as_deref()
            .is_some_and(|h| h.eq_ignore_ascii_case("mcp-session-id"))
    }

    fn describe(&self) -> String {
        if let Some(h) = &self.header {
            format!("`{h}` header")
        } else if let Some(p) = &self.json {
            format!("JSON value at `{p}`")
        } else if let Some(p) = &self.challenge {
            format!("Bearer challenge parameter `{p}`")
        } else {
            "value".into()
        }
    }

    fn take(&self, record: &Record, vars: &Vars) -> Option<String> {
        let view = record.view();
        if let Some(want) = &self.status {
            let got = view.response.and_then(Result::ok).map(|r| r.status);
            if !got.is_some_and(|s| want.contains(&s)) {
                return None;
            }
        }
        if let Some(p) = &self.json {
            let v = view.json()?;
            let p = vars.expand(p).ok()?;
            return Some(match crate::expect::json::select(&v, &p)? {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        }
        let r = view.response?.ok()?;
        if let Some(h) = &self.header {
            let value = r.header(h)?;
            return match &self.query {
                Some(name) => url_param(value, name),
                None => Some(value.to_string()),
            };
        }
        if let Some(p) = &self.challenge {
            return r
                .challenges()
                .iter()
                .filter(|ch| ch.is("bearer"))
                .find_map(|ch| ch.param(p).map(str::to_string));
        }
        None
    }

    /// Sets `name` from `record`; a capture that finds nothing keeps a value an earlier step found, or records
    /// why it has none (`missing.NAME`) for the skip and failure reasons.
    pub fn apply(&self, name: &str, step: &str, record: &Record, vars: &mut Vars) {
        match self.take(record, vars) {
            Some(v) => vars.set(name, v),
            None if vars.get(name).is_some() => {}
            None => vars.set(
                format!("missing.{name}"),
                format!("step `{step}` yielded no {}", self.describe()),
            ),
        }
    }
}

/// Parameter `name` of the query (or else the fragment) of `url`, which may be relative.
fn url_param(url: &str, name: &str) -> Option<String> {
    let rest = url.split_once('?').map_or("", |(_, q)| q);
    let (query, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let fragment = if fragment.is_empty() {
        url.split_once('#').map_or("", |(_, f)| f)
    } else {
        fragment
    };
    [query, fragment].into_iter().find_map(|part| {
        url::form_urlencoded::parse(part.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_params_come_from_the_query_then_the_fragment() {
        let at = "http://127.0.0.1:9/cb?code=abc%2Fd&state=s1";
        assert_eq!(url_param(at, "code").as_deref(), Some("abc/d"));
        assert_eq!(url_param(at, "state").as_deref(), Some("s1"));
        assert_eq!(
            url_param("/cb#error=access_denied", "error").as_deref(),
            Some("access_denied")
        );
        assert_eq!(url_param("/cb?x=1", "code"), None);
    }

    #[test]
    fn exactly_one_source() {
        let none = Capture {
            header: None,
            json: None,
            challenge: None,
            query: None,
            secret: false,
            stable: false,
            status: None,
        };
        assert!(none.validate().is_err());
        let two = Capture {
            header: Some("a".into()),
            json: Some("/b".into()),
            challenge: None,
            query: None,
            secret: false,
            stable: false,
            status: None,
        };
        assert!(two.validate().is_err());
    }

    #[test]
    fn json_pointers_are_templates() {
        let record = Record::Http(crate::step::http::HttpRecord {
            request: crate::exchange::SentRequest {
                method: "POST".into(),
                url: "https://as.test/token".into(),
                headers: vec![],
                body: None,
                raw: false,
            },
            response: Ok(crate::exchange::Response {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: r#"{"access_token": "at-1", "api_key": "k-1"}"#.into(),
                body_cut: None,
            }),
        });
        let capture = Capture {
            header: None,
            json: Some("{rest.device_credential}".into()),
            challenge: None,
            query: None,
            secret: true,
            stable: false,
            status: None,
        };
        let mut vars = Vars::default();
        vars.set("rest.device_credential", "/access_token");
        capture.apply("device_key", "exchange", &record, &mut vars);
        assert_eq!(vars.get("device_key"), Some("at-1"));
        vars.set("rest.device_credential", "/missing");
        capture.apply("other_key", "exchange", &record, &mut vars);
        assert_eq!(vars.get("other_key"), None);
        assert!(vars.get("missing.other_key").is_some());
    }
}
