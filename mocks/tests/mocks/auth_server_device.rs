//! The mock authorization server's device flow (RFC 8628): metadata,
//! `/device_authorization`, the device-code grant at `/token`, and the
//! scripting API.
//!
//! Intervals are tens of milliseconds: the semantics are the RFC's, the
//! clock is fast.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context;
use authconform_mocks::{
    AuthServerConfig, ClientConfig, DeviceFlowConfig, DeviceScript, MockAuthServer, REDACTED,
    UserCodeError,
};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Map, Value};

use super::support::http;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const RESOURCE: &str = "https://mcp.example/mcp";
/// The interval the tests' server enforces.
const INTERVAL: Duration = Duration::from_millis(40);
/// A well-paced client's wait.
const WAIT: Duration = Duration::from_millis(60);

fn clients() -> Vec<ClientConfig> {
    ["cli", "other"]
        .iter()
        .map(|id| ClientConfig {
            client_id: (*id).into(),
            redirect_uris: vec!["http://127.0.0.1:33418/cb".into()],
            secret: None,
        })
        .collect()
}

fn fast(script: DeviceScript) -> DeviceFlowConfig {
    DeviceFlowConfig {
        script,
        interval: INTERVAL,
        slow_down_increment: Duration::from_millis(30),
        poll_tolerance: Duration::from_millis(10),
        ..DeviceFlowConfig::default()
    }
}

async fn server(device: DeviceFlowConfig) -> anyhow::Result<MockAuthServer> {
    MockAuthServer::start(AuthServerConfig {
        clients: clients(),
        device,
        ..AuthServerConfig::default()
    })
    .await
}

struct Reply {
    status: u16,
    cache_control: Option<String>,
    body: Value,
}

async fn post(url: String, form: &[(&str, &str)]) -> anyhow::Result<Reply> {
    let response = http().post(url).form(form).send().await?;
    Ok(Reply {
        status: response.status().as_u16(),
        cache_control: response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: response.json().await?,
    })
}

/// A successful device authorization for `cli`.
async fn start(auth: &MockAuthServer, extra: &[(&str, &str)]) -> anyhow::Result<Value> {
    let mut form = vec![("client_id", "cli")];
    form.extend_from_slice(extra);
    let r = post(auth.device_authorization_endpoint(), &form).await?;
    anyhow::ensure!(r.status == 200, "start: {} {}", r.status, r.body);
    assert_eq!(r.cache_control.as_deref(), Some("no-store"));
    Ok(r.body)
}

async fn poll_as(
    auth: &MockAuthServer,
    device_code: &str,
    client_id: &str,
) -> anyhow::Result<Reply> {
    post(
        auth.token_endpoint(),
        &[
            ("grant_type", GRANT),
            ("device_code", device_code),
            ("client_id", client_id),
        ],
    )
    .await
}

async fn poll(auth: &MockAuthServer, device_code: &str) -> anyhow::Result<Reply> {
    poll_as(auth, device_code, "cli").await
}

fn code(body: &Value, name: &str) -> anyhow::Result<String> {
    Ok(body[name].as_str().context(name.to_owned())?.to_owned())
}

#[track_caller]
fn assert_error(reply: &Reply, status: u16, error: &str) {
    assert_eq!(reply.status, status, "body {}", reply.body);
    assert_eq!(reply.body["error"], error, "body {}", reply.body);
    assert!(reply.body.get("access_token").is_none());
}

async fn verify(auth: &MockAuthServer, token: &str) -> anyhow::Result<Map<String, Value>> {
    let jwks: JwkSet = http().get(auth.jwks_url()).send().await?.json().await?;
    let header = jsonwebtoken::decode_header(token)?;
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let kid = header.kid.context("no kid")?;
    let key = DecodingKey::from_jwk(jwks.find(&kid).context("kid not in JWKS")?)?;
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[RESOURCE]);
    validation.set_issuer(&[auth.issuer()]);
    Ok(jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)?.claims)
}

