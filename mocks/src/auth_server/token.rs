//! `POST /token` (RFC 6749 §4.1.3, §4.4, §6; RFC 7636 §4.6; RFC 8707),
//! `POST /introspect` (RFC 7662) and `POST /revoke` (RFC 7009), with client
//! authentication (RFC 6749 §2.3).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::device::{Arrival, device_code};
use super::{AuthMethod, Client, Code, Family, Grants, Issued, Refresh, Shared};
use crate::device::DEVICE_CODE_GRANT;
use crate::journal::Outcome;
use crate::oauth::{
    Form, HeaderCredentials, OAuthError, form_body, header_credentials, json_no_store,
    random_token, s256_challenge, secret_eq, valid_verifier,
};
use crate::token::Signer;

/// Who is calling, after authentication.
pub(super) struct Caller {
    pub(super) client_id: String,
    pub(super) client: Client,
    /// Whether the client proved possession of a secret.
    pub(super) authenticated: bool,
}

/// RFC 6749 §2.3: authenticate (confidential) or identify (public) the
/// client. Every failure is `invalid_client` (401 with a Basic challenge)
/// except using two methods at once, which is `invalid_request`.
pub(super) fn authenticate(
    grants: &Grants,
    headers: &HeaderMap,
    form: &Form,
) -> Result<Caller, OAuthError> {
    let body_id = form.one("client_id")?;
    let body_secret = form.one("client_secret")?;
    let (client_id, secret, via) = match header_credentials(headers)? {
        HeaderCredentials::Basic { client_id, secret } => {
            if body_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "the client used more than one authentication method (Basic and client_secret)",
                ));
            }
            if body_id.is_some_and(|id| id != client_id) {
                return Err(OAuthError::invalid_client(
                    "client_id in the body differs from the Basic credentials",
                ));
            }
            (client_id, Some(secret), AuthMethod::Basic)
        }
        HeaderCredentials::None => match (body_id, body_secret) {
            (Some(id), Some(secret)) => (id.to_owned(), Some(secret.to_owned()), AuthMethod::Post),
            (Some(id), None) => (id.to_owned(), None, AuthMethod::None),
            (None, _) => {
                return Err(OAuthError::invalid_client(
                    "no client authentication and no client_id",
                ));
            }
        },
    };
    let client = grants
        .clients
        .get(&client_id)
        .cloned()
        .ok_or_else(|| OAuthError::invalid_client(format!("unknown client `{client_id}`")))?;
    let authenticated = match (&client.secret, secret) {
        (None, None) => false,
        (None, Some(_)) => {
            return Err(OAuthError::invalid_client(
                "a public client sent a client secret",
            ));
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_client(
                "client authentication is required for this confidential client",
            ));
        }
        (Some(expected), Some(given)) => {
            let method_ok = match client.method {
                AuthMethod::BasicOrPost => matches!(via, AuthMethod::Basic | AuthMethod::Post),
                registered => registered == via,
            };
            if !method_ok {
                return Err(OAuthError::invalid_client(
                    "the client used a different authentication method than it registered",
                ));
            }
            if !secret_eq(expected, &given) {
                return Err(OAuthError::invalid_client("client authentication failed"));
            }
            true
        }
    };
    Ok(Caller {
        client_id,
        client,
        authenticated,
    })
}

fn token_response(
    access_token: &str,
    expires_in: u64,
    refresh_token: Option<&str>,
    scope: &str,
) -> Response {
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
    });
    if let Some(rt) = refresh_token {
        body["refresh_token"] = Value::from(rt);
    }
    if !scope.is_empty() {
        body["scope"] = Value::from(scope);
    }
    json_no_store(StatusCode::OK, body, "token_issued")
}

