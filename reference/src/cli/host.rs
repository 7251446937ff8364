//! Requests to the vendor host: JSON bodies, the key as `X-API-Key` (or, under
//! the `key-in-query` fault, `?api_key=`), `--verbose` lines, and readable
//! network errors.

use std::time::Duration;

use serde_json::Value;
use url::Url;

use super::CliError;
use super::config::{self, Tls};
use super::store::mask;

/// A host the CLI talks to.
pub(crate) struct HostClient {
    base: Url,
    client: reqwest::Client,
    timeout: Duration,
    verbose: bool,
    key_in_query: bool,
}

/// A request failure: a timeout (the device flow backs off and retries), or anything else.
#[derive(Debug)]
pub(crate) enum SendError {
    /// No answer within the request timeout (the message says so).
    Timeout(CliError),
    /// Any other failure, already readable.
    Failed(CliError),
}

impl From<SendError> for CliError {
    fn from(err: SendError) -> Self {
        match err {
            SendError::Timeout(e) | SendError::Failed(e) => e,
        }
    }
}

/// An answer: status and body text.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// HTTP status code.
    pub(crate) status: u16,
    /// Body as text.
    pub(crate) body: String,
    /// The `Mcp-Session-Id` response header, if any.
    pub(crate) mcp_session: Option<String>,
}

impl Answer {
    /// Whether the status is 2xx.
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON, if it is JSON.
    pub(crate) fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

impl HostClient {
    /// A client for `base` with the environment's TLS trust and timeout.
    pub(crate) fn new(
        base: Url,
        tls: &Tls,
        verbose: bool,
        key_in_query: bool,
    ) -> Result<Self, CliError> {
        let timeout = config::timeout()?;
        let client = config::client(tls, timeout)?;
        Ok(Self {
            base,
            client,
            timeout,
            verbose,
            key_in_query,
        })
    }

    /// The URL of `segments` under the base URL (each segment percent-encoded).
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Sends `method` to `url` with an optional JSON body, optional key, and extra headers.
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        mut url: Url,
        body: Option<&Value>,
        key: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, SendError> {
        let mut shown = url.to_string();
        let mut request_key = None;
        if let Some(key) = key {
            if self.key_in_query {
                url.query_pairs_mut().append_pair("api_key", key);
                shown = format!("{shown}?api_key={}", mask(key));
            } else {
                request_key = Some(key);
            }
        }
        self.log(&format!("> {method} {shown}"));
        let mut request = self.client.request(method, url);
        if let Some(key) = request_key {
            request = request.header("X-API-Key", key);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let answer = self.finish(request).await?;
        self.log(&format!("< {}", answer.status));
        Ok(answer)
    }

    /// Sends the request and reads the whole body.
    async fn finish(&self, request: reqwest::RequestBuilder) -> Result<Answer, SendError> {
        let response = request.send().await.map_err(|e| self.failure(&e))?;
        let status = response.status().as_u16();
        let mcp_session = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.map_err(|e| self.failure(&e))?;
        Ok(Answer {
            status,
            body,
            mcp_session,
        })
    }

    fn failure(&self, err: &reqwest::Error) -> SendError {
        let error = CliError::failure(config::describe(&self.base, err, self.timeout));
        if err.is_timeout() {
            self.log(&format!("! {error}"));
            SendError::Timeout(error)
        } else {
            SendError::Failed(error)
        }
    }

    /// A `--verbose` line (stderr).
    pub(crate) fn log(&self, line: &str) {
        if self.verbose {
            eprintln!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_the_base_path_and_encode_segments() {
        let host = HostClient::new(
            Url::parse("https://127.0.0.1:1/prefix/").unwrap(),
            &Tls::default(),
            false,
            false,
        );
        let Ok(host) = host else {
            // No platform roots in this environment: nothing to check here.
            return;
        };
        assert_eq!(
            host.url(&["api", "v1", "organizations", "a/b", "api-keys"])
                .as_str(),
            "https://127.0.0.1:1/prefix/api/v1/organizations/a%2Fb/api-keys"
        );
    }
}
