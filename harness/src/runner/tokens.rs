//! Tokens a scenario asks for: minted by the mock authorization servers, or derived from another by tampering.

use super::setup::Mocks;
use crate::redact::Redactor;
use crate::scenario::{IssuerChoice, Scenario, SignerChoice, TamperChoice};
use crate::template::Vars;
use authconform_mocks::{Signer, Tamper, TokenSpec};

/// Mints every token of `s`, registers each with the redactor, and sets `token.NAME`.
pub fn mint_tokens(
    s: &Scenario,
    mocks: &Mocks,
    vars: &mut Vars,
    redactor: &mut Redactor,
) -> anyhow::Result<()> {
    // Minted tokens first, then tokens derived from them.
    let (derived, minted): (Vec<_>, Vec<_>) = s.tokens.iter().partition(|(_, t)| t.from.is_some());
    for (name, t) in minted {
        let value = if t.random {
            random_b64token(43, &format!("{}/{name}", s.full_id()))
        } else {
            let audience = match &t.audience {
                Some(a) => a
                    .iter()
                    .map(|x| vars.expand(x))
                    .collect::<Result<Vec<_>, _>>()?,
                None => vec![vars.expand("{mcp_url}")?],
            };
            let scope = vars.expand(t.scope.as_deref().unwrap_or("{oauth.scope}"))?;
            let spec = TokenSpec {
                subject: t.subject.clone().unwrap_or_else(|| "alice".into()),
                audience,
                scope: if scope.is_empty() { None } else { Some(scope) },
                expires_in: t.expires_in.unwrap_or(300),
                issuer: None,
                signer: match t.signer {
                    SignerChoice::Published => Signer::Trusted,
                    SignerChoice::Foreign => Signer::Foreign,
                },
                extra: Default::default(),
            };
            let server = match t.issuer {
                IssuerChoice::Trusted => mocks.trusted.as_ref(),
                IssuerChoice::Untrusted => mocks.untrusted.as_ref(),
            }
            .ok_or_else(|| anyhow::anyhow!("no authorization server was started"))?;
            server.mint(&spec)?
        };
        redactor.add(value.clone(), format!("[TOKEN:{name}]"));
        vars.set(format!("token.{name}"), value);
    }
    for (name, t) in derived {
        let from = t.from.as_deref().unwrap_or_default();
        let base = vars
            .get(&format!("token.{from}"))
            .ok_or_else(|| anyhow::anyhow!("token `{from}` (for `{name}`) is itself derived"))?
            .to_string();
        let how = match t.tamper {
            Some(TamperChoice::AlgNone) => Tamper::AlgNone,
            Some(TamperChoice::Truncate) => Tamper::Truncate(4),
            Some(TamperChoice::FlipPayload) | None => Tamper::FlipPayload,
        };
        let value = authconform_mocks::tamper(&base, how);
        redactor.add(value.clone(), format!("[TOKEN:{name}]"));
        vars.set(format!("token.{name}"), value);
    }
    Ok(())
}

/// `n` b64token characters, pseudo-random but fixed per `seed` so transcripts stay stable between runs.
fn random_b64token(n: usize, seed: &str) -> String {
    use rand::{RngExt, SeedableRng};
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";
    // FNV-1a of the seed text: stable across runs and platforms.
    let seed = seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}
