//! `WWW-Authenticate` (RFC 9110 §11.6.1): several challenges per field,
//! several fields, case-insensitive schemes and parameter names, quoted strings
//! with escapes, token68 credentials, parameters in any order.

/// One challenge: its scheme and parameters (names lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// The auth-scheme as sent (compare case-insensitively).
    pub(crate) scheme: String,
    /// `name=value` parameters, names lower-cased, values unquoted.
    pub(crate) params: Vec<(String, String)>,
    /// A token68 credential instead of parameters (`Negotiate abc==`).
    pub(crate) token68: Option<String>,
}

impl Challenge {
    /// The value of parameter `name` (case-insensitive), the first if repeated.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the scheme is `Bearer` (any case).
    pub(crate) fn is_bearer(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("bearer")
    }
}

/// The challenges of every field, in order.
pub(crate) fn parse_fields<S: AsRef<str>>(fields: &[S]) -> Vec<Challenge> {
    fields.iter().flat_map(|f| parse(f.as_ref())).collect()
}

/// The Bearer challenge among `challenges`, else the first that names a
/// `resource_metadata` (e.g. a DPoP-only server).
pub(crate) fn bearer(challenges: &[Challenge]) -> Option<&Challenge> {
    challenges.iter().find(|c| c.is_bearer()).or_else(|| {
        challenges
            .iter()
            .find(|c| c.param("resource_metadata").is_some())
    })
}

