//! The mock device-flow server: RFC 8628 device authorization, and the Peel
//! CLI's vendor shape of the same flow.
//!
//! Two pairs of endpoints share one set of device sessions:
//!
//! | endpoint (default path) | shape |
//! | --- | --- |
//! | `POST /device_authorization` | RFC 8628 §3.1: form body, `client_id` required |
//! | `POST /token` | RFC 8628 §3.4: form body, `grant_type=urn:ietf:params:oauth:grant-type:device_code`, `device_code`, `client_id` |
//! | `POST /public/device/start` | vendor (Peel): body optional (JSON or form; `client_id` and `scope` optional) |
//! | `POST /public/device/exchange` | vendor (Peel): JSON or form body with `device_code` |
//! | `GET /device` | the verification page a user would open (informational) |
//!
//! Every path is configurable ([`DevicePaths`]).
//!
//! **Field names.** Both start endpoints answer with the RFC 8628 §3.2 names:
//! `device_code`, `user_code`, `verification_uri`,
//! `verification_uri_complete`, `expires_in` and `interval` (whole seconds,
//! rounded up). Both exchange endpoints answer errors as RFC 6749 §5.2 JSON
//! (`{"error": "authorization_pending"}`, status 400) with the RFC 8628 §3.5
//! codes. On success the RFC endpoint answers
//! `{"access_token": KEY, "token_type": "Bearer"}` and the vendor endpoint
//! `{"api_key": KEY, "token_type": "api_key"}`; both with
//! `Cache-Control: no-store`. The credential is an API key
//! (`sk_test_…` by default), issued once per device code.
//!
//! **Semantics of a poll**, in order:
//! 1. an unknown device code (or one issued to another `client_id`) is
//!    `invalid_grant`; a missing one `invalid_request`;
//! 2. a device code already exchanged is `invalid_grant`; a denied one
//!    `access_denied`; an expired one (after `expires_in`, or by script)
//!    `expired_token`; these are terminal;
//! 3. polling discipline: a poll that comes sooner than the current interval
//!    after the previous poll (or after the start response, for the first
//!    poll), less [`DeviceServerConfig::poll_tolerance`], is answered
//!    `slow_down` and the interval grows by
//!    [`DeviceServerConfig::slow_down_increment`] (5 s by default, RFC 8628
//!    §3.5) for this and all later polls. Such a poll does not advance the
//!    script;
//! 4. otherwise the [`DeviceScript`] decides. A scripted `slow_down` also
//!    grows the interval.
//!
//! Every poll is recorded ([`MockDeviceServer::polls`]) with its arrival
//! time, the gap since the previous poll and the interval in force, so a
//! harness can judge a client's polling discipline.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::journal::{self, Journal, RequestRecord};
use crate::oauth::{
    Form, OAuthError, content_type_is, form_body, html_page, json_no_store, random_token,
};
use crate::server::{RunningServer, base_url_for, bind_localhost};

/// The RFC 8628 device-code grant type.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// One scripted answer to a (well-paced) poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceReply {
    /// `authorization_pending`.
    Pending,
    /// `slow_down` (the interval grows).
    SlowDown,
    /// The user approved: the credential is issued.
    Approve,
    /// The user denied: `access_denied`, terminal.
    Deny,
    /// The session lapsed: `expired_token`, terminal.
    Expire,
    /// `500` with `{"error": "server_error"}` (not terminal for the server).
    ServerError,
    /// No answer: the request is held open (up to
    /// [`DeviceServerConfig::hang_for`]) until the client gives up, as a
    /// connection timeout looks to a client (RFC 8628 §3.5).
    Hang,
}

