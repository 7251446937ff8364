//! `Authorization` field values per RFC 9110 §11.4 and §11.6.2, and Bearer credentials per RFC 6750 §2.1.
//!
//! ```text
//! credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//! auth-param  = token BWS "=" BWS ( token / quoted-string )
//! token68     = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//! ```
//!
//! [`parse`] is strict: it refuses what a lenient server might let through (surrounding whitespace, control
//! characters, a second scheme, a quoted token68, stray characters), and says what is wrong with a typed
//! [`AuthorizationError`]. Empty list elements between parameters are accepted, as RFC 9110 §5.6.1.2 requires,
//! but a list of nothing but empty elements (`Bearer ,`) is refused.
//! [`Credentials::render`] produces the canonical text (`Scheme token68` or `Scheme a=b, c="d e"`).

use std::fmt;
use std::str::FromStr;

/// The credentials carried by one `Authorization` (or `Proxy-Authorization`) field value.
///
/// At most one of `token68` and `params` is non-empty; [`parse`] never produces both, and [`Credentials::render`]
/// renders `token68` when it is set and `params` otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The auth-scheme as sent (compare with [`Credentials::is`]).
    pub scheme: String,
    /// The token68 form of the credentials (e.g. the Bearer access token), if sent.
    pub token68: Option<String>,
    /// The auth-param form: names as sent (compare case-insensitively), values unquoted and unescaped.
    pub params: Vec<(String, String)>,
}

/// Why an `Authorization` field value was refused. Offsets are byte offsets into the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationError {
    /// The value is empty.
    #[error("empty Authorization value")]
    Empty,
    /// The value starts or ends with whitespace.
    #[error("leading or trailing whitespace")]
    SurroundingWhitespace,
    /// A control character (other than HTAB inside the grammar's whitespace or quoted strings).
    #[error("control character U+{code:04X} at byte {at}")]
    ControlCharacter {
        /// Where.
        at: usize,
        /// The code point.
        code: u32,
    },
    /// The value does not start with an auth-scheme token.
    #[error("no auth-scheme: unexpected {found:?} at byte {at}")]
    BadScheme {
        /// Where.
        at: usize,
        /// What was found instead.
        found: char,
    },
    /// The auth-scheme is followed by something other than a space.
    #[error("auth-scheme must be followed by a space, found {found:?} at byte {at}")]
    ExpectedSpace {
        /// Where.
        at: usize,
        /// What was found instead.
        found: char,
    },
    /// More than one auth-scheme: an `Authorization` field carries exactly one set of credentials.
    #[error("a second auth-scheme at byte {at}")]
    MultipleSchemes {
        /// Where the second scheme starts.
        at: usize,
    },
    /// The token68 is a quoted string; token68 is never quoted.
    #[error("token68 must not be quoted (byte {at})")]
    QuotedToken68 {
        /// Where the quote is.
        at: usize,
    },
    /// A character that cannot appear in a token68 (only `=` padding may follow the last character).
    #[error("invalid token68 character {found:?} at byte {at}")]
    BadToken68 {
        /// Where.
        at: usize,
        /// The character.
        found: char,
    },
    /// A malformed auth-param list.
    #[error("bad auth-param at byte {at}: {reason}")]
    BadParam {
        /// Where.
        at: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A quoted-string without its closing quote.
    #[error("unterminated quoted-string starting at byte {at}")]
    UnterminatedQuote {
        /// Where the opening quote is.
        at: usize,
    },
    /// The same auth-param name twice (names compare case-insensitively, RFC 9110 §11.2).
    #[error("duplicate auth-param `{name}`")]
    DuplicateParam {
        /// The repeated name, as sent the second time.
        name: String,
    },
}

/// `tchar` (RFC 9110 §5.6.2).
pub fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn is_token68_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~+/".contains(c)
}

/// True when `s` is a non-empty `token` (RFC 9110 §5.6.2).
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_tchar)
}

/// True when `s` is a `token68` (RFC 9110 §11.2), which is also the `b64token` of RFC 6750 §2.1.
pub fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty() && body.chars().all(is_token68_char)
}

impl Credentials {
    /// Credentials in the token68 form, e.g. `Credentials::with_token68("Bearer", "mF_9.B5f-4.1JqM")`.
    pub fn with_token68(scheme: impl Into<String>, token68: impl Into<String>) -> Self {
        Credentials {
            scheme: scheme.into(),
            token68: Some(token68.into()),
            params: Vec::new(),
        }
    }

    /// True when the scheme matches `scheme` case-insensitively.
    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// True when the scheme is `Bearer` (case-insensitively, RFC 9110 §11.1).
    pub fn is_bearer(&self) -> bool {
        self.is("bearer")
    }

