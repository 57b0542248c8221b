//! Escalation steps: level 1 when an alert is created or re-routed, and every later step the
//! engine finds due. A step adds the level's users as responders, makes the first of them the
//! assignee, schedules the next step and logs itself, all in the caller's transaction.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TryIntoModel,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType, Order, Query},
};

use super::rows::Rows;
use super::sync::{Change, UserRef};
use super::{Actor, new_id, notifications, schedules};
use crate::clock::Clock;
use crate::db::Db;
use crate::domain::AlertStatus;
use crate::domain::LogKind;
use crate::domain::escalation::{Level, Step, first_step, next_step};
use crate::entity::{
    alert, alert_responder, escalation_policy, escalation_rule, escalation_rule_schedule,
    escalation_rule_user, notification_rule, user,
};
use crate::error::AppError;
use crate::service::Ctx;

/// A policy's levels as the escalation rules see them, and how often they repeat.
pub struct Plan {
    pub levels: Vec<Level>,
    pub repeat: i32,
}

pub async fn plan<C: ConnectionTrait>(conn: &C, policy_id: &str) -> Result<Plan, AppError> {
    use escalation_policy as p;
    use escalation_rule as r;
    use escalation_rule_user as u;
    // One statement: the policy, its rules in order, and each rule's users in order (a policy
    // that does not exist has no levels).
    let query = Query::select()
        .column((p::Entity, p::Column::RepeatCount))
        .column((r::Entity, r::Column::Id))
        .column((r::Entity, r::Column::EscalationTimeoutMinutes))
        .column((u::Entity, u::Column::UserId))
        .from(p::Entity)
        .left_join(
            r::Entity,
            Expr::col((r::Entity, r::Column::PolicyId)).equals((p::Entity, p::Column::Id)),
        )
        .left_join(
            u::Entity,
            Expr::col((u::Entity, u::Column::RuleId)).equals((r::Entity, r::Column::Id)),
        )
        .and_where(Expr::col((p::Entity, p::Column::Id)).eq(policy_id))
        .order_by((r::Entity, r::Column::Position), Order::Asc)
        .order_by((r::Entity, r::Column::Id), Order::Asc)
        .order_by((u::Entity, u::Column::Position), Order::Asc)
        .to_owned();
    let rows = conn
        .query_all_raw(conn.get_database_backend().build(&query))
        .await?;
    let mut repeat = 0;
    let mut levels: Vec<Level> = Vec::new();
    let mut rule_ids: Vec<String> = Vec::new();
    let mut last_rule: Option<String> = None;
    for row in rows {
        repeat = row.try_get_by_index::<i32>(0)?;
        let Some(rule_id) = row.try_get_by_index::<Option<String>>(1)? else {
            continue;
        };
        if last_rule.as_ref() != Some(&rule_id) {
            levels.push(Level {
                timeout_minutes: row.try_get_by_index::<i32>(2)?,
                user_ids: Vec::new(),
                schedule_ids: Vec::new(),
            });
            rule_ids.push(rule_id.clone());
            last_rule = Some(rule_id);
        }
        if let (Some(user_id), Some(level)) = (
            row.try_get_by_index::<Option<String>>(3)?,
            levels.last_mut(),
        ) {
            level.user_ids.push(user_id);
        }
    }
    if !rule_ids.is_empty() {
        // The schedules each level pages, in the level's order.
        let links = escalation_rule_schedule::Entity::find()
            .filter(escalation_rule_schedule::Column::RuleId.is_in(rule_ids.iter().cloned()))
            .order_by_asc(escalation_rule_schedule::Column::Position)
            .all(conn)
            .await?;
        for link in links {
            if let Some(i) = rule_ids.iter().position(|r| *r == link.rule_id) {
                levels[i].schedule_ids.push(link.schedule_id);
            }
        }
    }
    Ok(Plan { levels, repeat })
}

