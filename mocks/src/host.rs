//! The mock vendor host a CLI signs in to: the device endpoints of a
//! [`MockDeviceServer`] and, beside them, a host API that answers any other
//! request and records which known key it carried and how.
//!
//! The host API answers, in order:
//! 1. a fixed route ([`FixedRoute`], e.g. a disabled signup) with its status
//!    and body;
//! 2. a request carrying an accepted key in the key header or as a Bearer
//!    token: `200` with `{"data": [], "path": PATH}`;
//! 3. anything else: `401` with `{"error": "unauthorized"}`.
//!
//! Records never hold a key's value, only the name it was given
//! ([`HostKey::name`]) and where it travelled (`header`, `bearer`,
//! `query:NAME`); a value no key has is named `unknown`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::device::{DevicePoll, DeviceServerConfig, MockDeviceServer};

/// A key the host knows.
#[derive(Clone, Debug)]
pub struct HostKey {
    /// The name records use (`issued`, `service`, `publishable`…).
    pub name: String,
    /// The value (never recorded).
    pub value: String,
    /// Whether the host API accepts it.
    pub accepted: bool,
}

/// A route the host answers the same way whatever the credential.
#[derive(Clone, Debug)]
pub struct FixedRoute {
    /// Method, e.g. `POST`.
    pub method: String,
    /// Exact path, e.g. `/public/signup`.
    pub path: String,
    /// Status to answer.
    pub status: u16,
    /// JSON body to answer.
    pub body: Value,
}

/// How the host API behaves.
#[derive(Clone, Debug, Default)]
pub struct HostConfig {
    /// The header that carries a key (e.g. `X-API-Key`).
    pub key_header: String,
    /// Keys it knows.
    pub keys: Vec<HostKey>,
    /// Routes answered whatever the credential.
    pub routes: Vec<FixedRoute>,
}

/// One request to the host API (not to the device endpoints).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostRequest {
    /// Arrival time.
    #[serde(skip)]
    pub at: SystemTime,
    /// Method.
    pub method: String,
    /// Path (no query).
    pub path: String,
    /// Names of the query parameters, in order.
    pub query_names: Vec<String>,
    /// The known keys it carried, as `NAME@PLACE` (`issued@header`, `service@query:api_key`,
    /// `unknown@header`).
    pub keys: Vec<String>,
    /// The status answered.
    pub status: u16,
}

struct Api {
    config: HostConfig,
    records: Mutex<Vec<HostRequest>>,
}

impl Api {
    fn records(&self) -> MutexGuard<'_, Vec<HostRequest>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The name of the key with `value`, `unknown` for none.
    fn name_of(&self, value: &str) -> (&str, bool) {
        self.config
            .keys
            .iter()
            .find(|k| k.value == value)
            .map_or(("unknown", false), |k| (k.name.as_str(), k.accepted))
    }

    /// The keys a request carried (`NAME@PLACE`) and whether one is accepted in a header.
    fn keys_in(&self, headers: &HeaderMap, query: Option<&str>) -> (Vec<String>, bool) {
        let mut found = Vec::new();
        let mut accepted = false;
        let header = &self.config.key_header;
        for value in headers.get_all(header.as_str()) {
            let (name, ok) = self.name_of(&String::from_utf8_lossy(value.as_bytes()));
            found.push(format!("{name}@header"));
            accepted |= ok;
        }
        for value in headers.get_all(axum::http::header::AUTHORIZATION) {
            let v = String::from_utf8_lossy(value.as_bytes());
            if let Some((scheme, token)) = v.split_once(' ')
                && scheme.eq_ignore_ascii_case("bearer")
            {
                let (name, ok) = self.name_of(token.trim());
                found.push(format!("{name}@bearer"));
                accepted |= ok;
            }
        }
        for (n, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let (name, _) = self.name_of(&v);
            if name != "unknown" {
                found.push(format!("{name}@query:{n}"));
            }
        }
        (found, accepted)
    }

    fn answer(&self, method: &str, path: &str, accepted: bool) -> (StatusCode, Value) {
        let fixed = self
            .config
            .routes
            .iter()
            .find(|r| r.method.eq_ignore_ascii_case(method) && r.path == path);
        match fixed {
            Some(r) => (
                StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                r.body.clone(),
            ),
            None if accepted => (StatusCode::OK, json!({"data": [], "path": path})),
            None => (
                StatusCode::UNAUTHORIZED,
                json!({"error": "unauthorized", "message": "a valid API key is required"}),
            ),
        }
    }
}

async fn serve(State(api): State<Arc<Api>>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let (keys, accepted) = api.keys_in(&parts.headers, parts.uri.query());
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let (status, body) = api.answer(&method, &path, accepted);
    api.records().push(HostRequest {
        at: SystemTime::now(),
        method,
        path,
        query_names: url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .map(|(n, _)| n.into_owned())
            .collect(),
        keys,
        status: status.as_u16(),
    });
    (status, axum::Json(body)).into_response()
}

/// A position in a host's records, to see what happened after it.
#[derive(Clone, Copy, Debug)]
pub struct HostMark {
    polls: usize,
    requests: usize,
    journal: usize,
}

