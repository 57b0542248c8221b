//! Update sets: what *System Update Sets → Retrieved Update Sets → Import Update Set from XML*
//! does with a business rule, for the rules Glidepath generates.
//!
//! [`import`] parses the `<unload>` (quick-xml), takes each `sys_update_xml` whose payload is a
//! `sys_script` record, checks that it is a rule this simulator can run (table `incident`, when
//! `async`, on insert and update, advanced, active) and installs it: from then on every incident
//! insert and update is posted as the rule's script posts it. The script is not run: the
//! simulator reads the endpoint (`var glidepathUrl = "…";`) and the credentials
//! (`request.setBasicAuth(…)` or an `Authorization` header) out of it, the parts of Glidepath's
//! script that vary, and posts the same body its async rule posts. Importing a rule with the
//! `sys_id` of one already installed replaces it, as committing a newer update set does.

use serde::{Deserialize, Serialize};

use crate::store::{SimState, SnError};

/// A business rule installed from an update set.
#[derive(Debug, Clone, Serialize)]
pub struct InstalledRule {
    pub sys_id: String,
    pub name: String,
    /// Where it posts.
    pub endpoint: String,
    /// The `Authorization` header it sends, if any.
    #[serde(skip)]
    pub authorization: Option<String>,
    /// The script as imported.
    pub script: String,
}

#[derive(Deserialize)]
struct Unload {
    #[serde(default)]
    sys_remote_update_set: Vec<RemoteUpdateSet>,
    #[serde(default)]
    sys_update_xml: Vec<UpdateXml>,
}

#[derive(Deserialize)]
struct RemoteUpdateSet {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct UpdateXml {
    #[serde(default)]
    payload: String,
}

#[derive(Deserialize)]
struct RecordUpdate {
    #[serde(rename = "@table", default)]
    table: String,
    sys_script: Option<SysScript>,
}

#[derive(Deserialize)]
struct SysScript {
    #[serde(default)]
    sys_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    collection: String,
    #[serde(default)]
    when: String,
    #[serde(default)]
    action_insert: String,
    #[serde(default)]
    action_update: String,
    #[serde(default)]
    advanced: String,
    #[serde(default)]
    active: String,
    #[serde(default)]
    script: String,
}

/// What an import installed.
#[derive(Debug, Serialize)]
pub struct Imported {
    pub update_set: String,
    pub rules: Vec<InstalledRule>,
}

fn invalid(detail: impl Into<String>) -> SnError {
    SnError::new(400, "Invalid update set", Some(detail.into()))
}

/// Parses an update set and installs its business rules.
pub fn import(state: &SimState, xml: &str) -> Result<Imported, SnError> {
    let unload: Unload = quick_xml::de::from_str(xml)
        .map_err(|e| invalid(format!("the file is not an update set: {e}")))?;
    let [set] = unload.sys_remote_update_set.as_slice() else {
        return Err(invalid(
            "an update set file holds exactly one sys_remote_update_set",
        ));
    };
    if unload.sys_update_xml.is_empty() {
        return Err(invalid("the update set holds no sys_update_xml"));
    }
    let mut rules = Vec::new();
    for update in &unload.sys_update_xml {
        let record: RecordUpdate = quick_xml::de::from_str(&update.payload)
            .map_err(|e| invalid(format!("a payload is not a record update: {e}")))?;
        if record.table != "sys_script" {
            return Err(invalid(format!(
                "this simulator installs business rules (sys_script) only, not {}",
                record.table
            )));
        }
        let rule = record
            .sys_script
            .ok_or_else(|| invalid("the payload holds no sys_script record"))?;
        rules.push(check(rule)?);
    }
    for rule in &rules {
        state.install_rule(rule.clone());
    }
    Ok(Imported {
        update_set: set.name.clone(),
        rules,
    })
}

fn check(rule: SysScript) -> Result<InstalledRule, SnError> {
    let want = [
        ("collection", rule.collection.as_str(), "incident"),
        ("when", rule.when.as_str(), "async"),
        ("action_insert", rule.action_insert.as_str(), "true"),
        ("action_update", rule.action_update.as_str(), "true"),
        ("advanced", rule.advanced.as_str(), "true"),
        ("active", rule.active.as_str(), "true"),
    ];
    for (field, have, expected) in want {
        if have != expected {
            return Err(invalid(format!(
                "the rule's {field} is \"{have}\"; this simulator runs {field} = {expected}"
            )));
        }
    }
    if rule.sys_id.len() != 32 || !rule.sys_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(
            "the rule's sys_id is not 32 hexadecimal characters",
        ));
    }
    let endpoint = string_after(&rule.script, "var glidepathUrl = ")
        .ok_or_else(|| invalid("the script sets no glidepathUrl"))?;
    let authorization = if let Some(rest) = after(&rule.script, "request.setBasicAuth(") {
        let (user, rest) = js_string(rest).ok_or_else(|| invalid("unreadable setBasicAuth"))?;
        let rest = rest.trim_start().strip_prefix(',').unwrap_or(rest);
        let (password, _) = js_string(rest).ok_or_else(|| invalid("unreadable setBasicAuth"))?;
        use base64::Engine;
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Some(format!("Basic {pair}"))
    } else {
        string_after(&rule.script, "request.setRequestHeader(\"Authorization\", ")
    };
    Ok(InstalledRule {
        sys_id: rule.sys_id,
        name: rule.name,
        endpoint,
        authorization,
        script: rule.script,
    })
}

fn after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.find(marker).map(|at| &text[at + marker.len()..])
}

/// The JavaScript string literal (written as JSON) right after `marker`.
fn string_after(text: &str, marker: &str) -> Option<String> {
    js_string(after(text, marker)?).map(|(s, _)| s)
}

/// A JSON string literal at the start of `text`, and what follows it.
fn js_string(text: &str) -> Option<(String, &str)> {
    let text = text.trim_start();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<String>();
    let value = stream.next()?.ok()?;
    let rest = &text[stream.byte_offset()..];
    Some((value, rest))
}

/// `POST /__sim/update_sets`: the body is the update set's XML, as the import form uploads it.
pub(crate) async fn import_handler(
    body: actix_web::web::Bytes,
    ctx: actix_web::web::Data<crate::server::AppCtx>,
) -> actix_web::HttpResponse {
    let result = std::str::from_utf8(&body)
        .map_err(|_| invalid("the file is not UTF-8"))
        .and_then(|xml| import(&ctx.state, xml));
    match result {
        Ok(imported) => {
            actix_web::HttpResponse::Ok().json(serde_json::json!({ "result": imported }))
        }
        Err(e) => crate::server::error_response(&e),
    }
}
