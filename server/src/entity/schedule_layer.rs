//! The `schedule_layers` table: one rotation of a schedule.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "schedule_layers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub schedule_id: String,
    /// 0 is the bottom layer; a higher one wins where both apply.
    pub position: i32,
    pub name: String,
    /// The local date and time of the first hand-off, `YYYY-MM-DDTHH:MM`.
    pub start_local: String,
    /// `HOURS`, `DAYS` or `WEEKS`.
    pub turn_unit: String,
    pub turn_count: i32,
    /// A JSON array of user ids, in the order they take turns.
    pub user_ids: String,
    /// A JSON array of `{"days":[..],"start":"HH:MM","end":"HH:MM"}` (days 1 = Monday … 7).
    pub restrictions: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
