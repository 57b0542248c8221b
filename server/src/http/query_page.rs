//! `GET /graphql`: a small query page (a text area, a Run button, the answer), served from the
//! binary with its script and style so it works offline and under the Content-Security-Policy.
//! It posts to `/graphql` with the session cookie of the UI. GLIDEPATH_GRAPHIQL=false turns it off.

use actix_web::{HttpResponse, http::StatusCode, http::header, web};

use super::error::json_error;
use crate::state::AppState;

const HTML: &str = include_str!("query_page/query.html");
const JS: &str = include_str!("query_page/query.js");
const CSS: &str = include_str!("query_page/query.css");

fn disabled() -> HttpResponse {
    json_error(
        StatusCode::NOT_FOUND,
        "not_found",
        "the query page is turned off",
    )
}

fn file(state: &AppState, content_type: &str, body: &'static str) -> HttpResponse {
    if !state.graphiql {
        return disabled();
    }
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

pub async fn page(state: web::Data<AppState>) -> HttpResponse {
    file(&state, "text/html; charset=utf-8", HTML)
}

pub async fn script(state: web::Data<AppState>) -> HttpResponse {
    file(&state, "text/javascript; charset=utf-8", JS)
}

pub async fn style(state: web::Data<AppState>) -> HttpResponse {
    file(&state, "text/css; charset=utf-8", CSS)
}
