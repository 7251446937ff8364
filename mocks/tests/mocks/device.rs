//! The mock device-flow server: RFC 8628 and the Peel vendor shape.
//!
//! Intervals are tens of milliseconds: the semantics are the RFC's, the
//! clock is fast.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context;
use authconform_mocks::{
    DevicePaths, DeviceReply, DeviceScript, DeviceServerConfig, MockDeviceServer, REDACTED, TestCa,
};
use serde_json::{Value, json};

use super::support::{http, https};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The interval the tests' server enforces.
const INTERVAL: Duration = Duration::from_millis(40);
/// A well-paced client's wait.
const WAIT: Duration = Duration::from_millis(60);

fn fast(script: DeviceScript) -> DeviceServerConfig {
    DeviceServerConfig {
        script,
        interval: INTERVAL,
        slow_down_increment: Duration::from_millis(30),
        poll_tolerance: Duration::from_millis(10),
        ..DeviceServerConfig::default()
    }
}

struct Reply {
    status: u16,
    cache_control: Option<String>,
    body: Value,
}

async fn reply(response: reqwest::Response) -> anyhow::Result<Reply> {
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

async fn rfc_start(device: &MockDeviceServer, client_id: &str) -> anyhow::Result<Value> {
    let r = reply(
        http()
            .post(device.device_authorization_url())
            .form(&[("client_id", client_id), ("scope", "read")])
            .send()
            .await?,
    )
    .await?;
    anyhow::ensure!(r.status == 200, "start: {} {}", r.status, r.body);
    Ok(r.body)
}

async fn rfc_poll(
    device: &MockDeviceServer,
    device_code: &str,
    client_id: &str,
) -> anyhow::Result<Reply> {
    reply(
        http()
            .post(device.token_url())
            .form(&[
                ("grant_type", GRANT),
                ("device_code", device_code),
                ("client_id", client_id),
            ])
            .send()
            .await?,
    )
    .await
}

async fn vendor_poll(device: &MockDeviceServer, device_code: &str) -> anyhow::Result<Reply> {
    reply(
        http()
            .post(device.exchange_url())
            .json(&json!({ "device_code": device_code }))
            .send()
            .await?,
    )
    .await
}

fn code(start: &Value) -> anyhow::Result<String> {
    Ok(start["device_code"]
        .as_str()
        .context("device_code")?
        .to_owned())
}

#[tokio::test]
async fn rfc8628_start_response() -> anyhow::Result<()> {
    let device = MockDeviceServer::start(DeviceServerConfig {
        interval: Duration::from_millis(2500),
        ..DeviceServerConfig::default()
    })
    .await?;
    let r = reply(
        http()
            .post(device.device_authorization_url())
            .form(&[("client_id", "cli")])
            .send()
            .await?,
    )
    .await?;
    assert_eq!(r.status, 200);
    assert_eq!(r.cache_control.as_deref(), Some("no-store"));
    let dc = r.body["device_code"].as_str().context("device_code")?;
    assert!(dc.len() >= 43, "device code under 256 bits");
    let user_code = r.body["user_code"].as_str().context("user_code")?;
    assert_eq!(user_code.len(), 9);
    assert!(
        user_code
            .chars()
            .all(|c| c == '-' || "BCDFGHJKLMNPQRSTVWXZ".contains(c))
    );
    let uri = r.body["verification_uri"]
        .as_str()
        .context("verification_uri")?;
    assert_eq!(uri, format!("{}/device", device.base_url()));
    assert_eq!(
        r.body["verification_uri_complete"],
        format!("{uri}?user_code={user_code}")
    );
    assert_eq!(r.body["expires_in"], 600);
    assert_eq!(r.body["interval"], 3, "2.5 s advertised rounded up");
    // The verification page exists.
    let page = http()
        .get(uri)
        .query(&[("user_code", user_code)])
        .send()
        .await?;
    assert_eq!(page.status(), 200);
    assert!(page.text().await?.contains(user_code));

    // RFC mode: client_id is required, the body must be a form.
    let missing = reply(
        http()
            .post(device.device_authorization_url())
            .form(&[("scope", "x")])
            .send()
            .await?,
    )
    .await?;
    assert_eq!(
        (missing.status, missing.body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let as_json = reply(
        http()
            .post(device.device_authorization_url())
            .json(&json!({"client_id": "cli"}))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(as_json.body["error"], "invalid_request");

    // Fifty starts, fifty distinct codes.
    let mut seen = HashSet::new();
    for _ in 0..50 {
        seen.insert(code(&rfc_start(&device, "cli").await?)?);
    }
    assert_eq!(seen.len(), 50);
    Ok(())
}

#[tokio::test]
async fn approve_after_n_polls_issues_one_key_once() -> anyhow::Result<()> {
    let device = MockDeviceServer::start(fast(DeviceScript::ApproveAfter(2))).await?;
    let dc = code(&rfc_start(&device, "cli").await?)?;
    for _ in 0..2 {
        tokio::time::sleep(WAIT).await;
        let r = rfc_poll(&device, &dc, "cli").await?;
        assert_eq!(r.status, 400);
        assert_eq!(r.body["error"], "authorization_pending");
        assert!(r.body.get("access_token").is_none());
    }
    tokio::time::sleep(WAIT).await;
    let ok = rfc_poll(&device, &dc, "cli").await?;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.cache_control.as_deref(), Some("no-store"));
    assert_eq!(ok.body["token_type"], "Bearer");
    let key = ok.body["access_token"].as_str().context("key")?;
    assert!(key.starts_with("sk_test_"));
    assert_eq!(device.issued_api_keys(), vec![key.to_owned()]);

    // The same device code again: invalid_grant, no second key.
    tokio::time::sleep(WAIT).await;
    let again = rfc_poll(&device, &dc, "cli").await?;
    assert_eq!(
        (again.status, again.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(device.issued_api_keys().len(), 1);

    let outcomes: Vec<String> = device.polls().into_iter().map(|p| p.outcome).collect();
    assert_eq!(
        outcomes,
        [
            "authorization_pending",
            "authorization_pending",
            "api_key_issued",
            "invalid_grant"
        ]
    );
    Ok(())
}

#[tokio::test]
async fn vendor_shape_under_default_and_custom_paths() -> anyhow::Result<()> {
    let device = MockDeviceServer::start(DeviceServerConfig {
        api_key: Some("sk_test_SENTINEL".into()),
        user_code: Some("WDJB-MJHT".into()),
        device_code_prefix: "DC-SENTINEL-".into(),
        ..fast(DeviceScript::ApproveAfter(0))
    })
    .await?;
    assert!(device.start_url().ends_with("/public/device/start"));
    assert!(device.exchange_url().ends_with("/public/device/exchange"));
    // No body, no credential.
    let start = reply(http().post(device.start_url()).send().await?).await?;
    assert_eq!(start.status, 200);
    assert_eq!(start.body["user_code"], "WDJB-MJHT");
    let dc = code(&start.body)?;
    assert!(dc.starts_with("DC-SENTINEL-"));
    tokio::time::sleep(WAIT).await;
    let ok = vendor_poll(&device, &dc).await?;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        ok.body,
        json!({"api_key": "sk_test_SENTINEL", "token_type": "api_key"})
    );
    assert_eq!(ok.cache_control.as_deref(), Some("no-store"));
    assert!(device.polls()[0].vendor);

    // Configurable paths (vendor mode = same semantics elsewhere).
    let custom = MockDeviceServer::start(DeviceServerConfig {
        paths: DevicePaths {
            vendor_start: "/cli/login/begin".into(),
            vendor_exchange: "/cli/login/poll".into(),
            ..DevicePaths::default()
        },
        ..fast(DeviceScript::ApproveAfter(1))
    })
    .await?;
    assert!(custom.exchange_url().ends_with("/cli/login/poll"));
    let start = reply(
        http()
            .post(custom.start_url())
            .form(&[("client_id", "peel-cli")])
            .send()
            .await?,
    )
    .await?;
    let dc = code(&start.body)?;
    tokio::time::sleep(WAIT).await;
    assert_eq!(
        vendor_poll(&custom, &dc).await?.body["error"],
        "authorization_pending"
    );
    // The old default path is not served.
    let gone = http()
        .post(format!("{}/public/device/start", custom.base_url()))
        .send()
        .await?;
    assert_eq!(gone.status(), 404);

    // Two endpoints on one path is a configuration error.
    let clash = MockDeviceServer::start(DeviceServerConfig {
        paths: DevicePaths {
            vendor_start: "/token".into(),
            ..DevicePaths::default()
        },
        ..DeviceServerConfig::default()
    })
    .await;
    assert!(clash.is_err());
    Ok(())
}

#[tokio::test]
async fn polling_too_fast_gets_slow_down_and_a_longer_interval() -> anyhow::Result<()> {
    // Wider margins than the other tests: here a poll must come too early,
    // however slow the machine.
    let device = MockDeviceServer::start(DeviceServerConfig {
        script: DeviceScript::ApproveAfter(1),
        interval: Duration::from_millis(300),
        slow_down_increment: Duration::from_millis(200),
        poll_tolerance: Duration::from_millis(10),
        ..DeviceServerConfig::default()
    })
    .await?;
    let client = http();
    let poll = |dc: String| {
        let (client, url) = (client.clone(), device.token_url());
        async move {
            reply(
                client
                    .post(url)
                    .form(&[
                        ("grant_type", GRANT),
                        ("device_code", &dc),
                        ("client_id", "cli"),
                    ])
                    .send()
                    .await?,
            )
            .await
        }
    };
    let start: Value = client
        .post(device.device_authorization_url())
        .form(&[("client_id", "cli")])
        .send()
        .await?
        .json()
        .await?;
    let dc = code(&start)?;
    // Immediately: too fast.
    let r = poll(dc.clone()).await?;
    assert_eq!(r.body["error"], "slow_down");
    // The interval is now 300 + 200 ms: waiting 350 ms is still too fast.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let r = poll(dc.clone()).await?;
    assert_eq!(r.body["error"], "slow_down");
    // Now 700 ms.
    tokio::time::sleep(Duration::from_millis(720)).await;
    let r = poll(dc.clone()).await?;
    assert_eq!(
        r.body["error"], "authorization_pending",
        "slowed polls do not advance the script"
    );
    tokio::time::sleep(Duration::from_millis(720)).await;
    let r = poll(dc.clone()).await?;
    assert_eq!(r.status, 200, "{}", r.body);

    let polls = device.polls();
    assert_eq!(polls.len(), 4);
    assert!(polls[0].too_fast && polls[1].too_fast);
    assert!(!polls[2].too_fast && !polls[3].too_fast);
    assert_eq!(polls[0].interval, Duration::from_millis(300));
    assert_eq!(polls[0].interval_after, Duration::from_millis(500));
    assert_eq!(polls[1].interval_after, Duration::from_millis(700));
    assert_eq!(polls[3].interval, Duration::from_millis(700));
    assert!(polls.iter().all(|p| p.session == Some(1)));
    let gap = polls[2].since_previous.context("gap")?;
    assert!(gap >= Duration::from_millis(720), "{gap:?}");
    assert!(polls.windows(2).all(|w| w[0].elapsed < w[1].elapsed));

    // With enforcement off, fast polls are just polls.
    let lax = MockDeviceServer::start(DeviceServerConfig {
        enforce_interval: false,
        ..fast(DeviceScript::ApproveAfter(1))
    })
    .await?;
    let dc = code(&rfc_start(&lax, "cli").await?)?;
    assert_eq!(
        rfc_poll(&lax, &dc, "cli").await?.body["error"],
        "authorization_pending"
    );
    Ok(())
}

#[tokio::test]
async fn scripted_slow_down_then_approve() -> anyhow::Result<()> {
    let device =
        MockDeviceServer::start(fast(DeviceScript::SlowDownThenApprove { slow_downs: 1 })).await?;
    let dc = code(&rfc_start(&device, "cli").await?)?;
    tokio::time::sleep(WAIT).await;
    let r = rfc_poll(&device, &dc, "cli").await?;
    assert_eq!(r.body["error"], "slow_down");
    // The scripted slow_down raised the interval to 70 ms.
    tokio::time::sleep(Duration::from_millis(90)).await;
    let r = rfc_poll(&device, &dc, "cli").await?;
    assert_eq!(r.status, 200, "{}", r.body);
    let polls = device.polls();
    assert!(!polls[0].too_fast);
    assert_eq!(polls[0].interval_after, Duration::from_millis(70));
    Ok(())
}

#[tokio::test]
async fn denial_and_expiry_are_terminal() -> anyhow::Result<()> {
    for (script, error) in [
        (DeviceScript::Deny, "access_denied"),
        (DeviceScript::Expire, "expired_token"),
    ] {
        let device = MockDeviceServer::start(fast(script)).await?;
        let dc = code(&rfc_start(&device, "cli").await?)?;
        for _ in 0..2 {
            tokio::time::sleep(WAIT).await;
            let r = vendor_poll(&device, &dc).await?;
            assert_eq!((r.status, r.body["error"].as_str()), (400, Some(error)));
        }
        assert!(device.issued_api_keys().is_empty());
    }

    // Terminal means terminal: a denial followed by a scripted approval
    // stays denied.
    let device = MockDeviceServer::start(fast(DeviceScript::Sequence(vec![
        DeviceReply::Deny,
        DeviceReply::Approve,
    ])))
    .await?;
    let dc = code(&rfc_start(&device, "cli").await?)?;
    for _ in 0..2 {
        tokio::time::sleep(WAIT).await;
        assert_eq!(
            rfc_poll(&device, &dc, "cli").await?.body["error"],
            "access_denied"
        );
    }
    assert!(device.issued_api_keys().is_empty());

    // Real expiry: a code that lived 80 ms is expired_token from then on,
    // even though the script would approve.
    let device = MockDeviceServer::start(DeviceServerConfig {
        expires_in: Duration::from_millis(80),
        ..fast(DeviceScript::ApproveAfter(1))
    })
    .await?;
    let start = rfc_start(&device, "cli").await?;
    assert_eq!(start["expires_in"], 1, "rounded up to whole seconds");
    let dc = code(&start)?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        rfc_poll(&device, &dc, "cli").await?.body["error"],
        "expired_token"
    );
    tokio::time::sleep(WAIT).await;
    assert_eq!(
        rfc_poll(&device, &dc, "cli").await?.body["error"],
        "expired_token"
    );

    // Never approved: pending until expiry.
    let device = MockDeviceServer::start(DeviceServerConfig {
        expires_in: Duration::from_millis(150),
        ..fast(DeviceScript::Pending)
    })
    .await?;
    let dc = code(&rfc_start(&device, "cli").await?)?;
    tokio::time::sleep(WAIT).await;
    assert_eq!(
        rfc_poll(&device, &dc, "cli").await?.body["error"],
        "authorization_pending"
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        rfc_poll(&device, &dc, "cli").await?.body["error"],
        "expired_token"
    );
    Ok(())
}

#[tokio::test]
async fn unknown_tampered_and_foreign_codes_are_invalid_grant() -> anyhow::Result<()> {
    let device = MockDeviceServer::start(DeviceServerConfig {
        enforce_interval: false,
        ..fast(DeviceScript::ApproveAfter(5))
    })
    .await?;
    let dc = code(&rfc_start(&device, "cli").await?)?;
    let flipped: String = dc
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                if c.is_ascii_uppercase() {
                    c.to_ascii_lowercase()
                } else {
                    c.to_ascii_uppercase()
                }
            } else {
                c
            }
        })
        .collect();
    let truncated = &dc[..dc.len() - 1];
    let random = "A".repeat(43);
    for candidate in [random.as_str(), truncated, flipped.as_str()] {
        if candidate == dc {
            continue;
        }
        let r = rfc_poll(&device, candidate, "cli").await?;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{candidate}"
        );
    }
    // Issued to another client_id.
    let r = rfc_poll(&device, &dc, "other-cli").await?;
    assert_eq!(r.body["error"], "invalid_grant");
    // Empty device code.
    let r = rfc_poll(&device, "", "cli").await?;
    assert_eq!(r.body["error"], "invalid_request");
    // Wrong grant type, missing client_id.
    let r = reply(
        http()
            .post(device.token_url())
            .form(&[
                ("grant_type", "authorization_code"),
                ("device_code", &dc),
                ("client_id", "cli"),
            ])
            .send()
            .await?,
    )
    .await?;
    assert_eq!(r.body["error"], "unsupported_grant_type");
    let r = reply(
        http()
            .post(device.token_url())
            .form(&[("grant_type", GRANT), ("device_code", &dc)])
            .send()
            .await?,
    )
    .await?;
    assert_eq!(r.body["error"], "invalid_request");
    // The genuine code is still merely pending.
    assert_eq!(
        rfc_poll(&device, &dc, "cli").await?.body["error"],
        "authorization_pending"
    );
    Ok(())
}

