//! How an `AppError` looks in a GraphQL answer: its message and a stable `extensions.code`.

use async_graphql::ErrorExtensions;

use crate::error::AppError;

/// The stable `extensions.code` of each kind of `AppError`.
fn graphql_code(e: &AppError) -> &'static str {
    match e {
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

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        self.log_if_unexpected();
        async_graphql::Error::new(self.to_string())
            .extend_with(|_, ext| ext.set("code", graphql_code(self)))
    }
}

/// Runs a resolver body written against `AppError` and turns its error into a GraphQL error with
/// a stable `extensions.code`. Every resolver goes through here: a bare `?` on an `AppError` in a
/// resolver would compile (async-graphql converts anything `Display`) but lose the code.
pub async fn gql<T>(
    body: impl std::future::Future<Output = Result<T, AppError>>,
) -> Result<T, async_graphql::Error> {
    body.await.map_err(|e| e.extend())
}
