//! `AppError`, the one error type of the service layer. How callers see it is decided at the
//! edges: `http::error` maps it to statuses and JSON bodies, `graphql::error` to GraphQL codes.

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
