//! Web origins (RFC 6454, serialized as in the WHATWG HTML/URL standards), for CORS checks.
//!
//! [`parse`] accepts only `scheme "://" host [ ":" port ]`, or the literal `null`: no path (not even a trailing
//! `/`), query, fragment or userinfo, no whitespace or control characters anywhere. Hosts are parsed with the
//! WHATWG host parser ([`url::Host::parse`]), so they come out lowercased, IDNA-encoded and with IP addresses
//! normalized; the port is dropped when it is the scheme's default (80 for `http`/`ws`, 443 for `https`/`wss`,
//! 21 for `ftp`). [`Origin::serialize`] gives the canonical text and [`parse_canonical`] accepts only it, which is
//! what a CORS check needs to compare an `Access-Control-Allow-Origin` value byte for byte.
//!
//! Look-alikes stay distinct: `https://app.example.com.evil.test`, `https://evil-app.example.com`,
//! `http://app.example.com`, `https://app.example.com:8443` and `https://app.example.com.` (trailing dot) are
//! each a different origin from `https://app.example.com`.

use std::fmt;
use std::str::FromStr;

/// A web origin.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Origin {
    /// A tuple origin: scheme, host and port.
    Tuple(TupleOrigin),
    /// The opaque origin, serialized as `null`. It is never [`same_origin`] with anything, itself included.
    OpaqueNull,
}

/// The scheme/host/port of a tuple origin, normalized: lowercase scheme, WHATWG-serialized host, and no port
/// when it is the scheme's default. Built only by [`parse`] (or [`Origin::tuple`]), so equal origins compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TupleOrigin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl TupleOrigin {
    /// The scheme, lowercase.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The host as serialized (lowercase domain, punycode, dotted IPv4, or bracketed IPv6).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The explicit port, `None` when it is the scheme's default (or the scheme has none and none was given).
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The port in effect: the explicit one, else the scheme's default.
    pub fn port_or_default(&self) -> Option<u16> {
        self.port.or_else(|| default_port(&self.scheme))
    }
}

/// Why a string is not an origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    /// The input is empty.
    #[error("empty origin")]
    Empty,
    /// Whitespace or a control character, at a byte offset.
    #[error("whitespace or control character at byte {0}")]
    BadCharacter(usize),
    /// No `://` after the scheme.
    #[error("expected `scheme://host[:port]`")]
    MissingSeparator,
    /// The scheme is not `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
    #[error("invalid scheme `{0}`")]
    BadScheme(String),
    /// A userinfo (`user@`, `user:pass@`) before the host.
    #[error("an origin has no userinfo")]
    Userinfo,
    /// A path; `trailing_slash` when the path is just `/`.
    #[error("an origin has no path{}", if *trailing_slash { " (not even a trailing slash)" } else { "" })]
    Path {
        /// The path is exactly `/`.
        trailing_slash: bool,
    },
    /// A query (`?…`).
    #[error("an origin has no query")]
    Query,
    /// A fragment (`#…`).
    #[error("an origin has no fragment")]
    Fragment,
    /// A backslash, which URL parsers read as a path separator.
    #[error("backslash in origin")]
    Backslash,
    /// The host is empty.
    #[error("empty host")]
    EmptyHost,
    /// The host is not a valid domain or IP address.
    #[error("invalid host `{host}`: {reason}")]
    BadHost {
        /// The host as given.
        host: String,
        /// The host parser's reason.
        reason: String,
    },
    /// The port is empty, not all digits, or above 65535.
    #[error("invalid port `{0}`")]
    BadPort(String),
    /// [`parse_canonical`] only: the input parses but is not in canonical form.
    #[error("not the canonical serialization (`{canonical}`)")]
    NotCanonical {
        /// The canonical serialization of the same origin.
        canonical: String,
    },
}

/// The default port of a scheme, for the schemes that have one (WHATWG "special" schemes).
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "ftp" => Some(21),
        _ => None,
    }
}

impl Origin {
    /// Builds a tuple origin from parts, with the same rules as [`parse`].
    pub fn tuple(scheme: &str, host: &str, port: Option<u16>) -> Result<Origin, OriginError> {
        match port {
            Some(p) => parse(&format!("{scheme}://{host}:{p}")),
            None => parse(&format!("{scheme}://{host}")),
        }
    }

    /// The tuple, unless this is the opaque `null` origin.
    pub fn as_tuple(&self) -> Option<&TupleOrigin> {
        match self {
            Origin::Tuple(t) => Some(t),
            Origin::OpaqueNull => None,
        }
    }