    /// The access token of `Bearer` credentials (RFC 6750 §2.1): the token68, when it is a valid `b64token`.
    /// `None` for other schemes and for Bearer credentials in the auth-param form.
    pub fn bearer_token(&self) -> Option<&str> {
        if !self.is_bearer() || !self.params.is_empty() {
            return None;
        }
        self.token68.as_deref().filter(|t| is_token68(t))
    }

    /// The value of parameter `name` (case-insensitive name).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The canonical field value: the scheme as stored, one space, then the token68, or the parameters
    /// separated by `", "` with each value as a token when it is one and as a quoted-string otherwise.
    pub fn render(&self) -> String {
        let mut out = self.scheme.clone();
        if let Some(t) = &self.token68 {
            out.push(' ');
            out.push_str(t);
            return out;
        }
        for (i, (name, value)) in self.params.iter().enumerate() {
            out.push_str(if i == 0 { " " } else { ", " });
            out.push_str(name);
            out.push('=');
            push_value(&mut out, value);
        }
        out
    }
}

/// Appends `value` as a token, or as a quoted-string with `"` and `\` escaped.
fn push_value(out: &mut String, value: &str) {
    if is_token(value) {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl FromStr for Credentials {
    type Err = AuthorizationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

/// A byte cursor over the field value (all grammar delimiters are ASCII).
struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.i..].chars().next()
    }
    fn eat_while(&mut self, f: impl Fn(char) -> bool) -> &str {
        let start = self.i;
        while let Some(c) = self.peek().filter(|c| f(*c)) {
            self.i += c.len_utf8();
        }
        &self.s[start..self.i]
    }
    fn skip_ows(&mut self) {
        self.eat_while(|c| c == ' ' || c == '\t');
    }
    /// The character at the cursor, or the last one when at the end (for error reports).
    fn found(&self) -> char {
        self.peek().unwrap_or('\0')
    }
}

/// Parses one `Authorization` field value.
pub fn parse(value: &str) -> Result<Credentials, AuthorizationError> {
    check_chars(value)?;
    let mut c = Cursor { s: value, i: 0 };
    let scheme = c.eat_while(is_tchar).to_string();
    if scheme.is_empty() {
        return Err(AuthorizationError::BadScheme {
            at: 0,
            found: c.found(),
        });
    }
    let mut creds = Credentials {
        scheme,
        token68: None,
        params: Vec::new(),
    };
    match c.peek() {
        None => return Ok(creds),
        Some(' ') => {}
        Some(',') if second_scheme_after_comma(&c) => {
            return Err(AuthorizationError::MultipleSchemes {
                at: skip_comma_ows(&c),
            });
        }
        Some(found) => return Err(AuthorizationError::ExpectedSpace { at: c.i, found }),
    }
    c.eat_while(|ch| ch == ' ');
    let rest = &value[c.i..];
    if rest.starts_with('"') {
        return Err(AuthorizationError::QuotedToken68 { at: c.i });
    }
    if is_token68(rest) {
        creds.token68 = Some(rest.to_string());
        return Ok(creds);
    }
    if params_ahead(&c) {
        let at = c.i;
        creds.params = parse_params(&mut c)?;
        if creds.params.is_empty() {
            // `Bearer ,` is an empty list, which the grammar allows but no client means to send.
            return Err(AuthorizationError::BadParam {
                at,
                reason: "only empty list elements after the scheme",
            });
        }
        return Ok(creds);
    }
    Err(token68_error(&c))
}

/// Refuses empty values, control characters (HTAB excepted: the grammar allows it in OWS and quoted-strings)
/// and surrounding whitespace.
fn check_chars(value: &str) -> Result<(), AuthorizationError> {
    if value.is_empty() {
        return Err(AuthorizationError::Empty);
    }
    if let Some((at, c)) = value
        .char_indices()
        .find(|(_, c)| c.is_control() && *c != '\t')
    {
        return Err(AuthorizationError::ControlCharacter { at, code: c as u32 });
    }
    if value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
        return Err(AuthorizationError::SurroundingWhitespace);
    }
    Ok(())
}

/// Offset just past `OWS "," OWS` at the cursor.
fn skip_comma_ows(c: &Cursor<'_>) -> usize {
    let mut k = Cursor { s: c.s, i: c.i };
    k.skip_ows();
    if k.peek() == Some(',') {
        k.i += 1;
    }
    k.skip_ows();
    k.i
}

/// At `,`: does another challenge-like `token (SP | end)` follow (a second set of credentials)?
fn second_scheme_after_comma(c: &Cursor<'_>) -> bool {
    let mut k = Cursor {
        s: c.s,
        i: skip_comma_ows(c),
    };
    !k.eat_while(is_tchar).is_empty() && matches!(k.peek(), None | Some(' '))
}

