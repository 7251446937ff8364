//! Principals: the identities a target provisions for testing, and how scenarios pick one by its properties
//! ("a project key", "a key of another tenant"), never by a vendor's name for it.

use crate::error::Invalid;
use crate::template::Vars;
use serde::Deserialize;
use std::collections::BTreeMap;

/// What kind of credential a principal holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalKind {
    /// An OAuth access token the mock authorization server mints.
    MintedToken,
    /// A server-side secret key bound to a principal and role.
    SecretKey,
    /// A browser-safe key restricted to origins (and often to one agent).
    PublishableKey,
    /// A key bound to one project (narrow scope).
    ProjectKey,
    /// A key bound to a partner account (broad scope).
    PartnerKey,
    /// A human's session credential.
    Session,
    /// A human member's login token (a Bearer credential with the member's role).
    UserToken,
}

impl PrincipalKind {
    /// The kebab-case name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MintedToken => "minted-token",
            Self::SecretKey => "secret-key",
            Self::PublishableKey => "publishable-key",
            Self::ProjectKey => "project-key",
            Self::PartnerKey => "partner-key",
            Self::Session => "session",
            Self::UserToken => "user-token",
        }
    }
}

/// The shortest secret the redactor replaces (shorter ones would garble ordinary text).
pub const MIN_SECRET_LEN: usize = 6;

/// Where a secret value comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// The value itself (keep test-only values here).
    pub value: Option<String>,
    /// An environment variable holding the value.
    pub env: Option<String>,
}

impl Credential {
    /// Exactly one source must be given; a literal value must be long enough to be redacted reliably.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.value.is_some() == self.env.is_some() {
            return Err(Invalid::new("", "give exactly one of `value` or `env`"));
        }
        if let Some(v) = &self.value
            && v.len() < MIN_SECRET_LEN
        {
            return Err(Invalid::new(
                "value",
                format!(
                    "a secret of fewer than {MIN_SECRET_LEN} characters cannot be told apart from ordinary text, so \
                     it could not be kept out of reports: use a longer test value"
                ),
            ));
        }
        Ok(())
    }

    /// The value, read from the environment when so declared; `None` when that variable is unset.
    pub fn resolve(&self) -> Option<String> {
        match (&self.value, &self.env) {
            (Some(v), _) => Some(v.clone()),
            (None, Some(var)) => std::env::var(var).ok(),
            _ => None,
        }
    }
}

/// A named identity of the target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    /// The kind of credential.
    pub kind: PrincipalKind,
    /// The credential (always redacted as `[KEY:NAME]`); minted tokens have none.
    pub key: Option<Credential>,
    /// Tenant: organisation, partner account, API owner.
    pub tenant: Option<String>,
    /// Role within the tenant (`developer`, `admin`, …).
    pub role: Option<String>,
    /// OAuth scopes or permissions.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Browser origins the credential is allowed from.
    #[serde(default)]
    pub origins: Vec<String>,
    /// IDs of the units (`[[units]]`) it may see.
    #[serde(default)]
    pub sees: Vec<String>,
}

impl Principal {
    /// Checks the principal against the declared units; field paths are relative to the principal.
    pub fn validate(&self, units: &[Unit]) -> Result<(), Invalid> {
        if let Some(k) = &self.key {
            k.validate().map_err(|e| e.under("key"))?;
        } else if self.kind != PrincipalKind::MintedToken {
            return Err(Invalid::new(
                "key",
                format!("a `{}` needs `key`", self.kind.as_str()),
            ));
        }
        for (i, id) in self.sees.iter().enumerate() {
            if !units.iter().any(|u| &u.id == id) {
                return Err(Invalid::new(
                    format!("sees[{i}]"),
                    format!("`{id}` is not one of the `[[units]]`"),
                ));
            }
        }
        Ok(())
    }
}

/// A unit a principal may see: a project, with where it lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    /// The ID the target's tools take.
    pub id: String,
    /// Its organisation.
    pub organization: Option<String>,
    /// Its workspace.
    pub workspace: Option<String>,
    /// The tenant (partner account, owner) it belongs to.
    pub tenant: String,
}

