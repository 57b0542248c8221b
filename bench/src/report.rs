//! Printing results: a terminal table, and the same figures as Markdown for BENCHMARKS.md.

use crate::driver::RunStats;
use crate::escalation::LagStats;

/// The targets, printed beside the figures; never asserted.
pub const TARGET_THROUGHPUT_RATIO: f64 = 0.5;
pub const TARGET_P99_MS: f64 = 25.0;

pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory: String,
}

impl Machine {
    pub fn detect() -> Self {
        let cpus = std::thread::available_parallelism().map_or(0, usize::from);
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("model name"))
                    .and_then(|rest| rest.split_once(':'))
                    .map(|(_, model)| model.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".to_owned());
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|rest| {
                        rest.trim()
                            .trim_end_matches("kB")
                            .trim()
                            .parse::<u64>()
                            .ok()
                    })
            })
            .map_or_else(
                || "unknown memory".to_owned(),
                |kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0),
            );
        Self {
            cpus,
            cpu_model,
            memory,
        }
    }

    pub fn describe(&self) -> String {
        format!("{} × {}, {} RAM", self.cpus, self.cpu_model, self.memory)
    }
}

/// The fixed-rate phase: the same kind of load offered at `rate` events/s.
pub struct FixedRate {
    pub rate: f64,
    pub glidepath: RunStats,
    pub baseline: Option<RunStats>,
}

pub struct Report<'a> {
    pub date: String,
    pub machine: Machine,
    pub events: usize,
    pub concurrency: usize,
    pub glidepath: &'a RunStats,
    pub baseline: Option<&'a RunStats>,
    pub peak_rss_kib: Option<u64>,
    pub fixed: Option<&'a FixedRate>,
}

impl Report<'_> {
    fn ratio(&self) -> Option<f64> {
        self.baseline
            .map(RunStats::throughput)
            .filter(|b| *b > 0.0)
            .map(|b| self.glidepath.throughput() / b)
    }

    fn rss(&self) -> String {
        self.peak_rss_kib.map_or_else(
            || "n/a".to_owned(),
            |kib| format!("{:.1} MiB", kib as f64 / 1024.0),
        )
    }

    fn verdicts(&self) -> (String, String) {
        let throughput = match self.ratio() {
            Some(r) => format!(
                "{} ({:.0}% of baseline, target ≥ {:.0}%)",
                met(r >= TARGET_THROUGHPUT_RATIO),
                r * 100.0,
                TARGET_THROUGHPUT_RATIO * 100.0
            ),
            None => "not measured (no baseline run)".to_owned(),
        };
        // The latency target is judged at the throughput target: the fixed-rate phase. In the
        // closed loop the mean latency is connections / throughput by Little's law, so its p99
        // says how fast the server is (reported too), not how long a delivery waits at a load it
        // sustains.
        let latency = match self.fixed {
            Some(fixed) => {
                let p99 = fixed.glidepath.quantile_ms(0.99);
                format!(
                    "{} (p99 {p99:.2} ms at a fixed {:.0} events/s, target < {TARGET_P99_MS} ms; closed loop p99 {:.2} ms)",
                    met(p99 < TARGET_P99_MS),
                    fixed.rate,
                    self.glidepath.quantile_ms(0.99)
                )
            }
            None => format!(
                "not judged: no fixed-rate phase (closed loop p99 {:.2} ms)",
                self.glidepath.quantile_ms(0.99)
            ),
        };
        (throughput, latency)
    }

    pub fn print_table(&self) {
        println!();
        println!(
            "{} events per target, {} concurrent connections, {} on {}",
            self.events,
            self.concurrency,
            self.date,
            self.machine.describe()
        );
        println!(
            "{:<10} {:>9} {:>10} {:>9} {:>9} {:>9} {:>7}",
            "target", "requests", "events/s", "p50 ms", "p99 ms", "max ms", "errors"
        );
        let row = |name: &str, s: &RunStats| {
            println!(
                "{:<10} {:>9} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>7}",
                name,
                s.sent,
                s.throughput(),
                s.quantile_ms(0.50),
                s.quantile_ms(0.99),
                s.max_ms(),
                s.errors()
            );
        };
        row("glidepath", self.glidepath);
        if let Some(baseline) = self.baseline {
            row("baseline", baseline);
        }
        if let Some(fixed) = self.fixed {
            println!("at a fixed rate of {:.0} events/s:", fixed.rate);
            row("glidepath", &fixed.glidepath);
            if let Some(baseline) = &fixed.baseline {
                row("baseline", baseline);
            }
        }
        println!();
        if let Some(ratio) = self.ratio() {
            println!("throughput glidepath/baseline: {ratio:.2}");
        }
        println!("glidepath peak RSS (VmHWM): {}", self.rss());
        let (throughput, latency) = self.verdicts();
        println!("target throughput: {throughput}");
        println!("target p99:        {latency}");
    }

    pub fn print_markdown(&self) {
        let machine = self.machine.describe();
        println!();
        println!(
            "| Date | Machine | Target | Events | Conns | Events/s | p50 ms | p99 ms | Max ms | Errors | Peak RSS |"
        );
        println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        let row = |name: &str, s: &RunStats, rss: &str| {
            println!(
                "| {} | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} |",
                self.date,
                machine,
                name,
                s.sent,
                self.concurrency,
                s.throughput(),
                s.quantile_ms(0.50),
                s.quantile_ms(0.99),
                s.max_ms(),
                s.errors(),
                rss
            );
        };
        row("Glidepath", self.glidepath, &self.rss());
        if let Some(baseline) = self.baseline {
            row("Baseline (actix-web + 1 INSERT)", baseline, "—");
        }
        if let Some(fixed) = self.fixed {
            let rate = fixed.rate;
            row(
                &format!("Glidepath, fixed {rate:.0}/s"),
                &fixed.glidepath,
                "—",
            );
            if let Some(baseline) = &fixed.baseline {
                row(&format!("Baseline, fixed {rate:.0}/s"), baseline, "—");
            }
        }
        println!();
        let (throughput, latency) = self.verdicts();
        if let Some(ratio) = self.ratio() {
            println!("- Throughput Glidepath/baseline: {ratio:.2}: {throughput}");
        } else {
            println!("- Throughput: {throughput}");
        }
        println!("- p99 latency: {latency}");
    }
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

/// Escalation lag per phase (few open alerts first, then many), as a table and optionally as
/// Markdown rows.
pub fn print_escalation(phases: &[LagStats], markdown: bool) {
    println!();
    println!(
        "{:<12} {:>7} {:>9} {:>9} {:>9}",
        "open alerts", "steps", "p50 ms", "p99 ms", "max ms"
    );
    for p in phases {
        println!(
            "{:<12} {:>7} {:>9.0} {:>9.0} {:>9.0}",
            p.open_alerts,
            p.steps,
            p.quantile_ms(0.50),
            p.quantile_ms(0.99),
            p.max_ms()
        );
    }
    if markdown {
        let date = chrono::Utc::now().format("%Y-%m-%d");
        let machine = Machine::detect().describe();
        println!();
        println!("| Date | Machine | Open alerts | Steps | Lag p50 ms | Lag p99 ms | Lag max ms |");
        println!("|---|---|---:|---:|---:|---:|---:|");
        for p in phases {
            println!(
                "| {date} | {machine} | {} | {} | {:.0} | {:.0} | {:.0} |",
                p.open_alerts,
                p.steps,
                p.quantile_ms(0.50),
                p.quantile_ms(0.99),
                p.max_ms()
            );
        }
    }
}
