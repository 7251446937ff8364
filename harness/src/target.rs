//! Target files (`targets/*.toml`): how to launch or reach an implementation, its surface and credentials.

use crate::error::FileError;
use crate::requirements::PROFILES;
use crate::template::Vars;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    /// How to start the implementation; absent when it already runs at `surface.mcp_url`.
    pub launch: Option<Launch>,
    /// The implementation's vendor-specific names.
    pub surface: Surface,
    /// OAuth resource-server details.
    #[serde(default)]
    pub oauth: OAuth,
    /// Named credentials (`{cred.NAME}` in scenarios, redacted as `[KEY:NAME]`).
    #[serde(default)]
    pub credentials: BTreeMap<String, Credential>,
    /// Where the file was read from (not part of the file).
    #[serde(skip)]
    pub path: PathBuf,
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

/// The implementation's vendor-specific names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Surface {
    /// The protected MCP endpoint, the canonical resource URI (template, e.g. `{ready.url}`).
    pub mcp_url: String,
    /// MCP revision the implementation speaks (`2025-06-18` or `2025-11-25`).
    #[serde(default = "default_mcp_version")]
    pub mcp_version: String,
}

fn default_mcp_version() -> String {
    "2025-11-25".into()
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

/// Where a credential's value comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// The value itself (keep test-only values here).
    pub value: Option<String>,
    /// An environment variable holding the value.
    pub env: Option<String>,
}

impl Target {
    /// Reads and validates a target file.
    pub fn load(path: &Path) -> Result<Target, FileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| FileError::whole_file(path, format!("cannot read target file: {e}")))?;
        let mut target: Target = FileError::parse_toml(path, &text)?;
        target.path = path.to_path_buf();
        target.validate(&text)?;
        Ok(target)
    }

    fn validate(&self, text: &str) -> Result<(), FileError> {
        let at = |key: &str, field: &str, msg: String| {
            FileError::at_span(
                &self.path,
                text,
                crate::locate::key(text, None, 0, key),
                field,
                msg,
            )
        };
        for p in &self.profiles {
            if !PROFILES.contains(&p.as_str()) {
                return Err(at(
                    "profiles",
                    "profiles",
                    format!("unknown profile `{p}` (known: {})", PROFILES.join(", ")),
                ));
            }
        }
        if let Some(launch) = &self.launch {
            if launch.ready.stdout.is_none() && launch.ready.http.is_none() {
                return Err(at(
                    "ready",
                    "launch.ready",
                    "give `stdout` (a regex) or `http` (a URL), or both".into(),
                ));
            }
            if let Some(re) = &launch.ready.stdout {
                regex::Regex::new(re).map_err(|e| {
                    at(
                        "stdout",
                        "launch.ready.stdout",
                        format!("invalid regular expression: {e}"),
                    )
                })?;
            }
        }
        if let Some(args) = &self.oauth.call_args {
            match serde_json::from_str::<serde_json::Value>(args) {
                Ok(serde_json::Value::Object(_)) => {}
                _ => {
                    return Err(at(
                        "call_args",
                        "oauth.call_args",
                        "must be a JSON object".into(),
                    ));
                }
            }
        }
        for (name, c) in &self.credentials {
            if c.value.is_some() == c.env.is_some() {
                return Err(at(
                    name,
                    &format!("credentials.{name}"),
                    "give exactly one of `value` or `env`".into(),
                ));
            }
        }
        Ok(())
    }

    /// Template variables the target itself provides to scenarios (`oauth.*`, `mcp_version`, `cred.*`).
    ///
    /// Credentials read from the environment that are unset are simply absent (checks needing them are skipped).
    pub fn vars(&self) -> Vars {
        let mut v = Vars::default();
        v.set("target", &self.name);
        v.set("mcp_version", &self.surface.mcp_version);
        v.set("oauth.scope", &self.oauth.scope);
        v.set("oauth.scope_errors", self.oauth.scope_errors.as_str());
        let optional = [
            ("oauth.low_scope", &self.oauth.low_scope),
            ("oauth.call_tool", &self.oauth.call_tool),
            ("oauth.upstream_tool", &self.oauth.upstream_tool),
        ];
        for (k, val) in optional {
            if let Some(val) = val {
                v.set(k, val);
            }
        }
        v.set(
            "oauth.call_args",
            self.oauth.call_args.clone().unwrap_or_else(|| "{}".into()),
        );
        for (name, c) in &self.credentials {
            let value = match (&c.value, &c.env) {
                (Some(v), _) => Some(v.clone()),
                (None, Some(var)) => std::env::var(var).ok(),
                _ => None,
            };
            if let Some(value) = value {
                v.set(format!("cred.{name}"), value);
            }
        }
        v
    }

    /// Folder holding the target file.
    pub fn dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }
}