/// A step with everything it writes already read: the level's users (in the level's order) and
/// their notification rules. Reading them before the writing transaction keeps those reads off
/// SQLite's single writer.
pub struct PreparedStep {
    step: Step,
    users: Vec<user::Model>,
    rules: Vec<notification_rule::Model>,
    /// Disabled users the step passed over (e-mails), in this level or in levels skipped because
    /// nobody in them was enabled.
    skipped: Vec<String>,
    /// What each schedule of the step (and of levels passed over) resolved to, for the log.
    resolved: Vec<String>,
}

/// Level 1 of a policy, read through `conn` (the read pool, or the caller's transaction);
/// `None` when the policy has no level.
pub async fn prepare_first<C: ConnectionTrait>(
    conn: &C,
    policy_id: &str,
    clock: &dyn Clock,
) -> Result<Option<PreparedStep>, AppError> {
    let plan = plan(conn, policy_id).await?;
    match first_step(&plan.levels, plan.repeat, clock.now(), |m| clock.minutes(m)) {
        Some(step) => Ok(Some(prepare(conn, &plan, step, clock).await?)),
        None => Ok(None),
    }
}

/// Reads the step's users and their rules. Disabled users are passed over; a level left with
/// nobody is passed over too, and the next step is taken at once (unless it is the last one).
async fn prepare<C: ConnectionTrait>(
    conn: &C,
    plan: &Plan,
    mut step: Step,
    clock: &dyn Clock,
) -> Result<PreparedStep, AppError> {
    let mut skipped = Vec::new();
    let mut resolved = Vec::new();
    loop {
        // Each schedule target pages whoever is on call now; the log names schedule and person.
        let mut user_ids = step.user_ids.clone();
        for schedule_id in &step.schedule_ids {
            // A schedule whose stored rules cannot be read (say, a time zone a newer tz database
            // dropped) is logged and skipped: the level's other targets are still paged.
            let (name, on_call) = match schedules::resolve_at(conn, schedule_id, clock.now()).await
            {
                Ok(Some(found)) => found,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(schedule = %schedule_id, error = ?e, "schedule cannot be read: its level pages its other targets");
                    resolved.push(format!(
                        "schedule {schedule_id} (level {}): cannot be read, skipped",
                        step.level
                    ));
                    continue;
                }
            };
            if on_call.is_empty() {
                resolved.push(format!(
                    "schedule {name:?} (level {}): nobody on call",
                    step.level
                ));
                continue;
            }
            let mut names = Vec::new();
            for c in on_call {
                names.push(c.user.clone());
                if !user_ids.contains(&c.user) {
                    user_ids.push(c.user);
                }
            }
            resolved.push(format!(
                "schedule {name:?} (level {}): {}",
                step.level,
                names.join(", ")
            ));
        }
        // The users with their notification rules, in one statement.
        let found = user::Entity::find()
            .filter(user::Column::Id.is_in(user_ids.iter().cloned()))
            .find_with_related(notification_rule::Entity)
            .all(conn)
            .await?;
        let mut users = Vec::with_capacity(found.len());
        let mut rules = Vec::new();
        for (user, user_rules) in found {
            if user.disabled {
                skipped.push(user.email);
                continue;
            }
            users.push(user);
            rules.extend(user_rules);
        }
        if users.is_empty() && step.next_at.is_some() {
            let next = next_step(
                &plan.levels,
                plan.repeat,
                step.level,
                step.round,
                clock.now(),
                |m| clock.minutes(m),
            );
            if let Some(next) = next {
                step = next;
                continue;
            }
        }
        users.sort_by_key(|u| user_ids.iter().position(|id| *id == u.id));
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        // Schedules are logged with e-mails, not ids.
        let emails: Vec<(String, String)> = users
            .iter()
            .map(|u| (u.id.clone(), u.email.clone()))
            .collect();
        let resolved = resolved
            .into_iter()
            .map(|line| {
                emails
                    .iter()
                    .fold(line, |line, (id, email)| line.replace(id.as_str(), email))
            })
            .collect();
        return Ok(PreparedStep {
            step,
            users,
            rules,
            skipped,
            resolved,
        });
    }
}

