//! The reference implementation the authconform suite is run against: an MCP
//! server over streamable HTTP, protected as the MCP authorization
//! specification requires (RFC 9728 protected resource metadata, RFC 6750
//! bearer tokens, RFC 8707 audience binding), trusting one OAuth issuer; and
//! (`stdio`) the "local install" shape, an MCP server over stdio that calls an
//! upstream REST API with an API key taken from the environment.
//!
//! Seeded faults (`--fault NAME`, see [`FAULTS`]) each break exactly one
//! behaviour so the suite can prove that its checks can fail.

#![warn(missing_docs)]

mod auth;
mod cli;
mod cohosted;
mod device;
mod faults;
pub mod hostile;
mod jwt;
mod mcp;
mod rest;
mod session;
mod stdio;
mod upstream_client;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::builder::{PossibleValue, PossibleValuesParser};
use http::{StatusCode, header};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::oneshot;

pub use auth::{AuthContext, SCOPE_READ, SCOPE_TOOLS};
pub use cli::CliArgs;
pub use cohosted::{CLIENT_ID as COHOSTED_CLIENT_ID, REDIRECT_URI as COHOSTED_REDIRECT_URI};
pub use device::DeviceArgs;
pub use faults::{FAULTS, Fault, Faults, UnknownFault};
pub use rest::{InvalidArgs, RestArgs};
pub use stdio::StdioArgs;

/// Environment variable with extra fault names (comma-separated), merged with `--fault`.
pub const FAULT_ENV: &str = "AUTHCONFORM_REFERENCE_FAULT";

/// Command line of the reference implementation.
#[derive(clap::Args, Debug, Clone)]
pub struct ReferenceCli {
    /// What to run.
    #[command(subcommand)]
    pub command: ReferenceCommand,
}

/// Subcommands of the reference implementation.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum ReferenceCommand {
    /// MCP server over streamable HTTP, OAuth-protected
    Http(Box<HttpCommand>),
    /// MCP server over stdio, a thin layer over an upstream REST API using an API key from the environment
    Stdio(StdioArgs),
    /// Command-line client of the vendor host (device-flow sign-in, stored API key); exits with its own status
    Cli(CliArgs),
    /// A misbehaving fake target, for the suite's own tests (see [`hostile`])
    #[command(hide = true)]
    Hostile(hostile::HostileArgs),
}

fn fault_parser() -> PossibleValuesParser {
    PossibleValuesParser::new(
        FAULTS
            .iter()
            .map(|(name, desc)| PossibleValue::new(*name).help(*desc)),
    )
}

/// The command line of `http`: the server's [`HttpArgs`] and what only the
/// command line sets up.
#[derive(clap::Args, Debug, Clone)]
pub struct HttpCommand {
    /// The server.
    #[command(flatten)]
    pub args: HttpArgs,
    /// Also start a co-hosted OAuth authorization server (a mock AS on 127.0.0.1, a free port, with the TLS of
    /// --tls-cert/--tls-key): public client `authconf-client` with redirect URI http://127.0.0.1:33418/cb,
    /// scripted consent (user alice, no login page), tokens only for {base}/mcp, dynamic registration. The ready
    /// line names its issuer; the MCP endpoint still trusts only --issuer
    #[arg(long)]
    pub cohosted_as: bool,
}

/// What [`serve_with_options`] reports once listening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    /// The base URL of the server, as [`serve`] reports it.
    pub base: String,
    /// The issuer of the co-hosted authorization server, when started.
    pub authorization_server: Option<String>,
}

impl Ready {
    /// The line `run` prints to stdout:
    /// `authconform-reference listening on {base}/mcp`, followed by
    /// ` (authorization server {issuer})` with a co-hosted AS.
    pub fn line(&self) -> String {
        match &self.authorization_server {
            None => format!("authconform-reference listening on {}/mcp", self.base),
            Some(issuer) => format!(
                "authconform-reference listening on {}/mcp (authorization server {issuer})",
                self.base
            ),
        }
    }
}

