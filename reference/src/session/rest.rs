//! `POST /v1/apis/{api_id}/endpoints/{endpoint}:call`: host auth first (as on
//! every REST route), then the endpoint, then the session values by the
//! "headers win" rule.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use serde_json::{Map, Value, json};

use super::{ENCRYPTION_KEY, Endpoint, HostPrincipal, Pair, Presented, SESSION_ID, SessionRefusal};
use crate::faults::{Fault, Faults};
use crate::rest::Rest;

/// The session-ID header (field names are case-insensitive).
const SESSION_ID_HEADER: &str = "x-session-id";
/// The encryption-key header.
const ENCRYPTION_KEY_HEADER: &str = "x-encryption-key";
/// The challenge of the REST API's 401s (the `session-401` fault answers with it).
const CHALLENGE: &str = "Bearer realm=\"reference\"";

/// One session value as one transport presented it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    /// Not there.
    Absent,
    /// There, but empty (or only whitespace in a header).
    Empty,
    /// There, but not usable as a value (several header fields, non-text);
    /// what was presented, lossily.
    Unusable(String),
    /// A value.
    Text(String),
}

impl Field {
    fn is_absent(&self) -> bool {
        *self == Field::Absent
    }
}

/// The two session values of one transport (or, under `split-pair-accepted`,
/// of both).
#[derive(Debug, Clone)]
struct Transport {
    id: Field,
    key: Field,
}

impl Transport {
    fn from_headers(headers: &HeaderMap) -> Transport {
        let field = |name| {
            let values: Vec<&HeaderValue> = headers.get_all(name).iter().collect();
            match values.as_slice() {
                [] => Field::Absent,
                [value] => match value.to_str().map(str::trim) {
                    Ok("") => Field::Empty,
                    Ok(text) => Field::Text(text.to_owned()),
                    Err(_) => Field::Unusable(String::from_utf8_lossy(value.as_bytes()).into()),
                },
                several => Field::Unusable(
                    several
                        .iter()
                        .map(|v| String::from_utf8_lossy(v.as_bytes()))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            }
        };
        Transport {
            id: field(SESSION_ID_HEADER),
            key: field(ENCRYPTION_KEY_HEADER),
        }
    }

    fn from_body(body: &Map<String, Value>) -> Transport {
        let field = |name| match body.get(name) {
            None | Some(Value::Null) => Field::Absent,
            Some(Value::String(s)) if s.is_empty() => Field::Empty,
            Some(Value::String(s)) => Field::Text(s.clone()),
            Some(other) => Field::Unusable(other.to_string()),
        };
        Transport {
            id: field(SESSION_ID),
            key: field(ENCRYPTION_KEY),
        }
    }

    /// Whether this transport carries either value (even an empty one).
    fn is_present(&self) -> bool {
        !self.id.is_absent() || !self.key.is_absent()
    }

    fn presented(self) -> Presented {
        use Field::{Absent, Empty, Text, Unusable};
        match (self.id, self.key) {
            (Absent, Absent) => Presented::Nothing,
            (Absent | Empty, _) | (_, Absent | Empty) => Presented::Partial,
            (Text(id), Text(key)) => Presented::Pair(Pair { id, key }),
            (Unusable(id) | Text(id), Unusable(key) | Text(key)) => {
                Presented::Unusable(Pair { id, key })
            }
        }
    }
}

/// The session values of a call: the headers' if either session header is
/// there (even empty), else the body's. Under `body-over-header` the body's
/// when it has either field; under `split-pair-accepted` each value from the
/// preferred transport that has it, else from the other.
fn choose(headers: Transport, body: Transport, faults: &Faults) -> Presented {
    let (first, second) = if faults.has(Fault::BodyOverHeader) {
        (body, headers)
    } else {
        (headers, body)
    };
    if faults.has(Fault::SplitPairAccepted) {
        let split = first.id.is_absent() != first.key.is_absent();
        let pick = |a: Field, b: Field| if a.is_absent() { b } else { a };
        let presented = Transport {
            id: pick(first.id, second.id),
            key: pick(first.key, second.key),
        }
        .presented();
        match presented {
            Presented::Pair(pair) if split => Presented::Split(pair),
            other => other,
        }
    } else if first.is_present() {
        first.presented()
    } else {
        second.presented()
    }
}

/// The query string's parameters as JSON strings (`session-in-query`).
fn query_fields(query: Option<&str>) -> Map<String, Value> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

fn error(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({ "error": code }))).into_response()
}