/// Starts escalation at level 1 of the alert's (new) policy: for a re-route. Sets the escalation
/// columns on `am` (a loaded alert) and adds the step's rows to `rows`; the caller writes both.
pub async fn start(
    txn: &DatabaseTransaction,
    policy_id: &str,
    am: &mut alert::ActiveModel,
    rows: &mut Rows,
) -> Result<(), AppError> {
    let prepared = prepare_first(txn, policy_id, rows.clock()).await?;
    begin(prepared.as_ref(), am, rows)
}

/// Applies a prepared level 1 (or, with `None`, a policy without levels) to `am`, whose every
/// column is set or loaded, and collects the step's rows.
pub fn begin(
    prepared: Option<&PreparedStep>,
    am: &mut alert::ActiveModel,
    rows: &mut Rows,
) -> Result<(), AppError> {
    match prepared {
        Some(p) => apply(p, am, rows),
        None => {
            stop(am);
            Ok(())
        }
    }
}

/// Accept and resolve: nothing more is scheduled.
pub fn stop(am: &mut alert::ActiveModel) {
    am.next_escalation_at = Set(None);
}

fn apply(
    prepared: &PreparedStep,
    am: &mut alert::ActiveModel,
    rows: &mut Rows,
) -> Result<(), AppError> {
    let PreparedStep {
        step,
        users,
        rules,
        skipped,
        resolved,
    } = prepared;
    let at = rows.clock().now();
    let alert = am.clone().try_into_model()?;
    for u in users {
        rows.responder(alert_responder::ActiveModel {
            id: Set(new_id()),
            alert_id: Set(alert.id.clone()),
            user_id: Set(u.id.clone()),
            escalation_level: Set(step.level),
            added_at: Set(at),
        });
    }
    am.escalation_level = Set(step.level);
    am.escalation_round = Set(step.round);
    am.next_escalation_at = Set(step.next_at);
    if let Some(first) = users.first() {
        am.assigned_to_id = Set(Some(first.id.clone()));
        // A new assignee is written to the incident (unless the change came from ServiceNow,
        // see `Rows::from_servicenow`).
        if alert.assigned_to_id.as_deref() != Some(first.id.as_str()) {
            rows.sync(
                &alert,
                Change::Assign {
                    user: UserRef::of(first),
                },
            );
        }
    }
    let emails: Vec<&str> = users.iter().map(|u| u.email.as_str()).collect();
    let mut msg = format!("Escalated to level {}", step.level);
    if step.round > 0 {
        msg.push_str(&format!(" (repeat {})", step.round));
    }
    msg.push_str(&format!(": responders {}", emails.join(", ")));
    if let Some(first) = emails.first() {
        msg.push_str(&format!("; assigned to {first}"));
    }
    for line in resolved {
        msg.push_str(&format!("; {line}"));
    }
    if !skipped.is_empty() {
        let skipped = skipped.join(", ");
        tracing::info!(alert_id = %alert.id, users = %skipped, "escalation skipped disabled users");
        msg.push_str(&format!("; skipped disabled {skipped}"));
    }
    if step.next_at.is_none() {
        msg.push_str("; last level, escalation ends");
    }
    rows.log(&alert.id, LogKind::Escalated, msg, &Actor::System);
    notifications::escalated(&alert, rules, step.level, rows);
    Ok(())
}

