//! The subset of ServiceNow's encoded query language the Table API accepts in `sysparm_query`.

use std::cmp::Ordering;

use crate::store::Record;

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Eq,
    Ne,
    Like,
    NotLike,
    StartsWith,
    EndsWith,
    Gt,
    Ge,
    Lt,
    Le,
    In,
    NotIn,
    IsEmpty,
    IsNotEmpty,
}

#[derive(Debug, Clone)]
struct Condition {
    field: String,
    op: Op,
    value: String,
}

#[derive(Debug, Clone)]
struct Order {
    field: String,
    descending: bool,
}

/// A parsed encoded query: `^NQ` separates alternatives, `^` ANDs terms, `^OR` ORs a condition into the term before it.
#[derive(Debug, Clone, Default)]
pub struct Query {
    alternatives: Vec<Vec<Vec<Condition>>>,
    order: Vec<Order>,
}

// Longest operators first so `>=` is not read as `>` followed by `=value`.
const OPERATORS: &[(&str, Op)] = &[
    ("ISNOTEMPTY", Op::IsNotEmpty),
    ("ISEMPTY", Op::IsEmpty),
    ("STARTSWITH", Op::StartsWith),
    ("ENDSWITH", Op::EndsWith),
    ("NOTLIKE", Op::NotLike),
    ("NOT IN", Op::NotIn),
    ("LIKE", Op::Like),
    ("IN", Op::In),
    ("!=", Op::Ne),
    (">=", Op::Ge),
    ("<=", Op::Le),
    ("=", Op::Eq),
    (">", Op::Gt),
    ("<", Op::Lt),
];

fn parse_condition(term: &str) -> Result<Condition, String> {
    // Field names are lower case, which is what lets `shortLIKEx` split into field and operator.
    let end = term
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'))
        .unwrap_or(term.len());
    let (field, rest) = term.split_at(end);
    if field.is_empty() {
        return Err(format!("Invalid query condition '{term}'"));
    }
    for (token, op) in OPERATORS {
        if let Some(value) = rest.strip_prefix(token) {
            return Ok(Condition {
                field: field.to_string(),
                op: op.clone(),
                value: value.to_string(),
            });
        }
    }
    Err(format!("Invalid query condition '{term}'"))
}

impl Query {
    pub fn parse(encoded: &str) -> Result<Query, String> {
        let mut query = Query::default();
        for alternative in encoded.split("^NQ") {
            let mut terms: Vec<Vec<Condition>> = Vec::new();
            for part in alternative.split('^') {
                if part.is_empty() || part == "EQ" {
                    continue;
                }
                if let Some(field) = part.strip_prefix("ORDERBYDESC") {
                    query.order.push(Order {
                        field: field.to_string(),
                        descending: true,
                    });
                } else if let Some(field) = part.strip_prefix("ORDERBY") {
                    query.order.push(Order {
                        field: field.to_string(),
                        descending: false,
                    });
                } else if let Some(cond) = part.strip_prefix("OR") {
                    let cond = parse_condition(cond)?;
                    match terms.last_mut() {
                        Some(term) => term.push(cond),
                        None => terms.push(vec![cond]),
                    }
                } else {
                    terms.push(vec![parse_condition(part)?]);
                }
            }
            if !terms.is_empty() {
                query.alternatives.push(terms);
            }
        }
        Ok(query)
    }

    pub fn matches(&self, record: &Record) -> bool {
        self.alternatives.is_empty()
            || self.alternatives.iter().any(|terms| {
                terms
                    .iter()
                    .all(|term| term.iter().any(|c| c.matches(record)))
            })
    }

