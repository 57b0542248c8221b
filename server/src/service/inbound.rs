//! What ServiceNow says about an incident, however it arrives: the business rule's webhook post or
//! the reconciliation poll's read. Both hand the event to [`apply`], which absorbs the echo of
//! Glidepath's own update, names the people the event mentions, and ingests it
//! (`alerts::ingest`). The webhook first asks [`webhook_source`] whether the request may post to
//! the source its integration key names.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::alerts::{self, IngestEvent, IngestResult};
use super::source_events::{self, Received};
use super::{log, people, sources, sync};
use crate::db::event_counts::Counted;
use crate::domain::webhook_auth::WebhookAuthKind;
use crate::domain::{Incident, IngestOutcome};
use crate::entity::{alert_source, servicenow_connection};
use crate::error::AppError;
use crate::service::Ctx;

/// The alert source a webhook request may post to.
pub struct WebhookSource {
    pub source: alert_source::Model,
    pub connection: Option<servicenow_connection::Model>,
    /// The request used the previous integration key, whose grace period ends then: ServiceNow
    /// still posts to the old URL ([`WebhookSource::key_note`]).
    pub previous_key_until: Option<DateTime<Utc>>,
}

impl WebhookSource {
    /// For an event that came with the previous integration key: says so in the server's log,
    /// and returns the line for the log of the alert the event reaches.
    pub fn key_note(&self) -> Option<String> {
        let valid_until = self.previous_key_until?;
        tracing::info!(
            alert_source = %self.source.id,
            %valid_until,
            "webhook event received with the previous integration key"
        );
        Some(log::previous_key_message(valid_until))
    }
}

/// Why a webhook request is refused before its body is read.
pub enum Refused {
    /// No alert source has this integration key (or its grace period ended).
    UnknownKey,
    /// The source requires webhook credentials and the request lacks them; `kind` names the scheme
    /// the challenge asks for.
    Unauthorized {
        reason: &'static str,
        kind: WebhookAuthKind,
        /// The source the key names: the refusal is counted on it.
        source_id: String,
    },
}

/// The source whose integration key is `key`, if `authorization` satisfies its webhook
/// authentication. One read.
pub async fn webhook_source(
    ctx: &Ctx,
    key: &str,
    authorization: Option<&str>,
) -> Result<Result<WebhookSource, Refused>, AppError> {
    let cipher = &*ctx.cipher;
    let found = if key.len() <= 128 {
        sources::by_integration_key(ctx, key).await?
    } else {
        None
    };
    let Some((source, connection, key_used)) = found else {
        return Ok(Err(Refused::UnknownKey));
    };
    if let Err(reason) = sources::check_webhook_auth(cipher, &source, authorization)? {
        let kind = sources::webhook_auth_kind(&source)?;
        return Ok(Err(Refused::Unauthorized {
            reason,
            kind,
            source_id: source.id.clone(),
        }));
    }
    let previous_key_until = match key_used {
        sources::KeyUsed::Current => None,
        sources::KeyUsed::Previous { valid_until } => Some(valid_until),
    };
    Ok(Ok(WebhookSource {
        source,
        connection,
        previous_key_until,
    }))
}

/// One incident event for [`apply`].
pub struct Event<'a> {
    pub source: &'a alert_source::Model,
    pub connection: Option<&'a servicenow_connection::Model>,
    pub incident: Incident,
    /// The whole payload: the routing field is read from it.
    pub body: &'a Value,
    /// A line for the log of the alert the event reaches ([`WebhookSource::key_note`]).
    pub key_note: Option<String>,
    /// Set for a webhook event: it is counted on its source ([`source_events`]).
    pub received: Option<Received>,
}

/// What an event came to.
pub enum Outcome {
    /// The echo of Glidepath's own update: nothing to apply, nothing to send.
    Echo { alert_id: String },
    Applied {
        outcome: IngestOutcome,
        alert_id: String,
    },
    /// An update (not New) for an incident that has no alert.
    UnknownIncident,
}

/// Applies one incident event: the echo of Glidepath's own update changes nothing; otherwise the
/// people it names are mapped (before the writing transaction) and the alert is created or
/// updated.
pub async fn apply(ctx: &Ctx, event: Event<'_>) -> Result<Outcome, AppError> {
    let db = &ctx.db;
    let Event {
        source,
        connection,
        mut incident,
        body,
        key_note,
        received,
    } = event;
    if let Some(alert_id) = sync::absorb_echo(db, connection, &incident).await? {
        if let Some(note) = key_note {
            alerts::note_event(ctx, &alert_id, note, &incident).await?;
        }
        if let Some(received) = &received {
            let count = received.count(&source.id, Counted::Unchanged, None);
            source_events::record(ctx, count).await;
        }
        return Ok(Outcome::Echo { alert_id });
    }
    let assignee = people::map_inbound(ctx, &source.id, connection, &mut incident).await?;
    let event = IngestEvent {
        source,
        connection,
        incident: &incident,
        assignee: assignee.as_ref(),
        body,
        key_note,
        received,
    };
    Ok(match alerts::ingest(ctx, event).await? {
        IngestResult::Applied { outcome, alert_id } => Outcome::Applied { outcome, alert_id },
        IngestResult::UnknownIncident => Outcome::UnknownIncident,
    })
}
