//! `POST /register`: dynamic client registration (RFC 7591).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::{AuthMethod, Client, Shared, now_secs};
use crate::oauth::{OAuthError, content_type_is, json_no_store, random_token};

const GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    crate::device::DEVICE_CODE_GRANT,
];

fn metadata_error(description: impl Into<String>) -> OAuthError {
    OAuthError::bad("invalid_client_metadata", description)
}

fn redirect_error(description: impl Into<String>) -> OAuthError {
    OAuthError::bad("invalid_redirect_uri", description)
}

/// A redirect URI is acceptable when it is an absolute `https` URI, or an
/// `http` URI on a loopback host (RFC 8252 §7.3), and has no fragment
/// (RFC 6749 §3.1.2).
pub(crate) fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let url = url::Url::parse(uri).map_err(|e| format!("`{uri}` is not an absolute URI ({e})"))?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(format!("`{uri}` has a fragment"));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" => match url.host_str() {
            Some("127.0.0.1" | "[::1]" | "localhost") => Ok(()),
            _ => Err(format!(
                "`{uri}` uses http on a non-loopback host (only https, or http on 127.0.0.1, [::1] or localhost)"
            )),
        },
        other => Err(format!(
            "`{uri}` uses the scheme `{other}` (only https or loopback http)"
        )),
    }
}

fn string_list(
    meta: &Map<String, Value>,
    name: &str,
    default: &[&str],
) -> Result<Vec<String>, OAuthError> {
    match meta.get(name) {
        None => Ok(default.iter().map(|s| (*s).to_owned()).collect()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| metadata_error(format!("`{name}` must be an array of strings")))
            })
            .collect(),
        Some(_) => Err(metadata_error(format!(
            "`{name}` must be an array of strings"
        ))),
    }
}

/// The requested `token_endpoint_auth_method` (default
/// `client_secret_basic`).
fn auth_method(meta: &Map<String, Value>) -> Result<AuthMethod, OAuthError> {
    let method = match meta.get("token_endpoint_auth_method") {
        None => "client_secret_basic",
        Some(Value::String(m)) => m.as_str(),
        Some(_) => {
            return Err(metadata_error(
                "`token_endpoint_auth_method` must be a string",
            ));
        }
    };
    match method {
        "none" => Ok(AuthMethod::None),
        "client_secret_basic" => Ok(AuthMethod::Basic),
        "client_secret_post" => Ok(AuthMethod::Post),
        other => Err(metadata_error(format!(
            "token_endpoint_auth_method `{other}` is not supported"
        ))),
    }
}

/// The requested `grant_types` and `response_types`, each supported and
/// consistent with the other and with the auth method.
fn grant_and_response_types(
    meta: &Map<String, Value>,
    method: AuthMethod,
) -> Result<(Vec<String>, Vec<String>), OAuthError> {
    let grant_types = string_list(meta, "grant_types", &["authorization_code"])?;
    if let Some(bad) = grant_types
        .iter()
        .find(|g| !GRANT_TYPES.contains(&g.as_str()))
    {
        return Err(metadata_error(format!(
            "grant type `{bad}` is not supported"
        )));
    }
    let wants_code = grant_types.iter().any(|g| g == "authorization_code");
    // Without authorization_code (e.g. a device-flow-only CLI) the default
    // response_types is empty.
    let default_response_types: &[&str] = if wants_code { &["code"] } else { &[] };
    let response_types = string_list(meta, "response_types", default_response_types)?;
    if let Some(bad) = response_types.iter().find(|r| *r != "code") {
        return Err(metadata_error(format!(
            "response type `{bad}` is not supported"
        )));
    }
    if wants_code != response_types.iter().any(|r| r == "code") {
        return Err(metadata_error(
            "grant_types and response_types are inconsistent (authorization_code goes with code)",
        ));
    }
    if method == AuthMethod::None && grant_types.iter().any(|g| g == "client_credentials") {
        return Err(metadata_error(
            "client_credentials needs a confidential client (token_endpoint_auth_method none)",
        ));
    }
    Ok((grant_types, response_types))
}

/// The requested `redirect_uris`, each acceptable; required (and non-empty)
/// when the client wants the authorization_code grant.
fn redirect_uris(
    meta: &Map<String, Value>,
    wants_code: bool,
    any: bool,
) -> Result<Vec<String>, OAuthError> {
    if any {
        // Careless AS (`Lenience::register_any_redirect`): whatever strings
        // the client sent, or none at all.
        return match meta.get("redirect_uris") {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| redirect_error("redirect_uris must hold strings"))
                })
                .collect(),
            Some(_) => Err(redirect_error("redirect_uris must be an array")),
        };
    }
    match meta.get("redirect_uris") {
        None if wants_code => Err(redirect_error(
            "redirect_uris is required for the authorization_code grant",
        )),
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            if items.is_empty() && wants_code {
                return Err(redirect_error("redirect_uris is empty"));
            }
            let mut uris = Vec::new();
            for item in items {
                let uri = item
                    .as_str()
                    .ok_or_else(|| redirect_error("redirect_uris must hold strings"))?;
                check_redirect_uri(uri).map_err(redirect_error)?;
                uris.push(uri.to_owned());
            }
            Ok(uris)
        }
        Some(_) => Err(redirect_error("redirect_uris must be an array")),
    }
}

