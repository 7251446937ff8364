//! The browser-facing and second-layer parts of a target: its CORS allowlist (`[cors]`) and its target-site
//! session layer (`[session_layer]`, the Peel shape: a login endpoint hands out a session pair that protected
//! endpoints need, in headers or the body, headers winning).

use crate::error::Invalid;
use crate::template::Vars;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `[cors]`: which browser origins may call the REST surface with credentials, and the operations probed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cors {
    /// Exact origins allowed with credentials (`https://app.example.com`).
    pub allowlist: Vec<String>,
    /// The operation probed (a cheap authenticated GET).
    pub probe: String,
    /// A state-changing operation, to show a refused origin's request has no effect (CORS-004).
    pub mutating: Option<String>,
    /// The operation that reads its effect back.
    pub read_back: Option<String>,
    /// A member of `read_back`'s JSON that the mutating operation writes (template pointer), when shown.
    pub effect_pointer: Option<String>,
}

impl Cors {
    /// Checks the allowlist entries are serialized origins.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.allowlist.is_empty() {
            return Err(Invalid::new("allowlist", "name at least one origin"));
        }
        for (i, o) in self.allowlist.iter().enumerate() {
            let serialized = url::Url::parse(o).map(|u| u.origin().ascii_serialization());
            if serialized.as_deref() != Ok(o.as_str()) {
                return Err(Invalid::new(
                    format!("allowlist[{i}]"),
                    format!(
                        "`{o}` is not a serialized origin (`scheme://host[:port]`, no path or slash)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// `cors.allowed` (the first origin), `cors.allowlist`, `cors.probe`, `cors.mutating`, `cors.read_back`,
    /// `cors.effect_pointer`.
    pub fn set_vars(&self, v: &mut Vars) {
        v.set("cors.allowed", &self.allowlist[0]);
        v.set("cors.allowlist", self.allowlist.join(","));
        v.set("cors.probe", &self.probe);
        for (k, val) in [
            ("mutating", &self.mutating),
            ("read_back", &self.read_back),
            ("effect_pointer", &self.effect_pointer),
        ] {
            if let Some(val) = val {
                v.set(format!("cors.{k}"), val);
            }
        }
    }
}

/// `[session_layer]`: the target-site session credentials behind a REST operation that invokes endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionLayer {
    /// The REST operation that invokes an endpoint (`{endpoint}` in its path; the step gives the body).
    pub invoke: String,
    /// The endpoint that logs in to the target site and hands out a session pair.
    pub login_endpoint: String,
    /// An endpoint that needs the pair.
    pub protected_endpoint: String,
    /// Its body (template), without session fields, e.g. `{"folder": "inbox"}`.
    pub protected_body: String,
    /// Header names of the pair.
    pub id_header: String,
    /// See `id_header`.
    pub key_header: String,
    /// Body field names of the pair (also the login response's members).
    pub id_field: String,
    /// See `id_field`.
    pub key_field: String,
    /// The login response's marker member (`initiates_session`).
    pub initiates_flag: String,
    /// JSON pointer to the pair in the login response (default: the top level).
    #[serde(default)]
    pub result_pointer: String,
    /// JSON pointer, in a protected endpoint's response, naming the target-site user who acted.
    pub user_pointer: String,
    /// The MCP tool that invokes endpoints, when there is one, and its nested parameters' argument.
    pub mcp_tool: Option<String>,
    /// See `mcp_tool` (default `params`).
    #[serde(default = "default_params")]
    pub mcp_params_field: String,
    /// The API whose endpoints are invoked (template; fills `{api}`).
    pub api: String,
    /// Target-site users `u1` and `u2`: their login bodies (JSON templates) and how the site names them.
    pub users: BTreeMap<String, SiteUser>,
}

/// A target-site user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteUser {
    /// The login endpoint's body (template), e.g. `{"email": "u1@mock.test", "password": "pw1"}`.
    pub login: String,
    /// What the protected endpoint reports at `user_pointer` for this user.
    pub shows_as: String,
}

fn default_params() -> String {
    "params".into()
}

impl SessionLayer {
    /// The two users the catalog's fixtures name are declared.
    pub fn validate(&self) -> Result<(), Invalid> {
        for u in ["u1", "u2"] {
            if !self.users.contains_key(u) {
                return Err(Invalid::new(
                    "users",
                    format!("declare the target-site user `{u}`"),
                ));
            }
        }
        Ok(())
    }

    /// `session.*` variables, and `session.u1.login`, `session.u1.shows_as` (and `u2`).
    pub fn set_vars(&self, v: &mut Vars) {
        let plain = [
            ("invoke", &self.invoke),
            ("login_endpoint", &self.login_endpoint),
            ("protected_endpoint", &self.protected_endpoint),
            ("protected_body", &self.protected_body),
            ("id_header", &self.id_header),
            ("key_header", &self.key_header),
            ("id_field", &self.id_field),
            ("key_field", &self.key_field),
            ("initiates_flag", &self.initiates_flag),
            ("result_pointer", &self.result_pointer),
            ("user_pointer", &self.user_pointer),
            ("mcp_params_field", &self.mcp_params_field),
            ("api", &self.api),
        ];
        for (k, val) in plain {
            v.set(format!("session.{k}"), val);
        }
        if let Some(t) = &self.mcp_tool {
            v.set("session.mcp_tool", t);
        }
        for (name, u) in &self.users {
            v.set(format!("session.{name}.login"), &u.login);
            v.set(format!("session.{name}.shows_as"), &u.shows_as);
        }
    }
}

/// The variable names `[cors]` and `[session_layer]` provide, for scenario validation.
pub const VARS: &[&str] = &[
    "cors.allowed",
    "cors.allowlist",
    "cors.probe",
    "cors.mutating",
    "cors.read_back",
    "cors.effect_pointer",
    "session.invoke",
    "session.login_endpoint",
    "session.protected_endpoint",
    "session.protected_body",
    "session.id_header",
    "session.key_header",
    "session.id_field",
    "session.key_field",
    "session.initiates_flag",
    "session.result_pointer",
    "session.user_pointer",
    "session.mcp_tool",
    "session.mcp_params_field",
    "session.api",
    "session.u1.login",
    "session.u1.shows_as",
    "session.u2.login",
    "session.u2.shows_as",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_entries_are_serialized_origins() {
        let cors = |o: &str| Cors {
            allowlist: vec![o.into()],
            probe: "p".into(),
            mutating: None,
            read_back: None,
            effect_pointer: None,
        };
        assert!(cors("https://app.example.com").validate().is_ok());
        assert!(cors("http://127.0.0.1:8080").validate().is_ok());
        for bad in [
            "https://app.example.com/",
            "app.example.com",
            "https://APP.example.com",
            "https://a.test/x",
        ] {
            assert_eq!(
                cors(bad).validate().unwrap_err().field,
                "allowlist[0]",
                "{bad}"
            );
        }
        let mut v = Vars::default();
        cors("https://a.test").set_vars(&mut v);
        assert_eq!(v.get("cors.allowed"), Some("https://a.test"));
    }
}
