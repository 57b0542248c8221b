//! `GET /act/{token}` and `POST /act/{token}`: the accept and resolve links of notification
//! e-mails (see `service::action_links`). GET only shows where the link stands and, when it can
//! be used, a button; it changes nothing, since mail scanners and link previews fetch links. The
//! button POSTs to the same address, and only that performs the action.
//!
//! The token is the only credential: no session cookie is read, so a page elsewhere cannot make
//! a signed-in browser act (there is no ambient authority to borrow). On top of that a POST whose
//! `Origin` is another site is refused, and the pages may not be framed, cached or indexed.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::Environment;
use serde::Serialize;

use crate::domain::AlertStatus;
use crate::entity::alert;
use crate::service::action_links::{self, LinkAction, LinkState, Performed};
use crate::state::AppState;

/// The pages' own policy: no script at all, the inline style of the page, the form to itself.
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                        frame-ancestors 'none'; base-uri 'none'";

#[derive(Serialize)]
struct AlertView {
    summary: String,
    priority: String,
    status: String,
    ticket_number: Option<String>,
    url: String,
}

#[derive(Serialize)]
struct Page {
    title: String,
    message: String,
    alert: Option<AlertView>,
    /// The button, when the link can be used: its label.
    button: Option<String>,
    /// The page the button posts to (the link itself, relative).
    action: String,
    done: bool,
}

fn templates() -> &'static Environment<'static> {
    static ENV: std::sync::OnceLock<Environment<'static>> = std::sync::OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.add_template("action.html", include_str!("templates/action.html"))
            .expect("the action page template compiles");
        env
    })
}

fn view(state: &AppState, alert: &alert::Model) -> AlertView {
    let base = state.public_url.as_str().trim_end_matches('/');
    AlertView {
        summary: crate::service::notice::one_line(&alert.summary, 500),
        priority: sea_orm::ActiveEnum::to_value(&alert.priority),
        status: sea_orm::ActiveEnum::to_value(&alert.status),
        ticket_number: alert.ticket_number.clone(),
        url: format!("{base}/alerts/{}", alert.id),
    }
}

fn render(status: StatusCode, page: &Page) -> HttpResponse {
    let body = templates()
        .get_template("action.html")
        .and_then(|t| t.render(minijinja::value::Serde(page)))
        .unwrap_or_else(|e| {
            tracing::error!("cannot render the action page: {e}");
            "Glidepath: this page could not be shown.".into()
        });
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("x-robots-tag", "noindex, nofollow"))
        .body(body)
}

fn verb(action: LinkAction) -> &'static str {
    match action {
        LinkAction::Accept => "Accept",
        LinkAction::Resolve => "Resolve",
    }
}

/// The page of a link that cannot be used (or the confirmation of one that can).
fn state_page(state: &AppState, link: LinkState, action_path: String) -> HttpResponse {
    let page = |title: &str, message: String, alert: Option<AlertView>| Page {
        title: title.into(),
        message,
        alert,
        button: None,
        action: action_path.clone(),
        done: false,
    };
    match link {
        LinkState::Ready { claims, alert, user } => {
            let what = match claims.action {
                LinkAction::Accept => "accept this alert: it is assigned to you and escalation stops",
                LinkAction::Resolve => "resolve this alert",
            };
            let mut p = page(
                &format!("{} this alert?", verb(claims.action)),
                format!(
                    "Sent to {}. Press the button to {what}. The ServiceNow incident is updated as when you do it in Glidepath.",
                    user.email
                ),
                Some(view(state, &alert)),
            );
            p.button = Some(format!("{} alert", verb(claims.action)));
            render(StatusCode::OK, &p)
        }
        LinkState::Invalid => render(
            StatusCode::NOT_FOUND,
            &page(
                "This link is not valid",
                "The link is incomplete or was changed. Copy the whole link from the e-mail, or open the alert in Glidepath. Nothing was changed.".into(),
                None,
            ),
        ),
        LinkState::Expired => render(
            StatusCode::GONE,
            &page(
                "This link has expired",
                "Links in notification e-mails work for 24 hours. Open the alert in Glidepath to act on it. Nothing was changed.".into(),
                None,
            ),
        ),
        LinkState::Used { at } => render(
            StatusCode::GONE,
            &page(
                "This link was already used",
                format!(
                    "It was used on {}; each link works once. Nothing was changed.",
                    at.format("%Y-%m-%d %H:%M UTC")
                ),
                None,
            ),
        ),
        LinkState::UserDisabled => render(
            StatusCode::FORBIDDEN,
            &page(
                "This link no longer works",
                "The account it was sent to is disabled. Nothing was changed.".into(),
                None,
            ),
        ),
        LinkState::AlertGone => render(
            StatusCode::NOT_FOUND,
            &page(
                "This alert no longer exists",
                "Nothing was changed.".into(),
                None,
            ),
        ),
        LinkState::Settled { action, alert, by } => {
            let message = match (alert.status, by) {
                (AlertStatus::Resolved, _) => {
                    "The alert is already resolved. Nothing was changed.".to_string()
                }
                (_, Some(by)) => format!("The alert was already accepted by {by}. Nothing was changed."),
                _ => "The alert was already accepted. Nothing was changed.".to_string(),
            };
            let title = match action {
                LinkAction::Accept => "Nothing to accept",
                LinkAction::Resolve => "Nothing to resolve",
            };
            render(
                StatusCode::CONFLICT,
                &page(title, message, Some(view(state, &alert))),
            )
        }
    }
}