/// What a host saw between a [`HostMark`] and now.
#[derive(Clone, Debug, Default)]
pub struct HostActivity {
    /// Device authorization requests (start endpoint, either shape).
    pub starts: usize,
    /// Polls of the exchange endpoints.
    pub polls: Vec<DevicePoll>,
    /// Requests to the host API.
    pub requests: Vec<HostRequest>,
}

/// The mock host: device endpoints plus the host API. Shuts down when dropped.
pub struct MockCliHost {
    device: MockDeviceServer,
    api: Arc<Api>,
}

impl MockCliHost {
    /// Starts the device server of `device` with the host API of `host` beside it.
    pub async fn start(
        mut device: DeviceServerConfig,
        host: HostConfig,
    ) -> anyhow::Result<MockCliHost> {
        let api = Arc::new(Api {
            config: host,
            records: Mutex::new(Vec::new()),
        });
        device.extra = Some(Router::new().fallback(serve).with_state(Arc::clone(&api)));
        let device = MockDeviceServer::start(device).await?;
        Ok(MockCliHost { device, api })
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        self.device.base_url()
    }

    /// The keys the host knows (the values: never print them).
    pub fn keys(&self) -> &[HostKey] {
        &self.api.config.keys
    }

    /// The device server.
    pub fn device(&self) -> &MockDeviceServer {
        &self.device
    }

    /// The present position of the records.
    pub fn mark(&self) -> HostMark {
        HostMark {
            polls: self.device.polls().len(),
            requests: self.api.records().len(),
            journal: self.device.journal_tail(0).len(),
        }
    }

    /// What happened since `mark`.
    pub fn since(&self, mark: HostMark) -> HostActivity {
        let starts = self.device.start_paths();
        HostActivity {
            starts: self
                .device
                .journal_tail(mark.journal)
                .iter()
                .filter(|r| starts.contains(&r.path.as_str()))
                .count(),
            polls: {
                let mut polls = self.device.polls();
                polls.split_off(mark.polls.min(polls.len()))
            },
            requests: self
                .api
                .records()
                .get(mark.requests..)
                .map(<[_]>::to_vec)
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{DeviceReply, DeviceScript};
    use std::time::Duration;

    fn host_config() -> HostConfig {
        HostConfig {
            key_header: "X-API-Key".into(),
            keys: vec![
                HostKey {
                    name: "issued".into(),
                    value: "sk_test_issued".into(),
                    accepted: true,
                },
                HostKey {
                    name: "publishable".into(),
                    value: "pk_test_pub".into(),
                    accepted: false,
                },
            ],
            routes: vec![FixedRoute {
                method: "POST".into(),
                path: "/public/signup".into(),
                status: 403,
                body: json!({"error": "signup_disabled"}),
            }],
        }
    }

    #[tokio::test]
    async fn the_host_api_names_the_keys_it_saw_and_where() {
        let host = MockCliHost::start(DeviceServerConfig::default(), host_config())
            .await
            .unwrap();
        let client = reqwest::Client::new();
        let base = host.base_url().to_owned();
        let mark = host.mark();
        let ok = client
            .get(format!("{base}/v1/apis"))
            .header("X-API-Key", "sk_test_issued")
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        let refused = client
            .get(format!("{base}/v1/apis?api_key=pk_test_pub"))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);
        let signup = client
            .post(format!("{base}/public/signup"))
            .send()
            .await
            .unwrap();
        assert_eq!(signup.status(), 403);
        client
            .post(format!("{base}/public/device/start"))
            .send()
            .await
            .unwrap();
        let seen = host.since(mark);
        assert_eq!(seen.starts, 1);
        let keys: Vec<_> = seen.requests.iter().map(|r| r.keys.join(",")).collect();
        assert_eq!(keys, ["issued@header", "publishable@query:api_key", ""]);
        assert_eq!(seen.requests[1].query_names, ["api_key"]);
    }

    /// A scripted hang is left unanswered; the poll records when the client gave up.
    #[tokio::test]
    async fn a_hung_poll_records_when_the_client_gave_up() {
        let device = DeviceServerConfig {
            enforce_interval: false,
            script: DeviceScript::Sequence(vec![DeviceReply::Hang, DeviceReply::Pending]),
            ..Default::default()
        };
        let host = MockCliHost::start(device, HostConfig::default())
            .await
            .unwrap();
        let client = reqwest::Client::new();
        let start: Value = client
            .post(host.device().start_url())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let code = start["device_code"].as_str().unwrap().to_owned();
        let poll = || {
            client
                .post(host.device().exchange_url())
                .json(&json!({"device_code": code}))
                .timeout(Duration::from_millis(300))
                .send()
        };
        assert!(poll().await.is_err(), "the hung poll times out");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let abandoned = loop {
            if let Some(a) = host.device().polls()[0].abandoned_after {
                break a;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "abandonment never recorded"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(
            abandoned >= Duration::from_millis(250) && abandoned < Duration::from_secs(3),
            "{abandoned:?}"
        );
        assert_eq!(host.device().polls()[0].outcome, "no_response");
    }
}
