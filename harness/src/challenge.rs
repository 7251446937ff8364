//! `WWW-Authenticate` parsing per RFC 9110 §11: many challenges per field, many fields, case-insensitive
//! auth-schemes, token or quoted-string parameter values, token68.

/// One challenge: an auth-scheme and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth-scheme as sent (compare with [`Challenge::is`]).
    pub scheme: String,
    /// A token68 credential hint, if the challenge carried one instead of parameters.
    pub token68: Option<String>,
    /// Parameters in order; names as sent (compare case-insensitively).
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// True when the scheme matches `scheme` case-insensitively.
    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// The value of parameter `name` (case-insensitive name).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses every `WWW-Authenticate` field value given, in order.
pub fn parse_all<'a>(fields: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    fields.into_iter().flat_map(parse).collect()
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn is_token68_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~+/".contains(c)
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).map(|b| *b as char)
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.i += 1;
        }
    }
    fn skip_ws_commas(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | ',')) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> String {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    fn quoted(&mut self) -> String {
        // at '"'
        self.i += 1;
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                '"' => break,
                '\\' => {
                    if let Some(&b) = self.s.get(self.i) {
                        out.push(b);
                        self.i += 1;
                    }
                }
                _ => out.push(self.s[self.i - 1]),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    /// Is an `auth-param` (`token BWS "="`) ahead, without consuming?
    fn param_ahead(&self) -> bool {
        let mut j = self.i;
        let start = j;
        while self.s.get(j).is_some_and(|b| is_tchar(*b as char)) {
            j += 1;
        }
        if j == start {
            return false;
        }
        while matches!(self.s.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        if self.s.get(j) != Some(&b'=') {
            return false;
        }
        // `token68` may end in '=': a param has a value after '=' that is not another '=' or end/comma.
        j += 1;
        while matches!(self.s.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        !matches!(self.s.get(j), None | Some(b'=') | Some(b','))
    }
}

/// Parses one field value into its challenges.
pub fn parse(value: &str) -> Vec<Challenge> {
    let mut c = Cursor {
        s: value.as_bytes(),
        i: 0,
    };
    let mut out: Vec<Challenge> = Vec::new();
    loop {
        c.skip_ws_commas();
        if c.peek().is_none() {
            break;
        }
        let scheme = c.token();
        if scheme.is_empty() {
            // Garbage: skip one byte and go on, so a bad field never hangs or panics.
            c.i += 1;
            continue;
        }
        let mut ch = Challenge {
            scheme,
            token68: None,
            params: Vec::new(),
        };
        c.skip_ws();
        // token68?
        if !c.param_ahead() && c.peek().is_some_and(is_token68_char) {
            let start = c.i;
            while c.peek().is_some_and(is_token68_char) {
                c.i += 1;
            }
            while c.peek() == Some('=') {
                c.i += 1;
            }
            ch.token68 = Some(String::from_utf8_lossy(&c.s[start..c.i]).into_owned());
            out.push(ch);
            continue;
        }
        // auth-params, separated by commas, until something that is not a param.
        loop {
            c.skip_ws_commas();
            if !c.param_ahead() {
                break;
            }
            let name = c.token();
            c.skip_ws();
            c.i += 1; // '='
            c.skip_ws();
            let val = if c.peek() == Some('"') {
                c.quoted()
            } else {
                c.token()
            };
            ch.params.push((name, val));
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_with_params() {
        let v = parse(
            r#"Bearer resource_metadata="https://x/.well-known/oauth-protected-resource/mcp", scope="a b""#,
        );
        assert_eq!(v.len(), 1);
        assert!(v[0].is("BEARER"));
        assert_eq!(
            v[0].param("Resource_Metadata"),
            Some("https://x/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(v[0].param("scope"), Some("a b"));
    }

    #[test]
    fn several_challenges_in_one_field() {
        let v = parse(
            r#"DPoP algs="ES256", Bearer error="invalid_token", error_description="a \"q\", b", Basic realm=x"#,
        );
        let schemes: Vec<_> = v.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, vec!["DPoP", "Bearer", "Basic"]);
        assert_eq!(v[1].param("error_description"), Some("a \"q\", b"));
        assert_eq!(v[2].param("realm"), Some("x"));
    }

    #[test]
    fn bare_scheme_and_token68() {
        let v = parse("Negotiate abc+/==, Bearer");
        assert_eq!(v[0].token68.as_deref(), Some("abc+/=="));
        assert!(v[1].is("bearer"));
        assert!(v[1].params.is_empty());
    }

    #[test]
    fn garbage_never_panics() {
        for s in [
            "",
            ",,,",
            "=\"",
            "\"",
            "Bearer =",
            "Bearer a=\"unterminated",
            "Bearer a= ,b=c",
            "\u{1F600} x",
        ] {
            let _ = parse(s);
        }
        let v = parse("Bearer a= ,b=c");
        assert!(v.iter().any(|c| c.is("bearer")));
    }

    #[test]
    fn across_fields() {
        let v = parse_all(["Basic realm=\"r\"", "bearer scope=\"s\""]);
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].param("scope"), Some("s"));
    }
}