/// The challenges of one header field. Malformed input yields what could be
/// read before the damage.
pub(crate) fn parse(field: &str) -> Vec<Challenge> {
    let mut p = Parser {
        s: field.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    loop {
        p.skip(|b| b == b',' || is_ws(b));
        let Some(scheme) = p.token() else { break };
        let mut challenge = Challenge {
            scheme,
            params: Vec::new(),
            token68: None,
        };
        p.skip(is_ws);
        if !p.at(b',') && !p.done() {
            p.first_item(&mut challenge);
        }
        while p.next_is_param() {
            if !p.param(&mut challenge) {
                break;
            }
        }
        out.push(challenge);
        if !p.at(b',') && !p.done() {
            // Damaged input: skip to the next comma and try again.
            p.skip(|b| b != b',');
        }
    }
    out
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

impl Parser<'_> {
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }

    fn at(&self, b: u8) -> bool {
        self.s.get(self.i) == Some(&b)
    }

    fn skip(&mut self, f: impl Fn(u8) -> bool) {
        while self.i < self.s.len() && f(self.s[self.i]) {
            self.i += 1;
        }
    }

    fn take(&mut self, f: impl Fn(u8) -> bool) -> Option<String> {
        let start = self.i;
        self.skip(f);
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn token(&mut self) -> Option<String> {
        self.take(is_tchar)
    }

    /// Right after the scheme: a parameter or a token68.
    fn first_item(&mut self, challenge: &mut Challenge) {
        let start = self.i;
        if self.param(challenge) {
            return;
        }
        self.i = start;
        if let Some(mut t) = self.take(is_token68) {
            while self.at(b'=') {
                t.push('=');
                self.i += 1;
            }
            challenge.token68 = Some(t);
            self.skip(is_ws);
        }
    }

    /// Whether a comma and then `token BWS "="` follow (a parameter of the
    /// current challenge, not a new scheme); consumes the comma(s) if so.
    fn next_is_param(&mut self) -> bool {
        let start = self.i;
        self.skip(|b| b == b',' || is_ws(b));
        if self.i == start || self.done() {
            self.i = start;
            return false;
        }
        let after_commas = self.i;
        let is_param = self.token().is_some() && {
            self.skip(is_ws);
            self.at(b'=') && !matches!(self.s.get(self.i + 1), Some(b'=') | None)
        };
        self.i = if is_param { after_commas } else { start };
        is_param
    }

    /// `token BWS "=" BWS ( token / quoted-string )`; false (position
    /// unspecified) when that is not what follows.
    fn param(&mut self, challenge: &mut Challenge) -> bool {
        let Some(name) = self.token() else {
            return false;
        };
        self.skip(is_ws);
        if !self.at(b'=') {
            return false;
        }
        self.i += 1;
        self.skip(is_ws);
        let value = if self.at(b'"') {
            self.quoted()
        } else {
            // A token; leniently, anything up to the next comma or space (an
            // unquoted URL is not a token, but some servers send one).
            self.take(|b| b != b',' && b != b'"' && !is_ws(b))
        };
        let Some(value) = value else { return false };
        challenge.params.push((name.to_ascii_lowercase(), value));
        self.skip(is_ws);
        true
    }

    /// A quoted string, unescaped; an unterminated one runs to the end.
    fn quoted(&mut self) -> Option<String> {
        self.i += 1;
        let mut bytes = Vec::new();
        while let Some(&b) = self.s.get(self.i) {
            self.i += 1;
            match b {
                b'"' => return Some(String::from_utf8_lossy(&bytes).into_owned()),
                b'\\' => {
                    if let Some(&next) = self.s.get(self.i) {
                        bytes.push(next);
                        self.i += 1;
                    }
                }
                _ => bytes.push(b),
            }
        }
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRM: &str = "https://rs.test:8443/meta/custom-prm.json";

    fn prm_of(fields: &[&str]) -> Option<String> {
        let all = parse_fields(fields);
        bearer(&all)
            .and_then(|c| c.param("resource_metadata"))
            .map(str::to_owned)
    }

    #[test]
    fn plain_bearer_challenge() {
        let c = parse(&format!(r#"Bearer resource_metadata="{PRM}""#));
        assert_eq!(c.len(), 1);
        assert!(c[0].is_bearer());
        assert_eq!(c[0].param("resource_metadata"), Some(PRM));
    }

    #[test]
    fn scheme_and_param_names_are_case_insensitive() {
        assert_eq!(
            prm_of(&[&format!(r#"bearer Resource_Metadata="{PRM}""#)]).as_deref(),
            Some(PRM)
        );
        // Unquoted (not a token, strictly, but read leniently).
        assert_eq!(
            prm_of(&[&format!(r#"BEARER resource_metadata={PRM}, scope=x"#)]).as_deref(),
            Some(PRM)
        );
    }

    #[test]
    fn second_challenge_in_one_field() {
        let field = format!(r#"DPoP algs="ES256", Bearer resource_metadata="{PRM}""#);
        let c = parse(&field);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, "DPoP");
        assert_eq!(c[0].param("algs"), Some("ES256"));
        assert_eq!(c[0].param("resource_metadata"), None);
        assert_eq!(prm_of(&[&field]).as_deref(), Some(PRM));
    }

    #[test]
    fn split_across_fields() {
        let second = format!(r#"Bearer resource_metadata="{PRM}""#);
        assert_eq!(
            prm_of(&[r#"DPoP algs="ES256""#, &second]).as_deref(),
            Some(PRM)
        );
    }

    #[test]
    fn params_in_any_order_with_escaped_quotes() {
        let field = format!(
            r#"Bearer realm="say \"hi\", ok", scope="a b", resource_metadata="{PRM}", error=invalid_token"#
        );
        let c = parse(&field);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].param("realm"), Some(r#"say "hi", ok"#));
        assert_eq!(c[0].param("scope"), Some("a b"));
        assert_eq!(c[0].param("resource_metadata"), Some(PRM));
        assert_eq!(c[0].param("error"), Some("invalid_token"));
    }

    #[test]
    fn token68_and_empty_challenges() {
        let c = parse("Negotiate abc+/==, Basic realm=\"x\" , Bearer");
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].token68.as_deref(), Some("abc+/=="));
        assert_eq!(c[1].param("realm"), Some("x"));
        assert!(c[2].is_bearer());
        assert!(c[2].params.is_empty());
    }

    #[test]
    fn whitespace_around_equals_and_commas() {
        let c = parse("Bearer  realm = \"x\" ,, scope= \"s t\"");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].param("realm"), Some("x"));
        assert_eq!(c[0].param("scope"), Some("s t"));
    }

    #[test]
    fn damaged_input_does_not_panic() {
        for s in [
            "",
            ",",
            "Bearer realm=\"unterminated",
            "Bearer =x",
            "Bearer realm=",
            "\"",
            "Bearer a=b=c, c",
        ] {
            let _ = parse(s);
        }
        assert_eq!(
            parse("Bearer realm=\"unterminated")[0].param("realm"),
            Some("unterminated")
        );
    }
}
