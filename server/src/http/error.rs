//! How an `AppError` and every other refusal look over plain HTTP: a status and a JSON body.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use serde_json::json;

use crate::error::AppError;

/// The JSON body of every non-GraphQL error: `{"error":{"code","message"}}`.
pub fn json_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({"error": {"code": code, "message": message}}))
}

/// The status and the stable `error.code` of each kind of `AppError`.
fn status_and_code(e: &AppError) -> (StatusCode, &'static str) {
    match e {
        AppError::Validation { .. } => (StatusCode::BAD_REQUEST, "invalid_input"),
        AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        AppError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
        AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        AppError::PasswordChangeRequired => (StatusCode::FORBIDDEN, "password_change_required"),
        AppError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
        AppError::Upstream(_) => (StatusCode::BAD_GATEWAY, "bad_gateway"),
        AppError::Unexpected(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        status_and_code(self).0
    }

    fn error_response(&self) -> HttpResponse {
        self.log_if_unexpected();
        let (status, code) = status_and_code(self);
        json_error(status, code, &self.to_string())
    }
}
