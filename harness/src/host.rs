//! A scenario's mock vendor host (`[host]`): the device endpoints and host API a CLI under test signs in to
//! and calls, with its script, its TLS and the keys it knows. The runner starts one per scenario that has a
//! `[host]` table and offers it to templates as `{host.url}`, `{host.ca_pem}`, `{host.key}` (the key the
//! device flow issues), `{host.service_key}` (another key the host accepts), `{host.invalid_key}` and
//! `{host.publishable_key}` (keys it refuses) and `{host.foreign_url}` (a plain-HTTP URL of a host that is not
//! loopback, reachable only through `{host.proxy}`).

use crate::redact::Redactor;
use crate::template::Vars;
use authconform_mocks::{
    DeviceReply, DeviceScript, DeviceServerConfig, FixedRoute, HostConfig, HostKey, MockCliHost,
    TestCa,
};
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

/// How a scenario's host serves TLS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostTls {
    /// A certificate for 127.0.0.1 from the CA in `{host.ca_pem}`.
    #[default]
    Trusted,
    /// A certificate from a CA the client is not given.
    UntrustedCa,
    /// A certificate from the given CA, for another host name.
    WrongName,
    /// Plain HTTP.
    Plain,
}

/// One scripted answer to a well-paced poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// `authorization_pending`.
    Pending,
    /// `slow_down`.
    SlowDown,
    /// The key is issued.
    Approve,
    /// `access_denied`.
    Deny,
    /// `expired_token`.
    Expire,
    /// A 500 with `{"error": "server_error"}`.
    ServerError,
    /// No answer until the client gives up.
    Hang,
}

/// A route answered whatever the credential (e.g. a disabled signup).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteDef {
    /// `METHOD /path` (a template, e.g. `{cli.signup_route}`).
    pub route: String,
    /// Status.
    pub status: u16,
    /// JSON body.
    #[serde(default)]
    pub body: serde_json::Value,
}

/// `[host]`: the mock host of a CLI scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostDef {
    /// TLS (default: trusted).
    #[serde(default)]
    pub tls: HostTls,
    /// The advertised and enforced interval in seconds; absent: not advertised, and 5 s enforced (RFC 8628 §3.2).
    pub interval: Option<u64>,
    /// Lifetime of a device code in seconds (default 600).
    pub expires_in: Option<u64>,
    /// Answers to well-paced polls, in order; the last repeats (default: one pending, then approval).
    #[serde(default)]
    pub replies: Vec<Reply>,
    /// The user code shown (default `BCDF-GHJK`).
    pub user_code: Option<String>,
    /// A prefix of device codes, to spot a client printing one.
    pub device_code_prefix: Option<String>,
    /// Routes answered whatever the credential.
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteDef>,
}

/// The header a CLI sends its key in, and the key prefixes, from the target's `cli` surface.
pub struct KeyShape<'a> {
    /// Header name.
    pub header: &'a str,
    /// Prefix of secret keys.
    pub secret_prefix: &'a str,
    /// Prefix of publishable keys.
    pub publishable_prefix: &'a str,
}

fn random(n: usize) -> String {
    crate::random::string(b"abcdefghijklmnopqrstuvwxyz0123456789", n)
}

impl HostDef {
    fn script(&self) -> DeviceScript {
        if self.replies.is_empty() {
            return DeviceScript::ApproveAfter(1);
        }
        DeviceScript::Sequence(
            self.replies
                .iter()
                .map(|r| match r {
                    Reply::Pending => DeviceReply::Pending,
                    Reply::SlowDown => DeviceReply::SlowDown,
                    Reply::Approve => DeviceReply::Approve,
                    Reply::Deny => DeviceReply::Deny,
                    Reply::Expire => DeviceReply::Expire,
                    Reply::ServerError => DeviceReply::ServerError,
                    Reply::Hang => DeviceReply::Hang,
                })
                .collect(),
        )
    }

    /// Starts the host; its CA goes to `dir/host-ca.pem` (for `untrusted-ca`, the run's CA instead).
    pub async fn start(
        &self,
        run_ca: &TestCa,
        shape: &KeyShape<'_>,
        dir: &Path,
        vars: &mut Vars,
        redactor: &mut Redactor,
    ) -> anyhow::Result<MockCliHost> {
        let keys = self.keys(shape, vars, redactor);
        let routes = self
            .routes
            .iter()
            .map(|r| route(r, vars))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (tls, bundle) = match self.tls {
            HostTls::Trusted => (Some(run_ca.server_config()?), run_ca.ca_pem().to_owned()),
            HostTls::UntrustedCa => (
                Some(TestCa::generate()?.server_config()?),
                run_ca.ca_pem().to_owned(),
            ),
            HostTls::WrongName => {
                let other = TestCa::generate_for(&["wrong-host.authconform.test"])?;
                (Some(other.server_config()?), other.ca_pem().to_owned())
            }
            HostTls::Plain => (None, run_ca.ca_pem().to_owned()),
        };
        let ca_path = dir.join("host-ca.pem");
        std::fs::write(&ca_path, bundle)?;
        let device = self.device_config(tls, &keys);
        let host = HostConfig {
            key_header: shape.header.to_owned(),
            keys,
            routes,
        };
        let mock = MockCliHost::start(device, host).await?;
        vars.set("host.url", mock.base_url());
        vars.set("host.proxy", mock.base_url());
        vars.set("host.ca_pem", ca_path.display().to_string());
        vars.set("host.foreign_url", "http://device-host.authconform.test");
        Ok(mock)
    }

