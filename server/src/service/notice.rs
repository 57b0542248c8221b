//! What a notification tells its recipient, read when it is sent (not when it is queued): the
//! alert as it is then, its source and policy, the last lines of its log, and the links the
//! recipient may follow (the alert in Glidepath; accept and resolve, signed for them, see
//! [`super::action_links`]). The delivery worker turns a [`Notice`] into an e-mail.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveEnum, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use super::action_links::{self, LinkAction};
use crate::domain::AlertStatus;
use crate::entity::{alert, alert_log, alert_source, escalation_policy, notification, user};
use crate::error::AppError;
use crate::service::Ctx;
use crate::service::notifications::Event;

/// Log lines a notification shows, the newest last.
pub const LOG_LINES: u64 = 5;

#[derive(Clone, Debug, Serialize)]
pub struct LogLine {
    pub at: String,
    pub kind: String,
    pub actor: String,
    pub message: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Links {
    pub alert: String,
    pub accept: Option<String>,
    pub resolve: Option<String>,
}

/// Everything the e-mail templates show. Text only: the templates escape it.
#[derive(Clone, Debug, Serialize)]
pub struct Notice {
    /// ESCALATED, ACCEPTED or RESOLVED.
    pub event: String,
    /// "escalated to you (level 2)", "accepted by a@example.com", …
    pub headline: String,
    pub subject: String,
    pub alert_id: String,
    pub summary: String,
    pub details: Option<String>,
    pub priority: String,
    pub status: String,
    pub ticket_number: Option<String>,
    pub ticket_url: Option<String>,
    pub source: String,
    pub policy: String,
    pub level: i32,
    pub created_at: String,
    pub log: Vec<LogLine>,
    pub links: Links,
    /// Who caused the event: `{ "kind": "USER" | "SERVICENOW" | "SYSTEM", "label": … }`.
    pub actor: serde_json::Value,
    /// A DIGEST: what each folded notification said, oldest first (empty otherwise).
    pub digest: Vec<String>,
}

/// The version of the webhook body ([`Notice::webhook_body`]); a change that is not only an added
/// field gets a new one.
pub const WEBHOOK_VERSION: u32 = 1;

impl Notice {
    /// The JSON body a WEBHOOK rule receives (version [`WEBHOOK_VERSION`], documented in the
    /// README). `delivery_id` is the same on every retry of one delivery, so a receiver can drop
    /// duplicates.
    pub fn webhook_body(&self, delivery_id: &str, occurred_at: DateTime<Utc>) -> serde_json::Value {
        serde_json::json!({
            "version": WEBHOOK_VERSION,
            "id": delivery_id,
            "event": self.event,
            "message": format!("Alert {}", self.headline),
            "occurredAt": occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "alert": {
                "id": self.alert_id,
                "summary": self.summary,
                "details": self.details,
                "priority": self.priority,
                "status": self.status,
                "ticketNumber": self.ticket_number,
                "ticketUrl": self.ticket_url,
                "source": self.source,
                "policy": self.policy,
                "level": self.level,
                "links": self.links,
            },
            "actor": self.actor,
            "digest": self.digest,
        })
    }
}

impl Notice {
    /// The notice of a digest: what `folded` (the notifications held back during a minute) said,
    /// in the headline and subject; the rest is the alert as it is now.
    pub fn into_digest(mut self, folded: &[notification::Model]) -> Notice {
        let lines: Vec<String> = folded
            .iter()
            .map(|f| {
                let payload: serde_json::Value =
                    serde_json::from_str(&f.payload).unwrap_or_default();
                payload["message"]
                    .as_str()
                    .unwrap_or(f.event.as_str())
                    .trim_start_matches("Alert ")
                    .to_string()
            })
            .collect();
        let count = lines.len();
        self.headline = one_line(
            &format!(
                "{count} update{} in the last minute: {}",
                if count == 1 { "" } else { "s" },
                lines.join("; ")
            ),
            400,
        );
        let base = self
            .subject
            .rsplit_once(" — ")
            .map(|(base, _)| base.to_string())
            .unwrap_or_else(|| self.subject.clone());
        self.subject = format!(
            "{base} — {count} update{}",
            if count == 1 { "" } else { "s" }
        );
        self.event = super::notifications::DIGEST.into();
        self.digest = lines;
        self
    }
}

/// One line of text: control characters (a line break in a summary could start a new mail header
/// or forge a line of the body) become spaces, and long text is cut.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max_chars {
        let mut cut: String = flat.chars().take(max_chars.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        flat
    }
}

/// The headline of an event: what happened, from the recipient's side.
pub fn headline(event: Event, level: i32, actor: &str) -> String {
    match event {
        Event::Escalated => format!("escalated to you (level {level})"),
        Event::Accepted => format!("accepted by {actor}"),
        Event::Resolved => format!("resolved by {actor}"),
    }
}

