//! Load benchmark for Glidepath's ServiceNow webhook, measured beside a trivial actix-web +
//! SQLite endpoint under the same load in the same process, so that the figures say how much
//! Glidepath costs relative to what this machine can do at all, not just raw numbers.

mod baseline;
mod delivery;
mod driver;
mod escalation;
mod glidepath;
mod journal_lag;
mod report;
mod sync_lag;
mod workload;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use reqwest::Client;

use crate::driver::{Pace, RunStats};
use crate::workload::{Plan, PlanSpec};

#[derive(Parser, Debug)]
#[command(
    name = "glidepath-bench",
    // scripts/bench.sh passes --bin; a --bin given after it must win.
    args_override_self = true,
    about = "Drive Glidepath's ServiceNow webhook with a realistic event mix and compare it with a plain actix-web + SQLite INSERT endpoint"
)]
struct Args {
    /// The glidepath binary to benchmark; use a release build.
    #[arg(long = "bin", default_value_os_t = default_bin())]
    bin: PathBuf,

    /// Webhook events sent to each target in the measured phase.
    #[arg(long, default_value_t = 20_000)]
    events: usize,

    /// Stop the measured phase after this many seconds even if events remain.
    #[arg(long, value_name = "SECONDS")]
    duration: Option<u64>,

    /// Events sent to each target before measuring, with incidents of their own.
    #[arg(long, default_value_t = 1_000)]
    warmup: usize,

    /// Concurrent connections, each with one request in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,

    /// Share of deliveries that repeat an event already delivered.
    #[arg(long, default_value_t = 0.10)]
    duplicates: f64,

    /// Seed of the event mix; the same seed gives byte-identical requests.
    #[arg(long, default_value_t = 20_261_128)]
    seed: u64,

    /// SQLite pool size of the baseline endpoint; 1 matches Glidepath, which writes through a
    /// single connection.
    #[arg(long, default_value_t = 1)]
    baseline_pool: u32,

    /// Only measure Glidepath.
    #[arg(long)]
    no_baseline: bool,

    /// Offered load of the fixed-rate phase, in events per second over all connections. Without
    /// it, the phase runs at the throughput target: half of what the baseline reached in the
    /// closed loop of the same run.
    #[arg(long, value_name = "EVENTS_PER_S")]
    rate: Option<f64>,

    /// Skip the fixed-rate phase.
    #[arg(long)]
    no_fixed_rate: bool,

    /// Also print the figures as Markdown table rows for BENCHMARKS.md.
    #[arg(long)]
    markdown: bool,

    /// Keep the temporary directory (databases, server log) for inspection.
    #[arg(long)]
    keep_temp: bool,

    /// Open alerts in the escalation-lag measurement (each escalates once, a minute after it
    /// opened).
    #[arg(long, default_value_t = 10_000)]
    escalation_alerts: usize,

    /// Open alerts in the escalation-lag baseline measured in the same run.
    #[arg(long, default_value_t = 100)]
    escalation_baseline_alerts: usize,

    /// Skip the escalation-lag measurement (it takes about three minutes).
    #[arg(long)]
    no_escalation: bool,

    /// Only measure escalation lag, not the webhook.
    #[arg(long, conflicts_with = "no_escalation")]
    escalation_only: bool,

    /// Measure the outbound ServiceNow sync lag (alert change → PATCH received by a simulated
    /// instance) instead of the webhook and escalation lag.
    #[arg(long, conflicts_with = "escalation_only")]
    sync_lag: bool,

    /// With --sync-lag: alert changes (comments) made in the measured phase.
    #[arg(long, default_value_t = 2_000)]
    sync_changes: usize,

    /// With --sync-lag: clients making changes at once, each in a closed loop.
    #[arg(long, default_value_t = 8)]
    sync_concurrency: usize,

    /// With --sync-lag: incidents (alerts) the changes are spread over.
    #[arg(long, default_value_t = 100)]
    sync_incidents: usize,

    /// With --sync-lag: latency the simulated instance adds to every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    instance_latency_ms: u64,