/// Arguments of `http`: the OAuth-protected MCP server.
#[derive(clap::Args, Debug, Clone)]
pub struct HttpArgs {
    /// Address to listen on (port 0: any free port)
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Issuer identifier of the trusted authorization server, e.g. https://127.0.0.1:41234
    #[arg(long)]
    pub issuer: String,
    /// Extra root CA (PEM) trusted for outbound HTTPS (authorization server metadata, JWKS, upstream)
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Base URL of the upstream REST API the tools call
    #[arg(long)]
    pub upstream: Option<String>,
    /// API key the server presents to the upstream API (X-API-Key)
    #[arg(
        long,
        env = "REFERENCE_UPSTREAM_KEY",
        default_value = "ref-upstream-key",
        hide_env_values = true
    )]
    pub upstream_key: String,
    /// How a tools/call without the mcp:tools scope is refused: an HTTP 403 insufficient_scope challenge, or a
    /// tool result with isError (what a target declares as `oauth.scope_errors = "tool-level"`)
    #[arg(long, value_enum, default_value_t = ScopeErrors::Http)]
    pub scope_errors: ScopeErrors,
    /// Seeded fault to enable (repeatable); also read from AUTHCONFORM_REFERENCE_FAULT (comma-separated)
    #[arg(long = "fault", value_name = "NAME", value_parser = fault_parser())]
    pub faults: Vec<String>,
    /// The REST API served beside `/mcp` (keys, organisations, host API).
    #[command(flatten)]
    pub rest: RestArgs,
}

/// Where a missing tool scope is reported.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeErrors {
    /// HTTP 403 with `WWW-Authenticate: Bearer error="insufficient_scope"` (RFC 6750 §3.1).
    Http,
    /// HTTP 200 with a tool result whose `isError` is true.
    ToolLevel,
}

/// Shared state of the HTTP server.
pub(crate) struct AppState {
    /// Active faults.
    pub(crate) faults: Faults,
    /// The protected resource metadata URL.
    pub(crate) prm_url: String,
    /// The `resource` value published in the metadata.
    pub(crate) prm_resource: String,
    /// What the metadata names as `resource` under `prm-wrong-resource` (another host).
    pub(crate) prm_wrong_resource: String,
    /// The trusted issuer.
    pub(crate) issuer: String,
    /// Access-token validation.
    pub(crate) validator: jwt::TokenValidator,
    /// Owners of MCP sessions.
    pub(crate) sessions: auth::SessionOwners,
    /// Outward `session-N` aliases of MCP session IDs (the `sequential-session-ids` fault).
    pub(crate) session_aliases: auth::SessionAliases,
    /// Where a missing tool scope is reported.
    pub(crate) scope_errors: ScopeErrors,
    /// The REST API and its principal store (also judges `X-API-Key` on `/mcp`).
    pub(crate) rest: Arc<rest::Rest>,
}

/// Runs the command line, after merging faults from [`FAULT_ENV`].
///
/// `http` installs the crypto provider, prints `authconform-reference listening
/// on {base}/mcp` to stdout once listening (with ` (authorization server
/// {issuer})` appended under `--cohosted-as`, see [`Ready::line`]), and serves
/// until SIGTERM or ctrl-c.
/// `stdio` speaks MCP over stdin/stdout (stdout carries nothing else) until
/// stdin closes. `cli` runs one client command and then exits the process
/// with its status (0 success, 1 failure, 2 usage error); it never returns.
///
/// An unknown fault name yields an error that downcasts to [`UnknownFault`].
pub async fn run(cli: ReferenceCli) -> anyhow::Result<()> {
    match cli.command {
        ReferenceCommand::Http(command) => {
            let HttpCommand {
                mut args,
                cohosted_as,
            } = *command;
            merge_env_faults(&mut args.faults)?;
            let (ready_tx, ready_rx) = oneshot::channel();
            let server = tokio::spawn(serve_with_options(
                args,
                cohosted_as,
                ready_tx,
                shutdown_signal(),
            ));
            if let Ok(ready) = ready_rx.await {
                let mut stdout = tokio::io::stdout();
                stdout
                    .write_all(format!("{}\n", ready.line()).as_bytes())
                    .await?;
                stdout.flush().await?;
            }
            server.await.context("server task failed")?
        }
        ReferenceCommand::Stdio(mut args) => {
            merge_env_faults(&mut args.faults)?;
            stdio::run(args).await
        }
        ReferenceCommand::Cli(args) => {
            let mut names = Vec::new();
            merge_env_faults(&mut names)?;
            let code = cli::run(args, Faults::parse(&names)?).await;
            use std::io::Write as _;
            let _ = std::io::stdout().flush();
            let _ = std::io::stderr().flush();
            std::process::exit(code)
        }
        ReferenceCommand::Hostile(args) => hostile::run(args).await,
    }
}

