//! The command-line fixtures of the REST API (`--key`, `--origin`, `--agent`,
//! `--server`, `--api`, the key prefixes), checked into a [`Fixtures`].

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use super::credential::is_credential_byte;
use super::keyring::KeyKind;

/// Default prefix of the secret keys the server creates.
pub const DEFAULT_SECRET_PREFIX: &str = "ref_sk_";
/// Default prefix of the publishable keys the server creates.
pub const DEFAULT_PUBLISHABLE_PREFIX: &str = "ref_pk_";

/// Command-line arguments of the REST API served beside `/mcp`.
#[derive(clap::Args, Clone)]
pub struct RestArgs {
    /// Seeded credential (repeatable). TYPE is secret, publishable or user; ROLE is the role (developer,
    /// admin) or, for a publishable key, the agent it is bound to; VALUE may contain ':'
    #[arg(long = "key", value_name = "ID:TYPE:ROLE:ORG:VALUE")]
    pub keys: Vec<String>,
    /// Allowed browser origin of publishable key ID (repeatable)
    #[arg(long = "origin", value_name = "ID=ORIGIN")]
    pub origins: Vec<String>,
    /// Seeded agent of an organisation (repeatable)
    #[arg(long = "agent", value_name = "ORG:AGENT_ID")]
    pub agents: Vec<String>,
    /// Seeded MCP server record of an organisation (repeatable)
    #[arg(long = "server", value_name = "ORG:SERVER_ID")]
    pub servers: Vec<String>,
    /// Seeded API of an organisation (host API, repeatable)
    #[arg(long = "api", value_name = "ORG:API_ID")]
    pub apis: Vec<String>,
    /// Browser origin allowed to call the REST API with credentials, and to send requests to /mcp
    /// (repeatable; exact serialized origin such as https://app.example.test)
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// Prefix of the secret keys the server creates
    #[arg(long, default_value = DEFAULT_SECRET_PREFIX)]
    pub secret_prefix: String,
    /// Prefix of the publishable keys the server creates
    #[arg(long, default_value = DEFAULT_PUBLISHABLE_PREFIX)]
    pub publishable_prefix: String,
    /// The device-authorization host (`/public/device/…`).
    #[command(flatten)]
    pub device: crate::device::DeviceArgs,
}

impl Default for RestArgs {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            origins: Vec::new(),
            agents: Vec::new(),
            servers: Vec::new(),
            apis: Vec::new(),
            cors_origins: Vec::new(),
            secret_prefix: DEFAULT_SECRET_PREFIX.to_owned(),
            publishable_prefix: DEFAULT_PUBLISHABLE_PREFIX.to_owned(),
            device: Default::default(),
        }
    }
}

impl fmt::Debug for RestArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key values.
        f.debug_struct("RestArgs")
            .field("keys", &format_args!("<{} redacted>", self.keys.len()))
            .field("origins", &self.origins)
            .field("agents", &self.agents)
            .field("servers", &self.servers)
            .field("apis", &self.apis)
            .field("cors_origins", &self.cors_origins)
            .field("secret_prefix", &self.secret_prefix)
            .field("publishable_prefix", &self.publishable_prefix)
            .field("device", &self.device)
            .finish()
    }
}

/// A command-line argument that is well-formed for clap but not usable
/// (bad `--key` syntax, unknown key in `--origin`, duplicate IDs…); the binary
/// exits with status 2. The message never contains a key value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidArgs(pub String);

impl fmt::Display for InvalidArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidArgs {}

fn invalid(message: String) -> InvalidArgs {
    InvalidArgs(message)
}

/// A seeded credential.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SeedKey {
    pub id: String,
    pub kind: KeyKind,
    /// The role, or the agent of a publishable key.
    pub role: String,
    pub org: String,
    pub value: String,
    pub origins: Vec<String>,
}

/// The checked fixtures.
#[derive(Default)]
pub(crate) struct Fixtures {
    pub orgs: BTreeSet<String>,
    pub keys: Vec<SeedKey>,
    /// `(org, id)` of each seeded agent, server and API.
    pub agents: Vec<(String, String)>,
    pub servers: Vec<(String, String)>,
    pub apis: Vec<(String, String)>,
    pub secret_prefix: String,
    pub publishable_prefix: String,
}

/// Whether every byte of `s` is visible ASCII (0x21..=0x7E) and `s` is not empty.
pub(crate) fn is_visible_ascii(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..=0x7E).contains(&b))
}

