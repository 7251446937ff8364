//! URL rules of the OAuth client: the canonical resource URI (RFC 8707, MCP
//! "Canonical Server URI"), the discovery URLs in the order MCP 2025-11-25
//! gives (RFC 9728 §3.1, RFC 8414 §3.1, OIDC Discovery), the https-or-loopback
//! rule for endpoints, and the private-address check against SSRF (RFC 9728
//! §7.7).

use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::cli::config::is_loopback;

/// The canonical URI of an MCP server: lower-case scheme and host (the URL
/// parser already folds them and drops a default port), no fragment, no
/// trailing slash unless the path is just `/`.
pub(crate) fn canonical_resource(url: &Url) -> String {
    let mut url = url.clone();
    url.set_fragment(None);
    let path = url.path().to_owned();
    if path.len() > 1 && path.ends_with('/') {
        url.set_path(path.trim_end_matches('/'));
        if url.path().is_empty() {
            url.set_path("/");
        }
    }
    url.to_string()
}

/// Whether a protected-resource metadata `resource` names the server: equal
/// to its canonical URI up to scheme/host case and a trailing slash. Metadata
/// read from the root well-known URI (`from_root`) may instead name the
/// origin, the resource identifier that URI was built from (RFC 9728 §3.3).
pub(crate) fn resource_matches(resource: &str, server: &Url, from_root: bool) -> bool {
    let Ok(parsed) = Url::parse(resource) else {
        return false;
    };
    if parsed.fragment().is_some() {
        return false;
    }
    let theirs = canonical_resource(&parsed);
    if theirs == canonical_resource(server) {
        return true;
    }
    let mut origin = server.clone();
    origin.set_path("/");
    origin.set_query(None);
    origin.set_fragment(None);
    from_root && theirs == canonical_resource(&origin)
}

/// The protected-resource metadata URLs to try without `resource_metadata`:
/// the path-inserted URI, then the root URI (root only for a path-less server).
pub(crate) fn prm_urls(server: &Url) -> Vec<Url> {
    well_known(server, "oauth-protected-resource")
}

/// `{origin}/.well-known/{name}{path}` (path without its trailing slash), and
/// `{origin}/.well-known/{name}` after it when the path is not empty.
fn well_known(base: &Url, name: &str) -> Vec<Url> {
    let path = base.path().trim_end_matches('/');
    let mut root = base.clone();
    root.set_query(None);
    root.set_fragment(None);
    root.set_path(&format!("/.well-known/{name}"));
    if path.is_empty() {
        return vec![root];
    }
    let mut inserted = root.clone();
    inserted.set_path(&format!("/.well-known/{name}{path}"));
    vec![inserted, root]
}

/// The authorization-server metadata URLs of `issuer`, in order. With a path
/// `/t`: `/.well-known/oauth-authorization-server/t`,
/// `/.well-known/openid-configuration/t`, `/t/.well-known/openid-configuration`.
/// Path-less: `/.well-known/oauth-authorization-server`,
/// `/.well-known/openid-configuration`.
pub(crate) fn as_metadata_urls(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    let mut base = issuer.clone();
    base.set_query(None);
    base.set_fragment(None);
    let at = |p: String| {
        let mut u = base.clone();
        u.set_path(&p);
        u
    };
    if path.is_empty() {
        return vec![
            at("/.well-known/oauth-authorization-server".into()),
            at("/.well-known/openid-configuration".into()),
        ];
    }
    vec![
        at(format!("/.well-known/oauth-authorization-server{path}")),
        at(format!("/.well-known/openid-configuration{path}")),
        at(format!("{path}/.well-known/openid-configuration")),
    ]
}

/// `https`, or `http` to a loopback host; anything else (other schemes, plain
/// HTTP elsewhere) is refused with a reason.
pub(crate) fn check_endpoint(url: &Url, what: &str) -> Result<(), String> {
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if url.host().is_some() && is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "refusing the {what} {}: plain http is allowed only on loopback",
            shown(url)
        )),
        scheme => Err(format!(
            "refusing the {what}: scheme {scheme:?} is not https (nor http on loopback)"
        )),
    }
}

/// Parses `raw` and applies [`check_endpoint`].
pub(crate) fn endpoint(raw: &str, what: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|_| format!("the {what} is not a URL"))?;
    check_endpoint(&url, what)?;
    Ok(url)
}

/// Why fetching from `url` is refused as server-side request forgery: an
/// address in a private, link-local, shared, unspecified or multicast range,
/// or an IPv4 address written as IPv6 (`[::ffff:…]`, which also hides
/// loopback). Loopback as such (127.0.0.0/8, `[::1]`, `localhost`) is allowed:
/// a local MCP server is an ordinary setup.
pub(crate) fn forbidden_address(url: &Url) -> Option<&'static str> {
    match url.host()? {
        Host::Domain(_) => None,
        Host::Ipv4(ip) => forbidden_v4(ip),
        Host::Ipv6(ip) => forbidden_v6(ip),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        None
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (carrier-grade NAT) address")
    } else if ip.is_unspecified() || a == 0 {
        Some("an unspecified address")
    } else if ip.is_multicast() || ip.is_broadcast() {
        Some("a multicast or broadcast address")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        None
    } else if ip.to_ipv4_mapped().is_some() {
        Some("an IPv4-mapped IPv6 address")
    } else if (first & 0xfe00) == 0xfc00 {
        Some("a unique-local address")
    } else if (first & 0xffc0) == 0xfe80 {
        Some("a link-local address")
    } else if ip.is_unspecified() {
        Some("an unspecified address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else {
        None
    }
}