/// Adds the faults named in [`FAULT_ENV`] to `faults`, then rejects unknown
/// names (before anything is printed).
fn merge_env_faults(faults: &mut Vec<String>) -> Result<(), UnknownFault> {
    if let Ok(env) = std::env::var(FAULT_ENV) {
        faults.extend(
            env.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        );
    }
    Faults::parse(faults.iter()).map(drop)
}

/// Resolves on SIGTERM or ctrl-c.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

fn install_crypto_providers() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

fn build_http_client(ca_file: Option<&PathBuf>) -> anyhow::Result<reqwest::Client> {
    let builder = || {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
    };
    let Some(path) = ca_file else {
        return builder().build().context("building the HTTP client");
    };
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .with_context(|| format!("parsing {}", path.display()))?;
    anyhow::ensure!(!certs.is_empty(), "{} holds no certificate", path.display());
    // Only the given CA: the reference talks to the suite's loopback parties alone, and loading the system's
    // roots was a fifth of its start-up CPU (bench/notes.md).
    builder()
        .tls_certs_only(certs)
        .build()
        .context("building the HTTP client")
}

/// Serves the OAuth-protected MCP server described by `args` until `shutdown`
/// resolves.
///
/// Binds `args.listen` first and then sends the base URL (`http://127.0.0.1:PORT`,
/// or `https://…` with `--tls-cert`/`--tls-key`, with the actually bound port and
/// no trailing slash) through `ready`; the MCP endpoint is `{base}/mcp`. Does not
/// read [`FAULT_ENV`] (that is [`run`]'s job) and prints nothing to stdout.
pub async fn serve(
    args: HttpArgs,
    ready: oneshot::Sender<String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_inner(args, false, |r| drop(ready.send(r.base)), shutdown).await
}

/// As [`serve`], and with `cohosted_as` also starts the co-hosted
/// authorization server (see [`HttpCommand::cohosted_as`]) after binding, and
/// keeps it running as long as the server; its issuer is reported in
/// [`Ready::authorization_server`].
pub async fn serve_with_options(
    args: HttpArgs,
    cohosted_as: bool,
    ready: oneshot::Sender<Ready>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_inner(args, cohosted_as, |r| drop(ready.send(r)), shutdown).await
}

async fn serve_inner(
    args: HttpArgs,
    cohosted_as: bool,
    ready: impl FnOnce(Ready),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    install_crypto_providers();
    let faults = Faults::parse(&args.faults)?;
    let rest = Arc::new(rest::Rest::new(&args.rest, &faults)?);
    let tls = load_tls(&args).await?;
    let http = build_http_client(args.ca_file.as_ref())?;
    let listener = std::net::TcpListener::bind(args.listen)
        .with_context(|| format!("binding {}", args.listen))?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let base = base_url(local, tls.is_some());
    // Held until the server stops (dropping it stops the AS).
    let authorization_server = if cohosted_as {
        let as_tls = tls.as_ref().map(|t| t.get_inner());
        Some(
            cohosted::start(as_tls, &base, &faults)
                .await
                .context("starting the co-hosted authorization server")?,
        )
    } else {
        None
    };
    let (app, stop_sessions) = app(&args, &faults, local, &base, http, rest);
    if !faults.is_empty() {
        let names: Vec<&str> = faults.iter().map(Fault::name).collect();
        eprintln!(
            "authconform-reference: faults enabled: {}",
            names.join(", ")
        );
    }
    // Stop rmcp's sessions (and their open SSE streams) on shutdown, then give
    // connections a short grace period.
    let shutdown = async move {
        shutdown.await;
        stop_sessions();
    };
    ready(Ready {
        base,
        authorization_server: authorization_server.as_ref().map(|a| a.issuer().to_owned()),
    });
    let served = match tls {
        Some(tls) => serve_https(listener, tls, app, shutdown).await,
        None => serve_http(listener, app, shutdown).await,
    };
    drop(authorization_server);
    served
}

