//! Access-token validation: JWTs signed by the trusted issuer, keys from its
//! JWKS discovered through RFC 8414 metadata.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use crate::faults::{Fault, Faults};

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY_SECS: u64 = 5;
/// Upper bound of kids that may each trigger one JWKS refetch, per issuer.
const MAX_REFETCHED_KIDS: usize = 256;
/// Upper bound of issuers whose keys are cached (only grows beyond one with `ignore-issuer`).
const MAX_CACHED_ISSUERS: usize = 64;
/// Upper bound of a metadata or JWKS document.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// The claims the reference implementation relies on, after validation.
#[derive(Debug, Clone)]
pub(crate) struct VerifiedToken {
    /// The subject (`sub`, or `client_id` when there is no `sub`).
    pub subject: String,
    /// The granted scopes (space-delimited `scope` claim).
    pub scopes: HashSet<String>,
}

/// Why a token was not accepted.
#[derive(Debug, Clone)]
pub(crate) enum TokenError {
    /// The token is invalid; the text is safe to send to the client (never contains the token).
    Invalid(String),
    /// The trusted issuer's keys could not be obtained; not the client's fault.
    Unavailable(String),
}

struct IssuerKeys {
    keys: Vec<Jwk>,
    jwks_uri: String,
    refetched_kids: HashSet<String>,
}

/// Validates bearer tokens against one trusted issuer.
pub(crate) struct TokenValidator {
    issuer: String,
    resource: String,
    faults: Faults,
    http: reqwest::Client,
    cache: Mutex<HashMap<String, IssuerKeys>>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn invalid(msg: impl Into<String>) -> TokenError {
    TokenError::Invalid(msg.into())
}

fn decode_part(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    match serde_json::from_slice::<Value>(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The RFC 8414 metadata URL of `issuer` (well-known segment inserted before the path).
pub(crate) fn metadata_url(issuer: &str) -> Option<String> {
    let url = url::Url::parse(issuer).ok()?;
    let origin = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    Some(format!(
        "{origin}/.well-known/oauth-authorization-server{path}"
    ))
}

fn numeric_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| invalid(format!("{name} claim is not a number"))),
    }
}

fn key_matches(jwk: &Jwk, kid: Option<&str>, alg: Algorithm) -> bool {
    if let Some(kid) = kid
        && jwk.common.key_id.as_deref() != Some(kid)
    {
        return false;
    }
    if let Some(key_alg) = &jwk.common.key_algorithm
        && *key_alg != KeyAlgorithm::from(alg)
    {
        return false;
    }
    if let Some(usage) = &jwk.common.public_key_use
        && *usage != PublicKeyUse::Signature
    {
        return false;
    }
    // Symmetric keys never verify access tokens here.
    !matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_))
}

