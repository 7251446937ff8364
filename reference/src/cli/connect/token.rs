//! Token endpoint requests: the authorization-code exchange, refresh, and the
//! client-credentials grant, each with exactly one client authentication
//! method (RFC 6749 §2.3) and `resource` (RFC 8707) unless faulted away.

use std::str::FromStr as _;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use url::Url;

use super::http::{Basic, Http};
use super::pkce::random_token;
use super::registration::{AuthMethod, Client};
use crate::cli::CliError;

/// The `client_assertion_type` of RFC 7523 client authentication.
pub(crate) const JWT_BEARER_ASSERTION: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Lifetime of a client assertion, in seconds.
const ASSERTION_LIFETIME: u64 = 60;

/// What a successful token response gave.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    /// The access token.
    pub(crate) access_token: String,
    /// A refresh token, if issued.
    pub(crate) refresh_token: Option<String>,
}

/// A signing key for `private_key_jwt`.
pub(crate) struct SigningKey<'a> {
    /// PKCS#8 PEM.
    pub(crate) pem: &'a str,
    /// JWS algorithm name, e.g. `ES256`.
    pub(crate) algorithm: &'a str,
}

/// Where and as whom token requests go.
pub(crate) struct TokenEndpoint<'a> {
    /// The client.
    pub(crate) http: &'a Http,
    /// The checked token endpoint.
    pub(crate) url: &'a Url,
    /// The AS issuer (the audience of client assertions).
    pub(crate) issuer: &'a str,
    /// Who the client is.
    pub(crate) client: &'a Client,
    /// The key for `private_key_jwt`.
    pub(crate) key: Option<SigningKey<'a>>,
    /// The `resource` parameter (none under the `no-resource-param` fault).
    pub(crate) resource: Option<&'a str>,
    /// The `two-auth-methods` fault: a second client authentication.
    pub(crate) two_methods: bool,
    /// The `expired-assertion` fault.
    pub(crate) expired_assertion: bool,
}

impl TokenEndpoint<'_> {
    /// `grant_type=authorization_code`.
    pub(crate) async fn exchange_code(
        &self,
        code: &str,
        verifier: Option<&str>,
        redirect_uri: &str,
    ) -> Result<Tokens, CliError> {
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", redirect_uri.to_owned()),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v.to_owned()));
        }
        self.request(form, "the authorization code exchange").await
    }

    /// `grant_type=refresh_token`.
    pub(crate) async fn refresh(&self, refresh_token: &str) -> Result<Tokens, CliError> {
        let form = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", refresh_token.to_owned()),
        ];
        self.request(form, "the token refresh").await
    }

    /// `grant_type=client_credentials`.
    pub(crate) async fn client_credentials(&self, scope: Option<&str>) -> Result<Tokens, CliError> {
        let mut form = vec![("grant_type", "client_credentials".to_owned())];
        if let Some(scope) = scope {
            form.push(("scope", scope.to_owned()));
        }
        self.request(form, "the client credentials grant").await
    }

    async fn request(
        &self,
        mut form: Vec<(&'static str, String)>,
        what: &str,
    ) -> Result<Tokens, CliError> {
        if let Some(resource) = self.resource {
            form.push(("resource", resource.to_owned()));
        }
        let mut basic = self.authenticate(&mut form)?;
        if self.two_methods {
            basic = self.second_method(&mut form, basic);
        }
        let reply = self.http.post_form(self.url, &form, basic).await?;
        let access = reply.str("access_token").filter(|_| reply.ok());
        let Some(access_token) = access.filter(|t| !t.is_empty()) else {
            return Err(CliError::failure(format!(
                "{what} failed: {}",
                reply.oauth_error()
            )));
        };
        let token_type = reply.str("token_type").unwrap_or("Bearer");
        if !token_type.eq_ignore_ascii_case("bearer") {
            return Err(CliError::failure(format!(
                "{what} gave a {token_type:?} token; only Bearer tokens are supported"
            )));
        }
        Ok(Tokens {
            access_token: access_token.to_owned(),
            refresh_token: reply.str("refresh_token").map(str::to_owned),
        })
    }

    /// The `two-auth-methods` fault: the secret in the body beside a Basic
    /// header, or a Basic header beside the method in the body.
    fn second_method<'b>(
        &'b self,
        form: &mut Vec<(&'static str, String)>,
        basic: Option<Basic<'b>>,
    ) -> Option<Basic<'b>> {
        let client = self.client;
        let secret = client.client_secret.as_deref().unwrap_or("");
        if let Some(b) = basic {
            form.push(("client_id", client.client_id.clone()));
            form.push(("client_secret", secret.to_owned()));
            return Some(b);
        }
        Some(Basic {
            id: &client.client_id,
            secret,
        })
    }

    /// Adds the client's one authentication method to `form`, or returns the
    /// Basic credentials to send instead.
    fn authenticate(
        &self,
        form: &mut Vec<(&'static str, String)>,
    ) -> Result<Option<Basic<'_>>, CliError> {
        let client = self.client;
        let secret = || {
            client.client_secret.as_deref().ok_or_else(|| {
                CliError::failure(format!(
                    "{} needs a client secret, and none was issued or configured",
                    client.auth_method.name()
                ))
            })
        };
        match client.auth_method {
            AuthMethod::None => form.push(("client_id", client.client_id.clone())),
            AuthMethod::SecretBasic => {
                return Ok(Some(Basic {
                    id: &client.client_id,
                    secret: secret()?,
                }));
            }
            AuthMethod::SecretPost => {
                form.push(("client_id", client.client_id.clone()));
                form.push(("client_secret", secret()?.to_owned()));
            }
            AuthMethod::PrivateKeyJwt => {
                let key = self.key.as_ref().ok_or_else(|| {
                    CliError::failure("private_key_jwt needs private_key_pem in the context")
                })?;
                let assertion =
                    client_assertion(&client.client_id, self.issuer, key, self.expired_assertion)?;
                // Optional with an assertion (RFC 7521 §4.2), and what many ASes look clients up by.
                form.push(("client_id", client.client_id.clone()));
                form.push(("client_assertion_type", JWT_BEARER_ASSERTION.to_owned()));
                form.push(("client_assertion", assertion));
            }
        }
        Ok(None)
    }
}

