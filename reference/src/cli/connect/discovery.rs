//! Protected-resource metadata (RFC 9728) and authorization-server metadata
//! (RFC 8414, OIDC Discovery): fetched in the MCP order, checked before use.

use serde_json::Value;
use url::Url;

use super::http::{Http, Reply};
use super::urls::{self, shown};
use crate::cli::CliError;

/// Seeded faults that loosen discovery (all off: the correct client).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Leniency {
    /// `accept-issuer-mismatch`.
    pub(crate) accept_issuer_mismatch: bool,
    /// `root-prm-first`.
    pub(crate) root_prm_first: bool,
    /// `root-as-metadata-only`.
    pub(crate) root_as_metadata_only: bool,
    /// `accept-any-prm-resource`.
    pub(crate) accept_any_prm_resource: bool,
    /// `follow-metadata-redirects`.
    pub(crate) follow_redirects: bool,
    /// `no-legacy-endpoints`.
    pub(crate) no_legacy_endpoints: bool,
}

/// The protected resource's metadata, checked against the server URL.
#[derive(Debug, Clone)]
pub(crate) struct ResourceMetadata {
    /// Its `authorization_servers`.
    pub(crate) authorization_servers: Vec<String>,
    /// Its `scopes_supported`, if any.
    pub(crate) scopes_supported: Option<Vec<String>>,
}

/// An authorization server's metadata, its `issuer` checked.
#[derive(Debug, Clone, Default)]
pub(crate) struct AsMetadata {
    /// `issuer`.
    pub(crate) issuer: String,
    /// `authorization_endpoint`, as given (checked before use).
    pub(crate) authorization_endpoint: Option<String>,
    /// `token_endpoint`, as given (checked before use).
    pub(crate) token_endpoint: Option<String>,
    /// `registration_endpoint`, as given (checked before use).
    pub(crate) registration_endpoint: Option<String>,
    /// `code_challenge_methods_supported` (absent: `None`).
    pub(crate) code_challenge_methods: Option<Vec<String>>,
    /// `token_endpoint_auth_methods_supported` (absent: `None`).
    pub(crate) token_auth_methods: Option<Vec<String>>,
    /// `scopes_supported` (absent: `None`).
    pub(crate) scopes_supported: Option<Vec<String>>,
    /// `grant_types_supported` (absent: `None`).
    pub(crate) grant_types: Option<Vec<String>>,
    /// `client_id_metadata_document_supported`.
    pub(crate) cimd_supported: bool,
    /// `authorization_response_iss_parameter_supported` (RFC 9207).
    pub(crate) iss_parameter_supported: bool,
}

/// The protected-resource metadata of `server`: at `header_url` (the
/// challenge's `resource_metadata`) when given, else (or when that fails) at
/// the path-inserted then the root well-known URI. Its `resource` must name
/// the server, else nothing of it is used. `None`: no document anywhere (a
/// 2025-03-26 server, see [`legacy_metadata`]).
pub(crate) async fn resource_metadata(
    http: &Http,
    server: &Url,
    header_url: Option<&str>,
    lenient: Leniency,
) -> Result<Option<ResourceMetadata>, CliError> {
    let mut candidates: Vec<(Url, bool)> = Vec::new();
    if let Some(raw) = header_url {
        let url = urls::endpoint(raw, "resource_metadata URL").map_err(CliError::failure)?;
        refuse_ssrf(&url, "protected resource metadata")?;
        candidates.push((url, false));
    }
    let mut well_known = urls::prm_urls(server);
    let root = well_known.last().cloned();
    if lenient.root_prm_first {
        well_known.reverse();
    }
    candidates.extend(well_known.into_iter().map(|u| {
        let is_root = Some(&u) == root.as_ref();
        (u, is_root)
    }));
    for (url, from_root) in candidates {
        let reply = fetch(http, &url, lenient).await?;
        let Some(doc) = reply.json.as_ref().filter(|_| reply.ok()) else {
            continue;
        };
        if lenient.accept_any_prm_resource {
            return Ok(Some(parse_prm(doc)));
        }
        return check_resource(doc, server, from_root).map(Some);
    }
    Ok(None)
}