    /// Measure the inbound journal lag (work note written in a simulated instance → comment
    /// visible through GraphQL), with the webhook event and with the periodic poll alone,
    /// instead of the webhook and escalation lag.
    #[arg(long, conflicts_with_all = ["escalation_only", "sync_lag"])]
    journal_lag: bool,

    /// With --journal-lag: work notes written with the webhook on (one every 50 ms).
    #[arg(long, default_value_t = 400)]
    journal_notes: usize,

    /// With --journal-lag: work notes written for the poll-only baseline (spread over two poll
    /// intervals).
    #[arg(long, default_value_t = 60)]
    journal_baseline_notes: usize,

    /// With --journal-lag: incidents the notes are spread over.
    #[arg(long, default_value_t = 20)]
    journal_incidents: usize,

    /// With --journal-lag: the server's journal poll interval (its default is 60).
    #[arg(long, default_value_t = 60)]
    journal_poll_seconds: u64,

    /// Measure the notification delivery lag (alert escalates → its e-mail reaches an SMTP
    /// server) with many alerts escalating at once, against a baseline of a few, instead of the
    /// webhook and escalation lag.
    #[arg(long, conflicts_with_all = ["escalation_only", "sync_lag", "journal_lag"])]
    delivery: bool,

    /// With --delivery: alerts escalating together in the measured phase.
    #[arg(long, default_value_t = 1000)]
    delivery_alerts: usize,

    /// With --delivery: alerts escalating together in the baseline phase.
    #[arg(long, default_value_t = 20)]
    delivery_baseline_alerts: usize,
}

