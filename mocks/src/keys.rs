//! Signing keys, JWKs and compact JWS (RFC 7515) signing and verification.
//!
//! Everything goes through aws-lc-rs: ES256 (P-256), RS256 (RSA 2048,
//! PKCS#1 v1.5) and EdDSA (Ed25519). Key IDs are RFC 7638 thumbprints.

use std::fmt;
use std::str::FromStr;

use anyhow::{Context, anyhow};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
    Ed25519KeyPair, KeyPair, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

/// The JWS algorithm an authorization server signs its access tokens with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    /// ECDSA with P-256 and SHA-256 (`ES256`), the default.
    #[default]
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 and a 2048-bit key (`RS256`).
    Rs256,
    /// Ed25519 (`EdDSA`, RFC 8037).
    EdDsa,
}

impl SigningAlg {
    /// Every supported algorithm, in the order ES256, RS256, EdDSA.
    pub const ALL: [SigningAlg; 3] = [SigningAlg::Es256, SigningAlg::Rs256, SigningAlg::EdDsa];

    /// The JOSE name: `ES256`, `RS256` or `EdDSA`.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Es256 => "ES256",
            SigningAlg::Rs256 => "RS256",
            SigningAlg::EdDsa => "EdDSA",
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningAlg {
    type Err = anyhow::Error;

    /// Parses `ES256`, `RS256` or `EdDSA` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SigningAlg::ALL
            .into_iter()
            .find(|alg| alg.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                anyhow!("unknown signing algorithm `{s}` (expected ES256, RS256 or EdDSA)")
            })
    }
}

enum Private {
    Ec(EcdsaKeyPair),
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ed(Ed25519KeyPair),
}

/// A private signing key with its public JWK and RFC 7638 `kid`.
pub(crate) struct SigningKey {
    alg: SigningAlg,
    kid: String,
    private: Private,
    /// Public key bytes as aws-lc-rs verification expects them.
    public: Vec<u8>,
    jwk: Value,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 7638 thumbprint of the required members, given in lexicographic order.
fn thumbprint(members: &[(&str, &str)]) -> String {
    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("\"{k}\":\"{v}\""))
        .collect();
    let canonical = format!("{{{}}}", body.join(","));
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    b64(digest.as_ref())
}

impl SigningKey {
    /// Generate a fresh key for `alg`.
    pub(crate) fn generate(alg: SigningAlg) -> anyhow::Result<SigningKey> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match alg {
            SigningAlg::Es256 => {
                let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| anyhow!("generating a P-256 key failed"))?;
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref())
                    .map_err(|e| anyhow!("loading the generated P-256 key failed: {e}"))?;
                let point = pair.public_key().as_ref().to_vec();
                // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
                if point.len() != 65 || point[0] != 0x04 {
                    return Err(anyhow!("unexpected P-256 public key encoding"));
                }
                let (x, y) = (b64(&point[1..33]), b64(&point[33..65]));
                let kid = thumbprint(&[("crv", "P-256"), ("kty", "EC"), ("x", &x), ("y", &y)]);
                let jwk = json!({"kty": "EC", "crv": "P-256", "x": x, "y": y,
                                 "kid": kid, "alg": "ES256", "use": "sig"});
                Ok(SigningKey {
                    alg,
                    kid,
                    private: Private::Ec(pair),
                    public: point,
                    jwk,
                })
            }
            SigningAlg::Rs256 => {
                let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|_| anyhow!("generating an RSA 2048 key failed"))?;
                // Round-trip through PKCS#8 to make sure the key is complete.
                let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
                    .map_err(|_| anyhow!("encoding the RSA key failed"))?;
                let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(der.as_ref())
                    .map_err(|e| anyhow!("loading the generated RSA key failed: {e}"))?;
                let public = pair.public_key();
                let n = b64(public.modulus().big_endian_without_leading_zero());
                let e = b64(public.exponent().big_endian_without_leading_zero());
                let kid = thumbprint(&[("e", &e), ("kty", "RSA"), ("n", &n)]);
                let jwk = json!({"kty": "RSA", "n": n, "e": e,
                                 "kid": kid, "alg": "RS256", "use": "sig"});
                let public = public.as_ref().to_vec();
                Ok(SigningKey {
                    alg,
                    kid,
                    private: Private::Rsa(pair),
                    public,
                    jwk,
                })
            }
            SigningAlg::EdDsa => {
                let doc = Ed25519KeyPair::generate_pkcs8(&rng)
                    .map_err(|_| anyhow!("generating an Ed25519 key failed"))?;
                let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref())
                    .map_err(|e| anyhow!("loading the generated Ed25519 key failed: {e}"))?;
                let public = pair.public_key().as_ref().to_vec();
                let x = b64(&public);
                let kid = thumbprint(&[("crv", "Ed25519"), ("kty", "OKP"), ("x", &x)]);
                let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": x,
                                 "kid": kid, "alg": "EdDSA", "use": "sig"});
                Ok(SigningKey {
                    alg,
                    kid,
                    private: Private::Ed(pair),
                    public,
                    jwk,
                })
            }
        }
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK (with `kid`, `alg` and `use`).
    pub(crate) fn jwk(&self) -> &Value {
        &self.jwk
    }

    fn sign(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match &self.private {
            Private::Ec(pair) => Ok(pair
                .sign(&rng, message)
                .map_err(|_| anyhow!("ES256 signing failed"))?
                .as_ref()
                .to_vec()),
            Private::Rsa(pair) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|_| anyhow!("RS256 signing failed"))?;
                Ok(sig)
            }
            Private::Ed(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }

    fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        let alg: &dyn signature::VerificationAlgorithm = match self.alg {
            SigningAlg::Es256 => &ECDSA_P256_SHA256_FIXED,
            SigningAlg::Rs256 => &RSA_PKCS1_2048_8192_SHA256,
            SigningAlg::EdDsa => &ED25519,
        };
        UnparsedPublicKey::new(alg, &self.public)
            .verify(message, sig)
            .is_ok()
    }
}

