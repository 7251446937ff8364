//! Extracting the one credential of a request: an `X-API-Key` field or an
//! `Authorization: Bearer` field (never the query string, except under the
//! `accept-key-in-query` fault).

use std::borrow::Cow;

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

/// Folds the full-width forms U+FF01..=U+FF5E of UTF-8 `raw` to their ASCII
/// counterparts (the `fold-full-width-key` fault); invalid UTF-8 is left as is.
fn fold_full_width(raw: &[u8]) -> Cow<'_, [u8]> {
    const FULL_WIDTH: std::ops::RangeInclusive<u32> = 0xFF01..=0xFF5E;
    const OFFSET: u32 = 0xFF01 - 0x21;
    match std::str::from_utf8(raw) {
        Ok(text) if text.chars().any(|c| FULL_WIDTH.contains(&u32::from(c))) => {
            let folded: String = text
                .chars()
                .map(|c| {
                    let code = u32::from(c);
                    if FULL_WIDTH.contains(&code) {
                        char::from_u32(code - OFFSET).unwrap_or(c)
                    } else {
                        c
                    }
                })
                .collect();
            Cow::Owned(folded.into_bytes())
        }
        _ => Cow::Borrowed(raw),
    }
}

/// Whether a credential field of `headers` holds a full-width form, the only
/// values the `fold-full-width-key` fault changes (so it is asked only then).
pub(crate) fn has_full_width(headers: &HeaderMap) -> bool {
    headers
        .get_all(API_KEY_HEADER)
        .iter()
        .chain(headers.get_all(header::AUTHORIZATION).iter())
        .any(|v| matches!(fold_full_width(v.as_bytes()), Cow::Owned(_)))
}

