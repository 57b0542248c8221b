//! What responders do to an alert: accept, resolve, re-route, raise its priority, comment. Each
//! locks the alert, asks `domain::alert` whether the action is allowed, and writes the change, its
//! log entry, its notifications and its ServiceNow update in one transaction.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, Set};

use super::transition::{self, Cause, Move, Why};
use crate::db::for_update;
use crate::domain::LogKind;
use crate::domain::alert::{check_accept, check_raise, check_reroute, check_resolve};
use crate::domain::{AlertId, PolicyId};
use crate::entity::{action_link_use, alert, alert_comment};
use crate::error::AppError;
use crate::service::Ctx;
use crate::service::rows::Rows;
use crate::service::sync::{Change, UserRef};
use crate::service::{Caller, new_id, policies};

/// Runs a responder's action on a locked alert, in one transaction.
async fn act<F>(ctx: &Ctx, alert_id: &str, f: F) -> Result<alert::Model, AppError>
where
    F: AsyncFnOnce(&DatabaseTransaction, alert::Model) -> Result<alert::ActiveModel, AppError>,
{
    let db = &ctx.db;
    let txn = db.begin_write().await?;
    let query = alert::Entity::find_by_id(alert_id.to_string());
    let Some(model) = for_update(query, db.backend()).one(&txn).await? else {
        return Err(AppError::NotFound("alert"));
    };
    let mut am = f(&txn, model).await?;
    am.updated_at = Set(ctx.now());
    let updated = am.update(&txn).await?;
    txn.commit().await?;
    ctx.wake_sync();
    Ok(updated)
}

pub async fn accept(
    ctx: &Ctx,
    caller: &Caller,
    alert_id: &AlertId,
) -> Result<alert::Model, AppError> {
    accept_using(ctx, caller, alert_id, None).await
}

/// Accept, marking the e-mail link that asked for it as used in the same transaction (see
/// `service::action_links`); `None` is the plain accept.
pub async fn accept_using(
    ctx: &Ctx,
    caller: &Caller,
    alert_id: &AlertId,
    link: Option<action_link_use::ActiveModel>,
) -> Result<alert::Model, AppError> {
    act(ctx, alert_id, async |txn, model| {
        check_accept(model.status)?;
        let mut rows = Rows::new(ctx);
        let actor = caller.actor();
        let before = model.clone();
        let mut am: alert::ActiveModel = model.into();
        am.assigned_to_id = Set(Some(caller.user_id.clone()));
        let msg = format!("Accepted by {}", caller.email);
        let cause = Cause::new(ctx, &actor, msg);
        transition::accept(txn, &before, &mut am, cause, &mut rows).await?;
        let user = UserRef {
            id: caller.user_id.clone(),
            email: caller.email.clone(),
        };
        rows.sync(&before, Change::Accept { user });
        rows.write(txn).await?;
        if let Some(link) = link {
            link.insert(txn).await?;
        }
        Ok(am)
    })
    .await
}

pub async fn resolve(
    ctx: &Ctx,
    caller: &Caller,
    alert_id: &AlertId,
    comment: Option<String>,
) -> Result<alert::Model, AppError> {
    resolve_using(ctx, caller, alert_id, comment, None).await
}

/// Resolve, marking the e-mail link that asked for it as used in the same transaction.
pub async fn resolve_using(
    ctx: &Ctx,
    caller: &Caller,
    alert_id: &AlertId,
    comment: Option<String>,
    link: Option<action_link_use::ActiveModel>,
) -> Result<alert::Model, AppError> {
    let comment = comment
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    if let Some(c) = &comment {
        check_comment(c)?;
    }
    act(ctx, alert_id, async |txn, model| {
        check_resolve(model.status)?;
        let id = model.id.clone();
        let mut rows = Rows::new(ctx);
        let actor = caller.actor();
        let before = model.clone();
        let mut am: alert::ActiveModel = model.into();
        let resolved_at = ctx.now();
        let message = match &comment {
            Some(c) => {
                insert_comment(txn, ctx.now(), &id, caller, c).await?;
                format!("Resolved by {}: {c}", caller.email)
            }
            None => format!("Resolved by {}", caller.email),
        };
        let cause = Cause {
            at: resolved_at,
            actor: &actor,
            message,
        };
        transition::resolve(txn, &before, &mut am, cause, &mut rows).await?;
        let change = Change::Resolve {
            user_id: caller.user_id.clone(),
            comment: comment.clone(),
        };
        rows.sync(&before, change);
        rows.write(txn).await?;
        if let Some(link) = link {
            link.insert(txn).await?;
        }
        Ok(am)
    })
    .await
}