/// MCP 2025-03-26, for a server without protected-resource metadata: the
/// authorization base URL is the server's origin; its RFC 8414 metadata at
/// `/.well-known/oauth-authorization-server` (an `issuer` on another origin is
/// refused unless `accept_mismatch`), else the default endpoints `/authorize`,
/// `/token` and `/register` there, with PKCE S256 (which 2025-03-26 requires
/// of every client and server).
pub(crate) async fn legacy_metadata(
    http: &Http,
    server: &Url,
    lenient: Leniency,
) -> Result<AsMetadata, CliError> {
    let mut base = server.clone();
    base.set_path("/");
    base.set_query(None);
    base.set_fragment(None);
    let origin = base.as_str().trim_end_matches('/').to_owned();
    let url = base
        .join("/.well-known/oauth-authorization-server")
        .map_err(|_| CliError::failure("cannot build the 2025-03-26 metadata URL of the server"))?;
    let reply = fetch(http, &url, lenient).await?;
    if let Some(doc) = reply.json.as_ref().filter(|_| reply.ok()) {
        let meta = parse_as(doc);
        let same_origin = Url::parse(&meta.issuer).is_ok_and(|i| i.origin() == base.origin());
        if !same_origin && !lenient.accept_issuer_mismatch {
            return Err(CliError::failure(format!(
                "refusing the authorization server metadata at {}: its issuer {:?} is not on the server's origin",
                shown(&url),
                meta.issuer
            )));
        }
        return Ok(meta);
    }
    if lenient.no_legacy_endpoints {
        return Err(CliError::failure(
            "the server has neither protected-resource nor authorization server metadata",
        ));
    }
    Ok(AsMetadata {
        authorization_endpoint: Some(format!("{origin}/authorize")),
        token_endpoint: Some(format!("{origin}/token")),
        registration_endpoint: Some(format!("{origin}/register")),
        code_challenge_methods: Some(vec!["S256".to_owned()]),
        issuer: origin,
        ..AsMetadata::default()
    })
}

/// Uses `doc` only if its `resource` names `server`.
fn check_resource(
    doc: &Value,
    server: &Url,
    from_root: bool,
) -> Result<ResourceMetadata, CliError> {
    let resource = doc.get("resource").and_then(Value::as_str).unwrap_or("");
    if !urls::resource_matches(resource, server, from_root) {
        return Err(CliError::failure(format!(
            "refusing the protected resource metadata: its resource {resource:?} is not the server {}",
            urls::canonical_resource(server)
        )));
    }
    Ok(parse_prm(doc))
}

fn parse_prm(doc: &Value) -> ResourceMetadata {
    ResourceMetadata {
        authorization_servers: strings(doc, "authorization_servers").unwrap_or_default(),
        scopes_supported: strings(doc, "scopes_supported"),
    }
}

/// `GET url`; under `follow-metadata-redirects`, one redirect is followed.
async fn fetch(http: &Http, url: &Url, lenient: Leniency) -> Result<Reply, CliError> {
    let reply = http.get(url).await?;
    let next = reply
        .location
        .as_deref()
        .filter(|_| lenient.follow_redirects && (300..400).contains(&reply.status))
        .and_then(|l| url.join(l).ok());
    match next {
        Some(next) => http.get(&next).await,
        None => Ok(reply),
    }
}

/// The first of `servers` that may be contacted: https (or http on loopback)
/// and not a private or link-local address.
pub(crate) fn choose_issuer(servers: &[String]) -> Result<Url, CliError> {
    let mut refusal = None;
    for raw in servers {
        let checked =
            urls::endpoint(raw, "authorization server").and_then(
                |url| match urls::forbidden_address(&url) {
                    Some(why) => Err(format!(
                        "refusing the authorization server {}: {why}",
                        shown(&url)
                    )),
                    None => Ok(url),
                },
            );
        match checked {
            Ok(url) => return Ok(url),
            Err(e) => refusal = refusal.or(Some(e)),
        }
    }
    Err(CliError::failure(refusal.unwrap_or_else(|| {
        "the protected resource metadata names no authorization server".to_owned()
    })))
}

