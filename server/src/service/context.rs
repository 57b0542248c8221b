//! [`Ctx`]: the handles one server's service layer works with. `startup` builds one per server
//! and hands it to the web layer (inside `AppState`) and to the engine; nothing in the service
//! layer is a process global, so two servers in one process (an in-process test) share nothing
//! they did not mean to.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::passwords::HashQueue;
use crate::clock::Clock;
use crate::db::Db;
use crate::net_guard::Guard;
use crate::secrets::Cipher;
use crate::servicenow::client::{Connector, Policy};

#[derive(Clone)]
pub struct Ctx {
    pub db: Db,
    /// Seals and opens every secret kept in the database.
    pub cipher: Arc<Cipher>,
    /// Every request to a ServiceNow instance goes through it; it keeps the `sys_user` cache.
    pub servicenow: Arc<Connector>,
    /// Every time written or compared: the wall clock (scaled by `GLIDEPATH_TIME_SCALE`), or a
    /// fake one in tests.
    pub clock: Arc<dyn Clock>,
    /// Wakes the ServiceNow sync worker after a commit that queued an update.
    pub sync_wake: Arc<Notify>,
    /// Wakes the journal fetch worker after a commit that asked for an incident's journal.
    pub journal_wake: Arc<Notify>,
    /// How notifications can go out.
    pub delivery: Arc<Delivery>,
    /// Password hashing, bounded (`GLIDEPATH_PASSWORD_HASH_WORKERS` / `_QUEUE`).
    pub passwords: Arc<HashQueue>,
}

/// What the configuration says about sending notifications.
pub struct Delivery {
    /// Whether e-mail can be sent at all. Without SMTP an e-mail delivery is recorded as not sent
    /// in the transaction that causes it, so the alert log says so at once and no worker retries
    /// what cannot succeed.
    pub smtp_configured: bool,
    /// Webhook rule targets are checked against it when a rule is added (and every delivery
    /// again, with the addresses its host resolves to).
    pub webhook_guard: Guard,
}

impl Ctx {
    /// A context with what a server has when nothing is configured: no SMTP, ServiceNow and
    /// webhooks on public https hosts only, password hashing on every core. For the command-line
    /// tools and in-process tests; `serve` builds its own from its configuration.
    pub fn with_defaults(db: Db, cipher: Arc<Cipher>, clock: Arc<dyn Clock>) -> Ctx {
        let policy = Policy::default();
        let webhook_guard = Guard {
            allowed_hosts: Vec::new(),
            allow_insecure: false,
            timeout: policy.timeout,
        };
        Ctx {
            db,
            cipher,
            servicenow: Arc::new(Connector::new(policy)),
            clock,
            sync_wake: Arc::new(Notify::new()),
            journal_wake: Arc::new(Notify::new()),
            delivery: Arc::new(Delivery {
                smtp_configured: false,
                webhook_guard,
            }),
            passwords: Arc::new(HashQueue::new(0, 32)),
        }
    }

    /// The clock's time, at microsecond precision, which both SQLite text and PostgreSQL
    /// timestamptz keep exactly.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Wakes the sync worker: an update was queued and committed.
    pub fn wake_sync(&self) {
        self.sync_wake.notify_one();
    }

    /// Wakes the journal fetch worker: a webhook event asked for an incident's journal.
    pub fn wake_journal(&self) {
        self.journal_wake.notify_one();
    }
}
