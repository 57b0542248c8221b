//! HTTP handlers: parse the request, call the service layer, shape the answer. No SQL here.

pub mod assets;
pub mod client_addr;
pub mod graphql;
pub mod health;
pub mod metrics;
pub mod servicenow_webhook;

use actix_web::{HttpMessage, HttpRequest, web};
use futures_util::StreamExt;

/// Reads a body of at most `limit` bytes; `None` when it is larger. The length header is checked
/// first so an oversized upload is refused before it is read.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Option<web::Bytes>, actix_web::Error> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Ok(None);
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}

/// The essence of the Content-Type header (`application/json` for `application/json; charset=utf-8`).
pub fn content_type(req: &HttpRequest) -> Option<String> {
    req.mime_type()
        .ok()
        .flatten()
        .map(|m| m.essence_str().to_ascii_lowercase())
}
