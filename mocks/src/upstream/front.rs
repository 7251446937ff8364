//! The TLS front of a [`MockUpstream`](super::MockUpstream): wiremock serves
//! plain HTTP only, so this accepts TLS on `127.0.0.1` and relays the
//! decrypted bytes to wiremock's loopback address.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::server::bind_localhost;

/// A TLS listener on `127.0.0.1` relaying each connection to a plain-HTTP
/// backend. Dropping it stops the accept loop and every relayed connection.
pub(super) struct TlsFront {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl TlsFront {
    /// Bind `127.0.0.1:port` (`0`: any free port) and relay to `backend`.
    ///
    /// The socket is bound before this returns, so connections made right
    /// after are queued and served. Must be called within a Tokio runtime.
    pub(super) fn start(
        port: u16,
        tls: Arc<rustls::ServerConfig>,
        backend: SocketAddr,
    ) -> anyhow::Result<TlsFront> {
        let listener = bind_localhost(port)?;
        listener
            .set_nonblocking(true)
            .context("making the TLS front's listener non-blocking")?;
        let listener =
            TcpListener::from_std(listener).context("registering the TLS front's listener")?;
        let addr = listener
            .local_addr()
            .context("reading the TLS front's local address")?;
        let task = tokio::spawn(accept_loop(listener, TlsAcceptor::from(tls), backend));
        Ok(TlsFront { addr, task })
    }

    /// The front's address (`127.0.0.1`).
    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        // Aborting the loop drops its `JoinSet`, which aborts the relays.
        self.task.abort();
    }
}

/// Accept connections until aborted, relaying each in a task of its own.
async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, backend: SocketAddr) {
    let mut relays = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    relays.spawn(relay(stream, acceptor.clone(), backend));
                }
                // Out of file descriptors and the like: retry shortly rather
                // than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = relays.join_next(), if !relays.is_empty() => {}
        }
    }
}

/// Complete the TLS handshake, connect to the backend and copy bytes both
/// ways until either side closes. A failed handshake just drops the
/// connection (the client sees the TLS error).
async fn relay(stream: TcpStream, acceptor: TlsAcceptor, backend: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let Ok(mut tls) = acceptor.accept(stream).await else {
        return;
    };
    let Ok(mut plain) = TcpStream::connect(backend).await else {
        return;
    };
    let _ = plain.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
}
