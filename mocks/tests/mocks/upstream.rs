//! The mock upstream: scripted rules, first match wins, journal, TLS.

use anyhow::Context;
use authconform_mocks::upstream::default_rules;
use authconform_mocks::{
    MockUpstream, Respond, TestCa, UpstreamConfig, UpstreamRule, UpstreamRules, When,
};
use serde_json::{Value, json};

use super::support::{http, https};

fn header_rule(key: &str, projects: Value) -> UpstreamRule {
    UpstreamRule {
        when: When {
            method: Some("GET".into()),
            path: Some("/projects".into()),
            headers: vec![("X-API-Key".into(), key.into())],
            ..When::default()
        },
        respond: Respond {
            json: Some(projects),
            ..Respond::default()
        },
    }
}

#[tokio::test]
async fn first_matching_rule_answers_per_key() -> anyhow::Result<()> {
    let upstream = MockUpstream::start_with(&[
        header_rule("project-key", json!([{"id": "p1"}])),
        header_rule("partner-key", json!([{"id": "p1"}, {"id": "p2"}])),
        // Overlaps both rules above: only reached by other keys.
        UpstreamRule {
            when: When {
                path_prefix: Some("/proj".into()),
                ..When::default()
            },
            respond: Respond {
                status: 403,
                headers: vec![("X-Reason".into(), "unknown key".into())],
                body: Some("forbidden".into()),
                ..Respond::default()
            },
        },
    ])
    .await?;
    let url = format!("{}/projects", upstream.base_url());
    let get = |key: &'static str| {
        let url = url.clone();
        async move { http().get(url).header("x-api-key", key).send().await }
    };
    let one: Value = get("project-key").await?.json().await?;
    assert_eq!(one, json!([{"id": "p1"}]));
    let all = get("partner-key").await?;
    assert_eq!(all.headers()["content-type"], "application/json");
    assert_eq!(all.json::<Value>().await?.as_array().map(Vec::len), Some(2));
    let other = get("stranger").await?;
    assert_eq!(other.status(), 403);
    assert_eq!(other.headers()["x-reason"], "unknown key");
    assert!(
        other.headers()["content-type"]
            .to_str()?
            .starts_with("text/plain")
    );
    assert_eq!(other.text().await?, "forbidden");

    // Nothing matches: a JSON 404 naming the request.
    let missing = http()
        .delete(format!("{}/nothing", upstream.base_url()))
        .send()
        .await?;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await?;
    assert_eq!(body["error"], "not_found");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("DELETE /nothing"))
    );

    let journal = upstream.journal().await;
    let rules: Vec<Option<usize>> = journal.iter().map(|e| e.rule).collect();
    assert_eq!(rules, vec![Some(0), Some(1), Some(2), None]);
    Ok(())
}

