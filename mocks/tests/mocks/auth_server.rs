//! The mock authorization server: authorize, token, registration,
//! introspection, revocation, keys, journal.

use std::time::{Duration, Instant};

use anyhow::Context;
use authconform_mocks::{
    AuthServerConfig, ClientConfig, Consent, MockAuthServer, REDACTED, SigningAlg, TestCa,
    TokenSpec, s256_challenge,
};
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Map, Value, json};

use super::support::{http, https};

const REDIRECT: &str = "http://127.0.0.1:33418/cb";
const RESOURCE: &str = "https://mcp.example/mcp";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const SECRET: &str = "s3cret-value";

fn clients() -> Vec<ClientConfig> {
    vec![
        ClientConfig {
            client_id: "cli".into(),
            redirect_uris: vec![REDIRECT.into()],
            secret: None,
        },
        ClientConfig {
            client_id: "svc".into(),
            redirect_uris: vec!["https://svc.example/cb".into()],
            secret: Some(SECRET.into()),
        },
    ]
}

async fn server(config: AuthServerConfig) -> anyhow::Result<MockAuthServer> {
    MockAuthServer::start(AuthServerConfig {
        clients: clients(),
        ..config
    })
    .await
}

async fn default_server() -> anyhow::Result<MockAuthServer> {
    server(AuthServerConfig::default()).await
}

/// A valid authorization request for `cli`, with overrides: `(name, None)`
/// removes a parameter, `(name, Some(v))` sets it.
fn authorize_params(overrides: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
    let challenge = s256_challenge(VERIFIER);
    let mut params: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", "cli"),
        ("redirect_uri", REDIRECT),
        ("state", "st-123"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("resource", RESOURCE),
        ("scope", "mcp:read mcp:tools"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (name, value) in overrides {
        params.retain(|(k, _)| k != name);
        if let Some(v) = value {
            params.push(((*name).to_owned(), (*v).to_owned()));
        }
    }
    params
}

async fn authorize(
    auth: &MockAuthServer,
    params: &[(String, String)],
) -> anyhow::Result<reqwest::Response> {
    Ok(http()
        .get(auth.authorization_endpoint())
        .query(params)
        .send()
        .await?)
}

/// The query parameters of a redirect's `Location`.
fn location_params(response: &reqwest::Response) -> anyhow::Result<(String, Map<String, Value>)> {
    let location = response
        .headers()
        .get("location")
        .context("no Location")?
        .to_str()?;
    let url = url::Url::parse(location)?;
    let mut base = url.clone();
    base.set_query(None);
    let params = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
        .collect();
    Ok((base.to_string(), params))
}

async fn get_code(auth: &MockAuthServer) -> anyhow::Result<String> {
    let response = authorize(auth, &authorize_params(&[])).await?;
    anyhow::ensure!(response.status() == 302, "authorize: {}", response.status());
    let (_, params) = location_params(&response)?;
    Ok(params["code"].as_str().context("no code")?.to_owned())
}

struct TokenReply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn post_form(
    url: String,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> anyhow::Result<TokenReply> {
    let mut request = http().post(url).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))?
    };
    Ok(TokenReply {
        status,
        headers,
        body,
    })
}

async fn token(auth: &MockAuthServer, form: &[(&str, &str)]) -> anyhow::Result<TokenReply> {
    post_form(auth.token_endpoint(), form, None).await
}

async fn exchange(auth: &MockAuthServer, code: &str) -> anyhow::Result<TokenReply> {
    token(
        auth,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", "cli"),
            ("code_verifier", VERIFIER),
            ("resource", RESOURCE),
        ],
    )
    .await
}

fn assert_error(reply: &TokenReply, status: u16, error: &str) {
    assert_eq!(reply.status, status, "body {}", reply.body);
    assert_eq!(reply.body["error"], error, "body {}", reply.body);
    assert!(reply.body["error_description"].is_string());
    assert_eq!(reply.headers["cache-control"], "no-store");
    assert!(
        reply.headers["content-type"]
            .to_str()
            .is_ok_and(|c| c.starts_with("application/json"))
    );
    assert!(reply.body.get("access_token").is_none());
}

fn claims(token: &str) -> anyhow::Result<Map<String, Value>> {
    Ok(jsonwebtoken::dangerous::insecure_decode::<Map<String, Value>>(token)?.claims)
}

async fn introspect(auth: &MockAuthServer, token: &str) -> anyhow::Result<Value> {
    let reply = post_form(
        auth.introspection_endpoint(),
        &[("token", token)],
        Some(("svc", SECRET)),
    )
    .await?;
    anyhow::ensure!(
        reply.status == 200,
        "introspect {}: {}",
        reply.status,
        reply.body
    );
    Ok(reply.body)
}

