//! On-call schedules: storage of schedules, their layers and overrides, and the questions asked
//! of them (who is on call now, the shifts over a range, a user's shifts), answered by
//! `domain::schedule` from what is stored.
//!
//! Choices where the issue is silent, as PagerDuty and Opsgenie users expect them:
//! - Layers are given with their schedule, in a whole list: updating a schedule replaces them
//!   (add, change or remove a layer by sending the list as it should be).
//! - Shifts are asked for over at most [`MAX_RANGE_DAYS`] days.
//! - A disabled or deleted user is never on call: their turns leave the layer below showing
//!   through, and their overrides count for nothing.
//! - An override is made by an ADMIN, or by the user it replaces (a REPLACE override over a range
//!   in which they are on call throughout); the creator or an ADMIN may delete it.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};

use super::{Caller, new_id};
use crate::db::{Db, for_update};
use crate::domain::Role;
use crate::domain::schedule::{
    Layer, OnCall, Override, OverrideKind, Schedule, Shift, Turn, TurnUnit, Window,
};
use crate::entity::{
    calendar_feed, escalation_policy, escalation_rule, escalation_rule_schedule, schedule,
    schedule_layer, schedule_override, user,
};
use crate::error::AppError;
use crate::service::Ctx;

/// Longest range one `shifts` question may cover.
pub const MAX_RANGE_DAYS: i64 = 31;
pub const MAX_LAYERS: usize = 10;
pub const MAX_LAYER_USERS: usize = 50;
pub const MAX_RESTRICTIONS: usize = 14;
/// Longest override.
pub const MAX_OVERRIDE_DAYS: i64 = 92;
/// How far `onCallNow` looks ahead for the end of a shift.
pub const UNTIL_HORIZON_DAYS: i64 = MAX_RANGE_DAYS;

/// A restriction window as stored and as given: days 1 (Monday) to 7 (Sunday), times `HH:MM`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct WindowSpec {
    pub days: Vec<u8>,
    pub start: String,
    pub end: String,
}

pub struct NewLayer {
    pub name: String,
    pub user_ids: Vec<String>,
    /// Local date and time of the first hand-off, `YYYY-MM-DDTHH:MM`.
    pub start: String,
    pub turn_unit: TurnUnit,
    pub turn_count: i32,
    pub restrictions: Vec<WindowSpec>,
}

pub struct NewSchedule {
    pub name: String,
    pub time_zone: String,
    pub layers: Vec<NewLayer>,
}

pub struct NewOverride {
    pub user_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub kind: OverrideKind,
}

pub fn unit_name(unit: TurnUnit) -> &'static str {
    match unit {
        TurnUnit::Hours => "HOURS",
        TurnUnit::Days => "DAYS",
        TurnUnit::Weeks => "WEEKS",
    }
}

fn parse_unit(s: &str) -> Option<TurnUnit> {
    match s {
        "HOURS" => Some(TurnUnit::Hours),
        "DAYS" => Some(TurnUnit::Days),
        "WEEKS" => Some(TurnUnit::Weeks),
        _ => None,
    }
}

pub fn kind_name(kind: OverrideKind) -> &'static str {
    match kind {
        OverrideKind::Replace => "REPLACE",
        OverrideKind::Add => "ADD",
    }
}

pub fn parse_kind(s: &str) -> OverrideKind {
    if s == "ADD" {
        OverrideKind::Add
    } else {
        OverrideKind::Replace
    }
}

pub fn parse_tz(field: &str, s: &str) -> Result<Tz, AppError> {
    s.trim()
        .parse::<Tz>()
        .map_err(|_| AppError::validation(field, "must be an IANA time zone such as Europe/Berlin"))
}

const LOCAL_FORMAT: &str = "%Y-%m-%dT%H:%M";

pub fn parse_local(field: &str, s: &str) -> Result<NaiveDateTime, AppError> {
    let t = NaiveDateTime::parse_from_str(s.trim(), LOCAL_FORMAT).map_err(|_| {
        AppError::validation(field, "must be a local date and time YYYY-MM-DDTHH:MM")
    })?;
    let year = chrono::Datelike::year(&t);
    if !(1970..=2200).contains(&year) {
        return Err(AppError::validation(field, "must be between 1970 and 2200"));
    }
    Ok(t)
}

