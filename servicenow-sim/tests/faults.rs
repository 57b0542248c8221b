mod common;

use std::time::{Duration, Instant};

use common::{PASSWORD, Sn, USER, client, start};
use serde_json::{Value, json};
use servicenow_sim::{FaultMode, Faults};

// A current-thread runtime, as a plain `#[tokio::test]` gives, must be enough to run the simulator.
#[tokio::test]
async fn latency_delays_answers() {
    let sim = start().await;
    let sn = Sn::new(&sim);
    sim.set_fault(Faults::latency(300));
    let started = Instant::now();
    let (status, _) = sn.get_json("/api/now/table/sys_user").await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    sim.set_fault(Faults::none());
    let started = Instant::now();
    sn.get_json("/api/now/table/sys_user").await;
    assert!(started.elapsed() < Duration::from_millis(300));
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_for_the_next_n_requests_or_all() {
    let sim = start().await;
    let sn = Sn::new(&sim);
    let id = sn.create_incident(json!({"short_description": "x"})).await;
    let path = format!("/api/now/table/incident/{id}");
    sim.set_fault(Faults::error(503, Some(2)));
    for _ in 0..2 {
        let (status, v) = sn.patch_json(&path, json!({"state": "2"})).await;
        assert_eq!(status, 503);
        assert_eq!(v["status"], "failure");
    }
    assert_eq!(
        sim.state().incident(&id).unwrap()["state"],
        "1",
        "a faulted request is not applied"
    );
    let (status, _) = sn.patch_json(&path, json!({"state": "2"})).await;
    assert_eq!(status, 200);
    assert_eq!(sim.state().patch_count(), 3, "faulted PATCHes are counted");
    assert_eq!(
        sim.state()
            .requests()
            .iter()
            .filter(|r| r.fault.as_deref() == Some("error"))
            .count(),
        2
    );

    sim.set_fault(Faults::error(500, None));
    for _ in 0..3 {
        assert_eq!(sn.get("/api/now/table/sys_user").await.status(), 500);
    }
    assert_eq!(sim.state().faults().mode, FaultMode::Error);
    sim.set_fault(Faults::none());
    assert_eq!(sn.get("/api/now/table/sys_user").await.status(), 200);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_429_with_retry_headers() {
    let sim = start().await;
    let sn = Sn::new(&sim);
    sim.set_fault(Faults::rate_limit(7, Some(1)));
    let resp = sn.get("/api/now/table/sys_user").await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let reset: i64 = resp.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(
        reset >= now + 5 && reset <= now + 8,
        "reset {reset} now {now}"
    );
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "failure");
    assert_eq!(sn.get("/api/now/table/sys_user").await.status(), 200);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_gets_no_answer() {
    let sim = start().await;
    let sn = Sn::new(&sim);
    let id = sn.create_incident(json!({"short_description": "x"})).await;
    sim.set_fault(Faults::drop_connection(Some(1)));
    // A fresh client, so no pooled connection can be silently retried.
    let result = client()
        .patch(format!("{}/api/now/table/incident/{id}", sim.url()))
        .basic_auth(USER, Some(PASSWORD))
        .json(&json!({"state": "2"}))
        .send()
        .await;
    assert!(
        result.is_err(),
        "expected a transport error, got {result:?}"
    );
    assert_eq!(sim.state().incident(&id).unwrap()["state"], "1");
    let dropped: Vec<_> = sim
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.fault.as_deref() == Some("drop"))
        .collect();
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].method, "PATCH");
    assert_eq!(dropped[0].user.as_deref(), Some("glidepath"));
    assert_eq!(sim.state().patch_count(), 1);
    let (status, _) = sn
        .patch_json(
            &format!("/api/now/table/incident/{id}"),
            json!({"state": "2"}),
        )
        .await;
    assert_eq!(status, 200);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hibernating_instance_answers_html() {
    let sim = start().await;
    let sn = Sn::new(&sim);
    sim.set_fault(Faults::hibernate());
    for _ in 0..2 {
        let resp = sn.get("/api/now/table/incident").await;
        assert_eq!(resp.status(), 200);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let text = resp.text().await.unwrap();
        assert!(text.contains("hibernating"));
        assert!(serde_json::from_str::<Value>(&text).is_err());
    }
    sim.set_fault(Faults::none());
    let (status, _) = sn.get_json("/api/now/table/incident").await;
    assert_eq!(status, 200);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoint_sets_faults_black_box() {
    let sim = start().await;
    let sn = Sn::new(&sim);
    let admin = format!("{}/__sim/faults", sim.url());
    let resp = client()
        .post(&admin)
        .json(&json!({"mode": "error", "status": 500, "count": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(sn.get("/api/now/table/sys_user").await.status(), 500);
    assert_eq!(sn.get("/api/now/table/sys_user").await.status(), 200);

    client()
        .post(&admin)
        .json(&json!({"mode": "rate_limit", "retry_after_secs": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(sn.get("/api/now/table/sys_user").await.status(), 429);
    // The admin endpoint itself is never faulted, so a stuck fault can always be cleared.
    let current: Value = client()
        .get(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["mode"], "rate_limit");
    client()
        .post(&admin)
        .json(&json!({"mode": "drop", "count": 1}))
        .send()
        .await
        .unwrap();
    assert!(
        client()
            .get(format!("{}/api/now/table/sys_user", sim.url()))
            .basic_auth(USER, Some(PASSWORD))
            .send()
            .await
            .is_err()
    );
    client()
        .post(&admin)
        .json(&json!({"latency_ms": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(sn.get("/api/now/table/sys_user").await.status(), 200);

    let resp = client()
        .post(&admin)
        .body("{\"mode\":\"explode\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "failure");
    sim.stop().await;
}
