//! HTTP handlers: parse the request, call the service layer, shape the answer. No SQL here.

pub mod action_link;
pub mod assets;
pub mod calendar;
pub mod client_addr;
pub mod error;
pub mod graphql;
pub mod health;
pub mod metrics;
pub mod servicenow_webhook;

pub mod query_page;

use actix_web::http::{ConnectionType, StatusCode};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};

use crate::state::AppState;
use futures_util::StreamExt;

/// The body did not arrive within GLIDEPATH_BODY_TIMEOUT_MS: 408, and the connection is closed
/// so the rest of a slow upload is not waited for.
#[derive(Debug)]
pub struct BodyTimeout;

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl actix_web::ResponseError for BodyTimeout {
    fn status_code(&self) -> StatusCode {
        StatusCode::REQUEST_TIMEOUT
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = error::json_error(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body did not arrive in time",
        );
        response
            .head_mut()
            .set_connection_type(ConnectionType::Close);
        response
    }
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Larger than the limit.
    TooLarge,
    /// Not complete within the body deadline.
    Timeout,
    /// The client broke off or sent a malformed body.
    Payload(actix_web::Error),
}

/// Reads a body of at most `limit` bytes within the body deadline (`AppState::body_timeout`).
/// The length header is checked first so an oversized upload is refused before it is read.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, BodyError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let deadline = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.body_timeout)
        .unwrap_or(DEFAULT_BODY_TIMEOUT);
    let read = async {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| BodyError::Payload(e.into()))?;
            if body.len() + chunk.len() > limit {
                return Err(BodyError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    match tokio::time::timeout(deadline, read).await {
        Ok(result) => result,
        Err(_) => Err(BodyError::Timeout),
    }
}

/// The body deadline when no state is at hand.
pub const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The essence of the Content-Type header (`application/json` for `application/json; charset=utf-8`).
pub fn content_type(req: &HttpRequest) -> Option<String> {
    req.mime_type()
        .ok()
        .flatten()
        .map(|m| m.essence_str().to_ascii_lowercase())
}
