//! The authorization code grant's front channel: a loopback listener for the
//! redirect (RFC 8252 §7.3), the authorization URL handed to `$BROWSER` (a
//! direct exec, never a shell) or fetched by the client itself, and the
//! callback's checks (`state`, RFC 9207 `iss`).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use url::Url;

use super::http::Http;
use super::pkce::Pkce;
use super::urls;
use crate::cli::CliError;

/// The path of the redirect URI.
pub(crate) const CALLBACK_PATH: &str = "/callback";
/// The variable naming the browser program.
pub(crate) const BROWSER_ENV: &str = "BROWSER";
/// How long the user has to finish in the browser.
pub(crate) const CALLBACK_WAIT: Duration = Duration::from_secs(120);

type Params = HashMap<String, String>;
type Delivery = (Params, oneshot::Sender<bool>);

/// The loopback listener: `http://127.0.0.1:{port}/callback`.
pub(crate) struct Listener {
    redirect_uri: String,
    rx: mpsc::Receiver<Delivery>,
    _stop: oneshot::Sender<()>,
}

impl Listener {
    /// Listens on 127.0.0.1, on `preferred` if given and free, else any port.
    pub(crate) async fn bind(preferred: Option<u16>) -> Result<Self, CliError> {
        let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let listener = match preferred {
            Some(p) => match tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, p)).await {
                Ok(l) => Ok(l),
                Err(_) => tokio::net::TcpListener::bind(any).await,
            },
            None => tokio::net::TcpListener::bind(any).await,
        }
        .map_err(|e| CliError::failure(format!("cannot listen on 127.0.0.1: {e}")))?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let (tx, rx) = mpsc::channel(8);
        let (stop, stopped) = oneshot::channel::<()>();
        let app = Router::new()
            .route(CALLBACK_PATH, get(callback))
            .with_state(tx);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK_PATH}"),
            rx,
            _stop: stop,
        })
    }

    /// The redirect URI.
    pub(crate) fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The port listened on.
    #[cfg(test)]
    fn port(&self) -> u16 {
        Url::parse(&self.redirect_uri)
            .ok()
            .and_then(|u| u.port())
            .unwrap_or(0)
    }
}

/// `GET /callback?…`: hands the parameters over and answers with the verdict.
async fn callback(
    State(tx): State<mpsc::Sender<Delivery>>,
    RawQuery(query): RawQuery,
) -> (StatusCode, &'static str) {
    let mut params = Params::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        params
            .entry(k.into_owned())
            .or_insert_with(|| v.into_owned());
    }
    let (verdict_tx, verdict_rx) = oneshot::channel();
    if tx.send((params, verdict_tx)).await.is_err() {
        return (
            StatusCode::GONE,
            "This sign-in is over; return to the terminal.\n",
        );
    }
    match tokio::time::timeout(Duration::from_secs(30), verdict_rx).await {
        Ok(Ok(true)) => (
            StatusCode::OK,
            "Authorized. You can close this window and return to the terminal.\n",
        ),
        _ => (
            StatusCode::BAD_REQUEST,
            "This response was not accepted; return to the terminal.\n",
        ),
    }
}

/// The authorization request (RFC 6749 §4.1.1 with PKCE and `resource`).
pub(crate) struct Request<'a> {
    /// The checked authorization endpoint.
    pub(crate) endpoint: &'a Url,
    /// `client_id`.
    pub(crate) client_id: &'a str,
    /// `redirect_uri`.
    pub(crate) redirect_uri: &'a str,
    /// `scope`, when any.
    pub(crate) scope: Option<&'a str>,
    /// `state`.
    pub(crate) state: &'a str,
    /// The PKCE pair.
    pub(crate) pkce: &'a Pkce,
    /// `resource` (none under the `no-resource-param` fault).
    pub(crate) resource: Option<&'a str>,
}

impl Request<'_> {
    /// The URL to open.
    pub(crate) fn url(&self) -> Url {
        let mut url = self.endpoint.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code");
            q.append_pair("client_id", self.client_id);
            q.append_pair("redirect_uri", self.redirect_uri);
            if let Some(scope) = self.scope {
                q.append_pair("scope", scope);
            }
            q.append_pair("state", self.state);
            if let Some((challenge, method)) = &self.pkce.challenge {
                q.append_pair("code_challenge", challenge);
                q.append_pair("code_challenge_method", method);
            }
            if let Some(resource) = self.resource {
                q.append_pair("resource", resource);
            }
        }
        url
    }
}

