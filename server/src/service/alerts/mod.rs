//! Alerts: what ServiceNow's incident events do to them ([`ingest`]), what responders do to them
//! ([`actions`]), and how they are read. A status change is made by one function of
//! [`transition`], whoever causes it.
//!
//! Each change runs in one transaction that locks the alert row (PostgreSQL) or holds the single
//! SQLite writer, so an event and an action on the same alert never interleave.

mod actions;
mod ingest;
mod transition;

pub use actions::{accept, accept_using, comment, raise_priority, reroute, resolve, resolve_using};
pub use ingest::{IngestEvent, IngestResult, exists, ingest, note_event, unknown_incident_message};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::db::Db;
use crate::domain::{AlertStatus, Priority};
use crate::entity::{alert, alert_comment, alert_log};
use crate::error::AppError;

pub async fn get(db: &Db, id: &str) -> Result<Option<alert::Model>, AppError> {
    Ok(alert::Entity::find_by_id(id.to_string())
        .one(&db.read)
        .await?)
}

pub async fn comments(db: &Db, alert_id: &str) -> Result<Vec<alert_comment::Model>, AppError> {
    Ok(alert_comment::Entity::find()
        .filter(alert_comment::Column::AlertId.eq(alert_id))
        .order_by_asc(alert_comment::Column::Id)
        .all(&db.read)
        .await?)
}

pub async fn log_entries(db: &Db, alert_id: &str) -> Result<Vec<alert_log::Model>, AppError> {
    Ok(alert_log::Entity::find()
        .filter(alert_log::Column::AlertId.eq(alert_id))
        .order_by_asc(alert_log::Column::Id)
        .all(&db.read)
        .await?)
}

pub struct AlertFilter {
    pub status: Option<AlertStatus>,
    pub priority: Option<Priority>,
    pub alert_source_id: Option<String>,
}

pub struct AlertPage {
    pub nodes: Vec<alert::Model>,
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
    pub total_count: u64,
}

pub const MAX_PAGE: u64 = 100;

/// Newest first. The cursor is the last alert's id, opaque to clients; ids are time-ordered.
pub async fn list(
    db: &Db,
    filter: AlertFilter,
    first: u64,
    after: Option<&str>,
) -> Result<AlertPage, AppError> {
    if !(1..=MAX_PAGE).contains(&first) {
        return Err(AppError::validation(
            "first",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    let mut query = alert::Entity::find();
    if let Some(status) = filter.status {
        query = query.filter(alert::Column::Status.eq(status));
    }
    if let Some(priority) = filter.priority {
        query = query.filter(alert::Column::Priority.eq(priority));
    }
    if let Some(source) = &filter.alert_source_id {
        query = query.filter(alert::Column::AlertSourceId.eq(source.as_str()));
    }
    let total_count = query.clone().count(&db.read).await?;
    if let Some(cursor) = after {
        query = query.filter(alert::Column::Id.lt(decode_cursor(cursor)?));
    }
    let mut nodes = query
        .order_by_desc(alert::Column::Id)
        .limit(first + 1)
        .all(&db.read)
        .await?;
    let has_next_page = nodes.len() as u64 > first;
    nodes.truncate(first as usize);
    let end_cursor = nodes.last().map(|a| encode_cursor(&a.id));
    Ok(AlertPage {
        nodes,
        has_next_page,
        end_cursor,
        total_count,
    })
}

fn encode_cursor(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("alert:{id}"))
}

fn decode_cursor(cursor: &str) -> Result<String, AppError> {
    let invalid = || AppError::validation("after", "is not a cursor this server issued");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let id = text.strip_prefix("alert:").ok_or_else(invalid)?;
    uuid::Uuid::parse_str(id).map_err(|_| invalid())?;
    Ok(id.to_string())
}
