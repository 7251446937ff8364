//! The mocks as a standalone program: `authconform-mocks` (and, wired by the
//! harness, `authconform mocks`).
//!
//! It starts the authorization server, the upstream and the device server on
//! `127.0.0.1`, prints their URLs, then the line `authconform-mocks ready`,
//! and serves until SIGINT or SIGTERM. Every request is logged to stderr,
//! one line each, with secrets redacted (`--quiet` turns this off).
//!
//! ```text
//! $ authconform-mocks --tls --as-port 9443 --client id=demo,redirect=http://127.0.0.1:8080/cb
//! authorization server  https://127.0.0.1:9443
//!   metadata            https://127.0.0.1:9443/.well-known/oauth-authorization-server
//!   …
//! authconform-mocks ready
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};

use crate::auth_server::{
    AuthServerConfig, ClientConfig, Consent, DeviceFlowConfig, MockAuthServer,
};
use crate::device::{DevicePaths, DeviceScript, DeviceServerConfig, MockDeviceServer};
use crate::journal::RequestRecord;
use crate::keys::SigningAlg;
use crate::tls::{self, TestCa};
use crate::upstream::{MockUpstream, UpstreamConfig, UpstreamRules, default_rules};

/// The scripted consent at `/authorize`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ConsentArg {
    /// Approve every authorization request.
    Approve,
    /// Deny every authorization request (`error=access_denied`).
    Deny,
}

/// A `--device` script: `approve-after=N`, `deny`, `expire`,
/// `slow-down[=N]` (N `slow_down` replies, then approval) or `pending`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceScriptArg(pub DeviceScript);

impl FromStr for DeviceScriptArg {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, value) = match s.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (s, None),
        };
        let number = |v: Option<&str>, default: u32| -> anyhow::Result<u32> {
            v.map_or(Ok(default), |v| {
                v.parse()
                    .with_context(|| format!("`{v}` is not a number of polls"))
            })
        };
        let script = match name {
            "approve-after" => DeviceScript::ApproveAfter(number(value, 1)?),
            "approve" => DeviceScript::ApproveAfter(0),
            "deny" => DeviceScript::Deny,
            "expire" => DeviceScript::Expire,
            "pending" => DeviceScript::Pending,
            "slow-down" => DeviceScript::SlowDownThenApprove {
                slow_downs: number(value, 1)?,
            },
            other => bail!(
                "unknown device script `{other}` (approve-after=N, deny, expire, slow-down[=N], pending)"
            ),
        };
        Ok(DeviceScriptArg(script))
    }
}

/// A `--client` value: `id=ID,redirect=URI[,redirect=URI…][,secret=SECRET]`.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientArg(pub ClientConfig);

impl std::fmt::Debug for ClientArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for ClientArg {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut client = ClientConfig::default();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| anyhow!("`{part}` is not KEY=VALUE (keys: id, redirect, secret)"))?;
            match key {
                "id" => client.client_id = value.to_owned(),
                "redirect" => client.redirect_uris.push(value.to_owned()),
                "secret" => client.secret = Some(value.to_owned()),
                other => bail!("unknown client key `{other}` (keys: id, redirect, secret)"),
            }
        }
        if client.client_id.is_empty() {
            bail!("a client needs id=…");
        }
        Ok(ClientArg(client))
    }
}