/// `url` without query and fragment, for messages (queries may carry state).
pub(crate) fn shown(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn strings(urls: Vec<Url>) -> Vec<String> {
        urls.into_iter().map(String::from).collect()
    }

    #[test]
    fn canonical_form() {
        for (given, want) in [
            ("https://RS.test:8443/mcp", "https://rs.test:8443/mcp"),
            ("HTTPS://rs.test:443/mcp/", "https://rs.test/mcp"),
            ("https://rs.test/mcp#frag", "https://rs.test/mcp"),
            ("https://rs.test", "https://rs.test/"),
            ("https://rs.test/", "https://rs.test/"),
            ("https://rs.test/a/b//", "https://rs.test/a/b"),
            ("https://rs.test/MCP?x=1", "https://rs.test/MCP?x=1"),
            ("http://LOCALHOST:3000/mcp", "http://localhost:3000/mcp"),
        ] {
            assert_eq!(canonical_resource(&url(given)), want, "{given}");
        }
    }

    #[test]
    fn resource_match_allows_case_and_slash_only() {
        let server = url("https://rs.test:8443/mcp");
        for ok in [
            "https://rs.test:8443/mcp",
            "https://RS.TEST:8443/mcp",
            "HTTPS://rs.test:8443/mcp/",
        ] {
            assert!(resource_matches(ok, &server, false), "{ok}");
        }
        for bad in [
            "https://attacker.test/mcp",
            "https://rs.test:8443/other",
            "http://rs.test:8443/mcp",
            "https://rs.test:8443/MCP",
            "https://rs.test:8443/mcp#x",
            "https://rs.test:8443/",
            "not a url",
        ] {
            assert!(!resource_matches(bad, &server, false), "{bad}");
        }
        // The root well-known document may name the origin.
        assert!(resource_matches("https://rs.test:8443", &server, true));
        assert!(!resource_matches("https://rs.test:8444", &server, true));
    }

    #[test]
    fn prm_discovery_order() {
        assert_eq!(
            strings(prm_urls(&url("https://rs.test:8443/mcp"))),
            [
                "https://rs.test:8443/.well-known/oauth-protected-resource/mcp",
                "https://rs.test:8443/.well-known/oauth-protected-resource",
            ]
        );
        assert_eq!(
            strings(prm_urls(&url("https://rs.test/"))),
            ["https://rs.test/.well-known/oauth-protected-resource"]
        );
    }

    #[test]
    fn as_discovery_order_with_and_without_path() {
        assert_eq!(
            strings(as_metadata_urls(&url("https://as.test/tenant1"))),
            [
                "https://as.test/.well-known/oauth-authorization-server/tenant1",
                "https://as.test/.well-known/openid-configuration/tenant1",
                "https://as.test/tenant1/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            strings(as_metadata_urls(&url("https://as.test"))),
            [
                "https://as.test/.well-known/oauth-authorization-server",
                "https://as.test/.well-known/openid-configuration",
            ]
        );
    }

    #[test]
    fn endpoints_must_be_https_or_loopback_http() {
        for ok in [
            "https://as.test/authorize",
            "http://127.0.0.1:1/authorize",
            "http://localhost:2/a",
            "http://[::1]:3/a",
        ] {
            assert!(endpoint(ok, "authorization endpoint").is_ok(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "file:///etc/passwd",
            "vbscript:x",
            "http://as.example.com/authorize",
            "ftp://as.test/x",
        ] {
            assert!(endpoint(bad, "authorization endpoint").is_err(), "{bad}");
        }
    }

    #[test]
    fn private_addresses_are_refused() {
        for bad in [
            "https://169.254.169.254/",
            "https://10.0.0.1",
            "https://172.16.0.1",
            "https://172.31.255.255",
            "https://192.168.1.1",
            "https://[::ffff:127.0.0.1]",
            "https://[::ffff:10.0.0.1]",
            "https://[fe80::1]",
            "https://[fd00::1]",
            "https://0.0.0.0",
            "https://100.64.0.1",
        ] {
            assert!(forbidden_address(&url(bad)).is_some(), "{bad}");
        }
        for ok in [
            "https://127.0.0.1:8443",
            "https://localhost",
            "https://[::1]:1",
            "https://as.test",
            "https://172.32.0.1",
            "https://8.8.8.8",
        ] {
            assert!(forbidden_address(&url(ok)).is_none(), "{ok}");
        }
    }
}
