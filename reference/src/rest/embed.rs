//! `GET /api/v1/agents/{agent}/config`: the embed configuration, for a
//! publishable key bound to the agent (any agent of its organisation under
//! `publishable-any-agent`), from one of its browser origins (any origin
//! under `publishable-any-origin`). A refused origin gets no CORS grant.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::json;

use super::Rest;
use super::access::Caller;
use super::cors::NoGrant;
use super::keyring::KeyKind;
use super::reply::{self, Refusal, Reply};
use super::store::ObjectKind;
use crate::faults::Fault;

/// The `Origin` to allow: `None` without one, `Err` when it is not one of the
/// key's (`any` origin: the `publishable-any-origin` fault).
fn allowed_origin(
    headers: &HeaderMap,
    origins: &[String],
    any: bool,
) -> Result<Option<HeaderValue>, ()> {
    let sent: Vec<&HeaderValue> = headers.get_all(header::ORIGIN).iter().collect();
    match sent[..] {
        [] => Ok(None),
        [origin, ..] if any => Ok(Some(origin.clone())),
        [origin] if origins.iter().any(|o| o.as_bytes() == origin.as_bytes()) => {
            Ok(Some(origin.clone()))
        }
        _ => Err(()),
    }
}

/// `GET /api/v1/agents/{agent}/config` → `{agent, org}`.
pub(crate) async fn config(
    State(rest): State<Arc<Rest>>,
    caller: Caller,
    Path(agent): Path<String>,
    headers: HeaderMap,
) -> Reply {
    let p = &caller.principal;
    let bound = p.agent.as_deref() == Some(agent.as_str())
        || (rest.faults.has(Fault::PublishableAnyAgent)
            && rest
                .store
                .lock()
                .object(ObjectKind::Agent, &p.org, &agent)
                .is_some());
    if p.kind != KeyKind::Publishable || !bound {
        return Err(rest.forbidden(&caller));
    }
    let any_origin = rest.faults.has(Fault::PublishableAnyOrigin);
    let Ok(origin) = allowed_origin(&headers, &p.origins, any_origin) else {
        let mut refused = rest.forbidden(&caller).into_response();
        refused.extensions_mut().insert(NoGrant);
        return Ok(refused);
    };
    let org = {
        let store = rest.store.lock();
        let found = store.agents.iter().find(|a| a.id == agent);
        found.ok_or(Refusal::NotFound)?.org.clone()
    };
    let mut response = reply::json_response(StatusCode::OK, json!({ "agent": agent, "org": org }));
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        if any_origin {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
    Ok(response)
}
