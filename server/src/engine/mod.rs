//! Background work of the server process. The engine keeps nothing in memory that matters: each
//! tick asks the database what is due, so a restarted process (or a second one on the same
//! PostgreSQL) carries on exactly where the last tick left off.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock;
use crate::db::Db;
use crate::service::escalation;

/// Due alerts claimed per transaction: enough to drain a backlog quickly, few enough that the
/// transaction (and the SQLite writer or PostgreSQL row locks it holds) stays short.
pub const BATCH: u64 = 200;

/// After a database error the engine waits at least this long before trying again.
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

pub struct Engine {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Engine {
    pub fn spawn(db: Db) -> Engine {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(db, stopped));
        Engine { stop, task }
    }

    /// Asks the engine to stop and waits for the step in progress to finish: a step is one
    /// transaction, so stopping never leaves half of one behind.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "escalation engine task failed");
        }
    }
}

async fn run(db: Db, mut stopped: watch::Receiver<bool>) {
    tracing::info!("escalation engine started");
    loop {
        let pause = match escalate_due(&db).await {
            Ok(()) => clock::get().tick(),
            Err(e) => {
                tracing::warn!(error = ?e, "escalation tick failed; retrying");
                clock::get().tick().max(ERROR_BACKOFF)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stopped.changed() => break,
        }
        if *stopped.borrow() {
            break;
        }
    }
    tracing::info!("escalation engine stopped");
}

/// Takes every step that is due now, a batch per transaction, until a batch comes back short.
async fn escalate_due(db: &Db) -> Result<(), crate::error::AppError> {
    loop {
        let claimed = escalation::run_due(db, BATCH).await?;
        if (claimed as u64) < BATCH {
            return Ok(());
        }
    }
}
