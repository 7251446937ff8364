//! The MCP session over streamable HTTP (rmcp's client), with the current
//! access token on every request: `initialize`, `notifications/initialized`,
//! `tools/list`, `tools/call`. The token lives outside the transport, so a
//! refreshed or stepped-up token applies to the same session's next request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ClientJsonRpcMessage, ContentBlock,
    Implementation, ProtocolVersion,
};
use rmcp::service::serve_client;
use rmcp::service::{ClientInitializeError, RoleClient, RunningService, ServiceError};
use rmcp::transport::DynamicTransportError;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::{
    AuthRequiredError, InsufficientScopeError, SseError, StreamableHttpClient,
    StreamableHttpClientTransportConfig, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::Sse;
use url::Url;

use crate::cli::CliError;
use crate::cli::config::root_cause;

/// The tool `connect` calls.
pub(crate) const TOOL: &str = "whoami";
/// The client's name in `initialize`.
pub(crate) const CLIENT_NAME: &str = "authconform-refcli";

/// The token shared by the transport and the OAuth flow.
pub(crate) type SharedToken = Arc<RwLock<Option<String>>>;

/// reqwest with the current token: `Authorization: Bearer`, or (the
/// `token-in-query` fault) `?access_token=` on the URL.
#[derive(Clone)]
pub(crate) struct BearerClient {
    inner: reqwest::Client,
    token: SharedToken,
    in_query: bool,
    verbose: bool,
}

impl BearerClient {
    /// The URI and `Authorization` value for one request.
    fn with_token(&self, uri: Arc<str>, method: &str) -> (Arc<str>, Option<String>) {
        if self.verbose {
            eprintln!("> {method} {uri} (MCP)");
        }
        let token = self.token.read().ok().and_then(|t| t.clone());
        match token {
            Some(token) if self.in_query => {
                let mut url = match Url::parse(&uri) {
                    Ok(url) => url,
                    Err(_) => return (uri, None),
                };
                url.query_pairs_mut().append_pair("access_token", &token);
                (Arc::from(url.as_str()), None)
            }
            token => (uri, token),
        }
    }
}

type PostResult = Result<StreamableHttpPostResponse, StreamableHttpError<reqwest::Error>>;
type StreamResult =
    Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<reqwest::Error>>;

impl StreamableHttpClient for BearerClient {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> PostResult {
        let (uri, auth) = self.with_token(uri, "POST");
        self.inner
            .post_message(uri, message, session_id, auth, custom_headers)
            .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> PostResult {
        let (uri, auth) = self.with_token(uri, "POST");
        self.inner
            .post_message_with_max_sse_event_size(
                uri,
                message,
                session_id,
                auth,
                custom_headers,
                max_sse_event_size,
            )
            .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> PostResult {
        let (uri, auth) = self.with_token(uri, "POST");
        self.inner
            .post_message_with_response_limits(
                uri,
                message,
                session_id,
                auth,
                custom_headers,
                limits,
            )
            .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<reqwest::Error>> {
        let (uri, auth) = self.with_token(uri, "DELETE");
        self.inner
            .delete_session(uri, session_id, auth, custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> StreamResult {
        let (uri, auth) = self.with_token(uri, "GET");
        self.inner
            .get_stream(uri, session_id, last_event_id, auth, custom_headers)
            .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> StreamResult {
        let (uri, auth) = self.with_token(uri, "GET");
        self.inner
            .get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                auth,
                custom_headers,
                max_sse_event_size,
            )
            .await
    }
}

/// Why a step failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// 401, with its `WWW-Authenticate`.
    Unauthorized(String),
    /// 403 with a challenge, with its `WWW-Authenticate`.
    Forbidden(String),
    /// Anything else, already readable.
    Other(CliError),
}

/// The session, advanced one request at a time.
pub(crate) struct Session {
    url: Url,
    client: BearerClient,
    running: Option<RunningService<RoleClient, ClientConfig>>,
    tool: Option<String>,
}

impl Session {
    /// A session with `url`, sending whatever `token` holds.
    pub(crate) fn new(
        url: Url,
        http: reqwest::Client,
        token: SharedToken,
        in_query: bool,
        verbose: bool,
    ) -> Self {
        let client = BearerClient {
            inner: http,
            token,
            in_query,
            verbose,
        };
        Self {
            url,
            client,
            running: None,
            tool: None,
        }
    }

    /// Takes the next step (`initialize`+`initialized`, `tools/list`,
    /// `tools/call`); the tool's text once the last one is done. A failed step
    /// is taken again by the next call.
    pub(crate) async fn step(&mut self) -> Result<Option<String>, Failure> {
        let Some(running) = &self.running else {
            self.running = Some(self.connect().await?);
            return Ok(None);
        };
        let Some(tool) = &self.tool else {
            let tools = running.peer().list_all_tools().await.map_err(service)?;
            let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
            let chosen = names.iter().find(|n| **n == TOOL).or(names.first());
            let Some(chosen) = chosen else {
                return Err(Failure::Other(CliError::failure(
                    "the MCP server lists no tools",
                )));
            };
            self.tool = Some((*chosen).to_owned());
            return Ok(None);
        };
        let params = CallToolRequestParams::new(tool.clone()).with_arguments(Default::default());
        let result = running.peer().call_tool(params).await.map_err(service)?;
        let text = result
            .content
            .iter()
            .filter_map(|c| match c {
                ContentBlock::Text(t) => Some(t.text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n");
        if result.is_error == Some(true) {
            return Err(Failure::Other(CliError::failure(format!(
                "the tool {tool} reported an error: {text}"
            ))));
        }
        Ok(Some(text))
    }

    async fn connect(&self) -> Result<RunningService<RoleClient, ClientConfig>, Failure> {
        let mut config = StreamableHttpClientTransportConfig::with_uri(self.url.as_str());
        config.auth_header = None;
        let transport = StreamableHttpClientTransport::with_client(self.client.clone(), config);
        let mut info = ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new(CLIENT_NAME, env!("CARGO_PKG_VERSION")),
        );
        info.protocol_version = ProtocolVersion::V_2025_11_25;
        serve_client(info, transport)
            .await
            .map_err(|e| initialize_failed(&e))
    }

    /// Ends the session (DELETE where the server gave one), within 2 s.
    pub(crate) async fn close(&mut self) {
        if let Some(mut running) = self.running.take() {
            let _ = running.close_with_timeout(Duration::from_secs(2)).await;
        }
    }
}

fn service(e: ServiceError) -> Failure {
    match &e {
        ServiceError::TransportSend(error) => classify(error, "request"),
        other => Failure::Other(CliError::failure(format!("MCP request failed: {other}"))),
    }
}

/// `initialize` failed: the transport error inside (rmcp does not chain it as a source).
fn initialize_failed(e: &ClientInitializeError) -> Failure {
    match e {
        ClientInitializeError::TransportError { error, .. } => classify(error, "initialize"),
        other => Failure::Other(CliError::failure(format!("MCP initialize failed: {other}"))),
    }
}

/// A 401 or 403 challenge anywhere in the transport error's chain, else a
/// readable failure (the innermost cause: a refused connection, a bad certificate…).
fn classify(err: &DynamicTransportError, what: &str) -> Failure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err.error.as_ref());
    while let Some(e) = source {
        if let Some(a) = e.downcast_ref::<AuthRequiredError>() {
            return Failure::Unauthorized(a.www_authenticate_header.clone());
        }
        if let Some(s) = e.downcast_ref::<InsufficientScopeError>() {
            return Failure::Forbidden(s.www_authenticate_header.clone());
        }
        source = e.source();
    }
    Failure::Other(CliError::failure(format!(
        "MCP {what} failed: {}",
        root_cause(err.error.as_ref())
    )))
}