/// The TLS configuration from `--tls-cert`/`--tls-key`, if given (both or neither).
async fn load_tls(
    args: &HttpArgs,
) -> anyhow::Result<Option<axum_server::tls_rustls::RustlsConfig>> {
    match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Ok(Some(
            axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .context("loading the TLS certificate and key")?,
        )),
        (None, None) => Ok(None),
        _ => anyhow::bail!("--tls-cert and --tls-key must be given together"),
    }
}

/// `http(s)://HOST:PORT` for the bound address, with `127.0.0.1` for unspecified and loopback addresses.
fn base_url(local: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    let host = match local.ip() {
        ip if ip.is_unspecified() || ip == IpAddr::V4(Ipv4Addr::LOCALHOST) => {
            "127.0.0.1".to_owned()
        }
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    };
    format!("{scheme}://{host}:{}", local.port())
}

/// The shared state of the authorization layer and the metadata endpoints.
fn app_state(
    args: &HttpArgs,
    faults: &Faults,
    local: SocketAddr,
    base: &str,
    http: reqwest::Client,
    rest: Arc<rest::Rest>,
) -> Arc<AppState> {
    let resource = format!("{base}/mcp");
    let scheme = base.split(':').next().unwrap_or("http");
    Arc::new(AppState {
        validator: jwt::TokenValidator::new(
            args.issuer.clone(),
            resource.clone(),
            faults.clone(),
            http,
        ),
        faults: faults.clone(),
        prm_url: format!("{base}/.well-known/oauth-protected-resource/mcp"),
        prm_resource: resource,
        prm_wrong_resource: format!("{scheme}://localhost:{}/mcp", local.port()),
        issuer: args.issuer.clone(),
        sessions: Default::default(),
        session_aliases: Default::default(),
        scope_errors: args.scope_errors,
        rest,
    })
}

