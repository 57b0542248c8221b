//! The HTTP edge: bounded metrics labels, the metrics token, the body deadline, the connection
//! cap, the security headers on every answer, and the self-hosted query page on `GET /graphql`.

use std::time::{Duration, Instant};

use glidepath_tests::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn series(metrics: &str) -> usize {
    metrics
        .lines()
        .filter(|l| l.starts_with("glidepath_http_request_duration_seconds_count{"))
        .count()
}

#[tokio::test]
async fn invented_methods_and_paths_do_not_add_metric_series() {
    let app = spawn_app().await;
    // One request of each kind first, so their series exist.
    let other = reqwest::Method::from_bytes(b"WARMUP").unwrap();
    app.client
        .request(other.clone(), app.url("/graphql"))
        .send()
        .await
        .unwrap();
    app.client
        .request(other, app.url("/nowhere-0"))
        .send()
        .await
        .unwrap();
    app.client
        .request(reqwest::Method::GET, app.url("/nowhere-0"))
        .send()
        .await
        .unwrap();
    app.metrics().await;
    let before = series(&app.metrics().await);
    for i in 0..40 {
        let method = reqwest::Method::from_bytes(format!("INVENTED{i}").as_bytes()).unwrap();
        let status = app
            .client
            .request(method.clone(), app.url("/graphql"))
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_client_error(), "{status}");
        app.client
            .request(method, app.url(&format!("/nowhere-{i}")))
            .send()
            .await
            .unwrap();
        app.client
            .get(app.url(&format!("/nowhere-{i}")))
            .send()
            .await
            .unwrap();
    }
    let metrics = app.metrics().await;
    assert!(!metrics.contains("INVENTED"), "{metrics}");
    assert!(!metrics.contains("nowhere"), "{metrics}");
    assert!(metrics.contains("method=\"OTHER\""), "{metrics}");
    assert!(metrics.contains("route=\"unmatched\""), "{metrics}");
    // At most the series of /metrics itself can have been added.
    assert!(
        series(&metrics) <= before + 1,
        "{before} -> {}",
        series(&metrics)
    );
}

