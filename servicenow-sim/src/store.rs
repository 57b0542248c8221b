//! In-memory instance state: tables, the incident business logic, the request log and webhook deliveries.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::faults::{FaultMode, Faults};
use crate::seed;

/// One row; every value is a string and an empty string is an empty field, as the instance stores them.
pub type Record = BTreeMap<String, String>;

/// Every field of an incident, in the order `getValue` reports them to the business rule.
pub const INCIDENT_FIELDS: &[&str] = &[
    "active",
    "activity_due",
    "additional_assignee_list",
    "approval",
    "approval_history",
    "approval_set",
    "assigned_to",
    "assignment_group",
    "business_duration",
    "business_impact",
    "business_service",
    "business_stc",
    "calendar_duration",
    "calendar_stc",
    "caller_id",
    "category",
    "cause",
    "caused_by",
    "child_incidents",
    "close_code",
    "close_notes",
    "closed_at",
    "closed_by",
    "cmdb_ci",
    "comments",
    "comments_and_work_notes",
    "company",
    "contact_type",
    "contract",
    "correlation_display",
    "correlation_id",
    "delivery_plan",
    "delivery_task",
    "description",
    "due_date",
    "escalation",
    "expected_start",
    "follow_up",
    "group_list",
    "hold_reason",
    "impact",
    "incident_state",
    "knowledge",
    "location",
    "made_sla",
    "notify",
    "number",
    "opened_at",
    "opened_by",
    "order",
    "origin_id",
    "origin_table",
    "parent",
    "parent_incident",
    "priority",
    "problem_id",
    "reassignment_count",
    "reopen_count",
    "reopened_by",
    "reopened_time",
    "resolved_at",
    "resolved_by",
    "rfc",
    "route_reason",
    "service_offering",
    "severity",
    "short_description",
    "sla_due",
    "state",
    "subcategory",
    "sys_class_name",
    "sys_created_by",
    "sys_created_on",
    "sys_domain",
    "sys_domain_path",
    "sys_id",
    "sys_mod_count",
    "sys_tags",
    "sys_updated_by",
    "sys_updated_on",
    "task_effective_number",
    "time_worked",
    "universal_request",
    "upon_approval",
    "upon_reject",
    "urgency",
    "user_input",
    "watch_list",
    "work_end",
    "work_notes",
    "work_notes_list",
    "work_start",
];

/// Journal fields never hold a value on the record itself; a write appends a `sys_journal_field` row.
pub const JOURNAL_FIELDS: &[&str] = &["work_notes", "comments"];

/// Fields the platform maintains; client writes to them are silently dropped.
const SYSTEM_FIELDS: &[&str] = &[
    "sys_created_by",
    "sys_created_on",
    "sys_updated_by",
    "sys_updated_on",
    "sys_mod_count",
    "sys_class_name",
    "comments_and_work_notes",
];

/// Reference fields and the table each points at, used to render Table API reference links.
pub fn reference_table(table: &str, field: &str) -> Option<&'static str> {
    let target = match (table, field) {
        (
            "incident",
            "assigned_to" | "caller_id" | "opened_by" | "resolved_by" | "closed_by" | "reopened_by",
        ) => "sys_user",
        ("incident", "assignment_group") => "sys_user_group",
        ("incident", "business_service") => "cmdb_ci_service",
        ("incident", "service_offering") => "service_offering",
        ("incident", "cmdb_ci") => "cmdb_ci",
        ("incident", "company") => "core_company",
        ("incident", "location") => "cmn_location",
        ("incident", "parent_incident") => "incident",
        ("incident", "problem_id") => "problem",
        ("incident", "parent") => "task",
        ("sys_user_group", "manager") | ("cmdb_ci_service" | "service_offering", "owned_by") => {
            "sys_user"
        }
        ("service_offering", "parent") => "cmdb_ci_service",
        _ => return None,
    };
    Some(target)
}

pub const TABLES: &[&str] = &[
    "incident",
    "sys_choice",
    "sys_dictionary",
    "sys_user",
    "sys_user_group",
    "cmdb_ci_service",
    "service_offering",
    "sys_journal_field",
];

/// A Table API error: serialised as `{"error":{"message":…,"detail":…},"status":"failure"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct SnError {
    pub status: u16,
    pub message: String,
    pub detail: Option<String>,
}

