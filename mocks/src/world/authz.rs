//! The world's authorization server: metadata at the places the script names, an authorization endpoint that
//! approves at once, a token endpoint (authorization code with PKCE checked, rotating refresh tokens, client
//! credentials with a secret or an ES256 assertion) and RFC 7591 registration.

use super::record::{ClientAuth, Pkce, basic_pair, status};
use super::{AsPlace, CallbackState, KnownClient, Role, Shared, State, WorldRequest};
use axum::http::{self, request::Parts};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::HashMap;

/// What the AS of one side remembers.
#[derive(Default)]
pub(crate) struct Side {
    clients: HashMap<String, KnownClient>,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Issued>,
    refresh: HashMap<String, Issued>,
}

#[derive(Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: Option<(String, String)>,
    scope: Option<String>,
}

/// An access or refresh token.
#[derive(Clone)]
pub(crate) struct Issued {
    pub(crate) scope: Option<String>,
    pub(crate) alive: bool,
    client_id: String,
}

impl Side {
    pub(crate) fn knows_token(&self, t: &str) -> bool {
        self.tokens.contains_key(t)
    }

    /// The live access token `t`, if this side issued it.
    pub(crate) fn token(&self, t: &str) -> Option<&Issued> {
        self.tokens.get(t)
    }

    /// Kills access token `t`.
    pub(crate) fn expire(&mut self, t: &str) {
        if let Some(i) = self.tokens.get_mut(t) {
            i.alive = false;
        }
    }
}

/// The path under which side `i`'s AS serves its endpoints (`/tenant1`, or `""`).
fn base_path(w: &Shared) -> &str {
    if legacy(w) {
        ""
    } else {
        &w.config.authz.issuer_path
    }
}

pub(crate) fn legacy(w: &Shared) -> bool {
    w.config.authz.endpoints_on_rs
}

/// Whether side `i`'s AS serves metadata at `path`.
fn metadata_path(w: &Shared, path: &str) -> bool {
    let t = &w.config.authz.issuer_path;
    w.config.authz.metadata_at.iter().any(|p| match p {
        AsPlace::OAuth => path == format!("/.well-known/oauth-authorization-server{t}"),
        AsPlace::OidcInserted => path == format!("/.well-known/openid-configuration{t}"),
        AsPlace::OidcAppended => path == format!("{t}/.well-known/openid-configuration"),
        AsPlace::LegacyOnRs => path == "/.well-known/oauth-authorization-server",
    })
}

/// The metadata of side `i`.
fn metadata(w: &Shared, i: usize) -> Value {
    let iss = w.issuer(i);
    let mut m = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "registration_endpoint": format!("{iss}/register"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
        "authorization_response_iss_parameter_supported": true,
        // Required by OpenID Connect Discovery 1.0 §3, harmless in RFC 8414 metadata: the same document is
        // served at both kinds of URL.
        "jwks_uri": format!("{iss}/jwks"),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    });
    let map = m.as_object_mut().expect("object");
    w.expand_map(i, map, &w.config.authz.metadata_set);
    for k in &w.config.authz.metadata_remove {
        map.remove(k);
    }
    m
}

