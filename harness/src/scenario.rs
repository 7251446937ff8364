//! Scenario files (`scenarios/PROFILE/NAME.toml`): steps to run against a target and checks on what came back.
//!
//! Scenarios are data; the closed set of step and expectation kinds below is interpreted by
//! [`crate::steps`] and [`crate::checks`].

use crate::error::FileError;
use crate::locate;
use crate::requirements::{Catalog, Level};
use crate::template::{FILTERS, Vars};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A parsed, validated scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Stable ID, unique within its profile (the file stem by convention).
    pub id: String,
    /// One line saying what the scenario shows.
    pub title: String,
    /// Requirement IDs this scenario checks; each must have at least one check.
    pub requirements: Vec<String>,
    /// Target template variables the scenario needs (e.g. `oauth.upstream_tool`); missing → scenario skipped.
    #[serde(default)]
    pub needs: Vec<String>,
    /// Tokens the mock authorization servers mint for this scenario, by name (`{token.NAME}`).
    #[serde(default)]
    pub tokens: BTreeMap<String, TokenDef>,
    /// How the mock upstream API answers, first matching rule first (`[[upstream]]` with `when` and `respond`,
    /// see [`authconform_mocks::UpstreamRule`]); header values and bodies may use target values such as
    /// `{cred.NAME}`. Without rules the upstream serves `GET /projects`.
    #[serde(rename = "upstream", default)]
    pub upstream: Vec<authconform_mocks::UpstreamRule>,
    /// Steps, run in order.
    #[serde(rename = "step", default)]
    pub steps: Vec<Step>,
    /// Checks, evaluated after the steps.
    #[serde(rename = "check", default)]
    pub checks: Vec<Check>,
    /// Profile, from the folder name (not part of the file).
    #[serde(skip)]
    pub profile: String,
    /// Where the file was read from (not part of the file).
    #[serde(skip)]
    pub path: PathBuf,
}

/// A token to mint, or to derive from another by tampering.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenDef {
    /// `sub` claim (default `alice`).
    pub subject: Option<String>,
    /// `aud` values, as templates (default: `{mcp_url}`).
    pub audience: Option<Vec<String>>,
    /// `scope` claim, as a template (default: `{oauth.scope}`).
    pub scope: Option<String>,
    /// Lifetime in seconds from now; negative means already expired (default 300).
    pub expires_in: Option<i64>,
    /// Which mock authorization server mints it.
    #[serde(default)]
    pub issuer: IssuerChoice,
    /// Which key signs it.
    #[serde(default)]
    pub signer: SignerChoice,
    /// Derive from this other token instead of minting.
    pub from: Option<String>,
    /// How to tamper with `from`.
    pub tamper: Option<TamperChoice>,
    /// A literal random b64token of 43 characters instead of a JWT (`random = true`).
    #[serde(default)]
    pub random: bool,
}

/// The authorization server a token comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IssuerChoice {
    /// The mock AS the target was configured to trust.
    #[default]
    Trusted,
    /// A second mock AS the target knows nothing of.
    Untrusted,
}

/// The key that signs a token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignerChoice {
    /// The issuer's published key.
    #[default]
    Published,
    /// A key not in the issuer's JWKS, presented under the published key's `kid`.
    Foreign,
}

/// Tampering applied to a derived token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TamperChoice {
    /// Header set to `alg: none`, signature dropped.
    AlgNone,
    /// Last four characters removed.
    Truncate,
    /// One payload character changed.
    FlipPayload,
}

/// One action. Exactly one of `http` or `mcp_client` is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Name that checks and later steps refer to.
    pub name: String,
    /// An HTTP request.
    pub http: Option<HttpStep>,
    /// A session of the real MCP client (rmcp) over streamable HTTP.
    pub mcp_client: Option<McpClientStep>,
    /// Values to take from the response, as template variables for later steps and checks.
    #[serde(default)]
    pub capture: BTreeMap<String, Capture>,
}