impl SnError {
    pub fn new(status: u16, message: impl Into<String>, detail: Option<String>) -> SnError {
        SnError {
            status,
            message: message.into(),
            detail,
        }
    }
    pub fn not_found() -> SnError {
        SnError::new(
            404,
            "No Record found",
            Some("Record doesn't exist or ACL restricts the record retrieval".into()),
        )
    }
    pub fn invalid_table(table: &str) -> SnError {
        SnError::new(400, format!("Invalid table {table}"), None)
    }
    pub fn body(&self) -> Value {
        serde_json::json!({
            "error": {"message": self.message, "detail": self.detail},
            "status": "failure",
        })
    }
}

impl std::fmt::Display for SnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

impl std::error::Error for SnError {}

/// One request as the simulator saw it, for tests that count what the client sent.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub query: String,
    pub user: Option<String>,
    pub body: Option<Value>,
    /// `None` when the connection was dropped by a fault.
    pub status: Option<u16>,
    pub fault: Option<String>,
    /// When the request arrived (before any injected latency).
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// One business-rule POST attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub url: String,
    pub sys_id: String,
    pub sys_mod_count: String,
    pub body: Value,
    pub status: Option<u16>,
    pub error: Option<String>,
}

pub(crate) struct Store {
    tables: HashMap<String, Vec<Record>>,
    next_number: u32,
    pub(crate) requests: Vec<RequestRecord>,
    deliveries: Vec<Delivery>,
    pub(crate) faults: Faults,
    denied_tables: HashSet<String>,
}

struct Inner {
    store: Mutex<Store>,
    webhooks: Mutex<Vec<String>>,
    /// Business rules installed from update sets (`update_set`).
    rules: Mutex<Vec<crate::update_set::InstalledRule>>,
    base_url: String,
    business_rule_delay: Duration,
    runtime: tokio::runtime::Handle,
    client: reqwest::Client,
}

/// Shared handle on the instance state; cheap to clone.
#[derive(Clone)]
pub struct SimState {
    inner: Arc<Inner>,
}

pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

pub fn new_sys_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn is_sys_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// ServiceNow's default priority lookup (dl_u_priority).
pub fn priority_for(impact: &str, urgency: &str) -> Option<&'static str> {
    Some(match (impact, urgency) {
        ("1", "1") => "1",
        ("1", "2") | ("2", "1") => "2",
        ("1", "3") | ("2", "2") | ("3", "1") => "3",
        ("2", "3") | ("3", "2") => "4",
        ("3", "3") => "5",
        _ => return None,
    })
}

fn incident_defaults() -> Record {
    let mut r: Record = INCIDENT_FIELDS
        .iter()
        .map(|f| (f.to_string(), String::new()))
        .collect();
    for (k, v) in [
        ("active", "true"),
        ("approval", "not requested"),
        ("child_incidents", "0"),
        ("escalation", "0"),
        ("impact", "3"),
        ("urgency", "3"),
        ("priority", "5"),
        ("state", "1"),
        ("incident_state", "1"),
        ("knowledge", "false"),
        ("made_sla", "true"),
        ("notify", "1"),
        ("reassignment_count", "0"),
        ("reopen_count", "0"),
        ("severity", "3"),
        ("sys_class_name", "incident"),
        ("sys_domain", "global"),
        ("sys_domain_path", "/"),
        ("sys_mod_count", "0"),
        ("upon_approval", "proceed"),
        ("upon_reject", "cancel"),
    ] {
        r.insert(k.into(), v.into());
    }
    r
}

impl Store {
    fn table(&self, table: &str) -> Result<&Vec<Record>, SnError> {
        self.tables
            .get(table)
            .ok_or_else(|| SnError::invalid_table(table))
    }

    fn user_sys_id(&self, user_name: &str) -> String {
        self.tables
            .get("sys_user")
            .and_then(|users| {
                users
                    .iter()
                    .find(|u| u.get("user_name").map(String::as_str) == Some(user_name))
            })
            .and_then(|u| u.get("sys_id").cloned())
            .unwrap_or_default()
    }

    fn find(&self, table: &str, sys_id: &str) -> Result<Option<&Record>, SnError> {
        Ok(self
            .table(table)?
            .iter()
            .find(|r| r.get("sys_id").map(String::as_str) == Some(sys_id)))
    }

