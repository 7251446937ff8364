//! The `cors-reflect-origin` fault: a CORS layer over the REST routes that
//! grants whatever origin asks, with credentials. (Without the fault there is
//! no such layer: only the embed route answers `Access-Control-Allow-Origin`,
//! for one of its key's origins.)

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

/// Answers an `OPTIONS` preflight itself (204, before any authentication) and
/// adds the reflected `Origin` with `Access-Control-Allow-Credentials: true`
/// to every response of a request that has an `Origin`.
pub(crate) async fn reflect_origin(request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let mut response = if request.method() == Method::OPTIONS {
        preflight(request.headers())
    } else {
        next.run(request).await
    };
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    response
}

/// 204 granting the requested headers and method.
fn preflight(request: &HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    for (asked, granted) in [
        (
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
        ),
        (
            header::ACCESS_CONTROL_REQUEST_METHOD,
            header::ACCESS_CONTROL_ALLOW_METHODS,
        ),
    ] {
        if let Some(value) = request.get(asked) {
            headers.insert(granted, value.clone());
        }
    }
    response
}