/// What the scripted user does, counted in well-paced polls of one device
/// code (polls answered `slow_down` for coming too fast do not count).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceScript {
    /// `authorization_pending` for the first `n` polls, then approval.
    ApproveAfter(u32),
    /// The user denies: every poll gets `access_denied`.
    Deny,
    /// The session expires at once: every poll gets `expired_token`.
    Expire,
    /// `slow_down` for the first `slow_downs` polls, then approval.
    SlowDownThenApprove {
        /// How many polls are answered `slow_down` first.
        slow_downs: u32,
    },
    /// Never approved: `authorization_pending` until `expires_in` passes,
    /// then `expired_token`.
    Pending,
    /// One reply per poll, in order; the last repeats (an empty sequence is
    /// [`DeviceScript::Pending`]).
    Sequence(Vec<DeviceReply>),
}

impl Default for DeviceScript {
    fn default() -> Self {
        DeviceScript::ApproveAfter(1)
    }
}

impl DeviceScript {
    /// The reply to the `k`-th well-paced poll (0-based).
    pub fn reply(&self, k: u32) -> DeviceReply {
        match self {
            DeviceScript::ApproveAfter(n) if k < *n => DeviceReply::Pending,
            DeviceScript::ApproveAfter(_) => DeviceReply::Approve,
            DeviceScript::Deny => DeviceReply::Deny,
            DeviceScript::Expire => DeviceReply::Expire,
            DeviceScript::SlowDownThenApprove { slow_downs } if k < *slow_downs => {
                DeviceReply::SlowDown
            }
            DeviceScript::SlowDownThenApprove { .. } => DeviceReply::Approve,
            DeviceScript::Pending => DeviceReply::Pending,
            DeviceScript::Sequence(replies) => {
                let index = usize::try_from(k).unwrap_or(usize::MAX);
                replies
                    .get(index)
                    .or(replies.last())
                    .copied()
                    .unwrap_or(DeviceReply::Pending)
            }
        }
    }
}

/// The paths the device server answers on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevicePaths {
    /// RFC 8628 device authorization endpoint (default
    /// `/device_authorization`).
    pub authorization: String,
    /// RFC 8628 token endpoint for the device-code grant (default `/token`).
    pub token: String,
    /// Vendor start endpoint (default `/public/device/start`).
    pub vendor_start: String,
    /// Vendor exchange endpoint (default `/public/device/exchange`).
    pub vendor_exchange: String,
    /// The verification page (default `/device`).
    pub verification: String,
}

impl Default for DevicePaths {
    fn default() -> Self {
        DevicePaths {
            authorization: "/device_authorization".to_owned(),
            token: "/token".to_owned(),
            vendor_start: "/public/device/start".to_owned(),
            vendor_exchange: "/public/device/exchange".to_owned(),
            verification: "/device".to_owned(),
        }
    }
}

/// How to run a [`MockDeviceServer`]. Build it with `..Default::default()`.
#[derive(Clone, Debug)]
pub struct DeviceServerConfig {
    /// Serve over TLS with this configuration; plain HTTP when `None`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The port on `127.0.0.1`; `0` (the default) lets the OS choose.
    pub port: u16,
    /// What the scripted user does (default: approve after one pending poll).
    pub script: DeviceScript,
    /// The polling interval the server enforces (default 5 s). Tests use
    /// milliseconds; the `interval` member advertises it in whole seconds,
    /// rounded up.
    pub interval: Duration,
    /// Whether to advertise `interval` at all (RFC 8628: clients then use
    /// 5 s). Default true.
    pub advertise_interval: bool,
    /// How much each `slow_down` adds to the interval (default 5 s).
    pub slow_down_increment: Duration,
    /// Whether polls faster than the interval get `slow_down` (default true).
    pub enforce_interval: bool,
    /// Slack when judging a poll too fast (default 50 ms, capped at half the
    /// interval).
    pub poll_tolerance: Duration,
    /// Lifetime of a device code (default 10 minutes); `expires_in` is
    /// advertised in whole seconds, rounded up.
    pub expires_in: Duration,
    /// The paths to answer on.
    pub paths: DevicePaths,
    /// Known client IDs; empty (the default) accepts any. An unknown one is
    /// `invalid_client`.
    pub client_ids: Vec<String>,
    /// The prefix of issued API keys (default `sk_test_`).
    pub api_key_prefix: String,
    /// Issue exactly this API key instead of a random one (e.g.
    /// `sk_test_SENTINEL`).
    pub api_key: Option<String>,
    /// Use this user code instead of a random `XXXX-XXXX` one.
    pub user_code: Option<String>,
    /// A prefix for device codes (e.g. `DC-SENTINEL-`, to spot a client
    /// printing it); the random part keeps 256 bits.
    pub device_code_prefix: String,
    /// How long a [`DeviceReply::Hang`] holds a request open at most
    /// (default 30 s).
    pub hang_for: Duration,
    /// Routes served beside the device endpoints (e.g. a host API a CLI
    /// calls with the key it obtained); their requests are journaled too.
    pub extra: Option<Router>,
}

