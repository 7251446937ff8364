//! `rest` steps: one of the target's named REST operations (`[surfaces.rest.operations]`), sent with a
//! principal's key (or a derived or literal value) in the key header, as a Bearer token, or in the query
//! string. A step may name a set of operations (`ops = "admin_only"`) or every query parameter name
//! (`query = "*"`): the runner expands it into one step per item, named `STEP/ITEM` (see [`RestStep::items`]).

use super::http::HttpRecord;
use super::{Kind, Recorded, StepCx, ValidateCx, View};
use crate::error::Invalid;
use crate::exchange::SentRequest;
use crate::target::Target;
use crate::template::Vars;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// A request to a named REST operation. Every string is a template.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestStep {
    /// The operation (a key of `[surfaces.rest.operations]`, or a template such as `{rest.probe}`).
    pub op: Option<String>,
    /// A set of operations (`[surfaces.rest.sets]`): one request per operation.
    pub ops: Option<String>,
    /// The principal selector whose key is sent.
    pub key: Option<String>,
    /// A literal credential instead (a derived key such as `{principal.dev.key_drop_last}`, garbage, blanks).
    pub value: Option<String>,
    /// How the credential travels (default: the target's key header).
    #[serde(default)]
    pub via: Via,
    /// The header name to carry the key (default `{rest.key_header}`); other spellings of its case need
    /// `raw = true` to reach the wire as written.
    pub header: Option<String>,
    /// With `via = "query"`: the parameter name, or `*` for each of the target's `query_names`.
    pub query: Option<String>,
    /// Values of the operation's placeholders (`org`, `id`, `name`, `role`). A placeholder without one is
    /// taken from the fixtures of the tenant named by `org` (`[tenants.ORG]`).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// The tenant whose fixtures fill the remaining placeholders (default: the `org` value), e.g. another
    /// organisation's object ID in this organisation's path.
    pub fixtures: Option<String>,
    /// A method instead of the operation's (`OPTIONS` for a CORS preflight).
    pub method: Option<String>,
    /// Extra headers, in order.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// A body instead of the operation's.
    pub body: Option<String>,
    /// Query parameters added to the URL (names and values are templates), e.g. session values where they do
    /// not belong.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Members added to the JSON object body (names and values are templates), e.g. session fields.
    #[serde(default)]
    pub merge: BTreeMap<String, String>,
    /// Send the exact bytes over a raw HTTP/1.1 connection.
    #[serde(default)]
    pub raw: bool,
    /// Repeat until the status is one of these, or the time runs out (the last answer is recorded).
    pub until: Option<Until>,
}

/// How the credential travels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// The target's key header (`X-API-Key`).
    #[default]
    Header,
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// A query parameter.
    Query,
}

/// Polling: repeat the request until its status matches, within a time bound.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Until {
    /// Statuses that end the polling.
    pub status: Vec<u16>,
    /// The bound, in milliseconds (template, e.g. `{rest.revocation_bound_ms}`).
    pub within_ms: String,
}

/// What a `rest` step sent and got back.
#[derive(Debug, Clone, Serialize)]
pub struct RestRecord {
    /// The operation.
    pub op: String,
    /// The request and the (last) response.
    #[serde(flatten)]
    pub http: HttpRecord,
}

/// Appends `name=value` (form-encoded) to `url`'s query.
fn add_query(url: &mut String, name: &str, value: &str) {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let sep = if url.contains('?') { '&' } else { '?' };
    *url = format!("{url}{sep}{}={}", enc(name), enc(value));
}

/// Interval between polls of `until`.
const POLL_EVERY: Duration = Duration::from_millis(50);

impl RestStep {
    /// The items a step expands into: `(suffix, step)`; a plain step is one item with an empty suffix.
    pub fn items(&self, target: &Target) -> Vec<(String, RestStep)> {
        let rest = target.surfaces.rest.as_ref();
        let ops: Vec<Option<String>> = match (&self.ops, rest) {
            (Some(set), Some(r)) => match r.sets.get(set) {
                Some(list) => list.iter().cloned().map(Some).collect(),
                None => vec![None],
            },
            _ => vec![None],
        };
        let queries: Vec<Option<String>> = match (self.query.as_deref(), rest) {
            (Some("*"), Some(r)) => r.query_names.iter().cloned().map(Some).collect(),
            _ => vec![None],
        };
        let mut out = Vec::new();
        for op in &ops {
            for q in &queries {
                let mut s = self.clone();
                let mut suffix = Vec::new();
                if let Some(op) = op {
                    s.op = Some(op.clone());
                    s.ops = None;
                    suffix.push(op.clone());
                }
                if let Some(q) = q {
                    s.query = Some(q.clone());
                    suffix.push(format!("{q}="));
                }
                out.push((suffix.join(" "), s));
            }
        }
        out
    }

