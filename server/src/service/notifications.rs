//! Notification rules, and the outbox: deliveries are written in the transaction of the alert
//! change that causes them, claimed by one process at a time, sent with no transaction open, and
//! marked sent, retried with backoff, or failed. Each outcome is an alert log entry.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, Set,
    sea_query::{Expr, Query},
};
use serde_json::json;

use super::rows::Rows;
use super::{Actor, Caller, new_id, outbox};
use crate::db::Db;
use crate::domain::Email;
use crate::domain::LogKind;
use crate::entity::notification::DeliveryState;
use crate::entity::{
    alert, alert_responder, notification, notification_rule, notification_throttle, user,
};
use crate::error::AppError;
use crate::net_guard::Guard;
use crate::secrets::Cipher;
use crate::service::Ctx;

pub const EMAIL: &str = "EMAIL";
pub const WEBHOOK: &str = "WEBHOOK";
/// A Slack incoming webhook: the message is Block Kit (`engine::chat`).
pub const SLACK: &str = "SLACK";
/// A Microsoft Teams workflow webhook ("Post to a channel when a webhook request is received"):
/// the message is an Adaptive Card (`engine::chat`).
pub const TEAMS: &str = "TEAMS";
/// The kinds whose target is a URL: sealed at rest, reached through the outbound guard, shown
/// in full to the rule's owner only.
pub const URL_KINDS: [&str; 3] = [WEBHOOK, SLACK, TEAMS];

/// Whether a rule or delivery of `kind` posts to a URL (a secret) rather than mails an address.
pub fn is_url_kind(kind: &str) -> bool {
    URL_KINDS.contains(&kind)
}

pub const NO_SMTP: &str = "no SMTP configured";

/// Attempts before a delivery is given up and marked failed.
pub const MAX_ATTEMPTS: i32 = 5;
/// How long a claimed delivery stays with the process that claimed it. Longer than any send
/// (SMTP and webhook calls time out sooner), so only a crashed process's claim ever lapses.
const CLAIM_SECONDS: i64 = 120;

// -- rules ------------------------------------------------------------------------------------

pub struct NewRule {
    pub kind: String,
    pub target: String,
    pub on_status_change: bool,
    pub delay_minutes: i32,
}

/// The longest delay a rule may ask for.
pub const MAX_DELAY_MINUTES: i32 = 24 * 60;

/// What a webhook rule's sealed target is bound to: the rule's id, so a target copied to another
/// row does not decrypt there.
pub fn target_context(rule_id: &str) -> String {
    format!("notification_rule.target:{rule_id}")
}

/// What a webhook rule's sealed signing secret is bound to.
pub fn secret_context(rule_id: &str) -> String {
    format!("notification_rule.signing_secret:{rule_id}")
}

/// What a delivery's sealed target is bound to: its rule (whose sealed target it copies), or
/// the delivery itself for a clear target an older version wrote before it had a rule id.
pub fn delivery_context(n: &notification::Model) -> String {
    match &n.rule_id {
        Some(rule_id) => target_context(rule_id),
        None => format!("notification.target:{}", n.id),
    }
}

/// A webhook target still in clear (written by an older version). Sealed targets start with
/// the cipher's version prefix, never with a URL scheme.
pub fn is_plain_webhook(target: &str) -> bool {
    target.starts_with("http://") || target.starts_with("https://")
}

/// What may be shown of a target: a webhook's host only (its path and query often hold a
/// token), an e-mail address as it is.
pub fn label_for(kind: &str, target: &str) -> String {
    if is_url_kind(kind) {
        if is_plain_webhook(target) {
            crate::net_guard::label(target)
        } else {
            format!("({})", channel_name(kind))
        }
    } else {
        target.to_string()
    }
}

/// The label of a rule, as stored (or worked out for a row not yet filled in).
pub fn rule_label(rule: &notification_rule::Model) -> String {
    rule.target_label
        .clone()
        .unwrap_or_else(|| label_for(&rule.kind, &rule.target))
}

