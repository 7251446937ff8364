//! The device grants and the wrong-user-code counts, behind one lock.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::{DeviceArgs, WRONG_CODE_LIMIT, codes, secs};
use crate::faults::{Fault, Faults};

/// Where a device grant stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Status {
    /// Waiting for the user.
    Pending,
    /// Approved by the user token `user` of `org`; not yet exchanged.
    Approved { user: String, org: String },
    /// Denied by the user.
    Denied,
    /// Exchanged for a key.
    Redeemed { user: String, org: String },
}

/// One device grant.
struct Grant {
    /// Canonical user code (without the hyphen).
    user_code: String,
    client_id: Option<String>,
    expires_at: Instant,
    /// The current polling interval (grows by 5 s with each `slow_down`).
    interval: Duration,
    last_poll: Option<Instant>,
    status: Status,
}

#[derive(Default)]
struct Table {
    /// By device code.
    grants: HashMap<String, Grant>,
    /// Times of the wrong user codes, by the caller's key ID.
    wrong: HashMap<String, Vec<Instant>>,
    /// Grants started so far (the counter of `guessable-device-codes`).
    started: u64,
}

/// The device-authorization state of the server.
pub(crate) struct Devices {
    pub(super) interval: u64,
    pub(super) expires: Duration,
    pub(super) verification_uri: String,
    table: Mutex<Table>,
}

/// A started grant.
pub(super) struct Started {
    pub device_code: String,
    /// As shown: `XXXX-XXXX`.
    pub user_code: String,
}

/// What an exchange comes to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Exchange {
    /// 400 with this error code.
    Error(&'static str),
    /// Mint a key of `org` for `user`.
    Mint { org: String, user: String },
}

/// What an approval or denial comes to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Approval {
    Done,
    /// No live grant has this user code (counted as a wrong code).
    Unknown,
    /// The grant has expired.
    Expired,
    /// The grant was already approved, denied or exchanged.
    Decided,
}

