//! The standalone `authconform-mocks` binary, driven as a user would.

use std::io::Write as _;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use authconform_mocks::s256_challenge;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_authconform-mocks");
const VERIFIER: &str = "standalone-verifier-0123456789-abcdefghijklmnop";

/// Start the binary and read its banner up to the ready line.
async fn launch(args: &[&str]) -> anyhow::Result<(tokio::process::Child, Vec<String>)> {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = Vec::new();
    let ready = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await? {
            if line == "authconform-mocks ready" {
                return anyhow::Ok(());
            }
            banner.push(line);
        }
        anyhow::bail!("stdout closed before the ready line")
    })
    .await;
    ready.context("no ready line within 60 s")??;
    Ok((child, banner))
}

fn value(banner: &[String], label: &str) -> anyhow::Result<String> {
    banner
        .iter()
        .find_map(|l| l.strip_prefix(label).map(|rest| rest.trim().to_owned()))
        .with_context(|| format!("no `{label}` line in {banner:?}"))
}

#[tokio::test]
async fn standalone_serves_discovery_pkce_and_device_flow_over_tls() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ca_path = dir.path().join("ca.pem");
    let ca_arg = ca_path.to_string_lossy().into_owned();
    let (mut child, banner) = launch(&[
        "--tls",
        "--ca-out",
        &ca_arg,
        "--alg",
        "RS256",
        "--client",
        "id=demo,redirect=http://127.0.0.1:9/cb",
        "--device",
        "approve-after=1",
        "--device-interval-ms",
        "30",
    ])
    .await?;
    assert_eq!(value(&banner, "ca")?, ca_arg);
    let issuer = value(&banner, "authorization server")?;
    let upstream = value(&banner, "upstream")?;
    let upstream = upstream
        .split(' ')
        .next()
        .context("upstream url")?
        .to_owned();
    let start_url = value(&banner, "  start (vendor)")?;
    let exchange_url = value(&banner, "  exchange (vendor)")?;
    assert!(issuer.starts_with("https://127.0.0.1:"));

    authconform_mocks::tls::install_crypto_provider();
    let cert = reqwest::Certificate::from_pem(&std::fs::read(&ca_path)?)?;
    let client = reqwest::Client::builder()
        .tls_certs_only([cert])
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;

    // Discovery and JWKS.
    let metadata: Value = client
        .get(format!("{issuer}/.well-known/oauth-authorization-server"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(metadata["issuer"], issuer.as_str());
    let jwks: Value = client
        .get(metadata["jwks_uri"].as_str().context("jwks_uri")?)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(jwks["keys"][0]["alg"], "RS256");

    // Authorization code + PKCE.
    let authorize = client
        .get(
            metadata["authorization_endpoint"]
                .as_str()
                .context("authz")?,
        )
        .query(&[
            ("response_type", "code"),
            ("client_id", "demo"),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("state", "s1"),
            ("code_challenge", &s256_challenge(VERIFIER)),
            ("code_challenge_method", "S256"),
            ("resource", "https://mcp.example/mcp"),
        ])
        .send()
        .await?;
    assert_eq!(authorize.status(), 302);
    let location = url::Url::parse(authorize.headers()["location"].to_str()?)?;
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .context("code")?;
    let tokens: Value = client
        .post(metadata["token_endpoint"].as_str().context("token")?)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("client_id", "demo"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(tokens["token_type"], "Bearer", "{tokens}");

    // Upstream default rule.
    let projects = client.get(format!("{upstream}/projects")).send().await?;
    assert_eq!(projects.status(), 200);

    // Device flow, vendor shape.
    let start: Value = client.post(&start_url).send().await?.json().await?;
    let device_code = start["device_code"]
        .as_str()
        .context("device_code")?
        .to_owned();
    let mut key = None;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let reply: Value = client
            .post(&exchange_url)
            .json(&serde_json::json!({"device_code": device_code}))
            .send()
            .await?
            .json()
            .await?;
        if let Some(k) = reply["api_key"].as_str() {
            key = Some(k.to_owned());
            break;
        }
        assert_eq!(reply["error"], "authorization_pending", "{reply}");
    }
    let key = key.context("no api key after 10 polls")?;

    // SIGTERM ends it cleanly.
    let pid = child.id().context("pid")?;
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await?;
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .context("no exit within 20 s of SIGTERM")??;
    assert!(exit.success(), "{exit:?}");

    // The request log names the requests and never a secret.
    let mut log = String::new();
    child
        .stderr
        .take()
        .context("stderr")?
        .read_to_string(&mut log)
        .await?;
    assert!(log.contains("GET /authorize -> 302 code_issued"), "{log}");
    assert!(log.contains("code_verifier=[REDACTED]"), "{log}");
    for secret in [VERIFIER, code.as_str(), device_code.as_str(), key.as_str()] {
        assert!(!log.contains(secret), "log leaks a secret: {log}");
    }
    if let Some(access) = tokens["access_token"].as_str() {
        assert!(!log.contains(access));
    }
    Ok(())
}

#[tokio::test]
async fn bad_flags_exit_2_with_a_message() -> anyhow::Result<()> {
    for args in [
        vec!["--device", "sometimes"],
        vec!["--alg", "HS256"],
        vec!["--client", "redirect=http://127.0.0.1/cb"],
    ] {
        let output = Command::new(BIN).args(&args).output().await?;
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("error"), "{args:?}: {stderr}");
    }
    // A missing rules file is a startup error, also exit 2.
    let output = Command::new(BIN)
        .args(["--upstream-rules", "/nonexistent/rules.toml"])
        .output()
        .await?;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/rules.toml"));
    Ok(())
}

/// Whether the tests run under CI (`CI=true`, or `CI=1`), where a missing
/// tool is a failure rather than a skip.
fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

#[tokio::test]
async fn standalone_upstream_answers_curl_over_tls() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ca_path = dir.path().join("ca.pem");
    let ca_arg = ca_path.to_string_lossy().into_owned();
    let (_child, banner) = launch(&["--tls", "--ca-out", &ca_arg, "--quiet"]).await?;
    let upstream = value(&banner, "upstream")?;
    let upstream = upstream.split(' ').next().context("upstream url")?;
    assert!(upstream.starts_with("https://127.0.0.1:"), "{upstream}");

    let url = format!("{upstream}/projects");
    let output = Command::new("curl")
        .args(["-sS", "--noproxy", "*", "--max-time", "30", "--cacert"])
        .args([ca_arg.as_str(), url.as_str()])
        .output()
        .await;
    let output = match output {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                !under_ci(),
                "curl is not installed, and CI=true: install curl to run this test"
            );
            // Straight to the stderr handle, not `eprintln!`: libtest captures
            // the macros' output of a passing test, and this must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: curl not installed (standalone_upstream_answers_curl_over_tls)"
            );
            return Ok(());
        }
        Err(e) => return Err(e).context("running curl"),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "curl {url} failed: {stderr}");
    let body: Value = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("curl printed no JSON: {stderr}"))?;
    assert_eq!(
        body,
        serde_json::json!([
            {"id": "p1", "name": "Project One"},
            {"id": "p2", "name": "Project Two"},
        ])
    );
    Ok(())
}
