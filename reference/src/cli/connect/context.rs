//! `MCP_CONFORMANCE_CONTEXT`: the JSON the official MCP conformance suite (and
//! authconform's `oauth-client` profile) hands a client: pre-registered
//! credentials, a client ID metadata document URL, client-credentials keys.

use serde::Deserialize;

use crate::cli::CliError;

/// The variable holding the context.
pub(crate) const CONTEXT_ENV: &str = "MCP_CONFORMANCE_CONTEXT";

/// The members the client reads (others are ignored).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Context {
    /// A pre-registered client identifier.
    #[serde(default)]
    pub(crate) client_id: Option<String>,
    /// Its secret (absent for a public client).
    #[serde(default)]
    pub(crate) client_secret: Option<String>,
    /// An https URL usable as `client_id` where the AS supports client ID metadata documents.
    #[serde(default)]
    pub(crate) client_metadata_url: Option<String>,
    /// `client_credentials` for the client-credentials extension.
    #[serde(default)]
    pub(crate) grant_type: Option<String>,
    /// A PKCS#8 PEM private key for `private_key_jwt` (RFC 7523).
    #[serde(default)]
    pub(crate) private_key_pem: Option<String>,
    /// The JWS algorithm of that key, e.g. `ES256`.
    #[serde(default)]
    pub(crate) signing_algorithm: Option<String>,
}

impl Context {
    /// The context from [`CONTEXT_ENV`]; empty when unset.
    pub(crate) fn from_env() -> Result<Self, CliError> {
        match std::env::var(CONTEXT_ENV) {
            Ok(text) if !text.trim().is_empty() => Self::parse(&text),
            _ => Ok(Self::default()),
        }
    }

    /// Parses the JSON text (the message never echoes it: it may hold secrets).
    pub(crate) fn parse(text: &str) -> Result<Self, CliError> {
        let mut ctx: Self = serde_json::from_str(text).map_err(|e| {
            CliError::usage(format!(
                "{CONTEXT_ENV} is not a JSON object of the expected shape (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let blank = |v: &mut Option<String>| {
            if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
                *v = None;
            }
        };
        blank(&mut ctx.client_id);
        blank(&mut ctx.client_secret);
        blank(&mut ctx.client_metadata_url);
        blank(&mut ctx.private_key_pem);
        Ok(ctx)
    }

    /// Whether the context asks for the client-credentials grant outright
    /// (`grant_type`, or a signing key, which only that grant uses here).
    pub(crate) fn wants_client_credentials(&self) -> bool {
        self.grant_type.as_deref() == Some("client_credentials")
            || (self.client_id.is_some() && self.private_key_pem.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_official_shapes() {
        let ctx = Context::parse(
            r#"{"name":"auth/pre-registration","client_id":"c","client_secret":"s"}"#,
        )
        .unwrap();
        assert_eq!(ctx.client_id.as_deref(), Some("c"));
        assert!(!ctx.wants_client_credentials());
        let ctx = Context::parse(
            r#"{"name":"x","client_id":"c","private_key_pem":"-----BEGIN","signing_algorithm":"ES256"}"#,
        )
        .unwrap();
        assert!(ctx.wants_client_credentials());
        let ctx =
            Context::parse(r#"{"name":"x","grant_type":"client_credentials","client_id":"c"}"#)
                .unwrap();
        assert!(ctx.wants_client_credentials());
        let ctx = Context::parse(r#"{"name":"x","client_id":" "}"#).unwrap();
        assert!(ctx.client_id.is_none());
    }

    #[test]
    fn bad_json_does_not_echo_the_text() {
        let err = Context::parse(r#"{"client_secret": "sekrit""#).unwrap_err();
        assert!(!err.message.contains("sekrit"));
        assert_eq!(err.code, 2);
    }
}
