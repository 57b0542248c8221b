//! `POST /graphql`. (`GET /graphql` is the query page: `query_page`.)
//!
//! The caller comes from `Authorization: Bearer` or the session cookie. Every POST must be
//! `application/json`: a browser can send text/plain, form or multipart bodies cross-site without
//! a preflight, so refusing them keeps the cookie from being usable for CSRF.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use async_graphql_actix_web::GraphQLResponse;
use serde_json::json;

use super::{BodyError, BodyTimeout, content_type, read_body};
use crate::graphql::AppSchema;
use crate::graphql::SESSION_COOKIE;
use crate::service::auth;
use crate::startup::AppState;

const MAX_BODY: usize = 256 * 1024;

fn bad_request(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .json(json!({"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}))
}

fn token(req: &HttpRequest) -> Option<String> {
    if let Some(value) = req.headers().get(actix_web::http::header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string());
    }
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_string())
}

pub async fn execute(
    state: web::Data<AppState>,
    schema: web::Data<AppSchema>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    if content_type(&req).as_deref() != Some("application/json") {
        return Ok(bad_request(
            StatusCode::BAD_REQUEST,
            "POST /graphql needs Content-Type: application/json",
        ));
    }
    let body = match read_body(&req, payload, MAX_BODY).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return Ok(bad_request(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request is larger than 256 KiB",
            ));
        }
        Err(BodyError::Timeout) => return Err(BodyTimeout.into()),
        Err(BodyError::Payload(e)) => return Err(e),
    };
    let batch: async_graphql::BatchRequest = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            let msg = format!("not a GraphQL request: {e}");
            return Ok(bad_request(StatusCode::BAD_REQUEST, &msg));
        }
    };
    let caller = match token(&req) {
        Some(t) => auth::authenticate(&state.db, &t).await?,
        None => None,
    };
    let batch = match caller {
        Some(c) => batch.data(c),
        None => batch,
    };
    let mut response = schema.execute_batch(batch).await;
    match &mut response {
        async_graphql::BatchResponse::Single(r) => add_missing_codes(r),
        async_graphql::BatchResponse::Batch(rs) => rs.iter_mut().for_each(add_missing_codes),
    }
    let response: GraphQLResponse = response.into();
    use actix_web::Responder;
    Ok(response.respond_to(&req).map_into_boxed_body())
}

/// Resolver errors carry a code already (`error::gql`); what is left are errors async-graphql
/// raises itself before running anything: syntax, unknown fields, wrong argument types, and the
/// depth and complexity limits.
fn add_missing_codes(response: &mut async_graphql::Response) {
    for error in &mut response.errors {
        let ext = error.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", "GRAPHQL_VALIDATION_FAILED");
        }
    }
}
