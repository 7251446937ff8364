//! The device flow (RFC 8628) against the vendor host: `POST /public/device/start`,
//! then `POST /public/device/exchange` polls, waiting `interval` before every poll
//! (5 s by default, +5 s per `slow_down`, doubled after a request timeout) and
//! stopping on any other error, on a 5xx, and at `expires_in`.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use super::CliError;
use super::host::{HostClient, SendError};
use crate::faults::{Fault, Faults};

/// The `client_id` the CLI presents.
pub(crate) const CLIENT_ID: &str = "authconform-cli";
/// Interval when the start response has none (RFC 8628 §3.2).
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// What each `slow_down` adds (RFC 8628 §3.5).
pub(crate) const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Message when the code expired.
pub(crate) const EXPIRED: &str = "the code expired; run `auth login` again";
/// Message when the user denied the request.
pub(crate) const DENIED: &str = "sign-in was denied";

/// The polling faults that change the schedule or the reading of replies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Rules {
    /// `poll-too-fast`: wait half the interval.
    pub(crate) poll_too_fast: bool,
    /// `ignore-slow-down`: `slow_down` does not grow the interval.
    pub(crate) ignore_slow_down: bool,
    /// `no-default-interval`: 1 s when `interval` is absent.
    pub(crate) no_default_interval: bool,
    /// `no-backoff`: the same interval after a timeout.
    pub(crate) no_backoff: bool,
    /// `continue-after-denied`: `access_denied` is read as pending.
    pub(crate) continue_after_denied: bool,
    /// `retry-on-server-error`: a 5xx is read as pending.
    pub(crate) retry_on_server_error: bool,
}

impl Rules {
    /// The rules the active faults give.
    pub(crate) fn from_faults(faults: &Faults) -> Self {
        Self {
            poll_too_fast: faults.has(Fault::PollTooFast),
            ignore_slow_down: faults.has(Fault::IgnoreSlowDown),
            no_default_interval: faults.has(Fault::NoDefaultInterval),
            no_backoff: faults.has(Fault::NoBackoff),
            continue_after_denied: faults.has(Fault::ContinueAfterDenied),
            retry_on_server_error: faults.has(Fault::RetryOnServerError),
        }
    }
}

/// A poll outcome that means "poll again".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// `authorization_pending`.
    Pending,
    /// `slow_down`.
    SlowDown,
    /// The request timed out.
    TimedOut,
}

/// The first interval: the announced one (at least 1 s), else 5 s.
pub(crate) fn initial_interval(announced: Option<u64>, rules: Rules) -> Duration {
    match announced {
        Some(secs) => Duration::from_secs(secs.max(1)),
        None if rules.no_default_interval => Duration::from_secs(1),
        None => DEFAULT_INTERVAL,
    }
}

/// The interval after `event`: unchanged when pending, +5 s on `slow_down`,
/// doubled (at least +1 s) after a timeout.
pub(crate) fn next_interval(current: Duration, event: Event, rules: Rules) -> Duration {
    match event {
        Event::Pending => current,
        Event::SlowDown if rules.ignore_slow_down => current,
        Event::SlowDown => current + SLOW_DOWN_STEP,
        Event::TimedOut if rules.no_backoff => current,
        Event::TimedOut => (current * 2).max(current + Duration::from_secs(1)),
    }
}

/// How long to wait before the next poll.
pub(crate) fn wait_before_poll(interval: Duration, rules: Rules) -> Duration {
    if rules.poll_too_fast {
        interval / 2
    } else {
        interval
    }
}

/// Why polling stopped without a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    /// `access_denied`.
    Denied,
    /// `expired_token`, or `expires_in` has passed.
    Expired,
    /// Any other failure (error code, 5xx, network), with its message.
    Failed(CliError),
}

impl From<Stop> for CliError {
    fn from(stop: Stop) -> Self {
        match stop {
            Stop::Denied => CliError::failure(DENIED),
            Stop::Expired => CliError::failure(EXPIRED),
            Stop::Failed(e) => e,
        }
    }
}

/// What one exchange answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Signed in with this key.
    Approved(String),
    /// Poll again.
    Again(Event),
    /// Stop polling.
    Stop(Stop),
}

