//! Serving an axum [`Router`] on `127.0.0.1:0`, over TLS or plain HTTP.

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use tokio::task::JoinHandle;

/// A server bound to `127.0.0.1:0` serving an axum [`Router`], over TLS when
/// a rustls configuration is given.
///
/// The listening socket is bound before [`RunningServer::start`] returns, so
/// connections made right after are queued and served: no waiting needed.
/// Dropping the value shuts the server down: the accept loop is aborted and
/// open connections are closed.
pub struct RunningServer {
    addr: SocketAddr,
    base_url: String,
    handle: Handle<SocketAddr>,
    task: JoinHandle<()>,
}

impl fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// Bind `127.0.0.1:0` and serve `router` on it, over TLS with the given
    /// configuration when `tls` is `Some`, plain HTTP otherwise.
    ///
    /// Must be called within a Tokio runtime.
    pub async fn start(
        router: Router,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> anyhow::Result<RunningServer> {
        Self::start_on(0, router, tls).await
    }

    /// Like [`RunningServer::start`], on `127.0.0.1:port`; port `0` lets the
    /// operating system choose.
    pub async fn start_on(
        port: u16,
        router: Router,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> anyhow::Result<RunningServer> {
        let listener = bind_localhost(port)?;
        Self::from_listener(listener, router, tls)
    }

    /// Serve `router` on an already bound listener (used when the router
    /// needs to know its own address before serving).
    pub(crate) fn from_listener(
        listener: TcpListener,
        router: Router,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> anyhow::Result<RunningServer> {
        let addr = listener
            .local_addr()
            .context("reading the listener's local address")?;
        let base_url = base_url_for(addr, tls.is_some());
        let handle: Handle<SocketAddr> = Handle::new();
        let service = router.into_make_service();
        let task = match tls {
            Some(config) => {
                let server =
                    axum_server::from_tcp_rustls(listener, RustlsConfig::from_config(config))
                        .context("preparing the TLS listener")?
                        .handle(handle.clone());
                tokio::spawn(async move {
                    // An error here means the accept loop died; requests then
                    // fail visibly on the client side.
                    let _ = server.serve(service).await;
                })
            }
            None => {
                let server = axum_server::from_tcp(listener)
                    .context("preparing the listener")?
                    .handle(handle.clone());
                tokio::spawn(async move {
                    let _ = server.serve(service).await;
                })
            }
        };
        Ok(RunningServer {
            addr,
            base_url,
            handle,
            task,
        })
    }

    /// The base URL, `https://127.0.0.1:PORT` or `http://127.0.0.1:PORT`,
    /// without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The bound socket address (always `127.0.0.1` with an OS-chosen port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.handle.shutdown();
        self.task.abort();
    }
}

/// Bind a std listener on `127.0.0.1:port` (`0`: any free port).
pub(crate) fn bind_localhost(port: u16) -> anyhow::Result<TcpListener> {
    TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port))
        .with_context(|| format!("binding 127.0.0.1:{port}"))
}

/// The base URL for a server listening on `addr`.
pub(crate) fn base_url_for(addr: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{addr}")
}