    fn append_journal(
        &mut self,
        incident: &Record,
        element: &str,
        value: &str,
        user: &str,
        at: &str,
    ) {
        let mut row = Record::new();
        row.insert("sys_id".into(), new_sys_id());
        row.insert("name".into(), "incident".into());
        row.insert("element".into(), element.into());
        row.insert(
            "element_id".into(),
            incident.get("sys_id").cloned().unwrap_or_default(),
        );
        row.insert("value".into(), value.into());
        row.insert("sys_created_on".into(), at.into());
        row.insert("sys_created_by".into(), user.into());
        self.tables
            .entry("sys_journal_field".into())
            .or_default()
            .push(row);
    }

    /// Applies client-supplied fields and the incident's business logic; returns the journal entries to append.
    fn apply_incident(
        &self,
        record: &mut Record,
        fields: &Record,
        user: &str,
        at: &str,
        inserting: bool,
    ) -> Result<Vec<(String, String)>, SnError> {
        let mut journal = Vec::new();
        for (k, v) in fields {
            if JOURNAL_FIELDS.contains(&k.as_str()) {
                if !v.trim().is_empty() {
                    journal.push((k.clone(), v.clone()));
                }
                continue;
            }
            // Priority is read-only by default: only impact and urgency move it.
            if k == "priority"
                || SYSTEM_FIELDS.contains(&k.as_str())
                || !INCIDENT_FIELDS.contains(&k.as_str())
            {
                continue;
            }
            if k == "sys_id" {
                if inserting && is_sys_id(v) {
                    record.insert(k.clone(), v.clone());
                }
                continue;
            }
            record.insert(k.clone(), v.clone());
        }
        if fields.contains_key("state") {
            let s = record.get("state").cloned().unwrap_or_default();
            record.insert("incident_state".into(), s);
        } else if fields.contains_key("incident_state") {
            let s = record.get("incident_state").cloned().unwrap_or_default();
            record.insert("state".into(), s);
        }
        let impact = record.get("impact").cloned().unwrap_or_default();
        let urgency = record.get("urgency").cloned().unwrap_or_default();
        if let Some(p) = priority_for(&impact, &urgency) {
            record.insert("priority".into(), p.into());
        }
        let state = record.get("state").cloned().unwrap_or_default();
        if state == "6" || state == "7" {
            let mut missing = Vec::new();
            if record.get("close_code").is_none_or(|v| v.is_empty()) {
                missing.push("Resolution code");
            }
            if record.get("close_notes").is_none_or(|v| v.is_empty()) {
                missing.push("Resolution notes");
            }
            if !missing.is_empty() {
                return Err(SnError::new(
                    400,
                    "Data Policy Exception",
                    Some(format!(
                        "The following fields are mandatory: {}",
                        missing.join(", ")
                    )),
                ));
            }
            if record.get("resolved_at").is_none_or(|v| v.is_empty()) {
                record.insert("resolved_at".into(), at.into());
                record.insert("resolved_by".into(), self.user_sys_id(user));
            }
        }
        if state == "7" && record.get("closed_at").is_none_or(|v| v.is_empty()) {
            record.insert("closed_at".into(), at.into());
            record.insert("closed_by".into(), self.user_sys_id(user));
        }
        let active = if state == "7" || state == "8" {
            "false"
        } else {
            "true"
        };
        record.insert("active".into(), active.into());
        Ok(journal)
    }