#[tokio::test]
async fn sequence_script_and_server_error() -> anyhow::Result<()> {
    let device = MockDeviceServer::start(DeviceServerConfig {
        enforce_interval: false,
        ..fast(DeviceScript::Sequence(vec![
            DeviceReply::Pending,
            DeviceReply::ServerError,
            DeviceReply::SlowDown,
            DeviceReply::Approve,
        ]))
    })
    .await?;
    let dc = code(&rfc_start(&device, "cli").await?)?;
    let mut seen = Vec::new();
    for _ in 0..4 {
        let r = rfc_poll(&device, &dc, "cli").await?;
        seen.push((
            r.status,
            r.body["error"].as_str().unwrap_or("ok").to_owned(),
        ));
    }
    assert_eq!(
        seen,
        vec![
            (400, "authorization_pending".to_owned()),
            (500, "server_error".to_owned()),
            (400, "slow_down".to_owned()),
            (200, "ok".to_owned()),
        ]
    );
    Ok(())
}

#[tokio::test]
async fn journal_redacts_device_codes_and_keys_over_tls() -> anyhow::Result<()> {
    let ca = TestCa::generate()?;
    let device = MockDeviceServer::start(DeviceServerConfig {
        tls: Some(ca.server_config()?),
        ..fast(DeviceScript::ApproveAfter(0))
    })
    .await?;
    assert!(device.base_url().starts_with("https://127.0.0.1:"));
    let client = https(&ca);
    let start: Value = client
        .post(device.start_url())
        .json(&json!({"client_id": "peel-cli"}))
        .send()
        .await?
        .json()
        .await?;
    assert!(
        start["verification_uri"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://"))
    );
    let dc = code(&start)?;
    tokio::time::sleep(WAIT).await;
    let ok: Value = client
        .post(device.exchange_url())
        .form(&[("device_code", dc.as_str())])
        .send()
        .await?
        .json()
        .await?;
    let key = ok["api_key"].as_str().context("api_key")?;

    let journal = device.journal();
    assert_eq!(journal.len(), 2);
    assert_eq!(journal[0].param("client_id"), Some("peel-cli"));
    assert_eq!(
        journal[0].outcome.as_deref(),
        Some("device_authorization_issued")
    );
    assert_eq!(journal[1].param("device_code"), Some(REDACTED));
    assert_eq!(journal[1].outcome.as_deref(), Some("api_key_issued"));
    let dump = format!("{journal:?}");
    assert!(!dump.contains(&dc) && !dump.contains(key));
    Ok(())
}

#[tokio::test]
async fn client_allow_list_and_omitted_interval() -> anyhow::Result<()> {
    let device = MockDeviceServer::start(DeviceServerConfig {
        client_ids: vec!["cli".into()],
        advertise_interval: false,
        api_key_prefix: "pk_live_".into(),
        ..fast(DeviceScript::ApproveAfter(0))
    })
    .await?;
    let start = rfc_start(&device, "cli").await?;
    assert!(
        start.get("interval").is_none(),
        "interval advertised: {start}"
    );
    let unknown = reply(
        http()
            .post(device.device_authorization_url())
            .form(&[("client_id", "stranger")])
            .send()
            .await?,
    )
    .await?;
    assert_eq!(
        (unknown.status, unknown.body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    tokio::time::sleep(WAIT).await;
    let ok = rfc_poll(&device, &code(&start)?, "cli").await?;
    assert!(
        ok.body["access_token"]
            .as_str()
            .is_some_and(|k| k.starts_with("pk_live_"))
    );
    Ok(())
}
