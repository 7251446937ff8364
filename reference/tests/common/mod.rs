//! What the black-box tests of `authconform-reference http` share: the
//! launcher of the real binary, the HTTP client and the read-back response.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_authconform-reference");

/// Spawns `BIN http --issuer http://127.0.0.1:9 <args> --fault …` without
/// `AUTHCONFORM_REFERENCE_FAULT`; the child and the base URL of its ready line.
pub fn spawn(args: &[&str], faults: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["http", "--issuer", "http://127.0.0.1:9"])
        .args(args)
        .args(faults.iter().flat_map(|f| ["--fault", f]))
        .env_remove("AUTHCONFORM_REFERENCE_FAULT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    let base = line
        .strip_prefix("authconform-reference listening on ")
        .and_then(|rest| rest.strip_suffix("/mcp\n"))
        .unwrap_or_else(|| panic!("unexpected ready line {line:?}"))
        .to_owned();
    (child, base)
}

/// A client with a 10 s timeout.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// A running `authconform-reference http`, killed on drop.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub http: reqwest::Client,
}

impl Server {
    /// [`spawn`] with [`client`].
    pub fn launch(args: &[&str], faults: &[&str]) -> Server {
        let (child, base) = spawn(args, faults);
        Server {
            child,
            base,
            http: client(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response, read completely.
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| panic!("not JSON: {:?}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends the request and reads the response completely.
pub async fn read(builder: reqwest::RequestBuilder) -> Reply {
    let response = builder.send().await.expect("send");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    Reply {
        status,
        headers,
        text,
    }
}
