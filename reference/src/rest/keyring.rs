//! The credentials of the principal store: secret keys, publishable keys and
//! user tokens, how they are looked up, revoked, created and shown.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::clock::{now_ms, rfc3339_ms};
use super::credential::{Presented, Source};
use crate::faults::{Fault, Faults};

/// How long a revoked key keeps working under the `revocation-lag` fault.
const REVOCATION_LAG: Duration = Duration::from_millis(1500);
/// Role of a principal that the `prefix-decides-type` fault turns into a secret key.
const DEVELOPER: &str = "developer";

/// The type of a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// A server-side API key with a role.
    Secret,
    /// A browser key bound to one agent.
    Publishable,
    /// A human member's login token (Bearer only).
    User,
}

impl KeyKind {
    /// Parses `secret`, `publishable` or `user`.
    pub(crate) fn parse(s: &str) -> Option<KeyKind> {
        match s {
            "secret" => Some(KeyKind::Secret),
            "publishable" => Some(KeyKind::Publishable),
            "user" => Some(KeyKind::User),
            _ => None,
        }
    }

    /// The name used in records.
    pub(crate) fn name(self) -> &'static str {
        match self {
            KeyKind::Secret => "secret",
            KeyKind::Publishable => "publishable",
            KeyKind::User => "user",
        }
    }
}

/// One stored credential.
pub(crate) struct Key {
    pub id: String,
    pub name: String,
    pub kind: KeyKind,
    /// The role; for a publishable key, the agent it is bound to.
    pub role: String,
    pub org: String,
    pub value: String,
    pub origins: Vec<String>,
    pub created_ms: u64,
    pub last_used_ms: Option<u64>,
    pub revoked: Option<Instant>,
}

/// Who a credential authenticated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principal {
    pub key_id: String,
    pub kind: KeyKind,
    pub org: String,
    /// The role of a secret key or user token (empty for a publishable key).
    pub role: String,
    /// The agent of a publishable key (`None`: bound to no agent).
    pub agent: Option<String>,
    /// The allowed origins of a publishable key.
    pub origins: Vec<String>,
}

impl Key {
    fn principal(&self) -> Principal {
        let publishable = self.kind == KeyKind::Publishable;
        Principal {
            key_id: self.id.clone(),
            kind: self.kind,
            org: self.org.clone(),
            role: if publishable {
                String::new()
            } else {
                self.role.clone()
            },
            agent: publishable.then(|| self.role.clone()),
            origins: self.origins.clone(),
        }
    }

    /// Whether the key authenticates at `now` (revocation, with the faults).
    fn authenticates(&self, now: Instant, faults: &Faults) -> bool {
        match self.revoked {
            None => true,
            Some(_) if faults.has(Fault::AcceptRevoked) => true,
            Some(at) => faults.has(Fault::RevocationLag) && now < at + REVOCATION_LAG,
        }
    }

    /// Whether the key is listed as active.
    fn active(&self, faults: &Faults) -> bool {
        self.revoked.is_none() || faults.has(Fault::AcceptRevoked)
    }

    /// The record shown by listings and reads; `show_value` adds the value of a secret key.
    pub(crate) fn record(&self, show_value: bool) -> Value {
        // The last 4 characters, unless that would show half of a short value.
        let hint = match self.value.len() {
            0..8 => "",
            len => &self.value[len - 4..],
        };
        let mut record = json!({
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "type": self.kind.name(),
            "hint": hint,
            "created_at": rfc3339_ms(self.created_ms),
            "last_used_at": self.last_used_ms.map(rfc3339_ms),
        });
        if self.kind == KeyKind::Publishable {
            record["role"] = Value::Null;
            record["agent"] = json!(self.role);
            record["origins"] = json!(self.origins);
        }
        if show_value || self.kind == KeyKind::Publishable {
            record["key"] = json!(self.value);
        }
        record
    }
}

/// All credentials, with the prefixes of created keys.
pub(crate) struct Keyring {
    keys: Vec<Key>,
    secret_prefix: String,
    publishable_prefix: String,
}

impl Keyring {
    /// An empty keyring creating keys with these prefixes.
    pub(crate) fn new(secret_prefix: String, publishable_prefix: String) -> Self {
        Self {
            keys: Vec::new(),
            secret_prefix,
            publishable_prefix,
        }
    }

    /// The prefix of created keys of `kind`.
    pub(crate) fn prefix(&self, kind: KeyKind) -> &str {
        match kind {
            KeyKind::Publishable => &self.publishable_prefix,
            _ => &self.secret_prefix,
        }
    }

    /// Adds a key (IDs and values are unique: callers check).
    pub(crate) fn insert(&mut self, key: Key) {
        self.keys.push(key);
    }

    /// Whether a key has this ID or value.
    pub(crate) fn taken(&self, id_or_value: &str) -> bool {
        self.keys
            .iter()
            .any(|k| k.id == id_or_value || k.value == id_or_value)
    }

