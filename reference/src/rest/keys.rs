//! `/api/v1/organizations/{org}/api-keys`: listing, reading, creating and
//! revoking API keys.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Rest;
use super::access::{ADMIN, Caller, DEVELOPER, Need};
use super::clock::{now_ms, rfc3339_ms};
use super::config::is_visible_ascii;
use super::keyring::{Key, KeyKind};
use super::reply::{self, Refusal, Reply};
use super::store::{Inner, ObjectKind};
use crate::faults::Fault;

/// The body of a key creation, as sent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    origins: Option<Vec<String>>,
}

/// A checked key creation.
enum NewKey {
    Secret {
        name: String,
        role: String,
    },
    Publishable {
        name: String,
        agent: String,
        origins: Vec<String>,
    },
}

impl NewKey {
    /// Parses the body; `None` for anything but the two documented shapes.
    fn parse(body: &[u8]) -> Option<NewKey> {
        let b: CreateBody = serde_json::from_slice(body).ok()?;
        if b.name.trim().is_empty() {
            return None;
        }
        match (b.kind.as_deref(), b.role, b.agent, b.origins) {
            (None | Some("secret"), Some(role), None, None)
                if role == DEVELOPER || role == ADMIN =>
            {
                Some(NewKey::Secret { name: b.name, role })
            }
            (Some("publishable"), None, Some(agent), origins) => {
                let origins = origins.unwrap_or_default();
                origins.iter().all(|o| is_visible_ascii(o)).then_some(())?;
                Some(NewKey::Publishable {
                    name: b.name,
                    agent,
                    origins,
                })
            }
            _ => None,
        }
    }
}

/// The `role` a creation body asks for (read leniently, for `self-escalation`).
fn requested_role(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value.get("role")?.as_str().map(str::to_owned)
}

/// `GET …/api-keys`: the organisation's active keys.
pub(crate) async fn list(
    State(rest): State<Arc<Rest>>,
    caller: Caller,
    Path(org): Path<String>,
) -> Reply {
    rest.authorize(&caller, &org, Need::Read)?;
    let show = rest.faults.has(Fault::ListShowsSecret);
    let store = rest.store.lock();
    let records: Vec<Value> = store
        .keys
        .listed(&org, &rest.faults)
        .map(|k| k.record(show))
        .collect();
    reply::ok(Value::Array(records))
}

/// `GET …/api-keys/{id}`: one active key.
pub(crate) async fn read(
    State(rest): State<Arc<Rest>>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Reply {
    rest.authorize(&caller, &org, Need::Read)?;
    let show = rest.faults.has(Fault::ListShowsSecret);
    let store = rest.store.lock();
    let org = rest.object_org(&org, store.keys.owner(&id));
    let key = store
        .keys
        .get(&org, &id, &rest.faults)
        .ok_or(Refusal::NotFound)?;
    reply::ok(key.record(show))
}

/// `DELETE …/api-keys/{id}`: revokes a key at once (admin).
pub(crate) async fn revoke(
    State(rest): State<Arc<Rest>>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Reply {
    rest.authorize(&caller, &org, Need::Admin)?;
    let mut store = rest.store.lock();
    let org = rest.object_org(&org, store.keys.owner(&id));
    if store.keys.revoke(&org, &id, &rest.faults) {
        reply::no_content()
    } else {
        Err(Refusal::NotFound)
    }
}

/// `POST …/api-keys`: creates a secret or publishable key (admin); the only
/// response with a secret key's value.
pub(crate) async fn create(
    State(rest): State<Arc<Rest>>,
    caller: Caller,
    Path(org): Path<String>,
    body: Bytes,
) -> Reply {
    let escalate =
        rest.faults.has(Fault::SelfEscalation) && requested_role(&body).as_deref() == Some(ADMIN);
    let need = if escalate { Need::Write } else { Need::Admin };
    rest.authorize(&caller, &org, need)?;
    let new = NewKey::parse(&body).ok_or(Refusal::InvalidRequest)?;
    let mut store = rest.store.lock();
    let created = insert_key(&mut store, &org, new).ok_or(Refusal::InvalidRequest)?;
    let mut response = reply::json_response(StatusCode::CREATED, created);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Stores the key; its creation record (`None`: the agent is not one of the organisation's).
fn insert_key(store: &mut Inner, org: &str, new: NewKey) -> Option<Value> {
    let (kind, name, role, origins) = match new {
        NewKey::Secret { name, role } => (KeyKind::Secret, name, role, Vec::new()),
        NewKey::Publishable {
            name,
            agent,
            origins,
        } => {
            store.object(ObjectKind::Agent, org, &agent)?;
            (KeyKind::Publishable, name, agent, origins)
        }
    };
    let (id, value) = store.fresh_key(kind);
    let key = Key {
        id,
        name,
        kind,
        role,
        org: org.to_owned(),
        value,
        origins,
        created_ms: now_ms(),
        last_used_ms: None,
        revoked: None,
    };
    let record = creation_record(&key);
    store.keys.insert(key);
    Some(record)
}

fn creation_record(key: &Key) -> Value {
    let mut record = json!({
        "id": key.id,
        "name": key.name,
        "type": key.kind.name(),
        "key": key.value,
        "created_at": rfc3339_ms(key.created_ms),
    });
    if key.kind == KeyKind::Publishable {
        record["agent"] = json!(key.role);
        record["origins"] = json!(key.origins);
    } else {
        record["role"] = json!(key.role);
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses(body: &str) -> bool {
        NewKey::parse(body.as_bytes()).is_some()
    }

    #[test]
    fn creation_bodies() {
        assert!(parses(r#"{"name":"ci","role":"developer"}"#));
        assert!(parses(r#"{"name":"ci","role":"admin","type":"secret"}"#));
        assert!(parses(
            r#"{"name":"w","type":"publishable","agent":"agent-1","origins":["https://a"]}"#
        ));
        for bad in [
            r#"{"name":"ci","role":"Admin"}"#,
            r#"{"name":"ci","role":"owner"}"#,
            r#"{"name":"ci","role":["admin"]}"#,
            r#"{"name":"ci","role":"developer","roles":["admin"]}"#,
            r#"{"role":"developer"}"#,
            r#"{"name":"","role":"developer"}"#,
            r#"{"name":7,"role":"developer"}"#,
            r#"{"name":"ci"}"#,
            r#"{"name":"ci","role":"developer","type":"user"}"#,
            r#"{"name":"w","type":"publishable","agent":"a","role":"admin"}"#,
            r#"{"name":"w","type":"publishable"}"#,
            r#"["name"]"#,
            "not json",
        ] {
            assert!(!parses(bad), "{bad}");
        }
    }

    #[test]
    fn requested_role_is_read_leniently() {
        assert_eq!(
            requested_role(br#"{"role":"admin","x":1}"#).as_deref(),
            Some("admin")
        );
        assert_eq!(requested_role(br#"{"role":["admin"]}"#), None);
    }
}
