//! Describing access tokens to mint, and tampering with minted ones.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// What a minted access token says.
///
/// The default is subject `"alice"`, no audience (the caller sets it), no
/// scope, `expires_in` 300 seconds, issuer `None` (meaning the minting
/// server's issuer), the [`Signer::Trusted`] key and no extra claims.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenSpec {
    /// The `sub` claim.
    pub subject: String,
    /// The `aud` claim: empty means no `aud` claim, one value is written as a
    /// string, several as an array.
    pub audience: Vec<String>,
    /// The space-delimited `scope` claim; `None` means no `scope` claim.
    pub scope: Option<String>,
    /// Seconds from now until `exp`; negative means already expired.
    pub expires_in: i64,
    /// Overrides the `iss` claim; `None` means the minting server's issuer.
    pub issuer: Option<String>,
    /// Which key signs the token.
    pub signer: Signer,
    /// Extra claims, merged last (they override the standard ones).
    pub extra: Map<String, Value>,
}

impl Default for TokenSpec {
    fn default() -> Self {
        TokenSpec {
            subject: "alice".to_owned(),
            audience: Vec::new(),
            scope: None,
            expires_in: 300,
            issuer: None,
            signer: Signer::Trusted,
            extra: Map::new(),
        }
    }
}

/// Which key signs a minted token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Signer {
    /// The authorization server's key, published in its JWKS.
    #[default]
    Trusted,
    /// A key NOT published in the JWKS but with the SAME `kid` header as the
    /// trusted key, so only signature verification can tell it apart.
    Foreign,
}

/// Post-signing tampering used for invalid-token checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tamper {
    /// Header rewritten to `{"alg":"none","typ":"JWT"}` (`kid` dropped) and
    /// signature removed: the token ends with `.`.
    AlgNone,
    /// The last N characters removed.
    Truncate(usize),
    /// One character in the middle of the payload segment replaced with a
    /// different base64url character (the segment stays valid base64url).
    FlipPayload,
}

/// Apply `how` to a compact JWS `token`.
///
/// Never panics. Input that is not a three-segment token is handled on a best
/// effort basis: [`Tamper::AlgNone`] keeps whatever second segment exists
/// (or an empty payload), and [`Tamper::FlipPayload`] returns a token without
/// a non-empty payload segment unchanged.
pub fn tamper(token: &str, how: Tamper) -> String {
    match how {
        Tamper::AlgNone => {
            let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
            let payload = token.split('.').nth(1).unwrap_or("");
            format!("{header}.{payload}.")
        }
        Tamper::Truncate(n) => {
            let keep = token.chars().count().saturating_sub(n);
            token.chars().take(keep).collect()
        }
        Tamper::FlipPayload => {
            let mut segments: Vec<String> = token.split('.').map(str::to_owned).collect();
            let Some(payload) = segments.get_mut(1) else {
                return token.to_owned();
            };
            let mut chars: Vec<char> = payload.chars().collect();
            if chars.is_empty() {
                return token.to_owned();
            }
            // The middle character is never the last one of a segment longer
            // than two characters, so all six of its bits are significant and
            // the decoded payload really changes.
            let mid = chars.len() / 2;
            chars[mid] = if chars[mid] == 'A' { 'B' } else { 'A' };
            *payload = chars.into_iter().collect();
            segments.join(".")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MX0.c2lnbmF0dXJl";

    #[test]
    fn default_spec() {
        let spec = TokenSpec::default();
        assert_eq!(spec.subject, "alice");
        assert!(spec.audience.is_empty());
        assert_eq!(spec.scope, None);
        assert_eq!(spec.expires_in, 300);
        assert_eq!(spec.issuer, None);
        assert_eq!(spec.signer, Signer::Trusted);
        assert!(spec.extra.is_empty());
    }

    #[test]
    fn alg_none_rewrites_header_and_drops_signature() {
        let t = tamper(SAMPLE, Tamper::AlgNone);
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[0]).unwrap(),
            br#"{"alg":"none","typ":"JWT"}"#
        );
        assert_eq!(parts[1], SAMPLE.split('.').nth(1).unwrap());
        assert_eq!(parts[2], "");
        assert!(t.ends_with('.'));
    }

    #[test]
    fn truncate_removes_last_chars() {
        let t = tamper(SAMPLE, Tamper::Truncate(5));
        assert_eq!(t, &SAMPLE[..SAMPLE.len() - 5]);
        assert_eq!(tamper("abc", Tamper::Truncate(10)), "");
        assert_eq!(tamper(SAMPLE, Tamper::Truncate(0)), SAMPLE);
    }

    #[test]
    fn flip_payload_changes_one_payload_char() {
        let t = tamper(SAMPLE, Tamper::FlipPayload);
        let (a, b): (Vec<&str>, Vec<&str>) = (SAMPLE.split('.').collect(), t.split('.').collect());
        assert_eq!(a[0], b[0]);
        assert_eq!(a[2], b[2]);
        assert_ne!(a[1], b[1]);
        assert_eq!(a[1].len(), b[1].len());
        let differing = a[1]
            .chars()
            .zip(b[1].chars())
            .filter(|(x, y)| x != y)
            .count();
        assert_eq!(differing, 1);
        let before = URL_SAFE_NO_PAD.decode(a[1]).unwrap();
        let after = URL_SAFE_NO_PAD.decode(b[1]).unwrap();
        assert_ne!(before, after);
    }

    #[test]
    fn malformed_input_does_not_panic() {
        for input in ["", ".", "..", "abc", "a.", "é.é.é"] {
            let _ = tamper(input, Tamper::AlgNone);
            let _ = tamper(input, Tamper::Truncate(2));
            let _ = tamper(input, Tamper::FlipPayload);
        }
        assert_eq!(tamper("abc", Tamper::FlipPayload), "abc");
    }
}