/// The target as `caller` may read it: the owner of a webhook rule gets the URL, decrypted;
/// anyone else (an admin) only its label. E-mail addresses are not secret.
pub fn shown_target(
    cipher: &Cipher,
    caller: &Caller,
    rule: &notification_rule::Model,
) -> Result<String, AppError> {
    if !is_url_kind(&rule.kind) {
        return Ok(rule.target.clone());
    }
    if caller.user_id != rule.user_id {
        return Ok(rule_label(rule));
    }
    if is_plain_webhook(&rule.target) {
        return Ok(rule.target.clone());
    }
    match cipher.decrypt(&rule.target, &target_context(&rule.id)) {
        Ok(plain) => Ok(secrecy::ExposeSecret::expose_secret(&plain).to_string()),
        Err(e) => {
            // The key is not the one the target was sealed with: the rule stays listed, by host.
            tracing::warn!(rule = %rule.id, "a webhook target does not decrypt: {e}");
            Ok(rule_label(rule))
        }
    }
}

fn check_target(guard: &Guard, kind: &str, target: &str) -> Result<String, AppError> {
    let target = target.trim();
    match kind {
        EMAIL => Email::parse(target)
            .map(|e| e.as_str().to_string())
            .map_err(|r| AppError::validation("target", r)),
        WEBHOOK | SLACK | TEAMS => {
            let url = url::Url::parse(target)
                .map_err(|_| AppError::validation("target", "is not a URL"))?;
            if !matches!(url.scheme(), "http" | "https") || target.len() > 2000 {
                return Err(AppError::validation(
                    "target",
                    "must be an https URL of at most 2000 characters",
                ));
            }
            guard
                .check_url(url.as_str())
                .map_err(|why| AppError::validation("target", why))?;
            Ok(url.to_string())
        }
        _ => Err(AppError::validation(
            "kind",
            "must be EMAIL, WEBHOOK, SLACK or TEAMS",
        )),
    }
}

/// The rule every new user starts with: e-mail to their own address.
pub async fn insert_default_rule<C: ConnectionTrait>(
    conn: &C,
    user: &user::Model,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    notification_rule::ActiveModel {
        id: Set(new_id()),
        user_id: Set(user.id.clone()),
        kind: Set(EMAIL.into()),
        target: Set(user.email.clone()),
        target_label: Set(Some(user.email.clone())),
        on_status_change: Set(false),
        created_at: Set(at),
        signing_secret: Set(None),
        delay_minutes: Set(0),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Users manage their own rules; admins anyone's.
fn may_manage(caller: &Caller, user_id: &str) -> Result<(), AppError> {
    if caller.user_id == user_id || caller.role == crate::domain::Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "only an admin manages another user's rules",
        ))
    }
}

pub async fn rules(
    db: &Db,
    caller: &Caller,
    user_id: &str,
) -> Result<Vec<notification_rule::Model>, AppError> {
    may_manage(caller, user_id)?;
    Ok(notification_rule::Entity::find()
        .filter(notification_rule::Column::UserId.eq(user_id))
        .order_by_asc(notification_rule::Column::CreatedAt)
        .order_by_asc(notification_rule::Column::Id)
        .all(&db.read)
        .await?)
}

/// Adds a rule. A WEBHOOK rule gets a signing secret (`whsec_…`, 256 random bits), returned here
/// in clear, once; it is stored sealed.
pub async fn add_rule(
    ctx: &Ctx,
    caller: &Caller,
    user_id: &str,
    input: NewRule,
) -> Result<(notification_rule::Model, Option<String>), AppError> {
    let db = &ctx.db;
    let cipher = &*ctx.cipher;
    may_manage(caller, user_id)?;
    let target = check_target(&ctx.delivery.webhook_guard, &input.kind, &input.target)?;
    if !(0..=MAX_DELAY_MINUTES).contains(&input.delay_minutes) {
        return Err(AppError::validation(
            "delayMinutes",
            format!("must be 0 to {MAX_DELAY_MINUTES}"),
        ));
    }
    if user::Entity::find_by_id(user_id.to_string())
        .one(&db.read)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound("user"));
    }
    let id = new_id();
    let label = label_for(&input.kind, &target);
    let (stored, secret) = if input.kind == WEBHOOK {
        let secret = format!("whsec_{}", super::random_token());
        let sealed = cipher.encrypt(&secret, &secret_context(&id))?;
        (
            cipher.encrypt(&target, &target_context(&id))?,
            Some((secret, sealed)),
        )
    } else if is_url_kind(&input.kind) {
        // Slack and Teams do not check signatures: the URL itself is the secret.
        (cipher.encrypt(&target, &target_context(&id))?, None)
    } else {
        (target, None)
    };
    let rule = notification_rule::ActiveModel {
        id: Set(id),
        user_id: Set(user_id.to_string()),
        kind: Set(input.kind),
        target: Set(stored),
        target_label: Set(Some(label)),
        on_status_change: Set(input.on_status_change),
        created_at: Set(ctx.now()),
        signing_secret: Set(secret.as_ref().map(|(_, sealed)| sealed.clone())),
        delay_minutes: Set(input.delay_minutes),
    }
    .insert(&db.write)
    .await?;
    Ok((rule, secret.map(|(plain, _)| plain)))
}

