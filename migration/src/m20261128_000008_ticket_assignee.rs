//! `alerts.ticket_assignee`: the incident's `assigned_to` (a `sys_user` sys_id) when last seen,
//! so an event that carries another one is logged once as an assignment made in ServiceNow.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let alter = Table::alter()
            .table(Alerts::Table)
            .add_column(ColumnDef::new(Alerts::TicketAssignee).string_len(32).null())
            .to_owned();
        manager.alter_table(alter).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let alter = Table::alter()
            .table(Alerts::Table)
            .drop_column(Alerts::TicketAssignee)
            .to_owned();
        manager.alter_table(alter).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Alerts {
    Table,
    TicketAssignee,
}