/// A scenario's request for a principal, by properties.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// The kind of credential.
    pub kind: Option<PrincipalKind>,
    /// The role.
    pub role: Option<String>,
    /// Same tenant as the principal another selector of the scenario picked.
    pub tenant_of: Option<String>,
    /// Another tenant than the principal another selector picked.
    pub tenant_not_of: Option<String>,
    /// Needs a unit of its own tenant that it may not see (`{principal.NAME.unseen_same_tenant}`).
    #[serde(default)]
    pub with_unseen_same_tenant: bool,
    /// Needs a unit of another tenant (`{principal.NAME.unseen_other_tenant}`).
    #[serde(default)]
    pub with_unseen_other_tenant: bool,
}

impl Selector {
    /// Names of other selectors this one refers to.
    pub fn refers_to(&self) -> impl Iterator<Item = &String> {
        self.tenant_of.iter().chain(self.tenant_not_of.iter())
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(k) = self.kind {
            parts.push(format!("kind = {}", k.as_str()));
        }
        if let Some(r) = &self.role {
            parts.push(format!("role = {r}"));
        }
        if let Some(o) = &self.tenant_of {
            parts.push(format!("the tenant of `{o}`"));
        }
        if let Some(o) = &self.tenant_not_of {
            parts.push(format!("a tenant other than `{o}`'s"));
        }
        if self.with_unseen_same_tenant {
            parts.push("a unit of its tenant it may not see".into());
        }
        if self.with_unseen_other_tenant {
            parts.push("a unit of another tenant".into());
        }
        parts.join(", ")
    }
}

/// Names of the values derived from a key, for the checks that a near miss never authenticates (APIKEY-002, HYG-008):
/// `key_drop_last`, `key_add_char`, `key_flip_case`, `key_basic` (`base64(key:)`), and, when the target
/// names its prefixes (`rest.secret_prefix`, `rest.publishable_prefix`) and the key has one,
/// `key_unprefixed`, `key_as_secret`, `key_as_publishable`, `key_double_prefix`. Each derived value is as
/// secret as the key: the runner registers it for redaction.
pub const KEY_VARIANTS: &[&str] = &[
    "key_drop_last",
    "key_add_char",
    "key_flip_case",
    "key_basic",
    "key_split",
    "key_unprefixed",
    "key_double_prefix",
    "key_as_secret",
    "key_as_publishable",
];

/// The values of [`KEY_VARIANTS`] for `key` (those that apply).
pub fn key_variants(key: &str, vars: &Vars) -> Vec<(&'static str, String)> {
    use base64::Engine as _;
    let mut out = vec![
        (
            "key_drop_last",
            key[..key.len() - key.chars().last().map_or(0, char::len_utf8)].to_string(),
        ),
        ("key_add_char", format!("{key}x")),
        ("key_flip_case", key.chars().map(flip_case).collect()),
        (
            "key_basic",
            base64::engine::general_purpose::STANDARD.encode(format!("{key}:")),
        ),
        ("key_split", split(key)),
    ];
    let prefixes = [
        vars.get("rest.secret_prefix"),
        vars.get("rest.publishable_prefix"),
    ];
    let own = prefixes
        .iter()
        .flatten()
        .find(|p| !p.is_empty() && key.starts_with(**p));
    if let Some(own) = own {
        let body = &key[own.len()..];
        out.push(("key_unprefixed", body.to_string()));
        out.push(("key_double_prefix", format!("{own}{key}")));
        for (name, p) in [
            ("key_as_secret", prefixes[0]),
            ("key_as_publishable", prefixes[1]),
        ] {
            if let Some(p) = p {
                out.push((name, format!("{p}{body}")));
            }
        }
    }
    out
}

/// The key with a space in its middle.
fn split(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let (a, b) = chars.split_at(chars.len() / 2);
    format!(
        "{} {}",
        a.iter().collect::<String>(),
        b.iter().collect::<String>()
    )
}

fn flip_case(c: char) -> char {
    if c.is_ascii_lowercase() {
        c.to_ascii_uppercase()
    } else {
        c.to_ascii_lowercase()
    }
}

/// The principals a target declares, with the units they may see.
#[derive(Debug, Clone, Copy)]
pub struct Directory<'a> {
    /// Principals by name.
    pub principals: &'a BTreeMap<String, Principal>,
    /// Units.
    pub units: &'a [Unit],
}

