//! The one source of time. Everything that stamps a row or decides whether an escalation step is
//! due asks the server's clock (`service::Ctx::clock`), so tests can control time: in-process
//! tests build their context with a [`FakeClock`] and move it forward; black-box tests start the server with
//! `GLIDEPATH_TIME_SCALE`, which shortens escalation timeouts instead of speeding up the
//! wall clock. Timestamps therefore stay real, and several processes (or a restarted one) on one
//! database agree on what time it is.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};

pub trait Clock: Send + Sync {
    /// The current time, at microsecond precision (what SQLite text and PostgreSQL keep).
    fn now(&self) -> DateTime<Utc>;

    /// How long `minutes` of escalation timeout last on this clock.
    fn minutes(&self, minutes: i32) -> TimeDelta;

    /// How long the engine sleeps between two looks at the database.
    fn tick(&self) -> Duration;
}

/// The wall clock, with escalation timeouts divided by `scale` (1 in production).
pub struct SystemClock {
    scale: f64,
}

impl SystemClock {
    /// `scale` below 1 (or not a number) is taken as 1: the setting only ever shortens timeouts.
    pub fn new(scale: f64) -> SystemClock {
        let scale = if scale.is_finite() && scale >= 1.0 {
            scale
        } else {
            1.0
        };
        SystemClock { scale }
    }
}

/// One second between looks in production keeps the lag well under a minute-granular timeout;
/// a scaled clock looks proportionally more often, down to 20 ms.
const BASE_TICK: Duration = Duration::from_secs(1);
const MIN_TICK: Duration = Duration::from_millis(20);

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }

    fn minutes(&self, minutes: i32) -> TimeDelta {
        let micros = f64::from(minutes) * 60_000_000.0 / self.scale;
        TimeDelta::microseconds(micros.round() as i64)
    }

    fn tick(&self) -> Duration {
        BASE_TICK.div_f64(self.scale).max(MIN_TICK)
    }
}

/// A clock that only moves when told to.
pub struct FakeClock {
    now: Mutex<DateTime<Utc>>,
}

impl FakeClock {
    pub fn new(start: DateTime<Utc>) -> FakeClock {
        FakeClock {
            now: Mutex::new(start.trunc_subsecs(6)),
        }
    }

    pub fn advance(&self, by: TimeDelta) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = to.trunc_subsecs(6);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn minutes(&self, minutes: i32) -> TimeDelta {
        TimeDelta::minutes(i64::from(minutes))
    }

    fn tick(&self) -> Duration {
        MIN_TICK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_shortens_timeouts_and_ticks() {
        let clock = SystemClock::new(60.0);
        assert_eq!(clock.minutes(1), TimeDelta::seconds(1));
        assert_eq!(clock.minutes(15), TimeDelta::seconds(15));
        assert_eq!(SystemClock::new(1.0).minutes(2), TimeDelta::minutes(2));
        assert_eq!(SystemClock::new(1.0).tick(), BASE_TICK);
        assert_eq!(SystemClock::new(1e9).tick(), MIN_TICK);
    }

    #[test]
    fn nonsense_scale_is_one() {
        for scale in [0.0, -5.0, f64::NAN, f64::INFINITY, 0.5] {
            assert_eq!(SystemClock::new(scale).minutes(1), TimeDelta::minutes(1));
        }
    }

    #[test]
    fn fake_clock_moves_only_when_told() {
        let start = Utc::now();
        let clock = FakeClock::new(start);
        let t0 = clock.now();
        assert_eq!(clock.now(), t0);
        clock.advance(TimeDelta::minutes(5));
        assert_eq!(clock.now(), t0 + TimeDelta::minutes(5));
        assert_eq!(clock.minutes(3), TimeDelta::minutes(3));
    }
}