/// The router: the MCP endpoint behind the authorization layer, and the metadata endpoints; with what stops
/// the MCP sessions.
fn app(
    args: &HttpArgs,
    faults: &Faults,
    local: SocketAddr,
    base: &str,
    http: reqwest::Client,
    rest: Arc<rest::Rest>,
) -> (Router, impl FnOnce() + Send + 'static) {
    let state = app_state(args, faults, local, base, http.clone(), rest.clone());
    let env = Arc::new(mcp::ToolEnv {
        upstream: args.upstream.clone(),
        upstream_key: args.upstream_key.clone(),
        http,
        faults: faults.clone(),
        tool_level_scope_errors: args.scope_errors == ScopeErrors::ToolLevel,
        rest: rest.clone(),
    });
    let mut allowed_hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !local.ip().is_unspecified() {
        allowed_hosts.push(local.ip().to_string());
    }
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(true)
        .with_allowed_hosts(allowed_hosts);
    let mcp_cancel = config.cancellation_token.clone();
    let mcp_service = StreamableHttpService::new(
        move || Ok(mcp::ReferenceServer::new(env.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let metadata = Router::new()
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(protected_resource_metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource",
            get(protected_resource_metadata),
        )
        .with_state(state.clone());
    let app = Router::new()
        .route_service("/mcp", mcp_service)
        .layer(middleware::from_fn_with_state(state, auth::authorize))
        .merge(metadata)
        .merge(rest::router(rest))
        .layer(middleware::from_fn(log_request));
    (app, move || mcp_cancel.cancel())
}

async fn serve_https(
    listener: std::net::TcpListener,
    tls: axum_server::tls_rustls::RustlsConfig,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, tls)?
        .handle(handle.clone())
        .serve(app.into_make_service());
    tokio::spawn(async move {
        shutdown.await;
        handle.graceful_shutdown(Some(Duration::from_secs(2)));
    });
    server.await.context("serving HTTPS")
}

async fn serve_http(
    listener: std::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let (stopped_tx, stopped_rx) = oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopped_tx.send(());
    });
    let deadline = async move {
        if stopped_rx.await.is_ok() {
            tokio::time::sleep(Duration::from_secs(2)).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result.context("serving HTTP")?,
        () = deadline => {},
    }
    Ok(())
}

/// `GET /.well-known/oauth-protected-resource[/mcp]` (RFC 9728).
async fn protected_resource_metadata(State(state): State<Arc<AppState>>) -> Response {
    if state.faults.has(Fault::PrmRequiresAuth) {
        return state.unauthorized();
    }
    let authorization_servers: Vec<&str> = if state.faults.has(Fault::PrmNoAuthorizationServers) {
        Vec::new()
    } else {
        vec![state.issuer.as_str()]
    };
    let scopes: Vec<&str> = if state.faults.has(Fault::PrmEmptyScopes) {
        Vec::new()
    } else {
        vec![SCOPE_READ, SCOPE_TOOLS]
    };
    let resource = if state.faults.has(Fault::PrmWrongResource) {
        &state.prm_wrong_resource
    } else {
        &state.prm_resource
    };
    let body = json!({
        "resource": resource,
        "authorization_servers": authorization_servers,
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header"],
        "resource_name": "authconform reference",
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Logs one line per request to stderr: method, path (never the query), status.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    eprintln!(
        "authconform-reference: {method} {path} -> {}",
        response.status().as_u16()
    );
    response
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        reference: ReferenceCli,
    }

    #[test]
    fn cli_parses_and_rejects_unknown_faults() {
        let cli = Cli::try_parse_from([
            "x",
            "http",
            "--issuer",
            "https://127.0.0.1:1",
            "--fault",
            "accept-expired",
            "--fault",
            "ignore-audience",
        ])
        .unwrap();
        let ReferenceCommand::Http(command) = cli.reference.command else {
            panic!("not http");
        };
        assert_eq!(command.args.faults, ["accept-expired", "ignore-audience"]);
        assert_eq!(command.args.listen.to_string(), "127.0.0.1:0");
        assert!(!command.cohosted_as);

        let cli = Cli::try_parse_from([
            "x",
            "http",
            "--issuer",
            "https://127.0.0.1:1",
            "--cohosted-as",
            "--fault",
            "pkce-optional",
        ])
        .unwrap();
        let ReferenceCommand::Http(command) = cli.reference.command else {
            panic!("not http");
        };
        assert!(command.cohosted_as);
        assert_eq!(command.args.faults, ["pkce-optional"]);

        let err = Cli::try_parse_from(["x", "http", "--issuer", "https://a", "--fault", "nope"])
            .err()
            .unwrap();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("accept-expired"));
    }

    #[test]
    fn ready_line() {
        let mut ready = Ready {
            base: "https://127.0.0.1:8443".into(),
            authorization_server: None,
        };
        assert_eq!(
            ready.line(),
            "authconform-reference listening on https://127.0.0.1:8443/mcp"
        );
        ready.authorization_server = Some("https://127.0.0.1:9443".into());
        assert_eq!(
            ready.line(),
            "authconform-reference listening on https://127.0.0.1:8443/mcp (authorization server https://127.0.0.1:9443)"
        );
    }

    #[test]
    fn stdio_cli_has_defaults_and_takes_faults() {
        let cli = Cli::try_parse_from([
            "x",
            "stdio",
            "--upstream",
            "http://127.0.0.1:9",
            "--fault",
            "mask-upstream-403",
        ])
        .unwrap();
        let ReferenceCommand::Stdio(args) = cli.reference.command else {
            panic!("not stdio");
        };
        assert_eq!(args.key_env, "REFERENCE_API_KEY");
        assert_eq!(args.fallback_key_env, "REFERENCE_FALLBACK_KEY");
        assert_eq!(args.faults, ["mask-upstream-403"]);
        assert!(args.ca_file.is_none());
        assert!(Cli::try_parse_from(["x", "stdio"]).is_err());
    }
}