impl Default for DeviceServerConfig {
    fn default() -> Self {
        DeviceServerConfig {
            tls: None,
            port: 0,
            script: DeviceScript::default(),
            interval: Duration::from_secs(5),
            advertise_interval: true,
            slow_down_increment: Duration::from_secs(5),
            enforce_interval: true,
            poll_tolerance: Duration::from_millis(50),
            expires_in: Duration::from_secs(600),
            paths: DevicePaths::default(),
            client_ids: Vec::new(),
            api_key_prefix: "sk_test_".to_owned(),
            api_key: None,
            user_code: None,
            device_code_prefix: String::new(),
            hang_for: Duration::from_secs(30),
            extra: None,
        }
    }
}

/// One poll of an exchange endpoint, as the server judged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevicePoll {
    /// Which device authorization it polled: 1 for the first start, 2 for the
    /// second… (`None` for an unknown or missing device code).
    pub session: Option<u64>,
    /// Wall-clock arrival time.
    pub at: SystemTime,
    /// Arrival on the server's monotonic clock, since the server started.
    pub elapsed: Duration,
    /// Time since the previous poll of the same session, or since its start
    /// response for the first poll.
    pub since_previous: Option<Duration>,
    /// The interval in force when the poll arrived.
    pub interval: Duration,
    /// The interval in force after the answer (larger after `slow_down`).
    pub interval_after: Duration,
    /// Whether the poll came too fast (answered `slow_down` for that reason).
    pub too_fast: bool,
    /// The answer: an error code (`authorization_pending`, `slow_down`,
    /// `access_denied`, `expired_token`, `invalid_grant`, …) or
    /// `api_key_issued`.
    pub outcome: String,
    /// Whether the poll used the vendor exchange endpoint.
    pub vendor: bool,
    /// For a poll left unanswered ([`DeviceReply::Hang`]): how long after
    /// its arrival the client gave up on it (`None` while it is still open,
    /// and for answered polls).
    pub abandoned_after: Option<Duration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Pending,
    Denied,
    Expired,
    Issued,
}

#[derive(Clone, Debug)]
struct Session {
    id: u64,
    client_id: Option<String>,
    issued: Instant,
    expires: Instant,
    last_poll: Option<Instant>,
    interval: Duration,
    well_paced_polls: u32,
    status: Status,
}

#[derive(Default)]
struct Sessions {
    sessions: HashMap<String, Session>,
    next_id: u64,
    polls: Vec<DevicePoll>,
    issued_keys: Vec<String>,
}

struct Shared {
    base_url: String,
    config: DeviceServerConfig,
    state: Mutex<Sessions>,
    journal: Journal,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, Sessions> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(crate) fn whole_seconds_up(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).try_into().unwrap_or(u64::MAX)
}

/// A user code of 8 characters from the RFC 8628 §6.1 alphabet, `XXXX-XXXX`.
pub(crate) fn random_user_code() -> String {
    const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    let mut bytes = [0u8; 8];
    rand::fill(&mut bytes);
    let chars: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("{}-{}", &chars[..4], &chars[4..])
}

