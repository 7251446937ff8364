//! The commands: sign-in paths, status, logout, signup, and the REST and MCP
//! calls that use the stored key.

use reqwest::Method;
use serde_json::{Value, json};

use super::config::{self, Tls};
use super::device;
use super::host::{Answer, HostClient};
use super::store::{Store, mask, mask_in};
use super::{CliError, CliResult};
use crate::faults::{Fault, Faults};

/// What `status` and the key-needing commands say without a stored key.
pub(crate) const NOT_SIGNED_IN: &str = "Not signed in. Run `auth login`.";
/// What a refused signup says.
pub(crate) const SIGNUP_UNAVAILABLE: &str =
    "Signup is not available on this host; sign in with an existing account: `auth login`";
/// What a refused service-account key says.
pub(crate) const KEY_REFUSED: &str = "the key was refused by the host";
/// The MCP protocol version the CLI speaks when a server wants the handshake.
pub(crate) const MCP_PROTOCOL_VERSION: &str = "2025-06-18";
/// What `org`-scoped commands say without an organisation.
pub(crate) const NO_ORG: &str = "no organisation: pass --org or set REFCLI_ORG_ID";

/// The faults and flags every command sees.
pub(crate) struct Context {
    faults: Faults,
    verbose: bool,
}

impl Context {
    /// A context with the active faults and `--verbose`.
    pub(crate) fn new(faults: Faults, verbose: bool) -> Self {
        Self { faults, verbose }
    }

    fn has(&self, fault: Fault) -> bool {
        self.faults.has(fault)
    }

    /// The active faults.
    pub(crate) fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Whether `--verbose` was given.
    pub(crate) fn verbose(&self) -> bool {
        self.verbose
    }

    fn store(&self) -> Result<Store, CliError> {
        Store::open(self.has(Fault::WorldReadableCredentials))
    }

    /// The host from the environment, checked against the URL policy, with its client.
    fn host(&self) -> Result<HostClient, CliError> {
        let url = config::host_url(self.has(Fault::PlainHttpAnywhere))?;
        let tls = Tls::from_env(self.has(Fault::InsecureTls));
        HostClient::new(url, &tls, self.verbose, self.has(Fault::KeyInQuery))
    }

    /// The stored key, or the "not signed in" failure (no network, no device flow).
    fn stored_key(&self) -> Result<String, CliError> {
        self.store()?
            .load()?
            .ok_or_else(|| CliError::failure(NOT_SIGNED_IN))
    }

    /// Stores `key` and says so.
    fn sign_in_with(&self, key: &str) -> CliResult {
        self.store()?.save(key)?;
        let shown = if self.has(Fault::PrintKey) {
            key.to_owned()
        } else {
            mask(key)
        };
        println!("Signed in (key {shown})");
        Ok(())
    }
}

/// `auth login --api-key K`: stores K without any network call.
pub(crate) async fn login_with_key(ctx: &Context, key: &str) -> CliResult {
    let key = key.trim();
    if key.is_empty() {
        return Err(CliError::usage("--api-key needs a non-empty key"));
    }
    if ctx.has(Fault::ApiKeyFlagStartsDeviceFlow)
        && let Ok(host) = ctx.host()
    {
        let _ = device::start(&host).await;
    }
    ctx.sign_in_with(key)
}

/// `auth login`: the device flow, then stores the key.
pub(crate) async fn login(ctx: &Context) -> CliResult {
    ctx.store()?;
    let host = ctx.host()?;
    let key = device::sign_in(&host, &ctx.faults).await?;
    ctx.sign_in_with(&key)
}

/// `auth service-account login --key K`: checks K with `GET /v1/apis`, then stores it.
pub(crate) async fn service_account_login(ctx: &Context, key: &str) -> CliResult {
    let key = key.trim();
    if key.is_empty() {
        return Err(CliError::usage("--key needs a non-empty key"));
    }
    if ctx.has(Fault::ServiceAccountUnvalidated) {
        return ctx.sign_in_with(key);
    }
    let host = ctx.host()?;
    let answer = get_with_key(&host, &["v1", "apis"], key).await?;
    match answer.status {
        200..=299 => ctx.sign_in_with(key),
        401 | 403 => Err(CliError::failure(KEY_REFUSED)),
        status => Err(CliError::failure(format!(
            "the host answered {status} while checking the key"
        ))),
    }
}

/// `auth status`: whether a key is stored (no network).
pub(crate) fn status(ctx: &Context) -> CliResult {
    match ctx.store()?.load()? {
        Some(key) => {
            println!("Signed in (key {})", mask(&key));
            Ok(())
        }
        None => {
            println!("{NOT_SIGNED_IN}");
            Err(CliError::failure(String::new()))
        }
    }
}

/// `auth logout`: removes the credential file.
pub(crate) fn logout(ctx: &Context) -> CliResult {
    let store = ctx.store()?;
    if !ctx.has(Fault::KeepKeyAfterLogout) {
        store.remove()?;
    }
    println!("Signed out");
    Ok(())
}

/// `auth signup`: `POST /public/signup`; stores the key of a created account.
pub(crate) async fn signup(ctx: &Context, email: &str, password: &str) -> CliResult {
    let store = ctx.store()?;
    let host = ctx.host()?;
    let url = host.url(&["public", "signup"]);
    let body = json!({ "email": email, "password": password });
    let answer = host.send(Method::POST, url, Some(&body), None, &[]).await?;
    let key = answer
        .json()
        .and_then(|j| j.get("api_key").and_then(Value::as_str).map(str::to_owned))
        .filter(|k| !k.is_empty());
    match key {
        Some(key) if answer.is_success() => ctx.sign_in_with(&key),
        _ if ctx.has(Fault::SignupStoresPartial) => {
            store.save("")?;
            eprintln!("{SIGNUP_UNAVAILABLE}");
            Ok(())
        }
        _ => Err(CliError::failure(SIGNUP_UNAVAILABLE)),
    }
}

