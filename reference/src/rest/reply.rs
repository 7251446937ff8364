//! The responses of the REST API: JSON bodies and the refusals.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

/// The challenge of every 401 of the REST API.
pub(crate) const CHALLENGE: &str = "Bearer realm=\"reference\"";

/// What a handler answers: a response, or a refusal.
pub(crate) type Reply = Result<Response, Refusal>;

/// A refusing response; the credential to echo under the `echo-key-in-error`
/// fault (`None` otherwise).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 400 `{"error":"invalid_request"}`.
    InvalidRequest,
    /// 401 `{"error":"unauthorized"}` with the challenge.
    Unauthorized(Option<String>),
    /// 403 `{"error":"forbidden"}`.
    Forbidden(Option<String>),
    /// 404 `{"error":"not_found"}`.
    NotFound,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, code, echo) = match self {
            Refusal::InvalidRequest => (StatusCode::BAD_REQUEST, "invalid_request", None),
            Refusal::Unauthorized(echo) => (StatusCode::UNAUTHORIZED, "unauthorized", echo),
            Refusal::Forbidden(echo) => (StatusCode::FORBIDDEN, "forbidden", echo),
            Refusal::NotFound => (StatusCode::NOT_FOUND, "not_found", None),
        };
        let mut body = json!({ "error": code });
        if let Some(key) = echo {
            body["key"] = json!(key);
        }
        let mut response = json_response(status, body);
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(CHALLENGE),
            );
        }
        response
    }
}

/// `status` with a JSON body.
pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// 200 with a JSON body.
pub(crate) fn ok(body: Value) -> Reply {
    Ok(json_response(StatusCode::OK, body))
}

/// 204 without a body.
pub(crate) fn no_content() -> Reply {
    Ok(StatusCode::NO_CONTENT.into_response())
}