/// Parameters of a vendor request: JSON object, form, or nothing.
fn vendor_params(headers: &HeaderMap, body: &[u8]) -> Result<Form, OAuthError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Form::default());
    }
    if content_type_is(headers, "application/json") {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return Err(OAuthError::invalid_request(
                "the body must be a JSON object",
            ));
        };
        let pairs = map
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                Value::Null => None,
                other => Some((k, other.to_string())),
            })
            .collect();
        return Ok(Form::from_pairs(pairs));
    }
    form_body(headers, body)
}

fn start(shared: &Shared, form: &Form, rfc: bool) -> Result<Response, OAuthError> {
    let client_id = form.one("client_id")?;
    form.one("scope")?;
    if rfc && client_id.is_none() {
        return Err(OAuthError::invalid_request("missing parameter `client_id`"));
    }
    if let Some(id) = client_id
        && !shared.config.client_ids.is_empty()
        && !shared.config.client_ids.iter().any(|c| c == id)
    {
        return Err(OAuthError::invalid_client(format!("unknown client `{id}`")));
    }
    let config = &shared.config;
    let device_code = format!("{}{}", config.device_code_prefix, random_token(32));
    let user_code = config.user_code.clone().unwrap_or_else(random_user_code);
    let now = Instant::now();
    {
        let mut state = shared.state();
        state.next_id += 1;
        let id = state.next_id;
        state.sessions.insert(
            device_code.clone(),
            Session {
                id,
                client_id: client_id.map(str::to_owned),
                issued: now,
                expires: now + config.expires_in,
                last_poll: None,
                interval: config.interval,
                well_paced_polls: 0,
                status: Status::Pending,
            },
        );
    }
    let verification_uri = format!("{}{}", shared.base_url, config.paths.verification);
    let complete = {
        let encoded: String = url::form_urlencoded::byte_serialize(user_code.as_bytes()).collect();
        format!("{verification_uri}?user_code={encoded}")
    };
    let mut body = json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verification_uri,
        "verification_uri_complete": complete,
        "expires_in": whole_seconds_up(config.expires_in).max(1),
    });
    if config.advertise_interval {
        body["interval"] = Value::from(whole_seconds_up(config.interval));
    }
    Ok(json_no_store(
        StatusCode::OK,
        body,
        "device_authorization_issued",
    ))
}

enum PollResult {
    Issued(String),
    Error(OAuthError),
    Hang,
}

/// A poll's answer: now, or never (the index of its record in the polls).
enum Polled {
    Now(Response),
    Hang(usize),
}

/// The session a poll names, after checking the grant type, device code and client (RFC 8628 §3.4).
fn session_of<'a>(
    sessions: &'a mut HashMap<String, Session>,
    form: &Form,
    rfc: bool,
) -> Result<&'a mut Session, OAuthError> {
    match (rfc, form.one("grant_type")?) {
        (true, None) => {
            return Err(OAuthError::invalid_request(
                "missing parameter `grant_type`",
            ));
        }
        (_, Some(g)) if g != DEVICE_CODE_GRANT => {
            return Err(OAuthError::bad(
                "unsupported_grant_type",
                format!("grant_type `{g}` is not supported here (use {DEVICE_CODE_GRANT})"),
            ));
        }
        _ => {}
    }
    let Some(device_code) = form.one("device_code")? else {
        return Err(OAuthError::invalid_request(
            "missing parameter `device_code`",
        ));
    };
    let client_id = form.one("client_id")?;
    if rfc && client_id.is_none() {
        return Err(OAuthError::invalid_request("missing parameter `client_id`"));
    }
    let Some(session) = sessions.get_mut(device_code) else {
        return Err(OAuthError::invalid_grant("unknown device code"));
    };
    if let (Some(given), Some(issued_to)) = (client_id, session.client_id.as_deref())
        && given != issued_to
    {
        return Err(OAuthError::invalid_grant(
            "the device code was issued to another client",
        ));
    }
    if rfc && session.client_id.is_none() {
        // Started through the vendor endpoint without a client: accept
        // the RFC poll, binding it to that client from now on.
        session.client_id = client_id.map(str::to_owned);
    }
    Ok(session)
}