/// An HTTP request. Every string is a template.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpStep {
    /// Method (default POST).
    #[serde(default = "default_method")]
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers in order; a name may repeat. Case is kept exactly with `raw = true`.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Shorthand for `Authorization: Bearer {token.NAME}`.
    pub bearer: Option<String>,
    /// A standard MCP JSON-RPC message as the body, with the MCP request headers.
    pub mcp: Option<McpMessage>,
    /// Tool for `mcp = "tools/call"` (default `{oauth.call_tool}`).
    pub tool: Option<String>,
    /// A literal body (template).
    pub body: Option<String>,
    /// Send the exact bytes over a raw HTTP/1.1 connection (header case, duplicate fields, control bytes).
    #[serde(default)]
    pub raw: bool,
}

fn default_method() -> String {
    "POST".into()
}

/// The standard MCP request bodies of the requirements catalog (§1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum McpMessage {
    /// `R-INIT`.
    #[serde(rename = "initialize")]
    Initialize,
    /// The `notifications/initialized` notification.
    #[serde(rename = "initialized")]
    Initialized,
    /// `R-LIST`.
    #[serde(rename = "tools/list")]
    ToolsList,
    /// `R-CALL(tool, args)`.
    #[serde(rename = "tools/call")]
    ToolsCall,
}

/// A real MCP client session: initialize, list tools, optionally call the target's `call_tool`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpClientStep {
    /// Token name used as the bearer credential.
    pub bearer: String,
    /// Also call `{oauth.call_tool}` with `{oauth.call_args}`.
    #[serde(default)]
    pub call_tool: bool,
}

/// Where a captured value comes from. Exactly one field is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    /// A response header (first value).
    pub header: Option<String>,
    /// A JSON pointer into the response body.
    pub json: Option<String>,
    /// A parameter of the response's Bearer challenge.
    pub challenge: Option<String>,
}

/// One assertion, tied to a requirement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Requirement ID, one of the scenario's `requirements`.
    pub requirement: String,
    /// Level of this check (default: the requirement's level); parts of a requirement may be SHOULD.
    pub level: Option<Level>,
    /// What the check asserts, in words, for the report.
    pub what: String,
    /// Steps whose responses must each satisfy `expect`.
    #[serde(default)]
    pub steps: Vec<String>,
    /// Enough that one of `steps` satisfies `expect` (e.g. either well-known form of a metadata URL).
    #[serde(default)]
    pub any: bool,
    /// Judge only the steps whose status is one of these (at least one must be); e.g. every metadata document
    /// that was served.
    pub when_status: Option<Vec<StatusPattern>>,
    /// Conditions for the check to apply; when one does not hold the check is skipped, with the reason.
    #[serde(default)]
    pub applies_if: Vec<Condition>,
    /// The expectation.
    pub expect: Expect,
}

/// A condition on a template variable (a target value such as `mcp_version`, or a capture).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The variable; the condition fails when it has no value.
    pub var: String,
    /// The value equals this.
    pub equals: Option<String>,
    /// The value contains this.
    pub contains: Option<String>,
    /// The value does not contain this.
    pub excludes: Option<String>,
}

impl Condition {
    /// Ok when the condition holds; otherwise why the check does not apply.
    pub fn holds(&self, vars: &Vars) -> Result<(), String> {
        let Some(v) = vars.get(&self.var) else {
            let why = vars
                .get(&format!("missing.{}", self.var))
                .map(|w| format!(" ({w})"))
                .unwrap_or_default();
            return Err(format!("`{}` has no value{why}", self.var));
        };
        if let Some(e) = &self.equals
            && v != e
        {
            return Err(format!("applies when `{}` is `{e}`; it is `{v}`", self.var));
        }
        if let Some(c) = &self.contains
            && !v.contains(c.as_str())
        {
            return Err(format!(
                "applies when `{}` contains `{c}`; it is `{v}`",
                self.var
            ));
        }
        if let Some(x) = &self.excludes
            && v.contains(x.as_str())
        {
            return Err(format!(
                "applies when `{}` does not contain `{x}`; it is `{v}`",
                self.var
            ));
        }
        Ok(())
    }
}