/// Does an auth-param list start at the cursor: an empty element (`,`) or `token BWS "="`?
fn params_ahead(c: &Cursor<'_>) -> bool {
    let mut k = Cursor { s: c.s, i: c.i };
    if k.peek() == Some(',') {
        return true;
    }
    if k.eat_while(is_tchar).is_empty() {
        return false;
    }
    k.skip_ows();
    if k.peek() != Some('=') {
        return false;
    }
    k.i += 1;
    k.skip_ows();
    // `abc==x` is a broken token68, not `abc` = `=x`.
    k.peek() != Some('=')
}

/// Classifies why the text at the cursor is neither a token68 nor an auth-param list.
fn token68_error(c: &Cursor<'_>) -> AuthorizationError {
    let mut k = Cursor { s: c.s, i: c.i };
    let run = k.eat_while(is_token68_char).len();
    k.eat_while(|ch| ch == '=');
    let at = k.i;
    match k.peek() {
        Some(' ') if run > 0 => {
            k.eat_while(|ch| ch == ' ');
            if k.peek().is_some_and(is_tchar) {
                return AuthorizationError::MultipleSchemes { at: k.i };
            }
        }
        Some(',') if run > 0 && second_scheme_after_comma(&k) => {
            return AuthorizationError::MultipleSchemes {
                at: skip_comma_ows(&k),
            };
        }
        _ => {}
    }
    AuthorizationError::BadToken68 {
        at,
        found: c.s[at..].chars().next().unwrap_or('\0'),
    }
}

/// Parses `#auth-param` from the cursor to the end of the value.
fn parse_params(c: &mut Cursor<'_>) -> Result<Vec<(String, String)>, AuthorizationError> {
    let mut params: Vec<(String, String)> = Vec::new();
    loop {
        if !matches!(c.peek(), None | Some(',')) {
            let (name, value) = parse_param(c)?;
            if params.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
                return Err(AuthorizationError::DuplicateParam { name });
            }
            params.push((name, value));
        }
        c.skip_ows();
        match c.peek() {
            None => return Ok(params),
            Some(',') => {
                c.i += 1;
                c.skip_ows();
            }
            Some(_) if second_scheme_here(c) => {
                return Err(AuthorizationError::MultipleSchemes { at: c.i });
            }
            Some(_) => {
                return Err(AuthorizationError::BadParam {
                    at: c.i,
                    reason: "expected `,` between parameters",
                });
            }
        }
    }
}

/// At a token followed by a space and another token not followed by `=`: `Basic realm=x` after a param list
/// is still a param; `a=b Basic xyz` is a second scheme.
fn second_scheme_here(c: &Cursor<'_>) -> bool {
    let mut k = Cursor { s: c.s, i: c.i };
    !k.eat_while(is_tchar).is_empty() && k.peek() == Some(' ')
}

/// Parses one `token BWS "=" BWS ( token / quoted-string )`.
fn parse_param(c: &mut Cursor<'_>) -> Result<(String, String), AuthorizationError> {
    let name = c.eat_while(is_tchar).to_string();
    if name.is_empty() {
        return Err(AuthorizationError::BadParam {
            at: c.i,
            reason: "expected a parameter name",
        });
    }
    let after_name = c.i;
    c.skip_ows();
    if c.peek() != Some('=') {
        if c.peek().is_some_and(is_tchar) && c.i > after_name {
            return Err(AuthorizationError::MultipleSchemes {
                at: after_name - name.len(),
            });
        }
        return Err(AuthorizationError::BadParam {
            at: c.i,
            reason: "expected `=` after the parameter name",
        });
    }
    c.i += 1;
    c.skip_ows();
    if c.peek() == Some('"') {
        return Ok((name, parse_quoted(c)?));
    }
    let value = c.eat_while(is_tchar).to_string();
    if value.is_empty() {
        return Err(AuthorizationError::BadParam {
            at: c.i,
            reason: "expected a token or quoted-string value",
        });
    }
    Ok((name, value))
}

