//! The escalation task: every tick it takes the escalation steps that are due. What a step does
//! is `service::escalation::run_due`.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{Module, Wait};
use crate::error::AppError;
use crate::service::Ctx;
use crate::service::escalation;

/// Due alerts claimed per transaction: enough to drain a backlog quickly, few enough that the
/// transaction (and the SQLite writer or PostgreSQL row locks it holds) stays short.
pub const BATCH: u64 = 200;

pub struct Escalation {
    pub ctx: Ctx,
}

impl Module for Escalation {
    fn name(&self) -> &'static str {
        "escalation"
    }

    fn wait(&self) -> Wait {
        Wait::Tick
    }

    fn run_once(&self) -> BoxFuture<'_, Result<Option<Duration>, AppError>> {
        Box::pin(async move { escalate_due(&self.ctx).await.map(|()| None) })
    }
}

/// Takes every step that is due now, a batch per transaction, until a batch comes back short.
async fn escalate_due(ctx: &Ctx) -> Result<(), AppError> {
    loop {
        let claimed = escalation::run_due(ctx, BATCH).await?;
        if (claimed as u64) < BATCH {
            return Ok(());
        }
    }
}