    fn insert(&mut self, table: &str, fields: &Record, user: &str) -> Result<Record, SnError> {
        self.table(table)?;
        let at = now();
        let mut record = if table == "incident" {
            incident_defaults()
        } else {
            Record::new()
        };
        record.insert("sys_id".into(), new_sys_id());
        let journal = if table == "incident" {
            self.next_number += 1;
            let number = format!("INC{:07}", self.next_number);
            record.insert("number".into(), number.clone());
            record.insert("task_effective_number".into(), number);
            record.insert("opened_at".into(), at.clone());
            record.insert("opened_by".into(), self.user_sys_id(user));
            self.apply_incident(&mut record, fields, user, &at, true)?
        } else {
            for (k, v) in fields {
                if k == "sys_id" && !is_sys_id(v) || SYSTEM_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                record.insert(k.clone(), v.clone());
            }
            Vec::new()
        };
        let sys_id = record.get("sys_id").cloned().unwrap_or_default();
        if self.find(table, &sys_id)?.is_some() {
            return Err(SnError::new(
                403,
                "Operation Failed",
                Some("Error during insert of incident: duplicate sys_id".into()),
            ));
        }
        for (k, v) in [
            ("sys_created_on", at.as_str()),
            ("sys_created_by", user),
            ("sys_updated_on", at.as_str()),
            ("sys_updated_by", user),
            ("sys_mod_count", "0"),
        ] {
            record.insert(k.into(), v.into());
        }
        if table == "incident" {
            record.insert("sys_class_name".into(), "incident".into());
        }
        for (element, value) in journal {
            self.append_journal(&record, &element, &value, user, &at);
        }
        self.tables
            .entry(table.into())
            .or_default()
            .push(record.clone());
        Ok(record)
    }

