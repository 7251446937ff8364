//! What validation rules of steps and expectations know about their scenario: the variables defined so far,
//! the tokens and principals it declares.

use crate::error::Invalid;
use crate::template::{FILTERS, Vars};
use std::collections::BTreeSet;

/// Variables every scenario may use besides tokens, principals, captures and the target's own.
pub const RUN_VARS: &[&str] = &[
    "mcp_url",
    "mcp_version",
    "target",
    "authconform",
    "mocks.issuer",
    "mocks.untrusted_issuer",
    "mocks.upstream",
    "mocks.ca_pem",
    "tls.ca_pem",
    // PKCE values, fresh per scenario.
    "pkce.verifier",
    "pkce.challenge",
    "pkce.other_verifier",
    "pkce.state",
    // A scenario's mock host (`[host]`).
    "host.url",
    "host.proxy",
    "host.ca_pem",
    "host.foreign_url",
    "host.key",
    "host.service_key",
    "host.invalid_key",
    "host.publishable_key",
    // A scenario's world (`[world]`).
    "world.url",
    "world.url_b",
    "world.url_localhost",
    "world.url_upper_host",
    "world.rs",
    "world.as",
    "world.evil",
    "world.issuer",
    "world.ca_pem",
];

/// Target values a scenario may use (present or not: a missing one skips or fails at run time).
pub const TARGET_VARS: &[&str] = &[
    "oauth.scope",
    "oauth.low_scope",
    "oauth.call_tool",
    "oauth.call_args",
    "oauth.upstream_tool",
    "oauth.scope_errors",
    "scope.list_tool",
    "scope.unit_tool",
    "scope.unit_arg",
    "scope.id_field",
    "upstream_key_header",
    "rest.base_url",
    "rest.key_header",
    "rest.bearer_accepts_key",
    "rest.probe",
    "rest.roles.admin",
    "rest.roles.limited",
    "rest.revocation_bound_ms",
    "rest.header_only",
    "rest.device_credential",
    "rest.secret_prefix",
    "rest.publishable_prefix",
    "rest.sets.admin_only",
    "rest.sets.limited_allowed",
    "rest.sets.org_scoped",
    "rest.fields.list",
    "rest.fields.id",
    "rest.fields.role",
    "rest.fields.secret",
    "rest.fields.last_used",
    "rest.fields.version",
    "mcp.key_header",
    "oauth.as_issuer",
    "oauth.as_client_id",
    "oauth.as_redirect_uri",
    "oauth.as_resource",
    "cli.base_url_env",
    "cli.ca_bundle_env",
    "cli.org_env",
    "cli.signup_route",
];

/// The `principal.NAME.*` variables each principal selector defines.
pub const PRINCIPAL_VARS: &[&str] = &[
    "name",
    "kind",
    "key",
    "tenant",
    "role",
    "sees",
    "seen",
    "sees_count",
    "unseen_same_tenant",
    "unseen_other_tenant",
    "key_unprefixed",
    "key_as_secret",
    "key_as_publishable",
    "key_double_prefix",
    "key_drop_last",
    "key_add_char",
    "key_flip_case",
    "key_basic",
    "key_split",
    "origin",
];

/// Prefixes of target-provided families of variables (`cred.NAME`, `key.NAME`).
const OPEN_PREFIXES: &[&str] = &["cred.", "key.", "tenant."];

/// The scenario as validation rules see it.
#[derive(Debug, Clone, Default)]
pub struct ValidateCx {
    /// Variables defined at this point (grows with each step's captures).
    pub known: BTreeSet<String>,
    /// Token names.
    pub tokens: BTreeSet<String>,
    /// Principal selector names.
    pub principals: BTreeSet<String>,
    /// Step names defined so far.
    pub steps: BTreeSet<String>,
}

impl ValidateCx {
    /// The context at the start of the steps: run, target, token and principal variables.
    pub fn new(
        tokens: impl IntoIterator<Item = String>,
        principals: impl IntoIterator<Item = String>,
    ) -> Self {
        let mut cx = ValidateCx::default();
        cx.known.extend(
            RUN_VARS
                .iter()
                .chain(TARGET_VARS)
                .chain(crate::target::browser::VARS)
                .map(|s| s.to_string()),
        );
        for t in tokens {
            cx.known.insert(format!("token.{t}"));
            cx.tokens.insert(t);
        }
        for p in principals {
            for v in PRINCIPAL_VARS {
                cx.known.insert(format!("principal.{p}.{v}"));
            }
            cx.principals.insert(p);
        }
        cx
    }

    /// Is `name` a variable defined here?
    pub fn defines(&self, name: &str) -> bool {
        self.known.contains(name) || OPEN_PREFIXES.iter().any(|p| name.starts_with(p))
    }

    /// Checks that `tpl` uses only known filters and defined variables.
    pub fn template(&self, field: &str, tpl: &str) -> Result<(), Invalid> {
        for part in tpl.split('{').skip(1) {
            if let Some(expr) = part.split('}').next() {
                for filter in expr.split('|').skip(1) {
                    if !FILTERS.contains(&filter.trim()) {
                        return Err(Invalid::new(
                            field,
                            format!("unknown filter `{}`", filter.trim()),
                        ));
                    }
                }
            }
        }
        for name in Vars::references(tpl) {
            if !self.defines(&name) {
                return Err(Invalid::new(
                    field,
                    format!(
                        "`{{{name}}}` is not defined here (tokens, principals, earlier captures and target values are)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks that `name` is a declared token.
    pub fn token(&self, field: &str, name: &str) -> Result<(), Invalid> {
        if self.tokens.contains(name) {
            Ok(())
        } else {
            Err(Invalid::new(field, format!("unknown token `{name}`")))
        }
    }

    /// Checks that `name` is a declared principal selector.
    pub fn principal(&self, field: &str, name: &str) -> Result<(), Invalid> {
        if self.principals.contains(name) {
            Ok(())
        } else {
            Err(Invalid::new(
                field,
                format!("unknown principal `{name}` (declare it under `[principals.{name}]`)"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_need_defined_variables_and_known_filters() {
        let cx = ValidateCx::new(["valid".to_string()], ["narrow".to_string()]);
        assert!(cx.template("f", "{token.valid} {mcp_url|origin}").is_ok());
        assert!(
            cx.template("f", "{principal.narrow.key} {key.any} {cred.x}")
                .is_ok()
        );
        let e = cx.template("f", "{token.other}").unwrap_err();
        assert!(e.message.contains("token.other"), "{e:?}");
        let e = cx.template("f", "{mcp_url|zap}").unwrap_err();
        assert!(e.message.contains("zap"), "{e:?}");
        assert!(cx.template("f", "{principal.wide.key}").is_err());
    }

    #[test]
    fn tokens_and_principals_must_be_declared() {
        let cx = ValidateCx::new(["valid".to_string()], ["narrow".to_string()]);
        assert!(cx.token("b", "valid").is_ok());
        assert_eq!(cx.token("b", "nope").unwrap_err().field, "b");
        assert!(cx.principal("p", "narrow").is_ok());
        assert!(
            cx.principal("p", "wide")
                .unwrap_err()
                .message
                .contains("[principals.wide]")
        );
    }
}