/// Handles a request to side `i`'s AS (or, in the legacy layout, to the RS's AS paths).
pub(crate) fn handle(
    w: &Shared,
    st: &mut State,
    i: usize,
    parts: &Parts,
    rec: &mut WorldRequest,
) -> Response {
    let path = parts.uri.path();
    if parts.method == http::Method::GET && metadata_path(w, path) {
        if let Some(to) = &w.config.authz.metadata_redirect {
            rec.note = Some("redirected".into());
            let to = w.expand(i, to);
            return (http::StatusCode::FOUND, [(http::header::LOCATION, to)]).into_response();
        }
        return axum::Json(metadata(w, i)).into_response();
    }
    let Some(endpoint) = path.strip_prefix(base_path(w)) else {
        return status(404, r#"{"error":"not_found"}"#);
    };
    match (parts.method.as_str(), endpoint) {
        ("GET", "/authorize") => authorize(w, st, i, rec),
        ("POST", "/token") => token(w, st, i, rec),
        ("POST", "/register") => register(w, st, i, rec),
        ("GET", "/jwks") => axum::Json(json!({ "keys": [] })).into_response(),
        _ => status(404, r#"{"error":"not_found"}"#),
    }
}

fn client(w: &Shared, st: &State, i: usize, id: &str) -> Option<KnownClient> {
    if let Some(c) = w.config.authz.clients.iter().find(|c| c.id == id) {
        return Some(c.clone());
    }
    if let Some(c) = st.sides[i].clients.get(id) {
        return Some(c.clone());
    }
    (w.config.authz.cimd && id.starts_with("https://")).then(|| KnownClient {
        id: id.to_owned(),
        secret: None,
        method: "none".into(),
        public_key: None,
    })
}

fn authorize(w: &Shared, st: &mut State, i: usize, rec: &mut WorldRequest) -> Response {
    let p = |n: &str| rec.param(n).map(str::to_owned);
    let (Some(client_id), Some(redirect)) = (p("client_id"), p("redirect_uri")) else {
        rec.note = Some("no client_id or redirect_uri".into());
        return status(400, r#"{"error":"invalid_request"}"#);
    };
    if client(w, st, i, &client_id).is_none() {
        rec.note = Some("unknown client".into());
        return status(400, r#"{"error":"invalid_client"}"#);
    }
    let challenge = p("code_challenge").map(|c| {
        let m = p("code_challenge_method").unwrap_or_else(|| "plain".into());
        (c, m)
    });
    let grant = Grant {
        client_id,
        redirect_uri: redirect.clone(),
        challenge,
        scope: p("scope"),
    };
    let code = new_code(st, i, &grant);
    // With a tampered `state`, a second code for the same grant goes to the user agent (only), which
    // delivers it with the right `state` after the tampered callback: the journal tells the two apart.
    let right =
        (w.config.authz.callback_state != CallbackState::Echo).then(|| new_code(st, i, &grant));
    let mut target = url::Url::parse(&redirect)
        .unwrap_or_else(|_| url::Url::parse("http://127.0.0.1/invalid-redirect").expect("url"));
    {
        let mut q = target.query_pairs_mut();
        q.append_pair("code", &code);
        match (w.config.authz.callback_state, p("state")) {
            (CallbackState::Echo, Some(s)) => {
                q.append_pair("state", &s);
            }
            (CallbackState::Wrong, _) => {
                q.append_pair("state", "tampered-state-from-an-attacker");
            }
            _ => {}
        }
        q.append_pair("iss", &w.issuer(i));
    }
    let mut resp = (
        http::StatusCode::FOUND,
        [(http::header::LOCATION, target.to_string())],
    )
        .into_response();
    if let Some(v) = right.and_then(|c| http::HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().insert(RIGHT_CODE, v);
    }
    resp
}

/// The header that hands the user agent the code of the untampered callback.
pub const RIGHT_CODE: &str = "x-authconform-user-code";

fn new_code(st: &mut State, i: usize, grant: &Grant) -> String {
    let code = super::random_token("code-");
    st.labels.label("code", &code);
    st.sides[i].codes.insert(code.clone(), grant.clone());
    code
}

/// How the token request authenticated, and as whom.
fn client_auth(rec: &WorldRequest) -> (ClientAuth, Option<(String, Option<String>)>) {
    let basic = rec
        .raw_authorization()
        .and_then(|h| h.split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case("basic"))
        .and_then(|(_, v)| basic_pair(v));
    let body_secret = rec.param("client_secret").map(str::to_owned);
    let assertion = rec.param("client_assertion").is_some();
    let id = rec.param("client_id").map(str::to_owned);
    let methods = [basic.is_some(), body_secret.is_some(), assertion];
    if methods.iter().filter(|m| **m).count() > 1 {
        return (ClientAuth::Several, None);
    }
    if let Some((bid, s)) = basic {
        return (ClientAuth::ClientSecretBasic, Some((bid, Some(s))));
    }
    if assertion {
        // RFC 7523 §3: the client is the assertion's subject; `client_id` is optional beside it.
        let sub = rec
            .param("client_assertion")
            .and_then(super::assertion::subject);
        return (ClientAuth::PrivateKeyJwt, id.or(sub).map(|i| (i, None)));
    }
    if body_secret.is_some() {
        return (ClientAuth::ClientSecretPost, id.map(|i| (i, body_secret)));
    }
    (ClientAuth::None, id.map(|i| (i, None)))
}

fn token(w: &Shared, st: &mut State, i: usize, rec: &mut WorldRequest) -> Response {
    let (how, who) = client_auth(rec);
    rec.client_auth = Some(how);
    let Some((id, secret)) = who else {
        return oauth_error(401, "invalid_client", rec);
    };
    let Some(known) = client(w, st, i, &id) else {
        return oauth_error(401, "invalid_client", rec);
    };
    if !authenticated(w, &known, how, secret.as_deref(), rec, i) {
        return oauth_error(401, "invalid_client", rec);
    }
    match rec.param("grant_type").unwrap_or("") {
        "authorization_code" => code_grant(w, st, i, rec, &id),
        "refresh_token" => refresh_grant(w, st, i, rec, &id),
        "client_credentials" => {
            let scope = granted(w, rec.param("scope"));
            issue(st, i, rec, &id, scope, true)
        }
        _ => oauth_error(400, "unsupported_grant_type", rec),
    }
}

fn authenticated(
    w: &Shared,
    c: &KnownClient,
    how: ClientAuth,
    secret: Option<&str>,
    rec: &WorldRequest,
    i: usize,
) -> bool {
    match (how, &c.secret, &c.public_key) {
        (ClientAuth::None, None, None) => true,
        (ClientAuth::ClientSecretBasic | ClientAuth::ClientSecretPost, Some(s), _) => {
            secret == Some(s.as_str())
        }
        (ClientAuth::PrivateKeyJwt, _, Some(key)) => rec
            .param("client_assertion")
            .is_some_and(|a| super::assertion::verify(a, key, &c.id, &w.issuer(i))),
        _ => false,
    }
}

fn granted(w: &Shared, asked: Option<&str>) -> Option<String> {
    let asked = asked?;
    let Some(ok) = &w.config.authz.grantable else {
        return Some(asked.to_owned());
    };
    let kept: Vec<&str> = asked
        .split(' ')
        .filter(|s| ok.iter().any(|o| o == s))
        .collect();
    Some(kept.join(" "))
}

fn code_grant(w: &Shared, st: &mut State, i: usize, rec: &mut WorldRequest, id: &str) -> Response {
    let code = rec.param("code").unwrap_or("").to_owned();
    let Some(grant) = st.sides[i].codes.remove(&code) else {
        return oauth_error(400, "invalid_grant", rec);
    };
    if grant.client_id != id || rec.param("redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return oauth_error(400, "invalid_grant", rec);
    }
    rec.pkce = Some(pkce(&grant, rec.param("code_verifier")));
    let scope = granted(w, grant.scope.as_deref());
    issue(st, i, rec, id, scope, true)
}

fn pkce(grant: &Grant, verifier: Option<&str>) -> Pkce {
    let Some((challenge, method)) = &grant.challenge else {
        return Pkce::NoChallenge;
    };
    let Some(v) = verifier else {
        return Pkce::NoVerifier;
    };
    if method != "S256" {
        return Pkce::Plain;
    }
    let unreserved = v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !(43..=128).contains(&v.len()) || !unreserved {
        return Pkce::BadVerifier;
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, v.as_bytes());
    if URL_SAFE_NO_PAD.encode(digest.as_ref()) == *challenge {
        Pkce::S256Verified
    } else {
        Pkce::Mismatch
    }
}

fn refresh_grant(
    w: &Shared,
    st: &mut State,
    i: usize,
    rec: &mut WorldRequest,
    id: &str,
) -> Response {
    let rt = rec.param("refresh_token").unwrap_or("").to_owned();
    let Some(old) = st.sides[i].refresh.remove(&rt) else {
        return oauth_error(400, "invalid_grant", rec);
    };
    if old.client_id != id {
        return oauth_error(400, "invalid_grant", rec);
    }
    let scope = rec
        .param("scope")
        .map(str::to_owned)
        .or(old.scope)
        .and_then(|s| granted(w, Some(&s)));
    issue(st, i, rec, id, scope, true)
}

fn issue(
    st: &mut State,
    i: usize,
    rec: &mut WorldRequest,
    client_id: &str,
    scope: Option<String>,
    refresh: bool,
) -> Response {
    let at = super::random_token("at-");
    let label = st.labels.label("at", &at);
    let issued = Issued {
        scope: scope.clone(),
        alive: true,
        client_id: client_id.to_owned(),
    };
    st.sides[i].tokens.insert(at.clone(), issued.clone());
    let mut body = json!({"access_token": at, "token_type": "Bearer", "expires_in": 3600});
    if let Some(s) = &scope {
        body["scope"] = json!(s);
    }
    let grant = rec.param("grant_type").unwrap_or("");
    if refresh && grant != "client_credentials" {
        let rt = super::random_token("rt-");
        st.labels.label("rt", &rt);
        st.sides[i].refresh.insert(rt.clone(), issued);
        body["refresh_token"] = json!(rt);
    }
    rec.scope = scope;
    rec.note = Some(format!("issued {label}"));
    (
        [(http::header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}

fn oauth_error(code: u16, error: &str, rec: &mut WorldRequest) -> Response {
    rec.note = Some(error.to_owned());
    status(code, &json!({ "error": error }).to_string())
}

fn register(w: &Shared, st: &mut State, i: usize, rec: &mut WorldRequest) -> Response {
    let uris = rec.param("redirect_uris").unwrap_or("").to_owned();
    if uris.is_empty() {
        return oauth_error(400, "invalid_redirect_uri", rec);
    }
    let method = w
        .config
        .authz
        .registration_method
        .clone()
        .unwrap_or_else(|| "none".into());
    let id = super::random_token("client-");
    st.labels.label("client", &id);
    let secret = (method != "none").then(|| {
        let s = super::random_token("secret-");
        st.labels.label("secret", &s);
        s
    });
    st.sides[i].clients.insert(
        id.clone(),
        KnownClient {
            id: id.clone(),
            secret: secret.clone(),
            method: method.clone(),
            public_key: None,
        },
    );
    let mut body = json!({
        "client_id": id,
        "redirect_uris": uris.split(' ').collect::<Vec<_>>(),
        "token_endpoint_auth_method": method,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    });
    if let Some(s) = secret {
        body["client_secret"] = json!(s);
    }
    rec.note = Some(format!("registered {}", st.labels.known(&id).unwrap_or("")));
    (http::StatusCode::CREATED, axum::Json(body)).into_response()
}

/// Whether side `i`'s AS issued live token `t`, with its scope.
pub(crate) fn check_token(st: &State, i: usize, t: &str) -> Option<(bool, Option<String>)> {
    st.sides[i].token(t).map(|x| (x.alive, x.scope.clone()))
}

/// The role name of the AS that issued `t`, if any.
pub(crate) fn issuer_of(st: &State, t: &str) -> Option<&'static str> {
    (0..2)
        .find(|&i| st.sides[i].knows_token(t))
        .map(|i| Role::Authz(i).name())
}