/// A requested scope, which must be a subset of `granted`.
fn narrowed_scope(form: &Form, granted: &str) -> Result<String, OAuthError> {
    match form.one("scope")? {
        None => Ok(granted.to_owned()),
        Some(scope) => {
            let granted: Vec<&str> = granted.split(' ').collect();
            if scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .all(|s| granted.contains(&s))
            {
                Ok(scope.to_owned())
            } else {
                Err(OAuthError::bad(
                    "invalid_scope",
                    format!("scope `{scope}` exceeds the granted scope"),
                ))
            }
        }
    }
}

pub(super) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let arrival = Arrival {
        instant: Instant::now(),
        at: SystemTime::now(),
    };
    match token_inner(&shared, &headers, &body, arrival) {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

fn token_inner(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    arrival: Arrival,
) -> Result<Response, OAuthError> {
    let form = form_body(headers, body)?;
    let issued = {
        let mut grants = shared.grants();
        let grant_type = form.required("grant_type")?.to_owned();
        let caller = authenticate(&grants, headers, &form)?;
        match grant_type.as_str() {
            "authorization_code" => authorization_code(shared, &mut grants, &form, &caller),
            "refresh_token" => refresh_token(shared, &mut grants, &form, &caller),
            "client_credentials" => client_credentials(shared, &mut grants, &form, &caller),
            DEVICE_CODE_GRANT => device_code(shared, &mut grants, &form, &caller, arrival),
            other => Err(OAuthError::bad(
                "unsupported_grant_type",
                format!("grant_type `{other}` is not supported"),
            )),
        }?
    };
    // Sign outside the lock: signing (RS256 especially) is the costly part.
    let access = shared.sign(&issued.claims, Signer::Trusted).map_err(|_| {
        OAuthError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "signing the access token failed",
        )
    })?;
    Ok(token_response(
        &access,
        issued.expires_in,
        issued.refresh_token.as_deref(),
        &issued.scope,
    ))
}

/// RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.6): redeem an authorization code
/// for an access token and, if the client may refresh, a refresh token.
fn authorization_code(
    shared: &Shared,
    grants: &mut Grants,
    form: &Form,
    caller: &Caller,
) -> Result<Issued, OAuthError> {
    caller.client.require_grant("authorization_code")?;
    let code_value = form.required("code")?;
    let verifier = form.one("code_verifier")?;
    let redirect_uri = form.one("redirect_uri")?;
    let code = consume_code(grants, code_value)?;
    check_code(&code, caller, redirect_uri)?;
    if !shared.lenience.pkce_optional {
        check_verifier(&code, verifier)?;
    }
    let resources = shared.requested_resources(form, &code.resources)?;
    let resources = if resources.is_empty() {
        code.resources.clone()
    } else {
        resources
    };
    let scope = narrowed_scope(form, &code.scope)?;
    issue_from_code(shared, grants, caller, code_value, &code, scope, resources)
}

/// Look up and mark the code consumed, returning a copy of it. Redeeming an
/// already consumed code is a replay: everything issued from it is revoked
/// (OAuth 2.1 §4.1.3).
fn consume_code(grants: &mut Grants, code_value: &str) -> Result<Code, OAuthError> {
    let Some(code) = grants.codes.get_mut(code_value) else {
        return Err(OAuthError::invalid_grant("unknown authorization code"));
    };
    if code.consumed {
        let family = code.family;
        if let Some(family) = family {
            grants.revoke_family(family);
        }
        return Err(OAuthError::invalid_grant(
            "authorization code already used; tokens issued from it are revoked",
        ));
    }
    code.consumed = true;
    Ok(code.clone())
}

/// The code must belong to the caller, be unexpired, and be redeemed with
/// the redirect URI of the authorization request (required if that request
/// named one).
fn check_code(code: &Code, caller: &Caller, redirect_uri: Option<&str>) -> Result<(), OAuthError> {
    if code.client_id != caller.client_id {
        return Err(OAuthError::invalid_grant(
            "authorization code was issued to another client",
        ));
    }
    if Instant::now() >= code.expires {
        return Err(OAuthError::invalid_grant("authorization code expired"));
    }
    match redirect_uri {
        Some(uri) if uri != code.redirect_uri => Err(OAuthError::invalid_grant(
            "redirect_uri differs from the authorization request",
        )),
        None if code.redirect_explicit => Err(OAuthError::invalid_grant(
            "redirect_uri is required: the authorization request included it",
        )),
        _ => Ok(()),
    }
}

