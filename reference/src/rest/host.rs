//! The host API (`/v1/apis`): APIs owned by the caller's organisation, with
//! the `:revise` and `:rebuild` custom methods.

use std::sync::Arc;

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::Rest;
use super::access::Caller;
use super::reply::{self, Refusal, Reply};
use super::store::Api;
use crate::faults::Fault;

fn record(api: &Api) -> Value {
    json!({ "id": api.id, "version": api.version, "rebuilds": api.rebuilds })
}

/// `GET /v1/apis` → `[{id, version}]` of the caller's organisation.
pub(crate) async fn list(State(rest): State<Arc<Rest>>, caller: Caller) -> Reply {
    let org = rest.host_org(&caller)?;
    let store = rest.store.lock();
    let apis: Vec<Value> = store
        .apis
        .iter()
        .filter(|a| a.org == org)
        .map(|a| json!({ "id": a.id, "version": a.version }))
        .collect();
    reply::ok(Value::Array(apis))
}

/// `GET /v1/apis/{id}` → `{id, version, rebuilds}` when the caller's organisation owns it.
pub(crate) async fn read(
    State(rest): State<Arc<Rest>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Reply {
    let org = rest.host_org(&caller)?;
    let mut store = rest.store.lock();
    match store.api_mut(&id) {
        Some(api) if api.org == org || rest.faults.has(Fault::CrossOrgRead) => {
            reply::ok(record(api))
        }
        _ => Err(Refusal::NotFound),
    }
}

/// `POST /v1/apis/{id}:revise` (version + 1) or `POST /v1/apis/{id}:rebuild`
/// (rebuilds + 1), for the owner only (anyone under `owner-not-checked`).
pub(crate) async fn act(
    State(rest): State<Arc<Rest>>,
    caller: Caller,
    Path(id_action): Path<String>,
) -> Reply {
    let org = rest.host_org(&caller)?;
    let (id, action) = id_action.rsplit_once(':').ok_or(Refusal::NotFound)?;
    let mut store = rest.store.lock();
    let api = store
        .api_mut(id)
        .filter(|api| api.org == org || rest.faults.has(Fault::OwnerNotChecked))
        .ok_or(Refusal::NotFound)?;
    match action {
        "revise" => api.version += 1,
        "rebuild" => api.rebuilds += 1,
        _ => return Err(Refusal::NotFound),
    }
    reply::ok(record(api))
}