pub async fn reroute(
    ctx: &Ctx,
    caller: &Caller,
    alert_id: &AlertId,
    policy_id: &PolicyId,
) -> Result<alert::Model, AppError> {
    let db = &ctx.db;
    let Some(target) = policies::get(db, policy_id).await? else {
        return Err(AppError::NotFound("escalation policy"));
    };
    act(ctx, alert_id, async |txn, model| {
        let status = model.status;
        check_reroute(status, &model.escalation_policy_id, &target.id)?;
        let id = model.id.clone();
        let from_policy_id = model.escalation_policy_id.clone();
        let mut rows = Rows::new(ctx);
        // The user's re-route goes to the incident (here only: a re-route that ServiceNow made
        // goes through `move_to_policy` from `ingest` and is not written back). Queued before
        // the new policy's level 1, so the incident gets its group before its assignee.
        let routing_key = target.routing_key.clone();
        rows.sync(&model, Change::Reroute { routing_key });
        let mut am: alert::ActiveModel = model.into();
        let from = Move {
            alert_id: &id,
            status,
            from_policy_id: &from_policy_id,
        };
        let why = Why {
            actor: &caller.actor(),
            by: &format!("by {} ", caller.email),
            reason: "",
        };
        transition::move_to_policy(txn, from, &target, why, &mut am, &mut rows).await?;
        rows.write(txn).await?;
        Ok(am)
    })
    .await
}

pub async fn raise_priority(
    ctx: &Ctx,
    caller: &Caller,
    alert_id: &AlertId,
) -> Result<alert::Model, AppError> {
    act(ctx, alert_id, async |txn, model| {
        check_raise(model.status, model.priority)?;
        let mut rows = Rows::new(ctx);
        rows.sync(&model, Change::RaisePriority);
        let id = model.id.clone();
        let mut am: alert::ActiveModel = model.into();
        let msg = format!("Priority raised to HIGH by {}", caller.email);
        transition::raise_priority(
            &id,
            &mut am,
            Cause::new(ctx, &caller.actor(), msg),
            &mut rows,
        );
        rows.write(txn).await?;
        Ok(am)
    })
    .await
}

const MAX_COMMENT: usize = 10_000;

fn check_comment(body: &str) -> Result<(), AppError> {
    if body.is_empty() || body.chars().count() > MAX_COMMENT {
        return Err(AppError::validation(
            "comment",
            format!("must be 1 to {MAX_COMMENT} characters"),
        ));
    }
    Ok(())
}

async fn insert_comment(
    txn: &DatabaseTransaction,
    at: DateTime<Utc>,
    alert_id: &str,
    caller: &Caller,
    body: &str,
) -> Result<alert_comment::Model, AppError> {
    Ok(alert_comment::ActiveModel {
        id: Set(new_id()),
        alert_id: Set(alert_id.to_string()),
        author_id: Set(Some(caller.user_id.clone())),
        body: Set(body.to_string()),
        created_at: Set(at),
        external_author: Set(None),
        author_label: Set(Some(caller.email.clone())),
    }
    .insert(txn)
    .await?)
}

/// Comments are allowed on resolved alerts too: notes for the post-mortem.
pub async fn comment(
    ctx: &Ctx,
    caller: &Caller,
    alert_id: &AlertId,
    body: &str,
) -> Result<alert_comment::Model, AppError> {
    let db = &ctx.db;
    let body = body.trim();
    check_comment(body)?;
    let txn = db.begin_write().await?;
    let query = alert::Entity::find_by_id(alert_id.to_string());
    let Some(model) = for_update(query, db.backend()).one(&txn).await? else {
        return Err(AppError::NotFound("alert"));
    };
    let created = insert_comment(&txn, ctx.now(), alert_id, caller, body).await?;
    let mut rows = Rows::new(ctx);
    let msg = format!("Comment by {}", caller.email);
    rows.log(alert_id, LogKind::Commented, msg, &caller.actor());
    let body = body.to_string();
    rows.sync(&model, Change::Comment { body });
    rows.write(&txn).await?;
    txn.commit().await?;
    ctx.wake_sync();
    Ok(created)
}