    /// The request: the operation's method, path and body with placeholders filled, and the credential.
    pub fn build(&self, vars: &Vars, target: &Target) -> Result<(String, SentRequest), String> {
        let rest = target
            .surfaces
            .rest
            .as_ref()
            .ok_or("the target has no `rest` surface")?;
        let op = match (&self.op, &self.ops) {
            (Some(op), _) => super::expand(vars, op)?,
            (None, Some(set)) => {
                return Err(format!("the target declares no operation set `{set}`"));
            }
            (None, None) => return Err("no operation".into()),
        };
        let operation = rest
            .operations
            .get(&op)
            .ok_or_else(|| format!("the target declares no REST operation `{op}`"))?;
        let (method, path, body) = operation.parse()?;
        let local = self.local_vars(vars)?;
        let base = super::expand(vars, &rest.base_url)?;
        let mut url = format!(
            "{}{}",
            base.trim_end_matches('/'),
            super::expand(&local, &path)?
        );
        for (k, v) in &self.params {
            add_query(&mut url, &super::expand(vars, k)?, &super::expand(vars, v)?);
        }
        let body = self.body_of(body, &local)?;
        let mut headers = Vec::new();
        let explicit_type = self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
        if body.is_some() && !explicit_type {
            headers.push((
                "Content-Type".to_string(),
                operation.content_type().to_string(),
            ));
        }
        if let Some(value) = self.credential(vars)? {
            self.place_credential(value, &rest.key_header, &mut url, &mut headers);
        }
        for (n, v) in &self.headers {
            headers.push((super::expand(vars, n)?, super::expand(vars, v)?));
        }
        let request = SentRequest {
            method: self.method.clone().unwrap_or(method),
            url,
            headers,
            body,
            raw: self.raw,
        };
        Ok((op, request))
    }

    /// The body: the step's or the operation's, expanded, with `merge` applied; none for a preflight.
    fn body_of(&self, op_body: Option<String>, local: &Vars) -> Result<Option<String>, String> {
        if self.method.as_deref() == Some("OPTIONS") {
            return Ok(None);
        }
        let body = match self.body.as_ref().or(op_body.as_ref()) {
            Some(b) => Some(super::expand(local, b)?),
            None => None,
        };
        self.merged(body, local)
    }

    /// Puts the credential where `via` says: the key header, a Bearer token or a query parameter.
    fn place_credential(
        &self,
        value: String,
        key_header: &str,
        url: &mut String,
        headers: &mut Vec<(String, String)>,
    ) {
        match self.via {
            Via::Header => {
                let name = self
                    .header
                    .clone()
                    .unwrap_or_else(|| key_header.to_string());
                headers.push((name, value));
            }
            Via::Bearer => headers.push(("Authorization".into(), format!("Bearer {value}"))),
            Via::Query => add_query(url, self.query.as_deref().unwrap_or("api_key"), &value),
        }
    }

    /// `body` with the `merge` members added (a JSON object; none becomes `{}`).
    fn merged(&self, body: Option<String>, vars: &Vars) -> Result<Option<String>, String> {
        if self.merge.is_empty() {
            return Ok(body);
        }
        let mut obj = match body
            .as_deref()
            .map(serde_json::from_str::<serde_json::Value>)
        {
            None => serde_json::Map::new(),
            Some(Ok(serde_json::Value::Object(m))) => m,
            Some(_) => return Err("`merge` needs a JSON object body".into()),
        };
        for (k, v) in &self.merge {
            obj.insert(
                super::expand(vars, k)?,
                serde_json::Value::String(super::expand(vars, v)?),
            );
        }
        Ok(Some(serde_json::Value::Object(obj).to_string()))
    }

    /// The run's variables, plus the step's placeholders, plus the fixtures of the tenant named `org`.
    fn local_vars(&self, vars: &Vars) -> Result<Vars, String> {
        let mut local = vars.clone();
        let mut own = BTreeMap::new();
        for (k, v) in &self.vars {
            own.insert(k.clone(), super::expand(vars, v)?);
        }
        let fixtures = match &self.fixtures {
            Some(f) => Some(super::expand(vars, f)?),
            None => own.get("org").cloned(),
        };
        if let Some(org) = fixtures {
            let prefix = format!("tenant.{org}.");
            for (k, v) in vars.with_prefix(&prefix) {
                local.set(k, v);
            }
        }
        for (k, v) in own {
            local.set(k, v);
        }
        Ok(local)
    }