pub async fn remove_rule(db: &Db, caller: &Caller, rule_id: &str) -> Result<(), AppError> {
    let Some(rule) = notification_rule::Entity::find_by_id(rule_id.to_string())
        .one(&db.read)
        .await?
    else {
        return Err(AppError::NotFound("notification rule"));
    };
    may_manage(caller, &rule.user_id)?;
    notification_rule::Entity::delete_by_id(rule.id)
        .exec(&db.write)
        .await?;
    Ok(())
}

/// Seals the webhook targets an older version stored in clear, on rules and on deliveries, and
/// fills in the labels it did not store. Run at every start, after the migrations: it does
/// nothing once done, and processes starting together do not clash (each row changes only
/// while it still holds the clear value read).
pub async fn seal_plain_targets(ctx: &Ctx) -> Result<usize, AppError> {
    let db = &ctx.db;
    let cipher = &*ctx.cipher;
    let plain = || {
        Condition::any()
            .add(notification_rule::Column::Target.starts_with("http://"))
            .add(notification_rule::Column::Target.starts_with("https://"))
    };
    let mut sealed = 0;
    let rules = notification_rule::Entity::find()
        .filter(notification_rule::Column::Kind.is_in(URL_KINDS))
        .filter(plain())
        .all(&db.write)
        .await?;
    let deliveries = notification::Entity::find()
        .filter(notification::Column::Kind.is_in(URL_KINDS))
        .filter(
            Condition::any()
                .add(notification::Column::Target.starts_with("http://"))
                .add(notification::Column::Target.starts_with("https://")),
        )
        .all(&db.write)
        .await?;
    // SQLite keeps a replaced value's bytes in the page's free space and in the WAL: have it
    // zero what it frees, and fold the WAL into the file, so no copy of the clear URL remains.
    let scrub =
        db.backend() == sea_orm::DbBackend::Sqlite && !(rules.is_empty() && deliveries.is_empty());
    if scrub {
        db.write
            .execute_unprepared("PRAGMA secure_delete = ON")
            .await?;
    }
    for rule in rules {
        let stored = cipher.encrypt(&rule.target, &target_context(&rule.id))?;
        let done = notification_rule::Entity::update_many()
            .col_expr(notification_rule::Column::Target, Expr::value(stored))
            .col_expr(
                notification_rule::Column::TargetLabel,
                Expr::value(crate::net_guard::label(&rule.target)),
            )
            .filter(notification_rule::Column::Id.eq(rule.id.as_str()))
            .filter(notification_rule::Column::Target.eq(rule.target.as_str()))
            .exec(&db.write)
            .await?;
        sealed += done.rows_affected as usize;
    }
    notification_rule::Entity::update_many()
        .col_expr(
            notification_rule::Column::TargetLabel,
            Expr::col(notification_rule::Column::Target),
        )
        .filter(notification_rule::Column::Kind.is_not_in(URL_KINDS))
        .filter(notification_rule::Column::TargetLabel.is_null())
        .exec(&db.write)
        .await?;

    for n in deliveries {
        // Bound to the delivery itself: an older version's row has no rule id.
        let mut bound = n.clone();
        bound.rule_id = None;
        let stored = cipher.encrypt(&n.target, &delivery_context(&bound))?;
        let done = notification::Entity::update_many()
            .col_expr(notification::Column::Target, Expr::value(stored))
            .col_expr(
                notification::Column::RuleId,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                notification::Column::TargetLabel,
                Expr::value(crate::net_guard::label(&n.target)),
            )
            .filter(notification::Column::Id.eq(n.id.as_str()))
            .filter(notification::Column::Target.eq(n.target.as_str()))
            .exec(&db.write)
            .await?;
        sealed += done.rows_affected as usize;
    }
    notification::Entity::update_many()
        .col_expr(
            notification::Column::TargetLabel,
            Expr::col(notification::Column::Target),
        )
        .filter(notification::Column::Kind.is_not_in(URL_KINDS))
        .filter(notification::Column::TargetLabel.is_null())
        .exec(&db.write)
        .await?;
    if scrub {
        db.write
            .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await?;
        db.write
            .execute_unprepared("PRAGMA secure_delete = OFF")
            .await?;
    }
    Ok(sealed)
}

