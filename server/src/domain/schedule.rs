//! On-call schedules: who is on call at an instant, and the shifts over a range.
//!
//! A schedule lives in an IANA time zone and stacks layers: where two layers cover the same time,
//! the later one (higher in the list) wins, and where a layer does not apply the one below shows
//! through. A layer is a rotation: its users take turns in order, the first turn beginning at the
//! layer's start (a local date and time), each turn lasting a number of hours, days or weeks.
//! Restrictions limit a layer to windows of local time (weekdays 09:00–17:00, nights, weekends).
//! Overrides sit on top of all layers: a replacing override takes over from whoever is on call
//! (the latest created wins when two overlap); an added one puts its user beside them.
//!
//! Time is local where people expect it to be: hand-offs and windows are computed on the wall
//! clock and only then turned into instants, so a weekly 09:00 hand-off is at 09:00 before and
//! after a daylight-saving change (that week's turn is an hour shorter or longer). A local time
//! that does not exist (in the hour skipped in spring) is read with the offset in force before
//! the change (02:30 becomes 03:30); one that exists twice (autumn) is the earlier of the two.
//!
//! Users who cannot be on call (disabled accounts) are `unavailable`: a turn of theirs leaves
//! their layer empty, so the layer below shows through, and their overrides count for nothing.

use std::collections::HashSet;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta,
    TimeZone, Utc,
};
use chrono_tz::Tz;

/// How long one turn of a rotation lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TurnUnit {
    Hours,
    Days,
    Weeks,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Turn {
    pub unit: TurnUnit,
    /// At least 1.
    pub count: u32,
}

impl Turn {
    /// The turn's length on the wall clock, in seconds.
    fn seconds(self) -> i64 {
        let unit = match self.unit {
            TurnUnit::Hours => 3_600,
            TurnUnit::Days => 86_400,
            TurnUnit::Weeks => 7 * 86_400,
        };
        unit * i64::from(self.count.max(1))
    }
}

/// A window of local time in which a restricted layer applies: on each of `days` (bit 0 is
/// Monday, bit 6 Sunday) from `start` to `end`; an `end` at or before `start` is on the next day
/// (`18:00`–`08:00` is a night, `00:00`–`00:00` a whole day).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub days: u8,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Window {
    /// Every day of the week.
    pub const ALL_DAYS: u8 = 0b111_1111;
    /// Monday to Friday.
    pub const WEEKDAYS: u8 = 0b001_1111;
    /// Saturday and Sunday.
    pub const WEEKEND: u8 = 0b110_0000;

    fn length(&self) -> TimeDelta {
        let d = self.end - self.start;
        if d > TimeDelta::zero() {
            d
        } else {
            d + TimeDelta::days(1)
        }
    }

    fn on(&self, date: NaiveDate) -> bool {
        self.days & (1 << date.weekday().num_days_from_monday()) != 0
    }

    /// The window that opens on `date`, if it opens that day.
    fn occurrence(&self, tz: Tz, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.on(date) {
            return None;
        }
        let open = date.and_time(self.start);
        Some((resolve(tz, open), resolve(tz, open + self.length())))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// Users in the order they take turns; user ids.
    pub users: Vec<String>,
    /// When the first turn (the first user's) begins, in the schedule's time zone.
    pub start: NaiveDateTime,
    pub turn: Turn,
    /// Empty: the layer applies all the time.
    pub restrictions: Vec<Window>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverrideKind {
    /// Takes over from whoever is on call.
    Replace,
    /// On call beside whoever is.
    Add,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    pub user: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub kind: OverrideKind,
}

#[derive(Clone, Debug)]
pub struct Schedule {
    pub tz: Tz,
    /// Bottom first: a later layer wins where both apply.
    pub layers: Vec<Layer>,
    /// In the order they were created: a later replacing override wins where two overlap.
    pub overrides: Vec<Override>,
    /// Users who are never on call (disabled accounts).
    pub unavailable: HashSet<String>,
}

/// What put a user on call: a layer or an override (indexes into the schedule's lists).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Layer(usize),
    Override(usize),
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct OnCall {
    pub user: String,
    pub source: Source,
}

/// A user on call without interruption from `start` to `end` (exclusive) for one reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shift {
    pub user: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub source: Source,
}

