//! The CLI's environment (`REFCLI_*`), the URL policy (TLS except on
//! loopback) and the HTTP client (trusting only `REFCLI_CA_BUNDLE` when set).

use std::error::Error as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::{Host, Url};

use super::CliError;

/// Base URL of the vendor host, e.g. `https://127.0.0.1:43121`.
pub(crate) const HOST_ENV: &str = "REFCLI_HOST";
/// PEM file of the only CA certificates to trust.
pub(crate) const CA_BUNDLE_ENV: &str = "REFCLI_CA_BUNDLE";
/// Default organisation of org-scoped commands.
pub(crate) const ORG_ENV: &str = "REFCLI_ORG_ID";
/// Per-request timeout in milliseconds.
pub(crate) const TIMEOUT_ENV: &str = "REFCLI_TIMEOUT_MS";
/// Default per-request timeout.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_millis(10_000);

/// The message for plain HTTP to a non-loopback host.
pub(crate) const PLAIN_HTTP_REFUSED: &str =
    "refusing to send credentials over plain HTTP to a non-loopback host";

/// Reads a variable, treating an empty value as unset.
pub(crate) fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The per-request timeout from [`TIMEOUT_ENV`].
pub(crate) fn timeout() -> Result<Duration, CliError> {
    match env_var(TIMEOUT_ENV) {
        None => Ok(DEFAULT_TIMEOUT),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
            _ => Err(CliError::usage(format!(
                "{TIMEOUT_ENV} must be a positive number of milliseconds, not {v:?}"
            ))),
        },
    }
}

/// The host from [`HOST_ENV`], parsed and checked against the URL policy.
pub(crate) fn host_url(plain_http_anywhere: bool) -> Result<Url, CliError> {
    let raw = env_var(HOST_ENV).ok_or_else(|| {
        CliError::usage(format!(
            "no host: set {HOST_ENV} to the host's base URL, e.g. https://127.0.0.1:43121"
        ))
    })?;
    let url = Url::parse(raw.trim())
        .map_err(|e| CliError::usage(format!("{HOST_ENV}={raw:?} is not a URL: {e}")))?;
    check_url_policy(&url, plain_http_anywhere)?;
    Ok(url)
}

/// Whether `url`'s host is loopback: `localhost`, `127.0.0.0/8` or `::1`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// `https://` anywhere, `http://` only to loopback (or anywhere under the
/// `plain-http-anywhere` fault); other schemes are usage errors.
pub(crate) fn check_url_policy(url: &Url, plain_http_anywhere: bool) -> Result<(), CliError> {
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if url.host().is_some() => {
            if plain_http_anywhere || is_loopback(url) {
                Ok(())
            } else {
                Err(CliError::failure(PLAIN_HTTP_REFUSED))
            }
        }
        _ => Err(CliError::usage(format!(
            "{HOST_ENV} must be an https:// URL (or http:// to a loopback host), not {url}"
        ))),
    }
}

/// How the HTTP client verifies servers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tls {
    /// Trust only the certificates in this PEM file.
    pub(crate) ca_bundle: Option<PathBuf>,
    /// Accept any certificate (the `insecure-tls` fault).
    pub(crate) insecure: bool,
}

impl Tls {
    /// [`CA_BUNDLE_ENV`], with `insecure` from the fault.
    pub(crate) fn from_env(insecure: bool) -> Self {
        Self {
            ca_bundle: env_var(CA_BUNDLE_ENV).map(PathBuf::from),
            insecure,
        }
    }
}

/// An HTTP client with the request timeout, no redirects, and the trust of `tls`.
pub(crate) fn client(tls: &Tls, timeout: Duration) -> Result<reqwest::Client, CliError> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = &tls.ca_bundle {
        let pem = std::fs::read(path).map_err(|e| {
            CliError::usage(format!(
                "{CA_BUNDLE_ENV}: cannot read {}: {e}",
                path.display()
            ))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                CliError::usage(format!(
                    "{CA_BUNDLE_ENV}: {} holds no PEM certificate",
                    path.display()
                ))
            })?;
        builder = builder.tls_certs_only(certs);
    }
    if tls.insecure {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder.build().map_err(|e| {
        CliError::failure(format!(
            "cannot set up HTTPS: {} (set {CA_BUNDLE_ENV} to a PEM file of trusted CAs)",
            root_cause(&e)
        ))
    })
}

/// `host[:port]` of `url`, for messages.
pub(crate) fn authority(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => url.to_string(),
    }
}

/// A readable message for a failed request to `host`.
pub(crate) fn describe(host: &Url, err: &reqwest::Error, timeout: Duration) -> String {
    let who = authority(host);
    if let Some(cert) = certificate_error(err) {
        let hint = if cert.contains("Issuer") || cert.contains("issuer") {
            format!(" (set {CA_BUNDLE_ENV} to a PEM file of the CA that issued it)")
        } else {
            String::new()
        };
        format!("TLS certificate not trusted for {who}: {cert}{hint}")
    } else if err.is_timeout() {
        format!("{who} did not answer within {} ms", timeout.as_millis())
    } else if err.is_connect() {
        format!("cannot reach {who}: {}", root_cause(err))
    } else {
        format!("the request to {who} failed: {}", root_cause(err))
    }
}

/// The certificate problem behind `err`, if any.
fn certificate_error(err: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = err.source();
    while let Some(e) = source {
        let tls = e.downcast_ref::<rustls::Error>().or_else(|| {
            e.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(rustls::Error::InvalidCertificate(cert)) = tls {
            return Some(format!("{cert:?}"));
        }
        source = e.source();
    }
    let text = root_cause(err);
    text.to_ascii_lowercase()
        .contains("certificate")
        .then_some(text)
}

/// The innermost error message of a chain.
pub(crate) fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last: &(dyn std::error::Error + 'static) = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn https_is_allowed_anywhere() {
        assert!(check_url_policy(&url("https://example.com"), false).is_ok());
        assert!(check_url_policy(&url("https://127.0.0.1:43121"), false).is_ok());
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "http://localhost:1",
            "http://LOCALHOST",
        ] {
            assert!(check_url_policy(&url(ok), false).is_ok(), "{ok}");
        }
        for refused in [
            "http://example.com",
            "http://mock.test:80",
            "http://10.0.0.1",
        ] {
            let err = check_url_policy(&url(refused), false).unwrap_err();
            assert_eq!(err, CliError::failure(PLAIN_HTTP_REFUSED), "{refused}");
        }
    }

    #[test]
    fn plain_http_anywhere_fault_allows_any_host() {
        assert!(check_url_policy(&url("http://example.com"), true).is_ok());
    }

    #[test]
    fn other_schemes_are_usage_errors() {
        assert_eq!(
            check_url_policy(&url("ftp://example.com"), false)
                .unwrap_err()
                .code,
            2
        );
    }

    #[test]
    fn authority_has_host_and_port() {
        assert_eq!(
            authority(&url("https://127.0.0.1:43121/x")),
            "127.0.0.1:43121"
        );
        assert_eq!(authority(&url("https://example.com")), "example.com");
    }
}
