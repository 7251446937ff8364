//! `garbage-stdio`: a "local MCP server" whose stdout carries anything but MCP.

use tokio::io::AsyncWriteExt;

/// Bytes written at once once the garbage turns into one endless line.
const CHUNK: usize = 64 * 1024;

/// Writes non-protocol lines (text, control bytes, JSON that is not JSON-RPC), then one line that never ends,
/// until stdout is closed.
pub async fn run() -> anyhow::Result<()> {
    let mut out = tokio::io::stdout();
    let lines: [&[u8]; 3] = [
        b"Welcome to the hostile server! This is not MCP.\n",
        b"\x00\x01\x02\xff\xfe garbage bytes\n",
        b"{\"hello\": \"world\"}\n",
    ];
    for line in lines {
        out.write_all(line).await?;
    }
    out.flush().await?;
    let endless = vec![b'#'; CHUNK];
    loop {
        out.write_all(&endless).await?;
        out.flush().await?;
    }
}
