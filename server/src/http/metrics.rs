//! Prometheus metrics: `GET /metrics`, and a middleware that times every request.
//!
//! Requests are labelled by their route pattern, never by their path: the webhook's path carries
//! the integration key, which must not reach a metrics store or a log.

use std::time::Instant;

use actix_web::{
    Error, HttpRequest, HttpResponse,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::{Method, StatusCode, header},
    middleware::Next,
    web,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::error::json_error;
use crate::state::AppState;

pub const HTTP_DURATION: &str = "glidepath_http_request_duration_seconds";
pub const WEBHOOK_EVENTS: &str = "glidepath_webhook_events_total";
use crate::service::oauth::{NEEDING_ATTENTION, TOKEN_REQUESTS};

/// Installs the process-wide recorder once; later calls (several apps in one process) share it.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(HTTP_DURATION.into()),
            &[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ],
        )?
        .build_recorder();
    let handle = recorder.handle();
    // Fails only when another recorder was installed first, which this process never does.
    let _ = metrics::set_global_recorder(recorder);
    metrics::describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "HTTP request latency"
    );
    metrics::describe_counter!(WEBHOOK_EVENTS, "ServiceNow webhook events by outcome");
    metrics::describe_counter!(
        TOKEN_REQUESTS,
        "OAuth token requests to ServiceNow instances by grant and outcome"
    );
    metrics::describe_gauge!(
        NEEDING_ATTENTION,
        "ServiceNow connections whose OAuth credentials the instance refuses"
    );
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// `GET /metrics`; with GLIDEPATH_METRICS_TOKEN set, only for `Authorization: Bearer <token>`.
pub async fn render(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if let Some(expected) = &state.metrics_token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .unwrap_or_default();
        let ok: bool = given
            .as_bytes()
            .ct_eq(expected.expose_secret().as_bytes())
            .into();
        if !ok {
            let mut response = json_error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "GET /metrics needs Authorization: Bearer with the metrics token",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"glidepath-metrics\""),
            );
            return response;
        }
    }
    // Read from the database when asked, so every process sharing it says the same.
    match crate::service::oauth::needing_attention(&state.ctx.db).await {
        Ok(n) => metrics::gauge!(NEEDING_ATTENTION).set(n as f64),
        Err(e) => {
            tracing::warn!(error = ?e, "cannot count the ServiceNow connections needing attention")
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// The standard methods by name, anything else as `OTHER`: a label value per invented method
/// would let any client grow the metrics without bound.
fn method_label(method: &Method) -> String {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    if KNOWN.contains(method) {
        method.as_str().to_string()
    } else {
        "OTHER".to_string()
    }
}

pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let method = method_label(req.method());
    let res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    let status = res.status().as_u16();
    let elapsed = start.elapsed();
    metrics::histogram!(HTTP_DURATION, "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
        .record(elapsed.as_secs_f64());
    tracing::debug!(%method, %route, status, elapsed_ms = elapsed.as_millis() as u64, "request");
    Ok(res)
}
