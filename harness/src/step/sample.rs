//! `sample` steps: the same HTTP request (or REST operation) sent several times, collecting one response
//! header's values or one JSON member's (e.g. thirty `Mcp-Session-Id`s for HYG-009, fifty device codes for
//! DEV-S-009). The values are judged (`samples` expectation) but never shown: they are bearer-like handles and
//! differ from run to run.

use super::http::{HttpStep, build_request};
use super::rest::RestStep;
use super::{Kind, Recorded, StepCx, ValidateCx, View};
use crate::error::Invalid;
use crate::exchange::{Response, SentRequest};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Most requests one sample step may send.
const MAX_COUNT: u32 = 200;

/// A request repeated `count` times, and the header collected from each response.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleStep {
    /// The request (as an `http` step).
    pub request: Option<HttpStep>,
    /// Or a REST operation (as a `rest` step).
    pub rest: Option<RestStep>,
    /// How many times to send it.
    pub count: u32,
    /// The response header whose values are collected.
    pub header: Option<String>,
    /// Or the JSON member (a pointer, template) whose values are collected; numbers are collected as text.
    pub json: Option<String>,
}

impl SampleStep {
    /// What is collected, for the record.
    fn collected(&self) -> String {
        match (&self.header, &self.json) {
            (Some(h), _) => h.clone(),
            (None, Some(p)) => format!("json {p}"),
            (None, None) => String::new(),
        }
    }

    fn build(&self, cx: &StepCx<'_>) -> Result<SentRequest, String> {
        match (&self.request, &self.rest) {
            (Some(h), _) => build_request(h, cx.vars).map_err(|e| super::why_missing(cx.vars, &e)),
            (None, Some(r)) => r.build(cx.vars, cx.target).map(|(_, req)| req),
            (None, None) => Err("no request".into()),
        }
    }

    /// The value a response yields, if any.
    fn value(&self, r: &Response, cx: &StepCx<'_>) -> Option<String> {
        if let Some(h) = &self.header {
            return r.header(h).map(str::to_string);
        }
        let pointer = super::expand(cx.vars, self.json.as_deref()?).ok()?;
        match r.json()?.pointer(&pointer)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

/// What a sample step saw.
#[derive(Debug, Clone, Serialize)]
pub struct SampleRecord {
    /// The request line (method and URL).
    pub request: String,
    /// How many responses had each status (`"no response"` for failures).
    pub statuses: BTreeMap<String, u32>,
    /// The header collected.
    pub header: String,
    /// Its values, in order (never rendered or serialised).
    #[serde(skip)]
    pub values: Vec<String>,
}

impl Kind for SampleStep {
    type Record = SampleRecord;

    fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
        match (&self.request, &self.rest) {
            (Some(h), None) => h.validate(cx).map_err(|e| e.under("request"))?,
            (None, Some(r)) => r.validate(cx).map_err(|e| e.under("rest"))?,
            _ => {
                return Err(Invalid::new(
                    "request",
                    "give exactly one of `request` or `rest`",
                ));
            }
        }
        if self.count == 0 || self.count > MAX_COUNT {
            return Err(Invalid::new("count", format!("between 1 and {MAX_COUNT}")));
        }
        match (&self.header, &self.json) {
            (Some(h), None) if !h.is_empty() => Ok(()),
            (None, Some(p)) => cx.template("json", p),
            _ => Err(Invalid::new(
                "header",
                "name one header, or one `json` pointer, to collect",
            )),
        }
    }

    fn surface(&self) -> Option<&'static str> {
        match (&self.request, &self.rest) {
            (Some(h), _) => h.surface(),
            (None, Some(r)) => r.surface(),
            (None, None) => None,
        }
    }

    async fn run(&self, cx: &StepCx<'_>) -> Result<SampleRecord, String> {
        let request = self.build(cx)?;
        let mut rec = SampleRecord {
            request: format!("{} {}", request.method, request.url),
            statuses: BTreeMap::new(),
            header: self.collected(),
            values: Vec::new(),
        };
        for _ in 0..self.count {
            let label = match cx.client.send(&request, cx.timeout).await {
                Ok(r) => {
                    rec.values.extend(self.value(&r, cx));
                    r.status.to_string()
                }
                Err(_) => "no response".to_string(),
            };
            *rec.statuses.entry(label).or_default() += 1;
        }
        Ok(rec)
    }
}

impl Recorded for SampleRecord {
    fn view(&self) -> View<'_> {
        View {
            samples: Some(&self.values),
            ..View::default()
        }
    }

    fn request_line(&self) -> String {
        format!("{} (repeated; `{}` collected)", self.request, self.header)
    }

    fn render(&self, out: &mut String) {
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(s, n)| format!("{s} x{n}"))
            .collect();
        let _ = writeln!(out, "> {} (repeated)", self.request);
        let _ = writeln!(out, "< {}", statuses.join(", "));
        let _ = writeln!(
            out,
            "< {} values of `{}` collected (not shown)",
            self.values.len(),
            self.header
        );
    }
}
