//! PKCE values for a scenario that drives an authorization server itself (RFC 7636): a fresh verifier, its
//! S256 challenge, a second verifier that does not match, and a `state`, as `{pkce.verifier}`,
//! `{pkce.challenge}`, `{pkce.other_verifier}` and `{pkce.state}`. Verifiers are redacted by name.

use crate::redact::Redactor;
use crate::template::Vars;

/// RFC 7636 §4.1 unreserved characters.
const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

/// `n` random characters from [`UNRESERVED`].
fn random(n: usize) -> String {
    crate::random::string(UNRESERVED, n)
}

/// Sets the `pkce.*` variables, fresh for this scenario.
pub fn set_vars(vars: &mut Vars, redactor: &mut Redactor) {
    let verifier = random(64);
    let other = random(64);
    let challenge = authconform_mocks::s256_challenge(&verifier);
    // Shown by name so transcripts stay the same from run to run; `state` is alphanumeric, so it reads the
    // same percent-encoded or not.
    let state = crate::random::string(crate::random::ALPHANUMERIC, 22);
    redactor.add(challenge.clone(), "[PKCE:challenge]");
    redactor.add(state.clone(), "[PKCE:state]");
    vars.set("pkce.challenge", challenge);
    redactor.add(verifier.clone(), "[PKCE:verifier]");
    redactor.add(other.clone(), "[PKCE:other_verifier]");
    vars.set("pkce.verifier", verifier);
    vars.set("pkce.other_verifier", other);
    vars.set("pkce.state", state);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_the_s256_of_the_verifier_and_values_are_fresh() {
        let (mut a, mut b) = (Vars::default(), Vars::default());
        let mut r = Redactor::default();
        set_vars(&mut a, &mut r);
        set_vars(&mut b, &mut r);
        let verifier = a.get("pkce.verifier").unwrap();
        assert_eq!(verifier.len(), 64);
        assert!(verifier.bytes().all(|c| UNRESERVED.contains(&c)));
        assert_eq!(
            a.get("pkce.challenge").unwrap(),
            authconform_mocks::s256_challenge(verifier)
        );
        assert_ne!(a.get("pkce.verifier"), b.get("pkce.verifier"));
        assert_ne!(a.get("pkce.verifier"), a.get("pkce.other_verifier"));
    }
}
