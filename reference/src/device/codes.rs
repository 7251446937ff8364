//! Device codes and user codes.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt as _;

/// The user-code alphabet: 20 consonants without look-alikes (RFC 8628 §6.1),
/// so 8 characters carry about 34.5 bits.
const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// A device code: 32 random bytes as 43 base64url characters (256 bits).
pub(super) fn device_code() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A user code `XXXX-XXXX` from [`USER_CODE_ALPHABET`], canonical (without the hyphen).
pub(super) fn user_code() -> String {
    let mut rng = rand::rng();
    (0..8)
        .map(|_| char::from(USER_CODE_ALPHABET[rng.random_range(0..USER_CODE_ALPHABET.len())]))
        .collect()
}

/// `XXXXXXXX` shown as `XXXX-XXXX`.
pub(super) fn display(canonical: &str) -> String {
    let (a, b) = canonical.split_at(canonical.len() / 2);
    format!("{a}-{b}")
}

/// What a user typed, canonical: upper case, without hyphens and spaces.
pub(super) fn normalize(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let dc = device_code();
        assert_eq!(dc.len(), 43);
        assert!(
            dc.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(dc, device_code());
        let uc = user_code();
        assert_eq!(uc.len(), 8);
        assert!(uc.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
        assert_eq!(display("BCDFGHJK"), "BCDF-GHJK");
        assert_eq!(normalize(" bcdf-ghjk "), "BCDFGHJK");
    }
}