/// The answer to a poll of `session`: terminal states, expiry, pacing, then the script.
fn judge(
    config: &DeviceServerConfig,
    session: &mut Session,
    record: &mut DevicePoll,
    arrived: Instant,
) -> PollResult {
    let fail = PollResult::Error;
    record.session = Some(session.id);
    record.interval = session.interval;
    record.since_previous =
        Some(arrived.saturating_duration_since(session.last_poll.unwrap_or(session.issued)));
    match session.status {
        Status::Issued => {
            return fail(OAuthError::invalid_grant(
                "the device code was already exchanged",
            ));
        }
        Status::Denied => {
            return fail(OAuthError::bad(
                "access_denied",
                "the user denied the request",
            ));
        }
        Status::Expired => {
            return fail(OAuthError::bad(
                "expired_token",
                "the device code has expired",
            ));
        }
        Status::Pending => {}
    }
    if arrived >= session.expires {
        session.status = Status::Expired;
        return fail(OAuthError::bad(
            "expired_token",
            "the device code has expired",
        ));
    }
    let since = record.since_previous.unwrap_or_default();
    session.last_poll = Some(arrived);
    let tolerance = config.poll_tolerance.min(session.interval / 2);
    if config.enforce_interval && since + tolerance < session.interval {
        record.too_fast = true;
        session.interval += config.slow_down_increment;
        return fail(OAuthError::bad(
            "slow_down",
            format!(
                "polled {} ms after the previous request; the interval is now {} ms",
                since.as_millis(),
                session.interval.as_millis()
            ),
        ));
    }
    let k = session.well_paced_polls;
    session.well_paced_polls = k.saturating_add(1);
    scripted(config, session, k)
}

/// The scripted answer to the `k`-th well-paced poll of `session`.
fn scripted(config: &DeviceServerConfig, session: &mut Session, k: u32) -> PollResult {
    let fail = PollResult::Error;
    match config.script.reply(k) {
        DeviceReply::Pending => fail(OAuthError::bad(
            "authorization_pending",
            "the user has not yet approved the request",
        )),
        DeviceReply::SlowDown => {
            session.interval += config.slow_down_increment;
            fail(OAuthError::bad(
                "slow_down",
                format!("the interval is now {} ms", session.interval.as_millis()),
            ))
        }
        DeviceReply::Deny => {
            session.status = Status::Denied;
            fail(OAuthError::bad(
                "access_denied",
                "the user denied the request",
            ))
        }
        DeviceReply::Expire => {
            session.status = Status::Expired;
            fail(OAuthError::bad(
                "expired_token",
                "the device code has expired",
            ))
        }
        DeviceReply::ServerError => fail(OAuthError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "scripted server error",
        )),
        DeviceReply::Hang => PollResult::Hang,
        DeviceReply::Approve => {
            session.status = Status::Issued;
            let key = config
                .api_key
                .clone()
                .unwrap_or_else(|| format!("{}{}", config.api_key_prefix, random_token(24)));
            PollResult::Issued(key)
        }
    }
}