// -- enqueue ----------------------------------------------------------------------------------

/// What happened to the alert, as a notification says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Escalated,
    Accepted,
    Resolved,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Escalated => "ESCALATED",
            Event::Accepted => "ACCEPTED",
            Event::Resolved => "RESOLVED",
        }
    }
}

/// One delivery per rule, added to `rows`. Without SMTP an e-mail delivery is recorded as not
/// sent at once, with a log entry saying so. The payload keeps what the notice needs from the
/// moment of the event (the level reached, who acted); the rest is read when it is sent
/// (`service::notice`).
fn enqueue(
    alert: &alert::Model,
    rules: &[notification_rule::Model],
    event: Event,
    level: i32,
    actor: &Actor,
    rows: &mut Rows,
) {
    let at = rows.clock().now();
    let headline = super::notice::headline(event, level, &actor.label());
    let subject = super::notice::subject(alert, &headline);
    let message = format!("Alert {headline}");
    for rule in rules {
        // A rule's delay holds back escalation notifications only; a status change is news now.
        let delay = if event == Event::Escalated {
            rule.delay_minutes.max(0)
        } else {
            0
        };
        let due = at + rows.clock().minutes(delay);
        let payload = json!({
            "event": event.as_str(),
            "delayMinutes": delay,
            "message": message,
            "level": level,
            "actor": { "kind": actor.kind(), "label": actor.label() },
            "alert": {
                "id": alert.id,
                "summary": alert.summary,
                "details": alert.details,
                "priority": alert.priority.to_value(),
                "ticketNumber": alert.ticket_number,
                "ticketUrl": alert.ticket_url,
            },
        });
        let unsendable = rule.kind == EMAIL && !rows.email_configured();
        rows.notification(notification::ActiveModel {
            id: Set(new_id()),
            alert_id: Set(alert.id.clone()),
            user_id: Set(Some(rule.user_id.clone())),
            kind: Set(rule.kind.clone()),
            // A webhook's target stays sealed, bound to its rule.
            target: Set(rule.target.clone()),
            rule_id: Set(Some(rule.id.clone())),
            target_label: Set(Some(rule_label(rule))),
            event: Set(event.as_str().into()),
            subject: Set(subject.clone()),
            payload: Set(payload.to_string()),
            status: Set(if unsendable {
                DeliveryState::Failed
            } else {
                DeliveryState::Pending
            }),
            attempts: Set(0),
            next_attempt_at: Set((!unsendable).then_some(due)),
            last_error: Set(unsendable.then(|| NO_SMTP.to_string())),
            created_at: Set(at),
            sent_at: Set(None),
            digest_id: Set(None),
        });
        if unsendable {
            let msg = format!(
                "Notification to {} by e-mail ({}) not sent: {NO_SMTP}",
                rule.target,
                event.as_str()
            );
            // Start-up already warns that e-mail is not configured, and the alert's log says so
            // for each notification: a warning per alert would only flood the server's log.
            tracing::debug!(alert = %alert.id, to = %rule.target, "e-mail notification not sent: {NO_SMTP}");
            rows.log(&alert.id, LogKind::NotificationFailed, msg, &Actor::System);
        }
    }
}