#[tokio::test]
async fn the_metrics_token_is_required_when_set() {
    let app = spawn_app_with_options(
        SpawnOptions::default().env("GLIDEPATH_METRICS_TOKEN", "metrics-token-for-tests"),
    )
    .await;
    let url = app.url("/metrics");
    let none = app.client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let body = none.text().await.unwrap();
    assert!(!body.contains("glidepath_"), "{body}");
    for wrong in [
        "Bearer wrong-token",
        "Bearer metrics-token-for-test",
        "Basic metrics-token-for-tests",
    ] {
        let response = app
            .client
            .get(&url)
            .header("authorization", wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{wrong}");
    }
    let ok = app
        .client
        .get(&url)
        .bearer_auth("metrics-token-for-tests")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(ok.text().await.unwrap().contains("glidepath_"));
    assert!(!app.logs().contains("metrics-token-for-tests"));
}

#[tokio::test]
async fn metrics_stay_open_without_a_token() {
    let app = spawn_app().await;
    app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(app.metrics().await.contains("glidepath_"));
}

/// Reads until the server closes the connection or `limit` passes; `true` when it closed.
async fn read_until_closed(
    stream: &mut tokio::net::tcp::OwnedReadHalf,
    limit: Duration,
) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (out, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

fn short_deadline() -> SpawnOptions {
    SpawnOptions::default().env("GLIDEPATH_BODY_TIMEOUT_MS", "1000")
}

async fn slow_body_is_cut_off(app: &TestApp, path: &str) {
    let stream = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{{"
    );
    write.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    // One byte every 200 ms: the whole body would take 40 s.
    let dripper = tokio::spawn(async move {
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if write.write_all(b" ").await.is_err() {
                break;
            }
        }
    });
    let (answer, closed) = read_until_closed(&mut read, Duration::from_secs(6)).await;
    let elapsed = started.elapsed();
    dripper.abort();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(closed, "the connection stayed open: {answer:?}");
    assert!(
        elapsed < Duration::from_secs(4),
        "cut off after {elapsed:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(900),
        "cut off after {elapsed:?}"
    );
}

#[tokio::test]
async fn a_slow_graphql_body_is_cut_off_at_the_deadline() {
    let app = spawn_app_with_options(short_deadline()).await;
    slow_body_is_cut_off(&app, "/graphql").await;
    // The server goes on serving.
    let response = app.graphql(None, "{ __typename }", json!({})).await;
    assert!(response["data"]["__typename"].is_string(), "{response}");
}

#[tokio::test]
async fn a_slow_webhook_body_is_cut_off_at_the_deadline() {
    let app = spawn_app_with_options(short_deadline()).await;
    let source = app.setup_source().await;
    let path = format!("/api/v1/events/servicenow/{}", source.integration_key);
    slow_body_is_cut_off(&app, &path).await;
    assert_eq!(app.alerts_total().await, 0);
}

#[tokio::test]
async fn a_complete_body_within_the_deadline_is_served() {
    let app = spawn_app_with_options(short_deadline()).await;
    let response = app.graphql(None, "{ __typename }", json!({})).await;
    assert!(response["data"]["__typename"].is_string(), "{response}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let app = spawn_app_with_options(
        SpawnOptions::default()
            .env("GLIDEPATH_MAX_CONNECTIONS", "2")
            .env("GLIDEPATH_WORKERS", "1"),
    )
    .await;
    // Two connections held open with an unfinished request head.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let third = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    let (mut read, mut write) = third.into_split();
    write
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (early, _) = read_until_closed(&mut read, Duration::from_millis(1500)).await;
    assert!(
        early.is_empty(),
        "served beyond the cap: {:?}",
        String::from_utf8_lossy(&early)
    );
    drop(held.remove(0));
    let (answer, closed) = read_until_closed(&mut read, Duration::from_secs(5)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(closed);
}

fn assert_security_headers(what: &str, response: &reqwest::Response) {
    let h = response.headers();
    let csp = h
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"))
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'self'"), "{what}: {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
        "{what}: {csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert!(!csp.contains("http"), "{what}: {csp}");
    assert_eq!(
        h.get("x-content-type-options").unwrap(),
        "nosniff",
        "{what}"
    );
    assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer", "{what}");
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = spawn_app().await;
    let c = &app.client;
    let cases: Vec<(&str, reqwest::Response)> = vec![
        ("GET /", c.get(app.url("/")).send().await.unwrap()),
        (
            "GET /alerts",
            c.get(app.url("/alerts")).send().await.unwrap(),
        ),
        (
            "GET /graphql",
            c.get(app.url("/graphql")).send().await.unwrap(),
        ),
        (
            "POST /graphql",
            c.post(app.url("/graphql"))
                .json(&json!({"query": "{ __typename }"}))
                .send()
                .await
                .unwrap(),
        ),
        (
            "POST /graphql text/plain",
            c.post(app.url("/graphql"))
                .header("content-type", "text/plain")
                .body("{}")
                .send()
                .await
                .unwrap(),
        ),
        (
            "PUT /graphql",
            c.put(app.url("/graphql")).send().await.unwrap(),
        ),
        (
            "GET /metrics",
            c.get(app.url("/metrics")).send().await.unwrap(),
        ),
        (
            "GET /healthz",
            c.get(app.url("/healthz")).send().await.unwrap(),
        ),
        (
            "GET /api/nothing",
            c.get(app.url("/api/nothing")).send().await.unwrap(),
        ),
        (
            "POST unknown webhook",
            c.post(app.events_url("no-such-key"))
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
        ),
    ];
    for (what, response) in &cases {
        assert_security_headers(what, response);
    }
    assert_eq!(cases[8].1.status(), StatusCode::NOT_FOUND);
    assert_eq!(cases[9].1.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_query_page_is_self_hosted() {
    let app = spawn_app().await;
    let page = app.client.get(app.url("/graphql")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("<script src=\"/graphql/query.js\""), "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "inline script: {html}");
    assert!(!html.contains("style="), "inline style: {html}");
    let js = app
        .client
        .get(app.url("/graphql/query.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    let js = js.text().await.unwrap();
    assert!(js.contains("fetch(\"/graphql\""), "{js}");
    assert!(!js.contains("http://") && !js.contains("https://"));
    let css = app
        .client
        .get(app.url("/graphql/query.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert!(!css.text().await.unwrap().contains("http"));
}

#[tokio::test]
async fn the_query_page_can_be_turned_off() {
    let app =
        spawn_app_with_options(SpawnOptions::default().env("GLIDEPATH_GRAPHIQL", "false")).await;
    for path in ["/graphql", "/graphql/query.js", "/graphql/query.css"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_security_headers(path, &response);
    }
    // The API itself stays.
    let response = app.graphql(None, "{ __typename }", json!({})).await;
    assert!(response["data"]["__typename"].is_string(), "{response}");
}
