//! The principal store shared by the REST API and the MCP endpoint:
//! organisations, credentials, MCP server records, agents and APIs.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rand::RngExt as _;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

use super::clock::now_ms;
use super::config::Fixtures;
use super::keyring::{Key, KeyKind, Keyring};

/// A named object of an organisation (an MCP server record or an agent).
pub(crate) struct Object {
    pub org: String,
    pub id: String,
    pub name: String,
}

impl Object {
    /// `{id, name}`.
    pub(crate) fn record(&self) -> Value {
        json!({ "id": self.id, "name": self.name })
    }
}

/// An API of the host API, owned by one organisation.
pub(crate) struct Api {
    pub org: String,
    pub id: String,
    pub version: u64,
    pub rebuilds: u64,
}

/// The kinds of named objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectKind {
    /// MCP server records (`srv-…`).
    Server,
    /// Agents (`agent-…`).
    Agent,
}

impl ObjectKind {
    fn id_prefix(self) -> &'static str {
        match self {
            ObjectKind::Server => "srv-",
            ObjectKind::Agent => "agent-",
        }
    }
}

/// Everything the store holds.
pub(crate) struct Inner {
    pub orgs: BTreeSet<String>,
    pub keys: Keyring,
    pub servers: Vec<Object>,
    pub agents: Vec<Object>,
    pub apis: Vec<Api>,
}

/// The store: one lock around [`Inner`].
pub(crate) struct Store(Mutex<Inner>);

/// `len` random alphanumeric characters.
pub(crate) fn random_alphanumeric(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// `len` random lowercase hex digits.
fn random_hex(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

fn seeded_objects(list: &[(String, String)]) -> Vec<Object> {
    list.iter()
        .map(|(org, id)| Object {
            org: org.clone(),
            id: id.clone(),
            name: id.clone(),
        })
        .collect()
}

impl Store {
    /// The store holding the fixtures; seeded keys are named by their ID.
    pub(crate) fn new(fixtures: Fixtures) -> Store {
        let mut keys = Keyring::new(fixtures.secret_prefix, fixtures.publishable_prefix);
        let created_ms = now_ms();
        for seed in fixtures.keys {
            keys.insert(Key {
                name: seed.id.clone(),
                id: seed.id,
                kind: seed.kind,
                role: seed.role,
                org: seed.org,
                value: seed.value,
                origins: seed.origins,
                created_ms,
                last_used_ms: None,
                revoked: None,
            });
        }
        let apis = fixtures.apis.iter().map(|(org, id)| Api {
            org: org.clone(),
            id: id.clone(),
            version: 1,
            rebuilds: 0,
        });
        Store(Mutex::new(Inner {
            orgs: fixtures.orgs,
            keys,
            servers: seeded_objects(&fixtures.servers),
            agents: seeded_objects(&fixtures.agents),
            apis: apis.collect(),
        }))
    }

    /// Locks the store (a panic elsewhere does not poison it for good).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    /// The objects of `kind`.
    pub(crate) fn objects(&self, kind: ObjectKind) -> &Vec<Object> {
        match kind {
            ObjectKind::Server => &self.servers,
            ObjectKind::Agent => &self.agents,
        }
    }

    fn objects_mut(&mut self, kind: ObjectKind) -> &mut Vec<Object> {
        match kind {
            ObjectKind::Server => &mut self.servers,
            ObjectKind::Agent => &mut self.agents,
        }
    }

    /// The object `id` of `org`.
    pub(crate) fn object(&self, kind: ObjectKind, org: &str, id: &str) -> Option<&Object> {
        self.objects(kind)
            .iter()
            .find(|o| o.org == org && o.id == id)
    }

    /// The organisation of the object `id`, whichever it is.
    pub(crate) fn owner(&self, kind: ObjectKind, id: &str) -> Option<&str> {
        self.objects(kind)
            .iter()
            .find(|o| o.id == id)
            .map(|o| o.org.as_str())
    }

    /// Creates an object with a fresh ID; its record.
    pub(crate) fn create_object(&mut self, kind: ObjectKind, org: &str, name: String) -> Value {
        let id = loop {
            let id = format!("{}{}", kind.id_prefix(), random_hex(8));
            if !self.objects(kind).iter().any(|o| o.id == id) {
                break id;
            }
        };
        let object = Object {
            org: org.to_owned(),
            id,
            name,
        };
        let record = object.record();
        self.objects_mut(kind).push(object);
        record
    }

    /// Deletes the object `id` of `org`; false when there is none.
    pub(crate) fn delete_object(&mut self, kind: ObjectKind, org: &str, id: &str) -> bool {
        let objects = self.objects_mut(kind);
        let before = objects.len();
        objects.retain(|o| !(o.org == org && o.id == id));
        objects.len() != before
    }

    /// The API `id`, whoever owns it.
    pub(crate) fn api_mut(&mut self, id: &str) -> Option<&mut Api> {
        self.apis.iter_mut().find(|a| a.id == id)
    }

    /// A fresh key ID and value for a key of `kind`.
    pub(crate) fn fresh_key(&self, kind: KeyKind) -> (String, String) {
        loop {
            let id = format!("key-{}", random_hex(8));
            let value = format!("{}{}", self.keys.prefix(kind), random_alphanumeric(32));
            if !self.keys.taken(&id) && !self.keys.taken(&value) {
                return (id, value);
            }
        }
    }
}
