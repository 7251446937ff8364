//! Surfaces: the transports through which a target is reached, each with its vendor-specific names.
//!
//! A target declares any of `mcp-http`, `mcp-stdio`, `rest`, `cli`, `device-host` and `oauth-as`; a scenario names
//! the surfaces (and REST operations) it needs and is skipped, with the reason, when the target lacks one.

use crate::error::Invalid;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The names a scenario may give in `surfaces`.
pub const SURFACES: &[&str] = &[
    "mcp-http",
    "mcp-stdio",
    "rest",
    "cli",
    "device-host",
    "oauth-as",
];

/// Every surface a target may declare.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Surfaces {
    /// An MCP endpoint over streamable HTTP.
    #[serde(rename = "mcp-http")]
    pub mcp_http: Option<McpHttp>,
    /// An MCP server over stdio, launched per step.
    #[serde(rename = "mcp-stdio")]
    pub mcp_stdio: Option<McpStdio>,
    /// A REST API with named operations.
    pub rest: Option<Rest>,
    /// A command-line program with named commands.
    pub cli: Option<Cli>,
    /// Device-authorization endpoints the target hosts.
    #[serde(rename = "device-host")]
    pub device_host: Option<DeviceHost>,
    /// An OAuth authorization server the target serves itself (beside its MCP endpoint, or alone).
    #[serde(rename = "oauth-as")]
    pub oauth_as: Option<OAuthAs>,
}

impl Surfaces {
    /// Whether the surface called `name` (one of [`SURFACES`]) is declared.
    pub fn has(&self, name: &str) -> bool {
        match name {
            "mcp-http" => self.mcp_http.is_some(),
            "mcp-stdio" => self.mcp_stdio.is_some(),
            "rest" => self.rest.is_some(),
            "cli" => self.cli.is_some(),
            "device-host" => self.device_host.is_some(),
            "oauth-as" => self.oauth_as.is_some(),
            _ => false,
        }
    }

    /// The declared surfaces' names.
    pub fn names(&self) -> Vec<&'static str> {
        SURFACES.iter().copied().filter(|s| self.has(s)).collect()
    }

    /// Checks every declared surface; field paths are relative to `surfaces`.
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(s) = &self.mcp_stdio {
            s.validate().map_err(|e| e.under("mcp-stdio"))?;
        }
        if let Some(r) = &self.rest {
            r.validate().map_err(|e| e.under("rest"))?;
        }
        if let Some(c) = &self.cli {
            c.validate().map_err(|e| e.under("cli"))?;
        }
        if let Some(a) = &self.oauth_as {
            a.validate(self.mcp_http.is_some())
                .map_err(|e| e.under("oauth-as"))?;
        }
        Ok(())
    }

    /// The resource an `oauth-as` surface issues tokens for (a template): its `resource`, else the `mcp-http`
    /// URL.
    pub fn as_resource(&self) -> Option<&str> {
        let a = self.oauth_as.as_ref()?;
        a.resource
            .as_deref()
            .or_else(|| self.mcp_http.as_ref().map(|m| m.url.as_str()))
    }

    /// The template variables of the `oauth-as` surface (`oauth.as_issuer`, `oauth.as_client_id`,
    /// `oauth.as_redirect_uri`, `oauth.as_resource`): templates until the target is up (then expanded by the
    /// runner), so `needs` sees them.
    pub fn set_as_vars(&self, v: &mut crate::template::Vars) {
        for (name, t) in self.as_templates() {
            v.set(name, t);
        }
    }

    /// The `oauth-as` variables and their templates.
    pub fn as_templates(&self) -> Vec<(&'static str, &str)> {
        let Some(a) = &self.oauth_as else {
            return Vec::new();
        };
        [
            ("oauth.as_issuer", Some(a.issuer.as_str())),
            ("oauth.as_client_id", a.client_id.as_deref()),
            ("oauth.as_redirect_uri", a.redirect_uri.as_deref()),
            ("oauth.as_resource", self.as_resource()),
        ]
        .into_iter()
        .filter_map(|(k, t)| Some((k, t?)))
        .collect()
    }
}