/// An escalation step: the level's users, on every channel they have (`rules`, read with the
/// users by `escalation::prepare`).
pub fn escalated(
    alert: &alert::Model,
    rules: &[notification_rule::Model],
    level: i32,
    rows: &mut Rows,
) {
    enqueue(alert, rules, Event::Escalated, level, &Actor::System, rows);
}

/// Accept or resolve: the alert's responders who asked for it, but not the one who did it.
pub async fn status_changed<C: ConnectionTrait>(
    conn: &C,
    alert: &alert::Model,
    event: Event,
    actor: &Actor,
    rows: &mut Rows,
) -> Result<(), AppError> {
    // The responders' rules in one statement: it runs inside the writing transaction.
    let responders = Query::select()
        .column(alert_responder::Column::UserId)
        .from(alert_responder::Entity)
        .and_where(alert_responder::Column::AlertId.eq(alert.id.as_str()))
        .to_owned();
    let mut query = notification_rule::Entity::find()
        .filter(notification_rule::Column::UserId.in_subquery(responders))
        .filter(notification_rule::Column::OnStatusChange.eq(true));
    if let Some(actor_id) = actor.user_id() {
        query = query.filter(notification_rule::Column::UserId.ne(actor_id));
    }
    let rules = query
        .order_by_asc(notification_rule::Column::Id)
        .all(conn)
        .await?;
    enqueue(alert, &rules, event, alert.escalation_level, actor, rows);
    Ok(())
}

/// Why delivery `n`, held back by its rule's delay, is moot now: its alert was accepted or
/// resolved (or is gone) before the delay passed. `None`: send it.
pub async fn moot(ctx: &Ctx, n: &notification::Model) -> Result<Option<String>, AppError> {
    let payload: serde_json::Value = serde_json::from_str(&n.payload).unwrap_or_default();
    let delay = payload["delayMinutes"].as_i64().unwrap_or(0);
    if delay <= 0 || n.event != Event::Escalated.as_str() {
        return Ok(None);
    }
    let alert = alert::Entity::find_by_id(n.alert_id.clone())
        .one(&ctx.db.read)
        .await?;
    Ok(match alert.map(|a| a.status) {
        Some(crate::domain::AlertStatus::Pending) => None,
        Some(status) => Some(format!(
            "the alert was {} before the {delay}-minute delay passed",
            status.to_value().to_lowercase()
        )),
        None => Some("the alert no longer exists".into()),
    })
}

/// The signing secret of delivery `n`'s rule, opened: `None` for a rule older than signing (or
/// deleted since), whose deliveries go unsigned.
pub async fn signing_secret(
    ctx: &Ctx,
    n: &notification::Model,
) -> Result<Option<secrecy::SecretString>, AppError> {
    let Some(rule_id) = &n.rule_id else {
        return Ok(None);
    };
    let rule = notification_rule::Entity::find_by_id(rule_id.clone())
        .one(&ctx.db.read)
        .await?;
    match rule.and_then(|r| r.signing_secret) {
        Some(sealed) => Ok(Some(ctx.cipher.decrypt(&sealed, &secret_context(rule_id))?)),
        None => Ok(None),
    }
}

// -- throttling -------------------------------------------------------------------------------

/// The event of a digest delivery: what one contact was not sent on its own during a minute.
pub const DIGEST: &str = "DIGEST";

/// What the throttle says about a claimed delivery, just before it would be sent.
pub enum Gate {
    /// Send it.
    Send,
    /// A digest: send it, listing these folded deliveries (oldest first).
    Digest(Vec<notification::Model>),
    /// Its contact was notified about the alert less than a minute ago: it went into the
    /// minute's digest, nothing is sent now.
    Folded,
}

