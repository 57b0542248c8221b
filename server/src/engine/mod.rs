//! Background work of the server process. The engine keeps nothing in memory that matters: each
//! tick asks the database what is due, so a restarted process (or a second one on the same
//! PostgreSQL) carries on exactly where the last tick left off.
//!
//! Each worker is a [`Module`] in a file of its own; this file only runs them: wait, one cycle
//! under a panic guard, back off after an error, stop between two cycles.

pub mod chat;
pub mod cleanup;
pub mod delivery;
pub mod email;
pub mod escalation;
pub mod journal;
pub mod journal_fetch;
pub mod poll;
pub mod sync;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use tokio::sync::Notify;

use crate::clock::Clock;
use crate::error::AppError;
use crate::service::Ctx;

/// After a database error the engine waits at least this long before trying again.
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

/// One background worker. A cycle that finds nothing to do is a normal outcome (`Ok(None)`).
pub trait Module: Send + Sync + 'static {
    /// Names the worker in the runner's log lines.
    fn name(&self) -> &'static str;

    fn wait(&self) -> Wait;

    /// One cycle. `Some(d)`: the next piece of work is due in `d`, sooner than the usual pause.
    fn run_once(&self) -> BoxFuture<'_, Result<Option<Duration>, AppError>>;

    fn started(&self) {
        tracing::info!("{} engine started", self.name());
    }

    /// Runs once the stop signal came, after the last cycle.
    fn stopped(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move { tracing::info!("{} engine stopped", self.name()) })
    }
}

/// How long a module waits between two runs.
#[derive(Clone)]
pub enum Wait {
    /// The clock's tick.
    Tick,
    /// The tick, or less when the given signal fires first.
    TickOrWake(Arc<Notify>),
    Every(Duration),
}

pub struct Engine {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Engine {
    /// Escalation, notification delivery, ServiceNow sync, the journal poll and the
    /// reconciliation poll (when `poll` is set) run as separate tasks, so a slow webhook or
    /// instance never delays an escalation step.
    pub fn spawn(
        ctx: Ctx,
        sender: delivery::Sender,
        servicenow: ServiceNowWork,
        poll: Option<poll::PollSettings>,
        token_cleanup: Duration,
    ) -> Engine {
        let ServiceNowWork {
            worker,
            journal_interval,
        } = servicenow;
        let journal = journal::Journal::new(ctx.clone(), journal_interval);
        let mut modules: Vec<Box<dyn Module>> = Vec::new();
        if let Some(settings) = poll {
            modules.push(Box::new(poll::Poll::new(ctx.clone(), settings)));
        }
        modules.push(Box::new(cleanup::Cleanup {
            ctx: ctx.clone(),
            every: token_cleanup,
        }));
        modules.push(Box::new(escalation::Escalation { ctx: ctx.clone() }));
        modules.push(Box::new(delivery::Delivery {
            ctx: ctx.clone(),
            sender,
        }));
        modules.push(Box::new(worker));
        modules.push(Box::new(journal));
        modules.push(Box::new(journal_fetch::JournalFetch { ctx: ctx.clone() }));

        let (stop, stopped) = watch::channel(false);
        let tasks = modules
            .into_iter()
            .map(|module| tokio::spawn(run(module, Arc::clone(&ctx.clock), stopped.clone())))
            .collect();
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

async fn run(module: Box<dyn Module>, clock: Arc<dyn Clock>, mut stopped: watch::Receiver<bool>) {
    let name = module.name();
    let wait = module.wait();
    module.started();
    loop {
        let every = match &wait {
            Wait::Every(d) => *d,
            Wait::Tick | Wait::TickOrWake(_) => clock.tick(),
        };
        // A panic in one tick (a bug, never an outside input) is logged and the loop goes on,
        // like after an error: the engine must not die quietly and leave alerts unescalated.
        let outcome = AssertUnwindSafe(module.run_once()).catch_unwind().await;
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
        let woken: BoxFuture<'_, ()> = match &wait {
            Wait::TickOrWake(signal) => Box::pin(signal.notified()),
            Wait::Tick | Wait::Every(_) => Box::pin(std::future::pending()),
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = woken => {}
            _ = stopped.changed() => break,
        }
        if *stopped.borrow() {
            break;
        }
    }
    module.stopped().await;
}
