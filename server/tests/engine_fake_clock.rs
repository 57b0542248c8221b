//! The escalation steps under a fake clock: nothing moves until the clock does, and each step is
//! taken once however often the engine looks. The clock is the context's, not the process's.

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

async fn user(ctx: &Ctx, name: &str) -> anyhow::Result<String> {
    let created = users::create_user(
        ctx,
        users::NewUser {
            email: format!("{name}@example.com"),
            name: name.to_string(),
            password: SecretString::from("a-long-password".to_string()),
            role: Role::Responder,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(created.id)
}

#[tokio::test]
async fn steps_follow_the_fake_clock() -> anyhow::Result<()> {
    let clock = Arc::new(FakeClock::new(Utc::now()));
    let dir = std::env::temp_dir().join(format!("glidepath-fake-clock-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("test.db").display());
    let db = Db::connect(&url).await?;
    db.migrate(&url).await?;
    let cipher = Arc::new(glidepath::secrets::Cipher::from_key(&[7u8; 32]));
    let ctx = Ctx::with_defaults(db.clone(), cipher, clock.clone());
    let err = |e: glidepath::error::AppError| anyhow::anyhow!("{e:?}");

    let (a, b) = (user(&ctx, "alice").await?, user(&ctx, "bob").await?);
    let policy = policies::create(
        &ctx,
        policies::NewPolicy {
            name: "Network".into(),
            routing_key: None,
            rules: vec![
                policies::NewRule {
                    escalation_timeout_minutes: 5,
                    user_ids: vec![a.clone()],
                },
                policies::NewRule {
                    escalation_timeout_minutes: 10,
                    user_ids: vec![b.clone()],
                },
            ],
            repeat: 1,
        },
    )
    .await
    .map_err(err)?;
    let source = sources::create(
        &ctx,
        sources::NewSource {
            name: "prod".into(),
            escalation_policy_id: policy.id.clone(),
        },
    )
    .await
    .map_err(err)?;
    let body = json!({
        "sys_id": "0123456789abcdef0123456789abcdef", "state": "1", "number": "INC1",
    });
    let incident = Incident::parse(&body).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let IngestResult::Applied { alert_id, .. } = alerts::ingest(
        &ctx,
        IngestEvent {
            source: &source,
            connection: None,
            incident: &incident,
            assignee: None,
            body: &body,
            key_note: None,
        },
    )
    .await
    .map_err(err)?
    else {
        anyhow::bail!("the incident was not applied");
    };
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
