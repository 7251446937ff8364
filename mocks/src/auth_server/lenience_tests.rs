//! The [`Lenience`] knobs: each deviation happens when its knob is on, and
//! only then.

use anyhow::Context;
use serde_json::{Value, json};

use super::{AuthServerConfig, ClientConfig, Lenience, MockAuthServer};
use crate::oauth::s256_challenge;

const REDIRECT: &str = "http://127.0.0.1:33418/cb";
const RESOURCE: &str = "https://mcp.example/mcp";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn http() -> reqwest::Client {
    crate::tls::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("building a reqwest client")
}

async fn server(lenience: Lenience) -> anyhow::Result<MockAuthServer> {
    MockAuthServer::start(AuthServerConfig {
        clients: vec![ClientConfig {
            client_id: "cli".into(),
            redirect_uris: vec![REDIRECT.into()],
            secret: None,
        }],
        allowed_resources: vec![RESOURCE.into()],
        lenience,
        ..Default::default()
    })
    .await
}

/// A valid authorization request, with overrides: `(name, None)` removes a
/// parameter, `(name, Some(v))` sets it.
fn authorize_params(overrides: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
    let challenge = s256_challenge(VERIFIER);
    let mut params: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", "cli"),
        ("redirect_uri", REDIRECT),
        ("state", "st-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("resource", RESOURCE),
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

/// The authorization response: its status, and the `Location`'s URL and
/// `code` or `error` when it redirects.
struct Authorized {
    status: u16,
    location: Option<url::Url>,
}

impl Authorized {
    fn param(&self, name: &str) -> Option<String> {
        self.location.as_ref().and_then(|url| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        })
    }

    fn code(&self) -> anyhow::Result<String> {
        anyhow::ensure!(self.status == 302, "authorize answered {}", self.status);
        self.param("code").with_context(|| {
            format!(
                "no code in {:?} (error {:?})",
                self.location,
                self.param("error")
            )
        })
    }
}

async fn authorize(
    auth: &MockAuthServer,
    overrides: &[(&str, Option<&str>)],
) -> anyhow::Result<Authorized> {
    let response = http()
        .get(auth.authorization_endpoint())
        .query(&authorize_params(overrides))
        .send()
        .await?;
    let location = match response.headers().get("location") {
        Some(value) => Some(url::Url::parse(value.to_str()?)?),
        None => None,
    };
    Ok(Authorized {
        status: response.status().as_u16(),
        location,
    })
}

async fn token(auth: &MockAuthServer, form: &[(&str, &str)]) -> anyhow::Result<(u16, Value)> {
    let response = http().post(auth.token_endpoint()).form(form).send().await?;
    Ok((response.status().as_u16(), response.json().await?))
}

/// Redeem `code` with the given verifier (none when `None`) and resource.
async fn exchange(
    auth: &MockAuthServer,
    code: &str,
    redirect: &str,
    verifier: Option<&str>,
    resource: &str,
) -> anyhow::Result<(u16, Value)> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("client_id", "cli"),
        ("resource", resource),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    token(auth, &form).await
}

async fn register(auth: &MockAuthServer, body: &Value) -> anyhow::Result<(u16, Value)> {
    let response = http()
        .post(auth.registration_endpoint())
        .json(body)
        .send()
        .await?;
    Ok((response.status().as_u16(), response.json().await?))
}

#[tokio::test]
async fn pkce_optional() -> anyhow::Result<()> {
    let strict = server(Lenience::default()).await?;
    let missing = authorize(&strict, &[("code_challenge", None)]).await?;
    assert_eq!(missing.param("error").as_deref(), Some("invalid_request"));
    let code = authorize(&strict, &[]).await?.code()?;
    let (status, body) = exchange(&strict, &code, REDIRECT, None, RESOURCE).await?;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_grant")));

    let auth = server(Lenience {
        pkce_optional: true,
        ..Lenience::default()
    })
    .await?;
    // No challenge at all: a code, redeemed without a verifier.
    let code = authorize(
        &auth,
        &[("code_challenge", None), ("code_challenge_method", None)],
    )
    .await?
    .code()?;
    let (status, body) = exchange(&auth, &code, REDIRECT, None, RESOURCE).await?;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].is_string());
    // A plain challenge: a code, redeemed with a verifier that matches nothing.
    let code = authorize(
        &auth,
        &[
            ("code_challenge", Some("plain-challenge")),
            ("code_challenge_method", Some("plain")),
        ],
    )
    .await?
    .code()?;
    let other = "b".repeat(43);
    let (status, body) = exchange(&auth, &code, REDIRECT, Some(&other), RESOURCE).await?;
    assert_eq!(status, 200, "{body}");
    // An S256 challenge with a mismatching or missing verifier.
    for verifier in [Some(other.as_str()), None] {
        let code = authorize(&auth, &[]).await?.code()?;
        let (status, body) = exchange(&auth, &code, REDIRECT, verifier, RESOURCE).await?;
        assert_eq!(status, 200, "{body}");
    }
    Ok(())
}