/// How a callback is judged.
pub(crate) struct Expect<'a> {
    /// The `state` sent.
    pub(crate) state: &'a str,
    /// The AS issuer (RFC 9207 `iss`).
    pub(crate) issuer: &'a str,
    /// Whether the AS promises `iss` on every response.
    pub(crate) iss_required: bool,
    /// The `no-state-check` fault.
    pub(crate) skip_state: bool,
}

/// What to do with one callback.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Exchange this code.
    Code(String),
    /// Not ours (missing or wrong `state`): ignore it and keep waiting.
    Discard(&'static str),
    /// Ours, and the authorization failed or is unsafe to use.
    Fail(String),
}

/// Judges one callback's parameters.
pub(crate) fn judge(params: &Params, expect: &Expect<'_>) -> Verdict {
    if !expect.skip_state {
        match params.get("state") {
            None => return Verdict::Discard("a callback without state"),
            Some(s) if s != expect.state => {
                return Verdict::Discard("a callback with a wrong state");
            }
            Some(_) => {}
        }
    }
    match params.get("iss") {
        Some(iss) if iss != expect.issuer => {
            return Verdict::Fail(format!(
                "refusing the authorization response: its iss {iss:?} is not the issuer {:?} (RFC 9207)",
                expect.issuer
            ));
        }
        None if expect.iss_required => {
            return Verdict::Fail(
                "refusing the authorization response: the authorization server promises iss (RFC 9207) \
                 and the response has none"
                    .to_owned(),
            );
        }
        _ => {}
    }
    if let Some(error) = params.get("error") {
        let detail = params
            .get("error_description")
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        return Verdict::Fail(format!("authorization failed: {error}{detail}"));
    }
    match params.get("code").filter(|c| !c.is_empty()) {
        Some(code) => Verdict::Code(code.clone()),
        None => Verdict::Fail("the authorization response has no code".to_owned()),
    }
}