/// `oauth-as`: an OAuth authorization server the target serves (OAUTH-AS-002..006). It may be all the target
/// offers: the harness launches the target for scenarios that need it, and no MCP endpoint is required.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthAs {
    /// Its issuer (a template such as `{ready.as}`, expanded once the target is up): `{oauth.as_issuer}`.
    pub issuer: String,
    /// A public client registered there, whose authorization endpoint answers with a redirect (an
    /// auto-approving test user, or a stand-in for the login): `{oauth.as_client_id}`.
    pub client_id: Option<String>,
    /// That client's registered redirect URI: `{oauth.as_redirect_uri}`.
    pub redirect_uri: Option<String>,
    /// The resource (RFC 8707) the AS issues tokens for, the MCP server's URL (template): `{oauth.as_resource}`.
    /// Defaults to the `mcp-http` surface's `url`; required without one.
    pub resource: Option<String>,
}

impl OAuthAs {
    fn validate(&self, has_mcp_http: bool) -> Result<(), Invalid> {
        for (field, v) in [
            ("issuer", Some(&self.issuer)),
            ("client_id", self.client_id.as_ref()),
            ("redirect_uri", self.redirect_uri.as_ref()),
            ("resource", self.resource.as_ref()),
        ] {
            if v.is_some_and(|v| v.trim().is_empty()) {
                return Err(Invalid::new(field, "is empty"));
            }
        }
        if self.resource.is_none() && !has_mcp_http {
            return Err(Invalid::new(
                "resource",
                "give the resource the authorization server issues tokens for (the MCP server's URL): there is \
                 no `[surfaces.mcp-http]` whose `url` it could default to",
            ));
        }
        Ok(())
    }
}

/// `mcp-http`: the protected MCP endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpHttp {
    /// The endpoint, the canonical resource URI (template, e.g. `{ready.url}`).
    pub url: String,
    /// MCP revision the implementation speaks (`2025-06-18` or `2025-11-25`).
    #[serde(default = "default_mcp_version")]
    pub mcp_version: String,
    /// The header in which the endpoint also accepts an API key (`X-API-Key`), when it documents one.
    pub key_header: Option<String>,
}

/// The version-1 `[surface]` table: `mcp_url` and `mcp_version`; read as `[surfaces.mcp-http]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurfaceV1 {
    /// The endpoint.
    pub mcp_url: String,
    /// MCP revision.
    #[serde(default = "default_mcp_version")]
    pub mcp_version: String,
}

fn default_mcp_version() -> String {
    "2025-11-25".into()
}

/// `mcp-stdio`: an MCP server the harness launches for each stdio step, its key in an environment variable.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpStdio {
    /// Program (template: `{authconform}`, `node`, an absolute path).
    pub command: String,
    /// Arguments (templates).
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment (templates, e.g. `{mocks.upstream}`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory, relative to the target file's folder.
    pub cwd: Option<String>,
    /// The variable the server reads its key from (e.g. `PEAKA_API_KEY`).
    pub key_env: String,
    /// Other credential variables a careless server might fall back to; a scenario may plant a decoy key there.
    #[serde(default)]
    pub decoy_env: Vec<String>,
}

impl McpStdio {
    fn validate(&self) -> Result<(), Invalid> {
        for (field, name) in std::iter::once(("key_env", &self.key_env))
            .chain(self.decoy_env.iter().map(|n| ("decoy_env", n)))
        {
            if !is_env_name(name) {
                return Err(Invalid::new(
                    field,
                    format!("`{name}` is not an environment variable name"),
                ));
            }
        }
        if self.decoy_env.contains(&self.key_env) {
            return Err(Invalid::new("decoy_env", "must not name `key_env` itself"));
        }
        Ok(())
    }
}

