//! Throughput of the mock servers on loopback: requests/second each mock
//! sustains with concurrent clients, and token-endpoint tokens/second per
//! signing algorithm. Run through `bench/mocks`:
//!
//! ```text
//! bench/mocks [--seconds S] [--connections N] [--max-requests M]
//! ```
//!
//! Every measurement lasts at most S seconds (default 2) or M requests
//! (default 2,000,000), with N connections (default 32), each its own
//! client task. Only 127.0.0.1 is contacted; the program stops by itself.
//! Clients and servers share this machine's cores, so the figures are a
//! floor for what the servers alone could do.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use authconform_mocks::{
    AuthServerConfig, ClientConfig, DeviceServerConfig, MockAuthServer, MockDeviceServer,
    MockUpstream, SigningAlg, TokenSpec, tls,
};

struct Options {
    seconds: f64,
    connections: usize,
    max_requests: u64,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        seconds: 2.0,
        connections: 32,
        max_requests: 2_000_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--seconds" => o.seconds = value()?.parse()?,
            "--connections" => o.connections = value()?.parse()?,
            "--max-requests" => o.max_requests = value()?.parse()?,
            "-h" | "--help" => {
                println!("bench/mocks [--seconds S] [--connections N] [--max-requests M]");
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument `{other}`"),
        }
    }
    anyhow::ensure!(
        o.seconds > 0.0 && o.seconds <= 60.0,
        "--seconds must be in (0, 60]"
    );
    anyhow::ensure!(
        (1..=1024).contains(&o.connections),
        "--connections must be 1..=1024"
    );
    Ok(o)
}

struct Outcome {
    ok: u64,
    failed: u64,
    elapsed: Duration,
}

/// Run `request` from `connections` tasks (one HTTP client, so one
/// connection, each) until the time or request budget is spent.
async fn measure<F, Fut>(o: &Options, request: F) -> Outcome
where
    F: Fn(reqwest::Client) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let issued = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(o.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..o.connections {
        let (request, issued, failed, ok) =
            (request.clone(), issued.clone(), failed.clone(), ok.clone());
        let max = o.max_requests;
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(1)
            .build()
            .expect("client");
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < max {
                if request(client.clone()).await {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    Outcome {
        ok: ok.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    }
}

fn report(name: &str, unit: &str, outcome: &Outcome) {
    let rate = outcome.ok as f64 / outcome.elapsed.as_secs_f64();
    println!(
        "  {name:<44} {rate:>10.0} {unit}/s  ({} ok, {} failed, {:.2} s)",
        outcome.ok,
        outcome.failed,
        outcome.elapsed.as_secs_f64()
    );
}

async fn get_ok(client: reqwest::Client, url: String) -> bool {
    answered(client.get(url), |s| s.is_success()).await
}

/// Sends `req` and reads the body; true when the status passes `want`.
async fn answered(
    req: reqwest::RequestBuilder,
    want: impl Fn(reqwest::StatusCode) -> bool,
) -> bool {
    match req.send().await {
        Ok(r) => want(r.status()) && r.bytes().await.is_ok(),
        Err(_) => false,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let o = options()?;
    tls::install_crypto_provider();
    println!(
        "authconform-mocks bench: {} connections, at most {} s or {} requests per measurement, plain HTTP on 127.0.0.1, {} cores",
        o.connections,
        o.seconds,
        o.max_requests,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("requests/second per mock");
    upstream_and_metadata(&o).await?;
    device_endpoints(&o).await?;
    println!("token endpoint (client_credentials, client_secret_basic): tokens/second");
    token_endpoint(&o).await?;
    println!("in-process MockAuthServer::mint (one thread): tokens/second");
    minting(&o).await
}

/// The upstream API and the authorization server's metadata and JWKS.
async fn upstream_and_metadata(o: &Options) -> anyhow::Result<()> {
    let upstream = MockUpstream::start_with(&authconform_mocks::upstream::default_rules()).await?;
    let url = format!("{}/projects", upstream.base_url());
    let outcome = measure(o, move |c| get_ok(c, url.clone())).await;
    report("upstream GET /projects (journaled)", "req", &outcome);
    drop(upstream);
    let auth = MockAuthServer::start(AuthServerConfig::default()).await?;
    let url = auth.metadata_url();
    let outcome = measure(o, move |c| get_ok(c, url.clone())).await;
    report("auth server GET metadata", "req", &outcome);
    let url = auth.jwks_url();
    let outcome = measure(o, move |c| get_ok(c, url.clone())).await;
    report("auth server GET /jwks", "req", &outcome);
    Ok(())
}

/// The device server's start and poll endpoints.
async fn device_endpoints(o: &Options) -> anyhow::Result<()> {
    let device = MockDeviceServer::start(DeviceServerConfig::default()).await?;
    let url = device.start_url();
    let outcome = measure(o, move |c| {
        answered(c.post(url.clone()), |s| s.is_success())
    })
    .await;
    report("device server POST /public/device/start", "req", &outcome);
    let url = device.token_url();
    let outcome = measure(o, move |c| {
        // An unknown device code: the full poll path, answered invalid_grant.
        let req = c.post(url.clone()).form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", "unknown"),
            ("client_id", "cli"),
        ]);
        answered(req, |s| s == 400)
    })
    .await;
    report("device server POST /token (poll)", "req", &outcome);
    Ok(())
}

/// The token endpoint, client credentials with a secret, per signing algorithm.
async fn token_endpoint(o: &Options) -> anyhow::Result<()> {
    for alg in SigningAlg::ALL {
        let auth = MockAuthServer::start(AuthServerConfig {
            alg,
            clients: vec![ClientConfig {
                client_id: "bench".into(),
                redirect_uris: Vec::new(),
                secret: Some("bench-secret".into()),
            }],
            ..AuthServerConfig::default()
        })
        .await?;
        let url = auth.token_endpoint();
        let outcome = measure(o, move |c| {
            let req = c
                .post(url.clone())
                .basic_auth("bench", Some("bench-secret"))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("resource", "https://mcp.example/mcp"),
                ]);
            answered(req, |s| s.is_success())
        })
        .await;
        report(&format!("POST /token {alg}"), "tok", &outcome);
    }
    Ok(())
}

/// In-process minting, per signing algorithm, on one thread.
async fn minting(o: &Options) -> anyhow::Result<()> {
    for alg in SigningAlg::ALL {
        let auth = MockAuthServer::start(AuthServerConfig {
            alg,
            ..AuthServerConfig::default()
        })
        .await?;
        let spec = TokenSpec {
            audience: vec!["https://mcp.example/mcp".into()],
            ..TokenSpec::default()
        };
        let deadline = Instant::now() + Duration::from_secs_f64(o.seconds);
        let started = Instant::now();
        let (mut ok, mut failed) = (0u64, 0u64);
        while Instant::now() < deadline && ok + failed < o.max_requests {
            match auth.mint(&spec) {
                Ok(_) => ok += 1,
                Err(_) => failed += 1,
            }
        }
        let outcome = Outcome {
            ok,
            failed,
            elapsed: started.elapsed(),
        };
        report(&format!("mint {alg}"), "tok", &outcome);
    }
    Ok(())
}
