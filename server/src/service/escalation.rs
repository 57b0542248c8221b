//! Escalation steps: level 1 when an alert is created or re-routed, and every later step the
//! engine finds due. A step adds the level's users as responders, makes the first of them the
//! assignee, schedules the next step and logs itself, all in the caller's transaction.

use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{LockBehavior, LockType, OnConflict},
};

use super::alerts::{append_log, log_kind};
use super::{Actor, new_id, notifications, sync};
use crate::clock;
use crate::db::Db;
use crate::domain::AlertStatus;
use crate::domain::escalation::{Level, Step, first_step, next_step};
use crate::entity::{
    alert, alert_responder, escalation_policy, escalation_rule, escalation_rule_user, user,
};
use crate::error::AppError;

/// A policy's levels as the escalation rules see them, and how often they repeat.
pub struct Plan {
    pub levels: Vec<Level>,
    pub repeat: i32,
}

pub async fn plan<C: ConnectionTrait>(conn: &C, policy_id: &str) -> Result<Plan, AppError> {
    let repeat = escalation_policy::Entity::find_by_id(policy_id.to_string())
        .one(conn)
        .await?
        .map(|p| p.repeat_count)
        .unwrap_or(0);
    let rules = escalation_rule::Entity::find()
        .filter(escalation_rule::Column::PolicyId.eq(policy_id))
        .order_by_asc(escalation_rule::Column::Position)
        .all(conn)
        .await?;
    let links = escalation_rule_user::Entity::find()
        .filter(escalation_rule_user::Column::RuleId.is_in(rules.iter().map(|r| r.id.clone())))
        .order_by_asc(escalation_rule_user::Column::Position)
        .all(conn)
        .await?;
    let levels = rules
        .iter()
        .map(|rule| Level {
            timeout_minutes: rule.escalation_timeout_minutes,
            user_ids: links
                .iter()
                .filter(|l| l.rule_id == rule.id)
                .map(|l| l.user_id.clone())
                .collect(),
        })
        .collect();
    Ok(Plan { levels, repeat })
}

/// Starts escalation at level 1 of the alert's (new) policy: for a new alert and a re-route.
/// Sets the escalation columns on `am`; the caller writes it.
pub async fn start(
    txn: &DatabaseTransaction,
    alert_id: &str,
    policy_id: &str,
    am: &mut alert::ActiveModel,
) -> Result<(), AppError> {
    let plan = plan(txn, policy_id).await?;
    let c = clock::get();
    match first_step(&plan.levels, plan.repeat, c.now(), |m| c.minutes(m)) {
        Some(step) => apply(txn, alert_id, &step, am).await,
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

async fn apply(
    txn: &DatabaseTransaction,
    alert_id: &str,
    step: &Step,
    am: &mut alert::ActiveModel,
) -> Result<(), AppError> {
    let at = clock::now();
    let mut users = user::Entity::find()
        .filter(user::Column::Id.is_in(step.user_ids.iter().cloned()))
        .all(txn)
        .await?;
    users.sort_by_key(|u| step.user_ids.iter().position(|id| *id == u.id));
    for u in &users {
        let row = alert_responder::ActiveModel {
            id: Set(new_id()),
            alert_id: Set(alert_id.to_string()),
            user_id: Set(u.id.clone()),
            escalation_level: Set(step.level),
            added_at: Set(at),
        };
        // Someone a level or round already called stays a responder from their first level.
        alert_responder::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    alert_responder::Column::AlertId,
                    alert_responder::Column::UserId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    am.escalation_level = Set(step.level);
    am.escalation_round = Set(step.round);
    am.next_escalation_at = Set(step.next_at);
    let before = match &am.assigned_to_id {
        ActiveValue::Set(v) | ActiveValue::Unchanged(v) => v.clone(),
        ActiveValue::NotSet => None,
    };
    if let Some(first) = users.first() {
        am.assigned_to_id = Set(Some(first.id.clone()));
        if before.as_deref() != Some(first.id.as_str()) {
            let user_id = &first.id;
            sync::enqueue(txn, alert_id, sync::Change::Assign { user_id }).await?;
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
    if step.next_at.is_none() {
        msg.push_str("; last level, escalation ends");
    }
    append_log(txn, alert_id, log_kind::ESCALATED, msg, &Actor::System).await?;
    let user_ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    notifications::escalated(txn, alert_id, &user_ids, step.level).await?;
    Ok(())
}

/// Claims the alerts whose next step is due and takes that step for each, in one transaction.
/// Several processes may run this at once: on PostgreSQL `SKIP LOCKED` hands each due alert to
/// one of them, and the row is checked again under the lock; on SQLite the writer transaction
/// (`BEGIN IMMEDIATE`) already runs alone. Returns how many alerts were claimed.
pub async fn run_due(db: &Db, limit: u64) -> Result<usize, AppError> {
    let txn = db.begin_write().await?;
    let now = clock::now();
    let mut query = alert::Entity::find()
        .filter(alert::Column::Status.eq(AlertStatus::Pending.as_str()))
        .filter(alert::Column::NextEscalationAt.lte(now))
        .order_by_asc(alert::Column::NextEscalationAt)
        .limit(limit);
    if db.backend() == DbBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let due = query.all(&txn).await?;
    let claimed = due.len();
    let c = clock::get();
    for model in due {
        let still_due = model.status == AlertStatus::Pending.as_str()
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
            |m| c.minutes(m),
        );
        let id = model.id.clone();
        let mut am: alert::ActiveModel = model.into();
        match step {
            Some(step) => apply(&txn, &id, &step, &mut am).await?,
            None => {
                // Only a policy shortened since the last step gets here: that step was not
                // known to be the last one.
                stop(&mut am);
                let msg = "Escalation ended: the policy has no further level".to_string();
                append_log(&txn, &id, log_kind::ESCALATED, msg, &Actor::System).await?;
            }
        }
        am.updated_at = Set(now);
        am.update(&txn).await?;
    }
    txn.commit().await?;
    if claimed > 0 {
        sync::wake();
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