/// Claims the alerts whose next step is due and takes that step for each, in one transaction.
/// Several processes may run this at once: on PostgreSQL `SKIP LOCKED` hands each due alert to
/// one of them, and the row is checked again under the lock; on SQLite the writer transaction
/// (`BEGIN IMMEDIATE`) already runs alone. Returns how many alerts were claimed.
pub async fn run_due(ctx: &Ctx, limit: u64) -> Result<usize, AppError> {
    let db = &ctx.db;
    let txn = db.begin_write().await?;
    let now = ctx.now();
    let mut query = alert::Entity::find()
        .filter(alert::Column::Status.eq(AlertStatus::Pending))
        .filter(alert::Column::NextEscalationAt.lte(now))
        .order_by_asc(alert::Column::NextEscalationAt)
        .limit(limit);
    if db.backend() == DbBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let due = query.all(&txn).await?;
    let claimed = due.len();
    let clock = ctx.clock.as_ref();
    let mut queued_sync = false;
    for model in due {
        let still_due = model.status == AlertStatus::Pending
            && model.next_escalation_at.is_some_and(|at| at <= now);
        if !still_due {
            continue;
        }
        let plan = plan(&txn, &model.escalation_policy_id).await?;
        let step = next_step(
            &plan.levels,
            plan.repeat,
            model.escalation_level,
            model.escalation_round,
            now,
            |m| clock.minutes(m),
        );
        let id = model.id.clone();
        let mut am: alert::ActiveModel = model.into();
        let mut rows = Rows::new(ctx);
        match step {
            Some(step) => {
                let prepared = prepare(&txn, &plan, step, clock).await?;
                apply(&prepared, &mut am, &mut rows)?;
            }
            None => {
                // Only a policy shortened since the last step gets here: that step was not
                // known to be the last one.
                stop(&mut am);
                let msg = "Escalation ended: the policy has no further level".to_string();
                rows.log(&id, LogKind::Escalated, msg, &Actor::System);
            }
        }
        queued_sync |= rows.write(&txn).await?;
        am.updated_at = Set(now);
        am.update(&txn).await?;
    }
    txn.commit().await?;
    if queued_sync {
        ctx.wake_sync();
    }
    Ok(claimed)
}

/// The alert's responders in the order they were added.
pub async fn responders(db: &Db, alert_id: &str) -> Result<Vec<user::Model>, AppError> {
    let rows = alert_responder::Entity::find()
        .filter(alert_responder::Column::AlertId.eq(alert_id))
        .order_by_asc(alert_responder::Column::Id)
        .all(&db.read)
        .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.user_id.clone()).collect();
    let mut users = user::Entity::find()
        .filter(user::Column::Id.is_in(ids.clone()))
        .all(&db.read)
        .await?;
    users.sort_by_key(|u| ids.iter().position(|id| *id == u.id));
    Ok(users)
}

/// Someone a level would page now.
pub struct OnCallEntry {
    pub level: i32,
    pub user: user::Model,
    /// The schedule that puts them on call; `None` for a user the level names.
    pub schedule: Option<crate::entity::schedule::Model>,
}

/// Whom each level of a policy would page if it started now (disabled users left out).
pub async fn who_is_on_call(ctx: &Ctx, policy_id: &str) -> Result<Vec<OnCallEntry>, AppError> {
    let conn = &ctx.db.read;
    let now = ctx.now();
    let plan = plan(conn, policy_id).await?;
    let mut out = Vec::new();
    for (i, level) in plan.levels.iter().enumerate() {
        let number = i32::try_from(i + 1).unwrap_or(i32::MAX);
        let mut wanted: Vec<(String, Option<crate::entity::schedule::Model>)> =
            level.user_ids.iter().map(|u| (u.clone(), None)).collect();
        for schedule_id in &level.schedule_ids {
            let Some(model) = schedules::get(conn, schedule_id).await? else {
                continue;
            };
            if let Some((_, on_call)) = schedules::resolve_at(conn, schedule_id, now).await? {
                wanted.extend(on_call.into_iter().map(|c| (c.user, Some(model.clone()))));
            }
        }
        let ids: Vec<String> = wanted.iter().map(|(u, _)| u.clone()).collect();
        let found = user::Entity::find()
            .filter(user::Column::Id.is_in(ids))
            .filter(user::Column::Disabled.eq(false))
            .all(conn)
            .await?;
        for (user_id, schedule) in wanted {
            if let Some(u) = found.iter().find(|u| u.id == user_id) {
                out.push(OnCallEntry {
                    level: number,
                    user: u.clone(),
                    schedule,
                });
            }
        }
    }
    Ok(out)
}