/// Reads an exchange answer (`status`, `body`).
pub(crate) fn classify(status: u16, body: &str, rules: Rules) -> Verdict {
    let json: Option<Value> = serde_json::from_str(body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|j| j.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if (200..300).contains(&status) {
        return match field("api_key").or_else(|| field("access_token")) {
            Some(key) if !key.is_empty() => Verdict::Approved(key),
            _ => Verdict::Stop(Stop::Failed(CliError::failure(
                "sign-in failed: the host's answer carried no key; run `auth login` again",
            ))),
        };
    }
    if status >= 500 && rules.retry_on_server_error {
        return Verdict::Again(Event::Pending);
    }
    if status >= 500 {
        return Verdict::Stop(Stop::Failed(CliError::failure(format!(
            "sign-in failed: the host answered {status}; run `auth login` again"
        ))));
    }
    match field("error").as_deref() {
        Some("authorization_pending") => Verdict::Again(Event::Pending),
        Some("slow_down") => Verdict::Again(Event::SlowDown),
        Some("access_denied") if rules.continue_after_denied => Verdict::Again(Event::Pending),
        Some("access_denied") => Verdict::Stop(Stop::Denied),
        Some("expired_token") => Verdict::Stop(Stop::Expired),
        Some(other) => Verdict::Stop(Stop::Failed(CliError::failure(format!(
            "sign-in failed: the host answered {status} {other}; run `auth login` again"
        )))),
        None => Verdict::Stop(Stop::Failed(CliError::failure(format!(
            "sign-in failed: the host answered {status}; run `auth login` again"
        )))),
    }
}

/// The start response (RFC 8628 §3.2), and when it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    /// The device code (never shown).
    pub(crate) device_code: String,
    /// The code the user enters.
    pub(crate) user_code: String,
    /// Where the user enters it.
    pub(crate) verification_uri: String,
    /// The URI that carries the user code, if given.
    pub(crate) verification_uri_complete: Option<String>,
    /// Lifetime of the codes, in seconds, if given.
    pub(crate) expires_in: Option<u64>,
    /// Polling interval, in seconds, if given.
    pub(crate) interval: Option<u64>,
    /// When the start response arrived.
    pub(crate) received: Instant,
}