    /// Returns the record after the update and whether anything changed (an unchanged record is not saved).
    fn update(
        &mut self,
        table: &str,
        sys_id: &str,
        fields: &Record,
        user: &str,
    ) -> Result<(Record, bool), SnError> {
        let old = self
            .find(table, sys_id)?
            .cloned()
            .ok_or_else(SnError::not_found)?;
        let at = now();
        let mut record = old.clone();
        let journal = if table == "incident" {
            self.apply_incident(&mut record, fields, user, &at, false)?
        } else {
            for (k, v) in fields {
                if k != "sys_id" && !SYSTEM_FIELDS.contains(&k.as_str()) {
                    record.insert(k.clone(), v.clone());
                }
            }
            Vec::new()
        };
        if record == old && journal.is_empty() {
            return Ok((old, false));
        }
        let count = old
            .get("sys_mod_count")
            .and_then(|c| c.parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        record.insert("sys_mod_count".into(), count.to_string());
        record.insert("sys_updated_on".into(), at.clone());
        record.insert("sys_updated_by".into(), user.into());
        for (element, value) in journal {
            self.append_journal(&record, &element, &value, user, &at);
        }
        if let Some(rows) = self.tables.get_mut(table)
            && let Some(slot) = rows
                .iter_mut()
                .find(|r| r.get("sys_id").map(String::as_str) == Some(sys_id))
        {
            *slot = record.clone();
        }
        Ok((record, true))
    }
}

/// The result of a table read.
pub struct Page {
    pub records: Vec<Record>,
    pub total: usize,
}

impl SimState {
    pub(crate) fn new(
        base_url: String,
        webhooks: Vec<String>,
        denied_tables: Vec<String>,
        business_rule_delay: Duration,
    ) -> SimState {
        let mut tables: HashMap<String, Vec<Record>> =
            TABLES.iter().map(|t| (t.to_string(), Vec::new())).collect();
        seed::seed(&mut tables);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        SimState {
            inner: Arc::new(Inner {
                store: Mutex::new(Store {
                    tables,
                    next_number: 10000,
                    requests: Vec::new(),
                    deliveries: Vec::new(),
                    faults: Faults::default(),
                    denied_tables: denied_tables.into_iter().collect(),
                }),
                webhooks: Mutex::new(webhooks),
                rules: Mutex::new(Vec::new()),
                base_url,
                business_rule_delay,
                runtime: tokio::runtime::Handle::current(),
                client,
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves plain data behind, still usable.
        self.inner.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The instance URL with a trailing slash, as `glide.servlet.uri` reports it.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    pub(crate) fn check_read_acl(&self, table: &str) -> Result<(), SnError> {
        if self.lock().denied_tables.contains(table) {
            return Err(SnError::new(
                403,
                "User Not Authorized",
                Some("Failed API level ACL Validation".into()),
            ));
        }
        Ok(())
    }

    /// Denies (or re-allows) the integration user read access to a table.
    pub fn set_table_readable(&self, table: &str, readable: bool) {
        let mut store = self.lock();
        if readable {
            store.denied_tables.remove(table);
        } else {
            store.denied_tables.insert(table.to_string());
        }
    }

    pub fn set_webhooks(&self, urls: Vec<String>) {
        *self
            .inner
            .webhooks
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = urls;
    }

    /// Installs a business rule, replacing the one with its `sys_id`.
    pub fn install_rule(&self, rule: crate::update_set::InstalledRule) {
        let mut rules = self.inner.rules.lock().unwrap_or_else(|e| e.into_inner());
        rules.retain(|r| r.sys_id != rule.sys_id);
        rules.push(rule);
    }

    /// The business rules installed from update sets.
    pub fn installed_rules(&self) -> Vec<crate::update_set::InstalledRule> {
        self.inner
            .rules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_fault(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    pub fn faults(&self) -> Faults {
        self.lock().faults.clone()
    }

    /// Consumes one use of an armed HTTP-level fault, if any, and reports it with the latency to apply.
    /// A drop fault is left for the connection layer, which sees the request first.
    pub(crate) fn take_http_fault(&self) -> (Duration, FaultMode) {
        let mut store = self.lock();
        let faults = &mut store.faults;
        let latency = Duration::from_millis(faults.latency_ms);
        if matches!(faults.mode, FaultMode::None | FaultMode::Drop) {
            return (latency, FaultMode::None);
        }
        let mode = faults.mode.clone();
        consume(faults);
        (latency, mode)
    }

    /// Consumes one use of an armed drop fault; true when this request is to be dropped.
    pub(crate) fn take_drop(&self) -> bool {
        let mut store = self.lock();
        if store.faults.mode != FaultMode::Drop {
            return false;
        }
        consume(&mut store.faults);
        true
    }

    pub fn list(
        &self,
        table: &str,
        query: &crate::query::Query,
        offset: usize,
        limit: usize,
    ) -> Result<Page, SnError> {
        let store = self.lock();
        let mut records: Vec<Record> = store
            .table(table)?
            .iter()
            .filter(|r| query.matches(r))
            .cloned()
            .collect();
        drop(store);
        query.sort(&mut records);
        let total = records.len();
        let records = records.into_iter().skip(offset).take(limit).collect();
        Ok(Page { records, total })
    }

    pub fn get(&self, table: &str, sys_id: &str) -> Result<Record, SnError> {
        self.lock()
            .find(table, sys_id)?
            .cloned()
            .ok_or_else(SnError::not_found)
    }

    pub fn insert(&self, table: &str, fields: &Record, user: &str) -> Result<Record, SnError> {
        let record = self.lock().insert(table, fields, user)?;
        if table == "incident" {
            self.run_business_rule(&record);
        }
        Ok(record)
    }

    pub fn update(
        &self,
        table: &str,
        sys_id: &str,
        fields: &Record,
        user: &str,
    ) -> Result<Record, SnError> {
        let (record, changed) = self.lock().update(table, sys_id, fields, user)?;
        if changed && table == "incident" {
            self.run_business_rule(&record);
        }
        Ok(record)
    }

    /// Creates an incident as a user in the instance UI would, running the business rule.
    pub fn create_incident(&self, fields: &[(&str, &str)]) -> Result<Record, SnError> {
        self.insert("incident", &to_record(fields), "admin")
    }

    /// Updates an incident as `as_user` (a `sys_user.user_name`), running the business rule.
    pub fn update_incident(
        &self,
        sys_id: &str,
        fields: &[(&str, &str)],
        as_user: &str,
    ) -> Result<Record, SnError> {
        self.update("incident", sys_id, &to_record(fields), as_user)
    }

    /// Overwrites fields of a record, system fields included, without business logic or business
    /// rules, as a background script with `setWorkflow(false)` and `autoSysFields(false)` does
    /// (a bulk load that keeps its own `sys_updated_on`, say).
    pub fn set_fields_quietly(
        &self,
        table: &str,
        sys_id: &str,
        fields: &[(&str, &str)],
    ) -> Result<Record, SnError> {
        let mut store = self.lock();
        store.table(table)?;
        let slot = store
            .tables
            .get_mut(table)
            .and_then(|rows| {
                rows.iter_mut()
                    .find(|r| r.get("sys_id").map(String::as_str) == Some(sys_id))
            })
            .ok_or_else(SnError::not_found)?;
        for (k, v) in fields {
            slot.insert(k.to_string(), v.to_string());
        }
        Ok(slot.clone())
    }

    pub fn incident(&self, sys_id: &str) -> Option<Record> {
        self.get("incident", sys_id).ok()
    }

    /// Journal entries of an incident, oldest first.
    pub fn journal(&self, sys_id: &str) -> Vec<Record> {
        self.lock()
            .tables
            .get("sys_journal_field")
            .map(|rows| {
                rows.iter()
                    .filter(|r| r.get("element_id").map(String::as_str) == Some(sys_id))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// All rows of a table (empty for an unknown table).
    pub fn rows(&self, table: &str) -> Vec<Record> {
        self.lock().tables.get(table).cloned().unwrap_or_default()
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.lock().requests.clone()
    }

    /// Number of PATCH and PUT requests received on the Table API, faulted ones included.
    pub fn patch_count(&self) -> usize {
        self.lock()
            .requests
            .iter()
            .filter(|r| {
                (r.method == "PATCH" || r.method == "PUT") && r.path.starts_with("/api/now/table/")
            })
            .count()
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.lock().deliveries.clone()
    }

    /// Waits until at least `n` deliveries have been recorded, or the timeout passes; returns them.
    pub async fn wait_for_deliveries(&self, n: usize, timeout: Duration) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let deliveries = self.deliveries();
            if deliveries.len() >= n || tokio::time::Instant::now() >= deadline {
                return deliveries;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub(crate) fn log_request(&self, entry: RequestRecord) {
        self.lock().requests.push(entry);
    }

    /// The business rule's body: `getValue` of every field (null when empty) plus `server_url`.
    pub fn business_rule_payload(&self, record: &Record) -> Value {
        let mut obj = serde_json::Map::new();
        for field in INCIDENT_FIELDS {
            let value = record.get(*field).filter(|v| !v.is_empty());
            obj.insert(
                field.to_string(),
                value.map_or(Value::Null, |v| Value::String(v.clone())),
            );
        }
        obj.insert(
            "server_url".into(),
            Value::String(self.inner.base_url.clone()),
        );
        Value::Object(obj)
    }

    /// Async insert/update rule: one POST per webhook, after the transaction, no retry.
    fn run_business_rule(&self, record: &Record) {
        let mut webhooks: Vec<(String, Option<String>)> = self
            .inner
            .webhooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|url| (url.clone(), None))
            .collect();
        webhooks.extend(
            self.installed_rules()
                .into_iter()
                .map(|r| (r.endpoint, r.authorization)),
        );
        if webhooks.is_empty() {
            return;
        }
        let body = self.business_rule_payload(record);
        let sys_id = record.get("sys_id").cloned().unwrap_or_default();
        let mod_count = record.get("sys_mod_count").cloned().unwrap_or_default();
        let state = self.clone();
        let delay = self.inner.business_rule_delay;
        self.inner.runtime.spawn(async move {
            tokio::time::sleep(delay).await;
            for (url, authorization) in webhooks {
                let mut request = state
                    .inner
                    .client
                    .post(&url)
                    .header("Accept", "application/json")
                    .json(&body);
                if let Some(authorization) = authorization {
                    request = request.header("Authorization", authorization);
                }
                let result = request.send().await;
                let (status, error) = match result {
                    Ok(resp) => (Some(resp.status().as_u16()), None),
                    Err(e) => (None, Some(e.to_string())),
                };
                state.lock().deliveries.push(Delivery {
                    url,
                    sys_id: sys_id.clone(),
                    sys_mod_count: mod_count.clone(),
                    body: body.clone(),
                    status,
                    error,
                });
            }
        });
    }
}

fn consume(faults: &mut Faults) {
    if let Some(count) = faults.count.as_mut() {
        *count = count.saturating_sub(1);
        if *count == 0 {
            faults.mode = FaultMode::None;
            faults.count = None;
        }
    }
}

pub fn to_record(fields: &[(&str, &str)]) -> Record {
    fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Converts a JSON request body into field values the way the Table API coerces them.
pub fn record_from_json(body: &Value) -> Result<Record, SnError> {
    let Some(obj) = body.as_object() else {
        return Err(SnError::new(
            400,
            "Exception while reading request",
            Some("The payload is not valid JSON.".into()),
        ));
    };
    let mut record = Record::new();
    for (k, v) in obj {
        let value = match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Object(o) => match o.get("value") {
                Some(Value::String(s)) => s.clone(),
                _ => v.to_string(),
            },
            Value::Array(_) => v.to_string(),
        };
        record.insert(k.clone(), value);
    }
    Ok(record)
}
