//! Target files (`targets/*.toml`), version 2: how to launch or reach an implementation, the surfaces it
//! offers ([`surface`]), the principals it provisions ([`principal`]), and how its upstream API answers.
//!
//! Version-1 files (`[surface] mcp_url = …`) still load: `[surface]` is read as `[surfaces.mcp-http]`; so does the
//! earlier spelling of a co-hosted authorization server, `[oauth] as_issuer`, `as_client_id`, `as_redirect_uri`,
//! read as `[surfaces.oauth-as]`.

pub mod browser;
pub mod principal;
pub mod surface;

use crate::error::{FileError, Invalid};
use crate::requirements::PROFILES;
use crate::template::Vars;
pub use principal::{Credential, Directory, Principal, PrincipalKind, Selector, Unit};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
pub use surface::{McpHttp, McpStdio, OAuthAs, Surfaces};

/// A parsed, validated target file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Short name, used in reports and snapshot folders.
    pub name: String,
    /// One line about the implementation.
    #[serde(default)]
    pub description: String,
    /// Profiles the implementation claims; only their scenarios run.
    pub profiles: Vec<String>,
    /// How to start the long-running implementation (behind `mcp-http`, `rest`, `device-host`, `oauth-as`);
    /// absent when it already runs.
    pub launch: Option<Launch>,
    /// Version 1's `[surface]` (`mcp_url`, `mcp_version`), read as `[surfaces.mcp-http]`.
    #[serde(default)]
    surface: Option<surface::SurfaceV1>,
    /// The transports the implementation offers.
    #[serde(default)]
    pub surfaces: Surfaces,
    /// OAuth resource-server details.
    #[serde(default)]
    pub oauth: OAuth,
    /// The implementation's own credentials, e.g. the key it presents upstream (`{cred.NAME}`, redacted as
    /// `[KEY:NAME]`).
    #[serde(default)]
    pub credentials: BTreeMap<String, Credential>,
    /// The identities provisioned for testing (`{key.NAME}`, redacted as `[KEY:NAME]`).
    #[serde(default)]
    pub principals: BTreeMap<String, Principal>,
    /// The units (projects, agents) principals may see.
    #[serde(default)]
    pub units: Vec<Unit>,
    /// Fixture objects of each tenant, by role (`[tenants.org-b] server = "srv-b1"`): `{tenant.NAME.FIELD}`,
    /// and the values a `rest` step fills into an operation's path for the tenant it names as `org`.
    #[serde(default)]
    pub tenants: BTreeMap<String, BTreeMap<String, String>>,
    /// Names of the tools that list and read units (`key-scope`).
    pub scope: Option<ScopeTools>,
    /// The header in which the implementation presents its key to its upstream API (`{upstream_key_header}`,
    /// default `X-API-Key`).
    #[serde(default = "default_upstream_key_header")]
    pub upstream_key_header: String,
    /// How the mock upstream API answers (after a scenario's own rules); templates may use `{key.NAME}` and
    /// `{cred.NAME}`.
    #[serde(default)]
    pub upstream: Vec<authconform_mocks::UpstreamRule>,
    /// Browser origins allowed to call the REST surface, and the operations probed (`cors` profile).
    pub cors: Option<browser::Cors>,
    /// The target-site session layer behind an endpoint-invoking operation (`session-layer` profile).
    pub session_layer: Option<browser::SessionLayer>,
    /// Requirements whose SHOULD checks the implementation holds itself to as MUST (it documents the
    /// behaviour, or gates its CI on it): a failure there exits 1. Levels are only ever raised.
    #[serde(default)]
    pub strict: Vec<String>,
    /// Where the file was read from (not part of the file).
    #[serde(skip)]
    pub path: PathBuf,
}

/// The tools through which an MCP surface lists and reads units (REQUIREMENTS §2 `scope.*`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeTools {
    /// The tool that enumerates reachable units (`scope.list_tool`).
    pub list_tool: String,
    /// A tool that reads one unit by ID.
    pub unit_tool: String,
    /// The argument of `unit_tool` naming the unit.
    pub unit_arg: String,
    /// The member naming a unit in the tools' JSON output (default `id`).
    #[serde(default = "default_id_field")]
    pub id_field: String,
}