async fn verify_with_jwks(
    auth: &MockAuthServer,
    client: &reqwest::Client,
    token: &str,
    audience: &str,
) -> anyhow::Result<Map<String, Value>> {
    let jwks: JwkSet = client.get(auth.jwks_url()).send().await?.json().await?;
    let header = jsonwebtoken::decode_header(token)?;
    let kid = header.kid.context("no kid")?;
    let key = DecodingKey::from_jwk(jwks.find(&kid).context("kid not in JWKS")?)?;
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[auth.issuer()]);
    Ok(jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)?.claims)
}

#[tokio::test]
async fn authorization_code_with_pkce_issues_audience_restricted_tokens() -> anyhow::Result<()> {
    let ca = TestCa::generate()?;
    let auth = server(AuthServerConfig {
        tls: Some(ca.server_config()?),
        ..AuthServerConfig::default()
    })
    .await?;
    let client = https(&ca);
    let response = client
        .get(auth.authorization_endpoint())
        .query(&authorize_params(&[]))
        .send()
        .await?;
    assert_eq!(response.status(), 302);
    let (base, params) = location_params(&response)?;
    assert_eq!(base, REDIRECT);
    assert_eq!(params["state"], "st-123");
    assert_eq!(params["iss"], auth.issuer());
    let code = params["code"].as_str().context("code")?;

    // Over TLS, with the test CA.
    let response = client
        .post(auth.token_endpoint())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", "cli"),
            ("code_verifier", VERIFIER),
            ("resource", RESOURCE),
        ])
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let body: Value = response.json().await?;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "mcp:read mcp:tools");
    let access = body["access_token"].as_str().context("access_token")?;
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|r| r.len() >= 43)
    );

    let claims = verify_with_jwks(&auth, &client, access, RESOURCE).await?;
    assert_eq!(claims["aud"], RESOURCE);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["client_id"], "cli");
    assert_eq!(claims["scope"], "mcp:read mcp:tools");
    assert_eq!(
        jsonwebtoken::decode_header(access)?.typ.as_deref(),
        Some("at+jwt")
    );
    Ok(())
}

#[tokio::test]
async fn authorize_errors_are_redirected_with_state() -> anyhow::Result<()> {
    let auth = default_server().await?;
    type Overrides<'a> = Vec<(&'a str, Option<&'a str>)>;
    let cases: Vec<(&str, Overrides, &str)> = vec![
        (
            "no code_challenge",
            vec![("code_challenge", None)],
            "invalid_request",
        ),
        (
            "plain",
            vec![
                ("code_challenge_method", Some("plain")),
                ("code_challenge", Some(VERIFIER)),
            ],
            "invalid_request",
        ),
        (
            "method absent means plain",
            vec![("code_challenge_method", None)],
            "invalid_request",
        ),
        (
            "short challenge",
            vec![("code_challenge", Some("abc"))],
            "invalid_request",
        ),
        (
            "response_type token",
            vec![("response_type", Some("token"))],
            "unsupported_response_type",
        ),
        (
            "no response_type",
            vec![("response_type", None)],
            "invalid_request",
        ),
        (
            "unknown scope",
            vec![("scope", Some("admin"))],
            "invalid_scope",
        ),
        (
            "resource with fragment",
            vec![("resource", Some("https://mcp.example/mcp#f"))],
            "invalid_target",
        ),
        (
            "relative resource",
            vec![("resource", Some("/mcp"))],
            "invalid_target",
        ),
    ];
    for (what, overrides, error) in cases {
        let response = authorize(&auth, &authorize_params(&overrides)).await?;
        assert_eq!(response.status(), 302, "{what}");
        let (base, params) = location_params(&response)?;
        assert_eq!(base, REDIRECT, "{what}");
        assert_eq!(params["error"], error, "{what}");
        assert_eq!(params["state"], "st-123", "{what}");
        assert!(params.get("code").is_none(), "{what}: a code was issued");
    }
    // A repeated parameter is invalid_request (RFC 6749 §3.1).
    let mut params = authorize_params(&[]);
    params.push(("scope".into(), "mcp:read".into()));
    let response = authorize(&auth, &params).await?;
    assert_eq!(location_params(&response)?.1["error"], "invalid_request");
    Ok(())
}

