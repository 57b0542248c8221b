//! Escalation lag: how long after an alert's next step falls due the engine writes it, with many
//! alerts open at once.
//!
//! Each phase starts its own Glidepath (real clock, no time scale), creates a policy of two
//! levels whose first times out after one minute, and opens `alerts` alerts through the webhook.
//! Right after they are open, before any is due, the bench reads every alert's
//! `next_escalation_at` from the SQLite file; once all reached level 2 it reads the time each
//! level-2 step was logged. The lag of one alert is the second minus the first.
//!
//! The baseline is the same measurement with few alerts open, in the same run: the engine looks
//! at the database once per tick (one second), so even an idle server shows a lag spread over
//! that second. The difference between the two phases is what the number of open alerts costs.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use reqwest::Client;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

use crate::{driver, glidepath, workload};

/// Minutes until level 2 is due. Opening the alerts must take less than this.
const LEVEL_ONE_MINUTES: i32 = 1;

pub struct LagStats {
    pub open_alerts: usize,
    pub steps: u64,
    pub lag_ms: Histogram<u64>,
}

impl LagStats {
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.lag_ms.value_at_quantile(q) as f64
    }

    pub fn max_ms(&self) -> f64 {
        self.lag_ms.max() as f64
    }
}

/// One phase: `alerts` open alerts, all escalating once.
pub async fn measure(
    bin: &Path,
    dir: &Path,
    client: &Client,
    alerts: usize,
    concurrency: usize,
    seed: u64,
) -> Result<LagStats> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let server = glidepath::Server::start(bin, dir).await?;
    server.wait_healthy(client).await?;
    let url = server
        .create_alert_source_with_levels(client, &[LEVEL_ONE_MINUTES, LEVEL_ONE_MINUTES])
        .await?;

    let opened = Instant::now();
    let plan = workload::new_incidents(alerts, concurrency, seed)?;
    let stats = driver::drive(client, &url, &plan, driver::Pace::Flat, None).await?;
    if stats.errors() > 0 {
        bail!(
            "{} of {} alerts could not be opened: {:?}",
            stats.errors(),
            alerts,
            stats.samples
        );
    }
    let took = opened.elapsed();
    if took >= Duration::from_secs(u64::try_from(LEVEL_ONE_MINUTES)? * 60) {
        bail!("opening {alerts} alerts took {took:?}, longer than the level-1 timeout");
    }

    let pool = open_database(&dir.join("glidepath.db")).await?;
    let due = due_times(&pool).await?;
    if due.len() != alerts {
        bail!(
            "{} of {alerts} alerts were waiting for level 2 right after opening them",
            due.len()
        );
    }
    let latest_due = due.values().max().copied().unwrap_or_else(Utc::now);
    // Wait until every alert reached level 2, or a generous margin past the last due time.
    let deadline = Instant::now()
        + (latest_due - Utc::now()).to_std().unwrap_or_default()
        + Duration::from_secs(120);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM alerts WHERE status = 'PENDING' AND escalation_level < 2",
        )
        .fetch_one(&pool)
        .await
        .context("counting alerts still at level 1")?;
        if waiting == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("{waiting} alerts never reached level 2");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let (steps, lag_ms) = level_two_lags(&pool, &due, |written, due_at| written - due_at).await?;
    pool.close().await;
    server.stop().await?;
    Ok(LagStats {
        open_alerts: alerts,
        steps,
        lag_ms,
    })
}

/// The level-2 steps the server logged, each measured against `other[alert]` by
/// `lag(step written, other)`, as a histogram in milliseconds with their number (alerts missing
/// from `other` are left out).
pub(crate) async fn level_two_lags(
    pool: &SqlitePool,
    other: &std::collections::HashMap<String, DateTime<Utc>>,
    lag: impl Fn(DateTime<Utc>, DateTime<Utc>) -> chrono::TimeDelta,
) -> Result<(u64, Histogram<u64>)> {
    let rows = sqlx::query(
        "SELECT alert_id, created_at FROM alert_log \
         WHERE kind = 'ESCALATED' AND message LIKE 'Escalated to level 2%'",
    )
    .fetch_all(pool)
    .await
    .context("reading level-2 steps")?;
    let mut lag_ms = Histogram::<u64>::new_with_bounds(1, 3_600_000, 3)?;
    let mut steps = 0;
    for row in rows {
        let alert_id: String = row.try_get("alert_id")?;
        let written = parse_time(&row.try_get::<String, _>("created_at")?)?;
        let Some(at) = other.get(&alert_id) else {
            continue;
        };
        let ms = lag(written, *at).num_milliseconds().max(1);
        lag_ms.saturating_record(u64::try_from(ms)?);
        steps += 1;
    }
    Ok((steps, lag_ms))
}

pub(crate) async fn open_database(path: &Path) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    SqlitePool::connect_with(options)
        .await
        .with_context(|| format!("opening {}", path.display()))
}

async fn due_times(pool: &SqlitePool) -> Result<std::collections::HashMap<String, DateTime<Utc>>> {
    let rows = sqlx::query(
        "SELECT id, next_escalation_at FROM alerts \
         WHERE escalation_level = 1 AND next_escalation_at IS NOT NULL",
    )
    .fetch_all(pool)
    .await
    .context("reading due times")?;
    rows.into_iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            let at: String = row.try_get("next_escalation_at")?;
            Ok((id, parse_time(&at)?))
        })
        .collect()
}

/// Timestamps as the server stores them in SQLite (RFC 3339, with a space or a `T`).
fn parse_time(text: &str) -> Result<DateTime<Utc>> {
    let normalised = text.replacen(' ', "T", 1).replace(' ', "");
    DateTime::parse_from_rfc3339(&normalised)
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| format!("unreadable timestamp {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn reads_both_timestamp_spellings() {
        let a = parse_time("2026-11-28 14:10:00.123456+00:00").unwrap();
        let b = parse_time("2026-11-28T14:10:00.123456+00:00").unwrap();
        let c = parse_time("2026-11-28 14:10:00.123456 +00:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert!(parse_time("yesterday").is_err());
    }
}
