//! Random values a run makes up (keys of a mock host, PKCE verifiers): characters drawn from an alphabet.

use rand::RngExt;

/// Letters and digits.
pub const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `n` characters drawn uniformly from `alphabet` (ASCII).
pub fn string(alphabet: &[u8], n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}