#[tokio::test]
async fn unknown_client_or_unregistered_redirect_is_an_error_page_never_a_redirect()
-> anyhow::Result<()> {
    let auth = default_server().await?;
    let mut cases: Vec<Vec<(String, String)>> = vec![
        authorize_params(&[("client_id", Some("nobody"))]),
        authorize_params(&[("client_id", None)]),
    ];
    // OAUTH-AS-003's look-alikes of the registered http://127.0.0.1:33418/cb.
    for uri in [
        "http://127.0.0.1:33418/cb/x",
        "http://127.0.0.1:33418/cb?x=1",
        "http://127.0.0.1.evil.test:33418/cb",
        "https://evil.example/cb",
        "http://localhost:33418/cb",
        "http://127.0.0.1:33419/cb",
    ] {
        cases.push(authorize_params(&[("redirect_uri", Some(uri))]));
    }
    for params in cases {
        let response = authorize(&auth, &params).await?;
        assert_eq!(response.status(), 400, "{params:?}");
        assert!(response.headers().get("location").is_none(), "{params:?}");
        assert!(
            response.headers()["content-type"]
                .to_str()?
                .starts_with("text/html")
        );
        let page = response.text().await?;
        assert!(!page.contains("<script"), "unescaped input in the page");
    }
    Ok(())
}

#[tokio::test]
async fn redirect_uri_may_be_omitted_for_a_single_registered_uri() -> anyhow::Result<()> {
    let auth = default_server().await?;
    let response = authorize(
        &auth,
        &authorize_params(&[("redirect_uri", None), ("resource", None)]),
    )
    .await?;
    assert_eq!(response.status(), 302);
    let (base, params) = location_params(&response)?;
    assert_eq!(base, REDIRECT);
    let code = params["code"].as_str().context("code")?;
    let reply = token(
        &auth,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", "cli"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // Without a resource anywhere, the token has no audience.
    let claims = claims(reply.body["access_token"].as_str().context("token")?)?;
    assert!(!claims.contains_key("aud"));

    // But once the authorization request named it, the token request must too.
    let code = get_code(&auth).await?;
    let reply = token(
        &auth,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "cli"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await?;
    assert_error(&reply, 400, "invalid_grant");
    Ok(())
}

#[tokio::test]
async fn scripted_consent_deny_and_delay() -> anyhow::Result<()> {
    let auth = server(AuthServerConfig {
        consent: Consent::Deny,
        ..AuthServerConfig::default()
    })
    .await?;
    let response = authorize(&auth, &authorize_params(&[])).await?;
    assert_eq!(response.status(), 302);
    let (_, params) = location_params(&response)?;
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "st-123");
    assert!(params.get("code").is_none());

    auth.set_consent(Consent::Delay(Duration::from_millis(150)));
    let started = Instant::now();
    let response = authorize(&auth, &authorize_params(&[])).await?;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert!(location_params(&response)?.1.contains_key("code"));

    auth.set_consent(Consent::Approve);
    let started = Instant::now();
    get_code(&auth).await?;
    assert!(started.elapsed() < Duration::from_millis(150));
    Ok(())
}

#[tokio::test]
async fn verifier_missing_or_wrong_is_invalid_grant() -> anyhow::Result<()> {
    let auth = default_server().await?;
    let other = "a".repeat(43);
    for verifier in [None, Some(other.as_str()), Some("short")] {
        let code = get_code(&auth).await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", "cli"),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        let reply = token(&auth, &form).await?;
        assert_error(&reply, 400, "invalid_grant");
    }
    Ok(())
}

#[tokio::test]
async fn codes_are_single_use_and_replay_revokes_issued_tokens() -> anyhow::Result<()> {
    let auth = default_server().await?;
    let code = get_code(&auth).await?;
    let first = exchange(&auth, &code).await?;
    assert_eq!(first.status, 200);
    let access = first.body["access_token"].as_str().context("at")?;
    let refresh = first.body["refresh_token"].as_str().context("rt")?;
    assert_eq!(introspect(&auth, access).await?["active"], true);

    let second = exchange(&auth, &code).await?;
    assert_error(&second, 400, "invalid_grant");
    // Everything issued from the code is revoked.
    assert_eq!(introspect(&auth, access).await?["active"], false);
    assert_eq!(introspect(&auth, refresh).await?["active"], false);
    let refreshed = token(
        &auth,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", "cli"),
        ],
    )
    .await?;
    assert_error(&refreshed, 400, "invalid_grant");

    // Another client cannot redeem someone's code.
    let code = get_code(&auth).await?;
    let stolen = post_form(
        auth.token_endpoint(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
        Some(("svc", SECRET)),
    )
    .await?;
    assert_error(&stolen, 400, "invalid_grant");
    Ok(())
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() -> anyhow::Result<()> {
    let auth = default_server().await?;
    let first = exchange(&auth, &get_code(&auth).await?).await?;
    let rt1 = first.body["refresh_token"]
        .as_str()
        .context("rt1")?
        .to_owned();

    let refresh = |rt: String, extra: Vec<(&'static str, &'static str)>| {
        let auth = &auth;
        async move {
            let mut form = vec![("grant_type", "refresh_token"), ("client_id", "cli")];
            form.extend(extra);
            form.push(("refresh_token", rt.as_str()));
            token(auth, &form).await
        }
    };
    let second = refresh(
        rt1.clone(),
        vec![("resource", RESOURCE), ("scope", "mcp:read")],
    )
    .await?;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.headers["cache-control"], "no-store");
    let rt2 = second.body["refresh_token"]
        .as_str()
        .context("rt2")?
        .to_owned();
    assert_ne!(rt1, rt2, "refresh token not rotated");
    let at2 = second.body["access_token"]
        .as_str()
        .context("at2")?
        .to_owned();
    let c = claims(&at2)?;
    assert_eq!(c["aud"], RESOURCE);
    assert_eq!(c["scope"], "mcp:read", "scope narrowed on refresh");

    // Scope beyond the grant, or a resource not authorized: refused.
    let wider = refresh(rt2.clone(), vec![("scope", "mcp:admin")]).await?;
    assert_error(&wider, 400, "invalid_scope");
    let elsewhere = refresh(rt2.clone(), vec![("resource", "https://other.example/mcp")]).await?;
    assert_error(&elsewhere, 400, "invalid_target");

    // Reusing the superseded RT1 fails and revokes the family, RT2 included.
    let reuse = refresh(rt1, vec![]).await?;
    assert_error(&reuse, 400, "invalid_grant");
    let after = refresh(rt2, vec![]).await?;
    assert_error(&after, 400, "invalid_grant");
    assert_eq!(introspect(&auth, &at2).await?["active"], false);
    Ok(())
}

#[tokio::test]
async fn token_endpoint_resource_checks() -> anyhow::Result<()> {
    let auth = default_server().await?;
    for (resource, error) in [
        ("https://mcp.example/mcp#frag", "invalid_target"),
        ("mcp.example/mcp", "invalid_target"),
        ("https://evil.example/", "invalid_target"),
    ] {
        let code = get_code(&auth).await?;
        let reply = token(
            &auth,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("client_id", "cli"),
                ("code_verifier", VERIFIER),
                ("resource", resource),
            ],
        )
        .await?;
        assert_error(&reply, 400, error);
    }
    // Two resources at authorize: the token may pick one of them.
    let mut params = authorize_params(&[]);
    params.push(("resource".into(), "https://other.example/api".into()));
    let response = authorize(&auth, &params).await?;
    let code = location_params(&response)?.1["code"]
        .as_str()
        .context("code")?
        .to_owned();
    let reply = token(
        &auth,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", "cli"),
            ("code_verifier", VERIFIER),
            ("resource", "https://other.example/api"),
        ],
    )
    .await?;
    assert_eq!(reply.status, 200);
    let c = claims(reply.body["access_token"].as_str().context("at")?)?;
    assert_eq!(c["aud"], "https://other.example/api");
    Ok(())
}