/// Trims SP and HTAB; the rest must be non-empty and made of credential bytes
/// (checked after folding full-width forms when `fold` is set).
fn clean(raw: &[u8], fold: bool) -> Result<String, String> {
    let raw = if fold {
        fold_full_width(raw)
    } else {
        Cow::Borrowed(raw)
    };
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
fn bearer(raw: &[u8], fold: bool) -> Extracted {
    let scheme_end = raw.iter().position(|b| *b == b' ').unwrap_or(raw.len());
    let (scheme, rest) = raw.split_at(scheme_end);
    match clean(rest, fold) {
        Ok(value) if scheme.eq_ignore_ascii_case(b"bearer") => Extracted::Found(Presented {
            source: Source::Bearer,
            value,
        }),
        Ok(value) | Err(value) => Extracted::Malformed(value),
    }
}

fn api_key(raw: &[u8], fold: bool) -> Extracted {
    match clean(raw, fold) {
        Ok(value) => Extracted::Found(Presented {
            source: Source::ApiKeyHeader,
            value,
        }),
        Err(value) => Extracted::Malformed(value),
    }
}

/// The credential of a request from `X-API-Key` or `Authorization: Bearer`;
/// `fold` folds full-width forms first (the `fold-full-width-key` fault).
pub(crate) fn extract(headers: &HeaderMap, fold: bool) -> Extracted {
    let keys: Vec<_> = headers.get_all(API_KEY_HEADER).iter().collect();
    let auths: Vec<_> = headers.get_all(header::AUTHORIZATION).iter().collect();
    match (keys.as_slice(), auths.as_slice()) {
        ([], []) => Extracted::Missing,
        ([key], []) => api_key(key.as_bytes(), fold),
        ([], [auth]) => bearer(auth.as_bytes(), fold),
        _ => Extracted::Conflict,
    }
}

/// The credential of an MCP request from `X-API-Key` alone: `Missing` when
/// there is no such field (whatever `Authorization` holds), `Conflict` when
/// there are several or an `Authorization` field too.
pub(crate) fn extract_api_key(headers: &HeaderMap, fold: bool) -> Extracted {
    if headers.contains_key(API_KEY_HEADER) {
        extract(headers, fold)
    } else {
        Extracted::Missing
    }
}

/// A key in the query string (the `accept-key-in-query` fault).
pub(crate) fn from_query(query: &str) -> Option<Presented> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| QUERY_KEY_PARAMS.contains(&name.as_ref()))
        .and_then(|(_, value)| clean(value.as_bytes(), false).ok())
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
            assert_eq!(
                extract(&h, false),
                found(Source::ApiKeyHeader, "ref_sk_abc")
            );
        }
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_with_one_or_more_spaces() {
        for value in ["Bearer tok", "bearer tok", "BEARER   tok", "Bearer tok \t"] {
            let h = headers(&[("authorization", value.as_bytes())]);
            assert_eq!(extract(&h, false), found(Source::Bearer, "tok"), "{value}");
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
            assert!(
                matches!(extract(&h, false), Extracted::Malformed(_)),
                "{value:?}"
            );
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
            assert!(
                matches!(extract(&h, false), Extracted::Malformed(_)),
                "{value:?}"
            );
        }
        // Bytes a HeaderValue cannot hold (hyper refuses them first) are refused too.
        for value in [&b"a\x00b"[..], b"a\x01b", b"a\x7fb", b"\r\n"] {
            assert!(clean(value, false).is_err(), "{value:?}");
        }
        assert_eq!(clean(b"\t a!~ \t", false).as_deref(), Ok("a!~"));
    }

    #[test]
    fn full_width_forms_fold_only_when_asked() {
        // "ｒｅｆ_sk！～" with U+FF52, U+FF45, U+FF46, U+FF01 and U+FF5E.
        let value = "\u{ff52}\u{ff45}\u{ff46}_sk\u{ff01}\u{ff5e}";
        let h = headers(&[("X-API-Key", value.as_bytes())]);
        assert!(matches!(extract(&h, false), Extracted::Malformed(_)));
        assert_eq!(extract(&h, true), found(Source::ApiKeyHeader, "ref_sk!~"));
        let bearer = "Bearer  k\u{ff10}y ";
        let h = headers(&[("authorization", bearer.as_bytes())]);
        assert_eq!(extract(&h, true), found(Source::Bearer, "k0y"));
        // Outside the range, a folded comma, and invalid UTF-8 stay malformed.
        for value in [
            "a\u{ff00}b".as_bytes(),
            "a\u{ff5f}b".as_bytes(),
            "a\u{3000}b".as_bytes(),
            "a\u{ff0c}b".as_bytes(),
            b"a\xef\xbc",
            b"\xff\xbc\x81",
        ] {
            let h = headers(&[("X-API-Key", value)]);
            assert!(
                matches!(extract(&h, true), Extracted::Malformed(_)),
                "{value:?}"
            );
        }
    }

    #[test]
    fn several_fields_conflict() {
        let two_keys = headers(&[("X-API-Key", b"a"), ("x-api-key", b"a")]);
        assert_eq!(extract(&two_keys, false), Extracted::Conflict);
        let two_auths = headers(&[
            ("authorization", b"Bearer a"),
            ("Authorization", b"Bearer b"),
        ]);
        assert_eq!(extract(&two_auths, false), Extracted::Conflict);
        let both = headers(&[("X-API-Key", b"a"), ("authorization", b"Bearer a")]);
        assert_eq!(extract(&both, false), Extracted::Conflict);
        assert_eq!(extract_api_key(&both, false), Extracted::Conflict);
        assert_eq!(extract(&HeaderMap::new(), false), Extracted::Missing);
    }

    #[test]
    fn mcp_reads_only_the_api_key_field() {
        let auth = headers(&[("authorization", b"Bearer a")]);
        assert_eq!(extract_api_key(&auth, false), Extracted::Missing);
        let key = headers(&[("x-api-key", b"k")]);
        assert_eq!(
            extract_api_key(&key, false),
            found(Source::ApiKeyHeader, "k")
        );
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