fn unavailable() -> HttpResponse {
    render(
        StatusCode::SERVICE_UNAVAILABLE,
        &Page {
            title: "Please try again".into(),
            message: "Glidepath could not complete this just now. Nothing was changed.".into(),
            alert: None,
            button: None,
            action: String::new(),
            done: false,
        },
    )
}

/// `GET /act/{token}`: where the link stands; no change.
pub async fn show(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let token = path.into_inner();
    match action_links::check(&state.ctx, &token).await {
        Ok(link) => state_page(&state, link, format!("/act/{token}")),
        Err(e) => {
            e.log_if_unexpected();
            unavailable()
        }
    }
}

/// Whether a POST comes from a page of this server: no `Origin` (an older browser, a script), the
/// opaque `null` (what browsers send for a form on a page under `Referrer-Policy: no-referrer`,
/// as these pages are), or one whose host is the public URL's or the request's own.
fn same_origin(state: &AppState, req: &HttpRequest) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    if origin.as_bytes() == b"null" {
        return true;
    }
    let Some(origin) = origin.to_str().ok().and_then(|o| url::Url::parse(o).ok()) else {
        return false;
    };
    let public = state.public_url.origin();
    if origin.origin() == public {
        return true;
    }
    let host = req.connection_info().host().to_string();
    let origin_host = match origin.port() {
        Some(port) => format!("{}:{port}", origin.host_str().unwrap_or("")),
        None => origin.host_str().unwrap_or("").to_string(),
    };
    origin_host == host
}

/// `POST /act/{token}`: performs the link's action as its recipient, if it can still be used.
pub async fn perform(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let token = path.into_inner();
    if !same_origin(&state, &req) {
        return render(
            StatusCode::FORBIDDEN,
            &Page {
                title: "Not allowed from another site".into(),
                message:
                    "Open the link from the e-mail and press the button there. Nothing was changed."
                        .into(),
                alert: None,
                button: None,
                action: String::new(),
                done: false,
            },
        );
    }
    match action_links::perform(&state.ctx, &token).await {
        Ok(Performed::Done {
            action,
            alert,
            user,
        }) => {
            let (title, message) = match action {
                LinkAction::Accept => (
                    "Accepted",
                    format!(
                        "The alert is assigned to {}; escalation has stopped.",
                        user.email
                    ),
                ),
                LinkAction::Resolve => (
                    "Resolved",
                    format!("The alert was resolved by {}.", user.email),
                ),
            };
            render(
                StatusCode::OK,
                &Page {
                    title: title.into(),
                    message,
                    alert: Some(view(&state, &alert)),
                    button: None,
                    action: String::new(),
                    done: true,
                },
            )
        }
        Ok(Performed::NotDone(link)) => state_page(&state, link, format!("/act/{token}")),
        Err(e) => {
            e.log_if_unexpected();
            unavailable()
        }
    }
}
