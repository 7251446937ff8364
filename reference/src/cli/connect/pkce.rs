//! PKCE (RFC 7636) and `state` values: fresh, random, never printed.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt as _;

/// The unreserved characters of RFC 7636 §4.1.
const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
/// Length of a verifier (43..=128).
const VERIFIER_LEN: usize = 64;

/// How the authorization request carries PKCE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// `S256`: the challenge is BASE64URL(SHA256(verifier)).
    S256,
    /// `plain` (the `plain-pkce` fault): the challenge is the verifier.
    Plain,
    /// No PKCE at all (the `no-pkce` fault).
    Off,
}

/// One authorization request's PKCE pair.
#[derive(Clone)]
pub(crate) struct Pkce {
    /// The code_verifier sent at the token endpoint (none when PKCE is off).
    pub(crate) verifier: Option<String>,
    /// `code_challenge` and `code_challenge_method` for the authorization URL.
    pub(crate) challenge: Option<(String, &'static str)>,
}

impl Pkce {
    /// A fresh pair for `method`.
    pub(crate) fn new(method: Method) -> Self {
        let verifier = random_verifier();
        match method {
            Method::S256 => Self {
                challenge: Some((s256(&verifier), "S256")),
                verifier: Some(verifier),
            },
            Method::Plain => Self {
                challenge: Some((verifier.clone(), "plain")),
                verifier: Some(verifier),
            },
            Method::Off => Self {
                verifier: None,
                challenge: None,
            },
        }
    }
}

/// A verifier of [`VERIFIER_LEN`] unreserved characters.
pub(crate) fn random_verifier() -> String {
    let mut rng = rand::rng();
    (0..VERIFIER_LEN)
        .map(|_| UNRESERVED[rng.random_range(0..UNRESERVED.len())] as char)
        .collect()
}

/// `BASE64URL(SHA256(ASCII(verifier)))`, unpadded.
pub(crate) fn s256(verifier: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// 256 random bits, base64url: an unguessable `state` (or `jti`).
pub(crate) fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_example() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_are_fresh_and_well_formed() {
        let a = Pkce::new(Method::S256);
        let b = Pkce::new(Method::S256);
        let (va, vb) = (a.verifier.clone().unwrap(), b.verifier.unwrap());
        assert_ne!(va, vb);
        assert!((43..=128).contains(&va.len()));
        assert!(va.bytes().all(|c| UNRESERVED.contains(&c)));
        let (challenge, method) = a.challenge.unwrap();
        assert_eq!(method, "S256");
        assert_eq!(challenge, s256(&va));
    }

    #[test]
    fn faulty_methods() {
        let plain = Pkce::new(Method::Plain);
        let (challenge, method) = plain.challenge.unwrap();
        assert_eq!(method, "plain");
        assert_eq!(Some(challenge), plain.verifier);
        let off = Pkce::new(Method::Off);
        assert!(off.challenge.is_none() && off.verifier.is_none());
    }

    #[test]
    fn state_is_long_and_random() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
    }
}