/// 200 with a JSON body that must not be cached.
fn no_store(body: Value) -> Response {
    let mut response = (StatusCode::OK, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 403 `{"error": code}` (401 with the challenge under `session-401`), the
/// presented pair echoed under `echo-session`.
fn refuse(refusal: SessionRefusal, faults: &Faults) -> Response {
    let mut body = json!({ "error": refusal.code() });
    if let SessionRefusal::Invalid(pair) = &refusal
        && faults.has(Fault::EchoSession)
    {
        body[SESSION_ID] = json!(pair.id);
        body[ENCRYPTION_KEY] = json!(pair.key);
    }
    if faults.has(Fault::Session401) {
        let mut response = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(CHALLENGE),
        );
        response
    } else {
        (StatusCode::FORBIDDEN, Json(body)).into_response()
    }
}

/// The JSON object of a request body; an empty body is `{}`.
fn body_object(body: &[u8]) -> Option<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// `POST /v1/apis/{api_id}/endpoints/{endpoint}:call`.
///
/// 401 (host auth) → 404 unknown API or endpoint → 400 body not a JSON object
/// → `login`: 200 `{session_id, encryption_key, initiates_session}` or 403
/// `login_failed`; `inbox`: 200 `{user, folder}` or 403 `session_required` /
/// `invalid_session`.
pub(crate) async fn call(
    State(rest): State<Arc<Rest>>,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let caller = match rest.authenticate(&headers, uri.query()) {
        Ok(caller) => caller,
        Err(refusal) => return refusal.into_response(),
    };
    if let Err(refusal) = rest.host_org(&caller) {
        return refusal.into_response();
    }
    let principal = HostPrincipal::Key(caller.principal.key_id.clone());
    let Ok(Path((api_id, endpoint_call))) = path else {
        return error(StatusCode::NOT_FOUND, "not_found");
    };
    let endpoint = endpoint_call
        .rsplit_once(':')
        .filter(|(_, method)| *method == "call")
        .and_then(|(name, _)| Endpoint::parse(name));
    let (true, Some(endpoint)) = (rest.api_exists(&api_id), endpoint) else {
        return error(StatusCode::NOT_FOUND, "not_found");
    };
    let Some(body) = body.ok().as_deref().and_then(body_object) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let faults = rest.faults();
    match endpoint {
        Endpoint::Login => {
            let (email, password) = super::login_fields(&body);
            match rest.sessions().login(principal, email, password) {
                Some(pair) => {
                    let mut result = super::login_result(&pair);
                    if faults.has(Fault::LoginWithoutFlag)
                        && let Some(o) = result.as_object_mut()
                    {
                        o.remove("initiates_session");
                    }
                    no_store(result)
                }
                None => error(StatusCode::FORBIDDEN, "login_failed"),
            }
        }
        Endpoint::Inbox => {
            let from_body = if faults.has(Fault::SessionBodyIgnored) {
                Transport::from_body(&Map::new())
            } else if faults.has(Fault::SessionInQuery) && !body.contains_key(SESSION_ID) {
                Transport::from_body(&query_fields(uri.query()))
            } else {
                Transport::from_body(&body)
            };
            let presented = choose(Transport::from_headers(&headers), from_body, faults);
            let bearer_host_auth = headers.contains_key(header::AUTHORIZATION);
            let skip = faults.has(Fault::SessionOptional)
                || (bearer_host_auth && faults.has(Fault::BearerReplacesSession));
            match rest.sessions().resolve(presented, &principal, skip) {
                Ok(user) => no_store(super::inbox(user, &super::site_params(body))),
                Err(refusal) => refuse(refusal, faults),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderName;

    use super::*;

    fn headers(fields: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in fields {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn body(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn pair(id: &str, key: &str) -> Presented {
        Presented::Pair(Pair {
            id: id.into(),
            key: key.into(),
        })
    }

    fn read(h: &[(&str, &str)], b: Value, faults: &[&str]) -> Presented {
        let faults = Faults::parse(faults).unwrap();
        choose(
            Transport::from_headers(&headers(h)),
            Transport::from_body(&body(b)),
            &faults,
        )
    }

    #[test]
    fn headers_win_whole() {
        let both = [("X-Session-ID", "hi"), ("x-encryption-KEY", "hk")];
        let full_body = json!({ "session_id": "bi", "encryption_key": "bk" });
        assert_eq!(read(&both, full_body.clone(), &[]), pair("hi", "hk"));
        assert_eq!(read(&[], full_body.clone(), &[]), pair("bi", "bk"));
        assert_eq!(read(&[], json!({}), &[]), Presented::Nothing);
        // A split pair, an empty header or one header alone is never completed from the body.
        let id_only = [("x-session-id", "hi")];
        let key_body = json!({ "encryption_key": "bk" });
        assert_eq!(read(&id_only, key_body.clone(), &[]), Presented::Partial);
        assert_eq!(read(&id_only, full_body.clone(), &[]), Presented::Partial);
        let empty = [("x-session-id", ""), ("x-encryption-key", "")];
        assert_eq!(read(&empty, full_body.clone(), &[]), Presented::Partial);
        assert_eq!(
            read(&[], json!({ "session_id": "bi" }), &[]),
            Presented::Partial
        );
        assert_eq!(
            read(
                &[],
                json!({ "session_id": "", "encryption_key": "bk" }),
                &[]
            ),
            Presented::Partial
        );
        assert!(matches!(
            read(&[], json!({ "session_id": 7, "encryption_key": "bk" }), &[]),
            Presented::Unusable(_)
        ));
        let twice = [
            ("x-session-id", "a"),
            ("x-session-id", "b"),
            ("x-encryption-key", "k"),
        ];
        assert!(matches!(
            read(&twice, json!({}), &[]),
            Presented::Unusable(_)
        ));
    }

    #[test]
    fn faults_change_the_transport_rule() {
        let both = [("x-session-id", "hi"), ("x-encryption-key", "hk")];
        let full_body = json!({ "session_id": "bi", "encryption_key": "bk" });
        assert_eq!(
            read(&both, full_body.clone(), &["body-over-header"]),
            pair("bi", "bk")
        );
        assert_eq!(
            read(&both, json!({}), &["body-over-header"]),
            pair("hi", "hk")
        );
        let id_only = [("x-session-id", "hi")];
        let key_body = json!({ "encryption_key": "bk" });
        assert_eq!(
            read(&id_only, key_body, &["split-pair-accepted"]),
            Presented::Split(Pair {
                id: "hi".into(),
                key: "bk".into()
            })
        );
        assert_eq!(
            read(&both, full_body, &["split-pair-accepted"]),
            pair("hi", "hk")
        );
    }

    #[test]
    fn bodies_are_json_objects_or_empty() {
        assert_eq!(body_object(b""), Some(Map::new()));
        assert_eq!(body_object(b" \n"), Some(Map::new()));
        assert!(body_object(br#"{"folder":"x"}"#).is_some());
        assert!(body_object(b"[1]").is_none());
        assert!(body_object(b"folder=x").is_none());
    }
}