/// Opens `url` (through a shell under the `browser-via-shell` fault), waits
/// for the callback and returns the code.
pub(crate) async fn obtain_code(
    http: &Http,
    listener: &mut Listener,
    url: &Url,
    expect: &Expect<'_>,
    via_shell: bool,
) -> Result<String, CliError> {
    let redirect_uri = listener.redirect_uri.clone();
    let mut opener = tokio::spawn(open(http.clone(), url.clone(), redirect_uri, via_shell));
    let mut opened = false;
    let deadline = Instant::now() + CALLBACK_WAIT;
    loop {
        tokio::select! {
            delivery = listener.rx.recv() => {
                let Some((params, reply)) = delivery else {
                    return Err(CliError::failure("the loopback listener stopped"));
                };
                match judge(&params, expect) {
                    Verdict::Code(code) => {
                        let _ = reply.send(true);
                        return Ok(code);
                    }
                    Verdict::Discard(what) => {
                        let _ = reply.send(false);
                        eprintln!("ignored {what} (still waiting for the authorization response)");
                    }
                    Verdict::Fail(message) => {
                        let _ = reply.send(false);
                        return Err(CliError::failure(message));
                    }
                }
            }
            result = &mut opener, if !opened => {
                opened = true;
                match result {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(e),
                    Err(_) => return Err(CliError::failure("opening the authorization URL failed")),
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                return Err(CliError::failure(format!(
                    "no authorization response within {} s",
                    CALLBACK_WAIT.as_secs()
                )));
            }
        }
    }
}

/// Runs `$BROWSER url` (no shell unless the `browser-via-shell` fault), or
/// without `BROWSER` fetches the URL and delivers its redirect to the
/// loopback callback.
async fn open(http: Http, url: Url, redirect_uri: String, via_shell: bool) -> Result<(), CliError> {
    match std::env::var_os(BROWSER_ENV).filter(|b| !b.is_empty()) {
        Some(browser) => {
            let mut command = if via_shell {
                let mut sh = tokio::process::Command::new("sh");
                sh.arg("-c")
                    .arg(format!("{} \"{url}\"", browser.to_string_lossy()));
                sh
            } else {
                let mut direct = tokio::process::Command::new(&browser);
                direct.arg(url.as_str());
                direct
            };
            let status = command
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .await
                .map_err(|e| {
                    CliError::failure(format!(
                        "cannot run the browser {}: {e}",
                        browser.to_string_lossy()
                    ))
                })?;
            if status.success() {
                Ok(())
            } else {
                Err(CliError::failure(format!(
                    "the browser {} failed ({status})",
                    browser.to_string_lossy()
                )))
            }
        }
        None => self_fetch(&http, &url, &redirect_uri).await,
    }
}

/// The no-browser path: `GET` the authorization URL without following
/// redirects, then `GET` the redirect if it goes to our callback.
async fn self_fetch(http: &Http, url: &Url, redirect_uri: &str) -> Result<(), CliError> {
    let reply = http.get(url).await?;
    let location = reply
        .location
        .as_deref()
        .filter(|_| (300..400).contains(&reply.status))
        .and_then(|l| url.join(l).ok());
    let Some(location) = location else {
        return Err(CliError::failure(format!(
            "the authorization server answered {} and needs a user: set {BROWSER_ENV} to a browser command",
            reply.status
        )));
    };
    if urls::shown(&location) != redirect_uri {
        return Err(CliError::failure(format!(
            "the authorization server redirected elsewhere ({}) and needs a user: set {BROWSER_ENV}",
            urls::shown(&location)
        )));
    }
    http.get(&location).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::connect::pkce::Method;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn expect(skip_state: bool, iss_required: bool) -> Expect<'static> {
        Expect {
            state: "s1",
            issuer: "https://as.test",
            iss_required,
            skip_state,
        }
    }

    #[test]
    fn state_must_match_unless_faulted() {
        let wrong = params(&[("code", "c"), ("state", "other")]);
        let missing = params(&[("code", "c")]);
        let right = params(&[("code", "c"), ("state", "s1")]);
        assert!(matches!(
            judge(&wrong, &expect(false, false)),
            Verdict::Discard(_)
        ));
        assert!(matches!(
            judge(&missing, &expect(false, false)),
            Verdict::Discard(_)
        ));
        assert_eq!(
            judge(&right, &expect(false, false)),
            Verdict::Code("c".into())
        );
        assert_eq!(
            judge(&wrong, &expect(true, false)),
            Verdict::Code("c".into())
        );
        assert_eq!(
            judge(&missing, &expect(true, false)),
            Verdict::Code("c".into())
        );
    }

    #[test]
    fn iss_is_compared_exactly() {
        let ok = params(&[("code", "c"), ("state", "s1"), ("iss", "https://as.test")]);
        let slash = params(&[("code", "c"), ("state", "s1"), ("iss", "https://as.test/")]);
        let none = params(&[("code", "c"), ("state", "s1")]);
        assert_eq!(judge(&ok, &expect(false, true)), Verdict::Code("c".into()));
        assert!(matches!(
            judge(&slash, &expect(false, false)),
            Verdict::Fail(_)
        ));
        assert!(matches!(
            judge(&none, &expect(false, true)),
            Verdict::Fail(_)
        ));
        assert_eq!(
            judge(&none, &expect(false, false)),
            Verdict::Code("c".into())
        );
    }

    #[test]
    fn errors_and_missing_codes_fail() {
        let denied = params(&[("error", "access_denied"), ("state", "s1")]);
        assert!(
            matches!(judge(&denied, &expect(false, false)), Verdict::Fail(m) if m.contains("access_denied"))
        );
        let empty = params(&[("state", "s1"), ("code", "")]);
        assert!(matches!(
            judge(&empty, &expect(false, false)),
            Verdict::Fail(_)
        ));
    }

    #[test]
    fn authorization_url_carries_every_parameter() {
        let endpoint = Url::parse("https://as.test/authorize?tenant=1").unwrap();
        let pkce = Pkce::new(Method::S256);
        let request = Request {
            endpoint: &endpoint,
            client_id: "c",
            redirect_uri: "http://127.0.0.1:1/callback",
            scope: Some("a b"),
            state: "s1",
            pkce: &pkce,
            resource: Some("https://rs.test/mcp"),
        };
        let url = request.url();
        let q: Params = url.query_pairs().into_owned().collect();
        assert_eq!(q["tenant"], "1");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["scope"], "a b");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["resource"], "https://rs.test/mcp");
        assert!(
            url.as_str()
                .contains("resource=https%3A%2F%2Frs.test%2Fmcp")
        );
    }

    #[tokio::test]
    async fn listener_hands_over_callbacks() {
        crate::install_crypto_providers();
        let mut listener = Listener::bind(None).await.unwrap();
        let uri = listener.redirect_uri().to_owned();
        assert!(uri.starts_with("http://127.0.0.1:") && uri.ends_with(CALLBACK_PATH));
        let get = tokio::spawn(async move {
            reqwest::get(format!("{uri}?code=c&state=s1"))
                .await
                .map(|r| r.status().as_u16())
        });
        let (params, reply) = listener.rx.recv().await.unwrap();
        assert_eq!(params["code"], "c");
        reply.send(true).unwrap();
        assert_eq!(get.await.unwrap().unwrap(), 200);
        let again = Listener::bind(Some(listener.port())).await.unwrap();
        assert_ne!(again.port(), listener.port());
    }
}
