//! Escalation: where an alert stands in its policy and what the next step is.
//!
//! A policy is an ordered list of levels walked `repeat + 1` times in all. Level numbers are
//! 1-based, rounds 0-based (round 0 is the first walk). A step at time `t` schedules the next one
//! at `t` plus the timeout of the level just reached; when no step follows, nothing is scheduled
//! and escalation has ended.

use chrono::{DateTime, TimeDelta, Utc};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Level {
    pub timeout_minutes: i32,
    /// In the order the policy lists them; the first becomes the assignee.
    pub user_ids: Vec<String>,
    /// Schedules whose on-call users the level pages too, resolved when the level starts.
    pub schedule_ids: Vec<String>,
}

/// One escalation step to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// 1-based.
    pub level: i32,
    /// 0 for the first walk through the levels, 1 for the first repeat, …
    pub round: i32,
    pub user_ids: Vec<String>,
    pub schedule_ids: Vec<String>,
    /// `None` when this is the last step: escalation ends with it.
    pub next_at: Option<DateTime<Utc>>,
}

/// Most repeats a policy may ask for.
pub const MAX_REPEAT: i32 = 20;

/// The step that starts escalation (a new alert, or one re-routed): level 1 of round 0.
/// `None` for a policy with no level, which validation never lets through.
pub fn first_step(
    levels: &[Level],
    repeat: i32,
    now: DateTime<Utc>,
    minutes: impl Fn(i32) -> TimeDelta,
) -> Option<Step> {
    step_at(levels, repeat, 0, 0, now, &minutes)
}

/// The step that follows level `level` of round `round`, once its timeout has passed. `None` when
/// escalation has ended. A policy edited mid-way is followed as it is now: a level beyond its end
/// counts as its last.
pub fn next_step(
    levels: &[Level],
    repeat: i32,
    level: i32,
    round: i32,
    now: DateTime<Utc>,
    minutes: impl Fn(i32) -> TimeDelta,
) -> Option<Step> {
    let reached = usize::try_from(level).unwrap_or(0);
    if reached < levels.len() {
        step_at(levels, repeat, reached, round, now, &minutes)
    } else {
        step_at(levels, repeat, 0, round.saturating_add(1), now, &minutes)
    }
}

fn step_at(
    levels: &[Level],
    repeat: i32,
    index: usize,
    round: i32,
    now: DateTime<Utc>,
    minutes: &impl Fn(i32) -> TimeDelta,
) -> Option<Step> {
    let level = levels.get(index)?;
    if round > repeat.max(0) {
        return None;
    }
    let is_last = index + 1 == levels.len() && round >= repeat.max(0);
    Some(Step {
        level: i32::try_from(index + 1).ok()?,
        round,
        user_ids: level.user_ids.clone(),
        schedule_ids: level.schedule_ids.clone(),
        next_at: (!is_last).then(|| now + minutes(level.timeout_minutes)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(timeouts: &[i32]) -> Vec<Level> {
        timeouts
            .iter()
            .enumerate()
            .map(|(i, t)| Level {
                timeout_minutes: *t,
                user_ids: vec![format!("u{}a", i + 1), format!("u{}b", i + 1)],
                schedule_ids: Vec::new(),
            })
            .collect()
    }

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    fn min(m: i32) -> TimeDelta {
        TimeDelta::minutes(i64::from(m))
    }

    /// Every step a policy takes, from level 1 to the end.
    fn walk(levels: &[Level], repeat: i32) -> Vec<Step> {
        let mut steps = vec![first_step(levels, repeat, t0(), min).expect("a first step")];
        while let Some(last) = steps.last() {
            if last.next_at.is_none() {
                break;
            }
            let at = last.next_at.unwrap_or_default();
            let step = next_step(levels, repeat, last.level, last.round, at, min)
                .expect("scheduled steps exist");
            steps.push(step);
            assert!(steps.len() < 1000);
        }
        steps
    }

    #[test]
    fn first_step_is_level_one_with_its_timeout() {
        let step = first_step(&levels(&[5, 10]), 0, t0(), min).expect("step");
        assert_eq!(step.level, 1);
        assert_eq!(step.round, 0);
        assert_eq!(step.user_ids, vec!["u1a", "u1b"]);
        assert_eq!(step.next_at, Some(t0() + TimeDelta::minutes(5)));
    }

    #[test]
    fn walks_every_level_then_ends() {
        let steps = walk(&levels(&[5, 10, 15]), 0);
        let seen: Vec<(i32, i32)> = steps.iter().map(|s| (s.level, s.round)).collect();
        assert_eq!(seen, vec![(1, 0), (2, 0), (3, 0)]);
        assert_eq!(steps[1].next_at, Some(t0() + min(5) + min(10)));
        assert_eq!(steps[2].user_ids, vec!["u3a", "u3b"]);
        assert_eq!(steps[2].next_at, None, "the last level ends escalation");
    }

    #[test]
    fn repeats_the_levels_repeat_times() {
        let steps = walk(&levels(&[1, 2]), 2);
        let seen: Vec<(i32, i32)> = steps.iter().map(|s| (s.level, s.round)).collect();
        assert_eq!(seen, vec![(1, 0), (2, 0), (1, 1), (2, 1), (1, 2), (2, 2)]);
        // The last level of a round that will repeat still waits its timeout.
        assert_eq!(steps[1].next_at, Some(t0() + min(1) + min(2)));
        assert_eq!(steps[5].next_at, None);
    }

    #[test]
    fn single_level_without_repeat_ends_at_once() {
        let step = first_step(&levels(&[5]), 0, t0(), min).expect("step");
        assert_eq!(step.next_at, None);
    }

    #[test]
    fn single_level_with_repeat_comes_back_to_itself() {
        let steps = walk(&levels(&[5]), 1);
        let seen: Vec<(i32, i32)> = steps.iter().map(|s| (s.level, s.round)).collect();
        assert_eq!(seen, vec![(1, 0), (1, 1)]);
    }

    #[test]
    fn nothing_follows_the_end() {
        assert_eq!(next_step(&levels(&[5, 5]), 0, 2, 0, t0(), min), None);
        assert_eq!(next_step(&levels(&[5, 5]), 1, 2, 1, t0(), min), None);
    }

    #[test]
    fn a_policy_shortened_mid_way_goes_on_from_its_end() {
        // The alert was at level 3 of a policy that now has two levels.
        let policy = levels(&[5, 5]);
        assert_eq!(next_step(&policy, 0, 3, 0, t0(), min), None);
        let step = next_step(&policy, 1, 3, 0, t0(), min).expect("a repeat");
        assert_eq!((step.level, step.round), (1, 1));
    }

    #[test]
    fn an_empty_policy_has_no_step() {
        assert_eq!(first_step(&[], 3, t0(), min), None);
        assert_eq!(next_step(&[], 3, 1, 0, t0(), min), None);
    }

    #[test]
    fn negative_repeat_counts_as_none() {
        let steps = walk(&levels(&[1, 1]), -4);
        assert_eq!(steps.len(), 2);
    }
}
