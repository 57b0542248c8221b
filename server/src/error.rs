//! `AppError`, the one error type of the service layer, and its single mapping to HTTP statuses
//! and GraphQL error codes.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use serde_json::json;

use crate::domain::alert::ActionError;

#[derive(thiserror::Error)]
pub enum AppError {
    #[error("invalid {field}: {reason}")]
    Validation { field: String, reason: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    /// An admin reset the caller's password; only changePassword, logout and me answer.
    #[error("your password was reset: change it first (changePassword)")]
    PasswordChangeRequired,
    /// Too much at once (the password hash queue is full, or too many sign-in attempts).
    #[error("{0}")]
    TooManyRequests(&'static str),
    /// ServiceNow failed or refused; the message says how (never a credential).
    #[error("{0}")]
    Upstream(String),
    #[error("internal error")]
    Unexpected(#[from] anyhow::Error),
}

impl AppError {
    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> AppError {
        AppError::Validation {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Validation { .. } => StatusCode::BAD_REQUEST,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) | AppError::PasswordChangeRequired => StatusCode::FORBIDDEN,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Upstream(_) => StatusCode::BAD_GATEWAY,
            AppError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable `extensions.code` of a GraphQL error.
    pub fn graphql_code(&self) -> &'static str {
        match self {
            AppError::Validation { .. } => "BAD_USER_INPUT",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::Conflict(_) => "CONFLICT",
            AppError::Unauthorized(_) => "UNAUTHENTICATED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::PasswordChangeRequired => "PASSWORD_CHANGE_REQUIRED",
            AppError::TooManyRequests(_) => "TOO_MANY_REQUESTS",
            AppError::Upstream(_) => "BAD_GATEWAY",
            AppError::Unexpected(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// Logs the whole cause chain of an unexpected error; the caller only ever sees "internal error".
    pub fn log_if_unexpected(&self) {
        if let AppError::Unexpected(e) = self {
            tracing::error!(error = ?e, "unexpected error");
        }
    }
}

impl std::fmt::Debug for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::Unexpected(e) => write!(f, "{e:?}"),
            other => write!(f, "{other}"),
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        AppError::Unexpected(anyhow::Error::new(e))
    }
}

impl From<sea_orm::TransactionError<AppError>> for AppError {
    fn from(e: sea_orm::TransactionError<AppError>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(app) => app,
        }
    }
}

impl From<crate::servicenow::client::SnError> for AppError {
    fn from(e: crate::servicenow::client::SnError) -> Self {
        AppError::Upstream(e.to_string())
    }
}

impl From<ActionError> for AppError {
    fn from(e: ActionError) -> Self {
        AppError::Conflict(e.to_string())
    }
}

impl async_graphql::ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        self.log_if_unexpected();
        async_graphql::Error::new(self.to_string())
            .extend_with(|_, ext| ext.set("code", self.graphql_code()))
    }
}

/// Runs a resolver body written against `AppError` and turns its error into a GraphQL error with
/// a stable `extensions.code`. Every resolver goes through here: a bare `?` on an `AppError` in a
/// resolver would compile (async-graphql converts anything `Display`) but lose the code.
pub async fn gql<T>(
    body: impl std::future::Future<Output = Result<T, AppError>>,
) -> Result<T, async_graphql::Error> {
    use async_graphql::ErrorExtensions;
    body.await.map_err(|e| e.extend())
}

/// The JSON body of every non-GraphQL error: `{"error":{"code","message"}}`.
pub fn json_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({"error": {"code": code, "message": message}}))
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.log_if_unexpected();
        let code = match self {
            AppError::Validation { .. } => "invalid_input",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::Unauthorized(_) => "unauthenticated",
            AppError::Forbidden(_) => "forbidden",
            AppError::PasswordChangeRequired => "password_change_required",
            AppError::TooManyRequests(_) => "too_many_requests",
            AppError::Upstream(_) => "bad_gateway",
            AppError::Unexpected(_) => "internal",
        };
        json_error(self.status(), code, &self.to_string())
    }
}
