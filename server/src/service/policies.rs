//! Escalation policies: an ordered list of rules (levels), each a set of users and a timeout,
//! walked `repeat + 1` times.

use std::collections::HashSet;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, SqlErr,
};

use super::new_id;
use crate::db::{Db, for_update};
use crate::domain::AlertStatus;
use crate::domain::PolicyId;
use crate::domain::escalation::MAX_REPEAT;
use crate::entity::{
    alert, alert_source, escalation_policy, escalation_rule, escalation_rule_schedule,
    escalation_rule_user, schedule, user,
};
use crate::error::AppError;
use crate::service::Ctx;

pub struct NewRule {
    pub escalation_timeout_minutes: i32,
    pub user_ids: Vec<String>,
    /// On-call schedules the level pages beside its users (resolved when the level starts).
    pub schedule_ids: Vec<String>,
}

pub struct NewPolicy {
    pub name: String,
    pub routing_key: Option<String>,
    pub rules: Vec<NewRule>,
    /// How many more times the levels are walked after the first; 0 = no repeat.
    pub repeat: i32,
}

/// A rule with its users in order.
pub struct Rule {
    pub escalation_timeout_minutes: i32,
    pub users: Vec<user::Model>,
    pub schedules: Vec<schedule::Model>,
}

const MAX_TIMEOUT_MINUTES: i32 = 7 * 24 * 60;

/// The input, checked and trimmed: (name, routing key).
async fn validate(db: &Db, input: &NewPolicy) -> Result<(String, Option<String>), AppError> {
    let name = input.name.trim().to_string();
    if name.is_empty() || name.len() > 200 {
        return Err(AppError::validation("name", "must be 1 to 200 characters"));
    }
    let routing_key = input
        .routing_key
        .as_ref()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty());
    if routing_key.as_ref().is_some_and(|k| k.len() > 200) {
        return Err(AppError::validation(
            "routingKey",
            "must be at most 200 characters",
        ));
    }
    if !(0..=MAX_REPEAT).contains(&input.repeat) {
        return Err(AppError::validation(
            "repeat",
            format!("must be between 0 and {MAX_REPEAT}"),
        ));
    }
    if input.rules.is_empty() {
        return Err(AppError::validation(
            "rules",
            "a policy needs at least one rule",
        ));
    }
    for (i, rule) in input.rules.iter().enumerate() {
        if !(1..=MAX_TIMEOUT_MINUTES).contains(&rule.escalation_timeout_minutes) {
            return Err(AppError::validation(
                format!("rules[{i}].escalationTimeoutMinutes"),
                format!("must be between 1 and {MAX_TIMEOUT_MINUTES}"),
            ));
        }
        if rule.user_ids.is_empty() && rule.schedule_ids.is_empty() {
            return Err(AppError::validation(
                format!("rules[{i}].userIds"),
                "a rule needs at least one user or schedule",
            ));
        }
        let unique: HashSet<&String> = rule.schedule_ids.iter().collect();
        if unique.len() != rule.schedule_ids.len() {
            return Err(AppError::validation(
                format!("rules[{i}].scheduleIds"),
                "a schedule appears twice",
            ));
        }
        let found = schedule::Entity::find()
            .filter(schedule::Column::Id.is_in(rule.schedule_ids.iter().cloned()))
            .all(&db.read)
            .await?;
        if found.len() != rule.schedule_ids.len() {
            return Err(AppError::validation(
                format!("rules[{i}].scheduleIds"),
                "names a schedule that does not exist",
            ));
        }
        let unique: HashSet<&String> = rule.user_ids.iter().collect();
        if unique.len() != rule.user_ids.len() {
            return Err(AppError::validation(
                format!("rules[{i}].userIds"),
                "a user appears twice",
            ));
        }
        let found = user::Entity::find()
            .filter(user::Column::Id.is_in(rule.user_ids.iter().cloned()))
            .all(&db.read)
            .await?;
        if found.len() != rule.user_ids.len() {
            return Err(AppError::validation(
                format!("rules[{i}].userIds"),
                "names a user that does not exist",
            ));
        }
    }
    Ok((name, routing_key))
}

fn routing_key_conflict(e: &sea_orm::DbErr, routing_key: &Option<String>) -> Option<AppError> {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))).then(|| {
        AppError::Conflict(format!(
            "another escalation policy has routing key {:?}",
            routing_key.clone().unwrap_or_default()
        ))
    })
}