fn default_upstream_key_header() -> String {
    "X-API-Key".into()
}

fn default_id_field() -> String {
    "id".into()
}

/// How the harness starts the implementation for each scenario.
///
/// Every string is a template: `{authconform}` (this executable), `{mocks.issuer}`, `{mocks.untrusted_issuer}`,
/// `{mocks.upstream}`, `{mocks.ca_pem}`, `{tls.ca_pem}`, `{tls.cert_pem}`, `{tls.key_pem}`, `{port}` (a free
/// loopback port), `{target_dir}` (the folder of the target file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Launch {
    /// Program to run (`node`, `python3`, `{authconform}`, an absolute path).
    pub command: String,
    /// Arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment variables (added to the harness's environment).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory; defaults to the target file's folder.
    pub cwd: Option<String>,
    /// When the implementation counts as ready.
    pub ready: Ready,
}

/// Readiness: a stdout line, an HTTP answer, or both, within a deadline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ready {
    /// Regular expression a stdout line must match; its named groups become `{ready.NAME}`.
    pub stdout: Option<String>,
    /// URL polled until it answers with any HTTP status (template; may use `{ready.NAME}`).
    pub http: Option<String>,
    /// Deadline for readiness, in milliseconds.
    #[serde(default = "default_ready_ms")]
    pub timeout_ms: u64,
}

fn default_ready_ms() -> u64 {
    15_000
}

/// OAuth details of a resource server.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth {
    /// Scopes a fully privileged token carries (space-delimited).
    #[serde(default)]
    pub scope: String,
    /// Scopes of a token that may connect but not call `call_tool`; enables the insufficient-scope checks.
    pub low_scope: Option<String>,
    /// A tool every fully privileged token may call.
    pub call_tool: Option<String>,
    /// Its arguments, as a JSON object.
    pub call_args: Option<String>,
    /// A tool that reaches the upstream API (enables the token-passthrough check).
    pub upstream_tool: Option<String>,
    /// How a call without the needed scope is refused (OAUTH-SCOPE-002, catalog AMB-09).
    #[serde(default)]
    pub scope_errors: ScopeErrors,
    /// The earlier spelling of `[surfaces.oauth-as] issuer`, read as that surface (see [`OAuthAs`]); `None` once
    /// the file is loaded.
    as_issuer: Option<String>,
    /// The earlier spelling of `[surfaces.oauth-as] client_id`.
    as_client_id: Option<String>,
    /// The earlier spelling of `[surfaces.oauth-as] redirect_uri`.
    as_redirect_uri: Option<String>,
}

/// How an implementation refuses a call whose token lacks the tool's scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScopeErrors {
    /// HTTP 403 with an `insufficient_scope` Bearer challenge, as RFC 6750 §3.1 and the MCP spec say.
    #[default]
    Http,
    /// HTTP 200 with a tool result whose `isError` is true; the MUST part of OAUTH-SCOPE-002 then accepts it,
    /// the SHOULD part (403 `insufficient_scope`) still warns.
    ToolLevel,
}

impl ScopeErrors {
    /// The value of the template variable `oauth.scope_errors`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::ToolLevel => "tool-level",
        }
    }
}