impl Devices {
    /// No grants yet.
    pub(crate) fn new(args: &DeviceArgs) -> Devices {
        Devices {
            interval: args.interval,
            expires: secs(args.expires),
            verification_uri: args.verification_uri.clone(),
            table: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a grant (forgetting grants expired for a lifetime).
    #[cfg(test)]
    pub(super) fn start(&self, client_id: Option<String>, now: Instant) -> Started {
        self.start_with(client_id, now, false)
    }

    /// Starts a grant; `guessable`: its device code is the grant counter (the `guessable-device-codes` fault).
    pub(super) fn start_with(
        &self,
        client_id: Option<String>,
        now: Instant,
        guessable: bool,
    ) -> Started {
        let mut table = self.lock();
        let lifetime = self.expires;
        table.grants.retain(|_, g| g.expires_at + lifetime > now);
        table.started += 1;
        let counter = table.started;
        let device_code = loop {
            let code = if guessable {
                format!("dc-{counter:08}")
            } else {
                codes::device_code()
            };
            if !table.grants.contains_key(&code) {
                break code;
            }
        };
        let user_code = loop {
            let code = codes::user_code();
            if !table.grants.values().any(|g| g.user_code == code) {
                break code;
            }
        };
        table.grants.insert(
            device_code.clone(),
            Grant {
                user_code: user_code.clone(),
                client_id,
                expires_at: now + self.expires,
                interval: secs(self.interval),
                last_poll: None,
                status: Status::Pending,
            },
        );
        Started {
            device_code,
            user_code: codes::display(&user_code),
        }
    }

    /// Polls the grant of `device_code`.
    pub(super) fn exchange(
        &self,
        device_code: &str,
        client_id: Option<&str>,
        now: Instant,
        faults: &Faults,
    ) -> Exchange {
        let mut table = self.lock();
        let Some(grant) = table.grants.get_mut(device_code) else {
            return Exchange::Error(if faults.has(Fault::PendingForUnknownCode) {
                "authorization_pending"
            } else {
                "invalid_grant"
            });
        };
        if let (Some(sent), Some(issued)) = (client_id, grant.client_id.as_deref())
            && sent != issued
        {
            return Exchange::Error("invalid_grant");
        }
        let last_poll = grant.last_poll.replace(now);
        match &grant.status {
            Status::Redeemed { user, org } if faults.has(Fault::ReuseDeviceCode) => {
                Exchange::Mint {
                    org: org.clone(),
                    user: user.clone(),
                }
            }
            Status::Redeemed { .. } => Exchange::Error("invalid_grant"),
            _ if now >= grant.expires_at && !faults.has(Fault::HonourExpiredCodes) => {
                Exchange::Error("expired_token")
            }
            Status::Denied if faults.has(Fault::DenialNotTerminal) => {
                Exchange::Error("authorization_pending")
            }
            Status::Denied => Exchange::Error("access_denied"),
            Status::Approved { user, org } => {
                let mint = Exchange::Mint {
                    org: org.clone(),
                    user: user.clone(),
                };
                grant.status = Status::Redeemed {
                    user: user.clone(),
                    org: org.clone(),
                };
                mint
            }
            Status::Pending => match last_poll {
                Some(last) if now < last + grant.interval => {
                    grant.interval += secs(5);
                    Exchange::Error("slow_down")
                }
                _ => Exchange::Error("authorization_pending"),
            },
        }
    }

    /// How long until `caller` may submit a user code again (`None`: now).
    pub(super) fn locked_out(&self, caller: &str, now: Instant) -> Option<Duration> {
        let mut table = self.lock();
        let window = self.expires;
        let times = table.wrong.get_mut(caller)?;
        times.retain(|t| now < *t + window);
        if times.len() < WRONG_CODE_LIMIT {
            return None;
        }
        times.first().map(|first| *first + window - now)
    }

    /// Approves or denies the grant of `user_code` as the user token `user` of `org`.
    #[cfg(test)]
    pub(super) fn decide(
        &self,
        user_code: &str,
        approve: bool,
        user: &str,
        org: &str,
        now: Instant,
    ) -> Approval {
        self.decide_at(user_code, approve, (user, org), now, false)
    }

    /// [`Devices::decide`]; `late_ok`: an expired grant may still be decided (`honour-expired-codes`).
    pub(super) fn decide_at(
        &self,
        user_code: &str,
        approve: bool,
        (user, org): (&str, &str),
        now: Instant,
        late_ok: bool,
    ) -> Approval {
        let mut table = self.lock();
        let canonical = codes::normalize(user_code);
        let found = table
            .grants
            .values_mut()
            .filter(|g| g.user_code == canonical)
            .max_by_key(|g| g.expires_at);
        let Some(grant) = found else {
            table.wrong.entry(user.to_owned()).or_default().push(now);
            return Approval::Unknown;
        };
        if now >= grant.expires_at && !late_ok {
            return Approval::Expired;
        }
        if grant.status != Status::Pending {
            return Approval::Decided;
        }
        grant.status = if approve {
            Status::Approved {
                user: user.to_owned(),
                org: org.to_owned(),
            }
        } else {
            Status::Denied
        };
        Approval::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devices() -> Devices {
        Devices::new(&DeviceArgs {
            interval: 5,
            expires: 60,
            ..DeviceArgs::default()
        })
    }

    #[test]
    fn lifecycle() {
        let d = devices();
        let none = Faults::default();
        let t0 = Instant::now();
        let s = d.start(None, t0);
        let poll = |at: Duration| d.exchange(&s.device_code, None, t0 + at, &none);
        assert_eq!(poll(secs(1)), Exchange::Error("authorization_pending"));
        assert_eq!(poll(secs(2)), Exchange::Error("slow_down"));
        // The interval is now 10 s.
        assert_eq!(poll(secs(8)), Exchange::Error("slow_down"));
        assert_eq!(poll(secs(30)), Exchange::Error("authorization_pending"));
        assert_eq!(
            d.decide(&s.user_code.to_lowercase(), true, "u", "o", t0 + secs(31)),
            Approval::Done
        );
        assert_eq!(
            d.decide(&s.user_code, false, "u", "o", t0),
            Approval::Decided
        );
        let minted = Exchange::Mint {
            org: "o".into(),
            user: "u".into(),
        };
        assert_eq!(poll(secs(31)), minted);
        assert_eq!(poll(secs(45)), Exchange::Error("invalid_grant"));
        let reuse = Faults::parse(["reuse-device-code"]).unwrap();
        assert_eq!(d.exchange(&s.device_code, None, t0, &reuse), minted);
    }

    #[test]
    fn wrong_codes_lock_out_for_the_lifetime() {
        let d = devices();
        let t0 = Instant::now();
        for n in 0..5 {
            assert_eq!(d.locked_out("u", t0), None, "{n}");
            assert_eq!(d.decide("BBBB-BBBB", true, "u", "o", t0), Approval::Unknown);
        }
        assert_eq!(d.locked_out("u", t0 + secs(1)), Some(secs(59)));
        assert_eq!(d.locked_out("v", t0), None);
        assert_eq!(d.locked_out("u", t0 + secs(60)), None);
    }

    #[test]
    fn client_id_binds_and_expiry_is_terminal() {
        let d = devices();
        let none = Faults::default();
        let t0 = Instant::now();
        let s = d.start(Some("cli".into()), t0);
        let other = d.exchange(&s.device_code, Some("other"), t0, &none);
        assert_eq!(other, Exchange::Error("invalid_grant"));
        let late = t0 + secs(61);
        assert_eq!(
            d.decide(&s.user_code, true, "u", "o", late),
            Approval::Expired
        );
        let expired = d.exchange(&s.device_code, Some("cli"), late, &none);
        assert_eq!(expired, Exchange::Error("expired_token"));
    }
}
