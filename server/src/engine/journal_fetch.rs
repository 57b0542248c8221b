//! The journal fetch task: reads the ServiceNow journal of the incidents webhook events named
//! (`service::journal::fetch_requested`), woken by the commit that asked (in this process) or at
//! the clock's tick (requests made by other processes). It runs beside the webhook, never on its
//! request, and beside the periodic journal poll, which stays the safety net.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{Module, Wait};
use crate::error::AppError;
use crate::service::{Ctx, journal};

pub struct JournalFetch {
    pub ctx: Ctx,
}

/// Requests settled per round when a round is full: the next one starts at once.
const FULL: usize = 100;

impl Module for JournalFetch {
    fn name(&self) -> &'static str {
        "servicenow journal fetch"
    }

    fn wait(&self) -> Wait {
        Wait::TickOrWake(Arc::clone(&self.ctx.journal_wake))
    }

    fn run_once(&self) -> BoxFuture<'_, Result<Option<Duration>, AppError>> {
        Box::pin(async move {
            let settled = journal::fetch_requested(&self.ctx).await?;
            Ok((settled >= FULL).then_some(Duration::ZERO))
        })
    }
}