/// The instant a local date and time names in `tz`: the earlier one when it names two, and with
/// the offset in force before the change when it names none (a spring-forward gap).
pub fn resolve(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            let before = tz
                .offset_from_utc_datetime(&(local - TimeDelta::days(1)))
                .fix()
                .local_minus_utc();
            Utc.from_utc_datetime(&(local - TimeDelta::seconds(i64::from(before))))
        }
    }
}

fn local(tz: Tz, t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&tz).naive_local()
}

impl Layer {
    /// When turn `k` begins (turn 0 at the layer's start); `None` far out of range.
    pub fn handoff(&self, tz: Tz, k: i64) -> Option<DateTime<Utc>> {
        let secs = self.turn.seconds().checked_mul(k)?;
        let at = self
            .start
            .checked_add_signed(TimeDelta::try_seconds(secs)?)?;
        Some(resolve(tz, at))
    }

    /// The turn under way at `t` (negative before the layer starts).
    fn turn_at(&self, tz: Tz, t: DateTime<Utc>) -> Option<i64> {
        let elapsed = (local(tz, t) - self.start).num_seconds();
        let mut k = elapsed.div_euclid(self.turn.seconds());
        // The wall-clock estimate is off by at most an offset change: a step or two corrects it.
        for _ in 0..4 {
            if self.handoff(tz, k)? > t {
                k -= 1;
            } else if self.handoff(tz, k + 1)? <= t {
                k += 1;
            } else {
                return Some(k);
            }
        }
        None
    }

    fn applies_at(&self, tz: Tz, t: DateTime<Utc>) -> bool {
        if self.restrictions.is_empty() {
            return true;
        }
        let today = local(tz, t).date();
        // A window lasts at most a day, so only one opened today or in the two days before can
        // still be open.
        (0..=2).any(|back| {
            let date = today - TimeDelta::days(back);
            self.restrictions.iter().any(|w| {
                w.occurrence(tz, date)
                    .is_some_and(|(open, close)| open <= t && t < close)
            })
        })
    }

    /// The user this layer puts on call at `t`, if any.
    fn user_at(&self, tz: Tz, t: DateTime<Utc>) -> Option<&str> {
        if self.users.is_empty() || !self.applies_at(tz, t) {
            return None;
        }
        let k = self.turn_at(tz, t)?;
        if k < 0 {
            return None;
        }
        let len = i64::try_from(self.users.len()).ok()?;
        let index = usize::try_from(k.rem_euclid(len)).ok()?;
        self.users.get(index).map(String::as_str)
    }

    /// Every instant in `[from, to]` at which this layer may change hands or (un)apply.
    fn boundaries(
        &self,
        tz: Tz,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        out: &mut Vec<DateTime<Utc>>,
    ) {
        if let (Some(first), Some(last)) = (self.turn_at(tz, from), self.turn_at(tz, to)) {
            for k in first.max(0)..=last.saturating_add(1) {
                if let Some(at) = self.handoff(tz, k) {
                    out.push(at);
                }
            }
        }
        let (Some(first), Some(last)) = (
            local(tz, from)
                .date()
                .checked_sub_days(chrono::Days::new(2)),
            local(tz, to).date().checked_add_days(chrono::Days::new(1)),
        ) else {
            return;
        };
        for date in first.iter_days().take_while(|d| *d <= last) {
            for w in &self.restrictions {
                if let Some((open, close)) = w.occurrence(tz, date) {
                    out.push(open);
                    out.push(close);
                }
            }
        }
    }
}

