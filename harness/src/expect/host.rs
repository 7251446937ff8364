//! `polls` and `host`: what the scenario's mock vendor host saw while a CLI step ran — the pacing of its
//! device-flow polls (judged from the host's arrival times, with [`TOLERANCE`]), whether it started a flow,
//! which key its requests carried and where, and which files hold a key afterwards.

use super::{Expectation, Fail};
use crate::error::Invalid;
use crate::host::{HostSeen, PollSeen, ms};
use crate::step::{ValidateCx, View};
use crate::template::Vars;
use serde::Deserialize;
use std::time::Duration;

/// How much sooner than the interval a poll may arrive and still count as paced (clock and scheduling
/// jitter between the CLI's timer and the host's arrival stamp).
pub const TOLERANCE: Duration = Duration::from_millis(100);

/// Answers after which RFC 8628 §3.5 lets a client poll again.
const NOT_TERMINAL: &[&str] = &["authorization_pending", "slow_down", "no_response"];

fn seen<'a>(view: &View<'a>) -> Result<&'a HostSeen, Fail> {
    view.host.ok_or_else(|| {
        (
            "a CLI step against the scenario's mock host".into(),
            "this step has no host activity (no `[host]`, or not an exec step)".into(),
        )
    })
}

/// `polls = { paced = true, backoff = true, stop_at_terminal = true, min = 2, max = 3 }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollsExpect {
    /// Every poll came no sooner than the interval in force (after the start response, or the previous poll),
    /// less [`TOLERANCE`].
    #[serde(default)]
    pub paced: bool,
    /// After each unanswered poll (a timeout), the next came at least the interval in force plus 1 s after
    /// the client gave up: the client lowered its polling frequency.
    #[serde(default)]
    pub backoff: bool,
    /// No poll after a terminal answer (anything but pending, slow_down or no answer).
    #[serde(default)]
    pub stop_at_terminal: bool,
    /// At least this many polls.
    pub min: Option<usize>,
    /// At most this many polls.
    pub max: Option<usize>,
}

fn paced(polls: &[PollSeen]) -> Result<(), Fail> {
    let slack = ms(TOLERANCE);
    for (i, p) in polls.iter().enumerate() {
        let Some(gap) = p.since_previous_ms else {
            continue;
        };
        if gap + slack < p.interval_ms {
            return Err((
                format!(
                    "poll {} at least {} ms after the previous request",
                    i + 1,
                    p.interval_ms
                ),
                format!("{gap} ms"),
            ));
        }
    }
    Ok(())
}

fn backoff(polls: &[PollSeen]) -> Result<(), Fail> {
    let mut timeouts = 0;
    for (i, pair) in polls.windows(2).enumerate() {
        let (hung, next) = (&pair[0], &pair[1]);
        let Some(gave_up) = hung.abandoned_after_ms else {
            continue;
        };
        timeouts += 1;
        let after = next.since_previous_ms.unwrap_or(0).saturating_sub(gave_up);
        let want = hung.interval_ms + 1000;
        if after + ms(TOLERANCE) < want {
            return Err((
                format!(
                    "poll {} at least {want} ms after the client gave up on poll {}",
                    i + 2,
                    i + 1
                ),
                format!("{after} ms"),
            ));
        }
    }
    if timeouts == 0 {
        return Err((
            "a poll after a timed-out poll".into(),
            "no poll timed out and was followed by another".into(),
        ));
    }
    Ok(())
}

fn stop_at_terminal(polls: &[PollSeen]) -> Result<(), Fail> {
    if let Some(i) = polls
        .iter()
        .position(|p| !NOT_TERMINAL.contains(&p.outcome.as_str()))
        && polls.len() > i + 1
    {
        return Err((
            format!(
                "no poll after poll {} answered `{}`",
                i + 1,
                polls[i].outcome
            ),
            format!("{} more", polls.len() - i - 1),
        ));
    }
    Ok(())
}