/// Command-line options of the standalone mocks.
#[derive(Clone, Debug, clap::Args)]
pub struct MocksCli {
    /// Port of the authorization server on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub as_port: u16,
    /// Port of the upstream API on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub upstream_port: u16,
    /// Port of the device-flow server on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub device_port: u16,
    /// Serve HTTPS with a fresh test CA; its certificate is written to
    /// --ca-out or a temporary directory, and the path printed.
    #[arg(long)]
    pub tls: bool,
    /// Where to write the CA certificate (PEM) with --tls.
    #[arg(long, value_name = "PATH", requires = "tls")]
    pub ca_out: Option<PathBuf>,
    /// The scripted answer at /authorize.
    #[arg(long, value_enum, default_value_t = ConsentArg::Approve)]
    pub consent: ConsentArg,
    /// Delay the scripted consent by this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub consent_delay_ms: Option<u64>,
    /// The access-token signing algorithm: ES256, RS256 or EdDSA.
    #[arg(long, default_value = "ES256")]
    pub alg: SigningAlg,
    /// A pre-registered client: id=ID,redirect=URI, more redirect=URI parts
    /// for more URIs, and secret=S for a confidential client (repeatable).
    /// Without any, a public client `demo` with redirect URI
    /// http://127.0.0.1:8080/callback is registered.
    #[arg(long, value_name = "SPEC")]
    pub client: Vec<ClientArg>,
    /// The scripted device-flow user (of the device server and of the
    /// authorization server's RFC 8628 flow): approve-after=N, deny, expire,
    /// slow-down[=N] or pending.
    #[arg(long, default_value = "approve-after=1", value_name = "SCRIPT")]
    pub device: DeviceScriptArg,
    /// The device-flow polling interval in milliseconds (advertised in whole
    /// seconds, rounded up).
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    pub device_interval_ms: u64,
    /// How much each device-flow `slow_down` adds to the interval, in
    /// milliseconds (RFC 8628: 5 s).
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    pub device_slow_down_ms: u64,
    /// Lifetime of device codes in seconds.
    #[arg(long, default_value_t = 600, value_name = "S")]
    pub device_expires_s: u64,
    /// Path of the vendor device start endpoint.
    #[arg(long, default_value = "/public/device/start")]
    pub device_start_path: String,
    /// Path of the vendor device exchange endpoint.
    #[arg(long, default_value = "/public/device/exchange")]
    pub device_exchange_path: String,
    /// Upstream rules file (TOML `[[rule]]` tables, or JSON); default: GET
    /// /projects answers two projects.
    #[arg(long, value_name = "FILE")]
    pub upstream_rules: Option<PathBuf>,
    /// Do not log requests to stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

fn load_rules(path: &PathBuf) -> anyhow::Result<UpstreamRules> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let rules = if is_json {
        UpstreamRules::from_json(&text)
    } else {
        UpstreamRules::from_toml(&text)
    };
    rules.with_context(|| format!("in {}", path.display()))
}

/// The three running mocks and what keeps the CA file alive.
struct Mocks {
    auth: MockAuthServer,
    upstream: MockUpstream,
    device: MockDeviceServer,
    _ca_dir: Option<tempfile::TempDir>,
}

/// With `--tls`: the server configuration, where the CA certificate was
/// written, and the temporary directory holding it (kept alive by [`Mocks`]).
type TlsSetup = (
    Option<Arc<rustls::ServerConfig>>,
    Option<PathBuf>,
    Option<tempfile::TempDir>,
);

/// Generate the CA and write its certificate, when `--tls` is given.
fn setup_tls(cli: &MocksCli) -> anyhow::Result<TlsSetup> {
    if !cli.tls {
        return Ok((None, None, None));
    }
    let ca = TestCa::generate()?;
    let (path, dir) = match &cli.ca_out {
        Some(path) => (path.clone(), None),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("authconform-mocks-")
                .tempdir()
                .context("creating a temporary directory for the CA")?;
            (dir.path().join("ca.pem"), Some(dir))
        }
    };
    std::fs::write(&path, ca.ca_pem())
        .with_context(|| format!("writing the CA certificate to {}", path.display()))?;
    Ok((Some(ca.server_config()?), Some(path), dir))
}

/// The clients to pre-register: those given with `--client`, or the public
/// `demo` client when there are none.
fn clients_from(cli: &MocksCli) -> Vec<ClientConfig> {
    if cli.client.is_empty() {
        vec![ClientConfig {
            client_id: "demo".to_owned(),
            redirect_uris: vec!["http://127.0.0.1:8080/callback".to_owned()],
            secret: None,
        }]
    } else {
        cli.client.iter().map(|c| c.0.clone()).collect()
    }
}

/// The scripted consent from `--consent` and `--consent-delay-ms`.
fn consent_from(cli: &MocksCli) -> Consent {
    match (cli.consent, cli.consent_delay_ms) {
        (ConsentArg::Deny, _) => Consent::Deny,
        (ConsentArg::Approve, Some(ms)) => Consent::Delay(Duration::from_millis(ms)),
        (ConsentArg::Approve, None) => Consent::Approve,
    }
}

/// Start the authorization server with the given clients and consent.
async fn start_auth_server(
    cli: &MocksCli,
    tls_config: Option<Arc<rustls::ServerConfig>>,
    clients: Vec<ClientConfig>,
    consent: Consent,
) -> anyhow::Result<MockAuthServer> {
    MockAuthServer::start(AuthServerConfig {
        tls: tls_config,
        port: cli.as_port,
        alg: cli.alg,
        clients,
        consent,
        // The `--device…` flags drive the authorization server's RFC 8628
        // flow as well as the device server's.
        device: DeviceFlowConfig {
            script: cli.device.0.clone(),
            interval: Duration::from_millis(cli.device_interval_ms),
            slow_down_increment: Duration::from_millis(cli.device_slow_down_ms),
            expires_in: Duration::from_secs(cli.device_expires_s),
            ..DeviceFlowConfig::default()
        },
        ..AuthServerConfig::default()
    })
    .await
    .context("starting the authorization server")
}