/// Sign `claims` as a compact JWS with `key`, header `{alg, typ, kid}`.
pub(crate) fn sign_jws(
    key: &SigningKey,
    kid: &str,
    typ: &str,
    claims: &Map<String, Value>,
) -> anyhow::Result<String> {
    let header = json!({"alg": key.alg.as_str(), "typ": typ, "kid": kid});
    let header = b64(&serde_json::to_vec(&header).context("encoding the JWS header")?);
    let payload = b64(&serde_json::to_vec(claims).context("encoding the JWS payload")?);
    let signing_input = format!("{header}.{payload}");
    let sig = key.sign(signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", b64(&sig)))
}

/// Verify a compact JWS against `keys` (matched by `kid` and `alg`) and return
/// its claims. `None` for anything malformed, unknown or badly signed.
pub(crate) fn verify_jws(token: &str, keys: &[&SigningKey]) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    let (header, payload, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    let kid = header.get("kid")?.as_str()?;
    let alg = header.get("alg")?.as_str()?;
    let key = keys
        .iter()
        .find(|k| k.kid == kid && k.alg.as_str() == alg)?;
    let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
    let signing_input = &token[..token.len() - token.rsplit('.').next()?.len() - 1];
    if !key.verify(signing_input.as_bytes(), &sig) {
        return None;
    }
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_every_alg() -> anyhow::Result<()> {
        for alg in SigningAlg::ALL {
            let key = SigningKey::generate(alg)?;
            let other = SigningKey::generate(alg)?;
            let mut claims = Map::new();
            claims.insert("sub".into(), Value::from("alice"));
            let token = sign_jws(&key, key.kid(), "at+jwt", &claims)?;
            assert_eq!(verify_jws(&token, &[&key]), Some(claims.clone()), "{alg}");
            // Same kid, other key: the signature must not verify.
            let forged = sign_jws(&other, key.kid(), "at+jwt", &claims)?;
            assert_eq!(verify_jws(&forged, &[&key]), None, "{alg}");
            assert_eq!(verify_jws(&format!("{token}x"), &[&key]), None);
            assert_eq!(verify_jws("a.b", &[&key]), None);
            assert_eq!(verify_jws("", &[&key]), None);
            assert_eq!(key.jwk()["alg"], alg.as_str());
            assert_eq!(key.jwk()["kid"], key.kid());
        }
        Ok(())
    }

    #[test]
    fn alg_names_round_trip() {
        for alg in SigningAlg::ALL {
            assert_eq!(alg.as_str().parse::<SigningAlg>().ok(), Some(alg));
        }
        assert_eq!("eddsa".parse::<SigningAlg>().ok(), Some(SigningAlg::EdDsa));
        assert!("HS256".parse::<SigningAlg>().is_err());
    }

    #[test]
    fn rfc7638_thumbprint_example() {
        // RFC 7638 §3.1 example key.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(&[("e", "AQAB"), ("kty", "RSA"), ("n", n)]),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
