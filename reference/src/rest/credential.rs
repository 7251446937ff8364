//! Extracting the one credential of a request: an `X-API-Key` field or an
//! `Authorization: Bearer` field (never the query string, except under the
//! `accept-key-in-query` fault).

use http::{HeaderMap, header};

/// The API-key header (field names are case-insensitive).
pub(crate) const API_KEY_HEADER: &str = "x-api-key";
/// Query parameters read under the `accept-key-in-query` fault.
const QUERY_KEY_PARAMS: [&str; 5] = ["api_key", "apikey", "key", "access_token", "token"];

/// Where a credential was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The `X-API-Key` header field.
    ApiKeyHeader,
    /// `Authorization: Bearer …`.
    Bearer,
    /// A query parameter (only under the `accept-key-in-query` fault).
    Query,
}

/// A well-formed credential value and where it came from.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Presented {
    pub source: Source,
    pub value: String,
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presented")
            .field("source", &self.source)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// The outcome of reading the credential fields of a request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Extracted {
    /// No credential field.
    Missing,
    /// Several credential fields (400 invalid_request).
    Conflict,
    /// A credential field that cannot hold a credential: empty, bytes outside
    /// 0x21..=0x7E, a comma, or another scheme (401); with what was presented, lossily.
    Malformed(String),
    /// One well-formed credential.
    Found(Presented),
}

/// Whether a byte may be part of a credential: visible ASCII (0x21..=0x7E)
/// except the comma (which separates list elements in a header field).
pub(crate) fn is_credential_byte(b: u8) -> bool {
    (0x21..=0x7E).contains(&b) && b != b','
}

/// Trims SP and HTAB; the rest must be non-empty and made of credential bytes.
fn clean(raw: &[u8]) -> Result<String, String> {
    let is_pad = |b: &u8| *b == b' ' || *b == b'\t';
    let start = raw.iter().position(|b| !is_pad(b)).unwrap_or(raw.len());
    let end = raw
        .iter()
        .rposition(|b| !is_pad(b))
        .map_or(start, |i| i + 1);
    let trimmed = &raw[start..end];
    let lossy = String::from_utf8_lossy(trimmed).into_owned();
    if !trimmed.is_empty() && trimmed.iter().all(|b| is_credential_byte(*b)) {
        Ok(lossy)
    } else {
        Err(lossy)
    }
}

/// Reads `Authorization`: scheme `Bearer` (any case), one or more spaces, the value.
fn bearer(raw: &[u8]) -> Extracted {
    let scheme_end = raw.iter().position(|b| *b == b' ').unwrap_or(raw.len());
    let (scheme, rest) = raw.split_at(scheme_end);
    match clean(rest) {
        Ok(value) if scheme.eq_ignore_ascii_case(b"bearer") => Extracted::Found(Presented {
            source: Source::Bearer,
            value,
        }),
        Ok(value) | Err(value) => Extracted::Malformed(value),
    }
}

fn api_key(raw: &[u8]) -> Extracted {
    match clean(raw) {
        Ok(value) => Extracted::Found(Presented {
            source: Source::ApiKeyHeader,
            value,
        }),
        Err(value) => Extracted::Malformed(value),
    }
}

/// The credential of a request from `X-API-Key` or `Authorization: Bearer`.
pub(crate) fn extract(headers: &HeaderMap) -> Extracted {
    let keys: Vec<_> = headers.get_all(API_KEY_HEADER).iter().collect();
    let auths: Vec<_> = headers.get_all(header::AUTHORIZATION).iter().collect();
    match (keys.as_slice(), auths.as_slice()) {
        ([], []) => Extracted::Missing,
        ([key], []) => api_key(key.as_bytes()),
        ([], [auth]) => bearer(auth.as_bytes()),
        _ => Extracted::Conflict,
    }
}

/// The credential of an MCP request from `X-API-Key` alone: `Missing` when
/// there is no such field (whatever `Authorization` holds), `Conflict` when
/// there are several or an `Authorization` field too.
pub(crate) fn extract_api_key(headers: &HeaderMap) -> Extracted {
    if headers.contains_key(API_KEY_HEADER) {
        extract(headers)
    } else {
        Extracted::Missing
    }
}

