//! On-call schedules: layers, overrides, who is on call and the shifts over a range.

use std::collections::HashMap;

use async_graphql::{Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{Result, User};
use crate::domain::schedule::{OverrideKind, Shift as DomainShift, Source, TurnUnit};
use crate::entity::{schedule, schedule_layer, schedule_override};
use crate::error::AppError;
use crate::graphql::ContextExt;
use crate::graphql::error::gql;
use crate::service::{Ctx, schedules, users};

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "TurnUnit", remote = "TurnUnit")]
pub enum TurnUnitGql {
    Hours,
    Days,
    Weeks,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "OverrideKind", remote = "OverrideKind")]
pub enum OverrideKindGql {
    /// Takes over from whoever is on call.
    Replace,
    /// On call beside whoever is.
    Add,
}

/// A window of local time in which a restricted layer applies.
#[derive(SimpleObject)]
pub struct RestrictionWindow {
    /// 1 (Monday) to 7 (Sunday): the days the window opens on.
    days: Vec<i32>,
    /// `HH:MM`, local time.
    start: String,
    /// `HH:MM`; at or before `start` means the next day (`18:00`–`08:00` is a night).
    end: String,
}

pub struct Schedule(pub schedule::Model);

#[Object]
impl Schedule {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// IANA time zone: hand-offs and restriction windows are on its wall clock.
    async fn time_zone(&self) -> &str {
        &self.0.time_zone
    }
    /// Bottom first: a later layer wins where both apply.
    async fn layers(&self, ctx: &async_graphql::Context<'_>) -> Result<Vec<ScheduleLayer>> {
        gql(async move {
            let layers = schedules::layers(&ctx.state()?.ctx.db.read, &self.0.id).await?;
            Ok(layers.into_iter().map(ScheduleLayer).collect())
        })
        .await
    }
    /// Overrides that overlap `[from, to)` (at most 31 days), in the order they were made.
    async fn overrides(
        &self,
        ctx: &async_graphql::Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ScheduleOverride>> {
        gql(async move {
            schedules::check_range(from, to)?;
            let found =
                schedules::overrides(&ctx.state()?.ctx.db.read, &self.0.id, from, to).await?;
            Ok(found.into_iter().map(ScheduleOverride).collect())
        })
        .await
    }
    /// Who is on call now, each with the end of their unbroken time on call (null: more than
    /// 31 days away).
    #[graphql(complexity = "super::SHIFTS_COST + child_complexity")]
    async fn on_call_now(&self, ctx: &async_graphql::Context<'_>) -> Result<Vec<OnCallNow>> {
        gql(async move {
            let c = &ctx.state()?.ctx;
            let found = schedules::on_call_now(&c.db, &self.0.id, c.now()).await?;
            let ids: Vec<String> = found.iter().map(|(u, _)| u.clone()).collect();
            let people = people(c, &ids).await?;
            Ok(found
                .into_iter()
                .filter_map(|(id, until)| {
                    people.get(&id).map(|u| OnCallNow {
                        user: User(u.clone()),
                        until,
                    })
                })
                .collect())
        })
        .await
    }
    /// The final shifts (layers, restrictions and overrides applied) over `[from, to)`, at most
    /// 31 days.
    #[graphql(complexity = "super::SHIFTS_COST + child_complexity")]
    async fn shifts(
        &self,
        ctx: &async_graphql::Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Shift>> {
        gql(async move {
            let c = &ctx.state()?.ctx;
            let found = schedules::shifts(&c.db, &self.0.id, from, to, None).await?;
            shifts_out(c, found).await
        })
        .await
    }
}

pub struct ScheduleLayer(pub schedule_layer::Model);

#[Object]
impl ScheduleLayer {
    /// 1 for the bottom layer.
    async fn position(&self) -> i32 {
        self.0.position + 1
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// In the order they take turns.
    async fn users(&self, ctx: &async_graphql::Context<'_>) -> Result<Vec<User>> {
        gql(async move {
            let ids = schedules::layer_users(&self.0);
            let people = people(&ctx.state()?.ctx, &ids).await?;
            Ok(ids
                .iter()
                .filter_map(|id| people.get(id).cloned().map(User))
                .collect())
        })
        .await
    }
    /// Local date and time of the first hand-off, `YYYY-MM-DDTHH:MM`.
    async fn start(&self) -> &str {
        &self.0.start_local
    }
    async fn turn_unit(&self) -> Result<TurnUnitGql> {
        Ok(match self.0.turn_unit.as_str() {
            "HOURS" => TurnUnitGql::Hours,
            "DAYS" => TurnUnitGql::Days,
            _ => TurnUnitGql::Weeks,
        })
    }
    async fn turn_count(&self) -> i32 {
        self.0.turn_count
    }
    /// Empty: the layer applies all the time.
    async fn restrictions(&self) -> Vec<RestrictionWindow> {
        schedules::layer_restrictions(&self.0)
            .into_iter()
            .map(|w| RestrictionWindow {
                days: w.days.into_iter().map(i32::from).collect(),
                start: w.start,
                end: w.end,
            })
            .collect()
    }
    /// This layer's own shifts over `[from, to)` (restrictions applied, no overrides), at most
    /// 31 days.
    #[graphql(complexity = "super::SHIFTS_COST + child_complexity")]
    async fn shifts(
        &self,
        ctx: &async_graphql::Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Shift>> {
        gql(async move {
            let c = &ctx.state()?.ctx;
            let position = usize::try_from(self.0.position).unwrap_or(0);
            let found =
                schedules::shifts(&c.db, &self.0.schedule_id, from, to, Some(position)).await?;
            shifts_out(c, found).await
        })
        .await
    }
}

pub struct ScheduleOverride(pub schedule_override::Model);

#[Object]
impl ScheduleOverride {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn user(&self, ctx: &async_graphql::Context<'_>) -> Result<Option<User>> {
        gql(async move {
            Ok(users::get(&ctx.state()?.ctx.db, &self.0.user_id)
                .await?
                .map(User))
        })
        .await
    }
    async fn kind(&self) -> OverrideKindGql {
        schedules::parse_kind(&self.0.kind).into()
    }
    async fn start(&self) -> DateTime<Utc> {
        self.0.starts_at
    }
    async fn end(&self) -> DateTime<Utc> {
        self.0.ends_at
    }
}

#[derive(SimpleObject)]
pub struct OnCallNow {
    user: User,
    /// When this stretch on call ends; null when more than 31 days away.
    until: Option<DateTime<Utc>>,
}

/// A user on call without a break, for one reason, from `start` to `end` (exclusive).
#[derive(SimpleObject)]
pub struct Shift {
    user: User,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// The layer (1 for the bottom one) that puts the user on call; null for an override.
    layer: Option<i32>,
}

/// One of a user's shifts, with its schedule.
#[derive(SimpleObject)]
pub struct UserShift {
    schedule: Schedule,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    layer: Option<i32>,
}

/// Someone an escalation policy's level reaches now.
#[derive(SimpleObject)]
pub struct OnCallEntry {
    /// 1-based.
    level: i32,
    user: User,
    /// The schedule that puts the user on call; null for a user the level names directly.
    schedule: Option<Schedule>,
}

impl OnCallEntry {
    pub fn new(
        level: i32,
        user: crate::entity::user::Model,
        schedule: Option<schedule::Model>,
    ) -> Self {
        OnCallEntry {
            level,
            user: User(user),
            schedule: schedule.map(Schedule),
        }
    }
}

impl UserShift {
    pub fn new(schedule: schedule::Model, shift: DomainShift) -> Self {
        UserShift {
            schedule: Schedule(schedule),
            start: shift.start,
            end: shift.end,
            layer: layer_number(shift.source),
        }
    }
}

async fn people(
    c: &Ctx,
    ids: &[String],
) -> std::result::Result<HashMap<String, crate::entity::user::Model>, AppError> {
    Ok(users::get_many(&c.db, ids)
        .await?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect())
}

async fn shifts_out(c: &Ctx, found: Vec<DomainShift>) -> std::result::Result<Vec<Shift>, AppError> {
    let mut ids: Vec<String> = found.iter().map(|s| s.user.clone()).collect();
    ids.sort();
    ids.dedup();
    let people = people(c, &ids).await?;
    Ok(found
        .into_iter()
        .filter_map(|s| {
            let user = people.get(&s.user)?.clone();
            Some(Shift {
                user: User(user),
                start: s.start,
                end: s.end,
                layer: layer_number(s.source),
            })
        })
        .collect())
}

fn layer_number(source: Source) -> Option<i32> {
    match source {
        Source::Layer(i) => i32::try_from(i + 1).ok(),
        Source::Override(_) => None,
    }
}