#[tokio::test]
async fn metadata_advertises_the_device_flow() -> anyhow::Result<()> {
    let auth = server(DeviceFlowConfig::default()).await?;
    let m: Value = http().get(auth.metadata_url()).send().await?.json().await?;
    assert_eq!(
        m["device_authorization_endpoint"],
        auth.device_authorization_endpoint()
    );
    assert_eq!(
        auth.device_authorization_endpoint(),
        format!("{}/device_authorization", auth.issuer())
    );
    let grants = m["grant_types_supported"]
        .as_array()
        .context("grant_types_supported")?;
    assert!(grants.iter().any(|g| g == GRANT), "{grants:?}");
    assert!(grants.iter().any(|g| g == "authorization_code"));
    Ok(())
}

#[tokio::test]
async fn device_authorization_response_and_its_errors() -> anyhow::Result<()> {
    let auth = server(DeviceFlowConfig {
        interval: Duration::from_millis(1500),
        expires_in: Duration::from_secs(90),
        ..DeviceFlowConfig::default()
    })
    .await?;
    let body = start(&auth, &[("scope", "mcp:read")]).await?;
    let user_code = code(&body, "user_code")?;
    let (left, right) = user_code.split_once('-').context("XXXX-XXXX")?;
    assert!(left.len() == 4 && right.len() == 4, "{user_code}");
    assert!(
        format!("{left}{right}")
            .chars()
            .all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)),
        "{user_code}"
    );
    let verification = code(&body, "verification_uri")?;
    assert_eq!(verification, format!("{}/device", auth.issuer()));
    assert_eq!(
        body["verification_uri_complete"],
        format!("{verification}?user_code={user_code}")
    );
    assert_eq!(body["expires_in"], 90);
    assert_eq!(body["interval"], 2, "1.5 s is advertised rounded up");
    assert_eq!(auth.user_codes(), vec![user_code.clone()]);
    // The verification page exists (approval itself is scripted).
    let page = http().get(&verification).send().await?;
    assert_eq!(page.status(), 200);

    // Device codes: high-entropy (≥ 256 bits of base64url) and unique.
    let mut seen = HashSet::new();
    for _ in 0..20 {
        let dc = code(&start(&auth, &[]).await?, "device_code")?;
        assert!(dc.len() >= 43, "{dc}");
        assert!(seen.insert(dc));
    }

    let url = auth.device_authorization_endpoint();
    assert_error(&post(url.clone(), &[]).await?, 400, "invalid_request");
    assert_error(
        &post(url.clone(), &[("client_id", "nobody")]).await?,
        401,
        "invalid_client",
    );
    assert_error(
        &post(url.clone(), &[("client_id", "cli"), ("scope", "admin")]).await?,
        400,
        "invalid_scope",
    );
    assert_error(
        &post(url, &[("client_id", "cli"), ("resource", "not a uri")]).await?,
        400,
        "invalid_target",
    );
    Ok(())
}