fn poll(shared: &Shared, form: &Form, rfc: bool, arrived: Instant, at: SystemTime) -> Polled {
    let config = &shared.config;
    let mut state = shared.state();
    let mut record = DevicePoll {
        session: None,
        at,
        elapsed: shared.journal.elapsed(arrived),
        since_previous: None,
        interval: Duration::ZERO,
        interval_after: Duration::ZERO,
        too_fast: false,
        outcome: String::new(),
        vendor: !rfc,
        abandoned_after: None,
    };
    let result = match session_of(&mut state.sessions, form, rfc) {
        Ok(session) => judge(config, session, &mut record, arrived),
        Err(e) => PollResult::Error(e),
    };
    if let Some(id) = record.session
        && let Some(session) = state.sessions.values().find(|s| s.id == id)
    {
        record.interval_after = session.interval;
    }
    let response = match result {
        PollResult::Issued(key) => {
            state.issued_keys.push(key.clone());
            record.outcome = "api_key_issued".to_owned();
            let body = if rfc {
                json!({"access_token": key, "token_type": "Bearer"})
            } else {
                json!({"api_key": key, "token_type": "api_key"})
            };
            Polled::Now(json_no_store(StatusCode::OK, body, "api_key_issued"))
        }
        PollResult::Error(error) => {
            record.outcome = error.error.to_owned();
            Polled::Now(error.into_response())
        }
        PollResult::Hang => {
            record.outcome = "no_response".to_owned();
            Polled::Hang(state.polls.len())
        }
    };
    state.polls.push(record);
    response
}

/// Records when the client gave up on an unanswered poll: on drop (hyper drops
/// the handler when the connection closes), or when the hang ends.
struct Abandon {
    shared: Arc<Shared>,
    index: usize,
    arrived: Instant,
}

impl Drop for Abandon {
    fn drop(&mut self) {
        let after = self.arrived.elapsed();
        if let Some(p) = self.shared.state().polls.get_mut(self.index) {
            p.abandoned_after.get_or_insert(after);
        }
    }
}

/// Sends a poll's answer, or holds the request open for a scripted hang.
async fn answer(shared: Arc<Shared>, polled: Polled, arrived: Instant) -> Response {
    match polled {
        Polled::Now(response) => response,
        Polled::Hang(index) => {
            let hang_for = shared.config.hang_for;
            let _abandon = Abandon {
                shared,
                index,
                arrived,
            };
            tokio::time::sleep(hang_for).await;
            OAuthError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "temporarily_unavailable",
                "scripted hang ended",
            )
            .into_response()
        }
    }
}

async fn rfc_start(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    form_body(&headers, &body)
        .and_then(|form| start(&shared, &form, true))
        .unwrap_or_else(IntoResponse::into_response)
}

async fn vendor_start(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    vendor_params(&headers, &body)
        .and_then(|form| start(&shared, &form, false))
        .unwrap_or_else(IntoResponse::into_response)
}

async fn rfc_token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let (arrived, at) = (Instant::now(), SystemTime::now());
    match form_body(&headers, &body) {
        Ok(form) => {
            let polled = poll(&shared, &form, true, arrived, at);
            answer(shared, polled, arrived).await
        }
        Err(e) => e.into_response(),
    }
}

async fn vendor_exchange(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (arrived, at) = (Instant::now(), SystemTime::now());
    match vendor_params(&headers, &body) {
        Ok(form) => {
            let polled = poll(&shared, &form, false, arrived, at);
            answer(shared, polled, arrived).await
        }
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn verification_page(RawQuery(query): RawQuery) -> Response {
    let form = Form::parse(query.unwrap_or_default().as_bytes());
    let code = form.one("user_code").ok().flatten().unwrap_or("");
    let text = if code.is_empty() {
        "Enter the code shown on your device. (authconform mock: approval is scripted.)".to_owned()
    } else {
        format!(
            "Confirm the code {code} shown on your device. (authconform mock: approval is scripted.)"
        )
    };
    html_page(StatusCode::OK, "Device login", &text, "verification_page")
}

async fn not_found() -> Response {
    OAuthError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint").into_response()
}

/// Mock device-flow server (RFC 8628 and the Peel vendor shape): see the
/// [module documentation](self). Shuts down when dropped.
pub struct MockDeviceServer {
    server: RunningServer,
    shared: Arc<Shared>,
}

impl fmt::Debug for MockDeviceServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockDeviceServer")
            .field("base_url", &self.shared.base_url)
            .field("script", &self.shared.config.script)
            .finish_non_exhaustive()
    }
}