/// A requested `scope` must be a string within scopes_supported.
fn check_scope(shared: &Shared, meta: &Map<String, Value>) -> Result<(), OAuthError> {
    if let Some(scope) = meta.get("scope") {
        let scope = scope
            .as_str()
            .ok_or_else(|| metadata_error("`scope` must be a string"))?;
        if !shared.scope_allowed(scope) {
            return Err(metadata_error(format!(
                "scope `{scope}` is not within scopes_supported"
            )));
        }
    }
    Ok(())
}

/// The informational members: names are strings, URIs are absolute, and
/// `jwks` excludes `jwks_uri`.
fn check_informational(meta: &Map<String, Value>) -> Result<(), OAuthError> {
    for name in ["client_name", "software_id", "software_version"] {
        if meta.get(name).is_some_and(|v| !v.is_string()) {
            return Err(metadata_error(format!("`{name}` must be a string")));
        }
    }
    for name in [
        "client_uri",
        "logo_uri",
        "tos_uri",
        "policy_uri",
        "jwks_uri",
    ] {
        if let Some(value) = meta.get(name) {
            let ok = value.as_str().is_some_and(|s| url::Url::parse(s).is_ok());
            if !ok {
                return Err(metadata_error(format!("`{name}` must be an absolute URI")));
            }
        }
    }
    if meta.contains_key("jwks") && meta.contains_key("jwks_uri") {
        return Err(metadata_error(
            "`jwks` and `jwks_uri` are mutually exclusive",
        ));
    }
    Ok(())
}

/// Write the registered values (defaults filled in) back into the metadata
/// the response echoes.
fn echo_registered(meta: &mut Map<String, Value>, client: &Client, response_types: Vec<String>) {
    meta.insert(
        "token_endpoint_auth_method".into(),
        Value::from(match client.method {
            AuthMethod::None => "none",
            AuthMethod::Post => "client_secret_post",
            _ => "client_secret_basic",
        }),
    );
    meta.insert(
        "grant_types".into(),
        Value::from(client.grant_types.clone()),
    );
    meta.insert("response_types".into(), Value::from(response_types));
    if !client.redirect_uris.is_empty() {
        meta.insert(
            "redirect_uris".into(),
            Value::from(client.redirect_uris.clone()),
        );
    }
}

/// Validate the client metadata and build the client; `meta` is updated to
/// what the response echoes.
fn validate(
    shared: &Shared,
    meta: &mut Map<String, Value>,
) -> Result<(Client, AuthMethod), OAuthError> {
    let method = auth_method(meta)?;
    let (grant_types, response_types) = grant_and_response_types(meta, method)?;
    let wants_code = grant_types.iter().any(|g| g == "authorization_code");
    let redirect_uris = redirect_uris(meta, wants_code, shared.lenience.register_any_redirect)?;
    check_scope(shared, meta)?;
    check_informational(meta)?;
    let client = Client {
        secret: None,
        redirect_uris,
        method,
        grant_types,
    };
    echo_registered(meta, &client, response_types);
    Ok((client, method))
}

pub(super) async fn register(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = (|| -> Result<Response, OAuthError> {
        if !content_type_is(&headers, "application/json") {
            return Err(metadata_error(
                "the registration request must be application/json",
            ));
        }
        let mut meta = match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(metadata_error("the body must be a JSON object")),
            Err(e) => return Err(metadata_error(format!("the body is not JSON: {e}"))),
        };
        // Server-assigned members are not the client's to choose.
        for name in [
            "client_id",
            "client_secret",
            "client_id_issued_at",
            "client_secret_expires_at",
        ] {
            meta.remove(name);
        }
        let (mut client, method) = validate(&shared, &mut meta)?;
        let client_id = format!("dcr-{}", random_token(12));
        meta.insert("client_id".into(), Value::from(client_id.as_str()));
        meta.insert("client_id_issued_at".into(), Value::from(now_secs()));
        if method != AuthMethod::None {
            let secret = random_token(32);
            meta.insert("client_secret".into(), Value::from(secret.as_str()));
            meta.insert("client_secret_expires_at".into(), Value::from(0));
            client.secret = Some(secret);
        }
        shared.grants().clients.insert(client_id, client);
        Ok(json_no_store(
            StatusCode::CREATED,
            Value::Object(meta),
            "registered",
        ))
    })();
    result.unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::check_redirect_uri;

    #[test]
    fn redirect_uri_rules() {
        for ok in [
            "https://app.example/cb",
            "http://127.0.0.1:33418/cb",
            "http://localhost/cb",
            "http://[::1]:8080/cb",
        ] {
            assert!(check_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "https://a.example/cb#frag",
            "http://evil.example/cb",
            "http://127.0.0.1.evil.test/cb",
            "data:text/html,x",
            "/relative",
            "",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }
}
