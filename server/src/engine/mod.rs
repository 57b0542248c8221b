//! Background work of the server process. The engine keeps nothing in memory that matters: each
//! tick asks the database what is due, so a restarted process (or a second one on the same
//! PostgreSQL) carries on exactly where the last tick left off.

pub mod delivery;
pub mod poll;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock;
use crate::db::Db;
use crate::error::AppError;
use crate::service::escalation;

/// Due alerts claimed per transaction: enough to drain a backlog quickly, few enough that the
/// transaction (and the SQLite writer or PostgreSQL row locks it holds) stays short.
pub const BATCH: u64 = 200;

/// After a database error the engine waits at least this long before trying again.
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

pub struct Engine {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Engine {
    /// Escalation, delivery and the ServiceNow reconciliation poll (when `poll` is set) run as
    /// separate tasks, so a slow webhook or instance never delays a step.
    pub fn spawn(db: Db, sender: delivery::Sender, poll: Option<poll::PollSettings>) -> Engine {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        if let Some(settings) = poll {
            tasks.push(tokio::spawn(poll::run(
                db.clone(),
                settings,
                stopped.clone(),
            )));
        }
        let sender = Arc::new(sender);
        let escalate = tokio::spawn(every_tick("escalation", stopped.clone(), {
            let db = db.clone();
            move || {
                let db = db.clone();
                async move { escalate_due(&db).await }
            }
        }));
        let deliver = tokio::spawn(every_tick("delivery", stopped, move || {
            let db = db.clone();
            let sender = Arc::clone(&sender);
            async move { deliver_all_due(&db, &sender).await }
        }));
        tasks.extend([escalate, deliver]);
        Engine { stop, tasks }
    }

    /// Asks the engine to stop and waits for the step in progress to finish: a step is one
    /// transaction, so stopping never leaves half of one behind.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "engine task failed");
            }
        }
    }
}

async fn every_tick<F, Fut>(name: &'static str, mut stopped: watch::Receiver<bool>, work: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), AppError>>,
{
    tracing::info!("{name} engine started");
    loop {
        // A panic in one tick (a bug, never an outside input) is logged and the loop goes on,
        // like after an error: the engine must not die quietly and leave alerts unescalated.
        let outcome = AssertUnwindSafe(work()).catch_unwind().await;
        let pause = match outcome {
            Ok(Ok(())) => clock::get().tick(),
            Ok(Err(e)) => {
                tracing::warn!(error = ?e, "{name} tick failed; retrying");
                clock::get().tick().max(ERROR_BACKOFF)
            }
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(panic = %what, "{name} tick panicked; retrying");
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
    tracing::info!("{name} engine stopped");
}

/// Takes every step that is due now, a batch per transaction, until a batch comes back short.
async fn escalate_due(db: &Db) -> Result<(), AppError> {
    loop {
        let claimed = escalation::run_due(db, BATCH).await?;
        if (claimed as u64) < BATCH {
            return Ok(());
        }
    }
}

/// Sends every delivery that is due, a batch at a time.
async fn deliver_all_due(db: &Db, sender: &delivery::Sender) -> Result<(), AppError> {
    loop {
        let claimed = delivery::deliver_due(db, sender).await?;
        if (claimed as u64) < delivery::BATCH {
            return Ok(());
        }
    }
}