#[tokio::test]
async fn pending_until_approved_then_one_jwt_with_the_resource_as_audience() -> anyhow::Result<()> {
    let auth = server(fast(DeviceScript::Pending)).await?;
    let body = start(&auth, &[("scope", "mcp:read"), ("resource", RESOURCE)]).await?;
    let dc = code(&body, "device_code")?;
    let user_code = code(&body, "user_code")?;

    tokio::time::sleep(WAIT).await;
    let pending = poll(&auth, &dc).await?;
    assert_error(&pending, 400, "authorization_pending");
    assert_eq!(pending.cache_control.as_deref(), Some("no-store"));
    tokio::time::sleep(WAIT).await;
    assert_error(&poll(&auth, &dc).await?, 400, "authorization_pending");

    // The user types the code sloppily: case and dash do not matter.
    auth.approve_user_code(&user_code.replace('-', "").to_lowercase())?;
    tokio::time::sleep(WAIT).await;
    let issued = poll(&auth, &dc).await?;
    assert_eq!(issued.status, 200, "{}", issued.body);
    assert_eq!(issued.cache_control.as_deref(), Some("no-store"));
    assert_eq!(issued.body["token_type"], "Bearer");
    assert_eq!(issued.body["scope"], "mcp:read");
    assert!(issued.body["refresh_token"].is_string());
    let claims = verify(&auth, &code(&issued.body, "access_token")?).await?;
    assert_eq!(claims["aud"], RESOURCE);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["client_id"], "cli");
    assert_eq!(claims["scope"], "mcp:read");

    // One token per code.
    tokio::time::sleep(WAIT).await;
    assert_error(&poll(&auth, &dc).await?, 400, "invalid_grant");
    assert_eq!(
        auth.approve_user_code(&user_code),
        Err(UserCodeError::Concluded)
    );

    // Every poll is recorded with its timing...
    let polls = auth.device_polls();
    let outcomes: Vec<&str> = polls.iter().map(|p| p.outcome.as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "authorization_pending",
            "authorization_pending",
            "token_issued",
            "invalid_grant"
        ]
    );
    for p in &polls {
        assert_eq!(p.session, Some(1));
        assert_eq!(p.interval, INTERVAL);
        assert!(!p.too_fast);
        assert!(p.since_previous.is_some_and(|gap| gap >= WAIT));
    }
    assert!(polls.windows(2).all(|w| w[0].elapsed < w[1].elapsed));
    // ...and journaled, device code redacted.
    let journal: Vec<_> = auth
        .journal()
        .into_iter()
        .filter(|r| r.path == "/token")
        .collect();
    assert_eq!(journal.len(), 4);
    assert_eq!(journal[0].param("device_code"), Some(REDACTED));
    assert_eq!(journal[0].param("grant_type"), Some(GRANT));
    assert_eq!(journal[2].outcome.as_deref(), Some("token_issued"));
    assert_eq!(journal[3].outcome.as_deref(), Some("invalid_grant"));
    Ok(())
}

#[tokio::test]
async fn polling_too_fast_is_slow_down_and_the_interval_grows_for_good() -> anyhow::Result<()> {
    // Longer steps here: "too soon" must stay too soon on a loaded machine.
    let ms = Duration::from_millis;
    let auth = server(DeviceFlowConfig {
        interval: ms(200),
        slow_down_increment: ms(200),
        ..fast(DeviceScript::Pending)
    })
    .await?;
    let dc = code(&start(&auth, &[]).await?, "device_code")?;
    let fast_reply = poll(&auth, &dc).await?;
    assert_error(&fast_reply, 400, "slow_down");
    assert_eq!(fast_reply.cache_control.as_deref(), Some("no-store"));
    // The interval is 400 ms now: 50 ms later is too soon again.
    tokio::time::sleep(ms(50)).await;
    assert_error(&poll(&auth, &dc).await?, 400, "slow_down");
    // Now 600 ms.
    tokio::time::sleep(ms(650)).await;
    assert_error(&poll(&auth, &dc).await?, 400, "authorization_pending");

    let polls = auth.device_polls();
    assert_eq!(polls.len(), 3);
    assert!(polls[0].too_fast && polls[1].too_fast && !polls[2].too_fast);
    assert_eq!(polls[0].interval_after, ms(400));
    assert_eq!(polls[1].interval_after, ms(600));
    assert_eq!(polls[2].interval, ms(600));
    assert!(polls[2].since_previous.is_some_and(|gap| gap >= ms(650)));

    // A scripted slow_down grows the interval too.
    let scripted = server(fast(DeviceScript::SlowDownThenApprove { slow_downs: 1 })).await?;
    let dc = code(&start(&scripted, &[]).await?, "device_code")?;
    tokio::time::sleep(WAIT).await;
    assert_error(&poll(&scripted, &dc).await?, 400, "slow_down");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(poll(&scripted, &dc).await?.status, 200);
    Ok(())
}