impl Expectation for PollsExpect {
    fn validate(&self, _cx: &ValidateCx) -> Result<(), Invalid> {
        let any = self.paced || self.backoff || self.stop_at_terminal;
        if !any && self.min.is_none() && self.max.is_none() {
            return Err(Invalid::new("", "expects nothing"));
        }
        Ok(())
    }

    fn judge_step(&self, view: &View<'_>, _vars: &Vars) -> Result<(), Fail> {
        let polls = &seen(view)?.polls;
        let n = polls.len();
        if let Some(min) = self.min.filter(|m| n < *m) {
            return Err((format!("at least {min} polls"), format!("{n}")));
        }
        if let Some(max) = self.max.filter(|m| n > *m) {
            return Err((format!("at most {max} polls"), format!("{n}")));
        }
        if self.paced {
            paced(polls)?;
        }
        if self.backoff {
            backoff(polls)?;
        }
        if self.stop_at_terminal {
            stop_at_terminal(polls)?;
        }
        Ok(())
    }
}

/// Requests to the host API whose path contains `path`: at least one, and each carried exactly `keys`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentExpect {
    /// A substring of the path (template), e.g. `/v1/apis` or `/organizations/{org}/`.
    pub path: String,
    /// The keys every such request carried, as `NAME@PLACE` (`issued@header`); `[]` for none; absent: any.
    pub keys: Option<Vec<String>>,
}

/// A key the CLI's files hold after the step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredExpect {
    /// The key's name (`issued`, `service`…).
    pub key: String,
    /// Whether some file under HOME holds it.
    pub present: bool,
    /// With `present`: every file holding it is readable by its owner only (no group or other bits).
    #[serde(default)]
    pub private: bool,
}

/// `host = { starts = 0, sent = {…}, stored = {…}, no_requests = true }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostExpect {
    /// Exactly this many device authorizations started.
    pub starts: Option<usize>,
    /// What requests to the host API carried.
    pub sent: Option<SentExpect>,
    /// A key in the CLI's files.
    pub stored: Option<StoredExpect>,
    /// No request at all reached the host (device endpoints or API).
    #[serde(default)]
    pub no_requests: bool,
    /// No request to the host API carried this key (by name), anywhere.
    pub no_key: Option<String>,
    /// The step wrote no file under HOME.
    #[serde(default)]
    pub writes_nothing: bool,
}

impl HostExpect {
    fn judge_sent(sent: &SentExpect, seen: &HostSeen, vars: &Vars) -> Result<(), Fail> {
        let path = super::expand(vars, &sent.path)?;
        let matching: Vec<_> = seen
            .requests
            .iter()
            .filter(|r| r.path.contains(&path))
            .collect();
        if matching.is_empty() {
            let paths: Vec<_> = seen.requests.iter().map(|r| r.path.as_str()).collect();
            return Err((
                format!("a request to a path containing `{path}`"),
                format!("paths {paths:?}"),
            ));
        }
        if let Some(want) = &sent.keys {
            for r in matching {
                if &r.keys != want {
                    return Err((
                        format!("{} {} carrying {want:?}", r.method, r.path),
                        format!("{:?}", r.keys),
                    ));
                }
            }
        }
        Ok(())
    }