/// At most one notification per contact (rule) per alert per minute (scaled by
/// `GLIDEPATH_TIME_SCALE`): decided in one writing transaction on the contact's
/// `notification_throttles` row (locked on PostgreSQL, so several processes agree; SQLite's one
/// writer serialises it). The first notification is sent and opens the minute; the next ones
/// within it are marked FOLDED into one digest delivery, due when the minute ends. Sending the
/// digest opens the next minute and writes the log entry that says how many it folded.
pub async fn gate(ctx: &Ctx, n: &notification::Model) -> Result<Gate, AppError> {
    use sea_orm::TransactionTrait;
    let Some(rule_id) = n.rule_id.clone() else {
        return Ok(Gate::Send);
    };
    let now = ctx.now();
    let minute = ctx.clock.minutes(1);
    let backend = ctx.db.backend();
    let txn = ctx.db.write.begin().await?;
    notification_throttle::Entity::insert(notification_throttle::ActiveModel {
        alert_id: Set(n.alert_id.clone()),
        rule_id: Set(rule_id.clone()),
        window_until: Set(DateTime::<Utc>::UNIX_EPOCH),
        digest_id: Set(None),
    })
    .on_conflict_do_nothing_on([
        notification_throttle::Column::AlertId,
        notification_throttle::Column::RuleId,
    ])
    .exec_without_returning(&txn)
    .await?;
    let key = (n.alert_id.clone(), rule_id.clone());
    let Some(throttle) = crate::db::for_update(
        notification_throttle::Entity::find_by_id(key.clone()),
        backend,
    )
    .one(&txn)
    .await?
    else {
        return Ok(Gate::Send);
    };
    let open_minute = |digest: Option<String>| {
        notification_throttle::Entity::update_many()
            .col_expr(
                notification_throttle::Column::WindowUntil,
                Expr::value(now + minute),
            )
            .col_expr(notification_throttle::Column::DigestId, Expr::value(digest))
            .filter(notification_throttle::Column::AlertId.eq(key.0.as_str()))
            .filter(notification_throttle::Column::RuleId.eq(key.1.as_str()))
    };
    if n.event == DIGEST {
        let folded = notification::Entity::find()
            .filter(notification::Column::DigestId.eq(n.id.as_str()))
            .order_by_asc(notification::Column::CreatedAt)
            .order_by_asc(notification::Column::Id)
            .all(&txn)
            .await?;
        open_minute(None).exec(&txn).await?;
        super::log::append(
            &txn,
            now,
            &n.alert_id,
            LogKind::Notified,
            digest_log(n, folded.len()),
            &Actor::System,
        )
        .await?;
        txn.commit().await?;
        return Ok(Gate::Digest(folded));
    }
    let digest_id = match throttle.digest_id {
        Some(digest_id) => digest_id,
        None if throttle.window_until <= now => {
            open_minute(None).exec(&txn).await?;
            txn.commit().await?;
            return Ok(Gate::Send);
        }
        None => {
            // The minute's first folded notification: the digest, due when the minute ends.
            let digest_id = new_id();
            let mut digest: notification::ActiveModel = n.clone().into();
            digest.id = Set(digest_id.clone());
            digest.event = Set(DIGEST.into());
            digest.status = Set(DeliveryState::Pending);
            digest.attempts = Set(0);
            digest.next_attempt_at = Set(Some(throttle.window_until));
            digest.last_error = Set(None);
            digest.created_at = Set(now);
            digest.sent_at = Set(None);
            digest.digest_id = Set(None);
            notification::Entity::insert(digest)
                .exec_without_returning(&txn)
                .await?;
            notification_throttle::Entity::update_many()
                .col_expr(
                    notification_throttle::Column::DigestId,
                    Expr::value(Some(digest_id.clone())),
                )
                .filter(notification_throttle::Column::AlertId.eq(key.0.as_str()))
                .filter(notification_throttle::Column::RuleId.eq(key.1.as_str()))
                .exec(&txn)
                .await?;
            digest_id
        }
    };
    let folded = notification::Entity::update_many()
        .col_expr(
            notification::Column::Status,
            Expr::value(DeliveryState::Folded),
        )
        .col_expr(notification::Column::DigestId, Expr::value(Some(digest_id)))
        .col_expr(notification::Column::NextAttemptAt, outbox::no_time())
        .filter(notification::Column::Id.eq(n.id.as_str()))
        .filter(notification::Column::Status.eq(DeliveryState::Pending))
        .filter(notification::Column::Attempts.eq(n.attempts))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    // A claim taken over meanwhile: the process that has it decides.
    Ok(if folded.rows_affected == 1 {
        Gate::Folded
    } else {
        Gate::Send
    })
}

