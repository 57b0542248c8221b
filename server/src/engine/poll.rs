//! The reconciliation poll's task: every second it leases the connections whose poll is due and
//! polls each in a task of its own, so a slow or dead instance delays only its own next poll.
//! What a poll does is `service::reconcile`.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::task::JoinSet;

use super::{Module, Wait};
use crate::error::AppError;
use crate::service::{Ctx, reconcile};

/// Polls in flight per process at most.
const MAX_CONCURRENT: usize = 16;
const LOOK_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct PollSettings {
    /// Between the end of one poll of a connection and the start of the next.
    pub interval: Duration,
    /// How long a connection stays leased to the process polling it. A poll is cut off a little
    /// before, so it never runs on after another process may have taken the connection over.
    pub lease: Duration,
    pub limits: reconcile::PollLimits,
}

impl PollSettings {
    /// A lease long enough for every page of a poll at the request timeout, plus the writes.
    pub fn lease_for(request_timeout: Duration, limits: reconcile::PollLimits) -> Duration {
        Duration::from_secs(60) + request_timeout * (limits.max_pages + 2)
    }
}

pub struct Poll {
    ctx: Ctx,
    settings: PollSettings,
    /// The polls in flight, one task per connection.
    running: Mutex<JoinSet<()>>,
}

impl Poll {
    pub fn new(ctx: Ctx, settings: PollSettings) -> Poll {
        Poll {
            ctx,
            settings,
            running: Mutex::new(JoinSet::new()),
        }
    }

    fn running(&self) -> MutexGuard<'_, JoinSet<()>> {
        // The lock is never held across an await or a poll, so a poisoned one holds a sound set.
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Leases the connections that are due, as many as there is room for, and starts their
    /// polls; does not wait for them.
    async fn start_due(&self) {
        let room = {
            let mut running = self.running();
            while running.try_join_next().is_some() {}
            MAX_CONCURRENT.saturating_sub(running.len())
        };
        if room == 0 {
            return;
        }
        let settings = &self.settings;
        let claimed =
            reconcile::claim_due(&self.ctx, settings.lease, settings.interval, room as u64).await;
        match claimed {
            Ok(leases) => {
                let mut running = self.running();
                for lease in leases {
                    running.spawn(poll_one(self.ctx.clone(), settings.clone(), lease));
                }
            }
            Err(e) => tracing::warn!(error = ?e, "cannot lease ServiceNow connections"),
        }
    }
}

impl Module for Poll {
    fn name(&self) -> &'static str {
        "servicenow reconciliation poll"
    }

    fn wait(&self) -> Wait {
        Wait::Every(LOOK_EVERY)
    }

    fn run_once(&self) -> BoxFuture<'_, Result<Option<Duration>, AppError>> {
        Box::pin(async move {
            self.start_due().await;
            Ok(None)
        })
    }

    fn started(&self) {
        tracing::info!(
            interval_s = self.settings.interval.as_secs(),
            "ServiceNow reconciliation poll started"
        );
    }

    fn stopped(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // A poll cut short keeps its watermark and lease; the lease lapses and another
            // process (or this one after a restart) polls the same window again.
            let mut running = std::mem::take(&mut *self.running());
            running.shutdown().await;
            tracing::info!("ServiceNow reconciliation poll stopped");
        })
    }
}

async fn poll_one(ctx: Ctx, settings: PollSettings, lease: reconcile::Lease) {
    let source = lease.source.id.clone();
    let budget = settings.lease.saturating_sub(Duration::from_secs(30));
    let poll = reconcile::poll(&ctx, lease, settings.interval, settings.limits);
    match tokio::time::timeout(budget, poll).await {
        Ok(Ok(report)) => tracing::debug!(
            source = %source,
            requests = report.requests,
            seen = report.seen,
            applied = report.applied,
            "ServiceNow reconciliation poll done"
        ),
        Ok(Err(e)) => {
            tracing::warn!(source = %source, error = ?e, "ServiceNow reconciliation poll failed")
        }
        Err(_) => {
            tracing::warn!(source = %source, "ServiceNow reconciliation poll ran out of time")
        }
    }
}
