//! The device-authorization host (Peel's vendor shape of RFC 8628), on the
//! REST listener:
//! - `POST /public/device/start` (no credential; JSON or form body with an
//!   optional `client_id`) → 200 `{device_code, user_code, verification_uri,
//!   verification_uri_complete, expires_in, interval}`;
//! - `POST /public/device/exchange` `{device_code}` → 400
//!   `{"error": "authorization_pending" | "slow_down" | "access_denied" |
//!   "expired_token" | "invalid_grant" | "invalid_request"}`, or on approval
//!   200 `{"api_key"}` (a new developer secret key of the approving user's
//!   organisation), once;
//! - `POST /public/device/approve` `{user_code, decision: "approve"|"deny"}`,
//!   the stand-in for the signed-in first-party app: a user token as
//!   `Authorization: Bearer` (401 without a valid credential, 403 for keys),
//!   and at most 5 wrong user codes per caller within the code lifetime (then
//!   429).
//!
//! Every response carries `Cache-Control: no-store` (the key response lacks
//! it under the `cacheable-key` fault).

mod codes;
mod table;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::faults::Fault;
use crate::rest::Rest;
pub(crate) use table::Devices;
use table::{Approval, Exchange};

/// Default polling interval, in seconds.
pub const DEFAULT_INTERVAL: u64 = 5;
/// Default lifetime of a device code, in seconds.
pub const DEFAULT_EXPIRES: u64 = 600;
/// Default verification URI (the first-party app's device page).
pub const DEFAULT_VERIFICATION_URI: &str = "https://app.authconform.test/device";
/// Wrong user codes a caller may submit within the code lifetime.
pub(crate) const WRONG_CODE_LIMIT: usize = 5;

/// Command-line arguments of the device-authorization host.
#[derive(clap::Args, Debug, Clone)]
pub struct DeviceArgs {
    /// Polling interval announced by POST /public/device/start, in seconds (at least 1)
    #[arg(long = "device-interval", value_name = "SECONDS", default_value_t = DEFAULT_INTERVAL,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub interval: u64,
    /// Lifetime of device codes (and the window of the user-code rate limit), in seconds (at least 1)
    #[arg(long = "device-expires", value_name = "SECONDS", default_value_t = DEFAULT_EXPIRES,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub expires: u64,
    /// verification_uri announced by POST /public/device/start
    #[arg(long = "device-verification-uri", value_name = "URI", default_value = DEFAULT_VERIFICATION_URI)]
    pub verification_uri: String,
}

impl Default for DeviceArgs {
    fn default() -> Self {
        Self {
            interval: DEFAULT_INTERVAL,
            expires: DEFAULT_EXPIRES,
            verification_uri: DEFAULT_VERIFICATION_URI.to_owned(),
        }
    }
}

/// `status` with a JSON body and `Cache-Control: no-store`.
fn respond(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 400 `{"error": code}`.
fn error(code: &str) -> Response {
    respond(StatusCode::BAD_REQUEST, json!({ "error": code }))
}

/// The string fields of a JSON object or form body (`None`: not one of them,
/// or a field that is not a string). An empty body has no fields.
fn fields(headers: &HeaderMap, body: &[u8]) -> Option<HashMap<String, String>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(HashMap::new());
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if form {
        return Some(url::form_urlencoded::parse(body).into_owned().collect());
    }
    let Value::Object(map) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    map.into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v {
            Value::String(s) => Some((k, s)),
            _ => None,
        })
        .collect()
}

/// `POST /public/device/start`.
pub(crate) async fn start(
    State(rest): State<Arc<Rest>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(fields) = fields(&headers, &body) else {
        return error("invalid_request");
    };
    let devices = rest.devices();
    let guessable = rest.faults().has(Fault::GuessableDeviceCodes);
    let started = devices.start_with(fields.get("client_id").cloned(), Instant::now(), guessable);
    let uri = &devices.verification_uri;
    let separator = if uri.contains('?') { '&' } else { '?' };
    let mut body = json!({
        "device_code": started.device_code,
        "user_code": started.user_code,
        "verification_uri": uri,
        "verification_uri_complete": format!("{uri}{separator}user_code={}", started.user_code),
        "expires_in": devices.expires.as_secs(),
        "interval": devices.interval,
    });
    if rest.faults().has(crate::faults::Fault::StartWithoutExpiry)
        && let Some(o) = body.as_object_mut()
    {
        o.remove("expires_in");
    }
    respond(StatusCode::OK, body)
}

/// `POST /public/device/exchange`.
pub(crate) async fn exchange(
    State(rest): State<Arc<Rest>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(fields) = fields(&headers, &body) else {
        return error("invalid_request");
    };
    let code = fields.get("device_code").map(String::as_str).unwrap_or("");
    if code.is_empty() {
        return error("invalid_request");
    }
    let client_id = fields.get("client_id").map(String::as_str);
    let outcome = rest
        .devices()
        .exchange(code, client_id, Instant::now(), rest.faults());
    match outcome {
        Exchange::Error(code) => error(code),
        Exchange::Mint { org, user } => {
            let key = rest.mint_device_key(&org, &user);
            let mut response = respond(StatusCode::OK, json!({ "api_key": key }));
            if rest.faults().has(Fault::CacheableKey) {
                response.headers_mut().remove(header::CACHE_CONTROL);
            }
            response
        }
    }
}

/// `POST /public/device/approve`.
pub(crate) async fn approve(
    State(rest): State<Arc<Rest>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (user, org) = match rest.device_approver(&headers) {
        Ok(approver) => approver,
        Err(refusal) => {
            let mut refusal = *refusal;
            refusal
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            return refusal;
        }
    };
    let devices = rest.devices();
    let now = Instant::now();
    let limited = !rest.faults().has(Fault::NoRateLimit);
    if limited && let Some(wait) = devices.locked_out(&user, now) {
        let mut response = respond(
            StatusCode::TOO_MANY_REQUESTS,
            json!({ "error": "too_many_attempts" }),
        );
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        return response;
    }
    let Some(fields) = fields(&headers, &body) else {
        return error("invalid_request");
    };
    let approve = match fields.get("decision").map(String::as_str) {
        Some("approve") => true,
        Some("deny") => false,
        _ => return error("invalid_request"),
    };
    let Some(user_code) = fields.get("user_code") else {
        return error("invalid_request");
    };
    let late_ok = rest.faults().has(Fault::HonourExpiredCodes);
    match devices.decide_at(user_code, approve, (&user, &org), now, late_ok) {
        Approval::Done => respond(
            StatusCode::OK,
            json!({ "status": if approve { "approved" } else { "denied" } }),
        ),
        Approval::Unknown => error("invalid_user_code"),
        Approval::Expired => error("expired_token"),
        Approval::Decided => respond(StatusCode::CONFLICT, json!({ "error": "already_decided" })),
    }
}

/// `Duration` of whole seconds.
fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}
