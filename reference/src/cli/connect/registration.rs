//! Who the client is at an AS: pre-registered credentials from the context,
//! else a client ID metadata document URL where the AS supports them, else a
//! dynamic registration (RFC 7591), kept per AS issuer.

use serde_json::json;

use super::context::Context;
use super::discovery::AsMetadata;
use super::http::Http;
use super::store::Registration;
use super::urls;
use crate::cli::CliError;

/// The `client_name` the client registers with.
pub(crate) const CLIENT_NAME: &str = "authconform reference client";

/// A token-endpoint client authentication method (RFC 7591 §2 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthMethod {
    /// `none`: `client_id` in the body, no secret (a public client).
    None,
    /// `client_secret_basic`: HTTP Basic, nothing in the body.
    SecretBasic,
    /// `client_secret_post`: `client_id` and `client_secret` in the body.
    SecretPost,
    /// `private_key_jwt` (RFC 7523): a signed `client_assertion`.
    PrivateKeyJwt,
}

impl AuthMethod {
    /// The RFC 7591 name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::SecretBasic => "client_secret_basic",
            Self::SecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }

    /// The method of an RFC 7591 name.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        [
            Self::None,
            Self::SecretBasic,
            Self::SecretPost,
            Self::PrivateKeyJwt,
        ]
        .into_iter()
        .find(|m| m.name() == name)
    }
}

/// The client as the token endpoint sees it.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    /// `client_id`.
    pub(crate) client_id: String,
    /// `client_secret`, if any.
    pub(crate) client_secret: Option<String>,
    /// How it authenticates at the token endpoint.
    pub(crate) auth_method: AuthMethod,
}

impl From<&Registration> for Client {
    fn from(r: &Registration) -> Self {
        let fallback = if r.client_secret.is_some() {
            AuthMethod::SecretBasic
        } else {
            AuthMethod::None
        };
        Self {
            client_id: r.client_id.clone(),
            client_secret: r.client_secret.clone(),
            auth_method: AuthMethod::from_name(&r.auth_method).unwrap_or(fallback),
        }
    }
}

/// The AS's `token_endpoint_auth_methods_supported`, with RFC 8414's default
/// (`client_secret_basic`) when absent.
fn supported(meta: &AsMetadata) -> Vec<String> {
    meta.token_auth_methods
        .clone()
        .unwrap_or_else(|| vec!["client_secret_basic".to_owned()])
}

/// Pre-registered credentials from the context, authenticating with the first
/// method the AS lists that fits them (a secret: Basic or post; none: `none`).
pub(crate) fn pre_registered(ctx: &Context, meta: &AsMetadata) -> Option<Client> {
    let client_id = ctx.client_id.clone()?;
    let has_secret = ctx.client_secret.is_some();
    let usable = |m: &AuthMethod| match m {
        AuthMethod::SecretBasic | AuthMethod::SecretPost => has_secret,
        AuthMethod::None => !has_secret,
        AuthMethod::PrivateKeyJwt => false,
    };
    let auth_method = supported(meta)
        .iter()
        .filter_map(|n| AuthMethod::from_name(n))
        .find(usable)
        .unwrap_or(if has_secret {
            AuthMethod::SecretBasic
        } else {
            AuthMethod::None
        });
    Some(Client {
        client_id,
        client_secret: ctx.client_secret.clone(),
        auth_method,
    })
}

/// The context's client ID metadata document URL as `client_id`, where the AS
/// supports them (a public client: `none`).
pub(crate) fn metadata_document(ctx: &Context, meta: &AsMetadata) -> Option<Client> {
    let url = ctx.client_metadata_url.as_deref()?;
    let https = url::Url::parse(url).is_ok_and(|u| u.scheme() == "https");
    (meta.cimd_supported && https).then(|| Client {
        client_id: url.to_owned(),
        client_secret: None,
        auth_method: AuthMethod::None,
    })
}

/// The method asked for at registration: `none` where the AS allows it (or
/// says nothing), else the first secret method it lists.
fn requested_method(meta: &AsMetadata) -> &'static str {
    let Some(list) = &meta.token_auth_methods else {
        return "none";
    };
    if list.iter().any(|m| m == "none") {
        return "none";
    }
    list.iter()
        .filter_map(|n| AuthMethod::from_name(n))
        .find(|m| matches!(m, AuthMethod::SecretBasic | AuthMethod::SecretPost))
        .map_or("none", AuthMethod::name)
}

