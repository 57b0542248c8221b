//! The `alerts` table.

use sea_orm::entity::prelude::*;

use crate::domain::{AlertStatus, Priority};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alerts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub alert_source_id: String,
    pub alert_key: String,
    pub summary: String,
    pub details: Option<String>,
    pub status: AlertStatus,
    pub priority: Priority,
    pub escalation_policy_id: String,
    pub assigned_to_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub accepted_at: Option<DateTimeUtc>,
    pub resolved_at: Option<DateTimeUtc>,
    pub ticket_number: Option<String>,
    pub ticket_state: i32,
    pub ticket_url: Option<String>,
    pub ticket_mod_count: Option<i64>,
    /// 0 before the first step, else the 1-based level last reached.
    pub escalation_level: i32,
    /// 0 for the first walk through the policy's levels, 1 for the first repeat, …
    pub escalation_round: i32,
    /// When the next step is due; `None` once escalation stopped or ended.
    pub next_escalation_at: Option<DateTimeUtc>,
    /// The incident's value of the source's routing field when last seen; a change re-routes.
    pub routing_value: Option<String>,
    /// The routing field `routing_value` was read from; while it differs from the source's
    /// current field, an event records the new value without re-routing.
    pub routing_field: Option<String>,
    /// The incident's `assigned_to` (a `sys_user` sys_id) when last seen; another one is logged
    /// as an assignment made in ServiceNow.
    pub ticket_assignee: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