/// Parses a quoted-string at the cursor (on the opening quote) and returns its unescaped content.
fn parse_quoted(c: &mut Cursor<'_>) -> Result<String, AuthorizationError> {
    let open = c.i;
    c.i += 1;
    let mut out = String::new();
    loop {
        match c.peek() {
            None => return Err(AuthorizationError::UnterminatedQuote { at: open }),
            Some('"') => {
                c.i += 1;
                return Ok(out);
            }
            Some('\\') => {
                c.i += 1;
                let Some(e) = c.peek() else {
                    return Err(AuthorizationError::UnterminatedQuote { at: open });
                };
                out.push(e);
                c.i += e.len_utf8();
            }
            Some(ch) => {
                out.push(ch);
                c.i += ch.len_utf8();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AuthorizationError as E;

    #[test]
    fn bearer_token68() {
        let c = parse("Bearer mF_9.B5f-4.1JqM").unwrap();
        assert!(c.is_bearer());
        assert_eq!(c.bearer_token(), Some("mF_9.B5f-4.1JqM"));
        assert_eq!(c.render(), "Bearer mF_9.B5f-4.1JqM");
        let c = parse("bEaReR  abc+/==").unwrap();
        assert!(c.is_bearer());
        assert_eq!(c.bearer_token(), Some("abc+/=="));
        assert_eq!(c.render(), "bEaReR abc+/==");
        assert_eq!(parse("Basic dXNlcjpwYXNz").unwrap().bearer_token(), None);
        let c = Credentials::with_token68("Bearer", "a b");
        assert_eq!(c.bearer_token(), None, "not a b64token");
    }

    #[test]
    fn params() {
        let c = parse(r#"Digest username="a \"b\"", realm=r,, nc = 00000001 ,qop="auth""#).unwrap();
        assert_eq!(c.param("USERNAME"), Some("a \"b\""));
        assert_eq!(c.param("nc"), Some("00000001"));
        assert_eq!(c.params.len(), 4);
        assert_eq!(
            c.render(),
            r#"Digest username="a \"b\"", realm=r, nc=00000001, qop=auth"#
        );
        assert_eq!(parse(&c.render()).unwrap(), c);
        let c = parse("Bearer a=").err();
        assert!(c.is_none(), "`a=` is a token68");
        assert!(parse("Bearer realm=x").unwrap().bearer_token().is_none());
        assert_eq!(parse(r#"X a="""#).unwrap().param("a"), Some(""));
        assert_eq!(
            parse("Bare").unwrap(),
            Credentials {
                scheme: "Bare".into(),
                token68: None,
                params: vec![]
            }
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(parse(""), Err(E::Empty));
        assert_eq!(parse(" Bearer x"), Err(E::SurroundingWhitespace));
        assert_eq!(parse("Bearer x "), Err(E::SurroundingWhitespace));
        assert_eq!(parse("Bearer x\t"), Err(E::SurroundingWhitespace));
        assert!(matches!(
            parse("Bearer x\r\n"),
            Err(E::ControlCharacter { at: 8, code: 13 })
        ));
        assert!(matches!(
            parse("Bearer a\0b"),
            Err(E::ControlCharacter { .. })
        ));
        assert!(matches!(
            parse("Bearer \"x\u{7f}\""),
            Err(E::ControlCharacter { .. })
        ));
        assert!(matches!(parse("Bearer\tx"), Err(E::ExpectedSpace { .. })));
        assert!(matches!(
            parse("Bearer Basic abc"),
            Err(E::MultipleSchemes { at: 13 })
        ));
        assert!(matches!(
            parse("Bearer abc Basic xyz"),
            Err(E::MultipleSchemes { .. })
        ));
        assert!(matches!(
            parse("Bearer abc, Basic xyz"),
            Err(E::MultipleSchemes { .. })
        ));
        assert!(matches!(
            parse("Bearer, Basic xyz"),
            Err(E::MultipleSchemes { .. })
        ));
        assert!(matches!(
            parse("Digest a=b, Basic xyz"),
            Err(E::MultipleSchemes { .. })
        ));
        assert!(matches!(
            parse("Bearer \"abc\""),
            Err(E::QuotedToken68 { at: 7 })
        ));
        assert!(matches!(
            parse("Bearer ab$c"),
            Err(E::BadToken68 { at: 9, found: '$' })
        ));
        assert!(matches!(
            parse("Bearer abc==x"),
            Err(E::BadToken68 { found: 'x', .. })
        ));
        assert!(matches!(
            parse("Bearer é"),
            Err(E::BadToken68 { found: 'é', .. })
        ));
        assert!(matches!(parse("=abc"), Err(E::BadScheme { .. })));
        assert!(matches!(
            parse("X a=\"b"),
            Err(E::UnterminatedQuote { at: 4 })
        ));
        assert!(matches!(
            parse("X a=b c=d"),
            Err(E::MultipleSchemes { .. }) | Err(E::BadParam { .. })
        ));
        assert!(matches!(parse("X a=b;c"), Err(E::BadParam { .. })));
        assert!(matches!(parse("X a=, b=c"), Err(E::BadParam { .. })));
        assert!(matches!(parse("X a=1, A=2"), Err(E::DuplicateParam { .. })));
        assert!(matches!(parse("Bearer ,"), Err(E::BadParam { at: 7, .. })));
        assert!(matches!(parse("Bearer , ,"), Err(E::BadParam { .. })));
        assert_eq!(parse(", a=b"), Err(E::BadScheme { at: 0, found: ',' }));
    }
}