#[tokio::test]
async fn client_credentials_and_client_authentication() -> anyhow::Result<()> {
    let auth = default_server().await?;
    // client_secret_basic.
    let basic = post_form(
        auth.token_endpoint(),
        &[
            ("grant_type", "client_credentials"),
            ("resource", RESOURCE),
            ("scope", "mcp:read"),
        ],
        Some(("svc", SECRET)),
    )
    .await?;
    assert_eq!(basic.status, 200, "{}", basic.body);
    assert!(basic.body.get("refresh_token").is_none());
    let c = claims(basic.body["access_token"].as_str().context("at")?)?;
    assert_eq!(c["sub"], "svc");
    assert_eq!(c["aud"], RESOURCE);
    assert_eq!(c["scope"], "mcp:read");
    // client_secret_post.
    let post = token(
        &auth,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "svc"),
            ("client_secret", SECRET),
        ],
    )
    .await?;
    assert_eq!(post.status, 200, "{}", post.body);

    // A wrong secret via Basic: 401 with a Basic challenge.
    let wrong = post_form(
        auth.token_endpoint(),
        &[("grant_type", "client_credentials")],
        Some(("svc", "nope")),
    )
    .await?;
    assert_error(&wrong, 401, "invalid_client");
    let challenge = wrong.headers["www-authenticate"].to_str()?;
    assert!(challenge.starts_with("Basic realm="), "{challenge}");
    // Unknown client, and a confidential client that does not authenticate.
    for form in [
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", "ghost"),
            ("client_secret", "x"),
        ],
        vec![("grant_type", "client_credentials"), ("client_id", "svc")],
        vec![("grant_type", "client_credentials")],
    ] {
        assert_error(&token(&auth, &form).await?, 401, "invalid_client");
    }
    // Two authentication methods at once.
    let both = post_form(
        auth.token_endpoint(),
        &[
            ("grant_type", "client_credentials"),
            ("client_secret", SECRET),
        ],
        Some(("svc", SECRET)),
    )
    .await?;
    assert_error(&both, 400, "invalid_request");
    // A public client may not use client_credentials.
    let public = token(
        &auth,
        &[("grant_type", "client_credentials"), ("client_id", "cli")],
    )
    .await?;
    assert_error(&public, 400, "unauthorized_client");
    Ok(())
}

