//! HTTP for discovery, registration and the token endpoint: no redirects
//! followed, the CLI's TLS trust, `--verbose` lines that never show a query
//! string or a body, and readable failures.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use serde_json::Value;
use url::Url;

use super::urls::shown;
use crate::cli::CliError;
use crate::cli::config;

/// What came back.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reply {
    /// HTTP status.
    pub(crate) status: u16,
    /// The body, when it is JSON.
    pub(crate) json: Option<Value>,
    /// The `Location` header.
    pub(crate) location: Option<String>,
    /// Every `WWW-Authenticate` field.
    pub(crate) challenges: Vec<String>,
}

impl Reply {
    /// Whether the status is 2xx.
    pub(crate) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A string member of the JSON body.
    pub(crate) fn str(&self, name: &str) -> Option<&str> {
        self.json.as_ref()?.get(name)?.as_str()
    }

    /// `error` and `error_description` of an OAuth error body, for messages.
    pub(crate) fn oauth_error(&self) -> String {
        match (self.str("error"), self.str("error_description")) {
            (Some(e), Some(d)) => format!("{e} ({d})"),
            (Some(e), None) => e.to_owned(),
            _ => format!("HTTP {}", self.status),
        }
    }
}

/// The client for everything but the MCP session.
#[derive(Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    timeout: Duration,
    verbose: bool,
}

/// Client authentication by HTTP Basic (already form-urlencoded parts).
pub(crate) struct Basic<'a> {
    /// The client identifier.
    pub(crate) id: &'a str,
    /// The client secret.
    pub(crate) secret: &'a str,
}

impl Http {
    /// A client with the CLI's TLS trust and timeout.
    pub(crate) fn new(verbose: bool) -> Result<Self, CliError> {
        let timeout = config::timeout()?;
        let client = config::client(&config::Tls::from_env(false), timeout)?;
        Ok(Self {
            client,
            timeout,
            verbose,
        })
    }

    /// The underlying reqwest client (for the MCP transport).
    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// `GET url` accepting JSON.
    pub(crate) async fn get(&self, url: &Url) -> Result<Reply, CliError> {
        let request = self
            .client
            .get(url.clone())
            .header(ACCEPT, "application/json");
        self.send("GET", url, request).await
    }

    /// `POST url` with a JSON body.
    pub(crate) async fn post_json(&self, url: &Url, body: &Value) -> Result<Reply, CliError> {
        let request = self.client.post(url.clone()).json(body);
        self.send("POST", url, request).await
    }

    /// `POST url` with a form body and optional Basic client authentication.
    pub(crate) async fn post_form(
        &self,
        url: &Url,
        form: &[(&str, String)],
        basic: Option<Basic<'_>>,
    ) -> Result<Reply, CliError> {
        let mut request = self
            .client
            .post(url.clone())
            .header(ACCEPT, "application/json")
            .form(form);
        if let Some(Basic { id, secret }) = basic {
            let pair = format!("{}:{}", form_encode(id), form_encode(secret));
            request = request.header(AUTHORIZATION, format!("Basic {}", STANDARD.encode(pair)));
        }
        self.send("POST", url, request).await
    }

    /// `POST url` with a JSON-RPC message as MCP's streamable HTTP sends it.
    pub(crate) async fn post_mcp(&self, url: &Url, message: &Value) -> Result<Reply, CliError> {
        let request = self
            .client
            .post(url.clone())
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/json")
            .json(message);
        self.send("POST", url, request).await
    }

    async fn send(
        &self,
        method: &str,
        url: &Url,
        request: reqwest::RequestBuilder,
    ) -> Result<Reply, CliError> {
        self.log(&format!("> {method} {}", shown(url)));
        let response = request.send().await.map_err(|e| self.failure(url, &e))?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let location = headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let challenges = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let text = response.text().await.map_err(|e| self.failure(url, &e))?;
        self.log(&format!("< {status}"));
        Ok(Reply {
            status,
            json: serde_json::from_str(&text).ok(),
            location,
            challenges,
        })
    }

    fn failure(&self, url: &Url, err: &reqwest::Error) -> CliError {
        CliError::failure(config::describe(url, err, self.timeout))
    }

    /// A `--verbose` line on stderr.
    pub(crate) fn log(&self, line: &str) {
        if self.verbose {
            eprintln!("{line}");
        }
    }
}

/// `application/x-www-form-urlencoded` encoding of one value (RFC 6749 §2.3.1
/// applies it to the Basic user-id and password).
pub(crate) fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_parts_are_form_encoded() {
        assert_eq!(form_encode("id with:colon"), "id+with%3Acolon");
        assert_eq!(form_encode("plain-id_1.x~"), "plain-id_1.x%7E");
    }

    #[test]
    fn oauth_error_text() {
        let reply = Reply {
            status: 400,
            json: Some(serde_json::json!({"error": "invalid_grant"})),
            ..Reply::default()
        };
        assert_eq!(reply.oauth_error(), "invalid_grant");
        assert_eq!(Reply::default().oauth_error(), "HTTP 0");
    }
}