fn default_bin() -> PathBuf {
    // The bench crate sits one level below the workspace root.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().map_or(manifest.clone(), PathBuf::from);
    root.join("target").join("release").join("glidepath")
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // Dropping the run on Ctrl-C drops the child process handle, which kills the server
    // instead of leaving it behind.
    let outcome = tokio::select! {
        result = run(args) => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("glidepath-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<ExitCode> {
    if args.events == 0 {
        bail!("--events must be at least 1");
    }
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if let Some(rate) = args.rate
        && !(rate.is_finite() && rate > 0.0)
    {
        bail!("--rate must be a positive number of events per second, not {rate}");
    }
    if !args.bin.is_file() {
        bail!(
            "{} does not exist: build it with `cargo build --release -p server` or pass --bin",
            args.bin.display()
        );
    }
    if args.bin.components().any(|c| c.as_os_str() == "debug") {
        eprintln!(
            "warning: {} looks like a debug build; the figures will not mean much",
            args.bin.display()
        );
    }

    if let Some(load) = load_average() {
        // The load generator and both servers share this machine's cores; anything else
        // running (a build, say) shows up in the figures.
        if load > 0.5 {
            eprintln!(
                "warning: 1-minute load average is {load:.2} before starting; other work on this machine will skew the figures"
            );
        }
    }

    if args.sync_lag {
        return run_sync_lag(&args).await;
    }
    if args.delivery {
        return run_delivery(&args).await;
    }
    if args.journal_lag {
        return run_journal_lag(&args).await;
    }

    let warmup = build_plan(&args, args.warmup, args.seed.wrapping_add(1), 9_000_000)?;
    let measured = build_plan(&args, args.events, args.seed, 0)?;
    let mix = measured.mix;
    println!(
        "mix: {} new, {} in progress, {} resolved, {} duplicates ({} events, seed {})",
        mix.new,
        mix.in_progress,
        mix.resolved,
        mix.duplicates,
        mix.total(),
        args.seed
    );

    let temp = tempfile::Builder::new()
        .prefix("glidepath-bench-")
        .tempdir()
        .context("creating a temporary directory")?;
    let client = driver::client(args.concurrency)?;
    let time_limit = args.duration.map(Duration::from_secs);

    println!("glidepath: {}", args.bin.display());
    if !args.escalation_only {
        println!(
            "\nclosed loop: {} connections, each with one request in flight",
            args.concurrency
        );
        let closed = Phase {
            warmup: &warmup,
            measured: &measured,
            pace: Pace::Flat,
            time_limit,
        };
        let dir = temp.path().join("closed");
        let ((glidepath, peak_rss_kib), baseline) =
            bench_both(&args, &client, &dir, &closed).await?;

        // The same load at a fixed rate, on fresh databases, with incidents of its own.
        let rate = args.rate.or_else(|| {
            baseline
                .as_ref()
                .map(|b| b.throughput() * report::TARGET_THROUGHPUT_RATIO)
        });
        let fixed = match rate.filter(|_| !args.no_fixed_rate) {
            Some(rate) => {
                println!(
                    "\nfixed rate: {rate:.0} events/s over {} connections",
                    args.concurrency
                );
                let paced = build_plan(&args, args.events, args.seed.wrapping_add(3), 18_000_000)?;
                let phase = Phase {
                    warmup: &warmup,
                    measured: &paced,
                    pace: Pace::Rate(rate),
                    time_limit,
                };
                let dir = temp.path().join("fixed-rate");
                let ((glidepath, _), baseline) = bench_both(&args, &client, &dir, &phase).await?;
                Some(report::FixedRate {
                    rate,
                    glidepath,
                    baseline,
                })
            }
            None => None,
        };

        let report = report::Report {
            date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
            machine: report::Machine::detect(),
            events: args.events,
            concurrency: args.concurrency,
            glidepath: &glidepath,
            baseline: baseline.as_ref(),
            peak_rss_kib,
            fixed: fixed.as_ref(),
        };
        report.print_table();
        if args.markdown {
            report.print_markdown();
        }
    }

    if !args.no_escalation {
        let mut phases = Vec::new();
        for (name, alerts) in [
            ("baseline", args.escalation_baseline_alerts),
            ("measured", args.escalation_alerts),
        ] {
            println!("\nescalation lag: {alerts} open alerts ({name}); this takes over a minute");
            let dir = temp.path().join(format!("escalation-{name}"));
            let stats = escalation::measure(
                &args.bin,
                &dir,
                &client,
                alerts,
                args.concurrency,
                args.seed.wrapping_add(2),
            )
            .await?;
            phases.push(stats);
        }
        report::print_escalation(&phases, args.markdown);
    }

    if args.keep_temp {
        let kept = temp.keep();
        println!("kept {}", kept.display());
    }

    if BROKEN.load(Ordering::Relaxed) {
        eprintln!(
            "\n!!! FAILED: 5xx answers or broken connections were seen (details above); that is a bug, not a load effect"
        );
    }
    Ok(if BROKEN.load(Ordering::Relaxed) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn run_delivery(args: &Args) -> Result<ExitCode> {
    if args.delivery_alerts == 0 || args.delivery_baseline_alerts == 0 {
        bail!("the --delivery-* settings must be at least 1");
    }
    let temp = tempfile::Builder::new()
        .prefix("glidepath-bench-")
        .tempdir()
        .context("creating a temporary directory")?;
    let client = driver::client(args.concurrency)?;
    let machine = report::Machine::detect().describe();
    let date = chrono::Utc::now().format("%Y-%m-%d");
    for (name, alerts) in [
        ("baseline", args.delivery_baseline_alerts),
        ("measured", args.delivery_alerts),
    ] {
        println!(
            "\ndelivery lag: {alerts} alerts escalating together ({name}); about half a minute"
        );
        let dir = temp.path().join(format!("delivery-{name}"));
        let lag = delivery::measure(
            &args.bin,
            &dir,
            &client,
            alerts,
            args.concurrency,
            args.seed.wrapping_add(3),
        )
        .await?;
        println!(
            "{name}: {} of {} e-mails; escalation to SMTP receipt p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            lag.delivered,
            lag.alerts,
            lag.quantile_ms(0.5),
            lag.quantile_ms(0.99),
            lag.quantile_ms(1.0)
        );
        if args.markdown {
            println!(
                "| {date} | {machine} | {name} | {} | {} | {:.0} | {:.0} | {:.0} |",
                lag.alerts,
                lag.delivered,
                lag.quantile_ms(0.5),
                lag.quantile_ms(0.99),
                lag.quantile_ms(1.0)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_journal_lag(args: &Args) -> Result<ExitCode> {
    if args.journal_notes == 0
        || args.journal_baseline_notes == 0
        || args.journal_incidents == 0
        || args.journal_poll_seconds == 0
    {
        bail!("the --journal-* settings must be at least 1");
    }
    let temp = tempfile::Builder::new()
        .prefix("glidepath-bench-")
        .tempdir()
        .context("creating a temporary directory")?;
    let client = driver::client(4)?;
    let spec = journal_lag::Spec {
        incidents: args.journal_incidents,
        notes: args.journal_notes,
        baseline_notes: args.journal_baseline_notes,
        poll_seconds: args.journal_poll_seconds,
    };
    println!(
        "journal lag: {} notes (webhook on) and {} (poll only) over {} incidents, journal poll every {} s",
        spec.notes, spec.baseline_notes, spec.incidents, spec.poll_seconds
    );
    let lag = journal_lag::run(&args.bin, temp.path(), &client, &spec).await?;
    let machine = report::Machine::detect().describe();
    let date = chrono::Utc::now().format("%Y-%m-%d");
    for (name, phase) in [
        ("webhook event", &lag.with_webhook),
        ("periodic poll only (baseline)", &lag.poll_only),
    ] {
        println!(
            "{name}: {} notes; lag p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            phase.notes,
            phase.quantile_ms(0.5),
            phase.quantile_ms(0.99),
            phase.quantile_ms(1.0)
        );
        if args.markdown {
            println!(
                "| {date} | {machine} | {name} | {} | {} | {:.0} | {:.0} | {:.0} |",
                phase.notes,
                spec.poll_seconds,
                phase.quantile_ms(0.5),
                phase.quantile_ms(0.99),
                phase.quantile_ms(1.0)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_sync_lag(args: &Args) -> Result<ExitCode> {
    if args.sync_changes == 0 || args.sync_concurrency == 0 || args.sync_incidents == 0 {
        bail!("--sync-changes, --sync-concurrency and --sync-incidents must be at least 1");
    }
    let temp = tempfile::Builder::new()
        .prefix("glidepath-bench-")
        .tempdir()
        .context("creating a temporary directory")?;
    let client = driver::client(args.sync_concurrency)?;
    let spec = sync_lag::Spec {
        changes: args.sync_changes,
        concurrency: args.sync_concurrency,
        incidents: args.sync_incidents,
        instance_latency_ms: args.instance_latency_ms,
    };
    println!(
        "sync lag: {} comments by {} clients over {} incidents, instance latency {} ms",
        spec.changes, spec.concurrency, spec.incidents, spec.instance_latency_ms
    );
    let lag = sync_lag::run(&args.bin, temp.path(), &client, &spec).await?;
    let machine = report::Machine::detect().describe();
    let date = chrono::Utc::now().format("%Y-%m-%d");
    println!(
        "changes {} at {:.0}/s; lag p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lag.changes,
        lag.changes_per_s,
        lag.quantile_ms(0.5),
        lag.quantile_ms(0.99),
        lag.quantile_ms(1.0)
    );
    if args.markdown {
        println!(
            "| {date} | {machine} | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} |",
            lag.changes,
            spec.concurrency,
            spec.incidents,
            spec.instance_latency_ms,
            lag.changes_per_s,
            lag.quantile_ms(0.5),
            lag.quantile_ms(0.99),
            lag.quantile_ms(1.0)
        );
    }
    if args.keep_temp {
        let kept = temp.keep();
        println!("kept {}", kept.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn build_plan(args: &Args, events: usize, seed: u64, number_base: u64) -> Result<Plan> {
    workload::build(&PlanSpec {
        events,
        connections: args.concurrency,
        duplicate_ratio: args.duplicates,
        seed,
        number_base,
    })
}

/// Runs `phase` against Glidepath, then (unless `--no-baseline`) against the baseline, each on
/// a fresh database in `dir`.
async fn bench_both(
    args: &Args,
    client: &Client,
    dir: &std::path::Path,
    phase: &Phase<'_>,
) -> Result<((RunStats, Option<u64>), Option<RunStats>)> {
    let glidepath = bench_glidepath(args, client, dir, phase).await?;
    let baseline = if args.no_baseline {
        None
    } else {
        Some(bench_baseline(args, client, dir, phase).await?)
    };
    Ok((glidepath, baseline))
}

/// One measured phase: a closed-loop warm-up on incidents of its own, then the measured plan.
struct Phase<'a> {
    warmup: &'a Plan,
    measured: &'a Plan,
    pace: Pace,
    time_limit: Option<Duration>,
}

async fn bench_glidepath(
    args: &Args,
    client: &Client,
    dir: &std::path::Path,
    phase: &Phase<'_>,
) -> Result<(RunStats, Option<u64>)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut server = glidepath::Server::start(&args.bin, dir).await?;
    println!("glidepath listening on {}", server.base_url);
    server.wait_healthy(client).await?;
    let url = server.create_alert_source(client).await?;

    if phase.warmup.len() > 0 {
        let stats = driver::drive(client, &url, phase.warmup, Pace::Flat, None).await?;
        print_errors("glidepath warm-up", &stats);
    }
    let before = outcome_counts(&server, client).await;
    settle();
    let stats = driver::drive(client, &url, phase.measured, phase.pace, phase.time_limit).await?;
    print_errors("glidepath", &stats);
    server.ensure_running()?;

    let peak_rss_kib = match server.peak_rss_kib() {
        Ok(kib) => Some(kib),
        Err(err) => {
            eprintln!("warning: no peak RSS: {err:#}");
            None
        }
    };
    if let (Some(before), Some(after)) = (before, outcome_counts(&server, client).await) {
        let diff: Vec<String> = after
            .iter()
            .map(|(k, v)| (k, v - before.get(k).copied().unwrap_or(0.0)))
            .filter(|(_, v)| *v > 0.0)
            .map(|(k, v)| format!("{k} {v:.0}"))
            .collect();
        println!(
            "glidepath webhook outcomes (from /metrics): {}",
            diff.join(", ")
        );
    }
    if stats.server_errors > 0 {
        eprintln!(
            "glidepath log {}:\n{}",
            server.log_path.display(),
            glidepath::tail(&server.log_path)
        );
    }
    server.stop().await?;
    Ok((stats, peak_rss_kib))
}

async fn outcome_counts(
    server: &glidepath::Server,
    client: &Client,
) -> Option<BTreeMap<String, f64>> {
    match server.webhook_outcomes(client).await {
        Ok(list) => Some(list.into_iter().collect()),
        Err(err) => {
            eprintln!("warning: webhook outcome counts unavailable: {err:#}");
            None
        }
    }
}

async fn bench_baseline(
    args: &Args,
    client: &Client,
    dir: &std::path::Path,
    phase: &Phase<'_>,
) -> Result<RunStats> {
    let baseline = baseline::Baseline::start(&dir.join("baseline.db"), args.baseline_pool).await?;
    println!("baseline listening on {}", baseline.url);
    if phase.warmup.len() > 0 {
        let stats = driver::drive(client, &baseline.url, phase.warmup, Pace::Flat, None).await?;
        print_errors("baseline warm-up", &stats);
    }
    settle();
    let stats = driver::drive(
        client,
        &baseline.url,
        phase.measured,
        phase.pace,
        phase.time_limit,
    )
    .await?;
    print_errors("baseline", &stats);
    baseline.stop().await?;
    Ok(stats)
}

/// Writes every dirty page to disk before a measured phase, so that the kernel flushing what an
/// earlier phase wrote (hundreds of MiB of database and WAL) does not land in this one.
fn settle() {
    if let Err(err) = std::process::Command::new("sync").status() {
        eprintln!("warning: could not run sync before the measured phase: {err}");
    }
}

/// Set when any phase, warm-up included, saw a 5xx or a broken connection.
static BROKEN: AtomicBool = AtomicBool::new(false);

fn print_errors(name: &str, stats: &RunStats) {
    if stats.errors() == 0 {
        return;
    }
    let broken = stats.server_errors + stats.transport_errors > 0;
    if broken {
        BROKEN.store(true, Ordering::Relaxed);
    }
    let loud = if broken { "!!! " } else { "" };
    eprintln!(
        "{loud}{name}: {} of {} requests failed ({} 4xx, {} 5xx, {} transport); examples:",
        stats.errors(),
        stats.sent,
        stats.client_errors,
        stats.server_errors,
        stats.transport_errors
    );
    for sample in &stats.samples {
        eprintln!("    {sample}");
    }
}
