//! The REST API served beside `/mcp` on the same listener: key management
//! and organisation objects (`/api/v1/organizations/{org}/…`), the embed
//! configuration of publishable keys (`/api/v1/agents/{agent}/config`) and the
//! host API (`/v1/apis`), over one principal store that also lets `/mcp`
//! accept `X-API-Key` secret keys.

mod access;
mod clock;
mod config;
mod cors;
mod credential;
mod embed;
mod host;
mod keyring;
mod keys;
mod objects;
mod reply;
mod store;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::get;
use axum::routing::post;
use http::HeaderMap;

pub use config::{InvalidArgs, RestArgs};

use crate::faults::{Fault, Faults};
use config::Fixtures;
use credential::{Extracted, extract_api_key};
use keyring::KeyKind;
use store::Store;

/// The REST API's state: the principal store, the active faults and the
/// allowed browser origins.
pub(crate) struct Rest {
    store: Store,
    faults: Faults,
    /// `--cors-origin`: the origins allowed to call with credentials (and to send requests to `/mcp`).
    cors_origins: Vec<String>,
    /// The target-site sessions of the compiled APIs' endpoints.
    sessions: crate::session::Sessions,
    /// The device-authorization grants.
    devices: crate::device::Devices,
}

/// How `/mcp` judges an `X-API-Key` field.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum McpKey {
    /// No `X-API-Key` field: OAuth as usual.
    Absent,
    /// Several `X-API-Key` fields, or one beside `Authorization`.
    Conflict,
    /// Not a live secret key.
    Invalid,
    /// A live secret key; the subject to serve the request as.
    Valid(String),
}

impl Rest {
    /// The store holding the command-line fixtures.
    pub(crate) fn new(args: &RestArgs, faults: &Faults) -> Result<Rest, InvalidArgs> {
        Ok(Rest {
            store: Store::new(Fixtures::parse(args)?),
            faults: faults.clone(),
            cors_origins: config::cors_origins(args)?,
            sessions: Default::default(),
            devices: crate::device::Devices::new(&args.device),
        })
    }

    /// Judges the `X-API-Key` of an MCP request (a live secret key, or nothing).
    pub(crate) fn judge_mcp_key(&self, headers: &HeaderMap) -> McpKey {
        let fold = credential::has_full_width(headers) && self.faults.has(Fault::FoldFullWidthKey);
        let presented = match extract_api_key(headers, fold) {
            Extracted::Missing => return McpKey::Absent,
            Extracted::Conflict => return McpKey::Conflict,
            Extracted::Malformed(_) => return McpKey::Invalid,
            Extracted::Found(presented) => presented,
        };
        let mut store = self.store.lock();
        match store.keys.authenticate(&presented, &self.faults) {
            Some(p) if p.kind == KeyKind::Secret => McpKey::Valid(format!("api-key:{}", p.key_id)),
            _ => McpKey::Invalid,
        }
    }
}

/// The routes of the REST API, behind the CORS layer.
pub(crate) fn router(rest: Arc<Rest>) -> Router {
    const ORG: &str = "/api/v1/organizations/{org}";
    let router = Router::new()
        .route(
            &format!("{ORG}/api-keys"),
            get(keys::list).post(keys::create),
        )
        .route(
            &format!("{ORG}/api-keys/{{id}}"),
            get(keys::read).delete(keys::revoke),
        )
        .route(
            &format!("{ORG}/servers"),
            get(objects::list_servers).post(objects::create_server),
        )
        .route(&format!("{ORG}/servers/{{id}}"), get(objects::read_server))
        .route(
            &format!("{ORG}/agents"),
            get(objects::list_agents).post(objects::create_agent),
        )
        .route(
            &format!("{ORG}/agents/{{id}}"),
            get(objects::read_agent).delete(objects::delete_agent),
        )
        .route("/api/v1/agents/{agent}/config", get(embed::config))
        .route("/v1/apis", get(host::list))
        .route("/v1/apis/{id_action}", get(host::read).post(host::act))
        .route(
            "/v1/apis/{id_action}/endpoints/{endpoint_call}",
            post(crate::session::call),
        )
        .route("/public/device/start", post(crate::device::start))
        .route("/public/device/exchange", post(crate::device::exchange))
        .route("/public/device/approve", post(crate::device::approve))
        .with_state(rest.clone());
    router.layer(middleware::from_fn_with_state(rest, cors::layer))
}

/// What the session layer (`crate::session`) needs: the faults, its session
/// table and the APIs (any API of any organisation may be invoked).
impl Rest {
    /// The active faults.
    pub(crate) fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The target-site sessions.
    pub(crate) fn sessions(&self) -> &crate::session::Sessions {
        &self.sessions
    }

    /// Whether the API `id` exists, whichever organisation owns it.
    pub(crate) fn api_exists(&self, id: &str) -> bool {
        self.store.lock().apis.iter().any(|api| api.id == id)
    }
}

/// What the device-authorization host (`crate::device`) needs: its grants,
/// the approving user, and the keys it mints.
impl Rest {
    /// The device-authorization grants.
    pub(crate) fn devices(&self) -> &crate::device::Devices {
        &self.devices
    }

    /// The user token approving a device login: its key ID and organisation;
    /// otherwise the refusal (401 without a valid credential, 403 for an API key).
    pub(crate) fn device_approver(
        &self,
        headers: &HeaderMap,
    ) -> Result<(String, String), Box<axum::response::Response>> {
        use axum::response::IntoResponse;
        let caller = self
            .authenticate(headers, None)
            .map_err(|refusal| Box::new(refusal.into_response()))?;
        if caller.principal.kind != KeyKind::User {
            return Err(Box::new(self.forbidden(&caller).into_response()));
        }
        Ok((caller.principal.key_id, caller.principal.org))
    }

    /// Stores a new developer secret key of `org` for a device login approved by
    /// the user token `user`; its value.
    pub(crate) fn mint_device_key(&self, org: &str, user: &str) -> String {
        let mut store = self.store.lock();
        let (id, value) = store.fresh_key(KeyKind::Secret);
        store.keys.insert(keyring::Key {
            id,
            name: format!("device login ({user})"),
            kind: KeyKind::Secret,
            role: access::DEVELOPER.to_owned(),
            org: org.to_owned(),
            value: value.clone(),
            origins: Vec::new(),
            created_ms: clock::now_ms(),
            last_used_ms: None,
            revoked: None,
        });
        value
    }
}