impl Schedule {
    /// Who is on call at `t`, one entry per user, ordered by user id.
    pub fn on_call_at(&self, t: DateTime<Utc>) -> Vec<OnCall> {
        let available = |user: &str| !self.unavailable.contains(user);
        let mut base = self.layers.iter().enumerate().rev().find_map(|(i, layer)| {
            layer
                .user_at(self.tz, t)
                .filter(|u| available(u))
                .map(|user| OnCall {
                    user: user.to_string(),
                    source: Source::Layer(i),
                })
        });
        let active = |o: &Override| o.start <= t && t < o.end && available(&o.user);
        if let Some((i, o)) = self
            .overrides
            .iter()
            .enumerate()
            .rev()
            .find(|(_, o)| o.kind == OverrideKind::Replace && active(o))
        {
            base = Some(OnCall {
                user: o.user.clone(),
                source: Source::Override(i),
            });
        }
        let mut set: Vec<OnCall> = base.into_iter().collect();
        for (i, o) in self.overrides.iter().enumerate() {
            if o.kind == OverrideKind::Add && active(o) && !set.iter().any(|c| c.user == o.user) {
                set.push(OnCall {
                    user: o.user.clone(),
                    source: Source::Override(i),
                });
            }
        }
        set.sort();
        set
    }

    /// The shifts that overlap `[from, to)`, cut to it, ordered by start then user. A user's
    /// shift ends where what puts them on call changes (a hand-off, a window closing, an
    /// override), so one user's shifts never overlap.
    pub fn shifts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Shift> {
        if from >= to {
            return Vec::new();
        }
        let mut points = vec![from, to];
        for layer in &self.layers {
            layer.boundaries(self.tz, from, to, &mut points);
        }
        for o in &self.overrides {
            points.push(o.start);
            points.push(o.end);
        }
        points.retain(|p| from <= *p && *p <= to);
        points.sort();
        points.dedup();
        let mut done: Vec<Shift> = Vec::new();
        let mut open: Vec<Shift> = Vec::new();
        for &at in &points {
            let now = if at < to {
                self.on_call_at(at)
            } else {
                Vec::new()
            };
            let (ended, going_on): (Vec<Shift>, Vec<Shift>) = open
                .into_iter()
                .partition(|s| !now.iter().any(|c| c.user == s.user && c.source == s.source));
            done.extend(ended.into_iter().map(|s| Shift { end: at, ..s }));
            open = going_on;
            for c in now {
                if !open
                    .iter()
                    .any(|s| s.user == c.user && s.source == c.source)
                {
                    open.push(Shift {
                        user: c.user,
                        start: at,
                        end: at,
                        source: c.source,
                    });
                }
            }
        }
        done.sort_by(|a, b| (a.start, &a.user).cmp(&(b.start, &b.user)));
        done
    }

    /// Who is on call at `t` and until when each stays on call without a break (whatever puts
    /// them there), looking no further than `horizon` ahead: `None` when still on call then.
    pub fn on_call_until(
        &self,
        t: DateTime<Utc>,
        horizon: TimeDelta,
    ) -> Vec<(String, Option<DateTime<Utc>>)> {
        let to = t + horizon;
        let shifts = self.shifts(t, to);
        self.on_call_at(t)
            .into_iter()
            .map(|c| {
                let mut until = t;
                while let Some(s) = shifts
                    .iter()
                    .filter(|s| s.user == c.user && s.start <= until && until < s.end)
                    .max_by_key(|s| s.end)
                {
                    until = s.end;
                }
                (c.user, (until < to).then_some(until))
            })
            .collect()
    }

