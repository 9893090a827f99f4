//! Every refusal is JSON with a code, including the ones no handler writes: axum's own extractor
//! rejections (a path segment that is not UTF-8 once percent-decoded, …), and headers too large.
//!
//! Handlers map the rejections they know to precise [`ApiError`]s; this middleware is the net
//! under them. It refuses requests whose headers exceed [`MAX_HEADERS`] or
//! [`MAX_HEADER_BYTES`] with `431 headers_too_large` before routing, and rewrites any error
//! answer that is not `application/json` into `{"code", "message", "details"}`, with the code
//! its status names and that code's status (PROTOCOL §11), the original text as the message.
//!
//! What cannot be JSON: hyper itself answers a request whose head it cannot parse (a bad
//! request line, more headers than hyper's own limit of 100, a head larger than its read buffer
//! of about 400 KiB) before any service runs, with an empty `400` or `431`, or closes the
//! connection. The limits here sit below hyper's, so a client that is merely generous with
//! headers gets the JSON answer.

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use testigo_ledger::api::ErrorCode;

use super::ApiError;

/// Most header fields a request may carry (hyper refuses more than 100 on its own, with an
/// empty answer).
pub(crate) const MAX_HEADERS: usize = 64;

/// Most bytes a request's header names and values may add up to.
pub(crate) const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Longest text of a non-JSON error answer kept as the message; the rest is cut.
const MAX_MESSAGE_BYTES: usize = 1024;

/// The middleware: see the module documentation.
pub(crate) async fn json_refusals(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return ApiError::HeadersTooLarge {
            count: headers.len(),
            bytes,
        }
        .into_response();
    }
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    as_json(response).await
}

/// Whether an answer already says it is JSON.
fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| media_type(v) == Some("application/json"))
}

/// The error answer rewritten as JSON, its text kept as the message.
async fn as_json(response: Response) -> Response {
    let status = response.status();
    let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
    let text = match to_bytes(response.into_body(), MAX_MESSAGE_BYTES).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let code = code_of(status);
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("refused")
            .to_lowercase()
    } else {
        text
    };
    let error = match code {
        ErrorCode::Internal => ApiError::internal(message),
        _ => ApiError::Other { code, message },
    };
    let mut response = error.into_response();
    if let Some(value) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The code an error status stands for, when no handler gave one.
fn code_of(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::REQUEST_TIMEOUT => ErrorCode::RequestTimeout,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ErrorCode::HeadersTooLarge,
        StatusCode::NOT_IMPLEMENTED => ErrorCode::NotImplemented,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::ShuttingDown,
        s if s.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::BadRequest,
    }
}

/// The media type of a `Content-Type` value, lower-cased, without its parameters
/// (`application/json; charset=utf-8` is `application/json`); `None` if it names none.
pub(crate) fn media_type(value: &str) -> Option<&'static str> {
    let essence = value.split(';').next().unwrap_or("").trim();
    [
        "application/json",
        "application/octet-stream",
        "text/plain",
        "text/event-stream",
    ]
    .into_iter()
    .find(|known| essence.eq_ignore_ascii_case(known))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_match_exactly_with_parameters_allowed() {
        assert_eq!(media_type("application/json"), Some("application/json"));
        assert_eq!(
            media_type("Application/JSON ; charset=utf-8"),
            Some("application/json")
        );
        assert_eq!(
            media_type("application/octet-stream"),
            Some("application/octet-stream")
        );
        assert_eq!(media_type("application/jsonx"), None);
        assert_eq!(media_type("application/json-seq"), None);
        assert_eq!(media_type("application/octet-streamy"), None);
        assert_eq!(media_type(""), None);
    }

    #[test]
    fn statuses_without_a_code_get_the_one_that_names_them() {
        for status in [400, 401, 403, 404, 405, 413, 415, 431, 500, 501, 503] {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(code_of(status).http_status(), status.as_u16(), "{status}");
        }
        // A status the table has no code for becomes the nearest one, with that code's status.
        assert_eq!(code_of(StatusCode::IM_A_TEAPOT), ErrorCode::BadRequest);
        assert_eq!(code_of(StatusCode::BAD_GATEWAY), ErrorCode::Internal);
    }
}