    pub fn sort(&self, records: &mut [Record]) {
        if self.order.is_empty() {
            return;
        }
        records.sort_by(|a, b| {
            for order in &self.order {
                let left = a.get(&order.field).map(String::as_str).unwrap_or("");
                let right = b.get(&order.field).map(String::as_str).unwrap_or("");
                let ord = compare(left, right);
                let ord = if order.descending { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
    }
}

/// Numbers compare as numbers; everything else (including `YYYY-MM-DD HH:MM:SS` dates and
/// `sys_id`s, even one made of digits only) compares as text.
fn compare(left: &str, right: &str) -> Ordering {
    let sys_id = |s: &str| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if sys_id(left) || sys_id(right) {
        return left.cmp(right);
    }
    match (left.parse::<f64>(), right.parse::<f64>()) {
        (Ok(l), Ok(r)) => l.partial_cmp(&r).unwrap_or(Ordering::Equal),
        _ => left.cmp(right),
    }
}

impl Condition {
    fn matches(&self, record: &Record) -> bool {
        let actual = record.get(&self.field).map(String::as_str).unwrap_or("");
        let actual_lower = actual.to_lowercase();
        let wanted_lower = self.value.to_lowercase();
        // The instance database collates case-insensitively, so text comparisons ignore case.
        match self.op {
            Op::Eq => actual_lower == wanted_lower,
            Op::Ne => actual_lower != wanted_lower,
            Op::Like => actual_lower.contains(&wanted_lower),
            Op::NotLike => !actual_lower.contains(&wanted_lower),
            Op::StartsWith => actual_lower.starts_with(&wanted_lower),
            Op::EndsWith => actual_lower.ends_with(&wanted_lower),
            Op::In => wanted_lower.split(',').any(|v| v == actual_lower),
            Op::NotIn => !wanted_lower.split(',').any(|v| v == actual_lower),
            Op::IsEmpty => actual.is_empty(),
            Op::IsNotEmpty => !actual.is_empty(),
            Op::Gt => !actual.is_empty() && compare(actual, &self.value) == Ordering::Greater,
            Op::Ge => !actual.is_empty() && compare(actual, &self.value) != Ordering::Less,
            Op::Lt => !actual.is_empty() && compare(actual, &self.value) == Ordering::Less,
            Op::Le => !actual.is_empty() && compare(actual, &self.value) != Ordering::Greater,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(pairs: &[(&str, &str)]) -> Record {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn and_binds_looser_than_or() {
        let q = Query::parse("active=true^priority=1^ORpriority=2").unwrap();
        assert!(q.matches(&rec(&[("active", "true"), ("priority", "2")])));
        assert!(!q.matches(&rec(&[("active", "false"), ("priority", "1")])));
        assert!(!q.matches(&rec(&[("active", "true"), ("priority", "3")])));
    }

    #[test]
    fn operators() {
        let r = rec(&[
            ("short_description", "Core Router down"),
            ("sys_updated_on", "2026-11-28 09:15:02"),
        ]);
        assert!(
            Query::parse("short_descriptionLIKErouter")
                .unwrap()
                .matches(&r)
        );
        assert!(
            Query::parse("sys_updated_on>2026-11-28 09:15:01")
                .unwrap()
                .matches(&r)
        );
        assert!(
            !Query::parse("sys_updated_on>2026-11-28 09:15:02")
                .unwrap()
                .matches(&r)
        );
        assert!(
            Query::parse("sys_updated_on>=2026-11-28 09:15:02")
                .unwrap()
                .matches(&r)
        );
        assert!(
            Query::parse("ORDERBYDESCsys_updated_on")
                .unwrap()
                .matches(&r)
        );
        assert!(Query::parse("^bad").is_err());
    }

    #[test]
    fn keyset_paging_query() {
        let q = Query::parse(
            "sys_updated_on>2026-11-28 09:15:02^NQsys_updated_on=2026-11-28 09:15:02\
             ^sys_id>5000000000000000000000000000000a^ORDERBYsys_updated_on^ORDERBYsys_id",
        )
        .unwrap();
        let at = |t: &str, id: &str| rec(&[("sys_updated_on", t), ("sys_id", id)]);
        let same = "2026-11-28 09:15:02";
        assert!(q.matches(&at(
            "2026-11-28 09:15:03",
            "00000000000000000000000000000001"
        )));
        assert!(q.matches(&at(same, "5000000000000000000000000000000b")));
        assert!(!q.matches(&at(same, "5000000000000000000000000000000a")));
        assert!(!q.matches(&at(same, "10000000000000000000000000000000")));
        assert!(!q.matches(&at(
            "2026-11-28 09:15:01",
            "f0000000000000000000000000000000"
        )));
        let mut rows = vec![
            at(same, "b0000000000000000000000000000000"),
            at("2026-11-28 09:15:03", "00000000000000000000000000000001"),
            at(same, "90000000000000000000000000000000"),
        ];
        q.sort(&mut rows);
        let ids: Vec<&str> = rows.iter().map(|r| r["sys_id"].as_str()).collect();
        assert_eq!(
            ids,
            [
                "90000000000000000000000000000000",
                "b0000000000000000000000000000000",
                "00000000000000000000000000000001"
            ]
        );
    }
}