fn parse_key(n: usize, spec: &str) -> Result<SeedKey, InvalidArgs> {
    let fields: Vec<&str> = spec.splitn(5, ':').collect();
    let [id, kind, role, org, value] = fields[..] else {
        return Err(invalid(format!(
            "--key #{n}: expected ID:TYPE:ROLE:ORG:VALUE, got {} field(s)",
            fields.len()
        )));
    };
    let kind = KeyKind::parse(kind).ok_or_else(|| {
        invalid(format!(
            "--key {id}: TYPE must be secret, publishable or user, not {kind:?}"
        ))
    })?;
    for (what, field) in [("ID", id), ("ROLE", role), ("ORG", org)] {
        if !is_visible_ascii(field) {
            return Err(invalid(format!(
                "--key #{n}: {what} must be non-empty visible ASCII"
            )));
        }
    }
    if value.is_empty() || !value.bytes().all(is_credential_byte) {
        return Err(invalid(format!(
            "--key {id}: VALUE must be non-empty visible ASCII (0x21..0x7E) without ','"
        )));
    }
    Ok(SeedKey {
        id: id.to_owned(),
        kind,
        role: role.to_owned(),
        org: org.to_owned(),
        value: value.to_owned(),
        origins: Vec::new(),
    })
}

fn parse_org_object(flag: &str, spec: &str) -> Result<(String, String), InvalidArgs> {
    match spec.split_once(':') {
        Some((org, id)) if is_visible_ascii(org) && is_visible_ascii(id) && !id.contains(':') => {
            Ok((org.to_owned(), id.to_owned()))
        }
        _ => Err(invalid(format!(
            "{flag} {spec:?}: expected ORG:ID (both non-empty visible ASCII)"
        ))),
    }
}

fn unique<'a>(flag: &str, ids: impl IntoIterator<Item = &'a str>) -> Result<(), InvalidArgs> {
    let mut seen = HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(invalid(format!("{flag}: ID {id:?} is given twice")));
        }
    }
    Ok(())
}

fn add_origins(keys: &mut [SeedKey], origins: &[String]) -> Result<(), InvalidArgs> {
    for spec in origins {
        let Some((id, origin)) = spec.split_once('=') else {
            return Err(invalid(format!("--origin {spec:?}: expected ID=ORIGIN")));
        };
        if !is_visible_ascii(origin) {
            return Err(invalid(format!(
                "--origin {id}: ORIGIN must be non-empty visible ASCII"
            )));
        }
        let key = keys
            .iter_mut()
            .find(|k| k.id == id && k.kind == KeyKind::Publishable)
            .ok_or_else(|| invalid(format!("--origin {id}: no publishable --key {id}")))?;
        key.origins.push(origin.to_owned());
    }
    Ok(())
}

/// The `--cors-origin` values (each non-empty visible ASCII), matched as given.
pub(crate) fn cors_origins(args: &RestArgs) -> Result<Vec<String>, InvalidArgs> {
    match args.cors_origins.iter().find(|o| !is_visible_ascii(o)) {
        Some(bad) => Err(invalid(format!(
            "--cors-origin {bad:?}: ORIGIN must be non-empty visible ASCII"
        ))),
        None => Ok(args.cors_origins.clone()),
    }
}

fn check_prefixes(secret: &str, publishable: &str) -> Result<(), InvalidArgs> {
    if !is_visible_ascii(secret) || !is_visible_ascii(publishable) {
        return Err(invalid(
            "--secret-prefix and --publishable-prefix must be non-empty visible ASCII".into(),
        ));
    }
    if secret.starts_with(publishable) || publishable.starts_with(secret) {
        return Err(invalid(
            "--secret-prefix and --publishable-prefix must differ (neither a prefix of the other)"
                .into(),
        ));
    }
    Ok(())
}