/// The log line of a digest about to be sent: how many notifications it folded, for whom.
pub fn digest_log(n: &notification::Model, folded: usize) -> String {
    let shown = n
        .target_label
        .clone()
        .unwrap_or_else(|| label_for(&n.kind, &n.target));
    format!(
        "{folded} notification{} to {shown} by {} folded into a digest (at most one per contact and alert per minute)",
        if folded == 1 { "" } else { "s" },
        channel(n)
    )
}

// -- delivery ---------------------------------------------------------------------------------

const COLUMNS: outbox::Columns<notification::Entity> = outbox::Columns {
    id: notification::Column::Id,
    status: notification::Column::Status,
    attempts: notification::Column::Attempts,
    next_attempt_at: notification::Column::NextAttemptAt,
};

/// Claims up to `limit` deliveries whose attempt is due, in a short transaction, and returns
/// them as claimed (attempt counted, claim deadline set). Another process sees them only if this
/// one dies before finishing them.
pub async fn claim_due(ctx: &Ctx, limit: u64) -> Result<Vec<notification::Model>, AppError> {
    let until = ctx.now() + chrono::TimeDelta::seconds(CLAIM_SECONDS);
    outbox::claim_due(ctx, &COLUMNS, Condition::all(), limit, until).await
}

pub enum Outcome {
    Sent,
    /// Folded into a digest by [`gate`], which recorded it: nothing to settle.
    Folded,
    /// Nothing can send it (no SMTP configured): no point retrying.
    NotSent(String),
    Failed(String),
}

/// How the alert log names a channel.
pub fn channel_name(kind: &str) -> &'static str {
    match kind {
        WEBHOOK => "webhook",
        SLACK => "Slack",
        TEAMS => "Teams",
        _ => "e-mail",
    }
}

fn channel(n: &notification::Model) -> &'static str {
    channel_name(&n.kind)
}

/// Records how claimed deliveries went, in one writing transaction. A delivery whose claim was
/// taken over meanwhile (this process stalled past the claim) is left to the process that has
/// it.
pub async fn finish(
    ctx: &Ctx,
    outcomes: Vec<(&notification::Model, Outcome)>,
) -> Result<(), AppError> {
    let at = ctx.now();
    let minute = ctx.clock.minutes(1);
    let settlements = outcomes
        .into_iter()
        .filter(|(_, outcome)| !matches!(outcome, Outcome::Folded))
        .map(|(claimed, outcome)| settlement(claimed, outcome, at, minute))
        .collect();
    outbox::settle_all(ctx, &COLUMNS, settlements).await
}

fn settlement(
    claimed: &notification::Model,
    outcome: Outcome,
    at: DateTime<Utc>,
    minute: TimeDelta,
) -> outbox::Settlement<notification::Column> {
    // A webhook is named by its host only: its path and query often hold a token.
    let shown = claimed
        .target_label
        .clone()
        .unwrap_or_else(|| label_for(&claimed.kind, &claimed.target));
    let who = format!("{shown} by {} ({})", channel(claimed), claimed.event);
    let (changes, (kind, message)) = match &outcome {
        Outcome::Folded => (Vec::new(), (LogKind::Notified, String::new())),
        Outcome::Sent => {
            let changes = vec![
                (
                    notification::Column::Status,
                    Expr::value(DeliveryState::Sent),
                ),
                (notification::Column::SentAt, Expr::value(Some(at))),
                (notification::Column::NextAttemptAt, outbox::no_time()),
            ];
            (changes, (LogKind::Notified, format!("Notified {who}")))
        }
        Outcome::NotSent(why) => (
            given_up(why),
            (
                LogKind::NotificationFailed,
                format!("Notification to {who} not sent: {why}"),
            ),
        ),
        Outcome::Failed(why) if claimed.attempts >= MAX_ATTEMPTS => (
            given_up(why),
            (
                LogKind::NotificationFailed,
                format!(
                    "Notification to {who} failed after {} attempts: {why}",
                    claimed.attempts
                ),
            ),
        ),
        Outcome::Failed(why) => {
            let retry_at = at + backoff(claimed.attempts, minute);
            let changes = vec![
                (notification::Column::LastError, Expr::value(why.clone())),
                (
                    notification::Column::NextAttemptAt,
                    Expr::value(Some(retry_at)),
                ),
            ];
            (
                changes,
                (
                    LogKind::NotificationFailed,
                    format!(
                        "Notification to {who}: attempt {} of {MAX_ATTEMPTS} failed, retrying: {why}",
                        claimed.attempts
                    ),
                ),
            )
        }
    };
    outbox::Settlement {
        id: claimed.id.clone(),
        attempts: claimed.attempts,
        alert_id: claimed.alert_id.clone(),
        changes,
        log: Some((kind, message)),
    }
}