#[tokio::test]
async fn token_endpoint_request_errors() -> anyhow::Result<()> {
    let auth = default_server().await?;
    let unsupported = token(&auth, &[("grant_type", "password"), ("client_id", "cli")]).await?;
    assert_error(&unsupported, 400, "unsupported_grant_type");
    let missing = token(&auth, &[("client_id", "cli")]).await?;
    assert_error(&missing, 400, "invalid_request");
    let unknown_code = token(
        &auth,
        &[
            ("grant_type", "authorization_code"),
            ("code", "nope"),
            ("client_id", "cli"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await?;
    assert_error(&unknown_code, 400, "invalid_grant");
    // JSON instead of a form.
    let response = http()
        .post(auth.token_endpoint())
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await?;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await?["error"], "invalid_request");
    // GET is not allowed.
    assert_eq!(
        http().get(auth.token_endpoint()).send().await?.status(),
        405
    );
    Ok(())
}

async fn register(
    auth: &MockAuthServer,
    body: &Value,
) -> anyhow::Result<(u16, reqwest::header::HeaderMap, Value)> {
    let response = http()
        .post(auth.registration_endpoint())
        .json(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Ok((status, headers, response.json().await?))
}

#[tokio::test]
async fn dynamic_client_registration() -> anyhow::Result<()> {
    let auth = default_server().await?;
    let redirect = "http://127.0.0.1:33418/cb";
    let (status, headers, body) = register(
        &auth,
        &json!({
            "redirect_uris": [redirect],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "authconf",
        }),
    )
    .await?;
    assert_eq!(status, 201, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    let client_id = body["client_id"].as_str().context("client_id")?.to_owned();
    assert!(
        body.get("client_secret").is_none(),
        "public client got a secret"
    );
    assert_eq!(body["client_name"], "authconf");
    assert_eq!(body["redirect_uris"], json!([redirect]));

    // The registered client can run the flow.
    let response = authorize(&auth, &authorize_params(&[("client_id", Some(&client_id))])).await?;
    assert_eq!(response.status(), 302);
    let code = location_params(&response)?.1["code"]
        .as_str()
        .context("code")?
        .to_owned();
    let reply = token(
        &auth,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("client_id", &client_id),
            ("code_verifier", VERIFIER),
        ],
    )
    .await?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body["refresh_token"].is_string());

    // Omitting token_endpoint_auth_method means client_secret_basic: a secret.
    let (status, _, confidential) = register(
        &auth,
        &json!({"redirect_uris": ["https://app.example/cb"], "grant_types": ["authorization_code", "client_credentials"]}),
    )
    .await?;
    assert_eq!(status, 201, "{confidential}");
    assert_eq!(
        confidential["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    let id = confidential["client_id"].as_str().context("id")?;
    let secret = confidential["client_secret"].as_str().context("secret")?;
    let cc = post_form(
        auth.token_endpoint(),
        &[("grant_type", "client_credentials")],
        Some((id, secret)),
    )
    .await?;
    assert_eq!(cc.status, 200, "{}", cc.body);
    // It registered Basic: client_secret_post is refused.
    let cc_post = token(
        &auth,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ],
    )
    .await?;
    assert_error(&cc_post, 401, "invalid_client");

    for (uris, error) in [
        (json!(["javascript:alert(1)"]), "invalid_redirect_uri"),
        (json!(["https://a.example/cb#frag"]), "invalid_redirect_uri"),
        (json!([]), "invalid_redirect_uri"),
        (json!(["http://evil.example/cb"]), "invalid_redirect_uri"),
        (json!("https://a.example/cb"), "invalid_redirect_uri"),
    ] {
        let (status, _, body) = register(
            &auth,
            &json!({"redirect_uris": uris, "token_endpoint_auth_method": "none"}),
        )
        .await?;
        assert_eq!(status, 400, "{uris}: {body}");
        assert_eq!(body["error"], error, "{uris}");
        assert!(body.get("client_id").is_none());
    }
    for metadata in [
        json!({"redirect_uris": [redirect], "grant_types": ["password"]}),
        json!({"redirect_uris": [redirect], "token_endpoint_auth_method": "private_key_jwt"}),
        json!({"redirect_uris": [redirect], "response_types": ["token"]}),
        json!({"redirect_uris": [redirect], "token_endpoint_auth_method": "none", "grant_types": ["client_credentials"], "response_types": []}),
        json!({"redirect_uris": [redirect], "client_name": 7}),
        json!({"redirect_uris": [redirect], "scope": "admin"}),
        json!(["not", "an", "object"]),
    ] {
        let (status, _, body) = register(&auth, &metadata).await?;
        assert_eq!(status, 400, "{metadata}: {body}");
        assert_eq!(body["error"], "invalid_client_metadata", "{metadata}");
    }
    // Not JSON at all.
    let response = http()
        .post(auth.registration_endpoint())
        .header("content-type", "text/plain")
        .body("redirect_uris=x")
        .send()
        .await?;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await?["error"],
        "invalid_client_metadata"
    );
    Ok(())
}

#[tokio::test]
async fn introspection_reports_active_state_and_needs_a_confidential_client() -> anyhow::Result<()>
{
    let auth = default_server().await?;
    let issued = exchange(&auth, &get_code(&auth).await?).await?;
    let access = issued.body["access_token"].as_str().context("at")?;
    let refresh = issued.body["refresh_token"].as_str().context("rt")?;

    let active = introspect(&auth, access).await?;
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], "alice");
    assert_eq!(active["client_id"], "cli");
    assert_eq!(active["aud"], RESOURCE);
    assert_eq!(active["scope"], "mcp:read mcp:tools");
    assert_eq!(active["iss"], auth.issuer());
    assert!(active["exp"].is_i64());
    let rt = introspect(&auth, refresh).await?;
    assert_eq!(rt["active"], true);
    assert_eq!(rt["token_type"], "refresh_token");

    // Minted tokens introspect too; expired, foreign-signed and garbage ones are inactive.
    let minted = auth.mint(&TokenSpec::default())?;
    assert_eq!(introspect(&auth, &minted).await?["active"], true);
    let expired = auth.mint(&TokenSpec {
        expires_in: -60,
        ..TokenSpec::default()
    })?;
    let foreign = auth.mint(&TokenSpec {
        signer: authconform_mocks::Signer::Foreign,
        ..TokenSpec::default()
    })?;
    for token in [expired.as_str(), foreign.as_str(), "garbage", "a.b.c"] {
        let inactive = introspect(&auth, token).await?;
        assert_eq!(inactive, json!({"active": false}), "{token}");
    }

    // A public client cannot introspect.
    let public = post_form(
        auth.introspection_endpoint(),
        &[("token", access), ("client_id", "cli")],
        None,
    )
    .await?;
    assert_error(&public, 401, "invalid_client");
    Ok(())
}