    fn credential(&self, vars: &Vars) -> Result<Option<String>, String> {
        match (&self.key, &self.value) {
            (Some(sel), _) => super::expand(vars, &format!("{{principal.{sel}.key}}")).map(Some),
            (None, Some(v)) => super::expand(vars, v).map(Some),
            (None, None) => Ok(None),
        }
    }

    async fn poll(&self, cx: &StepCx<'_>, request: &SentRequest) -> HttpRecord {
        let mut response = cx.client.send(request, cx.timeout).await;
        if let Some(until) = &self.until {
            let bound = super::expand(cx.vars, &until.within_ms)
                .ok()
                .and_then(|b| b.trim().parse::<u64>().ok())
                .unwrap_or(0);
            let deadline = Instant::now() + Duration::from_millis(bound);
            while !matches!(&response, Ok(r) if until.status.contains(&r.status))
                && Instant::now() + POLL_EVERY <= deadline
            {
                tokio::time::sleep(POLL_EVERY).await;
                response = cx.client.send(request, cx.timeout).await;
            }
        }
        HttpRecord {
            request: request.clone(),
            response,
        }
    }
}

impl Kind for RestStep {
    type Record = RestRecord;

    fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
        if self.op.is_some() == self.ops.is_some() {
            return Err(Invalid::new(
                "op",
                "give `op` (one operation) or `ops` (a set), not both",
            ));
        }
        if self.key.is_some() && self.value.is_some() {
            return Err(Invalid::new(
                "value",
                "give `key` (a principal) or `value`, not both",
            ));
        }
        if let Some(k) = &self.key {
            cx.principal("key", k)?;
        }
        if self.query.is_some() != (self.via == Via::Query) {
            return Err(Invalid::new("query", "`query` goes with `via = \"query\"`"));
        }
        let templates = [
            ("op", self.op.as_ref()),
            ("value", self.value.as_ref()),
            ("fixtures", self.fixtures.as_ref()),
            ("body", self.body.as_ref()),
        ]
        .into_iter()
        .chain(
            self.merge
                .iter()
                .flat_map(|(k, v)| [("merge", Some(k)), ("merge", Some(v))]),
        )
        .chain(
            self.params
                .iter()
                .flat_map(|(k, v)| [("params", Some(k)), ("params", Some(v))]),
        )
        .chain(self.vars.values().map(|v| ("vars", Some(v))))
        .chain(
            self.headers
                .iter()
                .flat_map(|(n, v)| [("headers", Some(n)), ("headers", Some(v))]),
        )
        .chain(
            self.until
                .iter()
                .map(|u| ("until.within_ms", Some(&u.within_ms))),
        );
        for (field, t) in templates {
            if let Some(t) = t {
                cx.template(field, t)?;
            }
        }
        let bad = |s: &str| s.bytes().any(|b| b < 0x20 && b != b'\t');
        let control = self.value.as_deref().is_some_and(bad)
            || self.headers.iter().any(|(n, v)| bad(n) || bad(v));
        if control && !self.raw {
            return Err(Invalid::new(
                "raw",
                "control bytes in a header need `raw = true`",
            ));
        }
        Ok(())
    }

    fn surface(&self) -> Option<&'static str> {
        Some("rest")
    }

    async fn run(&self, cx: &StepCx<'_>) -> Result<RestRecord, String> {
        let (op, request) = self.build(cx.vars, cx.target)?;
        let http = self.poll(cx, &request).await;
        Ok(RestRecord { op, http })
    }
}

