//! Escalation policies: an ordered list of rules, each a set of users and a timeout.

use std::collections::HashSet;

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, SqlErr};

use super::{new_id, now};
use crate::db::Db;
use crate::entity::{escalation_policy, escalation_rule, escalation_rule_user, user};
use crate::error::AppError;

pub struct NewRule {
    pub escalation_timeout_minutes: i32,
    pub user_ids: Vec<String>,
}

pub struct NewPolicy {
    pub name: String,
    pub routing_key: Option<String>,
    pub rules: Vec<NewRule>,
}

/// A rule with its users in order.
pub struct Rule {
    pub escalation_timeout_minutes: i32,
    pub users: Vec<user::Model>,
}

const MAX_TIMEOUT_MINUTES: i32 = 7 * 24 * 60;

pub async fn create(db: &Db, input: NewPolicy) -> Result<escalation_policy::Model, AppError> {
    let name = input.name.trim().to_string();
    if name.is_empty() || name.len() > 200 {
        return Err(AppError::validation("name", "must be 1 to 200 characters"));
    }
    let routing_key = input
        .routing_key
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty());
    if routing_key.as_ref().is_some_and(|k| k.len() > 200) {
        return Err(AppError::validation(
            "routingKey",
            "must be at most 200 characters",
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
        if rule.user_ids.is_empty() {
            return Err(AppError::validation(
                format!("rules[{i}].userIds"),
                "a rule needs at least one user",
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

    let txn = db.begin_write().await?;
    let policy = escalation_policy::ActiveModel {
        id: Set(new_id()),
        name: Set(name),
        routing_key: Set(routing_key.clone()),
        created_at: Set(now()),
    }
    .insert(&txn)
    .await;
    let policy = match policy {
        Ok(p) => p,
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(AppError::Conflict(format!(
                "another escalation policy has routing key {:?}",
                routing_key.unwrap_or_default()
            )));
        }
        Err(e) => return Err(e.into()),
    };
    for (position, rule) in input.rules.iter().enumerate() {
        let rule_id = new_id();
        escalation_rule::ActiveModel {
            id: Set(rule_id.clone()),
            policy_id: Set(policy.id.clone()),
            position: Set(position as i32),
            escalation_timeout_minutes: Set(rule.escalation_timeout_minutes),
        }
        .insert(&txn)
        .await?;
        for (position, user_id) in rule.user_ids.iter().enumerate() {
            escalation_rule_user::ActiveModel {
                rule_id: Set(rule_id.clone()),
                user_id: Set(user_id.clone()),
                position: Set(position as i32),
            }
            .insert(&txn)
            .await?;
        }
    }
    txn.commit().await?;
    Ok(policy)
}

pub async fn list(db: &Db) -> Result<Vec<escalation_policy::Model>, AppError> {
    Ok(escalation_policy::Entity::find()
        .order_by_asc(escalation_policy::Column::Name)
        .all(&db.read)
        .await?)
}

pub async fn get(db: &Db, id: &str) -> Result<Option<escalation_policy::Model>, AppError> {
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
        out.push(Rule {
            escalation_timeout_minutes: rule.escalation_timeout_minutes,
            users,
        });
    }
    Ok(out)
}