/// A number of seconds: an integer, a float (rounded up) or a numeric string.
fn seconds(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f.ceil() as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Parses a start response body.
pub(crate) fn parse_grant(body: &Value, received: Instant) -> Result<Grant, CliError> {
    let text = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let required = |name: &str| {
        text(name)
            .ok_or_else(|| CliError::failure(format!("the host's sign-in answer lacks {name}")))
    };
    Ok(Grant {
        device_code: required("device_code")?,
        user_code: required("user_code")?,
        verification_uri: required("verification_uri")?,
        verification_uri_complete: text("verification_uri_complete"),
        expires_in: seconds(body.get("expires_in")),
        interval: seconds(body.get("interval")),
        received,
    })
}

/// `POST /public/device/start`.
pub(crate) async fn start(host: &HostClient) -> Result<Grant, CliError> {
    let url = host.url(&["public", "device", "start"]);
    let body = json!({ "client_id": CLIENT_ID });
    let answer = host.send(Method::POST, url, Some(&body), None, &[]).await?;
    let received = Instant::now();
    if !answer.is_success() {
        return Err(CliError::failure(format!(
            "the host refused to start sign-in (HTTP {})",
            answer.status
        )));
    }
    let json = answer
        .json()
        .ok_or_else(|| CliError::failure("the host's sign-in answer is not JSON"))?;
    parse_grant(&json, received)
}

/// Prints the sign-in instructions (never the device code, unless `print_device_code`).
pub(crate) fn show(grant: &Grant, print_device_code: bool) {
    println!(
        "To sign in, open {} and enter the code {}",
        grant.verification_uri, grant.user_code
    );
    if let Some(complete) = &grant.verification_uri_complete {
        println!("Or open {complete}");
    }
    if print_device_code {
        println!("Device code: {}", grant.device_code);
    }
    println!("Waiting for approval…");
}

/// Polls until the host answers with a key or polling must stop.
pub(crate) async fn poll(host: &HostClient, grant: &Grant, rules: Rules) -> Result<String, Stop> {
    let deadline = grant
        .expires_in
        .map(|secs| grant.received + Duration::from_secs(secs));
    let mut interval = initial_interval(grant.interval, rules);
    loop {
        let wait = wait_before_poll(interval, rules);
        if let Some(deadline) = deadline
            && Instant::now() + wait >= deadline
        {
            tokio::time::sleep_until(deadline.into()).await;
            return Err(Stop::Expired);
        }
        tokio::time::sleep(wait).await;
        let verdict = match exchange(host, &grant.device_code).await {
            Ok((status, body)) => classify(status, &body, rules),
            Err(SendError::Timeout(_)) => Verdict::Again(Event::TimedOut),
            Err(SendError::Failed(e)) => Verdict::Stop(Stop::Failed(e)),
        };
        match verdict {
            Verdict::Approved(key) => return Ok(key),
            Verdict::Again(event) => interval = next_interval(interval, event, rules),
            Verdict::Stop(stop) => return Err(stop),
        }
    }
}

/// One `POST /public/device/exchange`.
async fn exchange(host: &HostClient, device_code: &str) -> Result<(u16, String), SendError> {
    let url = host.url(&["public", "device", "exchange"]);
    let body = json!({ "device_code": device_code, "client_id": CLIENT_ID });
    let answer = host.send(Method::POST, url, Some(&body), None, &[]).await?;
    Ok((answer.status, answer.body))
}

/// The whole sign-in: start, show, poll. Under `loop-on-expired` an expired
/// code starts a new flow, forever.
pub(crate) async fn sign_in(host: &HostClient, faults: &Faults) -> Result<String, CliError> {
    let rules = Rules::from_faults(faults);
    loop {
        let grant = start(host).await?;
        show(&grant, faults.has(Fault::PrintDeviceCode));
        match poll(host, &grant, rules).await {
            Ok(key) => return Ok(key),
            Err(Stop::Expired) if faults.has(Fault::LoopOnExpired) => {
                eprintln!("the code expired; starting a new sign-in");
            }
            Err(stop) => return Err(stop.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    /// The waits before each poll, given the replies to the polls before it.
    fn schedule(announced: Option<u64>, events: &[Event], rules: Rules) -> Vec<Duration> {
        let mut interval = initial_interval(announced, rules);
        let mut waits = vec![wait_before_poll(interval, rules)];
        for event in events {
            interval = next_interval(interval, *event, rules);
            waits.push(wait_before_poll(interval, rules));
        }
        waits
    }

    use Event::{Pending, SlowDown, TimedOut};

    #[test]
    fn waits_the_interval_before_every_poll_including_the_first() {
        let waits = schedule(Some(3), &[Pending; 4], Rules::default());
        assert_eq!(waits, vec![S(3); 5]);
    }

    #[test]
    fn defaults_to_five_seconds() {
        assert_eq!(
            schedule(None, &[Pending], Rules::default()),
            vec![S(5), S(5)]
        );
        let fault = Rules {
            no_default_interval: true,
            ..Rules::default()
        };
        assert_eq!(schedule(None, &[Pending], fault), vec![S(1), S(1)]);
        assert_eq!(initial_interval(Some(0), Rules::default()), S(1));
    }

    #[test]
    fn slow_down_adds_five_seconds_cumulatively() {
        let events = [Pending, SlowDown, Pending, SlowDown, Pending];
        let waits = schedule(Some(2), &events, Rules::default());
        assert_eq!(waits, vec![S(2), S(2), S(7), S(7), S(12), S(12)]);
        let fault = Rules {
            ignore_slow_down: true,
            ..Rules::default()
        };
        assert_eq!(schedule(Some(2), &events, fault), vec![S(2); 6]);
    }

    #[test]
    fn timeouts_double_the_interval() {
        let waits = schedule(
            Some(2),
            &[Pending, TimedOut, TimedOut, Pending],
            Rules::default(),
        );
        assert_eq!(waits, vec![S(2), S(2), S(4), S(8), S(8)]);
        assert_eq!(
            next_interval(Duration::from_millis(500), TimedOut, Rules::default()),
            Duration::from_millis(1500)
        );
        let fault = Rules {
            no_backoff: true,
            ..Rules::default()
        };
        assert_eq!(
            schedule(Some(2), &[TimedOut, TimedOut], fault),
            vec![S(2); 3]
        );
    }

    #[test]
    fn poll_too_fast_halves_the_wait() {
        let fault = Rules {
            poll_too_fast: true,
            ..Rules::default()
        };
        assert_eq!(schedule(Some(4), &[Pending], fault), vec![S(2), S(2)]);
    }

    #[test]
    fn classifies_exchange_answers() {
        let r = Rules::default();
        let err = |e: &str| format!(r#"{{"error":"{e}"}}"#);
        assert_eq!(
            classify(400, &err("authorization_pending"), r),
            Verdict::Again(Pending)
        );
        assert_eq!(
            classify(400, &err("slow_down"), r),
            Verdict::Again(SlowDown)
        );
        assert_eq!(
            classify(400, &err("access_denied"), r),
            Verdict::Stop(Stop::Denied)
        );
        assert_eq!(
            classify(400, &err("expired_token"), r),
            Verdict::Stop(Stop::Expired)
        );
        assert!(matches!(
            classify(400, &err("invalid_grant"), r),
            Verdict::Stop(Stop::Failed(_))
        ));
        assert!(matches!(
            classify(500, &err("authorization_pending"), r),
            Verdict::Stop(Stop::Failed(_))
        ));
        assert!(matches!(
            classify(400, "not json", r),
            Verdict::Stop(Stop::Failed(_))
        ));
        assert_eq!(
            classify(200, r#"{"api_key":"sk_1"}"#, r),
            Verdict::Approved("sk_1".into())
        );
        assert_eq!(
            classify(200, r#"{"access_token":"at_1","token_type":"Bearer"}"#, r),
            Verdict::Approved("at_1".into())
        );
        assert!(matches!(
            classify(200, "{}", r),
            Verdict::Stop(Stop::Failed(_))
        ));
        let fault = Rules {
            continue_after_denied: true,
            retry_on_server_error: false,
            ..r
        };
        assert_eq!(
            classify(400, &err("access_denied"), fault),
            Verdict::Again(Pending)
        );
    }

    #[test]
    fn parses_start_answers() {
        let now = Instant::now();
        let body = json!({"device_code": "DC", "user_code": "WDJB-MJHT",
            "verification_uri": "https://x/device", "expires_in": 8, "interval": "3"});
        let grant = parse_grant(&body, now).unwrap();
        assert_eq!((grant.expires_in, grant.interval), (Some(8), Some(3)));
        assert_eq!(grant.verification_uri_complete, None);
        let body = json!({"device_code": "DC", "verification_uri": "https://x/device"});
        assert_eq!(parse_grant(&body, now).unwrap_err().code, 1);
    }
}
