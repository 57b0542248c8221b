//! What ServiceNow's incident table means by its values, where Glidepath writes them.

use crate::domain::{Priority, PriorityMapping};

/// The default `close_code` of an incident Glidepath resolves.
pub const DEFAULT_CLOSE_CODE: &str = "Solved (Permanently)";

/// ServiceNow's default priority lookup: the impact and urgency that give each priority.
const LOOKUP: [(&str, &str, &str); 5] = [
    ("1", "1", "1"),
    ("2", "1", "2"),
    ("3", "2", "2"),
    ("4", "2", "3"),
    ("5", "3", "3"),
];

/// The `impact` and `urgency` that make ServiceNow compute the most urgent priority the source
/// maps to HIGH (its stored mapping over the default, see [`PriorityMapping`]): without a
/// mapping, 1 and 2 are HIGH, so impact 1 and urgency 1 (priority 1). A mapping with no HIGH
/// value at all raises to priority 1 too.
pub fn high_priority_fields(mapping: &PriorityMapping) -> (&'static str, &'static str) {
    LOOKUP
        .iter()
        .find(|(p, _, _)| mapping.map(Some(p)) == Priority::High)
        .map(|(_, impact, urgency)| (*impact, *urgency))
        .unwrap_or(("1", "1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(pairs: &[(&str, Priority)]) -> PriorityMapping {
        PriorityMapping::with_overrides(pairs.iter().map(|(v, p)| (v.to_string(), *p)).collect())
    }

    #[test]
    fn default_mapping_raises_to_priority_one() {
        assert_eq!(
            high_priority_fields(&PriorityMapping::default()),
            ("1", "1")
        );
    }

    #[test]
    fn stored_mapping_picks_its_most_urgent_high_priority() {
        let m = mapping(&[("1", Priority::Low), ("2", Priority::High)]);
        assert_eq!(high_priority_fields(&m), ("1", "2"));
        let m = mapping(&[
            ("1", Priority::Low),
            ("2", Priority::Low),
            ("3", Priority::High),
        ]);
        assert_eq!(high_priority_fields(&m), ("2", "2"));
        // Values the mapping leaves out keep the default: 1 is still HIGH.
        let m = mapping(&[("3", Priority::High)]);
        assert_eq!(high_priority_fields(&m), ("1", "1"));
        let none = mapping(&[("1", Priority::Low), ("2", Priority::Low)]);
        assert_eq!(high_priority_fields(&none), ("1", "1"));
    }
}
