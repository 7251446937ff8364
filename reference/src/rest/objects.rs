//! `/api/v1/organizations/{org}/servers` and `…/agents`: the organisation's
//! MCP server records and agents (developer, admin).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::Rest;
use super::access::{Caller, Need};
use super::reply::{self, Refusal, Reply};
use super::store::ObjectKind;

/// The body of an object creation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
}

fn list(rest: &Rest, caller: &Caller, org: &str, kind: ObjectKind) -> Reply {
    rest.authorize(caller, org, Need::Read)?;
    let store = rest.store.lock();
    let records: Vec<Value> = store
        .objects(kind)
        .iter()
        .filter(|o| o.org == org)
        .map(|o| o.record())
        .collect();
    reply::ok(Value::Array(records))
}

fn read(rest: &Rest, caller: &Caller, org: &str, id: &str, kind: ObjectKind) -> Reply {
    rest.authorize(caller, org, Need::Read)?;
    let store = rest.store.lock();
    let org = rest.object_org(org, store.owner(kind, id));
    let object = store.object(kind, &org, id).ok_or(Refusal::NotFound)?;
    reply::ok(object.record())
}

fn create(rest: &Rest, caller: &Caller, org: &str, body: &[u8], kind: ObjectKind) -> Reply {
    rest.authorize_object_write(caller, org)?;
    let body: CreateBody = serde_json::from_slice(body).map_err(|_| Refusal::InvalidRequest)?;
    if body.name.trim().is_empty() {
        return Err(Refusal::InvalidRequest);
    }
    let record = rest.store.lock().create_object(kind, org, body.name);
    Ok(reply::json_response(StatusCode::CREATED, record))
}

/// `GET …/servers`.
pub(crate) async fn list_servers(
    State(rest): State<Arc<Rest>>,
    caller: Caller,
    Path(org): Path<String>,
) -> Reply {
    list(&rest, &caller, &org, ObjectKind::Server)
}

/// `POST …/servers` with `{"name"}`.
pub(crate) async fn create_server(
    State(rest): State<Arc<Rest>>,
    caller: Caller,
    Path(org): Path<String>,
    body: Bytes,
) -> Reply {
    create(&rest, &caller, &org, &body, ObjectKind::Server)
}

/// `GET …/servers/{id}`.
pub(crate) async fn read_server(
    State(rest): State<Arc<Rest>>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Reply {
    read(&rest, &caller, &org, &id, ObjectKind::Server)
}

/// `GET …/agents`.
pub(crate) async fn list_agents(
    State(rest): State<Arc<Rest>>,
    caller: Caller,
    Path(org): Path<String>,
) -> Reply {
    list(&rest, &caller, &org, ObjectKind::Agent)
}

/// `POST …/agents` with `{"name"}`.
pub(crate) async fn create_agent(
    State(rest): State<Arc<Rest>>,
    caller: Caller,
    Path(org): Path<String>,
    body: Bytes,
) -> Reply {
    create(&rest, &caller, &org, &body, ObjectKind::Agent)
}

/// `GET …/agents/{id}`.
pub(crate) async fn read_agent(
    State(rest): State<Arc<Rest>>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Reply {
    read(&rest, &caller, &org, &id, ObjectKind::Agent)
}

/// `DELETE …/agents/{id}`.
pub(crate) async fn delete_agent(
    State(rest): State<Arc<Rest>>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Reply {
    rest.authorize_object_write(&caller, &org)?;
    let mut store = rest.store.lock();
    let org = rest.object_org(&org, store.owner(ObjectKind::Agent, &id));
    if store.delete_object(ObjectKind::Agent, &org, &id) {
        reply::no_content()
    } else {
        Err(Refusal::NotFound)
    }
}