impl<'a> Directory<'a> {
    /// Picks a principal for every selector (in an order that resolves `tenant_of` references first), and
    /// returns their names; `Err` says which selector has no principal, for a skip reason.
    pub fn resolve(
        &self,
        selectors: &BTreeMap<String, Selector>,
    ) -> Result<BTreeMap<String, String>, String> {
        let mut picked: BTreeMap<String, String> = BTreeMap::new();
        while picked.len() < selectors.len() {
            let before = picked.len();
            for (sel_name, sel) in selectors {
                if picked.contains_key(sel_name) || sel.refers_to().any(|r| !picked.contains_key(r))
                {
                    continue;
                }
                let found = self
                    .principals
                    .iter()
                    .find(|(_, p)| self.matches(p, sel, &picked))
                    .map(|(n, _)| n.clone())
                    .ok_or_else(|| {
                        format!(
                            "the target declares no principal for `{sel_name}` ({}) with a usable key",
                            sel.describe()
                        )
                    })?;
                picked.insert(sel_name.clone(), found);
            }
            if picked.len() == before {
                return Err("principal selectors refer to each other in a cycle".into());
            }
        }
        Ok(picked)
    }

    fn tenant_of(&self, picked: &BTreeMap<String, String>, sel: &str) -> Option<&'a String> {
        let name = picked.get(sel)?;
        self.principals.get(name)?.tenant.as_ref()
    }

    fn matches(&self, p: &Principal, s: &Selector, picked: &BTreeMap<String, String>) -> bool {
        let has_key = p.key.as_ref().is_none_or(|k| k.resolve().is_some());
        has_key
            && s.kind.is_none_or(|k| k == p.kind)
            && s.role.as_ref().is_none_or(|r| p.role.as_ref() == Some(r))
            && s.tenant_of.as_ref().is_none_or(|o| {
                p.tenant.is_some() && self.tenant_of(picked, o) == p.tenant.as_ref()
            })
            && s.tenant_not_of.as_ref().is_none_or(|o| {
                p.tenant.is_some() && self.tenant_of(picked, o) != p.tenant.as_ref()
            })
            && (!s.with_unseen_same_tenant || self.unseen(p, true).is_some())
            && (!s.with_unseen_other_tenant || self.unseen(p, false).is_some())
    }

    /// The first unit (by ID) `p` may not see, of its own tenant (`same`) or of another.
    pub fn unseen(&self, p: &Principal, same: bool) -> Option<&'a Unit> {
        let mut units: Vec<&Unit> = self.units.iter().collect();
        units.sort_by(|a, b| a.id.cmp(&b.id));
        units.into_iter().find(|u| {
            !p.sees.contains(&u.id) && (p.tenant.as_deref() == Some(u.tenant.as_str())) == same
        })
    }

    /// Sets `principal.SEL.*` for every picked principal: `name`, `kind`, `key`, `tenant`, `role`, `sees`
    /// (sorted, comma-separated), `seen` (the first of them), `sees_count`, `unseen_same_tenant`, `unseen_other_tenant`.
    pub fn set_vars(&self, picked: &BTreeMap<String, String>, vars: &mut Vars) {
        for (sel, name) in picked {
            let Some(p) = self.principals.get(name) else {
                continue;
            };
            let at = |k: &str| format!("principal.{sel}.{k}");
            vars.set(at("name"), name);
            vars.set(at("kind"), p.kind.as_str());
            if let Some(key) = p.key.as_ref().and_then(Credential::resolve) {
                for (variant, value) in key_variants(&key, vars) {
                    vars.set(at(variant), value);
                }
                vars.set(at("key"), key);
            }
            if let Some(o) = p.origins.first() {
                vars.set(at("origin"), o);
            }
            let optional = [("tenant", &p.tenant), ("role", &p.role)];
            for (k, v) in optional {
                if let Some(v) = v {
                    vars.set(at(k), v);
                }
            }
            let mut sees = p.sees.clone();
            sees.sort();
            vars.set(at("sees"), sees.join(","));
            if let Some(first) = sees.first() {
                vars.set(at("seen"), first);
            }
            vars.set(at("sees_count"), sees.len().to_string());
            for (k, same) in [("unseen_same_tenant", true), ("unseen_other_tenant", false)] {
                if let Some(u) = self.unseen(p, same) {
                    vars.set(at(k), &u.id);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(id: &str, tenant: &str) -> Unit {
        Unit {
            id: id.into(),
            organization: None,
            workspace: None,
            tenant: tenant.into(),
        }
    }

    fn principal(kind: PrincipalKind, tenant: &str, sees: &[&str]) -> Principal {
        Principal {
            kind,
            key: Some(Credential {
                value: Some(format!("k-{tenant}-{}", sees.join(""))),
                env: None,
            }),
            tenant: Some(tenant.into()),
            role: None,
            scopes: vec![],
            origins: vec![],
            sees: sees.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn fixture() -> (BTreeMap<String, Principal>, Vec<Unit>) {
        let units = vec![unit("P1", "a"), unit("P2", "a"), unit("P9", "b")];
        let principals = [
            (
                "partner-a",
                principal(PrincipalKind::PartnerKey, "a", &["P1", "P2"]),
            ),
            (
                "project-p1",
                principal(PrincipalKind::ProjectKey, "a", &["P1"]),
            ),
            (
                "project-p9",
                principal(PrincipalKind::ProjectKey, "b", &["P9"]),
            ),
        ]
        .into_iter()
        .map(|(n, p)| (n.to_string(), p))
        .collect();
        (principals, units)
    }

    fn sel(kind: PrincipalKind) -> Selector {
        Selector {
            kind: Some(kind),
            ..Default::default()
        }
    }

    #[test]
    fn picks_by_kind_and_tenant_relations() {
        let (principals, units) = fixture();
        let dir = Directory {
            principals: &principals,
            units: &units,
        };
        let mut wanted = BTreeMap::new();
        wanted.insert("narrow".to_string(), sel(PrincipalKind::ProjectKey));
        wanted.insert(
            "other".to_string(),
            Selector {
                tenant_not_of: Some("narrow".into()),
                ..sel(PrincipalKind::ProjectKey)
            },
        );
        let picked = dir.resolve(&wanted).unwrap();
        assert_eq!(picked["narrow"], "project-p1");
        assert_eq!(picked["other"], "project-p9");
        let mut vars = Vars::default();
        dir.set_vars(&picked, &mut vars);
        assert_eq!(vars.get("principal.narrow.sees"), Some("P1"));
        assert_eq!(vars.get("principal.narrow.unseen_same_tenant"), Some("P2"));
        assert_eq!(vars.get("principal.narrow.unseen_other_tenant"), Some("P9"));
        assert_eq!(vars.get("principal.other.unseen_same_tenant"), None);
    }

    #[test]
    fn a_missing_principal_is_a_reason_and_cycles_are_caught() {
        let (principals, units) = fixture();
        let dir = Directory {
            principals: &principals,
            units: &units,
        };
        let wanted = [("pub".to_string(), sel(PrincipalKind::PublishableKey))].into();
        let why = dir.resolve(&wanted).unwrap_err();
        assert!(why.contains("kind = publishable-key"), "{why}");
        let cyc: BTreeMap<String, Selector> = [
            (
                "x".to_string(),
                Selector {
                    tenant_of: Some("y".into()),
                    ..Default::default()
                },
            ),
            (
                "y".to_string(),
                Selector {
                    tenant_of: Some("x".into()),
                    ..Default::default()
                },
            ),
        ]
        .into();
        assert!(dir.resolve(&cyc).unwrap_err().contains("cycle"));
    }

    #[test]
    fn validation_rules() {
        let units = vec![unit("P1", "a")];
        let mut p = principal(PrincipalKind::ProjectKey, "a", &["P7"]);
        assert_eq!(p.validate(&units).unwrap_err().field, "sees[0]");
        p.sees.clear();
        p.key = None;
        assert_eq!(p.validate(&units).unwrap_err().field, "key");
        p.key = Some(Credential {
            value: Some("v".into()),
            env: Some("E".into()),
        });
        assert_eq!(p.validate(&units).unwrap_err().field, "key");
        p.key = Some(Credential {
            value: Some("k1".into()),
            env: None,
        });
        assert_eq!(
            p.validate(&units).unwrap_err().field,
            "key.value",
            "too short to redact"
        );
        p.kind = PrincipalKind::MintedToken;
        p.key = None;
        assert!(p.validate(&units).is_ok());
    }

    #[test]
    fn env_keys_that_are_unset_do_not_match() {
        let (mut principals, units) = fixture();
        for p in principals.values_mut() {
            p.key = Some(Credential {
                value: None,
                env: Some("AUTHCONFORM_TEST_SURELY_UNSET_VAR".into()),
            });
        }
        let dir = Directory {
            principals: &principals,
            units: &units,
        };
        let wanted = [("n".to_string(), sel(PrincipalKind::ProjectKey))].into();
        assert!(dir.resolve(&wanted).is_err());
    }
}