/// A key in the query string (the `accept-key-in-query` fault).
pub(crate) fn from_query(query: &str) -> Option<Presented> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| QUERY_KEY_PARAMS.contains(&name.as_ref()))
        .and_then(|(_, value)| clean(value.as_bytes()).ok())
        .map(|value| Presented {
            source: Source::Query,
            value,
        })
}

#[cfg(test)]
mod tests {
    use http::{HeaderName, HeaderValue};

    use super::*;

    fn headers(fields: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in fields {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        map
    }

    fn found(source: Source, value: &str) -> Extracted {
        Extracted::Found(Presented {
            source,
            value: value.to_owned(),
        })
    }

    #[test]
    fn x_api_key_in_any_case_is_read_and_trimmed() {
        for name in ["X-API-Key", "x-api-key", "X-Api-KEY"] {
            let h = headers(&[(name, b" \tref_sk_abc\t ")]);
            assert_eq!(extract(&h), found(Source::ApiKeyHeader, "ref_sk_abc"));
        }
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_with_one_or_more_spaces() {
        for value in ["Bearer tok", "bearer tok", "BEARER   tok", "Bearer tok \t"] {
            let h = headers(&[("authorization", value.as_bytes())]);
            assert_eq!(extract(&h), found(Source::Bearer, "tok"), "{value}");
        }
    }

    #[test]
    fn other_schemes_and_empty_values_are_malformed() {
        for value in [
            &b"Basic dXNlcjpwYXNz"[..],
            b"Token tok",
            b"tok",
            b"Bearer",
            b"Bearer   ",
            b"Bearer\ttok",
        ] {
            let h = headers(&[("authorization", value)]);
            assert!(matches!(extract(&h), Extracted::Malformed(_)), "{value:?}");
        }
        for value in [
            &b""[..],
            b"  \t ",
            b"a b",
            b"a,b",
            b"a\tb",
            b"caf\xc3\xa9",
            b"\xff",
        ] {
            let h = headers(&[("X-API-Key", value)]);
            assert!(matches!(extract(&h), Extracted::Malformed(_)), "{value:?}");
        }
        // Bytes a HeaderValue cannot hold (hyper refuses them first) are refused too.
        for value in [&b"a\x00b"[..], b"a\x01b", b"a\x7fb", b"\r\n"] {
            assert!(clean(value).is_err(), "{value:?}");
        }
        assert_eq!(clean(b"\t a!~ \t").as_deref(), Ok("a!~"));
    }

    #[test]
    fn several_fields_conflict() {
        let two_keys = headers(&[("X-API-Key", b"a"), ("x-api-key", b"a")]);
        assert_eq!(extract(&two_keys), Extracted::Conflict);
        let two_auths = headers(&[
            ("authorization", b"Bearer a"),
            ("Authorization", b"Bearer b"),
        ]);
        assert_eq!(extract(&two_auths), Extracted::Conflict);
        let both = headers(&[("X-API-Key", b"a"), ("authorization", b"Bearer a")]);
        assert_eq!(extract(&both), Extracted::Conflict);
        assert_eq!(extract_api_key(&both), Extracted::Conflict);
        assert_eq!(extract(&HeaderMap::new()), Extracted::Missing);
    }

    #[test]
    fn mcp_reads_only_the_api_key_field() {
        let auth = headers(&[("authorization", b"Bearer a")]);
        assert_eq!(extract_api_key(&auth), Extracted::Missing);
        let key = headers(&[("x-api-key", b"k")]);
        assert_eq!(extract_api_key(&key), found(Source::ApiKeyHeader, "k"));
    }

    #[test]
    fn query_keys_only_by_the_known_names() {
        for name in QUERY_KEY_PARAMS {
            let presented = from_query(&format!("x=1&{name}=ref_sk_q")).unwrap();
            assert_eq!(presented.value, "ref_sk_q");
            assert_eq!(presented.source, Source::Query);
        }
        assert!(from_query("secret=ref_sk_q").is_none());
        assert!(from_query("key=").is_none());
    }
}
