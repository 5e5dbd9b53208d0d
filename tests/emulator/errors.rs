//! ARM-shaped answers: `{"error": {"code", "message", "details"}}` bodies and JSON responses.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

/// A JSON response with extra headers.
pub fn json_response(status: u16, body: &Value, headers: &[(&str, String)]) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    add_headers(&mut response, headers);
    response
}

/// An empty response with extra headers.
pub fn empty_response(status: u16, headers: &[(&str, String)]) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    add_headers(&mut response, headers);
    response
}

pub fn add_headers(response: &mut Response, headers: &[(&str, String)]) {
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(*name),
            HeaderValue::try_from(value.as_str()),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
}

/// The ARM error body.
pub fn error_body(code: &str, message: &str, details: &[(&str, &str)]) -> Value {
    let details: Vec<Value> = details
        .iter()
        .map(|(code, message)| json!({"code": code, "message": message}))
        .collect();
    json!({"error": {"code": code, "message": message, "details": details}})
}

/// An ARM error response.
pub fn arm_error(status: u16, code: &str, message: &str) -> Response {
    json_response(status, &error_body(code, message, &[]), &[])
}

/// The error code ARM uses for a bare status.
pub fn code_for_status(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        404 => "NotFound",
        409 => "Conflict",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "UnexpectedError",
    }
}