#[tokio::test]
async fn denial_and_expiry_are_terminal() -> anyhow::Result<()> {
    let auth = server(fast(DeviceScript::Pending)).await?;

    let denied = start(&auth, &[]).await?;
    let (dc, uc) = (code(&denied, "device_code")?, code(&denied, "user_code")?);
    auth.deny_user_code(&uc)?;
    tokio::time::sleep(WAIT).await;
    assert_error(&poll(&auth, &dc).await?, 400, "access_denied");
    tokio::time::sleep(WAIT).await;
    assert_error(&poll(&auth, &dc).await?, 400, "access_denied");
    assert_eq!(auth.approve_user_code(&uc), Err(UserCodeError::Concluded));

    let expired = start(&auth, &[]).await?;
    let (dc, uc) = (code(&expired, "device_code")?, code(&expired, "user_code")?);
    auth.expire_user_code(&uc)?;
    assert_eq!(auth.approve_user_code(&uc), Err(UserCodeError::Expired));
    tokio::time::sleep(WAIT).await;
    assert_error(&poll(&auth, &dc).await?, 400, "expired_token");

    assert_eq!(
        auth.approve_user_code("ZZZZ-ZZZZ"),
        Err(UserCodeError::Unknown)
    );

    // Expiry by time: a late approval is refused, the poll is expired_token.
    let short = server(DeviceFlowConfig {
        expires_in: Duration::from_millis(100),
        ..fast(DeviceScript::Pending)
    })
    .await?;
    let body = start(&short, &[]).await?;
    assert_eq!(body["expires_in"], 1);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        short.approve_user_code(&code(&body, "user_code")?),
        Err(UserCodeError::Expired)
    );
    assert_error(
        &poll(&short, &code(&body, "device_code")?).await?,
        400,
        "expired_token",
    );
    Ok(())
}

#[tokio::test]
async fn unknown_tampered_or_foreign_device_codes_are_invalid_grant() -> anyhow::Result<()> {
    let auth = server(fast(DeviceScript::ApproveAfter(0))).await?;
    let dc = code(&start(&auth, &[]).await?, "device_code")?;
    tokio::time::sleep(WAIT).await;
    let flipped: String = dc
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    for bad in [
        "Qm9ndXMtZGV2aWNlLWNvZGUtdGhhdC13YXMtbmV2ZXItaXNzdWVk",
        &dc[..dc.len() - 1],
        &flipped,
    ] {
        assert_error(&poll(&auth, bad).await?, 400, "invalid_grant");
    }
    assert_error(&poll_as(&auth, &dc, "other").await?, 400, "invalid_grant");
    assert_error(&poll(&auth, "").await?, 400, "invalid_request");
    // None of that touched the real code, which the script approves at once.
    let issued = poll(&auth, &dc).await?;
    assert_eq!(issued.status, 200, "{}", issued.body);
    assert!(
        auth.device_polls()
            .iter()
            .filter(|p| p.outcome == "invalid_grant")
            .count()
            >= 3
    );
    Ok(())
}

#[tokio::test]
async fn the_default_script_approves_and_approval_can_name_the_user() -> anyhow::Result<()> {
    // Default script: one authorization_pending, then tokens, no harness
    // action needed (what the standalone server does for a CLI under test).
    let auth = server(DeviceFlowConfig {
        user_code: Some("WDJB-MJHT".into()),
        device_code_prefix: "DC-SENTINEL-".into(),
        ..fast(DeviceScript::default())
    })
    .await?;
    let body = start(&auth, &[("resource", RESOURCE)]).await?;
    assert_eq!(body["user_code"], "WDJB-MJHT");
    let dc = code(&body, "device_code")?;
    assert!(dc.starts_with("DC-SENTINEL-"));
    tokio::time::sleep(WAIT).await;
    assert_error(&poll(&auth, &dc).await?, 400, "authorization_pending");
    tokio::time::sleep(WAIT).await;
    let issued = poll(&auth, &dc).await?;
    assert_eq!(issued.status, 200, "{}", issued.body);
    assert_eq!(issued.body["scope"], "mcp:read mcp:tools");

    let pending = server(fast(DeviceScript::Pending)).await?;
    let body = start(&pending, &[("resource", RESOURCE)]).await?;
    pending.approve_user_code_as(&code(&body, "user_code")?, "bob")?;
    tokio::time::sleep(WAIT).await;
    let issued = poll(&pending, &code(&body, "device_code")?).await?;
    let claims = verify(&pending, &code(&issued.body, "access_token")?).await?;
    assert_eq!(claims["sub"], "bob");
    Ok(())
}
