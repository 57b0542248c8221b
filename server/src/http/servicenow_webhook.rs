//! `POST /api/v1/events/servicenow/{integration_key}`: what the business rule posts on every
//! incident insert and update. Parse, hand to the service, answer; nothing else.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde_json::{Value, json};

use super::{BodyError, BodyTimeout, error::json_error, read_body};
use crate::domain::webhook_auth::WebhookAuthKind;
use crate::domain::{Incident, IngestOutcome};
use crate::error::AppError;
use crate::http::metrics::WEBHOOK_EVENTS;
use crate::service::inbound::{self, Outcome, Refused};
use crate::state::AppState;

pub const MAX_BODY: usize = 1024 * 1024;

fn rejected(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    metrics::counter!(WEBHOOK_EVENTS, "outcome" => "rejected").increment(1);
    json_error(status, code, message)
}

pub async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let authorization = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let found = inbound::webhook_source(&state.ctx, &path, authorization).await?;
    let source = match found {
        Ok(source) => source,
        Err(Refused::UnknownKey) => {
            return Ok(rejected(
                StatusCode::NOT_FOUND,
                "unknown_integration_key",
                "no alert source has this integration key",
            ));
        }
        Err(Refused::Unauthorized { reason, kind }) => {
            let challenge = match kind {
                WebhookAuthKind::Basic => "Basic realm=\"glidepath\"",
                _ => "Bearer realm=\"glidepath\"",
            };
            let mut response = rejected(StatusCode::UNAUTHORIZED, "unauthorized", reason);
            response.headers_mut().insert(
                actix_web::http::header::WWW_AUTHENTICATE,
                actix_web::http::header::HeaderValue::from_static(challenge),
            );
            return Ok(response);
        }
    };
    let body = match read_body(&req, payload, MAX_BODY).await {
        Ok(body) => body,
        Err(BodyError::Timeout) => {
            metrics::counter!(WEBHOOK_EVENTS, "outcome" => "rejected").increment(1);
            return Ok(actix_web::ResponseError::error_response(&BodyTimeout));
        }
        Err(BodyError::TooLarge) => {
            return Ok(rejected(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the body is larger than 1 MiB",
            ));
        }
        Err(BodyError::Payload(_)) => {
            return Ok(rejected(
                StatusCode::BAD_REQUEST,
                "invalid_payload",
                "the body could not be read",
            ));
        }
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            let msg = format!("the body is not valid JSON: {e}");
            return Ok(rejected(StatusCode::BAD_REQUEST, "invalid_payload", &msg));
        }
    };
    let incident = match Incident::parse(&value) {
        Ok(i) => i,
        Err(e) => {
            return Ok(rejected(
                StatusCode::BAD_REQUEST,
                "invalid_payload",
                &e.to_string(),
            ));
        }
    };
    let (sys_id, state_label) = (incident.sys_id.clone(), incident.state.label());
    let event = inbound::Event {
        source: &source.source,
        connection: source.connection.as_ref(),
        incident,
        body: &value,
        key_note: source.key_note(),
    };
    match inbound::apply(&state.ctx, event).await? {
        Outcome::Echo { alert_id } => {
            metrics::counter!(WEBHOOK_EVENTS, "outcome" => "unchanged").increment(1);
            Ok(HttpResponse::Ok().json(json!({"outcome": "unchanged", "alertId": alert_id})))
        }
        Outcome::Applied { outcome, alert_id } => {
            metrics::counter!(WEBHOOK_EVENTS, "outcome" => outcome.as_str()).increment(1);
            let status = if outcome == IngestOutcome::Created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(HttpResponse::build(status)
                .json(json!({"outcome": outcome.as_str(), "alertId": alert_id})))
        }
        Outcome::UnknownIncident => {
            let msg = format!(
                "no alert exists for incident {} and its state is {state_label}: only a New incident creates an alert",
                sys_id.as_str(),
            );
            Ok(rejected(StatusCode::BAD_REQUEST, "unknown_incident", &msg))
        }
    }
}
