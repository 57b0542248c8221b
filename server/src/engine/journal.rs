//! The ServiceNow journal task: runs the inbound journal poll every
//! `GLIDEPATH_SERVICENOW_JOURNAL_POLL_SECONDS`. What a poll does is `service::journal`.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{Module, Wait};
use crate::error::AppError;
use crate::service::{Ctx, journal};

pub struct Journal {
    ctx: Ctx,
    every: Duration,
    /// `every` as the service counts it.
    interval: chrono::TimeDelta,
}

impl Journal {
    pub fn new(ctx: Ctx, every: Duration) -> Journal {
        let interval = chrono::TimeDelta::from_std(every).unwrap_or(chrono::TimeDelta::seconds(60));
        Journal {
            ctx,
            every,
            interval,
        }
    }
}

impl Module for Journal {
    fn name(&self) -> &'static str {
        "servicenow journal"
    }

    fn wait(&self) -> Wait {
        Wait::Every(self.every)
    }

    fn run_once(&self) -> BoxFuture<'_, Result<Option<Duration>, AppError>> {
        Box::pin(async move {
            journal::poll_all(&self.ctx, self.interval)
                .await
                .map(|_| None)
        })
    }
}