#[tokio::test]
async fn loose_redirect_match() -> anyhow::Result<()> {
    let longer = format!("{REDIRECT}/x");
    let with_query = format!("{REDIRECT}?x=1");

    let strict = server(Lenience::default()).await?;
    for uri in [&longer, &with_query] {
        let reply = authorize(&strict, &[("redirect_uri", Some(uri))]).await?;
        assert_eq!(reply.status, 400, "{uri}");
        assert!(reply.location.is_none());
    }

    let auth = server(Lenience {
        loose_redirect_match: true,
        ..Lenience::default()
    })
    .await?;
    for uri in [&longer, &with_query] {
        let reply = authorize(&auth, &[("redirect_uri", Some(uri))]).await?;
        let code = reply.code()?;
        let location = reply.location.as_ref().context("location")?;
        assert!(location.as_str().starts_with(uri.as_str()), "{location}");
        let (status, body) = exchange(&auth, &code, uri, Some(VERIFIER), RESOURCE).await?;
        assert_eq!(status, 200, "{body}");
    }
    // Still no match for a URI that does not start with a registered one.
    let reply = authorize(
        &auth,
        &[("redirect_uri", Some("http://127.0.0.1:33418/other"))],
    )
    .await?;
    assert_eq!(reply.status, 400);
    Ok(())
}

async fn refresh(auth: &MockAuthServer, rt: &str) -> anyhow::Result<(u16, Value)> {
    token(
        auth,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", "cli"),
        ],
    )
    .await
}

#[tokio::test]
async fn no_refresh_rotation() -> anyhow::Result<()> {
    let strict = server(Lenience::default()).await?;
    let code = authorize(&strict, &[]).await?.code()?;
    let (_, first) = exchange(&strict, &code, REDIRECT, Some(VERIFIER), RESOURCE).await?;
    let rt = first["refresh_token"].as_str().context("rt")?;
    let (status, second) = refresh(&strict, rt).await?;
    assert_eq!(status, 200);
    assert_ne!(second["refresh_token"], rt);
    assert_eq!(refresh(&strict, rt).await?.0, 400);

    let auth = server(Lenience {
        no_refresh_rotation: true,
        ..Lenience::default()
    })
    .await?;
    let code = authorize(&auth, &[]).await?.code()?;
    let (_, first) = exchange(&auth, &code, REDIRECT, Some(VERIFIER), RESOURCE).await?;
    let rt = first["refresh_token"].as_str().context("rt")?;
    for _ in 0..3 {
        let (status, body) = refresh(&auth, rt).await?;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["refresh_token"], rt, "rotated");
        assert!(body["access_token"].is_string());
    }
    Ok(())
}

#[tokio::test]
async fn ignore_resource() -> anyhow::Result<()> {
    let elsewhere = "https://other.example/mcp";
    let fragment = "https://mcp.example/mcp#frag";

    let strict = server(Lenience::default()).await?;
    for resource in [elsewhere, fragment, "not a uri"] {
        let reply = authorize(&strict, &[("resource", Some(resource))]).await?;
        assert_eq!(reply.param("error").as_deref(), Some("invalid_target"));
    }
    let code = authorize(&strict, &[]).await?.code()?;
    let (status, body) = exchange(&strict, &code, REDIRECT, Some(VERIFIER), elsewhere).await?;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_target")));

    let auth = server(Lenience {
        ignore_resource: true,
        ..Lenience::default()
    })
    .await?;
    for resource in [elsewhere, fragment, "not a uri"] {
        let code = authorize(&auth, &[("resource", Some(resource))])
            .await?
            .code()?;
        let (status, body) = exchange(&auth, &code, REDIRECT, Some(VERIFIER), resource).await?;
        assert_eq!(status, 200, "{resource}: {body}");
    }
    // At the token endpoint, a resource the code was not authorized for.
    let code = authorize(&auth, &[]).await?.code()?;
    let (status, body) = exchange(&auth, &code, REDIRECT, Some(VERIFIER), elsewhere).await?;
    assert_eq!(status, 200, "{body}");
    Ok(())
}

