//! The clean-up task: deletes expired sessions and API tokens, and webhook event counts past
//! their keeping time (`service::source_events::prune`), every `GLIDEPATH_TOKEN_CLEANUP_SECONDS`.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{Module, Wait};
use crate::error::AppError;
use crate::service::Ctx;
use crate::service::{auth, source_events};

pub struct Cleanup {
    pub ctx: Ctx,
    pub every: Duration,
}

impl Module for Cleanup {
    fn name(&self) -> &'static str {
        "token clean-up"
    }

    fn wait(&self) -> Wait {
        Wait::Every(self.every)
    }

    fn run_once(&self) -> BoxFuture<'_, Result<Option<Duration>, AppError>> {
        Box::pin(async move {
            let deleted = auth::delete_expired(&self.ctx).await?;
            if deleted > 0 {
                tracing::info!(deleted, "expired sessions and API tokens deleted");
            }
            let pruned = source_events::prune(&self.ctx).await?;
            if pruned > 0 {
                tracing::debug!(pruned, "old webhook event counts deleted");
            }
            Ok(None)
        })
    }
}
