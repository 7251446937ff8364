//! OAuth protocol plumbing shared by the mock servers: RFC 6749 §5.2 error
//! responses, form parsing with duplicate detection, client credentials from
//! the `Authorization` header, and small validators.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::journal::Outcome;

/// The realm of `WWW-Authenticate: Basic` challenges.
pub(crate) const REALM: &str = "authconform-mocks";

/// An RFC 6749 §5.2 error response: JSON `{"error", "error_description"}`,
/// `Cache-Control: no-store`, and for `invalid_client` a 401 with a Basic
/// challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OAuthError {
    pub(crate) status: StatusCode,
    pub(crate) error: &'static str,
    pub(crate) description: String,
}

impl OAuthError {
    pub(crate) fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }

    /// A 400 error.
    pub(crate) fn bad(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, error, description)
    }

    /// `invalid_request` (400).
    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        OAuthError::bad("invalid_request", description)
    }

    /// `invalid_client` (401 with `WWW-Authenticate: Basic`).
    pub(crate) fn invalid_client(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    /// `invalid_grant` (400).
    pub(crate) fn invalid_grant(description: impl Into<String>) -> Self {
        OAuthError::bad("invalid_grant", description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        let mut response = (self.status, no_store(), Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = format!("Basic realm=\"{REALM}\", charset=\"UTF-8\"");
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
            .extensions_mut()
            .insert(Outcome(self.error.to_owned()));
        response
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub(crate) fn no_store() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// A JSON response with `Cache-Control: no-store` and an outcome for the
/// journal.
pub(crate) fn json_no_store(status: StatusCode, body: Value, outcome: &str) -> Response {
    let mut response = (status, no_store(), Json(body)).into_response();
    response
        .extensions_mut()
        .insert(Outcome(outcome.to_owned()));
    response
}

/// Parsed `application/x-www-form-urlencoded` parameters.
///
/// Parameters sent without a value are treated as omitted (RFC 6749 §3.1).
#[derive(Clone, Debug, Default)]
pub(crate) struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub(crate) fn parse(bytes: &[u8]) -> Form {
        Form {
            pairs: url::form_urlencoded::parse(bytes)
                .into_owned()
                .filter(|(_, v)| !v.is_empty())
                .collect(),
        }
    }

    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Form {
        Form {
            pairs: pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
        }
    }

    /// The single value of `name`; a repeated parameter is `invalid_request`
    /// (RFC 6749 §3.1: parameters "MUST NOT be included more than once").
    pub(crate) fn one(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut values = self.pairs.iter().filter(|(n, _)| n == name);
        let first = values.next().map(|(_, v)| v.as_str());
        if values.next().is_some() {
            return Err(OAuthError::invalid_request(format!(
                "parameter `{name}` repeated"
            )));
        }
        Ok(first)
    }

    /// The single value of `name`, which must be present.
    pub(crate) fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.one(name)?
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter `{name}`")))
    }

    /// Every value of `name` (for parameters that may repeat, like
    /// `resource`).
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Require `Content-Type: application/x-www-form-urlencoded` and parse the
/// body.
pub(crate) fn form_body(headers: &HeaderMap, body: &[u8]) -> Result<Form, OAuthError> {
    if !content_type_is(headers, "application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "the request body must be application/x-www-form-urlencoded",
        ));
    }
    Ok(Form::parse(body))
}

/// Whether the media type of `Content-Type` is `expected` (parameters such
/// as `charset` ignored, case-insensitive).
pub(crate) fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(expected))
}

/// Client credentials from an `Authorization` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HeaderCredentials {
    /// No `Authorization` header.
    None,
    /// `Basic` credentials, form-urlencoding removed (RFC 6749 §2.3.1).
    Basic { client_id: String, secret: String },
}

/// Read `Authorization: Basic`; any other or malformed value is
/// `invalid_client`.
pub(crate) fn header_credentials(headers: &HeaderMap) -> Result<HeaderCredentials, OAuthError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(HeaderCredentials::None);
    };
    if values.next().is_some() {
        return Err(OAuthError::invalid_request(
            "more than one Authorization header",
        ));
    }
    let malformed = || OAuthError::invalid_client("malformed Basic credentials");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, rest) = value.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(format!(
            "unsupported client authentication scheme `{scheme}` (use Basic)"
        )));
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(HeaderCredentials::Basic {
        client_id: unescape(id),
        secret: unescape(secret),
    })
}

/// Constant-time string comparison for secrets.
pub(crate) fn secret_eq(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// `n` random bytes, base64url without padding.
pub(crate) fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::fill(bytes.as_mut_slice());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 8707 §2: a resource must be an absolute URI without a fragment.
pub(crate) fn valid_resource(resource: &str) -> bool {
    match url::Url::parse(resource) {
        Ok(url) => url.fragment().is_none() && !resource.contains('#'),
        Err(_) => false,
    }
}

/// RFC 7636 §4.1: `43*128unreserved`.
pub(crate) fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// BASE64URL(SHA256(ASCII(verifier))), RFC 7636 §4.2.
pub fn s256_challenge(verifier: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Escape text for an HTML page.
pub(crate) fn html_escape(text: &str) -> String {
    ::html_escape::encode_quoted_attribute(text).into_owned()
}

/// A small HTML page (used for errors that must not be redirected).
pub(crate) fn html_page(status: StatusCode, title: &str, text: &str, outcome: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1><p>{x}</p></body></html>\n",
        t = html_escape(title),
        x = html_escape(text)
    );
    let mut response = (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response();
    response
        .extensions_mut()
        .insert(Outcome(outcome.to_owned()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_challenge() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifier_and_resource_rules() {
        assert!(valid_verifier(&"a".repeat(43)));
        assert!(!valid_verifier(&"a".repeat(42)));
        assert!(!valid_verifier(&"a".repeat(129)));
        assert!(!valid_verifier(&format!("{}+", "a".repeat(43))));
        assert!(valid_resource("https://mcp.example/mcp"));
        assert!(!valid_resource("https://mcp.example/mcp#frag"));
        assert!(!valid_resource("/mcp"));
        assert!(!valid_resource(""));
    }

    #[test]
    fn form_rejects_repeats_and_drops_empty_values() {
        let form = Form::parse(b"a=1&a=2&b=&c=3");
        assert!(form.one("a").is_err());
        assert_eq!(form.one("b").ok(), Some(None));
        assert_eq!(form.one("c").ok(), Some(Some("3")));
        assert_eq!(form.all("a"), vec!["1", "2"]);
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("my%20client:p%3Ass");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        assert_eq!(
            header_credentials(&headers),
            Ok(HeaderCredentials::Basic {
                client_id: "my client".into(),
                secret: "p:ss".into()
            })
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert!(header_credentials(&headers).is_err());
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert!(header_credentials(&headers).is_err());
    }
}
