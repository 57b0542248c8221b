//! The GraphQL API: one schema built at start-up, shared by every request; the caller is added
//! per request. Resolvers only translate: the service layer decides and writes.

mod error;
pub mod loaders;
mod mutation;
mod query;
mod types;

use async_graphql::{Context, EmptySubscription, Schema};

use crate::error::AppError;
use crate::service::Caller;
use crate::state::AppState;

pub use mutation::{MutationRoot, SESSION_COOKIE};
pub use query::QueryRoot;

pub type AppSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// GraphiQL's introspection query nests `ofType` deeply; nothing in the schema itself comes close.
const MAX_DEPTH: usize = 15;
/// Every field counts 1; `alerts` counts `first` times its selection and the lists under an alert
/// `types::LIST_COST` times theirs. The UI's alert list for 100 alerts costs about 2,300.
const MAX_COMPLEXITY: usize = 3000;

pub fn schema(state: Option<AppState>) -> AppSchema {
    let builder = Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY);
    match state {
        Some(state) => builder
            .data(loaders::data_loader(state.ctx.db.clone()))
            .data(state)
            .finish(),
        None => builder.finish(),
    }
}

pub(crate) trait ContextExt {
    fn state(&self) -> Result<&AppState, AppError>;
    /// The caller, refused with PASSWORD_CHANGE_REQUIRED while an admin's reset is pending.
    fn caller(&self) -> Result<&Caller, AppError>;
    /// The caller even while a password change is pending: for changePassword, logout and me.
    fn caller_any(&self) -> Result<&Caller, AppError>;
}

impl ContextExt for Context<'_> {
    fn state(&self) -> Result<&AppState, AppError> {
        self.data::<AppState>()
            .map_err(|e| anyhow::anyhow!("application state missing: {}", e.message).into())
    }

    fn caller(&self) -> Result<&Caller, AppError> {
        let caller = self.caller_any()?;
        if caller.must_change_password {
            return Err(AppError::PasswordChangeRequired);
        }
        Ok(caller)
    }

    fn caller_any(&self) -> Result<&Caller, AppError> {
        self.data_opt::<Caller>().ok_or(AppError::Unauthorized(
            "authentication required: send a bearer token or sign in",
        ))
    }
}