    /// The keys of `org` listed as API keys (user tokens are not API keys).
    pub(crate) fn listed<'a>(
        &'a self,
        org: &'a str,
        faults: &'a Faults,
    ) -> impl Iterator<Item = &'a Key> + 'a {
        self.keys
            .iter()
            .filter(move |k| k.org == org && k.kind != KeyKind::User && k.active(faults))
    }

    /// The active publishable keys (with their agents and origins).
    pub(crate) fn publishable<'a>(
        &'a self,
        faults: &'a Faults,
    ) -> impl Iterator<Item = &'a Key> + 'a {
        self.keys
            .iter()
            .filter(move |k| k.kind == KeyKind::Publishable && k.active(faults))
    }

    /// The organisation of the key `id`, whichever it is.
    pub(crate) fn owner(&self, id: &str) -> Option<&str> {
        self.keys
            .iter()
            .find(|k| k.id == id)
            .map(|k| k.org.as_str())
    }

    /// The listed key `id` of `org`.
    pub(crate) fn get(&self, org: &str, id: &str, faults: &Faults) -> Option<&Key> {
        self.keys
            .iter()
            .find(|k| k.org == org && k.id == id && k.kind != KeyKind::User && k.active(faults))
    }

    /// Revokes the listed key `id` of `org`; false when there is none.
    pub(crate) fn revoke(&mut self, org: &str, id: &str, faults: &Faults) -> bool {
        let Some(key) = self
            .keys
            .iter_mut()
            .find(|k| k.org == org && k.id == id && k.kind != KeyKind::User && k.active(faults))
        else {
            return false;
        };
        key.revoked.get_or_insert_with(Instant::now);
        true
    }

    /// Authenticates a presented credential: the principal, with the key's
    /// `last_used_at` advanced; `None` for unknown, revoked or misplaced credentials.
    pub(crate) fn authenticate(
        &mut self,
        presented: &Presented,
        faults: &Faults,
    ) -> Option<Principal> {
        // The fault is asked only where the prefix would find another key or principal than the value.
        let exact = self.lookup_exact(&presented.value);
        let by_prefix = self
            .lookup_by_prefix(&presented.value)
            .or_else(|| exact.clone());
        let (index, principal) = if by_prefix != exact && faults.has(Fault::PrefixDecidesType) {
            by_prefix?
        } else {
            exact?
        };
        let key = &mut self.keys[index];
        let bearer_only = key.kind == KeyKind::User && presented.source == Source::ApiKeyHeader;
        if bearer_only || !key.authenticates(Instant::now(), faults) {
            return None;
        }
        let now = now_ms();
        key.last_used_ms = Some(key.last_used_ms.map_or(now, |prev| now.max(prev + 1)));
        Some(principal)
    }

    fn lookup_exact(&self, value: &str) -> Option<(usize, Principal)> {
        let index = self.keys.iter().position(|k| k.value == value)?;
        Some((index, self.keys[index].principal()))
    }

    /// The `prefix-decides-type` fault: the type comes from the presented
    /// prefix and the key is found by the rest of the value.
    fn lookup_by_prefix(&self, value: &str) -> Option<(usize, Principal)> {
        let (kind, body) = self.split_prefix(value)?;
        let index = self.keys.iter().position(|k| {
            k.kind != KeyKind::User && self.split_prefix(&k.value).is_some_and(|(_, b)| b == body)
        })?;
        let key = &self.keys[index];
        let mut principal = key.principal();
        if key.kind != kind {
            principal.kind = kind;
            principal.role = if kind == KeyKind::Secret {
                DEVELOPER.to_owned()
            } else {
                String::new()
            };
            principal.agent = None;
            principal.origins = Vec::new();
        }
        Some((index, principal))
    }

    fn split_prefix<'v>(&self, value: &'v str) -> Option<(KeyKind, &'v str)> {
        [KeyKind::Secret, KeyKind::Publishable]
            .into_iter()
            .find_map(|kind| Some((kind, value.strip_prefix(self.prefix(kind))?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, kind: KeyKind, role: &str, value: &str) -> Key {
        Key {
            id: id.into(),
            name: id.into(),
            kind,
            role: role.into(),
            org: "org-a".into(),
            value: value.into(),
            origins: vec!["https://app.example".into()],
            created_ms: 0,
            last_used_ms: None,
            revoked: None,
        }
    }

    fn keyring() -> Keyring {
        let mut ring = Keyring::new("ref_sk_".into(), "ref_pk_".into());
        ring.insert(key("sk", KeyKind::Secret, "admin", "ref_sk_AAAA1234"));
        ring.insert(key(
            "pk",
            KeyKind::Publishable,
            "agent-1",
            "ref_pk_BBBB5678",
        ));
        ring.insert(key("user", KeyKind::User, "developer", "usr_tok_1"));
        ring
    }

    fn presented(source: Source, value: &str) -> Presented {
        Presented {
            source,
            value: value.into(),
        }
    }

    fn faults(names: &[&str]) -> Faults {
        Faults::parse(names).unwrap()
    }

    #[test]
    fn lookup_is_by_exact_value_and_users_are_bearer_only() {
        let mut ring = keyring();
        let none = faults(&[]);
        let sk = ring.authenticate(&presented(Source::ApiKeyHeader, "ref_sk_AAAA1234"), &none);
        assert_eq!(sk.unwrap().role, "admin");
        for wrong in [
            "ref_sk_AAAA123",
            "ref_sk_AAAA12345",
            "REF_SK_AAAA1234",
            "AAAA1234",
        ] {
            assert!(
                ring.authenticate(&presented(Source::Bearer, wrong), &none)
                    .is_none()
            );
        }
        let pk = ring.authenticate(&presented(Source::Bearer, "ref_pk_BBBB5678"), &none);
        assert_eq!(pk.unwrap().agent.as_deref(), Some("agent-1"));
        assert!(
            ring.authenticate(&presented(Source::ApiKeyHeader, "usr_tok_1"), &none)
                .is_none()
        );
        let user = ring.authenticate(&presented(Source::Bearer, "usr_tok_1"), &none);
        assert_eq!(user.unwrap().kind, KeyKind::User);
    }

    #[test]
    fn last_used_is_strictly_increasing() {
        let mut ring = keyring();
        let none = faults(&[]);
        let sk = presented(Source::Bearer, "ref_sk_AAAA1234");
        let mut previous = None;
        for _ in 0..5 {
            ring.authenticate(&sk, &none).unwrap();
            let used = ring.get("org-a", "sk", &none).unwrap().last_used_ms;
            assert!(used > previous, "{used:?} after {previous:?}");
            previous = used;
        }
        assert_eq!(ring.get("org-a", "pk", &none).unwrap().last_used_ms, None);
    }

    #[test]
    fn revocation_and_its_faults() {
        let sk = presented(Source::ApiKeyHeader, "ref_sk_AAAA1234");
        for (names, works, listed) in [
            (&[][..], false, false),
            (&["accept-revoked"][..], true, true),
            (&["revocation-lag"][..], true, false),
        ] {
            let f = faults(names);
            let mut ring = keyring();
            assert!(ring.revoke("org-a", "sk", &f));
            assert_eq!(ring.authenticate(&sk, &f).is_some(), works, "{names:?}");
            assert_eq!(ring.get("org-a", "sk", &f).is_some(), listed, "{names:?}");
        }
        let mut ring = keyring();
        assert!(!ring.revoke("org-b", "sk", &faults(&[])));
        assert!(!ring.revoke("org-a", "user", &faults(&[])));
        assert!(ring.authenticate(&sk, &faults(&[])).is_some());
    }

    #[test]
    fn records_hide_secret_values() {
        let ring = keyring();
        let none = faults(&[]);
        let sk = ring.get("org-a", "sk", &none).unwrap().record(false);
        assert_eq!(sk["hint"], "1234");
        assert!(sk.get("key").is_none());
        assert!(!sk.to_string().contains("AAAA"));
        let pk = ring.get("org-a", "pk", &none).unwrap().record(false);
        assert_eq!(pk["key"], "ref_pk_BBBB5678");
        assert_eq!(pk["agent"], "agent-1");
        assert!(pk["role"].is_null());
        assert_eq!(ring.listed("org-a", &none).count(), 2);
        let short = key("short", KeyKind::Secret, "admin", "sk_12345");
        assert_eq!(short.record(false)["hint"], "2345");
        let shorter = key("shorter", KeyKind::Secret, "admin", "sk_1234");
        assert_eq!(shorter.record(false)["hint"], "");
    }

    #[test]
    fn prefix_decides_type_under_its_fault() {
        let mut ring = keyring();
        let fault = faults(&["prefix-decides-type"]);
        let swapped = presented(Source::ApiKeyHeader, "ref_sk_BBBB5678");
        assert!(ring.authenticate(&swapped, &faults(&[])).is_none());
        let as_secret = ring.authenticate(&swapped, &fault).unwrap();
        assert_eq!(as_secret.kind, KeyKind::Secret);
        assert_eq!(as_secret.role, DEVELOPER);
        assert_eq!(as_secret.key_id, "pk");
        let reverse = presented(Source::ApiKeyHeader, "ref_pk_AAAA1234");
        let as_publishable = ring.authenticate(&reverse, &fault).unwrap();
        assert_eq!(as_publishable.kind, KeyKind::Publishable);
        assert_eq!(as_publishable.agent, None);
        let normal = presented(Source::Bearer, "ref_sk_AAAA1234");
        assert_eq!(ring.authenticate(&normal, &fault).unwrap().role, "admin");
    }
}