    fn judge_stored(want: &StoredExpect, seen: &HostSeen) -> Result<(), Fail> {
        let holding: Vec<_> = seen.stored.iter().filter(|s| s.key == want.key).collect();
        let name = &want.key;
        match (want.present, holding.first()) {
            (false, Some(s)) => Err((
                format!("no file holding the {name} key"),
                format!("~/{}", s.path),
            )),
            (true, None) => Err((format!("a file holding the {name} key"), "none".into())),
            _ if want.private => match holding.iter().find(|s| s.mode & 0o077 != 0) {
                Some(s) => Err((
                    format!("the {name} key readable by its owner only"),
                    format!("~/{} has mode {:o}", s.path, s.mode),
                )),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

impl Expectation for HostExpect {
    fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
        let flags = self.no_requests || self.writes_nothing || self.no_key.is_some();
        if self.starts.is_none() && self.sent.is_none() && self.stored.is_none() && !flags {
            return Err(Invalid::new("", "expects nothing"));
        }
        if let Some(s) = &self.sent {
            cx.template("sent.path", &s.path)?;
        }
        Ok(())
    }

    fn judge_step(&self, view: &View<'_>, vars: &Vars) -> Result<(), Fail> {
        let seen = seen(view)?;
        if let Some(n) = self.starts.filter(|n| *n != seen.starts) {
            return Err((
                format!("{n} device authorization starts"),
                format!("{}", seen.starts),
            ));
        }
        if self.no_requests {
            let n = seen.starts + seen.polls.len() + seen.requests.len();
            if n > 0 {
                return Err((
                    "no request reaching the host".into(),
                    format!("{n} requests"),
                ));
            }
        }
        if let Some(name) = &self.no_key {
            let prefix = format!("{name}@");
            if let Some(r) = seen
                .requests
                .iter()
                .find(|r| r.keys.iter().any(|k| k.starts_with(&prefix)))
            {
                return Err((
                    format!("no request carrying the {name} key"),
                    format!("{} {} carried {:?}", r.method, r.path, r.keys),
                ));
            }
        }
        if self.writes_nothing && !seen.written.is_empty() {
            return Err((
                "no file written".into(),
                format!("wrote {:?}", seen.written),
            ));
        }
        if let Some(s) = &self.sent {
            Self::judge_sent(s, seen, vars)?;
        }
        if let Some(s) = &self.stored {
            Self::judge_stored(s, seen)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(outcome: &str, gap: u64, interval: u64, abandoned: Option<u64>) -> PollSeen {
        PollSeen {
            outcome: outcome.into(),
            since_previous_ms: Some(gap),
            interval_ms: interval,
            abandoned_after_ms: abandoned,
        }
    }

    #[test]
    fn pacing_allows_the_tolerance_and_no_more() {
        assert!(paced(&[poll("authorization_pending", 2901, 3000, None)]).is_ok());
        assert!(paced(&[poll("authorization_pending", 2899, 3000, None)]).is_err());
    }

    #[test]
    fn backoff_is_measured_from_when_the_client_gave_up() {
        let hung = poll("no_response", 2000, 2000, Some(1000));
        // Gave up after 1 s, next poll 3 s after that: the same 2 s interval plus the timeout is no backoff.
        assert!(
            backoff(&[
                hung.clone(),
                poll("authorization_pending", 3000, 2000, None)
            ])
            .is_err()
        );
        assert!(backoff(&[hung, poll("authorization_pending", 5000, 2000, None)]).is_ok());
        assert!(
            backoff(&[poll("authorization_pending", 2000, 2000, None)]).is_err(),
            "no timeout seen"
        );
    }

    #[test]
    fn a_poll_after_a_terminal_answer_fails() {
        let p = |o: &str| poll(o, 1000, 1000, None);
        assert!(stop_at_terminal(&[p("authorization_pending"), p("access_denied")]).is_ok());
        assert!(stop_at_terminal(&[p("access_denied"), p("access_denied")]).is_err());
        assert!(stop_at_terminal(&[p("no_response"), p("slow_down"), p("api_key_issued")]).is_ok());
    }

    #[test]
    fn stored_keys_must_be_private() {
        let seen = HostSeen {
            stored: vec![crate::host::StoredKey {
                path: ".config/x".into(),
                key: "issued".into(),
                mode: 0o644,
            }],
            ..HostSeen::default()
        };
        let want = |present, private| StoredExpect {
            key: "issued".into(),
            present,
            private,
        };
        assert!(HostExpect::judge_stored(&want(true, false), &seen).is_ok());
        assert!(HostExpect::judge_stored(&want(true, true), &seen).is_err());
        assert!(HostExpect::judge_stored(&want(false, false), &seen).is_err());
    }
}
