//! Batched reads behind the GraphQL DataLoaders: one query for the rows of many alerts (or many
//! ids) at once, so a page of alerts with its nested fields takes a fixed number of queries.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::db::Db;
use crate::entity::{alert_comment, alert_responder, alert_source, escalation_policy, user};
use crate::error::AppError;

pub async fn sources(db: &Db, ids: &[String]) -> Result<Vec<alert_source::Model>, AppError> {
    Ok(alert_source::Entity::find()
        .filter(alert_source::Column::Id.is_in(ids.iter().cloned()))
        .all(&db.read)
        .await?)
}

/// Policies by id, deleted ones included (an alert's history may name one).
pub async fn policies(db: &Db, ids: &[String]) -> Result<Vec<escalation_policy::Model>, AppError> {
    Ok(escalation_policy::Entity::find()
        .filter(escalation_policy::Column::Id.is_in(ids.iter().cloned()))
        .all(&db.read)
        .await?)
}

pub async fn users(db: &Db, ids: &[String]) -> Result<Vec<user::Model>, AppError> {
    super::users::get_many(db, ids).await
}

/// Each alert's responders, in the order they were added (two queries for all the alerts).
pub async fn responders(
    db: &Db,
    alert_ids: &[String],
) -> Result<HashMap<String, Vec<user::Model>>, AppError> {
    let rows = alert_responder::Entity::find()
        .filter(alert_responder::Column::AlertId.is_in(alert_ids.iter().cloned()))
        .order_by_asc(alert_responder::Column::Id)
        .all(&db.read)
        .await?;
    let mut user_ids: Vec<String> = rows.iter().map(|r| r.user_id.clone()).collect();
    user_ids.sort();
    user_ids.dedup();
    let users: HashMap<String, user::Model> = users(db, &user_ids)
        .await?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    let mut out: HashMap<String, Vec<user::Model>> = HashMap::new();
    for r in rows {
        if let Some(u) = users.get(&r.user_id) {
            out.entry(r.alert_id).or_default().push(u.clone());
        }
    }
    Ok(out)
}

/// Each alert's comments, oldest first.
pub async fn comments(
    db: &Db,
    alert_ids: &[String],
) -> Result<HashMap<String, Vec<alert_comment::Model>>, AppError> {
    let rows = alert_comment::Entity::find()
        .filter(alert_comment::Column::AlertId.is_in(alert_ids.iter().cloned()))
        .order_by_asc(alert_comment::Column::Id)
        .all(&db.read)
        .await?;
    let mut out: HashMap<String, Vec<alert_comment::Model>> = HashMap::new();
    for c in rows {
        out.entry(c.alert_id.clone()).or_default().push(c);
    }
    Ok(out)
}