async fn insert_rules(
    txn: &DatabaseTransaction,
    policy_id: &str,
    rules: &[NewRule],
) -> Result<(), AppError> {
    for (position, rule) in rules.iter().enumerate() {
        let rule_id = new_id();
        escalation_rule::ActiveModel {
            id: Set(rule_id.clone()),
            policy_id: Set(policy_id.to_string()),
            position: Set(position as i32),
            escalation_timeout_minutes: Set(rule.escalation_timeout_minutes),
        }
        .insert(txn)
        .await?;
        for (position, user_id) in rule.user_ids.iter().enumerate() {
            escalation_rule_user::ActiveModel {
                rule_id: Set(rule_id.clone()),
                user_id: Set(user_id.clone()),
                position: Set(position as i32),
            }
            .insert(txn)
            .await?;
        }
        for (position, schedule_id) in rule.schedule_ids.iter().enumerate() {
            escalation_rule_schedule::ActiveModel {
                rule_id: Set(rule_id.clone()),
                schedule_id: Set(schedule_id.clone()),
                position: Set(position as i32),
            }
            .insert(txn)
            .await?;
        }
    }
    Ok(())
}

pub async fn create(ctx: &Ctx, input: NewPolicy) -> Result<escalation_policy::Model, AppError> {
    let db = &ctx.db;
    let (name, routing_key) = validate(db, &input).await?;
    let txn = db.begin_write().await?;
    let policy = escalation_policy::ActiveModel {
        id: Set(new_id()),
        name: Set(name),
        routing_key: Set(routing_key.clone()),
        created_at: Set(ctx.now()),
        repeat_count: Set(input.repeat),
        deleted_at: Set(None),
    }
    .insert(&txn)
    .await;
    let policy = match policy {
        Ok(p) => p,
        Err(e) => return Err(routing_key_conflict(&e, &routing_key).unwrap_or(e.into())),
    };
    insert_rules(&txn, &policy.id, &input.rules).await?;
    txn.commit().await?;
    Ok(policy)
}

/// Replaces a policy's name, routing key, repeat and rules. Alerts on their way through it go on
/// from the level they reached, with the new rules.
pub async fn update(
    db: &Db,
    id: &PolicyId,
    input: NewPolicy,
) -> Result<escalation_policy::Model, AppError> {
    let (name, routing_key) = validate(db, &input).await?;
    let txn = db.begin_write().await?;
    let Some(policy) = find_live_locked(&txn, db, id).await? else {
        return Err(AppError::NotFound("escalation policy"));
    };
    let mut am: escalation_policy::ActiveModel = policy.into();
    am.name = Set(name);
    am.routing_key = Set(routing_key.clone());
    am.repeat_count = Set(input.repeat);
    let policy = match am.update(&txn).await {
        Ok(p) => p,
        Err(e) => return Err(routing_key_conflict(&e, &routing_key).unwrap_or(e.into())),
    };
    // Rule users go with their rules (ON DELETE CASCADE).
    escalation_rule::Entity::delete_many()
        .filter(escalation_rule::Column::PolicyId.eq(id))
        .exec(&txn)
        .await?;
    insert_rules(&txn, id, &input.rules).await?;
    txn.commit().await?;
    Ok(policy)
}

async fn find_live_locked(
    txn: &DatabaseTransaction,
    db: &Db,
    id: &str,
) -> Result<Option<escalation_policy::Model>, AppError> {
    let query = escalation_policy::Entity::find_by_id(id.to_string())
        .filter(escalation_policy::Column::DeletedAt.is_null());
    Ok(for_update(query, db.backend()).one(txn).await?)
}

/// How many users of each kind a refusal names before it says "and N more".
const NAMED_IN_REFUSAL: usize = 5;