/// Expectations on a response; every given one must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The status must match one of these (`401`, `"2xx"`).
    pub status: Option<Vec<StatusPattern>>,
    /// The status must match none of these.
    pub status_not: Option<Vec<StatusPattern>>,
    /// The `WWW-Authenticate` challenges.
    pub challenge: Option<ChallengeExpect>,
    /// Response headers.
    #[serde(default)]
    pub header: Vec<HeaderExpect>,
    /// The JSON body.
    #[serde(default)]
    pub json: Vec<JsonExpect>,
    /// The MCP client session succeeded (`mcp_client` steps).
    pub mcp_ok: Option<bool>,
    /// What the mock upstream API received during the scenario.
    pub upstream: Option<UpstreamExpect>,
}

impl Expect {
    fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.status_not.is_none()
            && self.challenge.is_none()
            && self.header.is_empty()
            && self.json.is_empty()
            && self.mcp_ok.is_none()
            && self.upstream.is_none()
    }
}

/// A status code or a class such as `"2xx"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StatusPattern {
    /// One code.
    Code(u16),
    /// A class: `1xx` … `5xx`.
    Class(String),
}

impl StatusPattern {
    /// Does `status` match?
    pub fn matches(&self, status: u16) -> bool {
        match self {
            StatusPattern::Code(c) => *c == status,
            StatusPattern::Class(c) => {
                c.len() == 3
                    && c.ends_with("xx")
                    && c.as_bytes()[0].wrapping_sub(b'0') as u16 == status / 100
            }
        }
    }

    fn valid(&self) -> bool {
        match self {
            StatusPattern::Code(c) => (100..600).contains(c),
            StatusPattern::Class(c) => {
                c.len() == 3 && c.ends_with("xx") && (b'1'..=b'5').contains(&c.as_bytes()[0])
            }
        }
    }
}

impl std::fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusPattern::Code(c) => write!(f, "{c}"),
            StatusPattern::Class(c) => f.write_str(c),
        }
    }
}

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

/// An expectation on one response header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderExpect {
    /// Header name (case-insensitive).
    pub name: String,
    /// The value starts with this (case-insensitive).
    pub starts_with: Option<String>,
    /// The value equals this (template).
    pub equals: Option<String>,
}

/// An expectation on the JSON body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonExpect {
    /// JSON pointer (`""` for the whole document).
    #[serde(default)]
    pub pointer: String,
    /// The value is this string (template), compared code point by code point.
    pub equals: Option<String>,
    /// The value is this JSON boolean (e.g. a tool result's `isError`).
    pub equals_bool: Option<bool>,
    /// The value is a non-empty array.
    pub non_empty_array: Option<bool>,
    /// The value is an object.
    pub is_object: Option<bool>,
    /// The value is an array containing this string (template).
    pub contains: Option<String>,
    /// No member of the object is an empty array, empty string, empty object or null.
    pub no_empty_members: Option<bool>,
}

/// Expectations on the mock upstream API's journal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamExpect {
    /// At least this many requests arrived (so a "never" below is not vacuous).
    #[serde(default)]
    pub min_requests: usize,
    /// Exactly this many requests arrived.
    pub requests: Option<usize>,
    /// Every request carried these headers with exactly these values (templates, e.g. `{cred.project}`).
    #[serde(default)]
    pub header: Vec<(String, String)>,
    /// No header value of any request contains any of these (templates, e.g. `{token.valid}`).
    #[serde(default)]
    pub never_contains: Vec<String>,
}

/// Variables every scenario may use besides tokens, captures and the target's own.
pub const RUN_VARS: &[&str] = &[
    "mcp_url",
    "mcp_version",
    "target",
    "mocks.issuer",
    "mocks.untrusted_issuer",
    "mocks.upstream",
];

