//! Two servers' service contexts in one process share nothing they did not mean to: each has its
//! own clock and its own sync wake-up, so moving one server's time or queueing one server's
//! ServiceNow update does nothing to the other.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use glidepath::clock::FakeClock;
use glidepath::db::Db;
use glidepath::domain::{Incident, Role};
use glidepath::service::Ctx;
use glidepath::service::alerts::{self, IngestEvent, IngestResult};
use glidepath::service::{escalation, policies, sources, users};
use secrecy::SecretString;
use serde_json::json;

fn err(e: glidepath::error::AppError) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

/// A server's context on a fresh SQLite file, with an alert on a policy whose level 1 times out
/// after five minutes. Returns the context and the alert's id.
async fn server_with_an_alert(clock: Arc<FakeClock>) -> anyhow::Result<(Ctx, String)> {
    let dir = std::env::temp_dir().join(format!("glidepath-ctx-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("test.db").display());
    let db = Db::connect(&url).await?;
    db.migrate(&url).await?;
    let cipher = Arc::new(glidepath::secrets::Cipher::from_key(&[7u8; 32]));
    let ctx = Ctx::with_defaults(db, cipher, clock);
    let mut ids = Vec::new();
    for name in ["alice", "bob"] {
        let user = users::NewUser {
            email: format!("{name}@example.com"),
            name: name.to_string(),
            password: SecretString::from("a-long-password".to_string()),
            role: Role::Responder,
        };
        ids.push(users::create_user(&ctx, user).await.map_err(err)?.id);
    }
    let rule = |minutes, id: &String| policies::NewRule {
        escalation_timeout_minutes: minutes,
        user_ids: vec![id.clone()],
    };
    let policy = policies::NewPolicy {
        name: "Network".into(),
        routing_key: None,
        rules: vec![rule(5, &ids[0]), rule(10, &ids[1])],
        repeat: 0,
    };
    let policy = policies::create(&ctx, policy).await.map_err(err)?;
    let source = sources::NewSource {
        name: "prod".into(),
        escalation_policy_id: policy.id.clone(),
    };
    let source = sources::create(&ctx, source).await.map_err(err)?;
    let body = json!({ "sys_id": "0123456789abcdef0123456789abcdef", "state": "1" });
    let incident = Incident::parse(&body).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let event = IngestEvent {
        source: &source,
        connection: None,
        incident: &incident,
        assignee: None,
        body: &body,
        key_note: None,
    };
    let IngestResult::Applied { alert_id, .. } = alerts::ingest(&ctx, event).await.map_err(err)?
    else {
        anyhow::bail!("the incident was not applied");
    };
    Ok((ctx, alert_id))
}

#[tokio::test]
async fn each_server_escalates_by_its_own_clock() -> anyhow::Result<()> {
    let start = Utc::now();
    let (clock_a, clock_b) = (
        Arc::new(FakeClock::new(start)),
        Arc::new(FakeClock::new(start)),
    );
    let (a, alert_a) = server_with_an_alert(clock_a.clone()).await?;
    let (b, alert_b) = server_with_an_alert(clock_b.clone()).await?;

    clock_a.advance(TimeDelta::minutes(5));
    assert_eq!(escalation::run_due(&a, 100).await.map_err(err)?, 1);
    assert_eq!(
        escalation::run_due(&b, 100).await.map_err(err)?,
        0,
        "server B's clock did not move"
    );
    let level = |ctx: &Ctx, id: &str| {
        let (db, id) = (ctx.db.clone(), id.to_string());
        async move {
            let alert = alerts::get(&db, &id).await.map_err(err)?;
            alert
                .map(|a| a.escalation_level)
                .ok_or_else(|| anyhow::anyhow!("alert gone"))
        }
    };
    assert_eq!(level(&a, &alert_a).await?, 2);
    assert_eq!(level(&b, &alert_b).await?, 1);

    clock_b.advance(TimeDelta::minutes(5));
    assert_eq!(escalation::run_due(&b, 100).await.map_err(err)?, 1);
    assert_eq!(level(&b, &alert_b).await?, 2);
    Ok(())
}

#[tokio::test]
async fn waking_one_servers_sync_worker_leaves_the_other_asleep() -> anyhow::Result<()> {
    let (a, _) = server_with_an_alert(Arc::new(FakeClock::new(Utc::now()))).await?;
    let (b, _) = server_with_an_alert(Arc::new(FakeClock::new(Utc::now()))).await?;
    a.wake_sync();
    let wait = Duration::from_millis(200);
    assert!(
        tokio::time::timeout(wait, b.sync_wake.notified())
            .await
            .is_err(),
        "server B's sync worker was woken by server A"
    );
    assert!(
        tokio::time::timeout(wait, a.sync_wake.notified())
            .await
            .is_ok(),
        "server A's wake-up was lost"
    );
    Ok(())
}