impl Fixtures {
    /// Checks the arguments. Organisations exist when mentioned anywhere; the
    /// agent of a publishable key is an agent of the key's organisation.
    pub(crate) fn parse(args: &RestArgs) -> Result<Fixtures, InvalidArgs> {
        check_prefixes(&args.secret_prefix, &args.publishable_prefix)?;
        let mut keys = (1..)
            .zip(&args.keys)
            .map(|(n, spec)| parse_key(n, spec))
            .collect::<Result<Vec<_>, _>>()?;
        unique("--key", keys.iter().map(|k| k.id.as_str()))?;
        if keys.iter().map(|k| &k.value).collect::<HashSet<_>>().len() != keys.len() {
            return Err(invalid("--key: two keys have the same VALUE".into()));
        }
        add_origins(&mut keys, &args.origins)?;
        let objects = |flag: &str, specs: &[String]| {
            let parsed = specs
                .iter()
                .map(|s| parse_org_object(flag, s))
                .collect::<Result<Vec<_>, _>>()?;
            unique(flag, parsed.iter().map(|(_, id)| id.as_str()))?;
            Ok::<_, InvalidArgs>(parsed)
        };
        let mut fixtures = Fixtures {
            agents: objects("--agent", &args.agents)?,
            servers: objects("--server", &args.servers)?,
            apis: objects("--api", &args.apis)?,
            secret_prefix: args.secret_prefix.clone(),
            publishable_prefix: args.publishable_prefix.clone(),
            ..Fixtures::default()
        };
        fixtures.bind_publishable_agents(&keys)?;
        fixtures.keys = keys;
        fixtures.collect_orgs();
        Ok(fixtures)
    }

    /// Adds the agent of each publishable key to its organisation (refusing an
    /// agent ID that belongs to another organisation).
    fn bind_publishable_agents(&mut self, keys: &[SeedKey]) -> Result<(), InvalidArgs> {
        for key in keys.iter().filter(|k| k.kind == KeyKind::Publishable) {
            match self.agents.iter().find(|(_, id)| *id == key.role) {
                Some((org, _)) if *org != key.org => {
                    return Err(invalid(format!(
                        "--key {}: agent {:?} belongs to organisation {org:?}, not {:?}",
                        key.id, key.role, key.org
                    )));
                }
                Some(_) => {}
                None => self.agents.push((key.org.clone(), key.role.clone())),
            }
        }
        Ok(())
    }

    fn collect_orgs(&mut self) {
        let objects = self.agents.iter().chain(&self.servers).chain(&self.apis);
        self.orgs = objects.map(|(org, _)| org.clone()).collect();
        self.orgs.extend(self.keys.iter().map(|k| k.org.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(keys: &[&str], origins: &[&str]) -> RestArgs {
        RestArgs {
            keys: keys.iter().map(|s| s.to_string()).collect(),
            origins: origins.iter().map(|s| s.to_string()).collect(),
            ..RestArgs::default()
        }
    }

    #[test]
    fn keys_split_on_the_first_four_colons() {
        let f = Fixtures::parse(&args(
            &[
                "key-dev-a:secret:developer:org-a:ref_sk_a:b:c",
                "pk-1:publishable:agent-1:org-b:ref_pk_x",
            ],
            &["pk-1=https://app.example"],
        ))
        .unwrap();
        assert_eq!(f.keys[0].value, "ref_sk_a:b:c");
        assert_eq!(f.keys[0].kind, KeyKind::Secret);
        assert_eq!(f.keys[1].origins, ["https://app.example"]);
        assert_eq!(f.agents, [("org-b".to_owned(), "agent-1".to_owned())]);
        assert_eq!(f.orgs.len(), 2);
    }

    #[test]
    fn bad_syntax_is_refused_without_echoing_values() {
        for bad in [
            "a:secret:developer:org-a",
            "a:bogus:developer:org-a:v",
            "a:secret::org-a:v",
            "a:secret:developer:org-a:",
            "a:secret:developer:org-a:with space",
        ] {
            let err = Fixtures::parse(&args(&[bad], &[])).err().expect(bad);
            assert!(!err.0.contains("space"), "{err}");
        }
        let dup = ["a:secret:admin:o:v1", "a:secret:admin:o:v2"];
        assert!(Fixtures::parse(&args(&dup, &[])).is_err());
        let same_value = ["a:secret:admin:o:v1", "b:secret:admin:o:v1"];
        assert!(Fixtures::parse(&args(&same_value, &[])).is_err());
        let unknown_origin = Fixtures::parse(&args(&["a:secret:admin:o:v"], &["a=https://x"]));
        assert!(unknown_origin.is_err());
    }

    #[test]
    fn objects_need_org_and_id() {
        let mut a = RestArgs {
            apis: vec!["org-a:api-1".into(), "org-c:api-2".into()],
            ..RestArgs::default()
        };
        let f = Fixtures::parse(&a).unwrap();
        assert!(f.orgs.contains("org-c"));
        a.apis.push("org-a".into());
        assert!(Fixtures::parse(&a).is_err());
        a.secret_prefix = "ref_pk_".into();
        assert!(Fixtures::parse(&a).is_err());
    }
}
