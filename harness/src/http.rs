//! Sending requests: through reqwest for ordinary requests, and byte-exact over a raw HTTP/1.1 connection
//! when a step needs header case, duplicate fields or control bytes that an HTTP library would normalise.

use crate::exchange::{Response, SentRequest};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

/// Largest body kept in a transcript.
pub const MAX_BODY: usize = 256 * 1024;

/// The `body_cut` of an event stream answering a GET: complete as far as any check is concerned.
pub const STREAM_NOT_READ: &str = "event stream open; not read further";

/// An HTTP client that trusts the run's test CA as well as the system roots.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    raw_tls: Arc<rustls::ClientConfig>,
}

impl HttpClient {
    /// A client trusting `ca_pem` (the run's test CA) in addition to the usual roots.
    pub fn new(ca_pem: Option<&str>) -> anyhow::Result<HttpClient> {
        authconform_mocks::tls::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .http1_only()
            .connect_timeout(Duration::from_secs(5));
        let mut roots = rustls::RootCertStore::empty();
        if let Some(pem) = ca_pem {
            builder = builder.tls_certs_merge([reqwest::Certificate::from_pem(pem.as_bytes())?]);
            use rustls::pki_types::pem::PemObject;
            for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots.add(cert?)?;
            }
        }
        let raw_tls = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(HttpClient {
            client: builder.build()?,
            raw_tls: Arc::new(raw_tls),
        })
    }

    /// The underlying reqwest client (also handed to the rmcp client).
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `req`, giving up at `timeout`; never panics, every failure is an error text.
    pub async fn send(&self, req: &SentRequest, timeout: Duration) -> Result<Response, String> {
        let deadline = Instant::now() + timeout;
        let fut = async {
            if req.raw {
                self.send_raw(req, deadline).await
            } else {
                self.send_reqwest(req, deadline).await
            }
        };
        match tokio::time::timeout_at(deadline, fut).await {
            Ok(r) => r,
            Err(_) => Err(format!("no response within {} ms", timeout.as_millis())),
        }
    }

    async fn send_reqwest(&self, req: &SentRequest, deadline: Instant) -> Result<Response, String> {
        let method =
            reqwest::Method::from_bytes(req.method.as_bytes()).map_err(|e| e.to_string())?;
        let mut headers = reqwest::header::HeaderMap::new();
        for (n, v) in &req.headers {
            let name = reqwest::header::HeaderName::from_bytes(n.as_bytes())
                .map_err(|e| format!("header name `{n}`: {e}"))?;
            let value = reqwest::header::HeaderValue::from_bytes(v.as_bytes())
                .map_err(|e| format!("header `{n}` value: {e}"))?;
            headers.append(name, value);
        }
        let mut rb = self.client.request(method, &req.url).headers(headers);
        if let Some(b) = &req.body {
            rb = rb.body(b.clone());
        }
        let mut resp = rb.send().await.map_err(|e| describe_reqwest(&e))?;
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let is_sse = headers
            .iter()
            .any(|(n, v)| n == "content-type" && v.starts_with("text/event-stream"));
        let announced = resp.content_length();
        let mut body = Vec::new();
        let mut cut = None;
        // A request without a body (a GET stream) awaits no JSON-RPC response: the status and headers are the
        // answer, and the stream may stay open for good, so it is not read (rather than held to the deadline).
        if is_sse && req.body.is_none() {
            cut = Some(STREAM_NOT_READ.to_string());
        }
        while cut.is_none() {
            match tokio::time::timeout_at(deadline, resp.chunk()).await {
                Err(_) => {
                    cut = Some("stream still open at the step deadline".to_string());
                    break;
                }
                // The connection closed (or the framing broke) before the body's end: no complete response.
                Ok(Err(e)) => {
                    return Err(broke_off(body.len(), announced, &describe_reqwest(&e)));
                }
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => {
                    body.extend_from_slice(&chunk);
                    if body.len() > MAX_BODY {
                        body.truncate(MAX_BODY);
                        cut = Some(too_long());
                        break;
                    }
                    // An SSE response to a JSON-RPC request is complete once the response event arrived;
                    // a GET stream may stay open forever, so stop there rather than at the deadline.
                    if is_sse && sse_has_response(&body) {
                        break;
                    }
                }
            }
        }
        Ok(Response {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            body_cut: cut,
        })
    }

    async fn send_raw(&self, req: &SentRequest, deadline: Instant) -> Result<Response, String> {
        let url = url::Url::parse(&req.url).map_err(|e| format!("bad URL: {e}"))?;
        let host = url.host_str().ok_or("URL has no host")?.to_string();
        let port = url.port_or_known_default().ok_or("URL has no port")?;
        let mut target = url.path().to_string();
        if let Some(q) = url.query() {
            target.push('?');
            target.push_str(q);
        }
        let mut head = format!("{} {} HTTP/1.1\r\n", req.method, target).into_bytes();
        if !req
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("host"))
        {
            head.extend_from_slice(format!("Host: {}\r\n", authority(&url)).as_bytes());
        }
        for (n, v) in &req.headers {
            head.extend_from_slice(n.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(v.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        let body = req.body.clone().unwrap_or_default();
        if req.body.is_some() {
            head.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        head.extend_from_slice(b"Connection: close\r\n\r\n");
        head.extend_from_slice(body.as_bytes());
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("connect {host}:{port}: {e}"))?;
        if url.scheme() == "https" {
            let connector = tokio_rustls::TlsConnector::from(self.raw_tls.clone());
            let name =
                rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| e.to_string())?;
            let tls = connector
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            exchange_raw(tls, &head, deadline).await
        } else {
            exchange_raw(tcp, &head, deadline).await
        }
    }
}

