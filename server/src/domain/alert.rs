//! The alert lifecycle: what an incident event or a responder's action does to an alert.
//!
//! `decide_ingest` is the one place that answers "what happens when ServiceNow says In Progress".

use sea_orm::sea_query::StringLen;
use sea_orm::{DeriveActiveEnum, EnumIter};

use super::incident::{Incident, IncidentState, PriorityMapping};

/// Stored as its name (`PENDING`, …): the derive is sea-orm's, and needs nothing of the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum AlertStatus {
    #[sea_orm(string_value = "PENDING")]
    Pending,
    #[sea_orm(string_value = "ACCEPTED")]
    Accepted,
    #[sea_orm(string_value = "RESOLVED")]
    Resolved,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Priority {
    #[sea_orm(string_value = "HIGH")]
    High,
    #[sea_orm(string_value = "LOW")]
    Low,
}

/// What an alert log entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum LogKind {
    #[sea_orm(string_value = "CREATED")]
    Created,
    #[sea_orm(string_value = "ACCEPTED")]
    Accepted,
    #[sea_orm(string_value = "RESOLVED")]
    Resolved,
    #[sea_orm(string_value = "PRIORITY_RAISED")]
    PriorityRaised,
    #[sea_orm(string_value = "REROUTED")]
    Rerouted,
    #[sea_orm(string_value = "COMMENTED")]
    Commented,
    #[sea_orm(string_value = "TICKET_UPDATED")]
    TicketUpdated,
    #[sea_orm(string_value = "ESCALATED")]
    Escalated,
    #[sea_orm(string_value = "NOTIFIED")]
    Notified,
    #[sea_orm(string_value = "NOTIFICATION_FAILED")]
    NotificationFailed,
    /// An update could not be written to the ServiceNow incident.
    #[sea_orm(string_value = "SYNC_FAILED")]
    SyncFailed,
    /// An assignment was written without `assigned_to`: no ServiceNow user has the e-mail.
    #[sea_orm(string_value = "SYNC_USER_UNMAPPED")]
    SyncUserUnmapped,
    /// Failed ServiceNow updates were queued again.
    #[sea_orm(string_value = "SYNC_RETRIED")]
    SyncRetried,
    /// The event came with the integration key a rotation replaced, within its grace period.
    #[sea_orm(string_value = "PREVIOUS_KEY_USED")]
    PreviousKeyUsed,
}

/// What the webhook answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IngestOutcome {
    Created,
    Accepted,
    Resolved,
    Updated,
    Unchanged,
}

impl IngestOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            IngestOutcome::Created => "created",
            IngestOutcome::Accepted => "accepted",
            IngestOutcome::Resolved => "resolved",
            IngestOutcome::Updated => "updated",
            IngestOutcome::Unchanged => "unchanged",
        }
    }
}

/// The part of a stored alert the lifecycle looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertSnapshot {
    pub status: AlertStatus,
    pub priority: Priority,
    pub ticket_state: i32,
    pub ticket_mod_count: Option<i64>,
    /// The routing field's value when last seen.
    pub routing_value: Option<String>,
    /// The routing field that value was read from.
    pub routing_field: Option<String>,
}

/// What an event does to an alert's routing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoutingUpdate {
    /// The value changed (`None` when cleared): a value naming another policy re-routes.
    Reroute(Option<String>),
    /// The source's routing field was set or changed since the alert's value was read: the value
    /// of the new field is recorded and the alert stays where it is; later changes re-route.
    Record(Option<String>),
}

/// Changes to the ticket fields an alert mirrors.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TicketChange {
    pub state: Option<IncidentState>,
    pub mod_count: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IngestDecision {
    /// A new incident: create a PENDING alert.
    Create { priority: Priority },
    /// An update for an incident Glidepath never saw that is not New: the alert cannot be created.
    RejectUnknown { state: IncidentState },
    /// An existing alert; every field is what changes (nothing when all are empty).
    Update {
        status: Option<AlertStatus>,
        raise_priority: bool,
        ticket: TicketChange,
        outcome: IngestOutcome,
    },
}