impl Recorded for RestRecord {
    fn view(&self) -> View<'_> {
        self.http.view()
    }

    fn request_line(&self) -> String {
        format!("{}: {}", self.op, self.http.request_line())
    }

    fn render(&self, out: &mut String) {
        out.push_str(&format!("(operation {})\n", self.op));
        self.http.render(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        let text = r#"
name = "t"
profiles = []
[surfaces.rest]
base_url = "https://api.test/"
secret_prefix = "sk_"
operations = { list = "GET /orgs/{org}/things", get = "GET /orgs/{org}/things/{thing}", create = { route = "POST /orgs/{org}/keys", body = '{{"role": "{role}"}}' }, token = { route = "POST /token", body = "grant_type=x&device_code={device_code}", content_type = "application/x-www-form-urlencoded" } }
sets = { all = ["list", "get"] }
[tenants.org-b]
thing = "t-b1"
"#;
        let t: Target = toml::from_str(text).unwrap();
        t.validate().unwrap();
        t
    }

    fn step(text: &str) -> RestStep {
        toml::from_str(text).unwrap()
    }

    fn vars(t: &Target) -> Vars {
        let mut v = t.vars();
        v.set("principal.dev.key", "sk_secret_value");
        v
    }

    #[test]
    fn placeholders_come_from_vars_then_the_tenant() {
        let t = target();
        let s = step("op = \"get\"\nkey = \"dev\"\nvars = { org = \"org-b\" }\n");
        let (_, r) = s.build(&vars(&t), &t).unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.url, "https://api.test/orgs/org-b/things/t-b1");
        assert_eq!(
            r.headers,
            vec![("X-API-Key".into(), "sk_secret_value".into())]
        );
    }

    #[test]
    fn bearer_query_and_body() {
        let t = target();
        let s = step(
            "op = \"create\"\nkey = \"dev\"\nvia = \"bearer\"\nvars = { org = \"a\", role = \"admin\" }\n",
        );
        let (_, r) = s.build(&vars(&t), &t).unwrap();
        assert!(
            r.headers
                .contains(&("Authorization".into(), "Bearer sk_secret_value".into()))
        );
        assert_eq!(r.body.as_deref(), Some("{\"role\": \"admin\"}"));
        let s = step(
            "op = \"list\"\nvalue = \"a b&c\"\nvia = \"query\"\nquery = \"key\"\nvars = { org = \"a\" }\n",
        );
        let (_, r) = s.build(&vars(&t), &t).unwrap();
        assert_eq!(r.url, "https://api.test/orgs/a/things?key=a+b%26c");
        assert!(r.headers.is_empty());
    }

    #[test]
    fn the_operation_names_the_body_type_unless_the_step_does() {
        let t = target();
        let content_type = |r: &SentRequest| {
            r.headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>()
        };
        let s = step("op = \"token\"\nvars = { device_code = \"dc 1\" }\n");
        let (_, r) = s.build(&vars(&t), &t).unwrap();
        assert_eq!(content_type(&r), ["application/x-www-form-urlencoded"]);
        assert_eq!(
            r.body.as_deref(),
            Some("grant_type=x&device_code=dc 1"),
            "the body is the operation's template, filled as written"
        );
        let s = step("op = \"create\"\nvars = { org = \"a\", role = \"r\" }\n");
        let (_, r) = s.build(&vars(&t), &t).unwrap();
        assert_eq!(content_type(&r), ["application/json"]);
        let s = step(
            "op = \"token\"\nvars = { device_code = \"d\" }\nheaders = [[\"Content-Type\", \"text/plain\"]]\n",
        );
        let (_, r) = s.build(&vars(&t), &t).unwrap();
        assert_eq!(content_type(&r), ["text/plain"], "the step's header wins");
        let s = step("op = \"list\"\nvars = { org = \"a\" }\n");
        let (_, r) = s.build(&vars(&t), &t).unwrap();
        assert!(content_type(&r).is_empty(), "no body, no type");
    }

    #[test]
    fn sets_and_query_names_expand() {
        let t = target();
        let items = step("ops = \"all\"\nvia = \"query\"\nquery = \"*\"\n").items(&t);
        assert_eq!(items.len(), 2 * 6);
        assert_eq!(items[0].0, "list api_key=");
        assert_eq!(step("op = \"list\"\n").items(&t).len(), 1);
        let unknown = step("ops = \"nope\"\n");
        assert!(
            unknown
                .build(&vars(&t), &t)
                .unwrap_err()
                .contains("no operation set")
        );
    }

    #[test]
    fn validation_names_the_field() {
        let cx = ValidateCx::new(Vec::<String>::new(), ["dev".to_string()]);
        assert_eq!(
            step("op = \"a\"\nops = \"b\"\n")
                .validate(&cx)
                .unwrap_err()
                .field,
            "op"
        );
        assert_eq!(
            step("op = \"a\"\nkey = \"nobody\"\n")
                .validate(&cx)
                .unwrap_err()
                .field,
            "key"
        );
        assert_eq!(
            step("op = \"a\"\nquery = \"k\"\n")
                .validate(&cx)
                .unwrap_err()
                .field,
            "query"
        );
        assert_eq!(
            step("op = \"a\"\nvalue = \"k\\u0000\"\n")
                .validate(&cx)
                .unwrap_err()
                .field,
            "raw"
        );
        assert!(step("op = \"a\"\nkey = \"dev\"\n").validate(&cx).is_ok());
    }
}