impl Scenario {
    /// Reads and validates a scenario; `profile` is the name of its folder.
    pub fn load(path: &Path, profile: &str, catalog: &Catalog) -> Result<Scenario, FileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| FileError::whole_file(path, format!("cannot read scenario file: {e}")))?;
        let mut s: Scenario = FileError::parse_toml(path, &text)?;
        s.profile = profile.to_string();
        s.path = path.to_path_buf();
        s.validate(&text, catalog)?;
        Ok(s)
    }

    /// The full ID, `profile/id`.
    pub fn full_id(&self) -> String {
        format!("{}/{}", self.profile, self.id)
    }

    fn validate(&self, text: &str, catalog: &Catalog) -> Result<(), FileError> {
        let err = |table: Option<&str>, index: usize, key: &str, field: String, msg: String| {
            FileError::at_span(
                &self.path,
                text,
                locate::key(text, table, index, key),
                field,
                msg,
            )
        };
        if self.requirements.is_empty() {
            return Err(err(
                None,
                0,
                "requirements",
                "requirements".into(),
                "names no requirement".into(),
            ));
        }
        for (i, id) in self.requirements.iter().enumerate() {
            match catalog.get(id) {
                None => {
                    return Err(err(
                        None,
                        0,
                        "requirements",
                        format!("requirements[{i}]"),
                        format!("unknown requirement ID `{id}`"),
                    ));
                }
                Some(r) if r.profile != self.profile => {
                    return Err(err(
                        None,
                        0,
                        "requirements",
                        format!("requirements[{i}]"),
                        format!(
                            "`{id}` belongs to profile `{}`, but this scenario is in `{}`",
                            r.profile, self.profile
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        // Tokens.
        for (name, t) in &self.tokens {
            let field = format!("tokens.{name}");
            if let Some(from) = &t.from {
                if !self.tokens.contains_key(from) || from == name {
                    return Err(err(
                        None,
                        0,
                        "from",
                        field,
                        format!("`from` names unknown token `{from}`"),
                    ));
                }
                if t.tamper.is_none() {
                    return Err(err(None, 0, "from", field, "`from` needs `tamper`".into()));
                }
            } else if t.tamper.is_some() {
                return Err(err(
                    None,
                    0,
                    "tamper",
                    field,
                    "`tamper` needs `from`".into(),
                ));
            }
        }
        let mut known: BTreeSet<String> = RUN_VARS.iter().map(|s| s.to_string()).collect();
        known.extend(
            [
                "oauth.scope",
                "oauth.low_scope",
                "oauth.call_tool",
                "oauth.call_args",
                "oauth.upstream_tool",
                "oauth.scope_errors",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        known.extend(self.tokens.keys().map(|t| format!("token.{t}")));
        let check_template = |tpl: &str,
                              known: &BTreeSet<String>,
                              table: Option<&str>,
                              index: usize,
                              key: &str,
                              field: String| {
            for part in tpl.split('{').skip(1) {
                if let Some(expr) = part.split('}').next() {
                    for filter in expr.split('|').skip(1) {
                        if !FILTERS.contains(&filter.trim()) {
                            return Err(err(
                                table,
                                index,
                                key,
                                field,
                                format!("unknown filter `{}`", filter.trim()),
                            ));
                        }
                    }
                }
            }
            for name in Vars::references(tpl) {
                if !known.contains(&name) && !name.starts_with("cred.") {
                    return Err(err(
                        table,
                        index,
                        key,
                        field,
                        format!(
                            "`{{{name}}}` is not defined here (tokens, earlier captures and target values are)"
                        ),
                    ));
                }
            }
            Ok(())
        };
        for (name, t) in &self.tokens {
            for a in t.audience.iter().flatten() {
                check_template(
                    a,
                    &known,
                    None,
                    0,
                    "audience",
                    format!("tokens.{name}.audience"),
                )?;
            }
            if let Some(s) = &t.scope {
                check_template(s, &known, None, 0, "scope", format!("tokens.{name}.scope"))?;
            }
        }
        // Upstream rules are set up before tokens exist: only target values may appear in them.
        for (i, rule) in self.upstream.iter().enumerate() {
            let texts = rule
                .when
                .headers
                .iter()
                .map(|(_, v)| v.as_str())
                .chain(rule.respond.body.as_deref());
            for t in texts {
                for name in Vars::references(t) {
                    if !(name.starts_with("cred.")
                        || name.starts_with("oauth.")
                        || name == "mcp_version")
                    {
                        return Err(err(
                            Some("upstream"),
                            i,
                            "when",
                            format!("upstream[{i}]"),
                            format!(
                                "`{{{name}}}`: upstream rules may only use target values (`cred.*`, `oauth.*`)"
                            ),
                        ));
                    }
                }
            }
        }
        // Steps.
        let mut step_names = BTreeSet::new();
        for (i, step) in self.steps.iter().enumerate() {
            let f = |k: &str| format!("step[{i}].{k}");
            if !step_names.insert(step.name.clone()) {
                return Err(err(
                    Some("step"),
                    i,
                    "name",
                    f("name"),
                    format!("duplicate step name `{}`", step.name),
                ));
            }
            match (&step.http, &step.mcp_client) {
                (Some(h), None) => {
                    for (k, v) in [
                        ("url", Some(&h.url)),
                        ("body", h.body.as_ref()),
                        ("tool", h.tool.as_ref()),
                    ] {
                        if let Some(v) = v {
                            check_template(v, &known, Some("step"), i, k, f(&format!("http.{k}")))?;
                        }
                    }
                    for (n, v) in &h.headers {
                        check_template(v, &known, Some("step"), i, "headers", f("http.headers"))?;
                        let bad = |s: &str| s.bytes().any(|b| b < 0x20 && b != b'\t');
                        if !h.raw && (bad(n) || bad(v)) {
                            return Err(err(
                                Some("step"),
                                i,
                                "headers",
                                f("http.headers"),
                                "control bytes in a header need `raw = true`".into(),
                            ));
                        }
                    }
                    if let Some(b) = &h.bearer
                        && !self.tokens.contains_key(b)
                    {
                        return Err(err(
                            Some("step"),
                            i,
                            "bearer",
                            f("http.bearer"),
                            format!("unknown token `{b}`"),
                        ));
                    }
                    if h.mcp.is_some() && h.body.is_some() {
                        return Err(err(
                            Some("step"),
                            i,
                            "mcp",
                            f("http"),
                            "give `mcp` or `body`, not both".into(),
                        ));
                    }
                    if h.method.is_empty() || !h.method.bytes().all(|b| b.is_ascii_uppercase()) {
                        return Err(err(
                            Some("step"),
                            i,
                            "method",
                            f("http.method"),
                            "method must be upper-case letters".into(),
                        ));
                    }
                }
                (None, Some(m)) => {
                    if !self.tokens.contains_key(&m.bearer) {
                        return Err(err(
                            Some("step"),
                            i,
                            "bearer",
                            f("mcp_client.bearer"),
                            format!("unknown token `{}`", m.bearer),
                        ));
                    }
                }
                _ => {
                    return Err(err(
                        Some("step"),
                        i,
                        "name",
                        format!("step[{i}]"),
                        "a step needs exactly one of `http` or `mcp_client`".into(),
                    ));
                }
            }
            for (cname, c) in &step.capture {
                let n = [c.header.is_some(), c.json.is_some(), c.challenge.is_some()]
                    .iter()
                    .filter(|b| **b)
                    .count();
                if n != 1 {
                    return Err(err(
                        Some("step"),
                        i,
                        "capture",
                        f(&format!("capture.{cname}")),
                        "give exactly one of `header`, `json`, `challenge`".into(),
                    ));
                }
                known.insert(cname.clone());
            }
        }
        // Checks.
        if self.checks.is_empty() {
            return Err(err(
                None,
                0,
                "id",
                "check".into(),
                "a scenario without checks asserts nothing".into(),
            ));
        }
        let mut covered = BTreeSet::new();
        for (i, c) in self.checks.iter().enumerate() {
            let f = |k: &str| format!("check[{i}].{k}");
            if !self.requirements.contains(&c.requirement) {
                let msg = if catalog.get(&c.requirement).is_none() {
                    format!("unknown requirement ID `{}`", c.requirement)
                } else {
                    format!(
                        "`{}` is not in this scenario's `requirements`",
                        c.requirement
                    )
                };
                return Err(err(Some("check"), i, "requirement", f("requirement"), msg));
            }
            covered.insert(c.requirement.clone());
            for cond in &c.applies_if {
                if !known.contains(&cond.var) && !cond.var.starts_with("cred.") {
                    return Err(err(
                        Some("check"),
                        i,
                        "applies_if",
                        f("applies_if"),
                        format!("`{}` is not a variable defined before the checks", cond.var),
                    ));
                }
            }
            if c.expect.is_empty() {
                return Err(err(
                    Some("check"),
                    i,
                    "expect",
                    f("expect"),
                    "expects nothing: a check that cannot fail".into(),
                ));
            }
            let response_expectations = c.expect.status.is_some()
                || c.expect.status_not.is_some()
                || c.expect.challenge.is_some()
                || !c.expect.header.is_empty()
                || !c.expect.json.is_empty()
                || c.expect.mcp_ok.is_some();
            if response_expectations && c.steps.is_empty() {
                return Err(err(
                    Some("check"),
                    i,
                    "steps",
                    f("steps"),
                    "response expectations need `steps`".into(),
                ));
            }
            for s in &c.steps {
                if !step_names.contains(s) {
                    return Err(err(
                        Some("check"),
                        i,
                        "steps",
                        f("steps"),
                        format!("unknown step `{s}`"),
                    ));
                }
            }
            for p in c
                .expect
                .status
                .iter()
                .chain(c.expect.status_not.iter())
                .flatten()
            {
                if !p.valid() {
                    return Err(err(
                        Some("check"),
                        i,
                        "status",
                        f("expect.status"),
                        format!("`{p}` is not a status or class like \"4xx\""),
                    ));
                }
            }
            if let Some(ch) = &c.expect.challenge {
                for v in ch.equals.values() {
                    check_template(
                        v,
                        &known,
                        Some("check"),
                        i,
                        "equals",
                        f("expect.challenge.equals"),
                    )?;
                }
                if ch.has.is_empty()
                    && ch.lacks.is_empty()
                    && ch.equals.is_empty()
                    && ch.https_url.is_empty()
                {
                    // Scheme presence alone is a valid expectation.
                }
            }
            for j in &c.expect.json {
                for v in j.equals.iter().chain(j.contains.iter()) {
                    check_template(v, &known, Some("check"), i, "json", f("expect.json"))?;
                }
            }
            if let Some(u) = &c.expect.upstream {
                for (_, v) in &u.header {
                    check_template(
                        v,
                        &known,
                        Some("check"),
                        i,
                        "upstream",
                        f("expect.upstream.header"),
                    )?;
                }
                for v in &u.never_contains {
                    check_template(
                        v,
                        &known,
                        Some("check"),
                        i,
                        "upstream",
                        f("expect.upstream"),
                    )?;
                }
                if u.min_requests == 0 && !u.never_contains.is_empty() {
                    return Err(err(
                        Some("check"),
                        i,
                        "upstream",
                        f("expect.upstream.min_requests"),
                        "`never_contains` needs `min_requests` ≥ 1, or it passes when nothing arrived".into(),
                    ));
                }
            }
        }
        for r in &self.requirements {
            if !covered.contains(r) {
                return Err(err(
                    None,
                    0,
                    "requirements",
                    "requirements".into(),
                    format!("`{r}` is listed but no check tests it"),
                ));
            }
        }
        Ok(())
    }

    /// The level of check `c`.
    pub fn level_of(&self, c: &Check, catalog: &Catalog) -> Level {
        c.level
            .or_else(|| catalog.get(&c.requirement).map(|r| r.level))
            .unwrap_or(Level::Must)
    }
}

/// Loads every scenario under `dir` (`dir/PROFILE/*.toml`), sorted by profile and ID.
pub fn load_all(dir: &Path, catalog: &Catalog) -> Result<Vec<Scenario>, FileError> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| FileError::whole_file(dir, format!("cannot read scenarios folder: {e}")))?;
    let mut profiles: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    profiles.sort();
    for pdir in profiles {
        let profile = pdir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if !crate::requirements::PROFILES.contains(&profile.as_str()) {
            return Err(FileError::whole_file(
                &pdir,
                format!("`{profile}` is not a profile"),
            ));
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&pdir)
            .map_err(|e| FileError::whole_file(&pdir, format!("cannot read: {e}")))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for f in files {
            out.push(Scenario::load(&f, &profile, catalog)?);
        }
    }
    let mut seen = BTreeSet::new();
    for s in &out {
        if !seen.insert(s.full_id()) {
            return Err(FileError::whole_file(
                &s.path,
                format!("duplicate scenario ID `{}`", s.full_id()),
            ));
        }
    }
    Ok(out)
}
