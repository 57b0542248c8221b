//! The escalation steps under a fake clock: nothing moves until the clock does, and each step is
//! taken once however often the engine looks. The clock is the server context's, not the
//! process's: two servers' contexts in one process share no clock and no sync wake-up.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use glidepath::clock::{Clock, FakeClock};
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

/// A server's service context on a fresh SQLite file (in `dir`), with alice and bob, a policy
/// whose level 1 (alice) times out after five minutes and level 2 (bob) after ten, repeated
/// `repeat` times, and a New incident's alert on it.
struct Server {
    ctx: Ctx,
    dir: std::path::PathBuf,
    bob: String,
    alert_id: String,
}

async fn server_with_an_alert(clock: Arc<FakeClock>, repeat: i32) -> anyhow::Result<Server> {
    let dir = std::env::temp_dir().join(format!("glidepath-fake-clock-{}", uuid::Uuid::new_v4()));
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
        schedule_ids: Vec::new(),
    };
    let policy = policies::NewPolicy {
        name: "Network".into(),
        routing_key: None,
        rules: vec![rule(5, &ids[0]), rule(10, &ids[1])],
        repeat,
    };
    let policy = policies::create(&ctx, policy).await.map_err(err)?;
    let source = sources::NewSource {
        name: "prod".into(),
        escalation_policy_id: policy.id.clone(),
    };
    let source = sources::create(&ctx, source).await.map_err(err)?;
    let body = json!({
        "sys_id": "0123456789abcdef0123456789abcdef", "state": "1", "number": "INC1",
    });
    let incident = Incident::parse(&body).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let event = IngestEvent {
        source: &source,
        connection: None,
        incident: &incident,
        assignee: None,
        body: &body,
        key_note: None,
        received: None,
    };
    let IngestResult::Applied { alert_id, .. } = alerts::ingest(&ctx, event).await.map_err(err)?
    else {
        anyhow::bail!("the incident was not applied");
    };
    Ok(Server {
        ctx,
        dir,
        bob: ids[1].clone(),
        alert_id,
    })
}

#[tokio::test]
async fn steps_follow_the_fake_clock() -> anyhow::Result<()> {
    let clock = Arc::new(FakeClock::new(Utc::now()));
    let Server {
        ctx,
        dir,
        bob: b,
        alert_id,
    } = server_with_an_alert(clock.clone(), 1).await?;
    let db = ctx.db.clone();
    let position = |m: &glidepath::entity::alert::Model| {
        (m.escalation_level, m.escalation_round, m.next_escalation_at)
    };
    let load = async || -> anyhow::Result<glidepath::entity::alert::Model> {
        alerts::get(&db, &alert_id)
            .await
            .map_err(err)?
            .ok_or_else(|| anyhow::anyhow!("alert gone"))
    };
    let t0 = clock.now();
    assert_eq!(
        position(&load().await?),
        (1, 0, Some(t0 + TimeDelta::minutes(5)))
    );

    // A second short of the timeout: nothing is due, however often the engine looks.
    clock.advance(TimeDelta::minutes(5) - TimeDelta::seconds(1));
    for _ in 0..3 {
        assert_eq!(escalation::run_due(&ctx, 100).await.map_err(err)?, 0);
    }
    assert_eq!(load().await?.escalation_level, 1);

    clock.advance(TimeDelta::seconds(1));
    assert_eq!(escalation::run_due(&ctx, 100).await.map_err(err)?, 1);
    assert_eq!(escalation::run_due(&ctx, 100).await.map_err(err)?, 0);
    let at_two = load().await?;
    assert_eq!(
        position(&at_two),
        (2, 0, Some(clock.now() + TimeDelta::minutes(10)))
    );
    assert_eq!(at_two.assigned_to_id.as_deref(), Some(b.as_str()));

    // Far in the future, the engine still walks one step per look: it never skips a level.
    clock.advance(TimeDelta::days(1));
    assert_eq!(escalation::run_due(&ctx, 100).await.map_err(err)?, 1);
    assert_eq!(position(&load().await?).0, 1);
    assert_eq!(position(&load().await?).1, 1);
    clock.advance(TimeDelta::days(1));
    assert_eq!(escalation::run_due(&ctx, 100).await.map_err(err)?, 1);
    let end = load().await?;
    assert_eq!(
        position(&end),
        (2, 1, None),
        "the last step of the last round"
    );
    clock.advance(TimeDelta::days(1));
    assert_eq!(escalation::run_due(&ctx, 100).await.map_err(err)?, 0);

    let names: Vec<String> = escalation::responders(&db, &alert_id)
        .await
        .map_err(err)?
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, vec!["alice", "bob"]);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test]
async fn each_server_escalates_by_its_own_clock() -> anyhow::Result<()> {
    let start = Utc::now();
    let (clock_a, clock_b) = (
        Arc::new(FakeClock::new(start)),
        Arc::new(FakeClock::new(start)),
    );
    let a = server_with_an_alert(clock_a.clone(), 0).await?;
    let b = server_with_an_alert(clock_b.clone(), 0).await?;
    let level = async |server: &Server| -> anyhow::Result<i32> {
        let alert = alerts::get(&server.ctx.db, &server.alert_id)
            .await
            .map_err(err)?;
        alert
            .map(|a| a.escalation_level)
            .ok_or_else(|| anyhow::anyhow!("alert gone"))
    };

    clock_a.advance(TimeDelta::minutes(5));
    assert_eq!(escalation::run_due(&a.ctx, 100).await.map_err(err)?, 1);
    assert_eq!(
        escalation::run_due(&b.ctx, 100).await.map_err(err)?,
        0,
        "server B's clock did not move"
    );
    assert_eq!(level(&a).await?, 2);
    assert_eq!(level(&b).await?, 1);

    clock_b.advance(TimeDelta::minutes(5));
    assert_eq!(escalation::run_due(&b.ctx, 100).await.map_err(err)?, 1);
    assert_eq!(level(&b).await?, 2);
    for server in [a, b] {
        let _ = std::fs::remove_dir_all(&server.dir);
    }
    Ok(())
}

#[tokio::test]
async fn waking_one_servers_sync_worker_leaves_the_other_asleep() -> anyhow::Result<()> {
    let a = server_with_an_alert(Arc::new(FakeClock::new(Utc::now())), 0).await?;
    let b = server_with_an_alert(Arc::new(FakeClock::new(Utc::now())), 0).await?;
    a.ctx.wake_sync();
    let wait = std::time::Duration::from_millis(200);
    assert!(
        tokio::time::timeout(wait, b.ctx.sync_wake.notified())
            .await
            .is_err(),
        "server B's sync worker was woken by server A"
    );
    assert!(
        tokio::time::timeout(wait, a.ctx.sync_wake.notified())
            .await
            .is_ok(),
        "server A's wake-up was lost"
    );
    for server in [a, b] {
        let _ = std::fs::remove_dir_all(&server.dir);
    }
    Ok(())
}