impl MockDeviceServer {
    /// Bind `127.0.0.1:{config.port}` and start serving.
    ///
    /// Fails when the port cannot be bound or two endpoints share a path.
    /// Must be called within a Tokio runtime.
    pub async fn start(config: DeviceServerConfig) -> anyhow::Result<MockDeviceServer> {
        let paths = &config.paths;
        let all = [
            &paths.authorization,
            &paths.token,
            &paths.vendor_start,
            &paths.vendor_exchange,
            &paths.verification,
        ];
        for (i, path) in all.iter().enumerate() {
            if !path.starts_with('/') {
                anyhow::bail!("device path `{path}` must start with `/`");
            }
            if all[..i].contains(path) {
                anyhow::bail!("device path `{path}` is used twice");
            }
        }
        let listener = bind_localhost(config.port)?;
        let addr = listener.local_addr()?;
        let base_url = base_url_for(addr, config.tls.is_some());
        let tls = config.tls.clone();
        let shared = Arc::new(Shared {
            base_url,
            config,
            state: Mutex::new(Sessions::default()),
            journal: Journal::new(),
        });
        let p = &shared.config.paths;
        let device = Router::new()
            .route(&p.authorization, post(rfc_start))
            .route(&p.token, post(rfc_token))
            .route(&p.vendor_start, post(vendor_start))
            .route(&p.vendor_exchange, post(vendor_exchange))
            .route(&p.verification, get(verification_page));
        let device = match &shared.config.extra {
            Some(extra) => device.fallback_service(extra.clone()),
            None => device.fallback(not_found),
        };
        let router =
            device
                .with_state(Arc::clone(&shared))
                .layer(axum::middleware::from_fn_with_state(
                    shared.journal.clone(),
                    journal::record,
                ));
        let server = RunningServer::from_listener(listener, router, tls)?;
        Ok(MockDeviceServer { server, shared })
    }

    /// The base URL, `http://127.0.0.1:PORT` or `https://…`, no trailing
    /// slash.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The bound address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr()
    }

    /// `{base_url}{paths.authorization}`.
    pub fn device_authorization_url(&self) -> String {
        format!(
            "{}{}",
            self.shared.base_url, self.shared.config.paths.authorization
        )
    }

    /// `{base_url}{paths.token}`.
    pub fn token_url(&self) -> String {
        format!("{}{}", self.shared.base_url, self.shared.config.paths.token)
    }

    /// `{base_url}{paths.vendor_start}`.
    pub fn start_url(&self) -> String {
        format!(
            "{}{}",
            self.shared.base_url, self.shared.config.paths.vendor_start
        )
    }

    /// `{base_url}{paths.vendor_exchange}`.
    pub fn exchange_url(&self) -> String {
        format!(
            "{}{}",
            self.shared.base_url, self.shared.config.paths.vendor_exchange
        )
    }

    /// The paths of both start endpoints (RFC 8628 and vendor).
    pub fn start_paths(&self) -> [&str; 2] {
        let p = &self.shared.config.paths;
        [&p.authorization, &p.vendor_start]
    }

    /// Every poll so far, in arrival order.
    pub fn polls(&self) -> Vec<DevicePoll> {
        self.shared.state().polls.clone()
    }

    /// Every API key issued so far (a test needs them to check the client
    /// stores and uses its key; never print them).
    pub fn issued_api_keys(&self) -> Vec<String> {
        self.shared.state().issued_keys.clone()
    }

    /// Every request received so far, secrets (`device_code`, keys)
    /// redacted.
    pub fn journal(&self) -> Vec<RequestRecord> {
        self.shared.journal.snapshot()
    }

    pub(crate) fn journal_tail(&self, from: usize) -> Vec<RequestRecord> {
        self.shared.journal.tail(from)
    }
}
