//! The `alert_comments` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_comments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub alert_id: String,
    pub author_id: Option<String>,
    pub body: String,
    pub created_at: DateTimeUtc,
    /// The ServiceNow user who wrote an imported comment when no Glidepath user matches them.
    pub external_author: Option<String>,
    /// The author's e-mail when the comment was written; kept when the author is deleted.
    pub author_label: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
