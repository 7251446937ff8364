//! `sample` steps: the same HTTP request sent several times, collecting one response header's values (e.g.
//! thirty `Mcp-Session-Id`s for HYG-009). The values are judged (`samples` expectation) but never shown: they
//! are bearer-like handles and differ from run to run.

use super::http::{HttpStep, build_request};
use super::{Kind, Recorded, StepCx, ValidateCx, View};
use crate::error::Invalid;
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
    pub request: HttpStep,
    /// How many times to send it.
    pub count: u32,
    /// The response header whose values are collected.
    pub header: String,
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
        self.request.validate(cx).map_err(|e| e.under("request"))?;
        if self.count == 0 || self.count > MAX_COUNT {
            return Err(Invalid::new("count", format!("between 1 and {MAX_COUNT}")));
        }
        if self.header.is_empty() {
            return Err(Invalid::new("header", "name the header to collect"));
        }
        Ok(())
    }

    fn surface(&self) -> Option<&'static str> {
        self.request.surface()
    }

    async fn run(&self, cx: &StepCx<'_>) -> Result<SampleRecord, String> {
        let request =
            build_request(&self.request, cx.vars).map_err(|e| super::why_missing(cx.vars, &e))?;
        let mut rec = SampleRecord {
            request: format!("{} {}", request.method, request.url),
            statuses: BTreeMap::new(),
            header: self.header.clone(),
            values: Vec::new(),
        };
        for _ in 0..self.count {
            let label = match cx.client.send(&request, cx.timeout).await {
                Ok(r) => {
                    rec.values
                        .extend(r.header(&self.header).map(str::to_string));
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
