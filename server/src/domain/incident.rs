//! A ServiceNow incident as the business rule posts it, parsed into what Glidepath acts on.
//!
//! The business rule calls `getValue` on every field, so every value is a string or `null`.
//! Numbers are also accepted where ServiceNow would send a numeric string, because scripted
//! integrations sometimes send them unquoted.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use url::Url;

use super::Priority;

/// ServiceNow's incident `state` choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncidentState {
    New,
    InProgress,
    OnHold,
    Resolved,
    Closed,
    Canceled,
}

impl IncidentState {
    pub fn from_code(code: i64) -> Option<IncidentState> {
        Some(match code {
            1 => IncidentState::New,
            2 => IncidentState::InProgress,
            3 => IncidentState::OnHold,
            6 => IncidentState::Resolved,
            7 => IncidentState::Closed,
            8 => IncidentState::Canceled,
            _ => return None,
        })
    }

    pub fn code(self) -> i32 {
        match self {
            IncidentState::New => 1,
            IncidentState::InProgress => 2,
            IncidentState::OnHold => 3,
            IncidentState::Resolved => 6,
            IncidentState::Closed => 7,
            IncidentState::Canceled => 8,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            IncidentState::New => "New",
            IncidentState::InProgress => "In Progress",
            IncidentState::OnHold => "On Hold",
            IncidentState::Resolved => "Resolved",
            IncidentState::Closed => "Closed",
            IncidentState::Canceled => "Canceled",
        }
    }

    /// Resolved, Closed and Canceled all end an incident.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            IncidentState::Resolved | IncidentState::Closed | IncidentState::Canceled
        )
    }
}

/// A record's `sys_id`: 32 hexadecimal characters, kept lower-case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysId(String);