impl TokenValidator {
    /// A validator trusting `issuer` for tokens whose audience is `resource`.
    pub(crate) fn new(
        issuer: String,
        resource: String,
        faults: Faults,
        http: reqwest::Client,
    ) -> Self {
        Self {
            issuer,
            resource,
            faults,
            http,
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let response = self
            .http
            .get(url)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("GET {url}: HTTP {status}"));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("GET {url}: document too large"));
        }
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: invalid JSON: {e}"))
    }

    async fn discover_jwks_uri(&self, issuer: &str) -> Result<String, String> {
        let url = metadata_url(issuer).ok_or_else(|| format!("issuer {issuer:?} is not a URL"))?;
        let metadata = self.get_json(&url).await?;
        // RFC 8414 §3.3: the metadata's issuer must be the issuer it was fetched for.
        if metadata.get("issuer").and_then(Value::as_str) != Some(issuer) {
            return Err(format!("{url}: issuer in metadata does not match"));
        }
        metadata
            .get("jwks_uri")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("{url}: no jwks_uri"))
    }

    async fn fetch_jwks(&self, jwks_uri: &str) -> Result<Vec<Jwk>, String> {
        let jwks = self.get_json(jwks_uri).await?;
        let keys = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{jwks_uri}: no keys array"))?;
        // Keys of unsupported types are skipped rather than failing the whole set.
        Ok(keys
            .iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .collect())
    }

    async fn load_issuer(&self, issuer: &str) -> Result<IssuerKeys, String> {
        let jwks_uri = self.discover_jwks_uri(issuer).await?;
        let keys = self.fetch_jwks(&jwks_uri).await?;
        Ok(IssuerKeys {
            keys,
            jwks_uri,
            refetched_kids: HashSet::new(),
        })
    }

    /// Candidate keys of `issuer` for a token with `kid` and `alg`; fetches lazily,
    /// refetches the JWKS at most once per unknown kid.
    async fn keys_for(
        &self,
        issuer: &str,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Vec<DecodingKey>, TokenError> {
        let unavailable = |e: String| {
            if issuer == self.issuer {
                TokenError::Unavailable(e)
            } else {
                invalid("the token issuer's keys could not be fetched")
            }
        };
        let mut cache = self.cache.lock().await;
        if !cache.contains_key(issuer) {
            let loaded = self.load_issuer(issuer).await.map_err(unavailable)?;
            if cache.len() >= MAX_CACHED_ISSUERS {
                cache.clear();
            }
            cache.insert(issuer.to_owned(), loaded);
        }
        let Some(entry) = cache.get_mut(issuer) else {
            return Err(TokenError::Unavailable("key cache inconsistent".into()));
        };
        let select = |keys: &[Jwk]| -> Vec<DecodingKey> {
            keys.iter()
                .filter(|k| key_matches(k, kid, alg))
                .filter_map(|k| DecodingKey::from_jwk(k).ok())
                .filter(|k| k.family() == alg.family())
                .collect()
        };
        let found = select(&entry.keys);
        if !found.is_empty() {
            return Ok(found);
        }
        if let Some(kid) = kid
            && entry.refetched_kids.len() < MAX_REFETCHED_KIDS
            && entry.refetched_kids.insert(kid.to_owned())
        {
            let jwks_uri = entry.jwks_uri.clone();
            let keys = self.fetch_jwks(&jwks_uri).await.map_err(unavailable)?;
            entry.keys = keys;
            let found = select(&entry.keys);
            if !found.is_empty() {
                return Ok(found);
            }
        }
        Err(invalid(match kid {
            Some(_) => "no key of the issuer matches the token's kid and alg",
            None => "no key of the issuer matches the token's alg",
        }))
    }

    /// Validates `token`; the error text never contains the token.
    pub(crate) async fn validate(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        let parts: Vec<&str> = token.split('.').collect();
        let [header_b64, payload_b64, _signature] = parts.as_slice() else {
            return Err(invalid("the token is not a JWS compact serialization"));
        };
        let header = decode_part(header_b64).ok_or_else(|| invalid("malformed token header"))?;
        let claims = decode_part(payload_b64).ok_or_else(|| invalid("malformed token payload"))?;
        let token_iss = claims.get("iss").and_then(Value::as_str);
        // Each fault is asked only where its answer changes the verdict (see `Faults::PROBE_ENV`).
        if token_iss != Some(self.issuer.as_str()) && !self.faults.has(Fault::IgnoreIssuer) {
            return Err(invalid("token issuer is not trusted"));
        }
        if let Err(e) = self.verify_signature(token, &header, token_iss).await
            && !self.faults.has(Fault::AcceptBadSignature)
        {
            return Err(e);
        }
        self.check_times(&claims)?;
        if let Err(e) = self.check_audience(&claims)
            && !self.faults.has(Fault::IgnoreAudience)
        {
            return Err(e);
        }
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .or_else(|| claims.get("client_id").and_then(Value::as_str))
            .ok_or_else(|| invalid("token has no sub"))?
            .to_owned();
        let scopes = claims
            .get("scope")
            .and_then(Value::as_str)
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        Ok(VerifiedToken { subject, scopes })
    }

    /// The signature, by an asymmetric alg, with a key of the trusted issuer (of the token's own `iss` under
    /// `ignore-issuer`).
    async fn verify_signature(
        &self,
        token: &str,
        header: &serde_json::Map<String, Value>,
        token_iss: Option<&str>,
    ) -> Result<(), TokenError> {
        let alg_name = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("token header has no alg"))?;
        if alg_name.eq_ignore_ascii_case("none") {
            return Err(invalid("unsigned tokens are not accepted"));
        }
        let alg = Algorithm::from_str(alg_name).map_err(|_| invalid("unsupported token alg"))?;
        if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return Err(invalid("symmetric token algs are not accepted"));
        }
        // Another issuer gets here only under `ignore-issuer`, asked in `validate`.
        let key_issuer = if token_iss == Some(self.issuer.as_str()) {
            self.issuer.as_str()
        } else {
            token_iss.ok_or_else(|| invalid("token has no iss"))?
        };
        let kid = header.get("kid").and_then(Value::as_str);
        let keys = self.keys_for(key_issuer, kid, alg).await?;
        let mut validation = Validation::new(alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let verified = keys
            .iter()
            .any(|key| jsonwebtoken::decode::<Value>(token, key, &validation).is_ok());
        if !verified {
            return Err(invalid("token signature is invalid"));
        }
        Ok(())
    }

    /// `exp` (unless `accept-expired`) and `nbf`, with [`LEEWAY_SECS`].
    fn check_times(&self, claims: &serde_json::Map<String, Value>) -> Result<(), TokenError> {
        let now = now() as f64;
        let expiry = numeric_claim(claims, "exp").and_then(|exp| match exp {
            None => Err(invalid("token has no exp")),
            Some(exp) if exp + (LEEWAY_SECS as f64) <= now => Err(invalid("token has expired")),
            Some(_) => Ok(()),
        });
        if let Err(e) = expiry
            && !self.faults.has(Fault::AcceptExpired)
        {
            return Err(e);
        }
        if let Some(nbf) = numeric_claim(claims, "nbf")?
            && nbf - (LEEWAY_SECS as f64) > now
        {
            return Err(invalid("token is not yet valid"));
        }
        Ok(())
    }

    /// `aud` names this resource (as the audience faults distort the comparison).
    fn check_audience(&self, claims: &serde_json::Map<String, Value>) -> Result<(), TokenError> {
        let audiences: Vec<&str> = match claims.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(values)) => values.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let slashed = format!("{}/", self.resource);
        let resource = if self.faults.has(Fault::SlashedAudience) {
            slashed.as_str()
        } else {
            self.resource.as_str()
        };
        let ok = audiences.contains(&resource)
            || (self.faults.has(Fault::PrefixAudience)
                && audiences
                    .iter()
                    .any(|a| a.starts_with(resource) || resource.starts_with(a)));
        if ok {
            Ok(())
        } else {
            Err(invalid("token audience does not include this resource"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::metadata_url;

    #[test]
    fn metadata_url_inserts_well_known() {
        assert_eq!(
            metadata_url("https://127.0.0.1:4000").as_deref(),
            Some("https://127.0.0.1:4000/.well-known/oauth-authorization-server")
        );
        assert_eq!(
            metadata_url("https://as.example/tenant1").as_deref(),
            Some("https://as.example/.well-known/oauth-authorization-server/tenant1")
        );
    }
}