/// The columns of a delivery that will not be tried again.
fn given_up(why: &str) -> Vec<(notification::Column, sea_orm::sea_query::SimpleExpr)> {
    vec![
        (
            notification::Column::Status,
            Expr::value(DeliveryState::Failed),
        ),
        (
            notification::Column::LastError,
            Expr::value(why.to_string()),
        ),
        (notification::Column::NextAttemptAt, outbox::no_time()),
    ]
}

/// One minute after the first failure, doubling each time (`minute` is scaled like escalation
/// timeouts).
fn backoff(attempts: i32, minute: TimeDelta) -> TimeDelta {
    outbox::backoff(attempts, minute, minute * 512, 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_minute() {
        let minute = TimeDelta::minutes(1);
        let minutes: Vec<i64> = (1..=5).map(|n| backoff(n, minute).num_minutes()).collect();
        assert_eq!(minutes, vec![1, 2, 4, 8, 16]);
        assert_eq!(backoff(0, minute), backoff(1, minute));
        assert_eq!(backoff(99, minute), backoff(10, minute), "capped");
    }

    #[test]
    fn labels_show_a_webhook_host_only() {
        let url = "https://chat.example.com/hook/T0?token=abc";
        assert!(is_plain_webhook(url));
        assert_eq!(label_for(WEBHOOK, url), "https://chat.example.com/…");
        assert_eq!(label_for(EMAIL, "a@example.com"), "a@example.com");
        let cipher = Cipher::from_key(&[7; 32]);
        let sealed = cipher.encrypt(url, &target_context("r1")).unwrap();
        assert!(!is_plain_webhook(&sealed));
        assert!(!label_for(WEBHOOK, &sealed).contains("token"));
        assert!(cipher.decrypt(&sealed, &target_context("r2")).is_err());
    }

    #[test]
    fn targets_are_checked_by_kind() {
        let guard = Guard {
            allowed_hosts: Vec::new(),
            allow_insecure: false,
            timeout: std::time::Duration::from_secs(10),
        };
        assert!(check_target(&guard, EMAIL, " a@example.com ").is_ok());
        assert!(check_target(&guard, EMAIL, "https://example.com").is_err());
        assert!(check_target(&guard, WEBHOOK, "https://chat.example.com/hook").is_ok());
        assert!(check_target(&guard, WEBHOOK, "http://10.0.0.1:8080/x").is_err());
        assert!(check_target(&guard, WEBHOOK, "https://10.0.0.1:8080/x").is_err());
        assert!(check_target(&guard, WEBHOOK, "https://169.254.169.254/latest").is_err());
        assert!(check_target(&guard, WEBHOOK, "file:///etc/passwd").is_err());
        assert!(check_target(&guard, WEBHOOK, "a@example.com").is_err());
        assert!(check_target(&guard, "SMS", "+4912345").is_err());
        assert!(check_target(&guard, SLACK, "https://hooks.slack.com/services/T/B/x").is_ok());
        assert!(check_target(&guard, TEAMS, "https://10.0.0.1/workflows").is_err());
        assert!(check_target(&guard, SLACK, "a@example.com").is_err());
        assert_eq!(label_for(SLACK, "sealed"), "(Slack)");
    }
}
