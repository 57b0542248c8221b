//! The `calendar_feeds` table: the secret of each iCalendar feed, as a SHA-256 hash.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "calendar_feeds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `SCHEDULE` or `USER`.
    pub kind: String,
    /// The schedule's or the user's id.
    pub owner_id: String,
    /// Hex SHA-256 of the token in the feed's URL.
    pub token_hash: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