#[tokio::test]
async fn revocation_always_answers_200_and_deactivates() -> anyhow::Result<()> {
    let auth = default_server().await?;
    let issued = exchange(&auth, &get_code(&auth).await?).await?;
    let access = issued.body["access_token"].as_str().context("at")?;
    let refresh = issued.body["refresh_token"].as_str().context("rt")?;
    let revoke = |token: String| {
        let url = auth.revocation_endpoint();
        async move { post_form(url, &[("token", &token), ("client_id", "cli")], None).await }
    };
    let unknown = revoke("not-a-token".into()).await?;
    assert_eq!(unknown.status, 200);

    let r = revoke(access.to_owned()).await?;
    assert_eq!(r.status, 200);
    assert_eq!(introspect(&auth, access).await?["active"], false);
    // Revoking the refresh token ends the grant: refresh fails.
    assert_eq!(revoke(refresh.to_owned()).await?.status, 200);
    let reply = token(
        &auth,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", "cli"),
        ],
    )
    .await?;
    assert_error(&reply, 400, "invalid_grant");
    Ok(())
}

#[tokio::test]
async fn journal_records_requests_with_secrets_redacted() -> anyhow::Result<()> {
    let auth = default_server().await?;
    let _ = http().get(auth.metadata_url()).send().await?;
    let code = get_code(&auth).await?;
    exchange(&auth, &code).await?;
    post_form(
        auth.token_endpoint(),
        &[("grant_type", "client_credentials")],
        Some(("svc", SECRET)),
    )
    .await?;
    token(
        &auth,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "svc"),
            ("client_secret", SECRET),
        ],
    )
    .await?;

    let journal = auth.journal();
    assert_eq!(journal.len(), 5);
    assert_eq!(journal[0].path, "/.well-known/oauth-authorization-server");
    assert_eq!(journal[0].status, 200);
    let authorize = &journal[1];
    assert_eq!(
        (authorize.method.as_str(), authorize.path.as_str()),
        ("GET", "/authorize")
    );
    assert_eq!(authorize.status, 302);
    assert_eq!(authorize.outcome.as_deref(), Some("code_issued"));
    assert_eq!(authorize.param("state"), Some("st-123"));
    assert_eq!(
        authorize.param("code_challenge"),
        Some(s256_challenge(VERIFIER).as_str())
    );
    let exchange = &journal[2];
    assert_eq!(exchange.param("code_verifier"), Some(REDACTED));
    assert_eq!(exchange.param("code"), Some(REDACTED));
    assert_eq!(exchange.param("resource"), Some(RESOURCE));
    assert_eq!(exchange.outcome.as_deref(), Some("token_issued"));
    assert_eq!(journal[3].header("authorization"), Some("Basic [REDACTED]"));
    assert_eq!(journal[4].param("client_secret"), Some(REDACTED));
    // Timestamps are ordered, and no secret appears anywhere.
    assert!(journal.windows(2).all(|w| w[0].elapsed <= w[1].elapsed));
    let dump = format!("{journal:?}");
    for secret in [VERIFIER, SECRET, code.as_str()] {
        assert!(!dump.contains(secret), "journal leaks a secret");
    }
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("svc:{SECRET}"));
    assert!(!dump.contains(&basic));
    auth.clear_journal();
    assert!(auth.journal().is_empty());
    Ok(())
}