impl Target {
    /// Reads and validates a target file.
    pub fn load(path: &Path) -> Result<Target, FileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| FileError::whole_file(path, format!("cannot read target file: {e}")))?;
        let mut target: Target = FileError::parse_toml(path, &text)?;
        target.path = path.to_path_buf();
        target
            .upgrade_v1()
            .and_then(|()| target.upgrade_oauth_as())
            .and_then(|()| target.validate())
            .map_err(|e| FileError::from_invalid(path, &text, e))?;
        Ok(target)
    }

    /// Reads a version-1 `[surface]` as `[surfaces.mcp-http]`.
    fn upgrade_v1(&mut self) -> Result<(), Invalid> {
        let Some(v1) = self.surface.take() else {
            return Ok(());
        };
        if self.surfaces.mcp_http.is_some() {
            return Err(Invalid::new(
                "surface",
                "`[surface]` is the version-1 spelling of `[surfaces.mcp-http]`: give only `[surfaces.mcp-http]` \
                 (with `url` for `mcp_url`)",
            ));
        }
        self.surfaces.mcp_http = Some(McpHttp {
            url: v1.mcp_url,
            mcp_version: v1.mcp_version,
            key_header: None,
        });
        Ok(())
    }

    /// Reads `[oauth] as_issuer`, `as_client_id`, `as_redirect_uri` (the spelling before the `oauth-as` surface)
    /// as `[surfaces.oauth-as]`, whose `resource` then defaults to the `mcp-http` URL as it did.
    fn upgrade_oauth_as(&mut self) -> Result<(), Invalid> {
        let o = &mut self.oauth;
        let (issuer, client_id, redirect_uri) = (
            o.as_issuer.take(),
            o.as_client_id.take(),
            o.as_redirect_uri.take(),
        );
        let Some(issuer) = issuer else {
            return match (client_id, redirect_uri) {
                (None, None) => Ok(()),
                (c, _) => Err(Invalid::new(
                    if c.is_some() {
                        "oauth.as_client_id"
                    } else {
                        "oauth.as_redirect_uri"
                    },
                    "names a client of an authorization server the file does not declare: give \
                     `[surfaces.oauth-as]` with `issuer`, `client_id` and `redirect_uri`",
                )),
            };
        };
        if self.surfaces.oauth_as.is_some() {
            return Err(Invalid::new(
                "oauth.as_issuer",
                "`[oauth] as_issuer` is the earlier spelling of `[surfaces.oauth-as] issuer`: give only \
                 `[surfaces.oauth-as]` (`issuer`, `client_id`, `redirect_uri`)",
            ));
        }
        self.surfaces.oauth_as = Some(OAuthAs {
            issuer,
            client_id,
            redirect_uri,
            resource: None,
        });
        Ok(())
    }

    /// Every validation rule of a target file, each reporting the field it is about.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.validate_profiles()?;
        if let Some(launch) = &self.launch {
            launch.validate().map_err(|e| e.under("launch"))?;
        }
        if self.surfaces.names().is_empty() {
            return Err(Invalid::new(
                "surfaces",
                "declares no surface: add `[surfaces.mcp-http]` (`url`), `[surfaces.mcp-stdio]`, `[surfaces.rest]`, \
                 `[surfaces.cli]`, `[surfaces.device-host]` or `[surfaces.oauth-as]`",
            ));
        }
        self.surfaces.validate().map_err(|e| e.under("surfaces"))?;
        if let Some(args) = &self.oauth.call_args
            && !matches!(
                serde_json::from_str::<serde_json::Value>(args),
                Ok(serde_json::Value::Object(_))
            )
        {
            return Err(Invalid::new("oauth.call_args", "must be a JSON object"));
        }
        for (name, c) in &self.credentials {
            c.validate()
                .map_err(|e| e.under(&format!("credentials.{name}")))?;
        }
        if let Some(c) = &self.cors {
            c.validate().map_err(|e| e.under("cors"))?;
        }
        if let Some((i, r)) = self
            .strict
            .iter()
            .enumerate()
            .find(|(_, r)| crate::requirements::Catalog::builtin().get(r).is_none())
        {
            return Err(Invalid::new(
                format!("strict[{i}]"),
                format!("`{r}` is not a requirement of the catalog"),
            ));
        }
        if let Some(s) = &self.session_layer {
            s.validate().map_err(|e| e.under("session_layer"))?;
        }
        for (name, p) in &self.principals {
            p.validate(&self.units)
                .map_err(|e| e.under(&format!("principals.{name}")))?;
        }
        Ok(())
    }

    fn validate_profiles(&self) -> Result<(), Invalid> {
        for (i, p) in self.profiles.iter().enumerate() {
            if !PROFILES.contains(&p.as_str()) {
                return Err(Invalid::new(
                    format!("profiles[{i}]"),
                    format!("unknown profile `{p}` (known: {})", PROFILES.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// The principals and units, for resolving scenarios' selectors.
    pub fn directory(&self) -> Directory<'_> {
        Directory {
            principals: &self.principals,
            units: &self.units,
        }
    }

    /// Every secret the target file names, with its placeholder: credentials and principals' keys, both
    /// `[KEY:NAME]`. Values read from unset environment variables are absent.
    pub fn secrets(&self) -> Vec<(String, String)> {
        let creds = self.credentials.iter().map(|(n, c)| (n, Some(c)));
        let keys = self.principals.iter().map(|(n, p)| (n, p.key.as_ref()));
        creds
            .chain(keys)
            .filter_map(|(name, c)| Some((c?.resolve()?, format!("[KEY:{name}]"))))
            .collect()
    }

    /// The values of publishable keys: credentials, so redacted like any other, but public by design (shipped
    /// in browser code and listed again on request, HYG-002), so not secrets the global check looks for.
    pub fn public_keys(&self) -> Vec<String> {
        self.principals
            .values()
            .filter(|p| p.kind == PrincipalKind::PublishableKey)
            .filter_map(|p| p.key.as_ref()?.resolve())
            .collect()
    }

    /// Template variables the target itself provides to scenarios (`oauth.*` with the `oauth-as` surface's
    /// `oauth.as_*`, `scope.*`, `mcp_version`, `cred.*`, `key.*`).
    ///
    /// Credentials read from the environment that are unset are simply absent (checks needing them are skipped).
    pub fn vars(&self) -> Vars {
        let mut v = Vars::default();
        v.set("target", &self.name);
        let version = self
            .surfaces
            .mcp_http
            .as_ref()
            .map(|m| m.mcp_version.as_str());
        v.set("mcp_version", version.unwrap_or("2025-11-25"));
        self.oauth.set_vars(&mut v);
        self.surfaces.set_as_vars(&mut v);
        v.set("upstream_key_header", &self.upstream_key_header);
        if let Some(s) = &self.scope {
            v.set("scope.list_tool", &s.list_tool);
            v.set("scope.unit_tool", &s.unit_tool);
            v.set("scope.unit_arg", &s.unit_arg);
            v.set("scope.id_field", &s.id_field);
        }
        if let Some(r) = &self.surfaces.rest {
            r.set_vars(&mut v);
        }
        if let Some(c) = &self.cors {
            c.set_vars(&mut v);
        }
        if let Some(c) = &self.surfaces.cli {
            c.set_vars(&mut v);
        }
        if let Some(s) = &self.session_layer {
            s.set_vars(&mut v);
        }
        v.set("target.strict", self.strict.join(","));
        if let Some(h) = self
            .surfaces
            .mcp_http
            .as_ref()
            .and_then(|m| m.key_header.as_ref())
        {
            v.set("mcp.key_header", h);
        }
        for (tenant, fields) in &self.tenants {
            for (k, val) in fields {
                v.set(format!("tenant.{tenant}.{k}"), val);
            }
        }
        for (name, c) in &self.credentials {
            if let Some(value) = c.resolve() {
                v.set(format!("cred.{name}"), value);
            }
        }
        for (name, p) in &self.principals {
            if let Some(value) = p.key.as_ref().and_then(Credential::resolve) {
                v.set(format!("key.{name}"), value);
            }
        }
        v
    }

    /// Folder holding the target file.
    pub fn dir(&self) -> PathBuf {
        // `Path::new("t.toml").parent()` is `Some("")`, which no process can be started in.
        self.path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

impl Launch {
    fn validate(&self) -> Result<(), Invalid> {
        if self.ready.stdout.is_none() && self.ready.http.is_none() {
            return Err(Invalid::new(
                "ready",
                "give `stdout` (a regex) or `http` (a URL), or both",
            ));
        }
        if let Some(re) = &self.ready.stdout {
            regex::Regex::new(re).map_err(|e| {
                Invalid::new("ready.stdout", format!("invalid regular expression: {e}"))
            })?;
        }
        Ok(())
    }
}

impl OAuth {
    fn set_vars(&self, v: &mut Vars) {
        v.set("oauth.scope", &self.scope);
        v.set("oauth.scope_errors", self.scope_errors.as_str());
        let optional = [
            ("oauth.low_scope", &self.low_scope),
            ("oauth.call_tool", &self.call_tool),
            ("oauth.upstream_tool", &self.upstream_tool),
        ];
        for (k, val) in optional {
            if let Some(val) = val {
                v.set(k, val);
            }
        }
        v.set(
            "oauth.call_args",
            self.call_args.clone().unwrap_or_else(|| "{}".into()),
        );
    }
}

#[cfg(test)]
mod tests;