/// PKCE (RFC 7636 §4.6): a well-formed `code_verifier` whose S256 challenge
/// matches the one stored with the code is required.
fn check_verifier(code: &Code, verifier: Option<&str>) -> Result<(), OAuthError> {
    let Some(verifier) = verifier else {
        return Err(OAuthError::invalid_grant(
            "code_verifier is required (PKCE, RFC 7636)",
        ));
    };
    if !valid_verifier(verifier) || !secret_eq(&s256_challenge(verifier), &code.challenge) {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    Ok(())
}

/// Start a token family for the redeemed code (recorded on the code, so a
/// replay can revoke it) and issue its access token, plus a refresh token
/// if the client is allowed the `refresh_token` grant.
fn issue_from_code(
    shared: &Shared,
    grants: &mut Grants,
    caller: &Caller,
    code_value: &str,
    code: &Code,
    scope: String,
    resources: Vec<String>,
) -> Result<Issued, OAuthError> {
    let family = grants.new_family(Family {
        client_id: caller.client_id.clone(),
        subject: code.subject.clone(),
        scope: scope.clone(),
        resources: resources.clone(),
        revoked: false,
        jtis: Vec::new(),
    });
    if let Some(stored) = grants.codes.get_mut(code_value) {
        stored.family = Some(family);
    }
    let mut issued = shared.access_token_claims(grants, family, &scope, &resources)?;
    issued.refresh_token = caller.client.allows("refresh_token").then(|| {
        let rt = random_token(32);
        grants.refresh.insert(
            rt.clone(),
            Refresh {
                family,
                superseded: false,
            },
        );
        rt
    });
    Ok(issued)
}

fn refresh_token(
    shared: &Shared,
    grants: &mut Grants,
    form: &Form,
    caller: &Caller,
) -> Result<Issued, OAuthError> {
    caller.client.require_grant("refresh_token")?;
    let presented = form.required("refresh_token")?;
    let Some(record) = grants.refresh.get(presented).cloned() else {
        return Err(OAuthError::invalid_grant("unknown refresh token"));
    };
    let Some(family) = grants.families.get(&record.family).cloned() else {
        return Err(OAuthError::invalid_grant("unknown refresh token"));
    };
    if family.client_id != caller.client_id {
        return Err(OAuthError::invalid_grant(
            "refresh token was issued to another client",
        ));
    }
    if family.revoked {
        return Err(OAuthError::invalid_grant("refresh token revoked"));
    }
    if record.superseded {
        grants.revoke_family(record.family);
        return Err(OAuthError::invalid_grant(
            "refresh token already used (rotated); the token family is revoked",
        ));
    }
    let scope = narrowed_scope(form, &family.scope)?;
    let resources = shared.requested_resources(form, &family.resources)?;
    let rotate = !shared.lenience.no_refresh_rotation;
    if rotate && let Some(r) = grants.refresh.get_mut(presented) {
        r.superseded = true;
    }
    // The new access token may be narrower than the grant; the grant (and
    // so later refreshes) keeps its full scope and resources.
    let resources = if resources.is_empty() {
        family.resources.clone()
    } else {
        resources
    };
    let mut issued = shared.access_token_claims(grants, record.family, &scope, &resources)?;
    if !rotate {
        // Careless AS: the same refresh token again, still usable.
        issued.refresh_token = Some(presented.to_owned());
        return Ok(issued);
    }
    let rt = random_token(32);
    grants.refresh.insert(
        rt.clone(),
        Refresh {
            family: record.family,
            superseded: false,
        },
    );
    issued.refresh_token = Some(rt);
    Ok(issued)
}

fn client_credentials(
    shared: &Shared,
    grants: &mut Grants,
    form: &Form,
    caller: &Caller,
) -> Result<Issued, OAuthError> {
    if !caller.authenticated || !caller.client.allows("client_credentials") {
        return Err(OAuthError::bad(
            "unauthorized_client",
            "client_credentials needs a confidential client registered for it",
        ));
    }
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
    let family = grants.new_family(Family {
        client_id: caller.client_id.clone(),
        subject: caller.client_id.clone(),
        scope: scope.clone(),
        resources: resources.clone(),
        revoked: false,
        jtis: Vec::new(),
    });
    shared.access_token_claims(grants, family, &scope, &resources)
}

pub(super) async fn introspect(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = (|| -> Result<Response, OAuthError> {
        let form = form_body(&headers, &body)?;
        let grants = shared.grants();
        let caller = authenticate(&grants, &headers, &form)?;
        if !caller.authenticated && !shared.public_introspection {
            return Err(OAuthError::invalid_client(
                "introspection requires an authenticated (confidential) client",
            ));
        }
        let token = form.required("token")?;
        form.one("token_type_hint")?;
        let mut body = introspection(&shared, &grants, token);
        // A public client learns only about the tokens issued to it.
        if !caller.authenticated && body["client_id"].as_str() != Some(caller.client_id.as_str()) {
            body = json!({"active": false});
        }
        let outcome = if body["active"] == Value::Bool(true) {
            "active"
        } else {
            "inactive"
        };
        Ok(json_no_store(StatusCode::OK, body, outcome))
    })();
    result.unwrap_or_else(IntoResponse::into_response)
}

fn introspection(shared: &Shared, grants: &Grants, token: &str) -> Value {
    if let Some(record) = grants.refresh.get(token) {
        if let Some(family) = grants.families.get(&record.family)
            && !record.superseded
            && !family.revoked
        {
            return json!({
                "active": true,
                "token_type": "refresh_token",
                "client_id": family.client_id,
                "sub": family.subject,
                "scope": family.scope,
                "iss": shared.issuer,
            });
        }
        return json!({"active": false});
    }
    match shared.validate_access_token(token, &grants.revoked_jtis) {
        Some(claims) => {
            let mut out = Map::new();
            out.insert("active".into(), Value::Bool(true));
            out.insert("token_type".into(), Value::from("Bearer"));
            for (name, value) in claims {
                out.entry(name).or_insert(value);
            }
            Value::Object(out)
        }
        None => json!({"active": false}),
    }
}

pub(super) async fn revoke(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = (|| -> Result<Response, OAuthError> {
        let form = form_body(&headers, &body)?;
        let mut grants = shared.grants();
        let caller = authenticate(&grants, &headers, &form)?;
        let token = form.required("token")?;
        form.one("token_type_hint")?;
        let mut outcome = "ignored";
        if let Some(record) = grants.refresh.get(token).cloned() {
            let owner = grants
                .families
                .get(&record.family)
                .map(|f| f.client_id.clone());
            if owner.as_deref() != Some(caller.client_id.as_str()) {
                return Err(OAuthError::invalid_grant(
                    "the token was issued to another client",
                ));
            }
            // RFC 7009 §2.1: revoking a refresh token also invalidates the
            // access tokens of the same grant.
            grants.revoke_family(record.family);
            outcome = "revoked";
        } else if let Some(claims) = shared.validate_access_token(token, &grants.revoked_jtis) {
            if claims.get("client_id").and_then(Value::as_str) != Some(caller.client_id.as_str()) {
                return Err(OAuthError::invalid_grant(
                    "the token was issued to another client",
                ));
            }
            if let Some(jti) = claims.get("jti").and_then(Value::as_str) {
                grants.revoked_jtis.insert(jti.to_owned());
                outcome = "revoked";
            }
        }
        let mut response = StatusCode::OK.into_response();
        response
            .extensions_mut()
            .insert(Outcome(outcome.to_owned()));
        Ok(response)
    })();
    result.unwrap_or_else(IntoResponse::into_response)
}