fn name_some(kind: &str, names: Vec<String>, total: u64) -> String {
    let mut text = format!("{kind} {}", names.join(", "));
    let more = total.saturating_sub(names.len() as u64);
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// Deletes a policy that no alert source and no open alert uses.
pub async fn delete(ctx: &Ctx, id: &PolicyId) -> Result<(), AppError> {
    let db = &ctx.db;
    let txn = db.begin_write().await?;
    let Some(policy) = find_live_locked(&txn, db, id).await? else {
        return Err(AppError::NotFound("escalation policy"));
    };
    let sources = alert_source::Entity::find()
        .filter(alert_source::Column::EscalationPolicyId.eq(id))
        .order_by_asc(alert_source::Column::Name);
    let source_count = sources.clone().count(&txn).await?;
    let source_names: Vec<String> = sources
        .limit(NAMED_IN_REFUSAL as u64)
        .all(&txn)
        .await?
        .into_iter()
        .map(|s| format!("{:?}", s.name))
        .collect();
    let open = alert::Entity::find()
        .filter(alert::Column::EscalationPolicyId.eq(id))
        .filter(alert::Column::Status.ne(AlertStatus::Resolved))
        .order_by_asc(alert::Column::Id);
    let open_count = open.clone().count(&txn).await?;
    let open_names: Vec<String> = open
        .limit(NAMED_IN_REFUSAL as u64)
        .all(&txn)
        .await?
        .into_iter()
        .map(|a| format!("{} ({:?})", a.id, a.summary))
        .collect();
    if source_count > 0 || open_count > 0 {
        let mut users = Vec::new();
        if source_count > 0 {
            users.push(name_some("alert sources", source_names, source_count));
        }
        if open_count > 0 {
            users.push(name_some("open alerts", open_names, open_count));
        }
        return Err(AppError::Conflict(format!(
            "escalation policy {:?} is in use by {}",
            policy.name,
            users.join("; ")
        )));
    }
    let resolved = alert::Entity::find()
        .filter(alert::Column::EscalationPolicyId.eq(id))
        .count(&txn)
        .await?;
    if resolved > 0 {
        // Resolved alerts keep naming the policy that handled them, so it stays as a tombstone:
        // gone from lists and choices, its routing key free for another policy.
        let mut am: escalation_policy::ActiveModel = policy.into();
        am.deleted_at = Set(Some(ctx.now()));
        am.routing_key = Set(None);
        am.update(&txn).await?;
    } else {
        escalation_policy::Entity::delete_by_id(id.to_string())
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

pub async fn list(db: &Db) -> Result<Vec<escalation_policy::Model>, AppError> {
    Ok(escalation_policy::Entity::find()
        .filter(escalation_policy::Column::DeletedAt.is_null())
        .order_by_asc(escalation_policy::Column::Name)
        .all(&db.read)
        .await?)
}

/// A policy that has not been deleted: what new alert sources and re-routes may choose.
pub async fn get(db: &Db, id: &str) -> Result<Option<escalation_policy::Model>, AppError> {
    Ok(escalation_policy::Entity::find_by_id(id.to_string())
        .filter(escalation_policy::Column::DeletedAt.is_null())
        .one(&db.read)
        .await?)
}

/// The live policy whose routing key is `key`: where a routed alert goes.
pub async fn by_routing_key<C: sea_orm::ConnectionTrait>(
    conn: &C,
    key: &str,
) -> Result<Option<escalation_policy::Model>, AppError> {
    Ok(escalation_policy::Entity::find()
        .filter(escalation_policy::Column::RoutingKey.eq(key))
        .filter(escalation_policy::Column::DeletedAt.is_null())
        .one(conn)
        .await?)
}

/// Any policy, deleted ones included: what a resolved alert was handled by.
pub async fn get_any(db: &Db, id: &str) -> Result<Option<escalation_policy::Model>, AppError> {
    Ok(escalation_policy::Entity::find_by_id(id.to_string())
        .one(&db.read)
        .await?)
}

pub async fn rules(db: &Db, policy_id: &str) -> Result<Vec<Rule>, AppError> {
    let rules = escalation_rule::Entity::find()
        .filter(escalation_rule::Column::PolicyId.eq(policy_id))
        .order_by_asc(escalation_rule::Column::Position)
        .all(&db.read)
        .await?;
    let mut out = Vec::with_capacity(rules.len());
    for rule in rules {
        let links = escalation_rule_user::Entity::find()
            .filter(escalation_rule_user::Column::RuleId.eq(rule.id.clone()))
            .order_by_asc(escalation_rule_user::Column::Position)
            .all(&db.read)
            .await?;
        let ids: Vec<String> = links.iter().map(|l| l.user_id.clone()).collect();
        let mut users = user::Entity::find()
            .filter(user::Column::Id.is_in(ids.clone()))
            .all(&db.read)
            .await?;
        users.sort_by_key(|u| ids.iter().position(|id| *id == u.id));
        let links = escalation_rule_schedule::Entity::find()
            .filter(escalation_rule_schedule::Column::RuleId.eq(rule.id.clone()))
            .order_by_asc(escalation_rule_schedule::Column::Position)
            .all(&db.read)
            .await?;
        let ids: Vec<String> = links.iter().map(|l| l.schedule_id.clone()).collect();
        let mut schedules = schedule::Entity::find()
            .filter(schedule::Column::Id.is_in(ids.clone()))
            .all(&db.read)
            .await?;
        schedules.sort_by_key(|s| ids.iter().position(|id| *id == s.id));
        out.push(Rule {
            escalation_timeout_minutes: rule.escalation_timeout_minutes,
            users,
            schedules,
        });
    }
    Ok(out)
}