/// Registers at the AS's `registration_endpoint` (RFC 7591 §3.1) with the
/// loopback `redirect_uri`; `with_refresh` (false under the
/// `no-refresh-grant-type` fault) lists the `refresh_token` grant type.
pub(crate) async fn register(
    http: &Http,
    meta: &AsMetadata,
    redirect_uri: &str,
    with_refresh: bool,
) -> Result<Registration, CliError> {
    let raw = meta.registration_endpoint.as_deref().ok_or_else(|| {
        CliError::failure(
            "the authorization server offers no dynamic registration and no client is configured \
             (give client_id in MCP_CONFORMANCE_CONTEXT)",
        )
    })?;
    let endpoint = urls::endpoint(raw, "registration endpoint").map_err(CliError::failure)?;
    let method = requested_method(meta);
    let grant_types: &[&str] = if with_refresh {
        &["authorization_code", "refresh_token"]
    } else {
        &["authorization_code"]
    };
    let body = json!({
        "redirect_uris": [redirect_uri],
                "grant_types": grant_types,
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
        "client_name": CLIENT_NAME,
        "application_type": "native",
    });
    let reply = http.post_json(&endpoint, &body).await?;
    let client_id = reply.str("client_id").filter(|_| reply.ok());
    let Some(client_id) = client_id else {
        return Err(CliError::failure(format!(
            "dynamic client registration failed: {}",
            reply.oauth_error()
        )));
    };
    Ok(Registration {
        issuer: meta.issuer.clone(),
        client_id: client_id.to_owned(),
        client_secret: reply.str("client_secret").map(str::to_owned),
        auth_method: reply
            .str("token_endpoint_auth_method")
            .unwrap_or(method)
            .to_owned(),
        redirect_uri: redirect_uri.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(methods: Option<&[&str]>) -> AsMetadata {
        AsMetadata {
            issuer: "https://as.test".into(),
            token_auth_methods: methods.map(|m| m.iter().map(|s| s.to_string()).collect()),
            ..AsMetadata::default()
        }
    }

    fn ctx(secret: Option<&str>) -> Context {
        Context {
            client_id: Some("pre-1".into()),
            client_secret: secret.map(str::to_owned),
            ..Context::default()
        }
    }

    #[test]
    fn pre_registered_method_follows_the_as() {
        let m = |methods, secret| {
            pre_registered(&ctx(secret), &meta(methods))
                .unwrap()
                .auth_method
        };
        assert_eq!(
            m(Some(&["client_secret_basic"][..]), Some("s")),
            AuthMethod::SecretBasic
        );
        assert_eq!(
            m(
                Some(&["client_secret_post", "client_secret_basic"][..]),
                Some("s")
            ),
            AuthMethod::SecretPost
        );
        assert_eq!(
            m(Some(&["none", "client_secret_post"][..]), Some("s")),
            AuthMethod::SecretPost
        );
        assert_eq!(m(None, Some("s")), AuthMethod::SecretBasic);
        assert_eq!(m(Some(&["none"][..]), None), AuthMethod::None);
        assert_eq!(
            m(Some(&["client_secret_basic"][..]), None),
            AuthMethod::None
        );
        assert!(pre_registered(&Context::default(), &meta(None)).is_none());
    }

    #[test]
    fn metadata_document_needs_support_and_https() {
        let mut c = Context {
            client_metadata_url: Some("https://client.test/cimd.json".into()),
            ..Context::default()
        };
        let mut m = meta(None);
        assert!(metadata_document(&c, &m).is_none());
        m.cimd_supported = true;
        assert_eq!(
            metadata_document(&c, &m).unwrap().client_id,
            "https://client.test/cimd.json"
        );
        c.client_metadata_url = Some("http://client.test/cimd.json".into());
        assert!(metadata_document(&c, &m).is_none());
    }

    #[test]
    fn registration_asks_for_what_the_as_allows() {
        assert_eq!(requested_method(&meta(None)), "none");
        assert_eq!(
            requested_method(&meta(Some(&["client_secret_basic", "none"]))),
            "none"
        );
        assert_eq!(
            requested_method(&meta(Some(&["client_secret_post"]))),
            "client_secret_post"
        );
    }

    #[test]
    fn stored_registration_becomes_a_client() {
        let reg = Registration {
            issuer: "i".into(),
            client_id: "c".into(),
            client_secret: Some("s".into()),
            auth_method: "weird".into(),
            redirect_uri: "r".into(),
        };
        assert_eq!(Client::from(&reg).auth_method, AuthMethod::SecretBasic);
    }
}
