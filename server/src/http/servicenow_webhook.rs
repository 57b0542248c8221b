//! `POST /api/v1/events/servicenow/{integration_key}`: what the business rule posts on every
//! incident insert and update. Parse, hand to the service, answer; nothing else.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde_json::{Value, json};

use super::{BodyError, BodyTimeout, error::json_error, read_body};
use crate::domain::Incident;
use crate::domain::webhook_auth::WebhookAuthKind;
use crate::error::AppError;
use crate::http::metrics::WEBHOOK_EVENTS;
use crate::service::{alerts, people, sources, sync};
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
    let key = path.into_inner();
    let source = if key.len() <= 128 {
        sources::by_integration_key(&state.db, &key).await?
    } else {
        None
    };
    let Some((source, connection, key_used)) = source else {
        return Ok(rejected(
            StatusCode::NOT_FOUND,
            "unknown_integration_key",
            "no alert source has this integration key",
        ));
    };
    let authorization = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Err(reason) = sources::check_webhook_auth(&state.cipher, &source, authorization)? {
        let challenge = match sources::webhook_auth_kind(&source)? {
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
    // Said in the log of the alert the event reaches: ServiceNow still posts to the old URL.
    let key_note = match key_used {
        sources::KeyUsed::Current => None,
        sources::KeyUsed::Previous { valid_until } => {
            tracing::info!(
                alert_source = %source.id,
                %valid_until,
                "webhook event received with the previous integration key"
            );
            Some(alerts::previous_key_message(valid_until))
        }
    };
    // The event ServiceNow fires after our own update: nothing to apply, nothing to send.
    if let Some(alert_id) = sync::absorb_echo(&state.db, connection.as_ref(), &incident).await? {
        if let Some(note) = key_note {
            alerts::note_event(&state.db, &alert_id, note, &incident).await?;
        }
        metrics::counter!(WEBHOOK_EVENTS, "outcome" => "unchanged").increment(1);
        return Ok(HttpResponse::Ok().json(json!({"outcome": "unchanged", "alertId": alert_id})));
    }
    let mut incident = incident;
    let assignee = people::map_inbound(
        &state.db,
        &state.cipher,
        &state.servicenow,
        &source.id,
        connection.as_ref(),
        &mut incident,
    )
    .await?;
    let source = (&source, connection.as_ref());
    let ingested = alerts::ingest_noted(
        &state.db,
        source,
        &incident,
        assignee.as_ref(),
        &value,
        key_note,
    );
    match ingested.await? {
        alerts::IngestResult::Applied { outcome, alert_id } => {
            metrics::counter!(WEBHOOK_EVENTS, "outcome" => outcome.as_str()).increment(1);
            let status = if outcome == crate::domain::IngestOutcome::Created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(HttpResponse::build(status)
                .json(json!({"outcome": outcome.as_str(), "alertId": alert_id})))
        }
        alerts::IngestResult::UnknownIncident => {
            let msg = format!(
                "no alert exists for incident {} and its state is {}: only a New incident creates an alert",
                incident.sys_id.as_str(),
                incident.state.label()
            );
            Ok(rejected(StatusCode::BAD_REQUEST, "unknown_incident", &msg))
        }
    }
}