/// Load the upstream rules (`--upstream-rules` or the defaults) and start
/// the upstream; also returns how many rules it serves.
async fn start_upstream(
    cli: &MocksCli,
    tls_config: Option<Arc<rustls::ServerConfig>>,
) -> anyhow::Result<(MockUpstream, usize)> {
    let rules = match &cli.upstream_rules {
        Some(path) => load_rules(path)?.rule,
        None => default_rules(),
    };
    let rule_count = rules.len();
    let upstream = MockUpstream::start_with_config(UpstreamConfig {
        tls: tls_config,
        port: cli.upstream_port,
        rules,
    })
    .await
    .context("starting the upstream")?;
    Ok((upstream, rule_count))
}

/// Start the device server with the `--device…` script, timing and paths.
async fn start_device_server(
    cli: &MocksCli,
    tls_config: Option<Arc<rustls::ServerConfig>>,
) -> anyhow::Result<MockDeviceServer> {
    MockDeviceServer::start(DeviceServerConfig {
        tls: tls_config,
        port: cli.device_port,
        script: cli.device.0.clone(),
        interval: Duration::from_millis(cli.device_interval_ms),
        slow_down_increment: Duration::from_millis(cli.device_slow_down_ms),
        expires_in: Duration::from_secs(cli.device_expires_s),
        paths: DevicePaths {
            vendor_start: cli.device_start_path.clone(),
            vendor_exchange: cli.device_exchange_path.clone(),
            ..DevicePaths::default()
        },
        ..DeviceServerConfig::default()
    })
    .await
    .context("starting the device server")
}

/// Start the three mocks and write the banner describing them.
async fn start(cli: &MocksCli, banner: &mut String) -> anyhow::Result<Mocks> {
    tls::install_crypto_provider();
    let (tls_config, ca_path, ca_dir) = setup_tls(cli)?;

    let clients = clients_from(cli);
    let consent = consent_from(cli);
    let auth = start_auth_server(cli, tls_config.clone(), clients.clone(), consent).await?;
    let (upstream, rule_count) = start_upstream(cli, tls_config.clone()).await?;
    let device = start_device_server(cli, tls_config).await?;

    let mocks = Mocks {
        auth,
        upstream,
        device,
        _ca_dir: ca_dir,
    };
    let details = BannerDetails {
        clients: &clients,
        consent: &consent,
        rule_count,
        ca_path: ca_path.as_deref(),
    };
    write_banner(banner, cli, &mocks, &details);
    Ok(mocks)
}

/// What the banner shows beyond the servers' own URLs.
struct BannerDetails<'a> {
    clients: &'a [ClientConfig],
    consent: &'a Consent,
    rule_count: usize,
    ca_path: Option<&'a Path>,
}

/// Write every URL and setting, one `label value` line each.
fn write_banner(banner: &mut String, cli: &MocksCli, mocks: &Mocks, details: &BannerDetails<'_>) {
    let BannerDetails {
        clients,
        consent,
        rule_count,
        ca_path,
    } = details;
    let (auth, upstream, device) = (&mocks.auth, &mocks.upstream, &mocks.device);
    let mut line = |label: &str, value: &str| {
        let _ = writeln!(banner, "{label:<24}{value}");
    };
    line("authorization server", auth.issuer());
    line("  metadata", &auth.metadata_url());
    line("  jwks", &auth.jwks_url());
    line("  authorize", &auth.authorization_endpoint());
    line("  token", &auth.token_endpoint());
    line("  register", &auth.registration_endpoint());
    line("  introspect", &auth.introspection_endpoint());
    line("  revoke", &auth.revocation_endpoint());
    line(
        "  device authorization",
        &auth.device_authorization_endpoint(),
    );
    line("  signing alg", auth.alg().as_str());
    line("  consent", &format!("{consent:?}").to_lowercase());
    for c in *clients {
        let kind = if c.secret.is_some() {
            "confidential, secret as given"
        } else {
            "public"
        };
        line(
            "  client",
            &format!(
                "{} ({kind}) redirect_uris {}",
                c.client_id,
                c.redirect_uris.join(" ")
            ),
        );
    }
    line(
        "upstream",
        &format!("{} ({rule_count} rule(s))", upstream.base_url()),
    );
    line("device server", device.base_url());
    line("  start (vendor)", &device.start_url());
    line("  exchange (vendor)", &device.exchange_url());
    line("  start (RFC 8628)", &device.device_authorization_url());
    line("  token (RFC 8628)", &device.token_url());
    line(
        "  script",
        &format!("{:?}, interval {} ms", cli.device.0, cli.device_interval_ms),
    );
    if let Some(path) = ca_path {
        line("ca", &path.display().to_string());
    }
}