    /// True for the opaque `null` origin.
    pub fn is_null(&self) -> bool {
        matches!(self, Origin::OpaqueNull)
    }

    /// The canonical serialization: `null`, or `scheme://host` with `:port` when it is not the default.
    pub fn serialize(&self) -> String {
        match self {
            Origin::OpaqueNull => "null".to_string(),
            Origin::Tuple(t) => match t.port {
                Some(p) => format!("{}://{}:{p}", t.scheme, t.host),
                None => format!("{}://{}", t.scheme, t.host),
            },
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.serialize())
    }
}

impl FromStr for Origin {
    type Err = OriginError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

/// True when `a` and `b` are the same origin (RFC 6454 §5): both tuples with equal scheme, host and port.
/// An opaque `null` origin is never the same origin as anything, another `null` included.
pub fn same_origin(a: &Origin, b: &Origin) -> bool {
    match (a, b) {
        (Origin::Tuple(x), Origin::Tuple(y)) => x == y,
        _ => false,
    }
}

/// Parses an origin: `null`, or `scheme "://" host [ ":" port ]` and nothing else (see the module docs).
pub fn parse(input: &str) -> Result<Origin, OriginError> {
    if input.is_empty() {
        return Err(OriginError::Empty);
    }
    if let Some((at, _)) = input
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || c.is_control())
    {
        return Err(OriginError::BadCharacter(at));
    }
    if input == "null" {
        return Ok(Origin::OpaqueNull);
    }
    let (scheme, authority) = input
        .split_once("://")
        .ok_or(OriginError::MissingSeparator)?;
    if !is_scheme(scheme) {
        return Err(OriginError::BadScheme(scheme.to_string()));
    }
    check_authority(authority)?;
    let (host, port) = split_host_port(authority)?;
    let scheme = scheme.to_ascii_lowercase();
    let host = url::Host::parse(host)
        .map_err(|e| OriginError::BadHost {
            host: host.to_string(),
            reason: e.to_string(),
        })?
        .to_string();
    let port = port.filter(|p| Some(*p) != default_port(&scheme));
    Ok(Origin::Tuple(TupleOrigin { scheme, host, port }))
}

/// Like [`parse`], but the input must already be the canonical serialization (lowercase, punycode, no default
/// port, no leading zeros): what a CORS check should demand of `Access-Control-Allow-Origin`.
pub fn parse_canonical(input: &str) -> Result<Origin, OriginError> {
    let origin = parse(input)?;
    let canonical = origin.serialize();
    if canonical != input {
        return Err(OriginError::NotCanonical { canonical });
    }
    Ok(origin)
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3986 §3.1).
fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// Refuses anything after the authority and any userinfo, with the most specific error.
fn check_authority(authority: &str) -> Result<(), OriginError> {
    if authority.contains('@') {
        return Err(OriginError::Userinfo);
    }
    if authority.contains('\\') {
        return Err(OriginError::Backslash);
    }
    match authority.find(['/', '?', '#']) {
        None => Ok(()),
        Some(i) => Err(match authority.as_bytes()[i] {
            b'/' => OriginError::Path {
                trailing_slash: i + 1 == authority.len(),
            },
            b'?' => OriginError::Query,
            _ => OriginError::Fragment,
        }),
    }
}