fn parse_time(field: &str, s: &str) -> Result<NaiveTime, AppError> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M")
        .map_err(|_| AppError::validation(field, "must be a time of day HH:MM"))
}

fn window(field: &str, w: &WindowSpec) -> Result<Window, AppError> {
    if w.days.is_empty() || w.days.iter().any(|d| !(1..=7).contains(d)) {
        return Err(AppError::validation(
            format!("{field}.days"),
            "must list days 1 (Monday) to 7 (Sunday)",
        ));
    }
    Ok(Window {
        days: w.days.iter().fold(0u8, |m, d| m | (1 << (d - 1))),
        start: parse_time(&format!("{field}.start"), &w.start)?,
        end: parse_time(&format!("{field}.end"), &w.end)?,
    })
}

fn max_count(unit: TurnUnit) -> i32 {
    match unit {
        TurnUnit::Hours => 24 * 90,
        TurnUnit::Days => 365,
        TurnUnit::Weeks => 52,
    }
}

/// The input checked: (name, time zone name).
async fn validate(db: &Db, input: &NewSchedule) -> Result<(String, String), AppError> {
    let name = input.name.trim().to_string();
    if name.is_empty() || name.len() > 200 {
        return Err(AppError::validation("name", "must be 1 to 200 characters"));
    }
    let tz = parse_tz("timeZone", &input.time_zone)?;
    if input.layers.is_empty() || input.layers.len() > MAX_LAYERS {
        return Err(AppError::validation(
            "layers",
            format!("a schedule needs 1 to {MAX_LAYERS} layers"),
        ));
    }
    for (i, layer) in input.layers.iter().enumerate() {
        let field = |f: &str| format!("layers[{i}].{f}");
        let lname = layer.name.trim();
        if lname.is_empty() || lname.len() > 200 {
            return Err(AppError::validation(
                field("name"),
                "must be 1 to 200 characters",
            ));
        }
        if layer.user_ids.is_empty() || layer.user_ids.len() > MAX_LAYER_USERS {
            return Err(AppError::validation(
                field("userIds"),
                format!("a layer needs 1 to {MAX_LAYER_USERS} users"),
            ));
        }
        let unique: HashSet<&String> = layer.user_ids.iter().collect();
        if unique.len() != layer.user_ids.len() {
            return Err(AppError::validation(
                field("userIds"),
                "a user appears twice",
            ));
        }
        let found = user::Entity::find()
            .filter(user::Column::Id.is_in(layer.user_ids.iter().cloned()))
            .all(&db.read)
            .await?;
        if found.len() != layer.user_ids.len() {
            return Err(AppError::validation(
                field("userIds"),
                "names a user that does not exist",
            ));
        }
        parse_local(&field("start"), &layer.start)?;
        let max = max_count(layer.turn_unit);
        if !(1..=max).contains(&layer.turn_count) {
            return Err(AppError::validation(
                field("turnCount"),
                format!("must be between 1 and {max}"),
            ));
        }
        if layer.restrictions.len() > MAX_RESTRICTIONS {
            return Err(AppError::validation(
                field("restrictions"),
                format!("at most {MAX_RESTRICTIONS}"),
            ));
        }
        for (j, w) in layer.restrictions.iter().enumerate() {
            window(&field(&format!("restrictions[{j}]")), w)?;
        }
    }
    Ok((name, tz.name().to_string()))
}

