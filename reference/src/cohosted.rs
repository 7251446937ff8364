//! The co-hosted OAuth authorization server of `http --cohosted-as`: a
//! [`MockAuthServer`] started beside the MCP endpoint, so the suite's
//! OAUTH-AS-* checks have an AS to judge. Its seeded faults map onto the
//! mock's [`Lenience`] knobs.
//!
//! The MCP endpoint does not trust it: the protected resource metadata and
//! token validation keep to `--issuer`. It is announced only by the ready
//! line.

use std::sync::Arc;

use authconform_mocks::{AuthServerConfig, ClientConfig, Consent, Lenience, MockAuthServer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::faults::{Fault, Faults};

/// The pre-registered public client (`token_endpoint_auth_method` `none`).
pub const CLIENT_ID: &str = "authconf-client";

/// The only redirect URI registered for [`CLIENT_ID`].
pub const REDIRECT_URI: &str = "http://127.0.0.1:33418/cb";

/// The user the scripted consent approves as (the tokens' `sub`).
pub const SUBJECT: &str = "alice";

/// The faults of the authorization server (its lenience knobs).
const AS_FAULTS: [Fault; 7] = [
    Fault::PkceOptional,
    Fault::LooseRedirectMatch,
    Fault::LoopbackAnyAuthority,
    Fault::NoRefreshRotation,
    Fault::IgnoreResource,
    Fault::UnboundAudience,
    Fault::RegisterAnyRedirect,
];

/// The lenience knobs the active faults turn on, read with `active`.
fn lenience_with(active: impl Fn(Fault) -> bool) -> Lenience {
    Lenience {
        pkce_optional: active(Fault::PkceOptional),
        loose_redirect_match: active(Fault::LooseRedirectMatch),
        loopback_any_authority: active(Fault::LoopbackAnyAuthority),
        no_refresh_rotation: active(Fault::NoRefreshRotation),
        ignore_resource: active(Fault::IgnoreResource),
        unbound_audience: active(Fault::UnboundAudience),
        register_any_redirect: active(Fault::RegisterAnyRedirect),
    }
}

/// The lenience knobs the active faults turn on.
pub(crate) fn lenience(faults: &Faults) -> Lenience {
    lenience_with(|f| faults.has(f))
}

/// The server certificate of the authorization server, chosen by `inner`. Its faults are asked
/// (`Faults::PROBE_ENV`) at each handshake, before any request can meet a knob: they are asked in the runs
/// that talk to the authorization server, not in every run that starts the reference.
#[derive(Debug)]
struct AskingResolver {
    inner: Arc<dyn ResolvesServerCert>,
    faults: Faults,
}

impl ResolvesServerCert for AskingResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        for fault in AS_FAULTS {
            self.faults.has(fault);
        }
        self.inner.resolve(client_hello)
    }
}

