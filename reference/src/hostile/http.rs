//! The HTTP misbehaviours, written on a plain TCP listener so they can break the protocol byte by byte.

use super::Mode;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Size of the `huge-body` body.
pub const HUGE_BODY: usize = 10 * 1024 * 1024;

/// Largest request head and body read before answering.
const MAX_REQUEST: usize = 1024 * 1024;

/// Bytes written at once for the big bodies.
const CHUNK: usize = 64 * 1024;

/// Listens on 127.0.0.1:`port`, prints the ready line and treats each connection as `mode` says.
pub async fn serve(mode: Mode, port: u16) -> anyhow::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    super::record_listening(addr);
    println!("hostile listening on http://{addr}/mcp");
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = connection(mode, stream).await;
        });
    }
}

/// Reads one request, then misbehaves; every request on the connection gets the same treatment.
async fn connection(mode: Mode, mut stream: TcpStream) -> std::io::Result<()> {
    loop {
        if !read_request(&mut stream).await? {
            return Ok(());
        }
        match mode {
            Mode::HangBeforeAnswer => std::future::pending::<()>().await,
            Mode::CloseMidBody => return close_mid_body(stream).await,
            Mode::HugeBody => huge_body(&mut stream).await?,
            Mode::EndlessBody => return endless_body(stream).await,
            Mode::InvalidJson => invalid_json(&mut stream).await?,
            Mode::InvalidHttp => return invalid_http(stream).await,
            Mode::DripHeaders => return drip_headers(stream).await,
            _ => served(&mut stream).await?,
        }
    }
}

/// Reads a request head and its `Content-Length` body (at most [`MAX_REQUEST`] bytes); false at end of stream.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<bool> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_REQUEST {
            return Ok(false);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(false);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_REQUEST);
    let mut have = buf.len() - head_end;
    while have < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(false);
        }
        have += n;
    }
    Ok(true)
}

/// An ordinary answer: 200 with an empty JSON-RPC result, as a server that asks for no credentials gives.
async fn served(stream: &mut TcpStream) -> std::io::Result<()> {
    json_200(stream, br#"{"jsonrpc":"2.0","id":1,"result":{}}"#).await
}

/// `200 OK` with `body` as `application/json`, whatever the body holds.
async fn json_200(stream: &mut TcpStream, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await
}

async fn close_mid_body(mut stream: TcpStream) -> std::io::Result<()> {
    stream
        .write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n",
        )
        .await?;
    stream.write_all(br#"{"jsonrpc":"2.0","id":1,"res"#).await?;
    stream.shutdown().await
}

async fn huge_body(stream: &mut TcpStream) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {HUGE_BODY}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    let prefix = br#"{"padding":""#;
    let suffix = br#""}"#;
    stream.write_all(prefix).await?;
    let mut left = HUGE_BODY - prefix.len() - suffix.len();
    let pad = vec![b'x'; CHUNK];
    while left > 0 {
        let n = left.min(CHUNK);
        stream.write_all(&pad[..n]).await?;
        left -= n;
    }
    stream.write_all(suffix).await
}

async fn endless_body(mut stream: TcpStream) -> std::io::Result<()> {
    stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await?;
    let mut chunk = format!("{CHUNK:x}\r\n").into_bytes();
    chunk.extend(std::iter::repeat_n(b'x', CHUNK));
    chunk.extend_from_slice(b"\r\n");
    loop {
        stream.write_all(&chunk).await?;
    }
}

async fn invalid_json(stream: &mut TcpStream) -> std::io::Result<()> {
    let body = br#"{"jsonrpc": "2.0", "id": 0, "result": {"protocolVersion": "2025-11-25", oops"#;
    json_200(stream, body).await
}

async fn invalid_http(mut stream: TcpStream) -> std::io::Result<()> {
    stream
        .write_all(b"SSH-2.0-hostile\r\n\x00\x01\x02 this is not HTTP\r\n\r\n")
        .await?;
    stream.shutdown().await
}

/// A status line and headers, one byte a second, never finished.
async fn drip_headers(mut stream: TcpStream) -> std::io::Result<()> {
    let head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Drip: ";
    for b in head.iter().chain(std::iter::repeat(&b'.')) {
        stream.write_all(std::slice::from_ref(b)).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}
