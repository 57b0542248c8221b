//! Background work of the server process. The engine keeps nothing in memory that matters: each
//! tick asks the database what is due, so a restarted process (or a second one on the same
//! PostgreSQL) carries on exactly where the last tick left off.

pub mod delivery;
pub mod poll;
pub mod sync;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock;
use crate::db::Db;
use crate::error::AppError;
use crate::service::{auth, escalation, journal, sync as sync_service};

/// Due alerts claimed per transaction: enough to drain a backlog quickly, few enough that the
/// transaction (and the SQLite writer or PostgreSQL row locks it holds) stays short.
pub const BATCH: u64 = 200;

/// The shortest pause of the sync task between two looks.
const MIN_SYNC_PAUSE: Duration = Duration::from_millis(10);

/// After a database error the engine waits at least this long before trying again.
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

pub struct Engine {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Engine {
    /// Escalation, notification delivery, ServiceNow sync, the journal poll and the
    /// reconciliation poll (when `poll` is set) run as separate tasks, so a slow webhook or
    /// instance never delays an escalation step.
    pub fn spawn(
        db: Db,
        sender: delivery::Sender,
        servicenow: ServiceNowWork,
        poll: Option<poll::PollSettings>,
        token_cleanup: Duration,
    ) -> Engine {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        if let Some(settings) = poll {
            tasks.push(tokio::spawn(poll::run(
                db.clone(),
                settings,
                stopped.clone(),
            )));
        }
        tasks.push(tokio::spawn(every_tick(
            "token clean-up",
            stopped.clone(),
            Wait::Every(token_cleanup),
            {
                let db = db.clone();
                move || {
                    let db = db.clone();
                    async move {
                        let deleted = auth::delete_expired(&db).await?;
                        if deleted > 0 {
                            tracing::info!(deleted, "expired sessions and API tokens deleted");
                        }
                        Ok(None)
                    }
                }
            },
        )));
        let sender = Arc::new(sender);
        let escalate = tokio::spawn(every_tick("escalation", stopped.clone(), Wait::Tick, {
            let db = db.clone();
            move || {
                let db = db.clone();
                async move { escalate_due(&db).await.map(|()| None) }
            }
        }));
        let deliver = tokio::spawn(every_tick("delivery", stopped.clone(), Wait::Tick, {
            let db = db.clone();
            move || {
                let db = db.clone();
                let sender = Arc::clone(&sender);
                async move { deliver_all_due(&db, &sender).await.map(|()| None) }
            }
        }));
        let ServiceNowWork {
            worker,
            journal_interval,
        } = servicenow;
        let cipher = Arc::clone(&worker.cipher);
        let connector = Arc::clone(&worker.connector);
        let worker = Arc::new(worker);
        let sync = tokio::spawn(every_tick(
            "servicenow sync",
            stopped.clone(),
            Wait::TickOrWake,
            move || {
                let worker = Arc::clone(&worker);
                async move { sync_all_due(&worker).await }
            },
        ));
        let interval =
            chrono::TimeDelta::from_std(journal_interval).unwrap_or(chrono::TimeDelta::seconds(60));
        let journal = tokio::spawn(every_tick(
            "servicenow journal",
            stopped,
            Wait::Every(journal_interval),
            move || {
                let db = db.clone();
                let cipher = Arc::clone(&cipher);
                let connector = Arc::clone(&connector);
                async move {
                    journal::poll_all(&db, &cipher, &connector, interval)
                        .await
                        .map(|_| None)
                }
            },
        ));
        tasks.extend([escalate, deliver, sync, journal]);
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

/// What the ServiceNow tasks need besides the database.
pub struct ServiceNowWork {
    pub worker: sync::SyncWorker,
    /// How often the journal poll runs (`GLIDEPATH_SERVICENOW_JOURNAL_POLL_SECONDS`).
    pub journal_interval: Duration,
}

/// How long a task waits between two runs.
#[derive(Clone, Copy)]
enum Wait {
    /// The clock's tick.
    Tick,
    /// The tick, or less when a commit queued ServiceNow updates.
    TickOrWake,
    Every(Duration),
}

async fn every_tick<F, Fut>(
    name: &'static str,
    mut stopped: watch::Receiver<bool>,
    wait: Wait,
    work: F,
) where
    F: Fn() -> Fut,
    // `Some(d)`: the next piece of work is due in `d`, sooner than the usual pause.
    Fut: std::future::Future<Output = Result<Option<Duration>, AppError>>,
{
    tracing::info!("{name} engine started");
    loop {
        let every = match wait {
            Wait::Every(d) => d,
            Wait::Tick | Wait::TickOrWake => clock::get().tick(),
        };
        // A panic in one tick (a bug, never an outside input) is logged and the loop goes on,
        // like after an error: the engine must not die quietly and leave alerts unescalated.
        let outcome = AssertUnwindSafe(work()).catch_unwind().await;
        let pause = match outcome {
            Ok(Ok(next)) => next.map_or(every, |d| d.min(every)),
            Ok(Err(e)) => {
                tracing::warn!(error = ?e, "{name} tick failed; retrying");
                every.max(ERROR_BACKOFF)
            }
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(panic = %what, "{name} tick panicked; retrying");
                every.max(ERROR_BACKOFF)
            }
        };
        let wakeable = matches!(wait, Wait::TickOrWake);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = sync_service::woken(), if wakeable => {}
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

/// Sends every ServiceNow update that is due, a batch at a time; says when the next retry is
/// due, so a short backoff is not stretched to a whole tick.
async fn sync_all_due(worker: &sync::SyncWorker) -> Result<Option<Duration>, AppError> {
    loop {
        let claimed = worker.deliver_due().await?;
        if (claimed as u64) < sync::BATCH {
            break;
        }
    }
    let next = sync_service::next_attempt(&worker.db).await?;
    // Never a busy loop, whatever the clock or the rows say.
    Ok(next.map(|at| {
        (at - clock::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .max(MIN_SYNC_PAUSE)
    }))
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