#[tokio::test]
async fn count_matching_and_journal_details() -> anyhow::Result<()> {
    let upstream = MockUpstream::start_with(&[UpstreamRule {
        when: When {
            method: Some("post".into()),
            body_contains: Some("\"name\"".into()),
            ..When::default()
        },
        respond: Respond {
            status: 201,
            json: Some(json!({"ok": true})),
            ..Respond::default()
        },
    }])
    .await?;
    let base = upstream.base_url();
    let created = http()
        .post(format!("{base}/v1/items?dry=1"))
        .header("Authorization", "Bearer upstream-token")
        .json(&json!({"name": "x"}))
        .send()
        .await?;
    assert_eq!(created.status(), 201);
    let unmatched = http()
        .post(format!("{base}/v1/items"))
        .body("plain")
        .send()
        .await?;
    assert_eq!(unmatched.status(), 404);
    http().get(format!("{base}/v2/other")).send().await?;

    let journal = upstream.journal().await;
    assert_eq!(journal.len(), 3);
    assert_eq!(journal[0].query.as_deref(), Some("dry=1"));
    assert_eq!(journal[0].body, r#"{"name":"x"}"#);
    assert_eq!(
        journal[0].header_values("authorization"),
        ["Bearer upstream-token"]
    );
    assert!(journal[0].at <= journal[1].at);

    let count = |when: When| {
        let upstream = &upstream;
        async move { upstream.count_matching(&when).await }
    };
    assert_eq!(count(When::default()).await, 3);
    assert_eq!(
        count(When {
            method: Some("POST".into()),
            ..When::default()
        })
        .await,
        2
    );
    assert_eq!(
        count(When {
            path_prefix: Some("/v1/".into()),
            ..When::default()
        })
        .await,
        2
    );
    assert_eq!(
        count(When {
            path: Some("/v2/other".into()),
            ..When::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(When {
            body_contains: Some("plain".into()),
            ..When::default()
        })
        .await,
        1
    );
    let bearer = When {
        headers: vec![("authorization".into(), "Bearer upstream-token".into())],
        ..When::default()
    };
    assert_eq!(count(bearer).await, 1);
    for value in ["Bearer other", "Bearer upstream", "bearer upstream-token"] {
        let wrong_value = When {
            headers: vec![("authorization".into(), value.into())],
            ..When::default()
        };
        assert_eq!(count(wrong_value).await, 0, "{value} matched");
    }
    upstream.clear_journal().await;
    assert!(upstream.journal().await.is_empty());
    Ok(())
}

#[tokio::test]
async fn upstream_over_tls_with_rules_from_toml() -> anyhow::Result<()> {
    let ca = TestCa::generate()?;
    let rules = UpstreamRules::from_toml(
        r#"
        [[rule]]
        when = { method = "GET", path = "/whoami", headers = [["X-API-Key", "k1"]] }
        respond = { json = { user = "alice" } }
        "#,
    )?;
    let upstream = MockUpstream::start_with_config(UpstreamConfig {
        tls: Some(ca.server_config()?),
        rules: rules.rule,
        ..UpstreamConfig::default()
    })
    .await?;
    assert!(upstream.base_url().starts_with("https://127.0.0.1:"));
    let body: Value = https(&ca)
        .get(format!("{}/whoami", upstream.base_url()))
        .header("X-API-Key", "k1")
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(body["user"], "alice");
    assert_eq!(upstream.journal().await.len(), 1);
    Ok(())
}

#[tokio::test]
async fn invalid_rules_fail_to_start() -> anyhow::Result<()> {
    let bad = UpstreamRule {
        respond: Respond {
            json: Some(json!(1)),
            body: Some("x".into()),
            ..Respond::default()
        },
        ..UpstreamRule::default()
    };
    let err = MockUpstream::start_with(&[UpstreamRule::default(), bad])
        .await
        .err()
        .context("a rule with both json and body started")?;
    assert!(format!("{err:#}").contains("upstream rule 1"), "{err:#}");
    Ok(())
}

#[tokio::test]
async fn more_than_254_rules_are_refused() -> anyhow::Result<()> {
    let rules = vec![UpstreamRule::default(); 255];
    let err = MockUpstream::start_with(&rules)
        .await
        .err()
        .context("255 rules started")?;
    assert!(format!("{err:#}").contains("at most 254"), "{err:#}");

    // 254 fit, and the last one still answers (priority 254, before the 404).
    let mut rules = vec![
        UpstreamRule {
            when: When {
                path: Some("/never".into()),
                ..When::default()
            },
            ..UpstreamRule::default()
        };
        253
    ];
    rules.push(UpstreamRule {
        respond: Respond {
            status: 202,
            ..Respond::default()
        },
        ..UpstreamRule::default()
    });
    let upstream = MockUpstream::start_with(&rules).await?;
    let reply = http()
        .get(format!("{}/x", upstream.base_url()))
        .send()
        .await?;
    assert_eq!(reply.status(), 202);
    assert_eq!(upstream.journal().await[0].rule, Some(253));
    Ok(())
}

#[tokio::test]
async fn journal_times_rules_and_clearing() -> anyhow::Result<()> {
    let before = std::time::SystemTime::now();
    let upstream = MockUpstream::start().await;
    for path in ["/projects", "/nothing", "/projects"] {
        http()
            .get(format!("{}{path}", upstream.base_url()))
            .send()
            .await?;
    }
    let after = std::time::SystemTime::now();
    let journal = upstream.journal().await;
    assert_eq!(
        journal.iter().map(|e| e.rule).collect::<Vec<_>>(),
        [Some(0), None, Some(0)]
    );
    for pair in journal.windows(2) {
        assert!(pair[0].at <= pair[1].at);
    }
    assert!(journal.iter().all(|e| before <= e.at && e.at <= after));

    upstream.clear_journal().await;
    assert!(upstream.journal().await.is_empty());
    http()
        .get(format!("{}/projects?after=clear", upstream.base_url()))
        .send()
        .await?;
    let journal = upstream.journal().await;
    assert_eq!(journal.len(), 1);
    assert_eq!(journal[0].query.as_deref(), Some("after=clear"));
    assert!(journal[0].at >= after);
    assert_eq!(upstream.count_matching(&When::default()).await, 1);
    Ok(())
}

/// A free port on 127.0.0.1 (bound, then released).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[tokio::test]
async fn pinned_ports_plain_and_tls() -> anyhow::Result<()> {
    let port = free_port()?;
    let plain = MockUpstream::start_with_config(UpstreamConfig {
        port,
        rules: default_rules(),
        ..UpstreamConfig::default()
    })
    .await?;
    assert_eq!(plain.base_url(), format!("http://127.0.0.1:{port}"));
    assert_eq!(plain.server().address().port(), port);
    let reply = http()
        .get(format!("{}/projects", plain.base_url()))
        .send()
        .await?;
    assert_eq!(reply.status(), 200);

    let ca = TestCa::generate()?;
    let port = free_port()?;
    let tls = MockUpstream::start_with_config(UpstreamConfig {
        tls: Some(ca.server_config()?),
        port,
        rules: default_rules(),
    })
    .await?;
    assert_eq!(tls.base_url(), format!("https://127.0.0.1:{port}"));
    // wiremock itself listens elsewhere, on loopback, in plain HTTP.
    let backend = tls.server().address();
    assert!(backend.ip().is_loopback());
    assert_ne!(backend.port(), port);
    let reply = https(&ca)
        .get(format!("{}/projects", tls.base_url()))
        .send()
        .await?;
    assert_eq!(reply.status(), 200);
    Ok(())
}

#[tokio::test]
async fn tls_front_stops_when_dropped() -> anyhow::Result<()> {
    let ca = TestCa::generate()?;
    let upstream = MockUpstream::start_with_config(UpstreamConfig {
        tls: Some(ca.server_config()?),
        rules: default_rules(),
        ..UpstreamConfig::default()
    })
    .await?;
    let url = format!("{}/projects", upstream.base_url());
    let addr = url::Url::parse(&url)?
        .socket_addrs(|| None)?
        .into_iter()
        .next()
        .context("front address")?;
    // Keep a connection open across the drop, too.
    let client = https(&ca);
    assert_eq!(client.get(&url).send().await?.status(), 200);
    drop(upstream);

    // The abort takes effect when the runtime next polls the task.
    let mut refused = false;
    for _ in 0..100 {
        tokio::task::yield_now().await;
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(refused, "the TLS front still accepts connections");
    assert!(client.get(&url).send().await.is_err());
    Ok(())
}