#[tokio::test]
async fn register_any_redirect() -> anyhow::Result<()> {
    let bodies = [
        json!({"redirect_uris": ["javascript:alert(1)"], "token_endpoint_auth_method": "none"}),
        json!({"redirect_uris": ["https://app.example/cb#frag"], "token_endpoint_auth_method": "none"}),
        json!({"redirect_uris": ["http://evil.example/cb"], "token_endpoint_auth_method": "none"}),
        json!({"redirect_uris": [], "token_endpoint_auth_method": "none"}),
        json!({"token_endpoint_auth_method": "none"}),
    ];

    let strict = server(Lenience::default()).await?;
    for body in &bodies {
        let (status, reply) = register(&strict, body).await?;
        assert_eq!(status, 400, "{body}");
        assert_eq!(reply["error"], "invalid_redirect_uri", "{body}");
    }

    let auth = server(Lenience {
        register_any_redirect: true,
        ..Lenience::default()
    })
    .await?;
    for body in &bodies {
        let (status, reply) = register(&auth, body).await?;
        assert_eq!(status, 201, "{body}: {reply}");
        assert!(reply["client_id"].is_string());
    }
    // The javascript: client can then be sent to its URI.
    let (_, reply) = register(&auth, &bodies[0]).await?;
    let client_id = reply["client_id"].as_str().context("client_id")?;
    let sent = authorize(
        &auth,
        &[("client_id", Some(client_id)), ("redirect_uri", None)],
    )
    .await?;
    assert_eq!(sent.status, 302);
    assert_eq!(
        sent.location.as_ref().map(url::Url::scheme),
        Some("javascript")
    );
    Ok(())
}

#[tokio::test]
async fn loopback_any_authority() -> anyhow::Result<()> {
    let lookalikes = [
        "http://localhost:33418/cb",
        "http://localhost:40000/cb",
        "http://127.0.0.1:40000/cb",
        "http://127.0.0.1.evil.test:33418/cb",
        "http://127.0.0.1:33418@evil.test/cb",
    ];
    let strict = server(Lenience::default()).await?;
    for uri in lookalikes {
        let reply = authorize(&strict, &[("redirect_uri", Some(uri))]).await?;
        assert_eq!(reply.status, 400, "{uri}");
        assert!(reply.location.is_none(), "{uri}");
    }

    let auth = server(Lenience {
        loopback_any_authority: true,
        ..Lenience::default()
    })
    .await?;
    for uri in lookalikes {
        let reply = authorize(&auth, &[("redirect_uri", Some(uri))]).await?;
        reply.code().with_context(|| uri.to_owned())?;
    }
    // The scheme, path and query still have to match.
    for uri in [
        "http://localhost:33418/cb/x",
        "http://127.0.0.1:40000/cb?x=1",
        "https://127.0.0.1:33418/cb",
        "http://evil.test:33418/cb",
    ] {
        let reply = authorize(&auth, &[("redirect_uri", Some(uri))]).await?;
        assert_eq!(reply.status, 400, "{uri}");
    }
    Ok(())
}

async fn introspect(
    auth: &MockAuthServer,
    token: &str,
    client_id: &str,
) -> anyhow::Result<(u16, Value)> {
    let response = http()
        .post(auth.introspection_endpoint())
        .form(&[("token", token), ("client_id", client_id)])
        .send()
        .await?;
    Ok((response.status().as_u16(), response.json().await?))
}

/// With [`AuthServerConfig::public_introspection`] the public client reads
/// its own token's audience: the resource, or the issuer when
/// [`Lenience::unbound_audience`] is on.
#[tokio::test]
async fn unbound_audience() -> anyhow::Result<()> {
    for unbound in [false, true] {
        let auth = MockAuthServer::start(AuthServerConfig {
            clients: vec![ClientConfig {
                client_id: "cli".into(),
                redirect_uris: vec![REDIRECT.into()],
                secret: None,
            }],
            allowed_resources: vec![RESOURCE.into()],
            lenience: Lenience {
                unbound_audience: unbound,
                ..Lenience::default()
            },
            public_introspection: true,
            ..Default::default()
        })
        .await?;
        auth.register_client(&ClientConfig {
            client_id: "other".into(),
            redirect_uris: vec![REDIRECT.into()],
            secret: None,
        });
        let code = authorize(&auth, &[]).await?.code()?;
        let (status, body) = exchange(&auth, &code, REDIRECT, Some(VERIFIER), RESOURCE).await?;
        assert_eq!(status, 200, "{body}");
        let at = body["access_token"].as_str().context("access token")?;
        let (status, info) = introspect(&auth, at, "cli").await?;
        assert_eq!(status, 200, "{info}");
        assert_eq!(info["active"], true, "{info}");
        let want = if unbound { auth.issuer() } else { RESOURCE };
        assert_eq!(info["aud"], want, "unbound {unbound}: {info}");
        // Another public client learns nothing about it.
        let (status, info) = introspect(&auth, at, "other").await?;
        assert_eq!((status, info), (200, json!({"active": false})));
    }
    // Without public introspection a public client is refused.
    let strict = server(Lenience::default()).await?;
    let code = authorize(&strict, &[]).await?.code()?;
    let (_, body) = exchange(&strict, &code, REDIRECT, Some(VERIFIER), RESOURCE).await?;
    let at = body["access_token"].as_str().context("access token")?;
    let (status, info) = introspect(&strict, at, "cli").await?;
    assert_eq!(status, 401, "{info}");
    Ok(())
}