/// The metadata of `issuer` (the string the resource metadata gave), from the
/// first discovery URL that answers with a JSON document; its `issuer` must be
/// exactly `issuer` (unless faulted).
pub(crate) async fn as_metadata(
    http: &Http,
    issuer: &str,
    issuer_url: &Url,
    lenient: Leniency,
) -> Result<AsMetadata, CliError> {
    let urls = if lenient.root_as_metadata_only {
        issuer_url
            .join("/.well-known/oauth-authorization-server")
            .into_iter()
            .collect()
    } else {
        urls::as_metadata_urls(issuer_url)
    };
    for url in urls {
        refuse_ssrf(&url, "authorization server metadata")?;
        let reply: Reply = fetch(http, &url, lenient).await?;
        let Some(doc) = reply.json.as_ref().filter(|_| reply.ok()) else {
            continue;
        };
        let meta = parse_as(doc);
        if meta.issuer != issuer && !lenient.accept_issuer_mismatch {
            return Err(CliError::failure(format!(
                "refusing the authorization server metadata at {}: its issuer {:?} is not {issuer:?}",
                shown(&url),
                meta.issuer
            )));
        }
        return Ok(meta);
    }
    Err(CliError::failure(format!(
        "no authorization server metadata for {issuer} (tried RFC 8414 and OpenID discovery)"
    )))
}

fn parse_as(doc: &Value) -> AsMetadata {
    let text = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_owned);
    let flag = |name: &str| doc.get(name).and_then(Value::as_bool).unwrap_or(false);
    AsMetadata {
        issuer: text("issuer").unwrap_or_default(),
        authorization_endpoint: text("authorization_endpoint"),
        token_endpoint: text("token_endpoint"),
        registration_endpoint: text("registration_endpoint"),
        code_challenge_methods: strings(doc, "code_challenge_methods_supported"),
        token_auth_methods: strings(doc, "token_endpoint_auth_methods_supported"),
        scopes_supported: strings(doc, "scopes_supported"),
        grant_types: strings(doc, "grant_types_supported"),
        cimd_supported: flag("client_id_metadata_document_supported"),
        iss_parameter_supported: flag("authorization_response_iss_parameter_supported"),
    }
}

/// Refuses to fetch from a private, link-local or disguised address.
fn refuse_ssrf(url: &Url, what: &str) -> Result<(), CliError> {
    match urls::forbidden_address(url) {
        Some(why) => Err(CliError::failure(format!(
            "refusing to fetch the {what} from {}: {why}",
            shown(url)
        ))),
        None => Ok(()),
    }
}

/// An array of strings member (non-strings skipped); `None` when absent.
fn strings(doc: &Value, name: &str) -> Option<Vec<String>> {
    doc.get(name)?.as_array().map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prm_resource_is_checked() {
        let server = Url::parse("https://rs.test:8443/mcp").unwrap();
        let doc = json!({"resource": "https://RS.test:8443/mcp/",
            "authorization_servers": ["https://as.test"], "scopes_supported": ["a", "b"]});
        let prm = check_resource(&doc, &server, false).unwrap();
        assert_eq!(prm.authorization_servers, ["https://as.test"]);
        assert_eq!(prm.scopes_supported.unwrap(), ["a", "b"]);
        let evil = json!({"resource": "https://attacker.test/mcp", "authorization_servers": []});
        assert!(check_resource(&evil, &server, false).is_err());
        assert!(check_resource(&json!({}), &server, true).is_err());
    }

    #[test]
    fn issuer_choice_skips_refused_entries() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let err = choose_issuer(&list(&["https://169.254.169.254"])).unwrap_err();
        assert!(err.message.contains("link-local"), "{}", err.message);
        assert!(choose_issuer(&list(&["https://[::ffff:127.0.0.1]"])).is_err());
        assert!(choose_issuer(&list(&["http://as.example.com"])).is_err());
        assert!(choose_issuer(&[]).is_err());
        let ok = choose_issuer(&list(&["https://10.0.0.1", "https://127.0.0.1:9"])).unwrap();
        assert_eq!(ok.as_str(), "https://127.0.0.1:9/");
    }

    #[test]
    fn as_metadata_fields() {
        let meta = parse_as(&json!({"issuer": "https://as.test",
            "code_challenge_methods_supported": ["S256"],
            "client_id_metadata_document_supported": true}));
        assert_eq!(meta.issuer, "https://as.test");
        assert_eq!(meta.code_challenge_methods.unwrap(), ["S256"]);
        assert!(meta.cimd_supported && !meta.iss_parameter_supported);
        assert!(meta.token_auth_methods.is_none());
    }
}
