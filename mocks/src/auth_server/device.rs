//! RFC 8628 on the authorization server: `POST /device_authorization`, the
//! device-code grant at `POST /token`, and the scripted user behind them.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::token::{Caller, authenticate};
use super::{Family, Grants, Issued, Refresh, Shared};
use crate::device::{
    DEVICE_CODE_GRANT, DevicePoll, DeviceReply, DeviceScript, random_user_code, whole_seconds_up,
};
use crate::oauth::{Form, OAuthError, form_body, json_no_store, random_token};

/// The authorization server's device flow (RFC 8628): timing and the
/// scripted user. Build it with `..Default::default()`.
///
/// The scripted user ([`Self::script`]) answers well-paced polls of a device
/// code that the harness has not decided; [`crate::MockAuthServer::approve_user_code`],
/// [`crate::MockAuthServer::deny_user_code`] and
/// [`crate::MockAuthServer::expire_user_code`] decide a code directly, and
/// then the script no longer applies to it.
#[derive(Clone, Debug)]
pub struct DeviceFlowConfig {
    /// What the scripted user does, counted in well-paced polls of one device
    /// code (default: approve after one `authorization_pending`). Use
    /// [`DeviceScript::Pending`] to leave every decision to the approve / deny
    /// / expire methods.
    pub script: DeviceScript,
    /// The polling interval the server enforces (default 5 s); advertised as
    /// `interval` in whole seconds, rounded up.
    pub interval: Duration,
    /// Whether to advertise `interval` (default true; without it clients
    /// must use 5 s).
    pub advertise_interval: bool,
    /// How much each `slow_down` adds to a code's interval (default 5 s,
    /// RFC 8628 §3.5).
    pub slow_down_increment: Duration,
    /// Whether polls faster than the interval get `slow_down` (default
    /// true).
    pub enforce_interval: bool,
    /// Slack when judging a poll too fast (default 50 ms, capped at half the
    /// interval).
    pub poll_tolerance: Duration,
    /// Lifetime of a device code (default 10 minutes); advertised as
    /// `expires_in` in whole seconds, rounded up.
    pub expires_in: Duration,
    /// Use this user code instead of a random `XXXX-XXXX` one.
    pub user_code: Option<String>,
    /// A prefix for device codes (e.g. `DC-SENTINEL-`); the random part keeps
    /// 256 bits.
    pub device_code_prefix: String,
}

impl Default for DeviceFlowConfig {
    fn default() -> Self {
        DeviceFlowConfig {
            script: DeviceScript::default(),
            interval: Duration::from_secs(5),
            advertise_interval: true,
            slow_down_increment: Duration::from_secs(5),
            enforce_interval: true,
            poll_tolerance: Duration::from_millis(50),
            expires_in: Duration::from_secs(600),
            user_code: None,
            device_code_prefix: String::new(),
        }
    }
}

/// Why a user code could not be approved, denied or expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserCodeError {
    /// No device authorization has this user code.
    Unknown,
    /// The device code has expired (by time or by script); it stays
    /// `expired_token`.
    Expired,
    /// The device authorization is already decided otherwise (denied,
    /// approved, or its token issued).
    Concluded,
}

impl fmt::Display for UserCodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UserCodeError::Unknown => "unknown user code",
            UserCodeError::Expired => "the device code has expired",
            UserCodeError::Concluded => "the device authorization is already decided",
        })
    }
}

impl std::error::Error for UserCodeError {}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum DeviceStatus {
    Pending,
    Approved { subject: String },
    Denied,
    Expired,
    Issued,
}

#[derive(Clone, Debug)]
pub(super) struct DeviceSession {
    id: u64,
    client_id: String,
    user_code: String,
    scope: String,
    resources: Vec<String>,
    issued: Instant,
    expires: Instant,
    last_poll: Option<Instant>,
    interval: Duration,
    well_paced_polls: u32,
    status: DeviceStatus,
}

#[derive(Default)]
pub(super) struct DeviceSessions {
    by_code: HashMap<String, DeviceSession>,
    next_id: u64,
    pub(super) polls: Vec<DevicePoll>,
}

