//! Reference data a fresh instance ships with, trimmed to what an integration reads.

use std::collections::HashMap;

use crate::store::Record;

/// The integration user the simulator authenticates by default.
pub const GLIDEPATH_USER_SYS_ID: &str = "a4f1c0d2db5f20105f3e12f5ca9619c1";
pub const BETH_ANGLIN_SYS_ID: &str = "6816f79cc0a8016401c5a33be04be441";
pub const NETWORK_GROUP_SYS_ID: &str = "8a4dde73c6112278017a6a4baf547aa7";

const SEED_TIME: &str = "2026-01-05 08:00:00";

fn row(fields: &[(&str, &str)]) -> Record {
    let mut r: Record = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in [
        ("sys_created_on", SEED_TIME),
        ("sys_created_by", "system"),
        ("sys_updated_on", SEED_TIME),
        ("sys_updated_by", "system"),
        ("sys_mod_count", "0"),
    ] {
        r.entry(k.into()).or_insert_with(|| v.into());
    }
    r
}

fn id(prefix: &str, n: usize) -> String {
    format!("{prefix}{n:0>width$x}", width = 32 - prefix.len())
}

pub(crate) fn seed(tables: &mut HashMap<String, Vec<Record>>) {
    let mut choices = Vec::new();
    let priorities = [
        ("1", "1 - Critical", "1 - Kritisch"),
        ("2", "2 - High", "2 - Hoch"),
        ("3", "3 - Moderate", "3 - Mittel"),
        ("4", "4 - Low", "4 - Niedrig"),
        ("5", "5 - Planning", "5 - Planung"),
    ];
    let states = [
        ("1", "New", "Neu"),
        ("2", "In Progress", "In Bearbeitung"),
        ("3", "On Hold", "Zurückgestellt"),
        ("6", "Resolved", "Gelöst"),
        ("7", "Closed", "Geschlossen"),
        ("8", "Canceled", "Abgebrochen"),
    ];
    for (element, list) in [
        ("priority", &priorities[..]),
        ("state", &states[..]),
        ("incident_state", &states[..]),
    ] {
        for (seq, (value, en, de)) in list.iter().enumerate() {
            for (language, label) in [("en", en), ("de", de)] {
                choices.push(row(&[
                    ("sys_id", &id("c401ce", choices.len() + 1)),
                    ("name", "incident"),
                    ("element", element),
                    ("value", value),
                    ("label", label),
                    ("language", language),
                    ("sequence", &(seq + 1).to_string()),
                    ("inactive", "false"),
                    ("dependent_value", ""),
                ]));
            }
        }
    }
    tables.insert("sys_choice".into(), choices);

    // Task fields live on `task` and are inherited by incident, as in a default instance.
    let dictionary = [
        (
            "task",
            "assignment_group",
            "Assignment group",
            "reference",
            "sys_user_group",
            "32",
        ),
        (
            "task",
            "assigned_to",
            "Assigned to",
            "reference",
            "sys_user",
            "32",
        ),
        (
            "task",
            "business_service",
            "Service",
            "reference",
            "cmdb_ci_service",
            "32",
        ),
        (
            "task",
            "service_offering",
            "Service offering",
            "reference",
            "service_offering",
            "32",
        ),
        (
            "task",
            "cmdb_ci",
            "Configuration item",
            "reference",
            "cmdb_ci",
            "32",
        ),
        ("task", "priority", "Priority", "integer", "", "40"),
        ("task", "impact", "Impact", "integer", "", "40"),
        ("task", "urgency", "Urgency", "integer", "", "40"),
        ("task", "state", "State", "integer", "", "40"),
        (
            "task",
            "short_description",
            "Short description",
            "string",
            "",
            "160",
        ),
        ("task", "description", "Description", "string", "", "4000"),
        ("incident", "category", "Category", "string", "", "40"),
        ("incident", "subcategory", "Subcategory", "string", "", "40"),
        (
            "incident",
            "caller_id",
            "Caller",
            "reference",
            "sys_user",
            "32",
        ),
        (
            "incident",
            "incident_state",
            "Incident state",
            "integer",
            "",
            "40",
        ),
        (
            "incident",
            "close_code",
            "Resolution code",
            "string",
            "",
            "40",
        ),
    ];
    let rows = dictionary
        .iter()
        .enumerate()
        .map(|(i, (name, element, label, kind, reference, max))| {
            row(&[
                ("sys_id", &id("d1c7", i + 1)),
                ("name", name),
                ("element", element),
                ("column_label", label),
                ("internal_type", kind),
                ("reference", reference),
                ("max_length", max),
                ("active", "true"),
                (
                    "read_only",
                    if *element == "priority" {
                        "true"
                    } else {
                        "false"
                    },
                ),
            ])
        })
        .collect();
    tables.insert("sys_dictionary".into(), rows);

    let users = [
        (
            BETH_ANGLIN_SYS_ID,
            "beth.anglin",
            "Beth",
            "Anglin",
            "beth.anglin@example.com",
        ),
        (
            "5137153cc611227c000bbd1bd8cd2005",
            "fred.luddy",
            "Fred",
            "Luddy",
            "fred.luddy@example.com",
        ),
        (
            "46d44a23a9fe19810012d100cca80666",
            "abel.tuter",
            "Abel",
            "Tuter",
            "abel.tuter@example.com",
        ),
        (
            GLIDEPATH_USER_SYS_ID,
            "glidepath",
            "Glidepath",
            "Integration",
            "glidepath-integration@example.com",
        ),
        (
            "6816f79cc0a8016401c5a33be04be442",
            "admin",
            "System",
            "Administrator",
            "admin@example.com",
        ),
    ];
    let rows = users
        .iter()
        .map(|(sys_id, user_name, first, last, email)| {
            row(&[
                ("sys_id", sys_id),
                ("user_name", user_name),
                ("first_name", first),
                ("last_name", last),
                ("name", &format!("{first} {last}")),
                ("email", email),
                ("active", "true"),
                ("locked_out", "false"),
            ])
        })
        .collect();
    tables.insert("sys_user".into(), rows);

    let groups = [
        (NETWORK_GROUP_SYS_ID, "Network", "network@example.com"),
        (
            "287ebd7da9fe198100f92cc8d1d2154e",
            "Service Desk",
            "servicedesk@example.com",
        ),
        (
            "d625dccec0a8016700a222a0f7900d06",
            "Database",
            "database@example.com",
        ),
        (
            "8a5055c9c61122780043563ef53438e3",
            "Hardware",
            "hardware@example.com",
        ),
    ];
    let rows = groups
        .iter()
        .map(|(sys_id, name, email)| {
            row(&[
                ("sys_id", sys_id),
                ("name", name),
                ("email", email),
                ("active", "true"),
                ("description", ""),
                ("manager", ""),
            ])
        })
        .collect();
    tables.insert("sys_user_group".into(), rows);

    let services = [
        ("27d32778c0a8000b00db970eeaa60f16", "Email"),
        ("27d3f35cc0a8000b001df42d019a418f", "Blackberry"),
        ("451047c6c0a8016400de0ae6df9b9d76", "Bond Trading"),
    ];
    let rows = services
        .iter()
        .map(|(sys_id, name)| {
            row(&[
                ("sys_id", sys_id),
                ("name", name),
                ("operational_status", "1"),
                ("busines_criticality", "1 - most critical"),
                ("owned_by", ""),
            ])
        })
        .collect();
    tables.insert("cmdb_ci_service".into(), rows);

    let offerings = [
        (
            "e0a1b2c3d4e5f60718293a4b5c6d7e80",
            "Email - Europe",
            "27d32778c0a8000b00db970eeaa60f16",
        ),
        (
            "e0a1b2c3d4e5f60718293a4b5c6d7e81",
            "Email - Americas",
            "27d32778c0a8000b00db970eeaa60f16",
        ),
        (
            "e0a1b2c3d4e5f60718293a4b5c6d7e82",
            "Bond Trading - Gold",
            "451047c6c0a8016400de0ae6df9b9d76",
        ),
    ];
    let rows = offerings
        .iter()
        .map(|(sys_id, name, parent)| {
            row(&[
                ("sys_id", sys_id),
                ("name", name),
                ("parent", parent),
                ("operational_status", "1"),
            ])
        })
        .collect();
    tables.insert("service_offering".into(), rows);
}
