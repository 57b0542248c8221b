//! Who did it, across both sides: a ServiceNow user is the Glidepath user with the same e-mail
//! (the `sys_user` look-ups are cached, see `servicenow::users`). Where no Glidepath user
//! matches, the ServiceNow user name stands for the person.

use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::servicenow;
use crate::db::Db;
use crate::domain::Incident;
use crate::entity::{alert, servicenow_connection, user};
use crate::error::AppError;
use crate::service::Ctx;
use crate::servicenow::client::Client;

/// The longest a webhook waits for a user look-up that is not cached yet; after it, the event
/// names the ServiceNow user name (the look-up result is cached for the next event).
const INBOUND_LOOKUP: Duration = Duration::from_secs(2);

/// The Glidepath user with this e-mail (stored lower case, so compared case-insensitively).
pub async fn user_by_email(db: &Db, email: &str) -> Result<Option<user::Model>, AppError> {
    let email = email.trim().to_lowercase();
    if email.is_empty() {
        return Ok(None);
    }
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&db.read)
        .await?)
}

/// Who a ServiceNow `user_name` is in Glidepath.
pub enum Person {
    User(user::Model),
    External(String),
}

/// Maps a ServiceNow user name; a failed look-up leaves the ServiceNow name.
pub async fn by_user_name(ctx: &Ctx, client: &Client, user_name: &str) -> Result<Person, AppError> {
    let db = &ctx.db;
    let lookup = ctx
        .servicenow
        .users
        .by_user_name(client, client.instance(), user_name);
    let sn = tokio::time::timeout(INBOUND_LOOKUP, lookup)
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    if let Some(sn) = sn
        && let Some(u) = user_by_email(db, &sn.email).await?
    {
        return Ok(Person::User(u));
    }
    Ok(Person::External(user_name.to_string()))
}

/// Who an incident's `assigned_to` is, looked up before the event is applied.
#[derive(Clone, Debug)]
pub struct Assignee {
    /// The `sys_user` sys_id, as the event carries it.
    pub sys_id: String,
    /// What the alert log names: the Glidepath user's e-mail, else the ServiceNow `user_name`,
    /// else the sys_id (no connection, or the look-up failed or took too long).
    pub label: String,
    /// The Glidepath user with the ServiceNow user's e-mail.
    pub user: Option<user::Model>,
}

/// Maps the people an inbound incident event (webhook or poll: both call this) names:
/// `sys_updated_by` as [`inbound_actor`] does, and an `assigned_to` that differs from the one
/// last seen on the source's alert for the incident (`None` when there is no such alert or the
/// event assigns no one new).
pub async fn map_inbound(
    ctx: &Ctx,
    source_id: &str,
    conn: Option<&servicenow_connection::Model>,
    incident: &mut Incident,
) -> Result<Option<Assignee>, AppError> {
    let db = &ctx.db;
    incident.updated_by = inbound_actor(ctx, conn, incident.updated_by.take()).await;
    let Some(Some(sys_id)) = &incident.assigned_to else {
        return Ok(None);
    };
    let seen: Option<Option<String>> = alert::Entity::find()
        .select_only()
        .column(alert::Column::TicketAssignee)
        .filter(alert::Column::AlertSourceId.eq(source_id))
        .filter(alert::Column::AlertKey.eq(incident.sys_id.as_str()))
        .into_tuple()
        .one(&db.read)
        .await?;
    match seen {
        Some(seen) if seen.as_deref() != Some(sys_id.as_str()) => {
            Ok(Some(assignee(ctx, conn, sys_id.as_str()).await))
        }
        _ => Ok(None),
    }
}

/// Looks a `sys_user` sys_id up through a bidirectional connection (cached, see
/// `servicenow::users`), waiting at most [`INBOUND_LOOKUP`] in all.
async fn assignee(
    ctx: &Ctx,
    conn: Option<&servicenow_connection::Model>,
    sys_id: &str,
) -> Assignee {
    let db = &ctx.db;
    let connector = &*ctx.servicenow;
    let unnamed = Assignee {
        sys_id: sys_id.to_string(),
        label: sys_id.to_string(),
        user: None,
    };
    let Some(conn) = conn.filter(|c| c.bidirectional) else {
        return unnamed;
    };
    let lookup = async {
        let client = servicenow::client(ctx, &conn.alert_source_id).await.ok()?;
        connector
            .users
            .by_sys_id(&client, client.instance(), sys_id)
            .await
            .ok()
            .flatten()
    };
    let Some(sn) = tokio::time::timeout(INBOUND_LOOKUP, lookup)
        .await
        .ok()
        .flatten()
    else {
        return unnamed;
    };
    let user = user_by_email(db, &sn.email).await.ok().flatten();
    let label = match &user {
        Some(u) => u.email.clone(),
        None if !sn.user_name.is_empty() => sn.user_name.clone(),
        None => unnamed.label,
    };
    Assignee {
        sys_id: unnamed.sys_id,
        label,
        user,
    }
}

/// The name a webhook event's `sys_updated_by` should carry in the alert log: the Glidepath
/// user's e-mail when the source's connection is bidirectional and the ServiceNow user maps to
/// one, else the event's own value.
pub async fn inbound_actor(
    ctx: &Ctx,
    conn: Option<&servicenow_connection::Model>,
    updated_by: Option<String>,
) -> Option<String> {
    let db = &ctx.db;
    let connector = &*ctx.servicenow;
    let name = updated_by?;
    let Some(conn) = conn.filter(|c| c.bidirectional) else {
        return Some(name);
    };
    let source_id = conn.alert_source_id.as_str();
    if let Some(hit) = connector.users.peek_user_name(&conn.instance_url, &name) {
        let user = match hit {
            Some(sn) => user_by_email(db, &sn.email).await.ok().flatten(),
            None => None,
        };
        return Some(user.map(|u| u.email).unwrap_or(name));
    }
    let Ok(client) = servicenow::client(ctx, source_id).await else {
        return Some(name);
    };
    match by_user_name(ctx, &client, &name).await {
        Ok(Person::User(u)) => Some(u.email),
        _ => Some(name),
    }
}
