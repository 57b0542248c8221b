//! Failure modes a real instance shows that a client must survive.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultMode {
    #[default]
    None,
    /// Answer with `status` (500, 503, …) and ServiceNow's error body.
    Error,
    /// Answer 429 with `Retry-After` and `X-RateLimit-Reset`, as the inbound REST rate limiter does.
    RateLimit,
    /// Close the connection without answering.
    Drop,
    /// Answer 200 with an HTML page, as a hibernating developer instance does.
    Hibernate,
}

/// Fault settings; also the JSON body of `POST /__sim/faults`, e.g. `{"mode":"error","status":503,"count":2}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Delay added before every Table API answer, faulted or not.
    pub latency_ms: u64,
    pub mode: FaultMode,
    /// How many requests the mode applies to; `None` means every request until cleared.
    pub count: Option<u32>,
    /// Status for `error` mode.
    pub status: u16,
    /// Seconds reported in `Retry-After` for `rate_limit` mode.
    pub retry_after_secs: u64,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            latency_ms: 0,
            mode: FaultMode::None,
            count: None,
            status: 503,
            retry_after_secs: 1,
        }
    }
}

impl Faults {
    pub fn none() -> Faults {
        Faults::default()
    }
    pub fn latency(ms: u64) -> Faults {
        Faults {
            latency_ms: ms,
            ..Faults::default()
        }
    }
    pub fn error(status: u16, count: Option<u32>) -> Faults {
        Faults {
            mode: FaultMode::Error,
            status,
            count,
            ..Faults::default()
        }
    }
    pub fn rate_limit(retry_after_secs: u64, count: Option<u32>) -> Faults {
        Faults {
            mode: FaultMode::RateLimit,
            retry_after_secs,
            count,
            ..Faults::default()
        }
    }
    pub fn drop_connection(count: Option<u32>) -> Faults {
        Faults {
            mode: FaultMode::Drop,
            count,
            ..Faults::default()
        }
    }
    pub fn hibernate() -> Faults {
        Faults {
            mode: FaultMode::Hibernate,
            ..Faults::default()
        }
    }
    pub fn with_latency(self, ms: u64) -> Faults {
        Faults {
            latency_ms: ms,
            ..self
        }
    }
}

pub const HIBERNATE_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Instance Hibernating page</title></head>\n<body><div class=\"container\">\
<h1>Your instance is hibernating</h1>\
<p>Developer instances hibernate when they are not in use. \
Sign in to the developer site to wake it up.</p>\
<a href=\"https://developer.servicenow.com/dev.do\">Wake up your instance</a></div></body></html>\n";