#[tokio::test]
async fn key_rotation_publishes_previous_key_until_retired() -> anyhow::Result<()> {
    let auth = default_server().await?;
    let client = http();
    let spec = TokenSpec {
        audience: vec![RESOURCE.into()],
        ..TokenSpec::default()
    };
    let old_kid = auth.kid();
    let old = auth.mint(&spec)?;
    let new_kid = auth.rotate_key()?;
    assert_ne!(old_kid, new_kid);
    assert_eq!(auth.kid(), new_kid);
    let jwks: Value = client.get(auth.jwks_url()).send().await?.json().await?;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .context("keys")?
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert_eq!(kids, vec![new_kid.as_str(), old_kid.as_str()]);

    let new = auth.mint(&spec)?;
    assert_eq!(
        jsonwebtoken::decode_header(&new)?.kid.as_deref(),
        Some(new_kid.as_str())
    );
    verify_with_jwks(&auth, &client, &new, RESOURCE).await?;
    verify_with_jwks(&auth, &client, &old, RESOURCE).await?;
    assert_eq!(introspect(&auth, &old).await?["active"], true);

    auth.retire_previous();
    let jwks: Value = client.get(auth.jwks_url()).send().await?.json().await?;
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(1));
    assert!(
        verify_with_jwks(&auth, &client, &old, RESOURCE)
            .await
            .is_err()
    );
    verify_with_jwks(&auth, &client, &new, RESOURCE).await?;
    assert_eq!(introspect(&auth, &old).await?["active"], false);
    Ok(())
}