    fn device_config(
        &self,
        tls: Option<std::sync::Arc<rustls::ServerConfig>>,
        keys: &[HostKey],
    ) -> DeviceServerConfig {
        DeviceServerConfig {
            tls,
            script: self.script(),
            interval: Duration::from_secs(self.interval.unwrap_or(5)),
            advertise_interval: self.interval.is_some(),
            poll_tolerance: crate::expect::host::TOLERANCE,
            expires_in: Duration::from_secs(self.expires_in.unwrap_or(600)),
            api_key: keys.first().map(|k| k.value.clone()),
            // A fixed user code (it is shown by design) keeps transcripts stable.
            user_code: Some(self.user_code.clone().unwrap_or_else(|| "BCDF-GHJK".into())),
            device_code_prefix: self.device_code_prefix.clone().unwrap_or_default(),
            ..Default::default()
        }
    }

    /// The host's keys (the issued one first), set as variables and known to the redactor.
    fn keys(&self, shape: &KeyShape<'_>, vars: &mut Vars, redactor: &mut Redactor) -> Vec<HostKey> {
        let s = shape.secret_prefix;
        let p = shape.publishable_prefix;
        // A fixed tag at both ends of the random part: a CLI that shows a key's first or last characters
        // shows the same ones in every run (stable snapshots), never the secret middle.
        let key = |prefix: &str, tag: &str| format!("{prefix}{tag}{}{tag}", random(24));
        let defs = [
            ("issued", "key", key(s, "issd"), true),
            ("service", "service_key", key(s, "srvc"), true),
            ("invalid", "invalid_key", key(s, "invl"), false),
            ("publishable", "publishable_key", key(p, "publ"), false),
        ];
        defs.into_iter()
            .map(|(name, var, value, accepted)| {
                vars.set(format!("host.{var}"), value.clone());
                redactor.add(value.clone(), format!("[KEY:host-{name}]"));
                HostKey {
                    name: name.to_owned(),
                    value,
                    accepted,
                }
            })
            .collect()
    }
}

fn route(r: &RouteDef, vars: &Vars) -> anyhow::Result<FixedRoute> {
    let expanded = vars.expand(&r.route)?;
    let Some((method, path)) = expanded.split_once(' ') else {
        anyhow::bail!("host route `{expanded}` is not `METHOD /path`");
    };
    Ok(FixedRoute {
        method: method.to_owned(),
        path: path.trim().to_owned(),
        status: r.status,
        body: r.body.clone(),
    })
}

/// One poll as the host judged it, in whole milliseconds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PollSeen {
    /// The answer (`authorization_pending`, `slow_down`, `api_key_issued`, `no_response`…).
    pub outcome: String,
    /// Time since the previous poll of its device code, or since the start response.
    pub since_previous_ms: Option<u64>,
    /// The interval in force when it arrived.
    pub interval_ms: u64,
    /// For an unanswered poll: when the client gave up, after its arrival.
    pub abandoned_after_ms: Option<u64>,
}

/// A file under the CLI's HOME that holds one of the host's keys.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredKey {
    /// Path relative to HOME.
    pub path: String,
    /// The key's name (`issued`, `service`…).
    pub key: String,
    /// Unix mode bits.
    pub mode: u32,
}

/// What the host saw during one step, and which of its keys the CLI's files hold after it.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct HostSeen {
    /// Device authorization requests.
    pub starts: usize,
    /// Polls, in arrival order.
    pub polls: Vec<PollSeen>,
    /// Requests to the host API.
    pub requests: Vec<authconform_mocks::HostRequest>,
    /// Files holding a key, after the step.
    pub stored: Vec<StoredKey>,
    /// Files the step wrote (new or changed), relative to HOME.
    pub written: Vec<String>,
}

/// Whole milliseconds of `d`.
pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl HostSeen {
    /// What `host` saw since `mark`, and the keys the files under `home` hold.
    pub fn collect(
        host: &MockCliHost,
        mark: authconform_mocks::HostMark,
        home: &Path,
        files: &[(String, u32)],
        written: Vec<String>,
    ) -> HostSeen {
        let activity = host.since(mark);
        let polls = activity
            .polls
            .iter()
            .map(|p| PollSeen {
                outcome: p.outcome.clone(),
                since_previous_ms: p.since_previous.map(ms),
                interval_ms: ms(p.interval),
                abandoned_after_ms: p.abandoned_after.map(ms),
            })
            .collect();
        let mut stored = Vec::new();
        for (path, mode) in files {
            let Ok(bytes) = std::fs::read(home.join(path)) else {
                continue;
            };
            let text = String::from_utf8_lossy(&bytes);
            for k in host.keys().iter().filter(|k| text.contains(&k.value)) {
                stored.push(StoredKey {
                    path: path.clone(),
                    key: k.name.clone(),
                    mode: *mode,
                });
            }
        }
        HostSeen {
            starts: activity.starts,
            polls,
            requests: activity.requests,
            stored,
            written,
        }
    }

    /// Transcript lines: stable for a conforming client (no timings).
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        if self.starts > 0 {
            let _ = writeln!(out, "host: device authorization started ×{}", self.starts);
        }
        for (i, p) in self.polls.iter().enumerate() {
            let _ = writeln!(
                out,
                "host: poll {}: {} (interval {} s)",
                i + 1,
                p.outcome,
                p.interval_ms / 1000
            );
        }
        for r in &self.requests {
            let keys = if r.keys.is_empty() {
                "no key".to_string()
            } else {
                r.keys.join(", ")
            };
            let _ = writeln!(out, "host: {} {} [{keys}] → {}", r.method, r.path, r.status);
        }
        for s in &self.stored {
            let _ = writeln!(
                out,
                "host: ~/{} holds the {} key (mode {:o})",
                s.path, s.key, s.mode
            );
        }
    }
}
