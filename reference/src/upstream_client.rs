//! The stdio server's view of the upstream REST API: the API key read from the
//! environment, and `GET` requests that present it as `X-API-Key`.

use anyhow::Context as _;
use http::HeaderValue;
use reqwest::StatusCode;
use url::Url;

/// The second credential the `forward-other-credential` fault sends upstream.
pub(crate) const SERVICE_TOKEN: &str = "ref-service-token-7c1d9e";

/// The API key found in the environment.
pub(crate) enum ApiKey {
    /// A usable key.
    Present {
        /// The key as configured (surrounding whitespace removed).
        value: String,
        /// The key as a (sensitive) header value.
        header: HeaderValue,
    },
    /// The variable is unset, empty or only whitespace.
    Missing {
        /// The variable's raw value (empty when unset).
        raw: String,
    },
    /// The variable holds something that cannot be sent as a header value.
    Unusable {
        /// The key as configured.
        value: String,
    },
}

impl ApiKey {
    /// Reads the key from the environment variable `name`.
    pub(crate) fn from_env(name: &str) -> ApiKey {
        let raw = std::env::var_os(name)
            .map(|v| v.to_string_lossy().into_owned())
            .unwrap_or_default();
        ApiKey::from_raw(raw)
    }

    /// Classifies a raw value.
    pub(crate) fn from_raw(raw: String) -> ApiKey {
        let value = raw.trim();
        if value.is_empty() {
            return ApiKey::Missing { raw };
        }
        match HeaderValue::from_str(value) {
            Ok(mut header) => {
                header.set_sensitive(true);
                ApiKey::Present {
                    value: value.to_owned(),
                    header,
                }
            }
            Err(_) => ApiKey::Unusable {
                value: value.to_owned(),
            },
        }
    }

    /// The key, if usable.
    pub(crate) fn present(&self) -> Option<(&str, &HeaderValue)> {
        match self {
            ApiKey::Present { value, header } => Some((value, header)),
            _ => None,
        }
    }
}

/// What the upstream answered.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A 2xx answer with its body.
    Success(String),
    /// A non-2xx answer.
    Refused(StatusCode),
    /// No answer (or an unreadable one); the text never names the URL.
    Failed(String),
}

/// Sends `GET` requests to the upstream API.
pub(crate) struct UpstreamClient {
    base: Url,
    http: reqwest::Client,
    other_credential: bool,
}

impl UpstreamClient {
    /// A client for the API at `base` (an `http` or `https` URL); with
    /// `other_credential`, every request also carries [`SERVICE_TOKEN`].
    pub(crate) fn new(
        base: &str,
        http: reqwest::Client,
        other_credential: bool,
    ) -> anyhow::Result<Self> {
        let base = Url::parse(base).context("--upstream is not a URL")?;
        anyhow::ensure!(
            matches!(base.scheme(), "http" | "https") && base.host().is_some(),
            "--upstream must be an http or https URL with a host"
        );
        Ok(UpstreamClient {
            base,
            http,
            other_credential,
        })
    }

    /// The URL of `segments` below the base URL, each segment percent-encoded
    /// (so a `/` in a segment stays inside it). The caller must not pass `.`,
    /// `..` or empty segments.
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// `GET`s `segments` with `X-API-Key: key`, logging method, path and
    /// status (never the query or the key) to stderr.
    pub(crate) async fn get(&self, segments: &[&str], key: &HeaderValue) -> Answer {
        let url = self.url(segments);
        let path = url.path().to_owned();
        let mut request = self.http.get(url).header("X-API-Key", key.clone());
        if self.other_credential {
            request = request.bearer_auth(SERVICE_TOKEN);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                eprintln!("authconform-reference: upstream GET {path} failed");
                return Answer::Failed(format!("upstream request failed: {}", e.without_url()));
            }
        };
        let status = response.status();
        eprintln!(
            "authconform-reference: upstream GET {path} -> {}",
            status.as_u16()
        );
        if !status.is_success() {
            return Answer::Refused(status);
        }
        match response.text().await {
            Ok(body) => Answer::Success(body),
            Err(e) => Answer::Failed(format!(
                "reading the upstream response failed: {}",
                e.without_url()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_classified() {
        assert!(matches!(
            ApiKey::from_raw(String::new()),
            ApiKey::Missing { .. }
        ));
        assert!(matches!(
            ApiKey::from_raw(" \t ".into()),
            ApiKey::Missing { raw } if raw == " \t "
        ));
        assert!(matches!(
            ApiKey::from_raw("bad\nkey".into()),
            ApiKey::Unusable { .. }
        ));
        let key = ApiKey::from_raw(" k1 ".into());
        let (value, header) = key.present().expect("present");
        assert_eq!(value, "k1");
        assert!(header.is_sensitive());
    }

    #[test]
    fn urls_keep_segments_whole() {
        let client = |base| UpstreamClient::new(base, reqwest::Client::new(), false).unwrap();
        let api = client("http://127.0.0.1:9/api/?tenant=x");
        assert_eq!(
            api.url(&["projects", "a/b?c#d%"]).as_str(),
            "http://127.0.0.1:9/api/projects/a%2Fb%3Fc%23d%25?tenant=x"
        );
        let root = client("https://example.test");
        assert_eq!(
            root.url(&["projects"]).as_str(),
            "https://example.test/projects"
        );
        assert!(UpstreamClient::new("ftp://x", reqwest::Client::new(), false).is_err());
        assert!(UpstreamClient::new("nope", reqwest::Client::new(), false).is_err());
    }
}
