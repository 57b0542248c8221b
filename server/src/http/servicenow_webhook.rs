//! `POST /api/v1/events/servicenow/{integration_key}`: what the business rule posts on every
//! incident insert and update. Parse, hand to the service, answer; nothing else.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde_json::{Value, json};

use super::{BodyError, BodyTimeout, error::json_error, read_body};
use crate::domain::webhook_auth::WebhookAuthKind;
use crate::domain::{Incident, IngestOutcome};
use crate::error::AppError;
use crate::http::metrics::WEBHOOK_EVENTS;
use crate::service::alerts;
use crate::service::inbound::{self, Outcome, Refused};
use crate::service::source_events::{self, Received};
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
        Err(Refused::Unauthorized {
            reason,
            kind,
            source_id,
        }) => {
            let why = format!("401 unauthorized: {reason}");
            source_events::record_rejected(&state.ctx, &source_id, why).await;
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
    let source_id = source.source.id.clone();
    // A refusal after the source is known is counted on it, with its reason.
    let refuse = |status: StatusCode, code: &'static str, msg: String| {
        let ctx = state.ctx.clone();
        let source_id = source_id.clone();
        async move {
            let why = format!("{} {code}: {msg}", status.as_u16());
            source_events::record_rejected(&ctx, &source_id, why).await;
            rejected(status, code, &msg)
        }
    };
    let body = match read_body(&req, payload, MAX_BODY).await {
        Ok(body) => body,
        Err(BodyError::Timeout) => {
            metrics::counter!(WEBHOOK_EVENTS, "outcome" => "rejected").increment(1);
            let why = "408: the body did not arrive in time".to_string();
            source_events::record_rejected(&state.ctx, &source_id, why).await;
            return Ok(actix_web::ResponseError::error_response(&BodyTimeout));
        }
        Err(BodyError::TooLarge) => {
            let msg = "the body is larger than 1 MiB".to_string();
            return Ok(refuse(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", msg).await);
        }
        Err(BodyError::Payload(_)) => {
            let msg = "the body could not be read".to_string();
            return Ok(refuse(StatusCode::BAD_REQUEST, "invalid_payload", msg).await);
        }
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            let msg = format!("the body is not valid JSON: {e}");
            return Ok(refuse(StatusCode::BAD_REQUEST, "invalid_payload", msg).await);
        }
    };
    let incident = match Incident::parse(&value) {
        Ok(i) => i,
        Err(e) => {
            let msg = e.to_string();
            return Ok(refuse(StatusCode::BAD_REQUEST, "invalid_payload", msg).await);
        }
    };
    let unknown_message = alerts::unknown_incident_message(&incident);
    let received = Received {
        at: state.ctx.now(),
        server_url: incident.server_url.as_ref().map(|u| u.to_string()),
    };
    let event = inbound::Event {
        source: &source.source,
        connection: source.connection.as_ref(),
        incident,
        body: &value,
        key_note: source.key_note(),
        received: Some(received),
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
        // Counted with the ingest.
        Outcome::UnknownIncident => Ok(rejected(
            StatusCode::BAD_REQUEST,
            "unknown_incident",
            &unknown_message,
        )),
    }
}