#[tokio::test]
async fn every_signing_algorithm_verifies_against_the_jwks() -> anyhow::Result<()> {
    for (alg, jwt_alg, kty) in [
        (SigningAlg::Es256, jsonwebtoken::Algorithm::ES256, "EC"),
        (SigningAlg::Rs256, jsonwebtoken::Algorithm::RS256, "RSA"),
        (SigningAlg::EdDsa, jsonwebtoken::Algorithm::EdDSA, "OKP"),
    ] {
        let auth = server(AuthServerConfig {
            alg,
            ..AuthServerConfig::default()
        })
        .await?;
        assert_eq!(auth.alg(), alg);
        let client = http();
        let jwks: Value = client.get(auth.jwks_url()).send().await?.json().await?;
        assert_eq!(jwks["keys"][0]["kty"], kty);
        assert_eq!(jwks["keys"][0]["alg"], alg.as_str());

        let minted = auth.mint(&TokenSpec {
            audience: vec![RESOURCE.into()],
            ..TokenSpec::default()
        })?;
        assert_eq!(jsonwebtoken::decode_header(&minted)?.alg, jwt_alg);
        verify_with_jwks(&auth, &client, &minted, RESOURCE).await?;

        let issued = exchange(&auth, &get_code(&auth).await?).await?;
        let access = issued.body["access_token"].as_str().context("at")?;
        assert_eq!(jsonwebtoken::decode_header(access)?.alg, jwt_alg);
        verify_with_jwks(&auth, &client, access, RESOURCE).await?;

        let foreign = auth.mint(&TokenSpec {
            audience: vec![RESOURCE.into()],
            signer: authconform_mocks::Signer::Foreign,
            ..TokenSpec::default()
        })?;
        assert!(
            verify_with_jwks(&auth, &client, &foreign, RESOURCE)
                .await
                .is_err(),
            "{alg}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn metadata_overrides_and_pinned_port() -> anyhow::Result<()> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = probe.local_addr()?.port();
    drop(probe);
    let mut overrides = Map::new();
    overrides.insert("code_challenge_methods_supported".into(), Value::Null);
    overrides.insert(
        "service_documentation".into(),
        json!("https://docs.example"),
    );
    let auth = MockAuthServer::start(AuthServerConfig {
        port,
        metadata_overrides: overrides,
        ..AuthServerConfig::default()
    })
    .await?;
    assert_eq!(auth.issuer(), format!("http://127.0.0.1:{port}"));
    let m: Value = http().get(auth.metadata_url()).send().await?.json().await?;
    assert!(m.get("code_challenge_methods_supported").is_none());
    assert_eq!(m["service_documentation"], "https://docs.example");
    assert_eq!(m["issuer"], auth.issuer());
    // Unknown paths are a JSON 404.
    let response = http().get(format!("{}/nope", auth.issuer())).send().await?;
    assert_eq!(response.status(), 404);
    Ok(())
}

#[tokio::test]
async fn codes_expire_and_resources_and_scopes_are_configurable() -> anyhow::Result<()> {
    // Only the expiry check gets a short code lifetime: a loaded machine may take longer than that to
    // exchange a code that is meant to be valid.
    let expiring = server(AuthServerConfig {
        code_lifetime: Duration::from_millis(50),
        ..AuthServerConfig::default()
    })
    .await?;
    let auth = server(AuthServerConfig {
        allowed_resources: vec![RESOURCE.into()],
        scopes_supported: vec!["files:read".into(), "files:write".into()],
        access_token_lifetime: Duration::from_secs(120),
        subject: "carol".into(),
        ..AuthServerConfig::default()
    })
    .await?;
    let m: Value = http().get(auth.metadata_url()).send().await?.json().await?;
    assert_eq!(m["scopes_supported"], json!(["files:read", "files:write"]));

    // An expired code is invalid_grant.
    let response = authorize(&expiring, &authorize_params(&[])).await?;
    let code = location_params(&response)?.1["code"]
        .as_str()
        .context("code")?
        .to_owned();
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_error(&exchange(&expiring, &code).await?, 400, "invalid_grant");

    // A resource outside allowed_resources is invalid_target; mcp:read is not
    // a supported scope here; no scope means all supported ones.
    let response = authorize(
        &auth,
        &authorize_params(&[
            ("scope", Some("files:read")),
            ("resource", Some("https://other.example/")),
        ]),
    )
    .await?;
    assert_eq!(location_params(&response)?.1["error"], "invalid_target");
    let response = authorize(&auth, &authorize_params(&[])).await?;
    assert_eq!(location_params(&response)?.1["error"], "invalid_scope");
    let response = authorize(&auth, &authorize_params(&[("scope", None)])).await?;
    let code = location_params(&response)?.1["code"]
        .as_str()
        .context("code")?
        .to_owned();
    let reply = exchange(&auth, &code).await?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["scope"], "files:read files:write");
    assert_eq!(reply.body["expires_in"], 120);
    let c = claims(reply.body["access_token"].as_str().context("at")?)?;
    assert_eq!(c["sub"], "carol");
    assert_eq!(
        c["exp"].as_i64().zip(c["iat"].as_i64()).map(|(e, i)| e - i),
        Some(120)
    );

    // A client registered at run time.
    auth.register_client(&ClientConfig {
        client_id: "late".into(),
        redirect_uris: vec!["https://late.example/cb".into()],
        secret: None,
    });
    let response = authorize(
        &auth,
        &authorize_params(&[
            ("client_id", Some("late")),
            ("redirect_uri", Some("https://late.example/cb")),
            ("scope", None),
        ]),
    )
    .await?;
    assert_eq!(location_params(&response)?.0, "https://late.example/cb");
    Ok(())
}
