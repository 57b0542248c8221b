//! The reconciliation poll's task: every second it leases the connections whose poll is due and
//! polls each in a task of its own, so a slow or dead instance delays only its own next poll.
//! What a poll does is `service::reconcile`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::db::Db;
use crate::secrets::Cipher;
use crate::service::reconcile;
use crate::servicenow::client::Connector;

/// Polls in flight per process at most.
const MAX_CONCURRENT: usize = 16;
const LOOK_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct PollSettings {
    pub cipher: Arc<Cipher>,
    pub connector: Arc<Connector>,
    /// Between the end of one poll of a connection and the start of the next.
    pub interval: Duration,
    /// How long a connection stays leased to the process polling it. A poll is cut off a little
    /// before, so it never runs on after another process may have taken the connection over.
    pub lease: Duration,
}

impl PollSettings {
    /// A lease long enough for every page of a poll at the request timeout, plus the writes.
    pub fn lease_for(request_timeout: Duration) -> Duration {
        Duration::from_secs(60) + request_timeout * (reconcile::MAX_PAGES + 2)
    }
}

pub async fn run(db: Db, settings: PollSettings, mut stopped: watch::Receiver<bool>) {
    tracing::info!(
        interval_s = settings.interval.as_secs(),
        "ServiceNow reconciliation poll started"
    );
    let mut running = JoinSet::new();
    loop {
        while running.try_join_next().is_some() {}
        let room = MAX_CONCURRENT.saturating_sub(running.len());
        if room > 0 {
            let claimed =
                reconcile::claim_due(&db, settings.lease, settings.interval, room as u64).await;
            match claimed {
                Ok(leases) => {
                    for lease in leases {
                        running.spawn(poll_one(db.clone(), settings.clone(), lease));
                    }
                }
                Err(e) => tracing::warn!(error = ?e, "cannot lease ServiceNow connections"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(LOOK_EVERY) => {}
            _ = stopped.changed() => break,
        }
        if *stopped.borrow() {
            break;
        }
    }
    // A poll cut short keeps its watermark and lease; the lease lapses and another process (or
    // this one after a restart) polls the same window again.
    running.shutdown().await;
    tracing::info!("ServiceNow reconciliation poll stopped");
}

async fn poll_one(db: Db, settings: PollSettings, lease: reconcile::Lease) {
    let source = lease.source.id.clone();
    let budget = settings.lease.saturating_sub(Duration::from_secs(30));
    let poll = reconcile::poll(
        &db,
        &settings.cipher,
        &settings.connector,
        lease,
        settings.interval,
    );
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