/// Starts the authorization server on `127.0.0.1:0`, over TLS when `tls` is
/// given, issuing tokens for `{base}/mcp` only (their `aud`). The public
/// client may introspect its own tokens, so the suite can read their
/// audience (OAUTH-AS-004). It stops when dropped.
pub(crate) async fn start(
    tls: Option<Arc<rustls::ServerConfig>>,
    base: &str,
    faults: &Faults,
) -> anyhow::Result<MockAuthServer> {
    authconform_mocks::tls::install_crypto_provider();
    // Over TLS every request follows a handshake, where the resolver asks; without TLS they are asked here.
    let (tls, lenience) = match tls {
        Some(config) => {
            let mut config = (*config).clone();
            config.cert_resolver = Arc::new(AskingResolver {
                inner: config.cert_resolver.clone(),
                faults: faults.clone(),
            });
            let knobs = lenience_with(|f| faults.has_unrecorded(f));
            (Some(Arc::new(config)), knobs)
        }
        None => (None, lenience(faults)),
    };
    MockAuthServer::start(AuthServerConfig {
        tls,
        port: 0,
        clients: vec![ClientConfig {
            client_id: CLIENT_ID.to_owned(),
            redirect_uris: vec![REDIRECT_URI.to_owned()],
            secret: None,
        }],
        consent: Consent::Approve,
        subject: SUBJECT.to_owned(),
        allowed_resources: vec![format!("{base}/mcp")],
        lenience,
        public_introspection: true,
        ..AuthServerConfig::default()
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use authconform_mocks::s256_challenge;
    use serde_json::Value;
    use tokio::sync::oneshot;

    use super::*;
    use crate::{HttpArgs, Ready, serve_with_options};

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn args(faults: &[&str]) -> HttpArgs {
        HttpArgs {
            listen: "127.0.0.1:0".parse().expect("addr"),
            issuer: "http://127.0.0.1:9".into(),
            ca_file: None,
            tls_cert: None,
            tls_key: None,
            upstream: None,
            upstream_key: "k".into(),
            scope_errors: crate::ScopeErrors::Http,
            faults: faults.iter().map(|s| (*s).to_owned()).collect(),
            rest: Default::default(),
        }
    }

    async fn start_reference(faults: &[&str]) -> Ready {
        let (tx, rx) = oneshot::channel();
        let args = args(faults);
        tokio::spawn(async move {
            if let Err(e) = serve_with_options(args, true, tx, std::future::pending()).await {
                eprintln!("serve failed: {e:#}");
            }
        });
        tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .expect("ready in time")
            .expect("ready")
    }

    fn http() -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    fn code_of(response: &reqwest::Response) -> Option<String> {
        let location = response.headers().get("location")?.to_str().ok()?;
        url::Url::parse(location)
            .ok()?
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
    }

    #[tokio::test]
    async fn cohosted_as_runs_a_pkce_flow_for_the_mcp_resource() -> anyhow::Result<()> {
        let ready = start_reference(&[]).await;
        let issuer = ready.authorization_server.expect("an authorization server");
        let resource = format!("{}/mcp", ready.base);
        let http = http();
        let metadata: Value = http
            .get(format!("{issuer}/.well-known/oauth-authorization-server"))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(metadata["issuer"], issuer.as_str());
        assert_eq!(metadata["code_challenge_methods_supported"][0], "S256");

        let authorize = |challenge: Option<String>, resource: String| {
            let http = http.clone();
            let endpoint = format!("{issuer}/authorize");
            async move {
                let mut query = vec![
                    ("response_type", "code".to_owned()),
                    ("client_id", CLIENT_ID.to_owned()),
                    ("redirect_uri", REDIRECT_URI.to_owned()),
                    ("state", "s".to_owned()),
                    ("resource", resource),
                ];
                if let Some(challenge) = challenge {
                    query.push(("code_challenge", challenge));
                    query.push(("code_challenge_method", "S256".to_owned()));
                }
                http.get(endpoint).query(&query).send().await
            }
        };
        let response = authorize(Some(s256_challenge(VERIFIER)), resource.clone()).await?;
        assert_eq!(response.status(), 302);
        let code = code_of(&response).expect("a code");
        let tokens: Value = http
            .post(format!("{issuer}/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", CLIENT_ID),
                ("code_verifier", VERIFIER),
                ("resource", &resource),
            ])
            .send()
            .await?
            .json()
            .await?;
        assert!(tokens["access_token"].is_string(), "{tokens}");
        assert!(tokens["refresh_token"].is_string(), "{tokens}");

        // Strict: no PKCE, or another resource, gets no code.
        let response = authorize(None, resource.clone()).await?;
        assert_eq!(code_of(&response), None);
        let response = authorize(
            Some(s256_challenge(VERIFIER)),
            "https://other.example/mcp".into(),
        )
        .await?;
        assert_eq!(code_of(&response), None);
        Ok(())
    }

    #[tokio::test]
    async fn faults_turn_on_lenience() -> anyhow::Result<()> {
        let ready = start_reference(&["pkce-optional"]).await;
        let issuer = ready.authorization_server.expect("an authorization server");
        let response = http()
            .get(format!("{issuer}/authorize"))
            .query(&[
                ("response_type", "code"),
                ("client_id", CLIENT_ID),
                ("redirect_uri", REDIRECT_URI),
            ])
            .send()
            .await?;
        assert!(code_of(&response).is_some(), "no code without PKCE");

        let faults = Faults::parse([
            "loose-redirect-match",
            "loopback-any-authority",
            "no-refresh-rotation",
            "ignore-resource",
            "unbound-audience",
            "register-any-redirect",
        ])?;
        let all = lenience(&faults);
        assert!(!all.pkce_optional);
        assert!(all.loose_redirect_match);
        assert!(all.loopback_any_authority);
        assert!(all.no_refresh_rotation);
        assert!(all.ignore_resource);
        assert!(all.unbound_audience);
        assert!(all.register_any_redirect);
        Ok(())
    }
}