/// Splits `host [":" port]`, keeping IPv6 brackets in the host.
fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), OriginError> {
    let split_at = if authority.starts_with('[') {
        authority
            .find(']')
            .map(|i| i + 1)
            .unwrap_or(authority.len())
    } else {
        authority.find(':').unwrap_or(authority.len())
    };
    let (host, rest) = authority.split_at(split_at);
    if host.is_empty() {
        return Err(OriginError::EmptyHost);
    }
    let port = match rest.strip_prefix(':') {
        None if rest.is_empty() => None,
        None => return Err(OriginError::BadPort(rest.to_string())),
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse().map_err(|_| OriginError::BadPort(p.to_string()))?)
        }
        Some(p) => return Err(OriginError::BadPort(p.to_string())),
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(s: &str) -> Origin {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    const APP: &str = "https://app.example.com";

    #[test]
    fn look_alikes_are_other_origins() {
        let app = o(APP);
        for other in [
            "https://app.example.com.evil.test",
            "https://evil-app.example.com",
            "https://evilapp.example.com",
            "https://app.example.co",
            "https://pp.example.com",
            "https://example.com",
            "https://www.app.example.com",
            "http://app.example.com",
            "wss://app.example.com",
            "https://app.example.com:8443",
            "https://app.example.com:80",
            "https://app.example.com.",
            "https://аpp.example.com", // Cyrillic а
            "null",
        ] {
            assert!(!same_origin(&app, &o(other)), "{other} passed as {APP}");
            assert!(!same_origin(&o(other), &app), "{other} passed as {APP}");
        }
    }

    #[test]
    fn case_and_default_port_normalize() {
        let app = o(APP);
        for same in [
            "HTTPS://APP.EXAMPLE.COM",
            "https://App.Example.Com",
            "https://app.example.com:443",
            "https://app.example.com:0443",
        ] {
            assert!(same_origin(&app, &o(same)), "{same}");
            assert_eq!(o(same).serialize(), APP);
            assert_eq!(
                parse_canonical(same),
                Err(OriginError::NotCanonical {
                    canonical: APP.into()
                })
            );
        }
        assert_eq!(o("http://a.test:80").serialize(), "http://a.test");
        assert_eq!(o("http://a.test:443").serialize(), "http://a.test:443");
        assert_eq!(o("https://a.test:80").serialize(), "https://a.test:80");
        assert_eq!(o("http://[0:0::1]:8080").serialize(), "http://[::1]:8080");
        assert_eq!(
            o("https://bücher.example").serialize(),
            "https://xn--bcher-kva.example"
        );
        assert_eq!(parse_canonical(APP), Ok(app));
        // A homoglyph host (Cyrillic а) serializes to its A-label, visibly not `app`.
        assert_eq!(
            o("https://аpp.example.com").serialize(),
            "https://xn--pp-6kc.example.com"
        );
    }

    #[test]
    fn null_is_opaque() {
        let n = o("null");
        assert!(n.is_null());
        assert_eq!(n.serialize(), "null");
        assert!(!same_origin(&n, &n));
        assert!(matches!(parse("NULL"), Err(OriginError::MissingSeparator)));
    }

    #[test]
    fn refusals() {
        use OriginError as E;
        type Expect = fn(&OriginError) -> bool;
        let cases: &[(&str, Expect)] = &[
            ("", |e| *e == E::Empty),
            (" https://a.test", |e| *e == E::BadCharacter(0)),
            ("https://a.test ", |e| matches!(e, E::BadCharacter(_))),
            ("https://a.test\n", |e| matches!(e, E::BadCharacter(_))),
            ("https://a\t.test", |e| matches!(e, E::BadCharacter(_))),
            ("https://a.test/", |e| {
                *e == E::Path {
                    trailing_slash: true,
                }
            }),
            ("https://a.test/x", |e| {
                *e == E::Path {
                    trailing_slash: false,
                }
            }),
            ("https://a.test?q", |e| *e == E::Query),
            ("https://a.test#f", |e| *e == E::Fragment),
            ("https://u@a.test", |e| *e == E::Userinfo),
            ("https://u:p@a.test", |e| *e == E::Userinfo),
            ("https://a.test\\x", |e| *e == E::Backslash),
            ("a.test", |e| *e == E::MissingSeparator),
            ("https:a.test", |e| *e == E::MissingSeparator),
            ("https:/a.test", |e| *e == E::MissingSeparator),
            ("https:///a.test", |e| {
                *e == E::Path {
                    trailing_slash: false,
                }
            }),
            ("://a.test", |e| matches!(e, E::BadScheme(_))),
            ("1http://a.test", |e| matches!(e, E::BadScheme(_))),
            ("https://", |e| *e == E::EmptyHost),
            ("https://:443", |e| *e == E::EmptyHost),
            ("https://a.test:", |e| matches!(e, E::BadPort(_))),
            ("https://a.test:65536", |e| matches!(e, E::BadPort(_))),
            ("https://a.test:+1", |e| matches!(e, E::BadPort(_))),
            ("https://a.test:1:2", |e| matches!(e, E::BadPort(_))),
            ("https://[::1]x", |e| matches!(e, E::BadPort(_))),
            ("https://a<b.test", |e| matches!(e, E::BadHost { .. })),
            ("https://[::1", |e| matches!(e, E::BadHost { .. })),
        ];
        for (input, ok) in cases {
            match parse(input) {
                Err(e) if ok(&e) => {}
                other => panic!("{input:?}: unexpected {other:?}"),
            }
        }
    }
}