/// The mark of a body cut at [`MAX_BODY`] (its first bytes are kept, the rest is not read).
fn too_long() -> String {
    format!("body longer than {MAX_BODY} bytes; truncated, the rest not read")
}

/// Why a response whose body ended early is no response: `got` bytes arrived (of `announced`, when known).
fn broke_off(got: usize, announced: Option<u64>, why: &str) -> String {
    let of = announced.map_or(String::new(), |n| format!(" of the {n} announced"));
    format!("the response broke off mid-body after {got} bytes{of}: {why}")
}

fn authority(url: &url::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// True when an SSE body holds a `data:` event that is a JSON-RPC response (has `id` and `result`/`error`).
fn sse_has_response(body: &[u8]) -> bool {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d.trim()).ok())
        .any(|v| v.get("id").is_some() && (v.get("result").is_some() || v.get("error").is_some()))
}

async fn exchange_raw<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    bytes: &[u8],
    deadline: Instant,
) -> Result<Response, String> {
    stream
        .write_all(bytes)
        .await
        .map_err(|e| format!("write: {e}"))?;
    stream.flush().await.map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut cut = None;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => {
                cut = Some("connection still open at the step deadline".to_string());
                break;
            }
            Ok(Ok(0)) => break,
            // A peer that closes without TLS close_notify still sent what it sent.
            Ok(Err(e)) if !buf.is_empty() && e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Ok(Err(e)) => return Err(format!("read: {e}")),
            Ok(Ok(n)) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > MAX_BODY + 64 * 1024 {
                    cut = Some(too_long());
                    break;
                }
                if let Some(resp) = parse_raw_response(&buf)
                    && resp.complete
                {
                    return Ok(resp.response);
                }
            }
        }
    }
    match parse_raw_response(&buf) {
        // Closed before the announced length or the last chunk arrived.
        Some(r) if cut.is_none() && !r.complete && r.framed => Err(broke_off(
            r.response.body.len(),
            r.response
                .header("content-length")
                .and_then(|v| v.trim().parse().ok()),
            "connection closed",
        )),
        Some(mut r) => {
            if r.response.body_cut.is_none() {
                r.response.body_cut = cut;
            }
            Ok(r.response)
        }
        None if buf.is_empty() => Err("connection closed without a response".into()),
        None => Err(format!(
            "not an HTTP response: {:?}",
            String::from_utf8_lossy(&buf[..buf.len().min(120)])
        )),
    }
}

struct RawParse {
    response: Response,
    complete: bool,
    /// The body's end is announced (a length or chunked), so a close before it is a broken response.
    framed: bool,
}

/// Parses an HTTP/1.1 response from bytes read so far.
fn parse_raw_response(buf: &[u8]) -> Option<RawParse> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return None,
    };
    let status = resp.code?;
    let headers: Vec<(String, String)> = resp
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let rest = &buf[head_len..];
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let (body, complete, framed) = if get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        let (body, complete) = dechunk(rest);
        (body, complete, true)
    } else if let Some(len) = get("content-length").and_then(|v| v.trim().parse::<usize>().ok()) {
        (
            rest[..rest.len().min(len)].to_vec(),
            rest.len() >= len,
            true,
        )
    } else {
        (rest.to_vec(), false, false)
    };
    let sse = get("content-type").is_some_and(|v| v.starts_with("text/event-stream"));
    let complete = complete || (sse && sse_has_response(&body));
    Some(RawParse {
        response: Response {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            body_cut: None,
        },
        complete,
        framed,
    })
}

/// Decodes a chunked body; returns what was decoded and whether the last chunk arrived.
fn dechunk(mut rest: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") else {
            return (out, false);
        };
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
        else {
            return (out, false);
        };
        rest = &rest[line_end + 2..];
        if size == 0 {
            return (out, true);
        }
        if rest.len() < size + 2 {
            out.extend_from_slice(&rest[..rest.len().min(size)]);
            return (out, false);
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_chunked_and_sized_responses() {
        let r = parse_raw_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
        assert!(r.complete);
        assert_eq!(r.response.body, "abcde");
        let r = parse_raw_response(
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\nWWW-Authenticate: Bearer\r\n\r\nab",
        )
        .unwrap();
        assert!(!r.complete);
        assert_eq!(r.response.status, 401);
        assert_eq!(r.response.header("www-authenticate"), Some("Bearer"));
        assert!(parse_raw_response(b"garbage\r\n\r\n").is_none());
    }

    /// Raw `bytes` from a peer that then closes, through `exchange_raw`.
    async fn raw(bytes: &'static [u8]) -> Result<Response, String> {
        let (mut server, client) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            let mut request = [0u8; 1024];
            let _ = server.read(&mut request).await;
            let _ = server.write_all(bytes).await;
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        exchange_raw(client, b"GET / HTTP/1.1\r\n\r\n", deadline).await
    }

    #[tokio::test]
    async fn a_body_that_breaks_off_is_no_response() {
        let sized = raw(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").await;
        assert_eq!(
            sized.unwrap_err(),
            "the response broke off mid-body after 3 bytes of the 10 announced: connection closed"
        );
        let chunked =
            raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n").await;
        assert!(
            chunked
                .unwrap_err()
                .contains("broke off mid-body after 3 bytes:")
        );
        // Without a length, the close is the body's end.
        let unframed = raw(b"HTTP/1.1 200 OK\r\n\r\nabc").await.unwrap();
        assert_eq!((unframed.body.as_str(), unframed.body_cut), ("abc", None));
    }

    #[test]
    fn sse_response_detection() {
        assert!(!sse_has_response(b"data: \nid: 0\n\n"));
        assert!(sse_has_response(
            b"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n"
        ));
    }
}
