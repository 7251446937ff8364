//! `GET /authorize`: RFC 6749 §4.1.1 with PKCE (RFC 7636), resource
//! indicators (RFC 8707) and the `iss` response parameter (RFC 9207).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{Client, Code, Consent, Shared};
use crate::journal::Outcome;
use crate::oauth::{Form, OAuthError, html_page, random_token};

/// A redirect to the client with the given parameters appended to the
/// redirect URI's query.
fn redirect(redirect_uri: &str, params: &[(&str, &str)], outcome: &str) -> Response {
    let location = match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (name, value) in params {
                    query.append_pair(name, value);
                }
            }
            url.to_string()
        }
        // Registered URIs are validated, so this is unreachable in practice;
        // never redirect somewhere unparseable.
        Err(_) => {
            return html_page(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the registered redirect_uri is not a valid URI",
                "invalid_request",
            );
        }
    };
    let mut response = (
        StatusCode::FOUND,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .extensions_mut()
        .insert(Outcome(outcome.to_owned()));
    response
}

/// An error redirected to the (validated) redirect URI.
fn redirect_error(
    redirect_uri: &str,
    error: &OAuthError,
    state: Option<&str>,
    issuer: &str,
) -> Response {
    let mut params = vec![
        ("error", error.error),
        ("error_description", error.description.as_str()),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", issuer));
    redirect(redirect_uri, &params, error.error)
}

/// The PKCE challenge of an authorization request, as RFC 7636 §4.4.1
/// requires: present, `S256` and a well-formed digest.
fn strict_challenge(form: &Form) -> Result<&str, OAuthError> {
    let challenge = form.one("code_challenge")?.ok_or_else(|| {
        OAuthError::invalid_request("code_challenge is required (PKCE, RFC 7636)")
    })?;
    match form.one("code_challenge_method")? {
        Some("S256") => {}
        Some(other) => {
            return Err(OAuthError::invalid_request(format!(
                "code_challenge_method `{other}` is not supported (only S256)"
            )));
        }
        None => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method is missing, which means `plain`: only S256 is supported",
            ));
        }
    }
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(OAuthError::invalid_request(
            "code_challenge is not a base64url SHA-256 digest (43 characters)",
        ));
    }
    Ok(challenge)
}

/// [`super::Lenience::loopback_any_authority`]: `registered` and `requested`
/// are `http` URIs whose authorities both mention a loopback host, with the
/// same path and query (the authority itself is never parsed, as a careless
/// port exception written with string operations would not).
fn loopback_authority_ignored(registered: &str, requested: &str) -> bool {
    fn split(uri: &str) -> Option<(&str, &str, &str)> {
        let (scheme, rest) = uri.split_once("://")?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        Some((scheme, &rest[..end], &rest[end..]))
    }
    let loopback = |authority: &str| {
        ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .any(|host| authority.contains(host))
    };
    match (split(registered), split(requested)) {
        (Some(("http", a, rest)), Some(("http", b, other))) => {
            loopback(a) && loopback(b) && rest == other
        }
        _ => false,
    }
}

/// The client and the redirect URI of an authorization request, checked: failures here are never
/// redirected (RFC 6749 §4.1.2.1), so they come back as the error page. The flag says whether the request
/// named the redirect URI.
fn client_and_redirect(
    shared: &Shared,
    form: &Form,
) -> Result<(String, Client, String, bool), OAuthError> {
    let Some(client_id) = form.one("client_id")? else {
        return Err(OAuthError::invalid_request("missing client_id"));
    };
    let Some(client) = shared.grants().clients.get(client_id).cloned() else {
        return Err(OAuthError::bad(
            "invalid_client",
            format!("unknown client_id `{client_id}`"),
        ));
    };
    let (redirect_uri, explicit) = match form.one("redirect_uri")? {
        Some(uri) => {
            let loose = shared.lenience.loose_redirect_match;
            let any_authority = shared.lenience.loopback_any_authority;
            if !client.redirect_uris.iter().any(|r| {
                r == uri
                    || (loose && uri.starts_with(r.as_str()))
                    || (any_authority && loopback_authority_ignored(r, uri))
            }) {
                return Err(OAuthError::invalid_request(format!(
                    "redirect_uri `{uri}` is not registered for client `{client_id}` (exact match required)"
                )));
            }
            (uri.to_owned(), true)
        }
        None => match client.redirect_uris.as_slice() {
            [only] => (only.clone(), false),
            [] => {
                return Err(OAuthError::invalid_request(
                    "the client has no registered redirect_uri",
                ));
            }
            _ => {
                return Err(OAuthError::invalid_request(
                    "redirect_uri is required: the client registered several",
                ));
            }
        },
    };
    Ok((client_id.to_owned(), client, redirect_uri, explicit))
}