impl SysId {
    pub fn parse(raw: &str) -> Option<SysId> {
        (raw.len() == 32 && raw.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| SysId(raw.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Maps a ServiceNow priority (`"1"` Critical … `"5"` Planning) to an alert priority: an alert
/// source's own choices first (`setPriorityMapping`), then the default rule.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PriorityMapping {
    overrides: BTreeMap<String, Priority>,
}

/// The priorities that page as HIGH without a mapping: 1 Critical and 2 High.
const DEFAULT_HIGH: [&str; 2] = ["1", "2"];

impl PriorityMapping {
    /// A mapping with the alert source's choices; values it does not name keep the default.
    pub fn with_overrides(overrides: BTreeMap<String, Priority>) -> PriorityMapping {
        PriorityMapping { overrides }
    }

    /// 1 Critical and 2 High page as HIGH; 3 Moderate, 4 Low, 5 Planning, an empty or unknown
    /// priority (instances can add their own choices) as LOW: paging someone at night needs a
    /// positive signal.
    pub fn map(&self, servicenow_priority: Option<&str>) -> Priority {
        let Some(p) = servicenow_priority else {
            return Priority::Low;
        };
        if let Some(mapped) = self.overrides.get(p) {
            return *mapped;
        }
        if DEFAULT_HIGH.contains(&p) {
            Priority::High
        } else {
            Priority::Low
        }
    }
}

/// A ServiceNow field or table name as the dictionary spells them: a lower-case letter, then
/// lower-case letters, digits and underscores (custom ones start with `u_` or `x_`), at most 80.
pub fn is_field_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && name.len() <= 80
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The value of one field of an incident payload, as a routing key: a string (a reference field's
/// sys_id with `getValue`), a number, or a reference object `{"value": …, "link": …}` (the Table
/// API without `sysparm_exclude_reference_link`). Empty means absent.
pub fn field_value(body: &Value, field: &str) -> Option<String> {
    let value = match body.get(field)? {
        Value::Object(reference) => reference.get("value")?,
        other => other,
    };
    let text = match value {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then(|| truncate(&text, 1000))
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    #[error("the body must be a JSON object of incident fields")]
    NotAnObject,
    #[error("field `{field}` {reason}")]
    Field { field: &'static str, reason: String },
}

/// The fields of an incident event that Glidepath acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    pub sys_id: SysId,
    pub state: IncidentState,
    pub number: Option<String>,
    pub short_description: Option<String>,
    pub description: Option<String>,
    pub priority: Option<String>,
    /// ServiceNow's per-record update counter; orders events of one incident.
    pub mod_count: Option<i64>,
    /// The instance base URL (`glide.servlet.uri`), always ending in `/`.
    pub server_url: Option<Url>,
    pub updated_by: Option<String>,
    /// `assigned_to`: `None` when the event does not carry it, `Some(None)` when it is empty
    /// (unassigned), else the `sys_user` sys_id (sent as a string or as `{value, link}`).
    pub assigned_to: Option<Option<SysId>>,
}

const MAX_TEXT: usize = 64 * 1024;

impl Incident {
    pub fn parse(body: &Value) -> Result<Incident, IncidentError> {
        let fields = body.as_object().ok_or(IncidentError::NotAnObject)?;
        // Taken as sent, untrimmed: a sys_id with stray characters is not the same record.
        let sys_id = fields
            .get("sys_id")
            .and_then(Value::as_str)
            .and_then(SysId::parse)
            .ok_or_else(|| IncidentError::Field {
                field: "sys_id",
                reason: "is required and must be 32 hexadecimal characters".into(),
            })?;
        let state_code = integer(fields, "state")?.ok_or_else(|| IncidentError::Field {
            field: "state",
            reason: "is required".into(),
        })?;
        let state = IncidentState::from_code(state_code).ok_or_else(|| IncidentError::Field {
            field: "state",
            reason: format!(
                "must be one of 1 (New), 2 (In Progress), 3 (On Hold), 6 (Resolved), 7 (Closed), 8 (Canceled); got {state_code}"
            ),
        })?;
        let mod_count = integer(fields, "sys_mod_count")?;
        if mod_count.is_some_and(|n| n < 0) {
            return Err(IncidentError::Field {
                field: "sys_mod_count",
                reason: "must not be negative".into(),
            });
        }
        Ok(Incident {
            sys_id,
            state,
            number: text(fields, "number")?,
            short_description: text(fields, "short_description")?,
            description: text(fields, "description")?,
            priority: text(fields, "priority")?,
            mod_count,
            server_url: text(fields, "server_url")?.and_then(|s| instance_url(&s)),
            updated_by: text(fields, "sys_updated_by")?,
            assigned_to: reference(fields, "assigned_to")?,
        })
    }

    /// `short_description`, or the ticket number when it is empty, or the sys_id as a last resort.
    pub fn summary(&self) -> String {
        self.short_description
            .clone()
            .or_else(|| self.number.clone())
            .unwrap_or_else(|| format!("ServiceNow incident {}", self.sys_id.as_str()))
    }

    /// The link a responder opens: `{server_url}nav_to.do?uri=incident.do?sys_id={sys_id}`.
    pub fn ticket_url(&self) -> Option<String> {
        self.server_url.as_ref().map(|base| {
            format!(
                "{base}nav_to.do?uri=incident.do?sys_id={}",
                self.sys_id.as_str()
            )
        })
    }
}

/// A reference field: a sys_id string or the Table API's `{"value": sys_id, "link": …}`; an
/// empty value is a cleared reference.
fn reference(
    fields: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<Option<SysId>>, IncidentError> {
    let raw = match fields.get(field) {
        None => return Ok(None),
        Some(Value::Null) => return Ok(Some(None)),
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Object(o)) => match o.get("value") {
            None | Some(Value::Null) => return Ok(Some(None)),
            Some(Value::String(s)) => s.as_str(),
            Some(_) => "?",
        },
        Some(_) => "?",
    };
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(Some(None));
    }
    SysId::parse(raw)
        .map(|id| Some(Some(id)))
        .ok_or_else(|| IncidentError::Field {
            field,
            reason: "must be a sys_id (32 hexadecimal characters), a {\"value\": sys_id} object or empty".into(),
        })
}

/// Only http(s) URLs become links: anything else (`javascript:` …) would be a trap in the UI.
fn instance_url(raw: &str) -> Option<Url> {
    let mut url = Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Some(url)
}

/// A string field; empty strings count as absent. Text is capped so one payload cannot bloat a row.
fn text(fields: &Map<String, Value>, field: &'static str) -> Result<Option<String>, IncidentError> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let trimmed = s.trim();
            if trimmed.is_empty() {
                Ok(None)
            } else {
                Ok(Some(truncate(trimmed, MAX_TEXT)))
            }
        }
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(IncidentError::Field {
            field,
            reason: "must be a string or null".into(),
        }),
    }
}

fn integer(fields: &Map<String, Value>, field: &'static str) -> Result<Option<i64>, IncidentError> {
    let Some(raw) = text(fields, field)? else {
        return Ok(None);
    };
    raw.parse::<i64>()
        .map(Some)
        .map_err(|_| IncidentError::Field {
            field,
            reason: format!("must be a whole number; got {:?}", truncate(&raw, 40)),
        })
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn assigned_to_is_a_sys_id_a_reference_object_or_empty() {
        let id = "6816F79CC0A8016401C5A33BE04BE441";
        let parse = |v: Value| {
            let mut body = base();
            body["assigned_to"] = v;
            Incident::parse(&body).map(|i| i.assigned_to)
        };
        let lower = SysId::parse(&id.to_ascii_lowercase());
        assert_eq!(parse(json!(id)), Ok(Some(lower.clone())));
        assert_eq!(parse(json!({"value": id, "link": "x"})), Ok(Some(lower)));
        assert_eq!(parse(json!("")), Ok(Some(None)));
        assert_eq!(parse(json!(null)), Ok(Some(None)));
        assert_eq!(parse(json!({"value": ""})), Ok(Some(None)));
        assert!(parse(json!("beth.anglin")).is_err());
        assert!(parse(json!({"value": 1})).is_err());
        assert!(parse(json!([id])).is_err());
        assert_eq!(Incident::parse(&base()).unwrap().assigned_to, None);
    }

    fn base() -> Value {
        json!({
            "sys_id": "9D385017C611228701D22104CC95C371",
            "state": "1",
            "number": "INC0010042",
            "short_description": "Core router packet loss",
            "priority": "1",
            "sys_mod_count": "0",
            "server_url": "https://dev184512.service-now.com/"
        })
    }

    #[test]
    fn parses_fixture_shape() {
        let i = Incident::parse(&base()).unwrap();
        assert_eq!(i.sys_id.as_str(), "9d385017c611228701d22104cc95c371");
        assert_eq!(i.state, IncidentState::New);
        assert_eq!(i.mod_count, Some(0));
        assert_eq!(
            i.ticket_url().unwrap(),
            "https://dev184512.service-now.com/nav_to.do?uri=incident.do?sys_id=9d385017c611228701d22104cc95c371"
        );
    }

    #[test]
    fn server_url_without_slash_or_with_bad_scheme() {
        let mut v = base();
        v["server_url"] = json!("https://x.service-now.com");
        assert!(
            Incident::parse(&v)
                .unwrap()
                .ticket_url()
                .unwrap()
                .starts_with("https://x.service-now.com/nav_to.do")
        );
        v["server_url"] = json!("javascript:alert(1)");
        assert_eq!(Incident::parse(&v).unwrap().ticket_url(), None);
    }

    #[test]
    fn rejects_bad_sys_id_and_state() {
        for (field, value) in [
            ("sys_id", json!("abc")),
            ("sys_id", json!(null)),
            ("sys_id", json!({"a": 1})),
            ("sys_id", json!("zz385017c611228701d22104cc95c371")),
            ("sys_id", json!(" 9d385017c611228701d22104cc95c371")),
            ("state", json!("4")),
            ("state", json!("abc")),
            ("state", json!(null)),
            ("sys_mod_count", json!("-1")),
            ("sys_mod_count", json!("x")),
        ] {
            let mut v = base();
            v[field] = value.clone();
            assert!(Incident::parse(&v).is_err(), "{field}={value}");
        }
        assert_eq!(Incident::parse(&json!([])), Err(IncidentError::NotAnObject));
    }

    #[test]
    fn summary_falls_back_to_number() {
        let mut v = base();
        v["short_description"] = json!(null);
        assert_eq!(Incident::parse(&v).unwrap().summary(), "INC0010042");
        v["short_description"] = json!("   ");
        assert_eq!(Incident::parse(&v).unwrap().summary(), "INC0010042");
    }

    #[test]
    fn mapping_overrides_fall_back_to_the_default() {
        let m = PriorityMapping::with_overrides(BTreeMap::from([
            ("3".to_string(), Priority::High),
            ("1".to_string(), Priority::Low),
        ]));
        assert_eq!(m.map(Some("3")), Priority::High);
        assert_eq!(m.map(Some("1")), Priority::Low);
        assert_eq!(m.map(Some("2")), Priority::High);
        assert_eq!(m.map(Some("4")), Priority::Low);
        assert_eq!(m.map(None), Priority::Low);
    }

    #[test]
    fn field_values_accept_strings_numbers_and_references() {
        let body = json!({
            "assignment_group": {"link": "https://x/api/now/table/sys_user_group/abc", "value": "abc"},
            "category": " network ",
            "impact": 2,
            "cmdb_ci": "",
            "caller_id": {"link": "x"},
            "list": ["a"],
        });
        assert_eq!(
            field_value(&body, "assignment_group").as_deref(),
            Some("abc")
        );
        assert_eq!(field_value(&body, "category").as_deref(), Some("network"));
        assert_eq!(field_value(&body, "impact").as_deref(), Some("2"));
        for absent in ["cmdb_ci", "caller_id", "list", "missing"] {
            assert_eq!(field_value(&body, absent), None, "{absent}");
        }
    }

    #[test]
    fn field_names() {
        for good in ["assignment_group", "u_team", "category", "x_acme_2"] {
            assert!(is_field_name(good), "{good}");
        }
        for bad in [
            "",
            "Assignment",
            "_x",
            "a.b",
            "a-b",
            "a b",
            "1a",
            &"a".repeat(81),
        ] {
            assert!(!is_field_name(bad), "{bad}");
        }
    }

    #[test]
    fn default_priority_mapping() {
        let m = PriorityMapping::default();
        assert_eq!(m.map(Some("1")), Priority::High);
        assert_eq!(m.map(Some("2")), Priority::High);
        for p in ["3", "4", "5", "99"] {
            assert_eq!(m.map(Some(p)), Priority::Low);
        }
        assert_eq!(m.map(None), Priority::Low);
    }
}