/// An RFC 7523 §3 client assertion: `iss` = `sub` = the client, `aud` = the
/// AS issuer, a short `exp`, a fresh `jti`.
/// `expired` (the `expired-assertion` fault) dates it five minutes back.
pub(crate) fn client_assertion(
    client_id: &str,
    audience: &str,
    key: &SigningKey<'_>,
    expired: bool,
) -> Result<String, CliError> {
    let alg = Algorithm::from_str(key.algorithm).map_err(|_| {
        CliError::usage(format!(
            "signing_algorithm {:?} is not a JWS algorithm this client knows",
            key.algorithm
        ))
    })?;
    let pem = key.pem.as_bytes();
    let encoding = match alg {
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem),
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => EncodingKey::from_rsa_pem(pem),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
        _ => {
            return Err(CliError::usage(format!(
                "signing_algorithm {} needs a shared secret, not a private key",
                key.algorithm
            )));
        }
    }
    .map_err(|_| {
        CliError::usage(format!(
            "private_key_pem is not a PEM {} private key",
            key.algorithm
        ))
    })?;
    let mut now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if expired {
        now = now.saturating_sub(ASSERTION_LIFETIME + 300);
    }
    let claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME,
        "jti": random_token(),
    });
    jsonwebtoken::encode(&Header::new(alg), &claims, &encoding)
        .map_err(|e| CliError::failure(format!("cannot sign the client assertion: {e}")))
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation};

    use super::*;

    #[test]
    fn es256_assertion_has_the_rfc7523_claims() {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
        use base64::Engine as _;
        crate::install_crypto_providers();
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let der = pair.to_pkcs8v1().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n");
        let key = SigningKey {
            pem: &pem,
            algorithm: "ES256",
        };
        let jwt = client_assertion("cc-client", "https://as.test", &key, false).unwrap();
        let decoding = DecodingKey::from_ec_der(pair.public_key().as_ref());
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&["https://as.test"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(&jwt, &decoding, &validation)
            .unwrap()
            .claims;
        assert_eq!(claims["iss"], "cc-client");
        assert_eq!(claims["sub"], "cc-client");
        assert_eq!(claims["aud"], "https://as.test");
        assert!(claims["exp"].as_u64().unwrap() > claims["iat"].as_u64().unwrap());
        assert_eq!(claims["jti"].as_str().unwrap().len(), 43);
    }

    #[test]
    fn unknown_algorithm_is_a_usage_error() {
        let key = SigningKey {
            pem: "x",
            algorithm: "XX999",
        };
        assert_eq!(client_assertion("c", "a", &key, false).unwrap_err().code, 2);
        let key = SigningKey {
            pem: "x",
            algorithm: "HS256",
        };
        assert_eq!(client_assertion("c", "a", &key, false).unwrap_err().code, 2);
    }
}