    /// Whether `user` holds the on-call at every instant of `[from, to)` by a layer's turn or a
    /// replacing override; being added beside the person on call (an ADD override) does not count.
    pub fn on_call_throughout(&self, user: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        let added = |source: Source| match source {
            Source::Override(i) => self
                .overrides
                .get(i)
                .is_some_and(|o| o.kind == OverrideKind::Add),
            Source::Layer(_) => false,
        };
        let mut covered = from;
        let mut shifts: Vec<Shift> = self
            .shifts(from, to)
            .into_iter()
            .filter(|s| s.user == user && !added(s.source))
            .collect();
        shifts.sort_by_key(|s| s.start);
        for s in shifts {
            if s.start > covered {
                return false;
            }
            covered = covered.max(s.end);
        }
        covered >= to
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::New_York, Europe::Berlin};
    use proptest::prelude::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .expect("a valid time")
    }

    fn naive(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("a valid local time")
    }

    fn time(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").expect("a valid time of day")
    }

    fn users(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn weekly(start: &str, names: &[&str]) -> Layer {
        Layer {
            users: users(names),
            start: naive(start),
            turn: Turn {
                unit: TurnUnit::Weeks,
                count: 1,
            },
            restrictions: Vec::new(),
        }
    }

    fn schedule(tz: Tz, layers: Vec<Layer>) -> Schedule {
        Schedule {
            tz,
            layers,
            overrides: Vec::new(),
            unavailable: HashSet::new(),
        }
    }

    fn who(s: &Schedule, t: &str) -> Vec<String> {
        s.on_call_at(utc(t)).into_iter().map(|c| c.user).collect()
    }

    /// (user, start, end) of each shift.
    fn spans(s: &Schedule, from: &str, to: &str) -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
        s.shifts(utc(from), utc(to))
            .into_iter()
            .map(|s| (s.user, s.start, s.end))
            .collect()
    }

    #[test]
    fn weekly_handoff_stays_at_nine_across_spring_in_berlin() {
        // Mondays 09:00; Berlin moves to summer time on Sunday 2027-03-28.
        let s = schedule(Berlin, vec![weekly("2027-03-15 09:00", &["a", "b"])]);
        assert_eq!(
            spans(&s, "2027-03-22T00:00:00Z", "2027-04-06T00:00:00Z"),
            vec![
                (
                    "a".into(),
                    utc("2027-03-22T00:00:00Z"),
                    utc("2027-03-22T08:00:00Z")
                ),
                // 09:00 CET to 09:00 CEST: a week less one hour.
                (
                    "b".into(),
                    utc("2027-03-22T08:00:00Z"),
                    utc("2027-03-29T07:00:00Z")
                ),
                (
                    "a".into(),
                    utc("2027-03-29T07:00:00Z"),
                    utc("2027-04-05T07:00:00Z")
                ),
                (
                    "b".into(),
                    utc("2027-04-05T07:00:00Z"),
                    utc("2027-04-06T00:00:00Z")
                ),
            ]
        );
        assert_eq!(who(&s, "2027-03-29T06:59:59Z"), vec!["b"]);
        assert_eq!(who(&s, "2027-03-29T07:00:00Z"), vec!["a"]);
    }

    #[test]
    fn weekly_handoff_stays_at_nine_across_autumn_in_berlin() {
        // Berlin goes back to winter time on Sunday 2027-10-31.
        let s = schedule(Berlin, vec![weekly("2027-10-18 09:00", &["a", "b"])]);
        let got = spans(&s, "2027-10-25T07:00:00Z", "2027-11-08T08:00:00Z");
        assert_eq!(
            got,
            vec![
                // 09:00 CEST to 09:00 CET: a week and one hour.
                (
                    "b".into(),
                    utc("2027-10-25T07:00:00Z"),
                    utc("2027-11-01T08:00:00Z")
                ),
                (
                    "a".into(),
                    utc("2027-11-01T08:00:00Z"),
                    utc("2027-11-08T08:00:00Z")
                ),
            ]
        );
    }

    #[test]
    fn weekly_handoff_stays_at_nine_across_spring_and_autumn_in_new_york() {
        // New York: summer time from Sunday 2027-03-14, winter time from Sunday 2027-11-07.
        let s = schedule(New_York, vec![weekly("2027-03-08 09:00", &["a", "b"])]);
        assert_eq!(
            spans(&s, "2027-03-08T14:00:00Z", "2027-03-22T13:00:00Z"),
            vec![
                (
                    "a".into(),
                    utc("2027-03-08T14:00:00Z"),
                    utc("2027-03-15T13:00:00Z")
                ),
                (
                    "b".into(),
                    utc("2027-03-15T13:00:00Z"),
                    utc("2027-03-22T13:00:00Z")
                ),
            ]
        );
        // 2027-11-01 is 34 weeks after 2027-03-08: a's turn (even).
        assert_eq!(
            spans(&s, "2027-11-01T13:00:00Z", "2027-11-15T14:00:00Z"),
            vec![
                (
                    "a".into(),
                    utc("2027-11-01T13:00:00Z"),
                    utc("2027-11-08T14:00:00Z")
                ),
                (
                    "b".into(),
                    utc("2027-11-08T14:00:00Z"),
                    utc("2027-11-15T14:00:00Z")
                ),
            ]
        );
    }

    #[test]
    fn a_handoff_in_the_skipped_hour_happens_when_the_clock_jumps() {
        // Daily at 02:30: that time does not exist in Berlin on 2027-03-28.
        let layer = Layer {
            users: users(&["a", "b"]),
            start: naive("2027-03-26 02:30"),
            turn: Turn {
                unit: TurnUnit::Days,
                count: 1,
            },
            restrictions: Vec::new(),
        };
        let s = schedule(Berlin, vec![layer]);
        let got = spans(&s, "2027-03-27T12:00:00Z", "2027-03-29T12:00:00Z");
        assert_eq!(
            got,
            vec![
                (
                    "b".into(),
                    utc("2027-03-27T12:00:00Z"),
                    utc("2027-03-28T01:30:00Z")
                ),
                (
                    "a".into(),
                    utc("2027-03-28T01:30:00Z"),
                    utc("2027-03-29T00:30:00Z")
                ),
                (
                    "b".into(),
                    utc("2027-03-29T00:30:00Z"),
                    utc("2027-03-29T12:00:00Z")
                ),
            ]
        );
    }

    #[test]
    fn every_twelve_hours_keeps_wall_clock_handoffs() {
        let layer = Layer {
            users: users(&["day", "night"]),
            start: naive("2027-10-30 08:00"),
            turn: Turn {
                unit: TurnUnit::Hours,
                count: 12,
            },
            restrictions: Vec::new(),
        };
        let s = schedule(Berlin, vec![layer]);
        // 2027-10-31 08:00 CET is 07:00 UTC; the night before was 13 hours long.
        assert_eq!(who(&s, "2027-10-31T06:59:00Z"), vec!["night"]);
        assert_eq!(who(&s, "2027-10-31T07:00:00Z"), vec!["day"]);
        assert_eq!(who(&s, "2027-10-31T19:00:00Z"), vec!["night"]);
    }

    #[test]
    fn a_restricted_layer_on_top_lets_the_one_below_show_through() {
        let base = weekly("2027-01-04 09:00", &["base"]);
        let business = Layer {
            users: users(&["office"]),
            start: naive("2027-01-04 00:00"),
            turn: Turn {
                unit: TurnUnit::Weeks,
                count: 1,
            },
            restrictions: vec![Window {
                days: Window::WEEKDAYS,
                start: time("09:00"),
                end: time("17:00"),
            }],
        };
        let s = schedule(Berlin, vec![base, business]);
        // Wednesday 2027-01-06, CET (+1).
        assert_eq!(who(&s, "2027-01-06T07:59:00Z"), vec!["base"]);
        assert_eq!(who(&s, "2027-01-06T08:00:00Z"), vec!["office"]);
        assert_eq!(who(&s, "2027-01-06T15:59:00Z"), vec!["office"]);
        assert_eq!(who(&s, "2027-01-06T16:00:00Z"), vec!["base"]);
        // Saturday.
        assert_eq!(who(&s, "2027-01-09T12:00:00Z"), vec!["base"]);
    }

    #[test]
    fn nights_and_weekends_windows() {
        let nights = Window {
            days: Window::ALL_DAYS,
            start: time("18:00"),
            end: time("08:00"),
        };
        let weekends = Window {
            days: Window::WEEKEND,
            start: time("00:00"),
            end: time("00:00"),
        };
        let layer = |w: Window| Layer {
            users: users(&["x"]),
            start: naive("2027-01-01 00:00"),
            turn: Turn {
                unit: TurnUnit::Days,
                count: 1,
            },
            restrictions: vec![w],
        };
        let s = schedule(chrono_tz::UTC, vec![layer(nights)]);
        assert_eq!(who(&s, "2027-01-06T17:59:00Z"), Vec::<String>::new());
        assert_eq!(who(&s, "2027-01-06T18:00:00Z"), vec!["x"]);
        assert_eq!(who(&s, "2027-01-07T07:59:00Z"), vec!["x"]);
        assert_eq!(who(&s, "2027-01-07T08:00:00Z"), Vec::<String>::new());
        let s = schedule(chrono_tz::UTC, vec![layer(weekends)]);
        assert_eq!(who(&s, "2027-01-08T23:59:00Z"), Vec::<String>::new());
        assert_eq!(who(&s, "2027-01-09T00:00:00Z"), vec!["x"]);
        assert_eq!(who(&s, "2027-01-10T23:59:00Z"), vec!["x"]);
        assert_eq!(who(&s, "2027-01-11T00:00:00Z"), Vec::<String>::new());
    }

    #[test]
    fn overrides_replace_or_add_and_the_latest_replacement_wins() {
        let mut s = schedule(chrono_tz::UTC, vec![weekly("2027-01-04 09:00", &["a"])]);
        s.overrides = vec![
            Override {
                user: "r1".into(),
                start: utc("2027-01-05T00:00:00Z"),
                end: utc("2027-01-07T00:00:00Z"),
                kind: OverrideKind::Replace,
            },
            Override {
                user: "r2".into(),
                start: utc("2027-01-06T00:00:00Z"),
                end: utc("2027-01-06T12:00:00Z"),
                kind: OverrideKind::Replace,
            },
            Override {
                user: "extra".into(),
                start: utc("2027-01-06T06:00:00Z"),
                end: utc("2027-01-08T00:00:00Z"),
                kind: OverrideKind::Add,
            },
        ];
        assert_eq!(who(&s, "2027-01-05T12:00:00Z"), vec!["r1"]);
        assert_eq!(who(&s, "2027-01-06T07:00:00Z"), vec!["extra", "r2"]);
        assert_eq!(who(&s, "2027-01-06T13:00:00Z"), vec!["extra", "r1"]);
        assert_eq!(who(&s, "2027-01-07T13:00:00Z"), vec!["a", "extra"]);
        assert!(s.on_call_throughout(
            "r1",
            utc("2027-01-05T00:00:00Z"),
            utc("2027-01-06T00:00:00Z")
        ));
        assert!(!s.on_call_throughout(
            "r1",
            utc("2027-01-05T00:00:00Z"),
            utc("2027-01-06T01:00:00Z")
        ));
    }

    #[test]
    fn unavailable_users_leave_their_turns_to_the_layer_below() {
        let mut s = schedule(
            chrono_tz::UTC,
            vec![
                weekly("2027-01-04 09:00", &["below"]),
                weekly("2027-01-04 09:00", &["gone", "here"]),
            ],
        );
        s.unavailable.insert("gone".into());
        s.overrides.push(Override {
            user: "gone".into(),
            start: utc("2027-01-12T00:00:00Z"),
            end: utc("2027-01-13T00:00:00Z"),
            kind: OverrideKind::Replace,
        });
        assert_eq!(who(&s, "2027-01-05T00:00:00Z"), vec!["below"]);
        assert_eq!(who(&s, "2027-01-12T12:00:00Z"), vec!["here"]);
    }

    #[test]
    fn nobody_before_a_layer_starts() {
        let s = schedule(chrono_tz::UTC, vec![weekly("2027-01-04 09:00", &["a"])]);
        assert!(who(&s, "2027-01-04T08:59:59Z").is_empty());
        assert_eq!(
            spans(&s, "2027-01-04T00:00:00Z", "2027-01-05T00:00:00Z"),
            vec![(
                "a".into(),
                utc("2027-01-04T09:00:00Z"),
                utc("2027-01-05T00:00:00Z")
            )]
        );
    }

    #[test]
    fn until_follows_the_user_through_back_to_back_reasons() {
        let mut s = schedule(
            chrono_tz::UTC,
            vec![weekly("2027-01-04 09:00", &["a", "b"])],
        );
        s.overrides.push(Override {
            user: "a".into(),
            start: utc("2027-01-11T09:00:00Z"),
            end: utc("2027-01-12T09:00:00Z"),
            kind: OverrideKind::Replace,
        });
        let got = s.on_call_until(utc("2027-01-10T00:00:00Z"), TimeDelta::days(14));
        assert_eq!(
            got,
            vec![("a".to_string(), Some(utc("2027-01-12T09:00:00Z")))]
        );
        let got = s.on_call_until(utc("2027-01-10T00:00:00Z"), TimeDelta::hours(1));
        assert_eq!(got, vec![("a".to_string(), None)]);
    }

    // ---- property tests ----

    /// The on-call set at `t` worked out the slow way: every hand-off walked from the first,
    /// every window of every nearby day looked at.
    fn reference(s: &Schedule, t: DateTime<Utc>) -> Vec<(String, Source)> {
        let mut base: Option<(String, Source)> = None;
        for (i, layer) in s.layers.iter().enumerate() {
            let Some(first) = layer.handoff(s.tz, 0) else {
                continue;
            };
            if t < first {
                continue;
            }
            // The last turn begun by `t`, by bisection over the hand-offs (which never go back).
            let begun = |k: i64| layer.handoff(s.tz, k).is_some_and(|h| h <= t);
            let mut hi = 1_i64;
            while begun(hi) {
                hi *= 2;
            }
            let mut lo = 0_i64;
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if begun(mid) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let k = lo;
            let user = &layer.users[(k as usize) % layer.users.len()];
            let date = t.with_timezone(&s.tz).date_naive();
            let in_window = layer.restrictions.is_empty()
                || (-3..=1).any(|d| {
                    let day = date + TimeDelta::days(d);
                    layer.restrictions.iter().any(|w| {
                        w.occurrence(s.tz, day)
                            .is_some_and(|(a, b)| a <= t && t < b)
                    })
                });
            if in_window && !s.unavailable.contains(user) {
                base = Some((user.clone(), Source::Layer(i)));
            }
        }
        let active: Vec<(usize, &Override)> = s
            .overrides
            .iter()
            .enumerate()
            .filter(|(_, o)| o.start <= t && t < o.end && !s.unavailable.contains(&o.user))
            .collect();
        for (i, o) in &active {
            if o.kind == OverrideKind::Replace {
                base = Some((o.user.clone(), Source::Override(*i)));
            }
        }
        let mut set: Vec<(String, Source)> = base.into_iter().collect();
        for (i, o) in &active {
            if o.kind == OverrideKind::Add && !set.iter().any(|(u, _)| *u == o.user) {
                set.push((o.user.clone(), Source::Override(*i)));
            }
        }
        set.sort();
        set
    }

    const POOL: [&str; 4] = ["ann", "bob", "cat", "dan"];
    /// 2027-03-01T00:00:00Z: the ranges below cover the spring changes in Europe and America.
    const EPOCH: i64 = 1_803_859_200;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(EPOCH + minutes * 60, 0).unwrap_or_default()
    }

    fn arb_tz() -> impl Strategy<Value = Tz> {
        prop::sample::select(vec![
            Berlin,
            New_York,
            chrono_tz::UTC,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::Asia::Kolkata,
        ])
    }

    fn arb_window() -> impl Strategy<Value = Window> {
        (1u8..=127, 0u32..96, 0u32..96).prop_map(|(days, a, b)| Window {
            days,
            start: NaiveTime::from_hms_opt(a / 4, (a % 4) * 15, 0).unwrap_or_default(),
            end: NaiveTime::from_hms_opt(b / 4, (b % 4) * 15, 0).unwrap_or_default(),
        })
    }

    fn arb_layer() -> impl Strategy<Value = Layer> {
        (
            prop::sample::subsequence(POOL.to_vec(), 1..=4),
            -20_000i64..40_000,
            prop_oneof![
                (1u32..=36).prop_map(|c| Turn {
                    unit: TurnUnit::Hours,
                    count: c
                }),
                (1u32..=5).prop_map(|c| Turn {
                    unit: TurnUnit::Days,
                    count: c
                }),
                (1u32..=2).prop_map(|c| Turn {
                    unit: TurnUnit::Weeks,
                    count: c
                }),
            ],
            prop::collection::vec(arb_window(), 0..=2),
        )
            .prop_map(|(users, start, turn, restrictions)| Layer {
                users: users.into_iter().map(String::from).collect(),
                start: at(start).naive_utc(),
                turn,
                restrictions,
            })
    }

    fn arb_override() -> impl Strategy<Value = Override> {
        (
            prop::sample::select(POOL.to_vec()),
            0i64..40_000,
            1i64..5_000,
            any::<bool>(),
        )
            .prop_map(|(user, start, len, replace)| Override {
                user: user.to_string(),
                start: at(start),
                end: at(start + len),
                kind: if replace {
                    OverrideKind::Replace
                } else {
                    OverrideKind::Add
                },
            })
    }

    fn arb_schedule() -> impl Strategy<Value = Schedule> {
        (
            arb_tz(),
            prop::collection::vec(arb_layer(), 1..=3),
            prop::collection::vec(arb_override(), 0..=3),
            prop::sample::subsequence(POOL.to_vec(), 0..=1),
        )
            .prop_map(|(tz, layers, overrides, unavailable)| Schedule {
                tz,
                layers,
                overrides,
                unavailable: unavailable.into_iter().map(String::from).collect(),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// At every instant, the shifts say what the rules say.
        #[test]
        fn shifts_agree_with_the_rules_at_every_instant(
            s in arb_schedule(),
            from in 0i64..30_000,
            len in 1i64..20_000,
            probes in prop::collection::vec(0.0f64..1.0, 40),
        ) {
            let (from, to) = (at(from), at(from + len));
            let shifts = s.shifts(from, to);
            let mut instants: Vec<DateTime<Utc>> = probes
                .iter()
                .map(|p| from + TimeDelta::seconds(((len * 60) as f64 * p) as i64))
                .collect();
            // Every edge, and the instant just before it.
            for sh in &shifts {
                instants.extend([sh.start, sh.end - TimeDelta::seconds(1)]);
            }
            for t in instants.into_iter().filter(|t| from <= *t && *t < to) {
                let mut from_shifts: Vec<(String, Source)> = shifts
                    .iter()
                    .filter(|sh| sh.start <= t && t < sh.end)
                    .map(|sh| (sh.user.clone(), sh.source))
                    .collect();
                from_shifts.sort();
                prop_assert_eq!(&from_shifts, &reference(&s, t), "at {}", t);
                let point: Vec<(String, Source)> =
                    s.on_call_at(t).into_iter().map(|c| (c.user, c.source)).collect();
                prop_assert_eq!(point, from_shifts, "on_call_at {}", t);
            }
        }

        /// Shifts lie in the range, are not empty, one user's never overlap, and a shift ends
        /// only where the user is no longer on call for that reason.
        #[test]
        fn shifts_are_maximal_and_do_not_overlap(
            s in arb_schedule(),
            from in 0i64..30_000,
            len in 1i64..20_000,
        ) {
            let (from, to) = (at(from), at(from + len));
            let shifts = s.shifts(from, to);
            for (i, a) in shifts.iter().enumerate() {
                prop_assert!(from <= a.start && a.start < a.end && a.end <= to);
                for b in &shifts[i + 1..] {
                    if a.user == b.user {
                        prop_assert!(a.end <= b.start || b.end <= a.start, "{a:?} overlaps {b:?}");
                        if a.source == b.source {
                            prop_assert!(a.end != b.start && b.end != a.start, "{a:?} and {b:?} touch");
                        }
                    }
                }
            }
        }

        /// A rotation without restrictions, overrides or unavailable users leaves no gap once it
        /// has started: exactly one person at every instant.
        #[test]
        fn a_plain_rotation_has_no_gaps(
            tz in arb_tz(),
            mut layer in arb_layer(),
            from in 0i64..30_000,
            len in 1i64..20_000,
        ) {
            layer.restrictions.clear();
            layer.start = at(-30_000).naive_utc();
            let s = Schedule { tz, layers: vec![layer], overrides: vec![], unavailable: HashSet::new() };
            let (from, to) = (at(from), at(from + len));
            let shifts = s.shifts(from, to);
            prop_assert_eq!(shifts.first().map(|s| s.start), Some(from));
            prop_assert_eq!(shifts.last().map(|s| s.end), Some(to));
            for pair in shifts.windows(2) {
                prop_assert_eq!(pair[0].end, pair[1].start);
            }
        }
    }
}
