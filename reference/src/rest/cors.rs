//! Browser origins: the CORS layer over every REST route, and the `Origin`
//! check of `/mcp`.
//!
//! The `--cors-origin` values are the origins allowed to call the REST API
//! from a browser with credentials; a sent `Origin` matches one only when it
//! is byte for byte the same string. On the REST routes:
//! - every response carries `Vary: Origin`;
//! - a response to an allowed origin carries `Access-Control-Allow-Origin:
//!   <origin>` and `Access-Control-Allow-Credentials: true`;
//! - a preflight (`OPTIONS` with `Access-Control-Request-Method`) from an
//!   allowed origin is answered 204 before any authentication, with explicit
//!   methods and headers; from any other origin, 403 without grants;
//! - a state-changing request (not GET, HEAD or OPTIONS) from a refused
//!   origin is answered 403 before anything is done; a GET is served without
//!   grants; a request without `Origin` is not affected.
//!
//! The embed route keeps its own rule: a publishable key's request is granted
//! (without credentials) for one of that key's origins, and its preflight for
//! an origin of a publishable key bound to the agent. On `/mcp`, an `Origin`
//! that is not an allowed origin is answered 403 before authentication.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::json;

use super::Rest;
use super::reply::json_response;
use super::store::ObjectKind;
use crate::faults::Fault;

/// `Access-Control-Allow-Methods` of a granted preflight.
pub(crate) const ALLOW_METHODS: &str = "GET, POST, DELETE";
/// `Access-Control-Allow-Headers` of a granted preflight.
pub(crate) const ALLOW_HEADERS: &str =
    "content-type, authorization, x-api-key, x-session-id, x-encryption-key";
/// `Access-Control-Max-Age` of a granted preflight, in seconds.
pub(crate) const MAX_AGE: &str = "600";

/// Put into a response's extensions by a route that refused the request's
/// origin itself (the embed route, for an origin that is not the key's): the
/// layer adds no grant to it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoGrant;

/// The `Origin` fields of a request.
enum Sent {
    /// No `Origin` field (not a browser's cross-origin request).
    None,
    /// Exactly one.
    One(HeaderValue),
    /// Several; the first one.
    Several(HeaderValue),
}

impl Sent {
    fn of(headers: &HeaderMap) -> Sent {
        let mut fields = headers.get_all(header::ORIGIN).iter();
        match (fields.next(), fields.next()) {
            (None, _) => Sent::None,
            (Some(one), None) => Sent::One(one.clone()),
            (Some(first), Some(_)) => Sent::Several(first.clone()),
        }
    }
}

/// What a response grants the request's origin.
struct Grant {
    /// The `Access-Control-Allow-Origin` value.
    origin: HeaderValue,
    /// Whether `Access-Control-Allow-Credentials: true` is added.
    credentials: bool,
}

impl Grant {
    fn apply(&self, response: &mut Response) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, self.origin.clone());
        if self.credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}

/// `status` with `{"error": error}`.
fn refusal(status: StatusCode, error: &str) -> Response {
    json_response(status, json!({ "error": error }))
}

/// Whether `sent` ends with the host (and port) of `allowed` and has an http(s)
/// scheme: the `cors-suffix-match` fault.
fn suffix_match(sent: &[u8], allowed: &str) -> bool {
    let host = allowed.split_once("://").map_or(allowed, |(_, host)| host);
    (sent.starts_with(b"https://") || sent.starts_with(b"http://"))
        && sent.ends_with(host.as_bytes())
}

/// The agent of an embed route path (`/api/v1/agents/{agent}/config`).
fn embed_agent(path: &str) -> Option<&str> {
    let agent = path
        .strip_prefix("/api/v1/agents/")?
        .strip_suffix("/config")?;
    (!agent.is_empty() && !agent.contains('/')).then_some(agent)
}