async fn insert_layers(
    txn: &sea_orm::DatabaseTransaction,
    schedule_id: &str,
    layers: &[NewLayer],
) -> Result<(), AppError> {
    for (position, layer) in layers.iter().enumerate() {
        let start = parse_local("start", &layer.start)?;
        schedule_layer::ActiveModel {
            id: Set(new_id()),
            schedule_id: Set(schedule_id.to_string()),
            position: Set(position as i32),
            name: Set(layer.name.trim().to_string()),
            start_local: Set(start.format(LOCAL_FORMAT).to_string()),
            turn_unit: Set(unit_name(layer.turn_unit).to_string()),
            turn_count: Set(layer.turn_count),
            user_ids: Set(serde_json::to_string(&layer.user_ids)
                .map_err(|e| AppError::Unexpected(e.into()))?),
            restrictions: Set(serde_json::to_string(&layer.restrictions)
                .map_err(|e| AppError::Unexpected(e.into()))?),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

pub async fn create(ctx: &Ctx, input: NewSchedule) -> Result<schedule::Model, AppError> {
    let (name, time_zone) = validate(&ctx.db, &input).await?;
    let txn = ctx.db.begin_write().await?;
    let model = schedule::ActiveModel {
        id: Set(new_id()),
        name: Set(name),
        time_zone: Set(time_zone),
        created_at: Set(ctx.now()),
    }
    .insert(&txn)
    .await?;
    insert_layers(&txn, &model.id, &input.layers).await?;
    txn.commit().await?;
    Ok(model)
}

/// Replaces a schedule's name, time zone and layers; its overrides stay.
pub async fn update(ctx: &Ctx, id: &str, input: NewSchedule) -> Result<schedule::Model, AppError> {
    let db = &ctx.db;
    let (name, time_zone) = validate(db, &input).await?;
    let txn = db.begin_write().await?;
    let query = schedule::Entity::find_by_id(id.to_string());
    let Some(found) = for_update(query, db.backend()).one(&txn).await? else {
        return Err(AppError::NotFound("schedule"));
    };
    let mut am: schedule::ActiveModel = found.into();
    am.name = Set(name);
    am.time_zone = Set(time_zone);
    let model = am.update(&txn).await?;
    schedule_layer::Entity::delete_many()
        .filter(schedule_layer::Column::ScheduleId.eq(id))
        .exec(&txn)
        .await?;
    insert_layers(&txn, id, &input.layers).await?;
    txn.commit().await?;
    Ok(model)
}

/// Deletes a schedule that no escalation policy pages (CONFLICT naming the policies otherwise).
pub async fn delete(ctx: &Ctx, id: &str) -> Result<(), AppError> {
    let db = &ctx.db;
    let txn = db.begin_write().await?;
    let query = schedule::Entity::find_by_id(id.to_string());
    let Some(found) = for_update(query, db.backend()).one(&txn).await? else {
        return Err(AppError::NotFound("schedule"));
    };
    let links = escalation_rule_schedule::Entity::find()
        .filter(escalation_rule_schedule::Column::ScheduleId.eq(id))
        .all(&txn)
        .await?;
    if !links.is_empty() {
        let rule_ids: Vec<String> = links.into_iter().map(|l| l.rule_id).collect();
        let rules = escalation_rule::Entity::find()
            .filter(escalation_rule::Column::Id.is_in(rule_ids))
            .all(&txn)
            .await?;
        let policy_ids: Vec<String> = rules.into_iter().map(|r| r.policy_id).collect();
        let policies = escalation_policy::Entity::find()
            .filter(escalation_policy::Column::Id.is_in(policy_ids))
            .filter(escalation_policy::Column::DeletedAt.is_null())
            .order_by_asc(escalation_policy::Column::Name)
            .all(&txn)
            .await?;
        if !policies.is_empty() {
            let names: Vec<String> = policies.iter().map(|p| format!("{:?}", p.name)).collect();
            return Err(AppError::Conflict(format!(
                "schedule {:?} is paged by escalation policies {}",
                found.name,
                names.join(", ")
            )));
        }
        // Only deleted policies (kept for their resolved alerts) still name it.
        escalation_rule_schedule::Entity::delete_many()
            .filter(escalation_rule_schedule::Column::ScheduleId.eq(id))
            .exec(&txn)
            .await?;
    }
    calendar_feed::Entity::delete_many()
        .filter(calendar_feed::Column::Kind.eq(FeedKind::Schedule.as_str()))
        .filter(calendar_feed::Column::OwnerId.eq(id))
        .exec(&txn)
        .await?;
    schedule::Entity::delete_by_id(id.to_string())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

pub async fn list(db: &Db) -> Result<Vec<schedule::Model>, AppError> {
    Ok(schedule::Entity::find()
        .order_by_asc(schedule::Column::Name)
        .all(&db.read)
        .await?)
}

pub async fn get<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<schedule::Model>, AppError> {
    Ok(schedule::Entity::find_by_id(id.to_string())
        .one(conn)
        .await?)
}

pub async fn layers<C: ConnectionTrait>(
    conn: &C,
    schedule_id: &str,
) -> Result<Vec<schedule_layer::Model>, AppError> {
    Ok(schedule_layer::Entity::find()
        .filter(schedule_layer::Column::ScheduleId.eq(schedule_id))
        .order_by_asc(schedule_layer::Column::Position)
        .all(conn)
        .await?)
}

/// A stored layer's users in turn order.
pub fn layer_users(layer: &schedule_layer::Model) -> Vec<String> {
    serde_json::from_str(&layer.user_ids).unwrap_or_default()
}

pub fn layer_restrictions(layer: &schedule_layer::Model) -> Vec<WindowSpec> {
    serde_json::from_str(&layer.restrictions).unwrap_or_default()
}

fn corrupt(what: &str, id: &str) -> AppError {
    AppError::Unexpected(anyhow::anyhow!("stored {what} of {id} cannot be read"))
}

fn to_domain(layer: &schedule_layer::Model) -> Result<Layer, AppError> {
    let start = NaiveDateTime::parse_from_str(&layer.start_local, LOCAL_FORMAT)
        .map_err(|_| corrupt("layer start", &layer.id))?;
    let unit = parse_unit(&layer.turn_unit).ok_or_else(|| corrupt("turn unit", &layer.id))?;
    let restrictions = layer_restrictions(layer)
        .iter()
        .map(|w| window("restrictions", w))
        .collect::<Result<Vec<Window>, AppError>>()
        .map_err(|_| corrupt("restrictions", &layer.id))?;
    Ok(Layer {
        users: layer_users(layer),
        start,
        turn: Turn {
            unit,
            count: u32::try_from(layer.turn_count.max(1)).unwrap_or(1),
        },
        restrictions,
    })
}

/// Overrides of a schedule that overlap `[from, to)`, in the order they were created.
pub async fn overrides<C: ConnectionTrait>(
    conn: &C,
    schedule_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<schedule_override::Model>, AppError> {
    Ok(schedule_override::Entity::find()
        .filter(schedule_override::Column::ScheduleId.eq(schedule_id))
        .filter(schedule_override::Column::EndsAt.gt(from))
        .filter(schedule_override::Column::StartsAt.lt(to))
        .order_by_asc(schedule_override::Column::Id)
        .all(conn)
        .await?)
}

/// A schedule as stored, ready for the rules, with the overrides that matter in `[from, to)`.
pub struct Loaded {
    pub model: schedule::Model,
    pub layers: Vec<schedule_layer::Model>,
    pub overrides: Vec<schedule_override::Model>,
    pub rules: Schedule,
}

pub async fn load<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Option<Loaded>, AppError> {
    let Some(model) = get(conn, id).await? else {
        return Ok(None);
    };
    let tz = model
        .time_zone
        .parse::<Tz>()
        .map_err(|_| corrupt("time zone", &model.id))?;
    let layers = layers(conn, id).await?;
    let overrides = overrides(conn, id, from, to).await?;
    let domain_layers = layers
        .iter()
        .map(to_domain)
        .collect::<Result<Vec<_>, _>>()?;
    let mut named: HashSet<String> = domain_layers
        .iter()
        .flat_map(|l| l.users.iter().cloned())
        .collect();
    named.extend(overrides.iter().map(|o| o.user_id.clone()));
    // Disabled users, and ids that no longer name a user, are never on call.
    let enabled: HashSet<String> = user::Entity::find()
        .filter(user::Column::Id.is_in(named.iter().cloned()))
        .filter(user::Column::Disabled.eq(false))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect();
    let unavailable = named.difference(&enabled).cloned().collect();
    let rules = Schedule {
        tz,
        layers: domain_layers,
        overrides: overrides
            .iter()
            .map(|o| Override {
                user: o.user_id.clone(),
                start: o.starts_at,
                end: o.ends_at,
                kind: parse_kind(&o.kind),
            })
            .collect(),
        unavailable,
    };
    Ok(Some(Loaded {
        model,
        layers,
        overrides,
        rules,
    }))
}

/// Whether `t` lies in the years schedules reason about (1970 to 2200, as layer starts do):
/// far-off instants are refused before any time-zone arithmetic could overflow on them.
fn check_instant(field: &str, t: DateTime<Utc>) -> Result<(), AppError> {
    if !(1970..=2200).contains(&chrono::Datelike::year(&t)) {
        return Err(AppError::validation(field, "must be between 1970 and 2200"));
    }
    Ok(())
}

pub fn check_range(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<(), AppError> {
    check_instant("from", from)?;
    check_instant("to", to)?;
    if to <= from {
        return Err(AppError::validation("to", "must be after from"));
    }
    if to - from > TimeDelta::days(MAX_RANGE_DAYS) {
        return Err(AppError::validation(
            "to",
            format!("a range covers at most {MAX_RANGE_DAYS} days"),
        ));
    }
    Ok(())
}

/// The final shifts of a schedule over `[from, to)`; with `layer` (0-based position), that
/// layer's own turns alone (restrictions applied, no overrides).
pub async fn shifts(
    db: &Db,
    id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    layer: Option<usize>,
) -> Result<Vec<Shift>, AppError> {
    check_range(from, to)?;
    let Some(mut loaded) = load(&db.read, id, from, to).await? else {
        return Err(AppError::NotFound("schedule"));
    };
    if let Some(position) = layer {
        let Some(one) = loaded.rules.layers.get(position).cloned() else {
            return Ok(Vec::new());
        };
        loaded.rules.layers = vec![one];
        loaded.rules.overrides.clear();
        return Ok(loaded
            .rules
            .shifts(from, to)
            .into_iter()
            .map(|s| Shift {
                source: crate::domain::schedule::Source::Layer(position),
                ..s
            })
            .collect());
    }
    Ok(loaded.rules.shifts(from, to))
}

/// Who is on call at `now`, each with the end of their unbroken time on call (`None`: beyond
/// [`UNTIL_HORIZON_DAYS`]).
pub async fn on_call_now(
    db: &Db,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<(String, Option<DateTime<Utc>>)>, AppError> {
    let horizon = TimeDelta::days(UNTIL_HORIZON_DAYS);
    let Some(loaded) = load(&db.read, id, now, now + horizon).await? else {
        return Err(AppError::NotFound("schedule"));
    };
    Ok(loaded.rules.on_call_until(now, horizon))
}

/// Who a schedule puts on call at `at`, read through `conn` (an escalation step's transaction):
/// the schedule's name and the users, or `None` when the schedule no longer exists.
pub async fn resolve_at<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    at: DateTime<Utc>,
) -> Result<Option<(String, Vec<OnCall>)>, AppError> {
    let Some(loaded) = load(conn, id, at, at + TimeDelta::seconds(1)).await? else {
        return Ok(None);
    };
    Ok(Some((loaded.model.name, loaded.rules.on_call_at(at))))
}

/// A user's shifts in every schedule over `[from, to)`, ordered by start.
pub async fn user_shifts(
    db: &Db,
    user_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(schedule::Model, Shift)>, AppError> {
    check_range(from, to)?;
    // The schedules that name the user in a layer or in an override of the range.
    let mut ids: HashSet<String> = schedule_override::Entity::find()
        .filter(schedule_override::Column::UserId.eq(user_id))
        .filter(schedule_override::Column::EndsAt.gt(from))
        .filter(schedule_override::Column::StartsAt.lt(to))
        .all(&db.read)
        .await?
        .into_iter()
        .map(|o| o.schedule_id)
        .collect();
    let quoted = serde_json::to_string(user_id).map_err(|e| AppError::Unexpected(e.into()))?;
    ids.extend(
        schedule_layer::Entity::find()
            .filter(schedule_layer::Column::UserIds.contains(quoted.as_str()))
            .all(&db.read)
            .await?
            .into_iter()
            .filter(|l| layer_users(l).iter().any(|u| u == user_id))
            .map(|l| l.schedule_id),
    );
    let mut out = Vec::new();
    for id in ids {
        if let Some(loaded) = load(&db.read, &id, from, to).await? {
            for shift in loaded.rules.shifts(from, to) {
                if shift.user == user_id {
                    out.push((loaded.model.clone(), shift));
                }
            }
        }
    }
    out.sort_by(|a, b| (a.1.start, &a.0.name).cmp(&(b.1.start, &b.0.name)));
    Ok(out)
}

/// Adds an override. An ADMIN may add any; anyone else only a REPLACE override, naming someone
/// else, of a range in which they hold the on-call throughout by a layer's turn or a replacing
/// override (handing their time to a colleague): someone added beside the person on call (an
/// ADD override) cannot push that person out.
pub async fn create_override(
    ctx: &Ctx,
    caller: &Caller,
    schedule_id: &str,
    input: NewOverride,
) -> Result<schedule_override::Model, AppError> {
    let db = &ctx.db;
    check_instant("start", input.start)?;
    check_instant("end", input.end)?;
    if input.end <= input.start {
        return Err(AppError::validation("end", "must be after start"));
    }
    if input.end - input.start > TimeDelta::days(MAX_OVERRIDE_DAYS) {
        return Err(AppError::validation(
            "end",
            format!("an override lasts at most {MAX_OVERRIDE_DAYS} days"),
        ));
    }
    if input.end <= ctx.now() {
        return Err(AppError::validation("end", "must be in the future"));
    }
    let Some(user) = user::Entity::find_by_id(input.user_id.clone())
        .one(&db.read)
        .await?
    else {
        return Err(AppError::validation(
            "userId",
            "names a user that does not exist",
        ));
    };
    if user.disabled {
        return Err(AppError::validation("userId", "names a disabled user"));
    }
    let txn = db.begin_write().await?;
    let query = schedule::Entity::find_by_id(schedule_id.to_string());
    if for_update(query, db.backend()).one(&txn).await?.is_none() {
        return Err(AppError::NotFound("schedule"));
    }
    if caller.role != Role::Admin {
        let allowed = input.kind == OverrideKind::Replace
            && input.user_id != caller.user_id
            && match load(&txn, schedule_id, input.start, input.end).await? {
                Some(loaded) => {
                    loaded
                        .rules
                        .on_call_throughout(&caller.user_id, input.start, input.end)
                }
                None => false,
            };
        if !allowed {
            return Err(AppError::Forbidden(
                "only an ADMIN, or the user on call throughout the range, may override it",
            ));
        }
    }
    let model = schedule_override::ActiveModel {
        id: Set(new_id()),
        schedule_id: Set(schedule_id.to_string()),
        user_id: Set(user.id),
        kind: Set(kind_name(input.kind).to_string()),
        starts_at: Set(input.start),
        ends_at: Set(input.end),
        created_by: Set(Some(caller.user_id.clone())),
        created_at: Set(ctx.now()),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// Deletes an override: its creator or an ADMIN.
pub async fn delete_override(ctx: &Ctx, caller: &Caller, id: &str) -> Result<(), AppError> {
    let db = &ctx.db;
    let txn = db.begin_write().await?;
    let query = schedule_override::Entity::find_by_id(id.to_string());
    let Some(found) = for_update(query, db.backend()).one(&txn).await? else {
        return Err(AppError::NotFound("schedule override"));
    };
    if caller.role != Role::Admin && found.created_by.as_deref() != Some(caller.user_id.as_str()) {
        return Err(AppError::Forbidden(
            "only an ADMIN or its creator may delete an override",
        ));
    }
    schedule_override::Entity::delete_by_id(id.to_string())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

pub async fn get_override(db: &Db, id: &str) -> Result<Option<schedule_override::Model>, AppError> {
    Ok(schedule_override::Entity::find_by_id(id.to_string())
        .one(&db.read)
        .await?)
}

/// Whose shifts an iCalendar feed lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedKind {
    /// Every shift of one schedule.
    Schedule,
    /// One user's shifts in every schedule.
    User,
}

impl FeedKind {
    fn as_str(self) -> &'static str {
        match self {
            FeedKind::Schedule => "SCHEDULE",
            FeedKind::User => "USER",
        }
    }
}

/// How far back and ahead a feed lists shifts.
pub const FEED_PAST_DAYS: i64 = 7;
pub const FEED_AHEAD_DAYS: i64 = 28;

/// Makes a new secret for a feed, replacing (and so revoking) the one it had. Returns the token,
/// shown once: only its hash is stored. Schedule feeds are an ADMIN's to rotate; a user rotates
/// their own (an ADMIN anyone's).
pub async fn rotate_feed(
    ctx: &Ctx,
    caller: &Caller,
    kind: FeedKind,
    owner_id: &str,
) -> Result<String, AppError> {
    let db = &ctx.db;
    match kind {
        FeedKind::Schedule => {
            super::users::require_admin(caller)?;
            if get(&db.read, owner_id).await?.is_none() {
                return Err(AppError::NotFound("schedule"));
            }
        }
        FeedKind::User => {
            if caller.user_id != owner_id {
                super::users::require_admin(caller)?;
            }
            if super::users::get(db, owner_id).await?.is_none() {
                return Err(AppError::NotFound("user"));
            }
        }
    }
    let token = super::random_token();
    let txn = db.begin_write().await?;
    calendar_feed::Entity::delete_many()
        .filter(calendar_feed::Column::Kind.eq(kind.as_str()))
        .filter(calendar_feed::Column::OwnerId.eq(owner_id))
        .exec(&txn)
        .await?;
    calendar_feed::ActiveModel {
        id: Set(new_id()),
        kind: Set(kind.as_str().to_string()),
        owner_id: Set(owner_id.to_string()),
        token_hash: Set(super::auth::hash_token(&token)),
        created_at: Set(ctx.now()),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(token)
}

/// What a feed lists: its title and each shift with its schedule's name and the user's e-mail.
pub struct Feed {
    pub title: String,
    pub shifts: Vec<FeedShift>,
}

pub struct FeedShift {
    pub schedule_id: String,
    pub schedule_name: String,
    pub email: String,
    pub shift: Shift,
}

/// The feed `token` opens, or `None` for an unknown owner or a wrong token alike (the caller
/// answers both the same way, so a guess learns nothing).
pub async fn feed(
    ctx: &Ctx,
    kind: FeedKind,
    owner_id: &str,
    token: &str,
) -> Result<Option<Feed>, AppError> {
    use subtle::ConstantTimeEq;
    let db = &ctx.db;
    let Some(stored) = calendar_feed::Entity::find()
        .filter(calendar_feed::Column::Kind.eq(kind.as_str()))
        .filter(calendar_feed::Column::OwnerId.eq(owner_id))
        .one(&db.read)
        .await?
    else {
        return Ok(None);
    };
    let given = super::auth::hash_token(token);
    if !bool::from(given.as_bytes().ct_eq(stored.token_hash.as_bytes())) {
        return Ok(None);
    }
    let now = ctx.now();
    let from = now - TimeDelta::days(FEED_PAST_DAYS);
    let to = now + TimeDelta::days(FEED_AHEAD_DAYS);
    let (title, found): (String, Vec<(schedule::Model, Shift)>) = match kind {
        FeedKind::Schedule => {
            let Some(loaded) = load(&db.read, owner_id, from, to).await? else {
                return Ok(None);
            };
            let model = loaded.model.clone();
            let shifts = loaded.rules.shifts(from, to);
            (
                format!("On call: {}", model.name),
                shifts.into_iter().map(|s| (model.clone(), s)).collect(),
            )
        }
        FeedKind::User => {
            let Some(user) = super::users::get(db, owner_id).await? else {
                return Ok(None);
            };
            let mut all = Vec::new();
            // In steps the range check allows.
            let mut at = from;
            while at < to {
                let end = (at + TimeDelta::days(MAX_RANGE_DAYS)).min(to);
                all.extend(user_shifts(db, owner_id, at, end).await?);
                at = end;
            }
            (format!("On call: {}", user.email), all)
        }
    };
    let mut ids: Vec<String> = found.iter().map(|(_, s)| s.user.clone()).collect();
    ids.sort();
    ids.dedup();
    let emails: std::collections::HashMap<String, String> = super::users::get_many(db, &ids)
        .await?
        .into_iter()
        .map(|u| (u.id, u.email))
        .collect();
    Ok(Some(Feed {
        title,
        shifts: found
            .into_iter()
            .filter_map(|(schedule, shift)| {
                Some(FeedShift {
                    schedule_id: schedule.id,
                    schedule_name: schedule.name,
                    email: emails.get(&shift.user)?.clone(),
                    shift,
                })
            })
            .collect(),
    }))
}