/// Decides what an incident event does, given the alert that exists for its sys_id (if any).
///
/// - New creates; any other state for an unknown incident is rejected.
/// - In Progress accepts a PENDING alert; Resolved, Closed and Canceled resolve; New and On Hold
///   leave the status alone. A RESOLVED alert is final.
/// - An event may raise LOW to HIGH, never lower it, and never touches a RESOLVED alert's priority.
/// - An event older than the last applied one (lower `sys_mod_count`) changes nothing, so
///   out-of-order deliveries cannot move an alert backwards; a replay changes nothing either.
pub fn decide_ingest(
    existing: Option<&AlertSnapshot>,
    incident: &Incident,
    mapping: &PriorityMapping,
) -> IngestDecision {
    let priority = mapping.map(incident.priority.as_deref());
    let Some(alert) = existing else {
        return if incident.state == IncidentState::New {
            IngestDecision::Create { priority }
        } else {
            IngestDecision::RejectUnknown {
                state: incident.state,
            }
        };
    };

    let unchanged = IngestDecision::Update {
        status: None,
        raise_priority: false,
        ticket: TicketChange::default(),
        outcome: IngestOutcome::Unchanged,
    };
    if is_stale(alert, incident) {
        return unchanged;
    }

    let status = match (alert.status, incident.state) {
        (AlertStatus::Resolved, _) => None,
        (AlertStatus::Pending, IncidentState::InProgress) => Some(AlertStatus::Accepted),
        (_, s) if s.is_terminal() => Some(AlertStatus::Resolved),
        _ => None,
    };
    let raise_priority = alert.status != AlertStatus::Resolved
        && alert.priority == Priority::Low
        && priority == Priority::High;
    let ticket = TicketChange {
        state: (alert.ticket_state != incident.state.code()).then_some(incident.state),
        mod_count: incident
            .mod_count
            .filter(|n| alert.ticket_mod_count != Some(*n)),
    };
    let outcome = match status {
        Some(AlertStatus::Accepted) => IngestOutcome::Accepted,
        Some(AlertStatus::Resolved) => IngestOutcome::Resolved,
        _ if raise_priority || ticket.state.is_some() => IngestOutcome::Updated,
        _ => IngestOutcome::Unchanged,
    };
    IngestDecision::Update {
        status,
        raise_priority,
        ticket,
        outcome,
    }
}

/// An event older than the last one applied (lower `sys_mod_count`).
pub fn is_stale(alert: &AlertSnapshot, incident: &Incident) -> bool {
    matches!((alert.ticket_mod_count, incident.mod_count), (Some(seen), Some(now)) if now < seen)
}

/// What an event does to the routing of an alert that is not RESOLVED, given the source's routing
/// `field` and the event's `value` of it; stale events change nothing. A new value of the field
/// the alert's value came from re-routes; the first value of a newly chosen field is only
/// recorded, so choosing a field does not move every open alert.
pub fn routing_update(
    alert: &AlertSnapshot,
    incident: &Incident,
    field: Option<&str>,
    value: Option<&str>,
) -> Option<RoutingUpdate> {
    if alert.status == AlertStatus::Resolved || is_stale(alert, incident) {
        return None;
    }
    if alert.routing_field.as_deref() != field {
        return Some(RoutingUpdate::Record(value.map(str::to_string)));
    }
    if field.is_none() || alert.routing_value.as_deref() == value {
        return None;
    }
    Some(RoutingUpdate::Reroute(value.map(str::to_string)))
}

/// Why a responder's action is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("the alert is resolved; a resolved alert is final")]
    Resolved,
    #[error("the alert is already accepted")]
    AlreadyAccepted,
    #[error("the alert already has HIGH priority")]
    AlreadyHigh,
    #[error("the alert is already routed to this escalation policy")]
    SamePolicy,
}

pub fn check_accept(status: AlertStatus) -> Result<(), ActionError> {
    match status {
        AlertStatus::Pending => Ok(()),
        AlertStatus::Accepted => Err(ActionError::AlreadyAccepted),
        AlertStatus::Resolved => Err(ActionError::Resolved),
    }
}

pub fn check_resolve(status: AlertStatus) -> Result<(), ActionError> {
    match status {
        AlertStatus::Resolved => Err(ActionError::Resolved),
        _ => Ok(()),
    }
}

pub fn check_raise(status: AlertStatus, priority: Priority) -> Result<(), ActionError> {
    check_resolve(status)?;
    match priority {
        Priority::High => Err(ActionError::AlreadyHigh),
        Priority::Low => Ok(()),
    }
}