/// `ABCD-EFGH`, `abcdefgh` and `abcd efgh` are the same code (RFC 8628 §6.1).
fn normalize_user_code(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

impl DeviceSessions {
    /// The latest session with this user code.
    fn by_user_code(&mut self, user_code: &str) -> Option<&mut DeviceSession> {
        let wanted = normalize_user_code(user_code);
        self.by_code
            .values_mut()
            .filter(|s| normalize_user_code(&s.user_code) == wanted)
            .max_by_key(|s| s.id)
    }

    fn user_code_in_use(&self, user_code: &str, now: Instant) -> bool {
        self.by_code
            .values()
            .any(|s| s.user_code == user_code && now < s.expires)
    }

    /// Every user code issued, oldest first.
    pub(super) fn user_codes(&self) -> Vec<String> {
        let mut sessions: Vec<&DeviceSession> = self.by_code.values().collect();
        sessions.sort_by_key(|s| s.id);
        sessions.iter().map(|s| s.user_code.clone()).collect()
    }

    /// What the harness (as the user) decides for `user_code`.
    pub(super) fn decide(
        &mut self,
        user_code: &str,
        decision: DeviceStatus,
    ) -> Result<(), UserCodeError> {
        let now = Instant::now();
        let session = self.by_user_code(user_code).ok_or(UserCodeError::Unknown)?;
        if session.status == DeviceStatus::Pending && now >= session.expires {
            session.status = DeviceStatus::Expired;
        }
        match (&session.status, &decision) {
            (DeviceStatus::Issued, _) => Err(UserCodeError::Concluded),
            (DeviceStatus::Expired, DeviceStatus::Expired) => Ok(()),
            (DeviceStatus::Expired, _) => Err(UserCodeError::Expired),
            (_, DeviceStatus::Expired) | (DeviceStatus::Pending, _) => {
                session.status = decision;
                Ok(())
            }
            (current, wanted) if current == wanted => Ok(()),
            _ => Err(UserCodeError::Concluded),
        }
    }
}

pub(super) async fn device_authorization(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    start(&shared, &headers, &body).unwrap_or_else(IntoResponse::into_response)
}

fn start(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
    let form = form_body(headers, body)?;
    if form.one("client_id")?.is_none() && !headers.contains_key(header::AUTHORIZATION) {
        return Err(OAuthError::invalid_request("missing parameter `client_id`"));
    }
    let config = &shared.device;
    let mut grants = shared.grants();
    let caller = authenticate(&grants, headers, &form)?;
    caller.client.require_grant(DEVICE_CODE_GRANT)?;
    let scope = match form.one("scope")? {
        Some(scope) if !shared.scope_allowed(scope) => {
            return Err(OAuthError::bad(
                "invalid_scope",
                format!("scope `{scope}` is not within scopes_supported"),
            ));
        }
        Some(scope) => scope.to_owned(),
        None => shared.scopes_supported.join(" "),
    };
    let resources = shared.requested_resources(&form, &[])?;
    let now = Instant::now();
    let device_code = format!("{}{}", config.device_code_prefix, random_token(32));
    let user_code = match &config.user_code {
        Some(code) => code.clone(),
        None => loop {
            let code = random_user_code();
            if !grants.device.user_code_in_use(&code, now) {
                break code;
            }
        },
    };
    let sessions = &mut grants.device;
    sessions.next_id += 1;
    let id = sessions.next_id;
    sessions.by_code.insert(
        device_code.clone(),
        DeviceSession {
            id,
            client_id: caller.client_id.clone(),
            user_code: user_code.clone(),
            scope,
            resources,
            issued: now,
            expires: now + config.expires_in,
            last_poll: None,
            interval: config.interval,
            well_paced_polls: 0,
            status: DeviceStatus::Pending,
        },
    );
    drop(grants);
    let verification_uri = format!("{}/device", shared.issuer);
    let encoded: String = url::form_urlencoded::byte_serialize(user_code.as_bytes()).collect();
    let mut body = json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verification_uri,
        "verification_uri_complete": format!("{verification_uri}?user_code={encoded}"),
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

/// When a poll arrived.
#[derive(Clone, Copy, Debug)]
pub(super) struct Arrival {
    pub(super) instant: Instant,
    pub(super) at: SystemTime,
}

fn expired() -> OAuthError {
    OAuthError::bad("expired_token", "the device code has expired")
}

fn denied() -> OAuthError {
    OAuthError::bad("access_denied", "the user denied the request")
}

/// The device-code grant (RFC 8628 §3.4, §3.5). Every poll that names a
/// device code is recorded in [`DeviceSessions::polls`].
pub(super) fn device_code(
    shared: &Shared,
    grants: &mut Grants,
    form: &Form,
    caller: &Caller,
    arrival: Arrival,
) -> Result<Issued, OAuthError> {
    caller.client.require_grant(DEVICE_CODE_GRANT)?;
    let presented = form.required("device_code")?;
    let mut record = new_poll_record(shared, arrival);
    let decided = decide_poll(shared, grants, presented, caller, arrival, &mut record);
    let issued = decided.and_then(|(subject, session)| {
        issue_tokens(shared, grants, form, caller, subject, &session)
    });
    record.outcome = match &issued {
        Ok(_) => "token_issued".to_owned(),
        Err(e) => e.error.to_owned(),
    };
    grants.device.polls.push(record);
    issued
}

/// A poll record with only its arrival filled in.
fn new_poll_record(shared: &Shared, arrival: Arrival) -> DevicePoll {
    DevicePoll {
        session: None,
        at: arrival.at,
        elapsed: shared.journal.elapsed(arrival.instant),
        since_previous: None,
        interval: Duration::ZERO,
        interval_after: Duration::ZERO,
        too_fast: false,
        outcome: String::new(),
        vendor: false,
        abandoned_after: None,
    }
}

/// Find the presented device code's session, judge the poll, and on
/// approval mark the session issued; returns the subject and the session.
fn decide_poll(
    shared: &Shared,
    grants: &mut Grants,
    presented: &str,
    caller: &Caller,
    arrival: Arrival,
    record: &mut DevicePoll,
) -> Result<(String, DeviceSession), OAuthError> {
    let Some(session) = grants.device.by_code.get_mut(presented) else {
        return Err(OAuthError::invalid_grant("unknown device code"));
    };
    if session.client_id != caller.client_id {
        return Err(OAuthError::invalid_grant(
            "the device code was issued to another client",
        ));
    }
    record.session = Some(session.id);
    record.interval = session.interval;
    let since = arrival
        .instant
        .saturating_duration_since(session.last_poll.unwrap_or(session.issued));
    record.since_previous = Some(since);
    let result = poll_session(shared, session, arrival, since, record);
    record.interval_after = session.interval;
    let subject = result?;
    session.status = DeviceStatus::Issued;
    Ok((subject, session.clone()))
}

/// Judge one poll of a session: its status, its expiry, its pace, then the
/// harness's decision or the scripted user. Returns the approving subject.
fn poll_session(
    shared: &Shared,
    session: &mut DeviceSession,
    arrival: Arrival,
    since: Duration,
    record: &mut DevicePoll,
) -> Result<String, OAuthError> {
    check_pollable(session, arrival)?;
    session.last_poll = Some(arrival.instant);
    check_pace(&shared.device, session, since, record)?;
    let k = session.well_paced_polls;
    session.well_paced_polls = k.saturating_add(1);
    if let DeviceStatus::Approved { subject } = &session.status {
        return Ok(subject.clone());
    }
    scripted_reply(shared, session, k)
}

/// Refuse a poll of a session that is already concluded or has expired
/// (marking it expired).
fn check_pollable(session: &mut DeviceSession, arrival: Arrival) -> Result<(), OAuthError> {
    match session.status {
        DeviceStatus::Issued => {
            return Err(OAuthError::invalid_grant(
                "the device code was already exchanged",
            ));
        }
        DeviceStatus::Denied => return Err(denied()),
        DeviceStatus::Expired => return Err(expired()),
        DeviceStatus::Pending | DeviceStatus::Approved { .. } => {}
    }
    if arrival.instant >= session.expires {
        session.status = DeviceStatus::Expired;
        return Err(expired());
    }
    Ok(())
}

/// With the interval enforced, answer a poll that came too soon with
/// `slow_down` and lengthen the session's interval.
fn check_pace(
    config: &DeviceFlowConfig,
    session: &mut DeviceSession,
    since: Duration,
    record: &mut DevicePoll,
) -> Result<(), OAuthError> {
    let tolerance = config.poll_tolerance.min(session.interval / 2);
    if config.enforce_interval && since + tolerance < session.interval {
        record.too_fast = true;
        session.interval += config.slow_down_increment;
        return Err(OAuthError::bad(
            "slow_down",
            format!(
                "polled {} ms after the previous request; the interval is now {} ms",
                since.as_millis(),
                session.interval.as_millis()
            ),
        ));
    }
    Ok(())
}

/// What the scripted user answers to the `k`-th well-paced poll.
fn scripted_reply(
    shared: &Shared,
    session: &mut DeviceSession,
    k: u32,
) -> Result<String, OAuthError> {
    let config = &shared.device;
    match config.script.reply(k) {
        DeviceReply::Pending => Err(OAuthError::bad(
            "authorization_pending",
            "the user has not yet approved the request",
        )),
        DeviceReply::SlowDown => {
            session.interval += config.slow_down_increment;
            Err(OAuthError::bad(
                "slow_down",
                format!("the interval is now {} ms", session.interval.as_millis()),
            ))
        }
        DeviceReply::Deny => {
            session.status = DeviceStatus::Denied;
            Err(denied())
        }
        DeviceReply::Expire => {
            session.status = DeviceStatus::Expired;
            Err(expired())
        }
        DeviceReply::ServerError => Err(OAuthError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "scripted server error",
        )),
        DeviceReply::Approve => Ok(shared.subject.clone()),
        // The authorization server answers every poll; a hang is scripted on the
        // device server only, so here it is still pending.
        DeviceReply::Hang => Err(OAuthError::bad(
            "authorization_pending",
            "the user has not yet approved the request",
        )),
    }
}

/// Issue the access token (and, when the client may refresh, a refresh
/// token) for an approved device authorization.
fn issue_tokens(
    shared: &Shared,
    grants: &mut Grants,
    form: &Form,
    caller: &Caller,
    subject: String,
    session: &DeviceSession,
) -> Result<Issued, OAuthError> {
    let resources = shared.requested_resources(form, &session.resources)?;
    let resources = if resources.is_empty() {
        session.resources.clone()
    } else {
        resources
    };
    let family = grants.new_family(Family {
        client_id: caller.client_id.clone(),
        subject,
        scope: session.scope.clone(),
        resources: resources.clone(),
        revoked: false,
        jtis: Vec::new(),
    });
    let mut issued = shared.access_token_claims(grants, family, &session.scope, &resources)?;
    issued.refresh_token = caller.client.allows("refresh_token").then(|| {
        let rt = random_token(32);
        grants.refresh.insert(
            rt.clone(),
            Refresh {
                family,
                superseded: false,
            },
        );
        rt
    });
    Ok(issued)
}
