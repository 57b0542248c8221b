//! The incident update Glidepath queues for ServiceNow, as stored in
//! `servicenow_sync_updates.payload` and sent by the sync worker: the incident fields it writes,
//! and the Glidepath user to assign, mapped to a `sys_user` only when it is sent.
//!
//! Members are declared in the order of their JSON keys, so the stored text and the body of the
//! PATCH keep the sorted keys they have always had.

use serde::{Deserialize, Serialize};

use crate::domain::IncidentState;
use crate::entity::user;

/// The Glidepath user an update assigns the incident to (mapped to a `sys_user` by e-mail when
/// it is sent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    pub email: String,
    #[serde(rename = "userId")]
    pub id: String,
}

impl UserRef {
    pub fn of(u: &user::Model) -> UserRef {
        UserRef {
            id: u.id.clone(),
            email: u.email.clone(),
        }
    }
}

/// One queued update: `{"assignTo": {"email", "userId"}, "fields": {...}}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentPatch {
    #[serde(rename = "assignTo", default, skip_serializing_if = "Option::is_none")]
    pub assign_to: Option<UserRef>,
    #[serde(default)]
    pub fields: IncidentFields,
}

/// The incident fields an update writes; those left `None` are not sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IncidentFields {
    /// Set only when the update is sent: the `sys_user` that [`IncidentPatch::assign_to`] maps to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignment_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<String>,
    /// The incident state's code (`"2"`, `"6"`), as the choice list stores it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urgency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub work_notes: Option<String>,
}

impl IncidentFields {
    pub fn set_state(&mut self, state: IncidentState) {
        self.state = Some(state.code().to_string());
    }

    /// The state code this update writes, if it writes one.
    pub fn written_state(&self) -> Option<i32> {
        self.state.as_deref().and_then(|s| s.parse::<i32>().ok())
    }

    pub fn is_empty(&self) -> bool {
        *self == IncidentFields::default()
    }
}

impl IncidentPatch {
    /// The text stored in the outbox row.
    pub fn to_stored(&self) -> String {
        serde_json::to_value(self)
            .map(|v| v.to_string())
            .unwrap_or_default()
    }

    /// A stored update, or why it cannot be sent (it will never become sendable by waiting).
    pub fn from_stored(raw: &str) -> Result<IncidentPatch, String> {
        serde_json::from_str(raw).map_err(|e| {
            if e.is_data() {
                format!("the stored update is not an incident update: {e}")
            } else {
                format!("the stored update is not JSON: {e}")
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_keeps_its_keys_and_their_order() {
        let patch = IncidentPatch {
            assign_to: Some(UserRef {
                id: "0190".into(),
                email: "ann@example.com".into(),
            }),
            fields: IncidentFields {
                state: Some("2".into()),
                ..IncidentFields::default()
            },
        };
        let stored = patch.to_stored();
        assert_eq!(
            stored,
            r#"{"assignTo":{"email":"ann@example.com","userId":"0190"},"fields":{"state":"2"}}"#
        );
        assert_eq!(IncidentPatch::from_stored(&stored), Ok(patch));
        let mut resolve = IncidentFields::default();
        resolve.set_state(IncidentState::Resolved);
        resolve.close_code = Some("Solved (Permanently)".into());
        resolve.close_notes = Some("done".into());
        let stored = IncidentPatch {
            assign_to: None,
            fields: resolve,
        }
        .to_stored();
        assert_eq!(
            stored,
            r#"{"fields":{"close_code":"Solved (Permanently)","close_notes":"done","state":"6"}}"#
        );
        let assign_only = IncidentPatch {
            assign_to: Some(UserRef {
                id: "1".into(),
                email: "b@example.com".into(),
            }),
            fields: IncidentFields::default(),
        };
        assert_eq!(
            assign_only.to_stored(),
            r#"{"assignTo":{"email":"b@example.com","userId":"1"},"fields":{}}"#
        );
    }

    #[test]
    fn unreadable_updates_say_why() {
        let not_json = IncidentPatch::from_stored("{not json").unwrap_err();
        assert!(
            not_json.starts_with("the stored update is not JSON"),
            "{not_json}"
        );
        let wrong = IncidentPatch::from_stored(r#"{"fields":{"state":2}}"#).unwrap_err();
        assert!(wrong.contains("not an incident update"), "{wrong}");
        assert_eq!(
            IncidentPatch::from_stored("{}"),
            Ok(IncidentPatch::default())
        );
    }
}