pub fn check_reroute(status: AlertStatus, current: &str, target: &str) -> Result<(), ActionError> {
    check_resolve(status)?;
    if current == target {
        return Err(ActionError::SamePolicy);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn incident(state: &str, priority: &str, mod_count: i64) -> Incident {
        Incident::parse(&json!({
            "sys_id": "9d385017c611228701d22104cc95c371",
            "state": state,
            "priority": priority,
            "sys_mod_count": mod_count.to_string(),
        }))
        .unwrap()
    }

    fn alert(status: AlertStatus, priority: Priority, state: i32, m: i64) -> AlertSnapshot {
        AlertSnapshot {
            status,
            priority,
            ticket_state: state,
            ticket_mod_count: Some(m),
            routing_value: None,
            routing_field: Some("assignment_group".into()),
        }
    }

    fn decide(a: Option<&AlertSnapshot>, i: &Incident) -> IngestDecision {
        decide_ingest(a, i, &PriorityMapping::default())
    }

    fn outcome(d: IngestDecision) -> IngestOutcome {
        match d {
            IngestDecision::Update { outcome, .. } => outcome,
            other => panic!("expected an update, got {other:?}"),
        }
    }

    #[test]
    fn new_creates_and_other_states_reject_when_unknown() {
        assert_eq!(
            decide(None, &incident("1", "1", 0)),
            IngestDecision::Create {
                priority: Priority::High
            }
        );
        for s in ["2", "3", "6", "7", "8"] {
            assert!(matches!(
                decide(None, &incident(s, "3", 1)),
                IngestDecision::RejectUnknown { .. }
            ));
        }
    }

    #[test]
    fn lifecycle_on_existing_alert() {
        let pending = alert(AlertStatus::Pending, Priority::Low, 1, 0);
        assert_eq!(
            outcome(decide(Some(&pending), &incident("2", "4", 1))),
            IngestOutcome::Accepted
        );
        assert_eq!(
            outcome(decide(Some(&pending), &incident("3", "4", 1))),
            IngestOutcome::Updated
        );
        assert_eq!(
            outcome(decide(Some(&pending), &incident("1", "4", 0))),
            IngestOutcome::Unchanged
        );
        for s in ["6", "7", "8"] {
            assert_eq!(
                outcome(decide(Some(&pending), &incident(s, "4", 2))),
                IngestOutcome::Resolved
            );
        }
        let accepted = alert(AlertStatus::Accepted, Priority::Low, 2, 1);
        assert_eq!(
            outcome(decide(Some(&accepted), &incident("2", "4", 1))),
            IngestOutcome::Unchanged
        );
        let resolved = alert(AlertStatus::Resolved, Priority::Low, 6, 3);
        for s in ["1", "2", "3", "7"] {
            match decide(Some(&resolved), &incident(s, "1", 4)) {
                IngestDecision::Update {
                    status,
                    raise_priority,
                    ..
                } => {
                    assert_eq!(status, None);
                    assert!(!raise_priority);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn priority_only_rises() {
        let low = alert(AlertStatus::Pending, Priority::Low, 1, 0);
        assert!(matches!(
            decide(Some(&low), &incident("1", "2", 1)),
            IngestDecision::Update {
                raise_priority: true,
                outcome: IngestOutcome::Updated,
                ..
            }
        ));
        let high = alert(AlertStatus::Pending, Priority::High, 1, 0);
        assert!(matches!(
            decide(Some(&high), &incident("1", "5", 1)),
            IngestDecision::Update {
                raise_priority: false,
                outcome: IngestOutcome::Unchanged,
                ..
            }
        ));
    }

    #[test]
    fn older_events_change_nothing() {
        let resolved = alert(AlertStatus::Resolved, Priority::Low, 6, 3);
        assert_eq!(
            outcome(decide(Some(&resolved), &incident("2", "1", 1))),
            IngestOutcome::Unchanged
        );
        let accepted = alert(AlertStatus::Accepted, Priority::Low, 2, 5);
        assert!(matches!(
            decide(Some(&accepted), &incident("6", "1", 4)),
            IngestDecision::Update {
                status: None,
                raise_priority: false,
                outcome: IngestOutcome::Unchanged,
                ..
            }
        ));
    }

    #[test]
    fn actions() {
        assert!(check_accept(AlertStatus::Pending).is_ok());
        assert_eq!(
            check_accept(AlertStatus::Accepted),
            Err(ActionError::AlreadyAccepted)
        );
        assert_eq!(
            check_accept(AlertStatus::Resolved),
            Err(ActionError::Resolved)
        );
        assert_eq!(
            check_resolve(AlertStatus::Resolved),
            Err(ActionError::Resolved)
        );
        assert_eq!(
            check_raise(AlertStatus::Pending, Priority::High),
            Err(ActionError::AlreadyHigh)
        );
        assert_eq!(
            check_reroute(AlertStatus::Accepted, "a", "a"),
            Err(ActionError::SamePolicy)
        );
        assert!(check_reroute(AlertStatus::Accepted, "a", "b").is_ok());
    }

    #[test]
    fn routing_changes_only_on_a_new_value_of_a_live_alert() {
        use RoutingUpdate::{Record, Reroute};
        let f = Some("assignment_group");
        let i = incident("3", "5", 3);
        let mut a = alert(AlertStatus::Pending, Priority::Low, 1, 2);
        assert_eq!(routing_update(&a, &i, f, None), None);
        assert_eq!(
            routing_update(&a, &i, f, Some("g1")),
            Some(Reroute(Some("g1".to_string())))
        );
        a.routing_value = Some("g1".into());
        assert_eq!(routing_update(&a, &i, f, Some("g1")), None);
        assert_eq!(routing_update(&a, &i, f, None), Some(Reroute(None)));
        // Another field than the value came from: recorded, not re-routed.
        assert_eq!(
            routing_update(&a, &i, Some("category"), Some("g1")),
            Some(Record(Some("g1".to_string())))
        );
        assert_eq!(routing_update(&a, &i, None, None), Some(Record(None)));
        let stale = incident("3", "5", 1);
        assert_eq!(routing_update(&a, &stale, f, Some("g2")), None);
        a.status = AlertStatus::Resolved;
        assert_eq!(routing_update(&a, &i, f, Some("g2")), None);
    }
}
