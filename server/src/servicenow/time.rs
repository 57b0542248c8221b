//! ServiceNow's date-time format (`sys_updated_on`, `sys_created_on`), always UTC through the
//! Table API.

use chrono::{DateTime, NaiveDateTime, Utc};

pub const FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// A time as ServiceNow writes it, and as its encoded queries compare it (as text).
pub fn format(at: DateTime<Utc>) -> String {
    at.format(FORMAT).to_string()
}

/// A time ServiceNow wrote; `None` for anything else (another date format, a time zone, an
/// encoded query smuggled into a stored watermark).
pub fn parse(raw: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(raw.trim(), FORMAT)
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn servicenow_times_round_trip() {
        let t = parse("2026-11-28 09:15:02").unwrap();
        assert_eq!(format(t), "2026-11-28 09:15:02");
        assert_eq!(format(t - TimeDelta::minutes(3)), "2026-11-28 09:12:02");
        assert!(parse("28/11/2026").is_none());
        assert!(parse("2026-11-28 09:15:02'^ORactive=true").is_none());
    }
}
