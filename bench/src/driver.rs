//! Load: one task per connection, each sending its share of the plan one request at a time.
//!
//! - Closed loop ([`Pace::Flat`]): each connection sends its next request as soon as the previous
//!   one is answered, so the offered load is as much as the target can take. Latency is taken
//!   from just before the request is sent until the whole response body has arrived.
//! - Fixed rate ([`Pace::Rate`]): the connections together send a request every `1 / rate`
//!   seconds, each on its own schedule. A request that cannot go out on time (its connection is
//!   still waiting for the previous answer) goes out as soon as it can, and its latency is taken
//!   from when it was due, so time spent queued behind a slow answer counts (no coordinated
//!   omission).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use hdrhistogram::Histogram;
use reqwest::{Client, StatusCode};

use crate::workload::Plan;

/// Error examples kept per class; enough to diagnose, not enough to flood the terminal.
const SAMPLES_KEPT: usize = 5;

pub struct RunStats {
    pub sent: u64,
    pub ok: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub transport_errors: u64,
    pub elapsed: Duration,
    /// Microseconds.
    pub latency: Histogram<u64>,
    pub samples: Vec<String>,
}

impl RunStats {
    fn new() -> Result<Self> {
        Ok(Self {
            sent: 0,
            ok: 0,
            client_errors: 0,
            server_errors: 0,
            transport_errors: 0,
            elapsed: Duration::ZERO,
            latency: latency_histogram()?,
            samples: Vec::new(),
        })
    }

    pub fn errors(&self) -> u64 {
        self.client_errors + self.server_errors + self.transport_errors
    }

    /// Completed requests per second, errors included: an error answer still costs the
    /// server a full request, and errors are reported separately.
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.sent as f64 / secs
        } else {
            0.0
        }
    }

    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.latency.max() as f64 / 1000.0
    }

    fn merge(&mut self, other: RunStats) -> Result<()> {
        self.sent += other.sent;
        self.ok += other.ok;
        self.client_errors += other.client_errors;
        self.server_errors += other.server_errors;
        self.transport_errors += other.transport_errors;
        self.latency
            .add(&other.latency)
            .context("merging latency histograms")?;
        for sample in other.samples {
            if self.samples.len() < SAMPLES_KEPT * 3 {
                self.samples.push(sample);
            }
        }
        Ok(())
    }
}

fn latency_histogram() -> Result<Histogram<u64>> {
    // 1 µs to 10 min at 3 significant digits: anything slower is recorded as the ceiling.
    Histogram::new_with_bounds(1, 600_000_000, 3).context("creating a latency histogram")
}

pub fn client(connections: usize) -> Result<Client> {
    Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .build()
        .context("building the HTTP client")
}

/// How requests are spaced.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// Closed loop: as fast as the answers come.
    Flat,
    /// This many requests per second over all connections.
    Rate(f64),
}

/// Sends the whole plan to `url` and returns what happened. `time_limit` stops every
/// connection early once elapsed; requests already in flight still finish and count.
pub async fn drive(
    client: &Client,
    url: &str,
    plan: &Plan,
    pace: Pace,
    time_limit: Option<Duration>,
) -> Result<RunStats> {
    let shares: Vec<Vec<Bytes>> = plan.connections.clone();
    let connections = shares.len();
    let started = Instant::now();
    let deadline = time_limit.map(|limit| started + limit);
    let mut tasks = Vec::with_capacity(connections);
    for (index, bodies) in shares.into_iter().enumerate() {
        let client = client.clone();
        let url = url.to_owned();
        // Connection `index` sends its k-th request at (k * connections + index) / rate: the
        // connections take turns, so the whole load is evenly spaced.
        let schedule = match pace {
            Pace::Flat => None,
            Pace::Rate(rate) => {
                let period = Duration::from_secs_f64(connections as f64 / rate);
                let offset = Duration::from_secs_f64(index as f64 / rate);
                Some((started + offset, period))
            }
        };
        tasks.push(tokio::spawn(async move {
            connection(client, url, bodies, schedule, deadline).await
        }));
    }
    let mut total = RunStats::new()?;
    for task in tasks {
        let stats = task.await.context("a load connection task panicked")??;
        total.merge(stats)?;
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// One connection's requests; `schedule` is (first send, period) at a fixed rate.
async fn connection(
    client: Client,
    url: String,
    bodies: Vec<Bytes>,
    schedule: Option<(Instant, Duration)>,
    deadline: Option<Instant>,
) -> Result<RunStats> {
    let mut stats = RunStats::new()?;
    let mut kept = [0usize; 3];
    for (k, body) in bodies.into_iter().enumerate() {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let start = match schedule {
            None => Instant::now(),
            Some((first, period)) => {
                let due = first + period.mul_f64(k as f64);
                tokio::time::sleep_until(due.into()).await;
                due
            }
        };
        let outcome = send(&client, &url, body).await;
        let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        stats.latency.saturating_record(micros.max(1));
        stats.sent += 1;
        let (class, sample) = match outcome {
            Ok((status, _)) if status.is_success() => {
                stats.ok += 1;
                continue;
            }
            Ok((status, text)) if status.is_server_error() => {
                stats.server_errors += 1;
                (0, format!("HTTP {status}: {text}"))
            }
            Ok((status, text)) => {
                stats.client_errors += 1;
                (1, format!("HTTP {status}: {text}"))
            }
            Err(err) => {
                stats.transport_errors += 1;
                (2, format!("transport error: {err:#}"))
            }
        };
        if kept[class] < SAMPLES_KEPT {
            kept[class] += 1;
            stats.samples.push(sample);
        }
    }
    Ok(stats)
}

async fn send(client: &Client, url: &str, body: Bytes) -> Result<(StatusCode, String)> {
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await?;
    let status = response.status();
    // The body is always read so that the connection goes back to the pool and the
    // latency covers the complete answer.
    let bytes = response.bytes().await?;
    let text = if status.is_success() {
        String::new()
    } else {
        String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned()
    };
    Ok((status, text))
}
