//! What `connect` keeps between runs, in the CLI's private folder (0700, files
//! 0600, replaced atomically): tokens keyed by the canonical server URI and the
//! issuer of the AS that issued them (`mcp-tokens.json`), and dynamically
//! registered clients keyed by AS issuer (`mcp-clients.json`).

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cli::CliError;
use crate::cli::store::{config_dir, create_private_dir, write_new};

/// File of the tokens.
pub(crate) const TOKENS_FILE: &str = "mcp-tokens.json";
/// File of the client registrations.
pub(crate) const CLIENTS_FILE: &str = "mcp-clients.json";
/// The resource key of every token under the `token-to-other-host` fault.
const ANY_SERVER: &str = "*";

/// A token set for one server from one AS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredToken {
    /// The canonical server URI it was issued for.
    pub(crate) resource: String,
    /// The issuer of the AS that issued it.
    pub(crate) issuer: String,
    /// The access token.
    pub(crate) access_token: String,
    /// The refresh token, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) refresh_token: Option<String>,
    /// The scope requested (space-separated), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) scope: Option<String>,
}

/// A client registered at one AS (RFC 7591).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Registration {
    /// The issuer of the AS it is registered at.
    pub(crate) issuer: String,
    /// `client_id`.
    pub(crate) client_id: String,
    /// `client_secret`, if issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) client_secret: Option<String>,
    /// The token endpoint authentication method registered.
    pub(crate) auth_method: String,
    /// The redirect URI registered.
    pub(crate) redirect_uri: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Tokens {
    #[serde(default)]
    tokens: Vec<StoredToken>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Clients {
    #[serde(default)]
    clients: Vec<Registration>,
}

/// The stores of one run.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    dir: PathBuf,
    /// The `token-to-other-host` fault: every token is filed under one key.
    one_for_all: bool,
}

impl Store {
    /// The stores in the CLI's folder.
    pub(crate) fn open(one_for_all: bool) -> Result<Self, CliError> {
        let dir = config_dir().ok_or_else(|| {
            CliError::failure("no place for the token store: set HOME or XDG_CONFIG_HOME")
        })?;
        Ok(Self::at(dir, one_for_all))
    }

    /// The stores in `dir`.
    pub(crate) fn at(dir: PathBuf, one_for_all: bool) -> Self {
        Self { dir, one_for_all }
    }

