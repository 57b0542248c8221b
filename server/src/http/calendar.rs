//! The iCalendar feeds calendar apps subscribe to: `GET /api/v1/schedules/{id}.ics?token=…`
//! (every shift of a schedule) and `GET /api/v1/users/{id}/shifts.ics?token=…` (one user's
//! shifts in every schedule). The token is the feed's own secret (made by
//! `rotateScheduleFeed` / `rotateUserFeed`); an unknown id and a wrong token both answer 404.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use icalendar::{Calendar, Component, Event, EventLike};
use serde::Deserialize;

use crate::error::AppError;
use crate::http::error::json_error;
use crate::service::schedules::{self, Feed, FeedKind};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct FeedQuery {
    token: Option<String>,
}

fn not_found() -> HttpResponse {
    json_error(StatusCode::NOT_FOUND, "not_found", "no such calendar feed")
}

pub async fn schedule_feed(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, AppError> {
    let Some(id) = path.strip_suffix(".ics") else {
        return Ok(not_found());
    };
    answer(&state, FeedKind::Schedule, id, query.token.as_deref()).await
}

pub async fn user_feed(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, AppError> {
    answer(&state, FeedKind::User, &path, query.token.as_deref()).await
}

async fn answer(
    state: &AppState,
    kind: FeedKind,
    id: &str,
    token: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let Some(token) = token.filter(|t| !t.is_empty() && t.len() <= 200) else {
        return Ok(not_found());
    };
    let Some(feed) = schedules::feed(&state.ctx, kind, id, token).await? else {
        return Ok(not_found());
    };
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header(("Cache-Control", "private, max-age=300"))
        .body(render(&feed)))
}

/// One event per shift; its UID stays the same while the shift does, so calendar apps update
/// rather than duplicate it.
pub fn render(feed: &Feed) -> String {
    let mut calendar = Calendar::new();
    calendar.name(&feed.title);
    for s in &feed.shifts {
        let uid = format!(
            "{}-{}-{}@glidepath",
            s.schedule_id,
            s.shift.user,
            s.shift.start.timestamp()
        );
        let layer = match s.shift.source {
            crate::domain::schedule::Source::Layer(i) => format!("layer {}", i + 1),
            crate::domain::schedule::Source::Override(_) => "override".to_string(),
        };
        calendar.push(
            Event::new()
                .uid(&uid)
                .summary(&format!("On call: {} ({})", s.email, s.schedule_name))
                .description(&format!("{} in {}", layer, s.schedule_name))
                .starts(s.shift.start)
                .ends(s.shift.end)
                .done(),
        );
    }
    calendar.done().to_string()
}