/// Adds `Vary: Origin` unless a `Vary` field already names it; under
/// `cors-no-vary`, removes every `Vary` field naming it.
fn vary_origin(response: &mut Response, omit: bool) {
    let names_origin = |value: &HeaderValue| {
        value.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|token| token.trim().eq_ignore_ascii_case("origin"))
        })
    };
    let headers = response.headers_mut();
    let fields: Vec<HeaderValue> = headers.get_all(header::VARY).iter().cloned().collect();
    if omit {
        headers.remove(header::VARY);
        for value in fields.into_iter().filter(|v| !names_origin(v)) {
            headers.append(header::VARY, value);
        }
    } else if !fields.iter().any(names_origin) {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

impl Rest {
    /// Whether `origin` is an allowed origin (exact match; looser under the
    /// `cors-prefix-match` and `cors-suffix-match` faults).
    fn allows(&self, origin: &HeaderValue) -> bool {
        let sent = origin.as_bytes();
        // The faults are asked only about an origin that is not allowed exactly.
        self.cors_origins.iter().any(|allowed| {
            sent == allowed.as_bytes()
                || (sent.starts_with(allowed.as_bytes()) && self.faults.has(Fault::CorsPrefixMatch))
                || (suffix_match(sent, allowed) && self.faults.has(Fault::CorsSuffixMatch))
        })
    }

    /// The credentialed grant of an allowed origin (any origin under
    /// `cors-reflect-any-origin`; `*` under `cors-wildcard-with-credentials`).
    fn grant(&self, sent: &Sent) -> Option<Grant> {
        let origin = match sent {
            Sent::None => return None,
            Sent::Several(first) if self.faults.has(Fault::CorsReflectAnyOrigin) => first,
            Sent::Several(_) => return None,
            Sent::One(origin) => origin,
        };
        if !self.allows(origin) && !self.faults.has(Fault::CorsReflectAnyOrigin) {
            return None;
        }
        let origin = if self.faults.has(Fault::CorsWildcardWithCredentials) {
            HeaderValue::from_static("*")
        } else {
            origin.clone()
        };
        Some(Grant {
            origin,
            credentials: true,
        })
    }

    /// The grant of a preflight to the embed route from an origin of a
    /// publishable key bound to the path's agent (without credentials); any
    /// origin, with credentials, under `publishable-any-origin`.
    fn embed_preflight_grant(&self, path: &str, sent: &Sent) -> Option<Grant> {
        let agent = embed_agent(path)?;
        let Sent::One(origin) = sent else {
            return None;
        };
        if self.faults.has(Fault::PublishableAnyOrigin) {
            return Some(Grant {
                origin: origin.clone(),
                credentials: true,
            });
        }
        let any_agent = self.faults.has(Fault::PublishableAnyAgent);
        let store = self.store.lock();
        let agent_org = store.owner(ObjectKind::Agent, agent);
        let known = store.keys.publishable(&self.faults).any(|key| {
            (key.role == agent || (any_agent && Some(key.org.as_str()) == agent_org))
                && key
                    .origins
                    .iter()
                    .any(|o| o.as_bytes() == origin.as_bytes())
        });
        known.then(|| Grant {
            origin: origin.clone(),
            credentials: false,
        })
    }

    /// Answers a preflight: 204 with the grants for an allowed origin (after
    /// authentication under `preflight-needs-auth`), 403 otherwise.
    fn preflight(&self, request: &Request, sent: &Sent) -> Response {
        let grant = self
            .grant(sent)
            .or_else(|| self.embed_preflight_grant(request.uri().path(), sent));
        let Some(grant) = grant else {
            return refusal(StatusCode::FORBIDDEN, "origin_not_allowed");
        };
        if self.faults.has(Fault::PreflightNeedsAuth)
            && let Err(refused) = self.authenticate(request.headers(), request.uri().query())
        {
            let mut response = refused.into_response();
            grant.apply(&mut response);
            return response;
        }
        let mut response = StatusCode::NO_CONTENT.into_response();
        let asked = request.headers();
        let headers = response.headers_mut();
        if self.faults.has(Fault::CorsReflectAnyOrigin) {
            // Grants whatever was asked for.
            for (asked_for, granted) in [
                (
                    header::ACCESS_CONTROL_REQUEST_HEADERS,
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                ),
                (
                    header::ACCESS_CONTROL_REQUEST_METHOD,
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                ),
            ] {
                if let Some(value) = asked.get(asked_for) {
                    headers.insert(granted, value.clone());
                }
            }
        } else {
            for (name, value) in [
                (header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS),
                (header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS),
                (header::ACCESS_CONTROL_MAX_AGE, MAX_AGE),
            ] {
                headers.insert(name, HeaderValue::from_static(value));
            }
        }
        grant.apply(&mut response);
        response
    }

    /// The 403 answering an MCP request whose `Origin` is not an allowed origin
    /// (exact match; several fields are refused); `None` without `Origin`, for
    /// an allowed one, or under `mcp-ignores-origin`.
    pub(crate) fn refuse_mcp_origin(&self, headers: &HeaderMap) -> Option<Response> {
        let refused = match Sent::of(headers) {
            Sent::None => None,
            Sent::One(origin)
                if self
                    .cors_origins
                    .iter()
                    .any(|allowed| allowed.as_bytes() == origin.as_bytes()) =>
            {
                None
            }
            Sent::One(_) | Sent::Several(_) => {
                Some(refusal(StatusCode::FORBIDDEN, "invalid_origin"))
            }
        };
        refused.filter(|_| !self.faults.has(Fault::McpIgnoresOrigin))
    }
}

/// The CORS layer of the REST routes (see the module documentation).
pub(crate) async fn layer(State(rest): State<Arc<Rest>>, request: Request, next: Next) -> Response {
    let faults = &rest.faults;
    let sent = Sent::of(request.headers());
    let method = request.method().clone();
    let is_preflight = method == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let grant = rest.grant(&sent);
    let refused = grant.is_none() && !matches!(sent, Sent::None);
    let state_changing = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    let mut response = if is_preflight && !matches!(sent, Sent::None) {
        rest.preflight(&request, &sent)
    } else if refused && state_changing && !faults.has(Fault::RefusedOriginExecutes) {
        refusal(StatusCode::FORBIDDEN, "origin_not_allowed")
    } else {
        let mut response = next.run(request).await;
        let route_refused = response.extensions().get::<NoGrant>().is_some()
            && !faults.has(Fault::CorsReflectAnyOrigin);
        if let Some(grant) = grant.filter(|_| !route_refused) {
            grant.apply(&mut response);
        }
        response
    };
    vary_origin(&mut response, faults.has(Fault::CorsNoVary));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_and_embed_paths() {
        let allowed = "https://app.example.test";
        assert!(suffix_match(b"https://evilapp.example.test", allowed));
        assert!(suffix_match(b"http://x.app.example.test", allowed));
        assert!(!suffix_match(b"ftp://app.example.test", allowed));
        assert!(!suffix_match(b"https://app.example.test.evil", allowed));
        assert_eq!(
            embed_agent("/api/v1/agents/agent-1/config"),
            Some("agent-1")
        );
        assert_eq!(embed_agent("/api/v1/agents//config"), None);
        assert_eq!(embed_agent("/api/v1/agents/a/b/config"), None);
        assert_eq!(embed_agent("/v1/apis"), None);
    }

    #[test]
    fn vary_is_added_once_or_removed() {
        let mut response = StatusCode::OK.into_response();
        vary_origin(&mut response, false);
        vary_origin(&mut response, false);
        let vary: Vec<_> = response.headers().get_all(header::VARY).iter().collect();
        assert_eq!(vary, ["Origin"]);
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("Accept"));
        vary_origin(&mut response, true);
        let vary: Vec<_> = response.headers().get_all(header::VARY).iter().collect();
        assert_eq!(vary, ["Accept"]);
    }
}