/// The rest of an authorization request, checked (errors are redirected to the client): the PKCE
/// challenge, the scope and the resources.
fn checked_request(
    shared: &Shared,
    form: &Form,
    client: &Client,
) -> Result<(String, String, Vec<String>), OAuthError> {
    for name in [
        "response_type",
        "code_challenge",
        "code_challenge_method",
        "scope",
        "response_mode",
        "nonce",
    ] {
        form.one(name)?;
    }
    match form.required("response_type")? {
        "code" => {}
        other => {
            return Err(OAuthError::bad(
                "unsupported_response_type",
                format!("response_type `{other}` is not supported (only `code`)"),
            ));
        }
    }
    if let Some(mode) = form.one("response_mode")?
        && mode != "query"
    {
        return Err(OAuthError::invalid_request(format!(
            "response_mode `{mode}` is not supported (only `query`)"
        )));
    }
    client.require_grant("authorization_code")?;
    let challenge = if shared.lenience.pkce_optional {
        // Careless AS: whatever PKCE the client sent (or none) is taken
        // as is, and the token endpoint does not check the verifier.
        form.one("code_challenge")?.unwrap_or_default()
    } else {
        strict_challenge(form)?
    };
    let scope = match form.one("scope")? {
        Some(scope) if !shared.scope_allowed(scope) => {
            return Err(OAuthError::bad(
                "invalid_scope",
                format!("scope `{scope}` is not within scopes_supported"),
            ));
        }
        Some(scope) => scope.to_owned(),
        None => shared.scopes_supported.join(" "),
    };
    let resources = shared.requested_resources(form, &[])?;
    Ok((challenge.to_owned(), scope, resources))
}

pub(super) async fn authorize(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    let form = Form::parse(query.unwrap_or_default().as_bytes());
    let (client_id, client, redirect_uri, redirect_explicit) =
        match client_and_redirect(&shared, &form) {
            Ok(checked) => checked,
            Err(error) => {
                return html_page(
                    StatusCode::BAD_REQUEST,
                    &format!("authorization error: {}", error.error),
                    &error.description,
                    error.error,
                );
            }
        };

    // Everything else is reported to the client by redirect.
    let state = match form.one("state") {
        Ok(state) => state.map(str::to_owned),
        Err(e) => return redirect_error(&redirect_uri, &e, None, &shared.issuer),
    };
    let fail = |e: OAuthError| redirect_error(&redirect_uri, &e, state.as_deref(), &shared.issuer);
    let (challenge, scope, resources) = match checked_request(&shared, &form, &client) {
        Ok(values) => values,
        Err(e) => return fail(e),
    };

    // The scripted resource owner.
    let consent = *shared.consent.lock().unwrap_or_else(|e| e.into_inner());
    match consent {
        Consent::Approve => {}
        Consent::Delay(delay) => tokio::time::sleep(delay).await,
        Consent::Deny => {
            return fail(OAuthError::bad(
                "access_denied",
                "the resource owner denied the request",
            ));
        }
    }

    let code = random_token(32);
    shared.grants().codes.insert(
        code.clone(),
        Code {
            client_id,
            redirect_uri: redirect_uri.clone(),
            redirect_explicit,
            challenge,
            scope,
            resources,
            subject: shared.subject.clone(),
            expires: Instant::now() + shared.code_lifetime,
            consumed: false,
            family: None,
        },
    );
    let mut params = vec![("code", code.as_str())];
    if let Some(state) = state.as_deref() {
        params.push(("state", state));
    }
    params.push(("iss", shared.issuer.as_str()));
    redirect(&redirect_uri, &params, "code_issued")
}