fn log_line(prefix: &str, r: &RequestRecord) -> String {
    let params: Vec<String> = r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{prefix} {} {} -> {}{}{}",
        r.method,
        r.path,
        r.status,
        r.outcome
            .as_deref()
            .map(|o| format!(" {o}"))
            .unwrap_or_default(),
        if params.is_empty() {
            String::new()
        } else {
            format!("  {}", params.join(" "))
        }
    )
}

/// How much of each journal has been printed.
#[derive(Default)]
struct Printed {
    auth: usize,
    device: usize,
    upstream: usize,
}

/// Print newly journaled requests to stderr (secrets are already redacted;
/// upstream lines show only method, path and the rule that answered).
async fn print_new(mocks: &Mocks, printed: &mut Printed) {
    for r in mocks.auth.journal_tail(printed.auth) {
        printed.auth += 1;
        eprintln!("{}", log_line("as      ", &r));
    }
    for r in mocks.device.journal_tail(printed.device) {
        printed.device += 1;
        eprintln!("{}", log_line("device  ", &r));
    }
    let upstream = mocks.upstream.journal().await;
    for e in upstream.get(printed.upstream..).unwrap_or_default() {
        printed.upstream += 1;
        let rule = e
            .rule
            .map_or_else(|| "no rule: 404".to_owned(), |i| format!("rule {i}"));
        eprintln!("upstream {} {} -> {rule}", e.method, e.path);
    }
}

async fn follow_journals(mocks: &Mocks, printed: &mut Printed) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        print_new(mocks, printed).await;
    }
}

async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("waiting for SIGINT")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}

/// Start the mocks, print their URLs and `authconform-mocks ready` on
/// stdout, and serve until SIGINT or SIGTERM.
pub async fn run(cli: MocksCli) -> anyhow::Result<()> {
    let mut banner = String::new();
    let mocks = start(&cli, &mut banner).await?;
    print!("{banner}");
    println!("authconform-mocks ready");
    if cli.quiet {
        shutdown_signal().await?;
    } else {
        let mut printed = Printed::default();
        tokio::select! {
            result = shutdown_signal() => result?,
            () = follow_journals(&mocks, &mut printed) => {}
        }
        print_new(&mocks, &mut printed).await;
    }
    eprintln!("authconform-mocks: shutting down");
    drop(mocks);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_script_args() {
        let parse = |s: &str| s.parse::<DeviceScriptArg>().map(|a| a.0).ok();
        assert_eq!(
            parse("approve-after=3"),
            Some(DeviceScript::ApproveAfter(3))
        );
        assert_eq!(parse("deny"), Some(DeviceScript::Deny));
        assert_eq!(parse("expire"), Some(DeviceScript::Expire));
        assert_eq!(
            parse("slow-down"),
            Some(DeviceScript::SlowDownThenApprove { slow_downs: 1 })
        );
        assert_eq!(parse("pending"), Some(DeviceScript::Pending));
        assert_eq!(parse("approve-after=x"), None);
        assert_eq!(parse("nope"), None);
    }

    #[test]
    fn client_args() {
        let c = "id=svc,redirect=https://a.example/cb,redirect=http://127.0.0.1:1/cb,secret=s"
            .parse::<ClientArg>()
            .map(|c| c.0)
            .ok();
        assert_eq!(
            c,
            Some(ClientConfig {
                client_id: "svc".into(),
                redirect_uris: vec![
                    "https://a.example/cb".into(),
                    "http://127.0.0.1:1/cb".into()
                ],
                secret: Some("s".into()),
            })
        );
        assert!("redirect=x".parse::<ClientArg>().is_err());
        assert!("id=a,colour=red".parse::<ClientArg>().is_err());
        // The secret never shows in Debug output.
        let debug = format!("{:?}", "id=a,secret=hunter2".parse::<ClientArg>().ok());
        assert!(!debug.contains("hunter2"), "{debug}");
    }
}
