//! `private_key_jwt` (RFC 7523 §2.2, §3): an ES256 key pair for a client, and the check of its assertion at
//! the token endpoint (signature, `iss` = `sub` = client, `aud` = the issuer or its token endpoint, `exp`).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

/// A client's ES256 key: the private key as PKCS#8 PEM (for the client) and the public point (for the AS).
#[derive(Debug, Clone)]
pub struct ClientKey {
    /// `-----BEGIN PRIVATE KEY-----` PEM.
    pub private_pem: String,
    /// The uncompressed public point.
    pub public: Vec<u8>,
}

impl ClientKey {
    /// A fresh key.
    pub fn generate() -> anyhow::Result<ClientKey> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| anyhow::anyhow!("generating an ES256 key"))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref())
            .map_err(|_| anyhow::anyhow!("reading the ES256 key"))?;
        let b64 = STANDARD.encode(doc.as_ref());
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
            .collect();
        Ok(ClientKey {
            private_pem: format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                lines.join("\n")
            ),
            public: pair.public_key().as_ref().to_vec(),
        })
    }
}

/// Whether `jwt` is a valid client assertion of `client_id` for the AS `issuer`, signed with `public`.
pub(crate) fn verify(jwt: &str, public: &[u8], client_id: &str, issuer: &str) -> bool {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        return false;
    };
    let Ok(sig) = URL_SAFE_NO_PAD.decode(s) else {
        return false;
    };
    let input = format!("{h}.{p}");
    let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public);
    if key.verify(input.as_bytes(), &sig).is_err() {
        return false;
    }
    let Some(claims) = URL_SAFE_NO_PAD
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    else {
        return false;
    };
    let str_of = |k: &str| claims.get(k).and_then(Value::as_str);
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => audience(a, issuer),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .any(|a| audience(a, issuer)),
        _ => false,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let exp_ok = claims
        .get("exp")
        .and_then(Value::as_u64)
        .is_some_and(|e| e + 30 >= now);
    str_of("iss") == Some(client_id) && str_of("sub") == Some(client_id) && aud_ok && exp_ok
}

/// The `sub` claim of a JWT, unverified (to find whose key verifies it).
pub(crate) fn subject(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

/// RFC 7523 §3: the AS's issuer or its token endpoint URL identifies it (a trailing slash tolerated).
fn audience(aud: &str, issuer: &str) -> bool {
    let a = aud.trim_end_matches('/');
    a == issuer || a == format!("{issuer}/token")
}