/// `apis list`: `GET /v1/apis` with the stored key; prints the body.
pub(crate) async fn apis_list(ctx: &Context) -> CliResult {
    let key = match ctx.stored_key() {
        Err(_) if ctx.faults.has(Fault::SignInWhenSignedOut) => {
            login(ctx).await?;
            ctx.stored_key()?
        }
        other => other?,
    };
    let host = ctx.host()?;
    let answer = get_with_key(&host, &["v1", "apis"], &key).await?;
    print_answer(&answer, &key, false)
}

/// The organisation of an org-scoped command: `--org`, else the environment
/// (the environment first under `env-org-beats-flag`).
pub(crate) fn choose_org(
    flag: Option<&str>,
    env: Option<&str>,
    env_wins: bool,
) -> Result<String, CliError> {
    let flag = flag.map(str::trim).filter(|s| !s.is_empty());
    let env = env.map(str::trim).filter(|s| !s.is_empty());
    let chosen = if env_wins { env.or(flag) } else { flag.or(env) };
    chosen
        .map(str::to_owned)
        .ok_or_else(|| CliError::usage(NO_ORG))
}

/// `api-keys list [--org ORG]`: `GET /api/v1/organizations/{org}/api-keys`.
pub(crate) async fn api_keys_list(ctx: &Context, org: Option<&str>) -> CliResult {
    let env = config::env_var(config::ORG_ENV);
    let org = choose_org(org, env.as_deref(), ctx.has(Fault::EnvOrgBeatsFlag))?;
    let key = ctx.stored_key()?;
    let host = ctx.host()?;
    let path = ["api", "v1", "organizations", org.as_str(), "api-keys"];
    let answer = get_with_key(&host, &path, &key).await?;
    print_answer(&answer, &key, false)
}

/// `mcp tools`: a JSON-RPC `tools/list` to `POST /mcp` with the stored key. A
/// server that wants a session first (400 without `Mcp-Session-Id`) gets the
/// MCP handshake, then the same `tools/list` in that session.
pub(crate) async fn mcp_tools(ctx: &Context) -> CliResult {
    let key = ctx.stored_key()?;
    let host = ctx.host()?;
    let list = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" });
    let mut answer = mcp_post(&host, &key, &list, None).await?;
    if answer.status == 400
        && let Some(session) = mcp_handshake(&host, &key).await?
    {
        answer = mcp_post(&host, &key, &list, Some(&session)).await?;
    }
    print_answer(&answer, &key, true)
}

/// `initialize` and `notifications/initialized`; the session ID, if the server gave one.
async fn mcp_handshake(host: &HostClient, key: &str) -> Result<Option<String>, CliError> {
    let init = json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": MCP_PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": { "name": device::CLIENT_ID, "version": env!("CARGO_PKG_VERSION") },
    }});
    let answer = mcp_post(host, key, &init, None).await?;
    let initialized_ok = answer.is_success();
    let Some(session) = answer.mcp_session.filter(|_| initialized_ok) else {
        return Ok(None);
    };
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    mcp_post(host, key, &initialized, Some(&session)).await?;
    Ok(Some(session))
}

/// One JSON-RPC message to `POST /mcp`.
async fn mcp_post(
    host: &HostClient,
    key: &str,
    message: &Value,
    session: Option<&str>,
) -> Result<Answer, CliError> {
    let mut headers = vec![("Accept", "application/json, text/event-stream")];
    if let Some(session) = session {
        headers.push(("Mcp-Session-Id", session));
        headers.push(("MCP-Protocol-Version", MCP_PROTOCOL_VERSION));
    }
    let url = host.url(&["mcp"]);
    Ok(host
        .send(Method::POST, url, Some(message), Some(key), &headers)
        .await?)
}

/// `GET` of `path` with `key`.
async fn get_with_key(host: &HostClient, path: &[&str], key: &str) -> Result<Answer, CliError> {
    Ok(host
        .send(Method::GET, host.url(path), None, Some(key), &[])
        .await?)
}

/// Prints a 2xx answer's body (and the status line when `with_status`), the
/// stored key masked; a non-2xx answer is a failure.
fn print_answer(answer: &Answer, key: &str, with_status: bool) -> CliResult {
    let body = mask_in(answer.body.trim_end(), Some(key));
    if !answer.is_success() {
        let hint = if matches!(answer.status, 401 | 403) {
            "; the stored key was refused (run `auth login`)"
        } else {
            ""
        };
        return Err(CliError::failure(format!(
            "the host answered {}{hint}: {body}",
            answer.status
        )));
    }
    if with_status {
        println!("HTTP {}", answer.status);
    }
    println!("{body}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_beats_environment_unless_faulted() {
        assert_eq!(
            choose_org(Some("orgB"), Some("orgA"), false).unwrap(),
            "orgB"
        );
        assert_eq!(choose_org(None, Some("orgA"), false).unwrap(), "orgA");
        assert_eq!(choose_org(Some("orgB"), None, false).unwrap(), "orgB");
        assert_eq!(
            choose_org(Some("orgB"), Some("orgA"), true).unwrap(),
            "orgA"
        );
        assert_eq!(choose_org(Some("orgB"), None, true).unwrap(), "orgB");
        let err = choose_org(Some(" "), None, false).unwrap_err();
        assert_eq!(err, CliError::usage(NO_ORG));
    }
}