/// A portable environment variable name: letters, digits and `_`, not starting with a digit.
pub fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `rest`: a base URL and named operations (`list_keys = "GET /api/v1/organizations/{org}/api-keys"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rest {
    /// Base URL (template).
    pub base_url: String,
    /// Header carrying a raw API key (default `X-API-Key`).
    #[serde(default = "default_key_header")]
    pub key_header: String,
    /// Whether `Authorization: Bearer <api key>` is accepted too; unknown when absent.
    pub bearer_accepts_key: Option<bool>,
    /// Named operations.
    #[serde(default)]
    pub operations: BTreeMap<String, Operation>,
    /// The cheap authenticated operation keys are probed with (catalog `{key_probe}`), e.g. `list_keys`.
    pub probe: Option<String>,
    /// Named sets of operations scenarios iterate over: `admin_only` (refused to the limited role),
    /// `limited_allowed` (allowed to it), `org_scoped` (every collection and object under an organisation).
    #[serde(default)]
    pub sets: BTreeMap<String, Vec<String>>,
    /// Role names: `admin` (may do everything) and `limited` (e.g. `developer`).
    #[serde(default)]
    pub roles: BTreeMap<String, String>,
    /// How long a revoked key may keep working, in milliseconds (default 0: at once).
    #[serde(default)]
    pub revocation_bound_ms: u64,
    /// The target documents header transport only: a key in the query string that works is a failure, not a
    /// warning (HYG-005).
    #[serde(default)]
    pub header_only: bool,
    /// Query parameter names probed for keys in the URL.
    #[serde(default = "default_query_names")]
    pub query_names: Vec<String>,
    /// Prefix of secret keys (e.g. `mcpstack_sk_`), when keys have one.
    pub secret_prefix: Option<String>,
    /// Prefix of publishable keys (e.g. `mcpstack_pk_`), when the target has them.
    pub publishable_prefix: Option<String>,
    /// Where key records keep things (JSON pointers and member names): `list` (pointer to the array in a
    /// listing, default the whole body), `id`, `role`, `secret` (the created value), `last_used`.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// JSON members whose values change from run to run (a created key's visible prefix, its creation time
    /// in another format): shown as `[VOLATILE]` in transcripts so snapshots stay stable.
    #[serde(default)]
    pub volatile: Vec<String>,
    /// Where a successful device exchange (`device_exchange`) keeps the credential: a JSON pointer, `/api_key`
    /// (a vendor shape such as Peel's, the default) or `/access_token` (RFC 8628 §3.5, RFC 6749 §5.1);
    /// `{rest.device_credential}` in scenarios.
    #[serde(default = "default_device_credential")]
    pub device_credential: String,
}

/// The names of `[surfaces.rest.fields]`, with their defaults.
pub const FIELDS: &[(&str, &str)] = &[
    ("list", ""),
    ("id", "id"),
    ("role", "role"),
    ("secret", "key"),
    ("last_used", "last_used_at"),
    ("version", "version"),
];

/// The role names scenarios refer to in `[surfaces.rest.roles]`.
pub const ROLE_NAMES: &[&str] = &["admin", "limited"];

fn default_key_header() -> String {
    "X-API-Key".into()
}

fn default_device_credential() -> String {
    "/api_key".into()
}

fn default_query_names() -> Vec<String> {
    [
        "api_key",
        "apikey",
        "key",
        "x-api-key",
        "access_token",
        "token",
    ]
    .map(String::from)
    .to_vec()
}

impl Rest {
    fn validate(&self) -> Result<(), Invalid> {
        for (name, op) in &self.operations {
            op.parse()
                .map_err(|m| Invalid::new(format!("operations.{name}"), m))?;
        }
        let known = |field: String, op: &str| {
            if self.operations.contains_key(op) {
                Ok(())
            } else {
                Err(Invalid::new(
                    field,
                    format!("`{op}` is not one of `operations`"),
                ))
            }
        };
        if let Some(p) = &self.probe {
            known("probe".into(), p)?;
        }
        for (set, ops) in &self.sets {
            for (i, op) in ops.iter().enumerate() {
                known(format!("sets.{set}[{i}]"), op)?;
            }
        }
        if let Some(r) = self
            .roles
            .keys()
            .find(|r| !ROLE_NAMES.contains(&r.as_str()))
        {
            return Err(Invalid::new(
                format!("roles.{r}"),
                format!("roles are named {}", ROLE_NAMES.join(" and ")),
            ));
        }
        if let Some(f) = self
            .fields
            .keys()
            .find(|f| !FIELDS.iter().any(|(n, _)| n == f))
        {
            let names: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
            return Err(Invalid::new(
                format!("fields.{f}"),
                format!("fields are {}", names.join(", ")),
            ));
        }
        if self.query_names.iter().any(|n| n.is_empty()) {
            return Err(Invalid::new(
                "query_names",
                "a query parameter name is empty",
            ));
        }
        if !self.device_credential.starts_with('/') || self.device_credential.contains(['{', '}']) {
            return Err(Invalid::new(
                "device_credential",
                format!(
                    "`{}` is not a JSON pointer starting with `/`",
                    self.device_credential
                ),
            ));
        }
        Ok(())
    }

    /// The template variables the surface provides (`rest.*`).
    pub fn set_vars(&self, v: &mut crate::template::Vars) {
        v.set("rest.base_url", &self.base_url);
        v.set("rest.key_header", &self.key_header);
        if let Some(b) = self.bearer_accepts_key {
            v.set("rest.bearer_accepts_key", b.to_string());
        }
        if let Some(p) = &self.probe {
            v.set("rest.probe", p);
        }
        for (name, default) in FIELDS {
            let value = self.fields.get(*name).map_or(*default, String::as_str);
            v.set(format!("rest.fields.{name}"), value);
        }
        for (set, ops) in &self.sets {
            v.set(format!("rest.sets.{set}"), ops.join(","));
        }
        for (role, name) in &self.roles {
            v.set(format!("rest.roles.{role}"), name);
        }
        v.set(
            "rest.revocation_bound_ms",
            self.revocation_bound_ms.to_string(),
        );
        v.set("rest.header_only", self.header_only.to_string());
        v.set("rest.device_credential", &self.device_credential);
        for (k, p) in [
            ("secret_prefix", &self.secret_prefix),
            ("publishable_prefix", &self.publishable_prefix),
        ] {
            if let Some(p) = p {
                v.set(format!("rest.{k}"), p);
            }
        }
    }
}

/// An operation: `"METHOD /path/{template}"`, or a table with a body template.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Operation {
    /// `"GET /path"`.
    Route(String),
    /// `{ route = "POST /path", body = '{"name": "{name}"}' }`, optionally with the body's media type
    /// (`content_type = "application/x-www-form-urlencoded"`; default `application/json`).
    WithBody {
        /// `"METHOD /path"`.
        route: String,
        /// Body template.
        body: String,
        /// The body's `Content-Type` when the step sets none (default `application/json`).
        #[serde(default)]
        content_type: Option<String>,
    },
}

/// The `Content-Type` of an operation's body when neither the operation nor the step names one.
pub const DEFAULT_CONTENT_TYPE: &str = "application/json";

impl Operation {
    /// The media type of the operation's body: its `content_type`, or [`DEFAULT_CONTENT_TYPE`].
    pub fn content_type(&self) -> &str {
        match self {
            Operation::WithBody {
                content_type: Some(t),
                ..
            } => t,
            _ => DEFAULT_CONTENT_TYPE,
        }
    }

    /// Method, path template and body template (checking `content_type` too).
    pub fn parse(&self) -> Result<(String, String, Option<String>), String> {
        let (route, body) = match self {
            Operation::Route(r) => (r, None),
            Operation::WithBody {
                route,
                body,
                content_type,
            } => {
                if let Some(t) = content_type {
                    check_media_type(t)?;
                }
                (route, Some(body.clone()))
            }
        };
        let (method, path) = route
            .split_once(' ')
            .ok_or_else(|| format!("`{route}` is not `METHOD /path`"))?;
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!("`{method}` is not an upper-case HTTP method"));
        }
        if !path.starts_with('/') || path.contains(char::is_whitespace) {
            return Err(format!("`{path}` is not a path starting with `/`"));
        }
        Ok((method.to_string(), path.to_string(), body))
    }
}

/// A media type as a `Content-Type` value: `type/subtype`, optionally with parameters (`; charset=utf-8`).
fn check_media_type(t: &str) -> Result<(), String> {
    let essence = t.split(';').next().unwrap_or_default().trim();
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match essence.split_once('/') {
        Some((ty, sub)) if token(ty) && token(sub) && !t.bytes().any(|b| b.is_ascii_control()) => {
            Ok(())
        }
        _ => Err(format!(
            "content_type `{t}` is not a media type such as `application/x-www-form-urlencoded`"
        )),
    }
}

/// `cli`: a program and its named commands (`login`, `login-with-key`, `status`, `logout`, …).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cli {
    /// Program (template).
    pub command: String,
    /// Arguments before every command's own.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment (templates).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Named commands: their arguments (templates such as `{principal.dev.key}`).
    #[serde(default)]
    pub commands: BTreeMap<String, Vec<String>>,
    /// The variable that points the CLI at a host (the mock), when it has one.
    pub base_url_env: Option<String>,
    /// The variable that names a CA bundle, when it has one.
    pub ca_bundle_env: Option<String>,
    /// The variable that selects an organisation, when it has one (`{cli.org_env}`).
    pub org_env: Option<String>,
    /// The route of a public signup, e.g. `POST /public/signup` (`{cli.signup_route}`): the mock host answers
    /// it as a deployment with signup disabled.
    pub signup_route: Option<String>,
    /// The header the CLI sends its key in (default `X-API-Key`).
    #[serde(default = "default_cli_key_header")]
    pub key_header: String,
    /// The prefix of the host's secret keys, so keys the mock host makes look real (default `sk_test_`).
    #[serde(default = "default_secret_prefix")]
    pub secret_prefix: String,
    /// The prefix of publishable keys (default `pk_test_`).
    #[serde(default = "default_publishable_prefix")]
    pub publishable_prefix: String,
}

fn default_cli_key_header() -> String {
    "X-API-Key".into()
}

fn default_secret_prefix() -> String {
    "sk_test_".into()
}

fn default_publishable_prefix() -> String {
    "pk_test_".into()
}

impl Cli {
    /// Template variables: `cli.base_url_env`, `cli.ca_bundle_env`, `cli.org_env`, `cli.signup_route`.
    pub fn set_vars(&self, v: &mut crate::template::Vars) {
        if let Some(e) = &self.base_url_env {
            v.set("cli.base_url_env", e);
        }
        if let Some(e) = &self.ca_bundle_env {
            v.set("cli.ca_bundle_env", e);
        }
        if let Some(e) = &self.org_env {
            v.set("cli.org_env", e);
        }
        if let Some(r) = &self.signup_route {
            v.set("cli.signup_route", r);
        }
    }

    fn validate(&self) -> Result<(), Invalid> {
        for (field, v) in [
            ("base_url_env", &self.base_url_env),
            ("ca_bundle_env", &self.ca_bundle_env),
            ("org_env", &self.org_env),
        ] {
            if let Some(v) = v
                && !is_env_name(v)
            {
                return Err(Invalid::new(
                    field,
                    format!("`{v}` is not an environment variable name"),
                ));
            }
        }
        Ok(())
    }
}

/// `device-host`: device authorization endpoints the target serves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceHost {
    /// Base URL (template).
    pub base_url: String,
    /// Path of the device authorization endpoint.
    pub start_path: String,
    /// Path of the token (exchange) endpoint.
    pub exchange_path: String,
    /// `rfc8628` (standard names) or `vendor`.
    #[serde(default = "default_device_mode")]
    pub mode: String,
}

fn default_device_mode() -> String {
    "rfc8628".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stdio(key_env: &str, decoys: &[&str]) -> McpStdio {
        McpStdio {
            command: "x".into(),
            args: vec![],
            env: BTreeMap::new(),
            cwd: None,
            key_env: key_env.into(),
            decoy_env: decoys.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn stdio_env_names_are_checked() {
        assert!(stdio("PEAKA_API_KEY", &["OTHER_KEY"]).validate().is_ok());
        assert_eq!(stdio("1BAD", &[]).validate().unwrap_err().field, "key_env");
        assert_eq!(
            stdio("A-B", &[]).validate().unwrap_err().field,
            "key_env",
            "dashes are not portable"
        );
        assert_eq!(
            stdio("K", &["K"]).validate().unwrap_err().field,
            "decoy_env"
        );
        assert_eq!(stdio("K", &[""]).validate().unwrap_err().field, "decoy_env");
    }

    #[test]
    fn operations_parse_and_bad_ones_are_named() {
        let ok = Operation::Route("GET /api/v1/organizations/{org}/api-keys".into());
        assert_eq!(
            ok.parse().unwrap(),
            (
                "GET".into(),
                "/api/v1/organizations/{org}/api-keys".into(),
                None
            )
        );
        for bad in ["get /x", "GET x", "GET", "GET /a b", " /x"] {
            assert!(Operation::Route(bad.into()).parse().is_err(), "{bad}");
        }
        let rest = Rest {
            base_url: "u".into(),
            key_header: default_key_header(),
            bearer_accepts_key: None,
            operations: [("broken".to_string(), Operation::Route("FETCH".into()))].into(),
            probe: None,
            sets: BTreeMap::new(),
            roles: BTreeMap::new(),
            revocation_bound_ms: 0,
            header_only: false,
            query_names: default_query_names(),
            secret_prefix: None,
            publishable_prefix: None,
            fields: BTreeMap::new(),
            volatile: vec![],
            device_credential: default_device_credential(),
        };
        assert_eq!(rest.validate().unwrap_err().field, "operations.broken");
    }

    #[test]
    fn operations_name_their_content_type() {
        let form: Operation = toml::from_str::<BTreeMap<String, Operation>>(
            r#"op = { route = "POST /token", body = "a={a}", content_type = "application/x-www-form-urlencoded" }"#,
        )
        .unwrap()
        .remove("op")
        .unwrap();
        assert!(form.parse().is_ok());
        assert_eq!(form.content_type(), "application/x-www-form-urlencoded");
        let json = Operation::WithBody {
            route: "POST /x".into(),
            body: "{{}}".into(),
            content_type: None,
        };
        assert_eq!(json.content_type(), "application/json");
        assert_eq!(
            Operation::Route("GET /x".into()).content_type(),
            DEFAULT_CONTENT_TYPE
        );
        for ok in ["text/plain; charset=utf-8", "application/vnd.api+json"] {
            assert!(check_media_type(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "form",
            "application/",
            "/x",
            "text/plain\r\nX-Evil: 1",
            "a b/c",
        ] {
            let op = Operation::WithBody {
                route: "POST /x".into(),
                body: String::new(),
                content_type: Some(bad.into()),
            };
            assert!(op.parse().unwrap_err().contains("content_type"), "{bad:?}");
        }
    }

    #[test]
    fn device_credential_defaults_to_the_vendor_shape_and_is_a_var() {
        let rest =
            |extra: &str| toml::from_str::<Rest>(&format!("base_url = \"u\"\n{extra}")).unwrap();
        let vendor = rest("");
        assert!(vendor.validate().is_ok());
        let mut v = crate::template::Vars::default();
        vendor.set_vars(&mut v);
        assert_eq!(v.get("rest.device_credential"), Some("/api_key"));
        let rfc = rest("device_credential = \"/access_token\"");
        rfc.set_vars(&mut v);
        assert_eq!(v.get("rest.device_credential"), Some("/access_token"));
        for bad in ["access_token", "", "/{x}"] {
            let e = rest(&format!("device_credential = \"{bad}\""))
                .validate()
                .unwrap_err();
            assert_eq!(e.field, "device_credential", "{bad:?}");
        }
    }

    #[test]
    fn cli_env_names_are_checked() {
        let cli = Cli {
            command: "c".into(),
            args: vec![],
            env: BTreeMap::new(),
            commands: BTreeMap::new(),
            base_url_env: Some("API BASE".into()),
            ca_bundle_env: None,
            org_env: None,
            signup_route: None,
            key_header: default_cli_key_header(),
            secret_prefix: default_secret_prefix(),
            publishable_prefix: default_publishable_prefix(),
        };
        assert_eq!(cli.validate().unwrap_err().field, "base_url_env");
    }

    #[test]
    fn has_and_names() {
        let s = Surfaces {
            mcp_stdio: Some(stdio("K", &[])),
            ..Default::default()
        };
        assert!(s.has("mcp-stdio") && !s.has("mcp-http") && !s.has("nope"));
        assert_eq!(s.names(), vec!["mcp-stdio"]);
    }
}