    /// The key a token for `resource` is filed under.
    fn key<'a>(&self, resource: &'a str) -> &'a str {
        if self.one_for_all {
            ANY_SERVER
        } else {
            resource
        }
    }

    /// The latest token for `resource` (from any AS).
    pub(crate) fn token(&self, resource: &str) -> Result<Option<StoredToken>, CliError> {
        let key = self.key(resource);
        let all: Tokens = self.read(TOKENS_FILE)?;
        Ok(all.tokens.into_iter().rev().find(|t| t.resource == key))
    }

    /// Files `token`, replacing the one for the same server and AS.
    pub(crate) fn save_token(&self, mut token: StoredToken) -> Result<(), CliError> {
        token.resource = self.key(&token.resource).to_owned();
        let mut all: Tokens = self.read(TOKENS_FILE)?;
        all.tokens
            .retain(|t| !(t.resource == token.resource && t.issuer == token.issuer));
        all.tokens.push(token);
        self.write(TOKENS_FILE, &all)
    }

    /// Forgets the token for `resource` from `issuer`.
    pub(crate) fn remove_token(&self, resource: &str, issuer: &str) -> Result<(), CliError> {
        let key = self.key(resource);
        let mut all: Tokens = self.read(TOKENS_FILE)?;
        all.tokens
            .retain(|t| !(t.resource == key && t.issuer == issuer));
        self.write(TOKENS_FILE, &all)
    }

    /// The client registered at `issuer`.
    pub(crate) fn registration(&self, issuer: &str) -> Result<Option<Registration>, CliError> {
        let all: Clients = self.read(CLIENTS_FILE)?;
        Ok(all.clients.into_iter().find(|c| c.issuer == issuer))
    }

    /// Files `registration`, replacing the one at the same AS.
    pub(crate) fn save_registration(&self, registration: Registration) -> Result<(), CliError> {
        let mut all: Clients = self.read(CLIENTS_FILE)?;
        all.clients.retain(|c| c.issuer != registration.issuer);
        all.clients.push(registration);
        self.write(CLIENTS_FILE, &all)
    }

    fn read<T: Default + for<'de> Deserialize<'de>>(&self, name: &str) -> Result<T, CliError> {
        let path = self.dir.join(name);
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|_| {
                CliError::failure(format!(
                    "{} is damaged; remove it to start over",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(e) => Err(io_error("read", &path, &e)),
        }
    }

    fn write<T: Serialize>(&self, name: &str, value: &T) -> Result<(), CliError> {
        let path = self.dir.join(name);
        create_private_dir(&self.dir).map_err(|e| io_error("create", &self.dir, &e))?;
        let body = serde_json::to_vec_pretty(value)
            .map_err(|e| CliError::failure(format!("cannot encode {name}: {e}")))?;
        let tmp = path.with_extension(format!("json.tmp-{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        let written = write_new(&tmp, &body, 0o600).and_then(|()| fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io_error("write", &path, &e));
        }
        Ok(())
    }
}

fn io_error(what: &str, path: &Path, e: &std::io::Error) -> CliError {
    CliError::failure(format!("cannot {what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(resource: &str, issuer: &str, access: &str) -> StoredToken {
        StoredToken {
            resource: resource.into(),
            issuer: issuer.into(),
            access_token: access.into(),
            refresh_token: None,
            scope: None,
        }
    }

    fn tempdir() -> PathBuf {
        let n: u64 = rand::random();
        std::env::temp_dir().join(format!("refcli-connect-{n:x}"))
    }

    #[test]
    fn tokens_are_keyed_by_server_and_issuer() {
        let dir = tempdir();
        let store = Store::at(dir.clone(), false);
        assert_eq!(store.token("https://a/mcp").unwrap(), None);
        store
            .save_token(token("https://a/mcp", "https://as1", "t1"))
            .unwrap();
        store
            .save_token(token("https://a/mcp", "https://as2", "t2"))
            .unwrap();
        store
            .save_token(token("https://b/mcp", "https://as1", "t3"))
            .unwrap();
        assert_eq!(
            store.token("https://a/mcp").unwrap().unwrap().access_token,
            "t2"
        );
        assert_eq!(
            store.token("https://b/mcp").unwrap().unwrap().access_token,
            "t3"
        );
        store
            .save_token(token("https://a/mcp", "https://as2", "t4"))
            .unwrap();
        assert_eq!(
            store.token("https://a/mcp").unwrap().unwrap().access_token,
            "t4"
        );
        store.remove_token("https://a/mcp", "https://as2").unwrap();
        assert_eq!(
            store.token("https://a/mcp").unwrap().unwrap().access_token,
            "t1"
        );
        assert_eq!(store.token("https://c/mcp").unwrap(), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(dir.join(TOKENS_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn one_for_all_fault_shares_a_token_across_servers() {
        let dir = tempdir();
        let store = Store::at(dir.clone(), true);
        store
            .save_token(token("https://a/mcp", "https://as1", "t1"))
            .unwrap();
        assert_eq!(
            store.token("https://b/mcp").unwrap().unwrap().access_token,
            "t1"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn registrations_are_keyed_by_issuer() {
        let dir = tempdir();
        let store = Store::at(dir.clone(), false);
        let reg = Registration {
            issuer: "https://as1".into(),
            client_id: "c1".into(),
            client_secret: None,
            auth_method: "none".into(),
            redirect_uri: "http://127.0.0.1:1/callback".into(),
        };
        store.save_registration(reg.clone()).unwrap();
        assert_eq!(store.registration("https://as1").unwrap(), Some(reg));
        assert_eq!(store.registration("https://as2").unwrap(), None);
        let _ = fs::remove_dir_all(&dir);
    }
}