/// `[HIGH] INC0010042 Core router packet loss — escalated to you (level 2)`: one line, at most
/// about 200 characters, whatever the summary holds.
pub fn subject(alert: &alert::Model, headline: &str) -> String {
    let mut s = format!("[{}] ", alert.priority.to_value());
    if let Some(number) = alert.ticket_number.as_deref().filter(|n| !n.is_empty()) {
        s.push_str(&one_line(number, 40));
        s.push(' ');
    }
    s.push_str(&one_line(&alert.summary, 120));
    s.push_str(" — ");
    s.push_str(&one_line(headline, 80));
    s
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The notice of delivery `n`, as of now; `None` when its alert is gone.
pub async fn for_delivery(
    ctx: &Ctx,
    public_url: &url::Url,
    n: &notification::Model,
) -> Result<Option<Notice>, AppError> {
    let db = &ctx.db;
    let Some(alert) = alert::Entity::find_by_id(n.alert_id.clone())
        .one(&db.read)
        .await?
    else {
        return Ok(None);
    };
    let source = alert_source::Entity::find_by_id(alert.alert_source_id.clone())
        .one(&db.read)
        .await?
        .map(|s| s.name)
        .unwrap_or_else(|| "(deleted source)".into());
    let policy = escalation_policy::Entity::find_by_id(alert.escalation_policy_id.clone())
        .one(&db.read)
        .await?
        .map(|p| p.name)
        .unwrap_or_else(|| "(deleted policy)".into());
    let mut log: Vec<LogLine> = alert_log::Entity::find()
        .filter(alert_log::Column::AlertId.eq(alert.id.as_str()))
        .order_by_desc(alert_log::Column::Id)
        .limit(LOG_LINES)
        .all(&db.read)
        .await?
        .into_iter()
        .map(|l| LogLine {
            at: when(l.created_at),
            kind: l.kind.to_value(),
            actor: l.actor_label,
            message: one_line(&l.message, 300),
        })
        .collect();
    log.reverse();

    let payload: serde_json::Value = serde_json::from_str(&n.payload).unwrap_or_default();
    let level = payload["level"]
        .as_i64()
        .and_then(|l| i32::try_from(l).ok())
        .unwrap_or(alert.escalation_level);
    let actor = payload["actor"]["label"]
        .as_str()
        .unwrap_or("someone")
        .to_string();
    let actor_json = serde_json::json!({
        "kind": payload["actor"]["kind"].as_str().unwrap_or("SYSTEM"),
        "label": actor,
    });
    let event = match n.event.as_str() {
        "ACCEPTED" => Event::Accepted,
        "RESOLVED" => Event::Resolved,
        _ => Event::Escalated,
    };
    let headline = headline(event, level, &actor);

    let base = public_url.as_str().trim_end_matches('/');
    // Links only for a recipient who is a user with an enabled account; accept only while the
    // alert waits for someone, resolve until it is resolved.
    let recipient = match &n.user_id {
        Some(id) => user::Entity::find_by_id(id.clone())
            .one(&db.read)
            .await?
            .filter(|u| !u.disabled),
        None => None,
    };
    let link = |action| {
        recipient.as_ref().map(|u| {
            format!(
                "{base}/act/{}",
                action_links::issue(ctx, action, &alert.id, &u.id)
            )
        })
    };
    let links = Links {
        alert: format!("{base}/alerts/{}", alert.id),
        accept: (alert.status == AlertStatus::Pending)
            .then(|| link(LinkAction::Accept))
            .flatten(),
        resolve: (alert.status != AlertStatus::Resolved)
            .then(|| link(LinkAction::Resolve))
            .flatten(),
    };
    Ok(Some(Notice {
        event: event.as_str().into(),
        subject: subject(&alert, &headline),
        headline,
        alert_id: alert.id.clone(),
        summary: one_line(&alert.summary, 500),
        details: alert.details.clone().filter(|d| !d.trim().is_empty()),
        priority: alert.priority.to_value(),
        status: alert.status.to_value(),
        ticket_number: alert.ticket_number.clone(),
        // Shown as a link only when it is a web address (it comes from the incident event).
        ticket_url: alert
            .ticket_url
            .clone()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
        source,
        policy,
        level,
        created_at: when(alert.created_at),
        log,
        links,
        actor: actor_json,
        digest: Vec::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_flattens_control_characters_and_cuts() {
        assert_eq!(
            one_line("Disk\r\nBcc: x@example.com\tfull", 100),
            "Disk Bcc: x@example.com full"
        );
        assert_eq!(one_line("abcdef", 4), "abc…");
    }
}
