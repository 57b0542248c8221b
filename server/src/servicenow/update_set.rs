//! The business rule as a ServiceNow update set: the XML that *System Update Sets → Retrieved
//! Update Sets → Import Update Set from XML* accepts. An `<unload>` holds one
//! `sys_remote_update_set` and one `sys_update_xml` whose `payload` is the `sys_script` record
//! (table `incident`, when `async`, on insert and update, advanced, active, the generated script).
//!
//! The XML is written with quick-xml, so the script and names are escaped however they read; the
//! payload, itself an XML document, is escaped as the text of its element, as ServiceNow exports
//! it. The rule's `sys_id` is derived from the alert source's id: importing a newer update set of
//! the same source (after a key rotation, say) updates the rule instead of adding a second one.

use chrono::{DateTime, Utc};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use sha2::{Digest, Sha256};

use super::time;

/// What the update set installs.
pub struct Rule<'a> {
    pub source_id: &'a str,
    /// The alert source's name: the rule is called "Glidepath: NAME".
    pub source_name: &'a str,
    /// The business rule script (`business_rule::script`).
    pub script: &'a str,
    /// The time written into the records.
    pub now: DateTime<Utc>,
}

/// A 32-hex sys_id derived from `parts`.
fn sys_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())[..32].to_string()
}

type W = Writer<Vec<u8>>;

fn start(w: &mut W, name: &str, attrs: &[(&str, &str)]) -> anyhow::Result<()> {
    let mut e = BytesStart::new(name);
    for a in attrs {
        e.push_attribute(*a);
    }
    w.write_event(Event::Start(e))?;
    Ok(())
}

fn end(w: &mut W, name: &str) -> anyhow::Result<()> {
    w.write_event(Event::End(BytesEnd::new(name)))?;
    Ok(())
}

/// `<name attrs…>text</name>`, or `<name attrs…/>` for empty text.
fn field(w: &mut W, name: &str, attrs: &[(&str, &str)], text: &str) -> anyhow::Result<()> {
    if text.is_empty() {
        let mut e = BytesStart::new(name);
        for a in attrs {
            e.push_attribute(*a);
        }
        w.write_event(Event::Empty(e))?;
        return Ok(());
    }
    start(w, name, attrs)?;
    w.write_event(Event::Text(BytesText::new(text)))?;
    end(w, name)
}

fn decl(w: &mut W) -> anyhow::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    Ok(())
}

fn into_string(w: W) -> anyhow::Result<String> {
    Ok(String::from_utf8(w.into_inner())?)
}

/// The rule's name in ServiceNow.
pub fn rule_name(source_name: &str) -> String {
    format!("Glidepath: {source_name}")
}

/// The `sys_script` record as `sys_update_xml.payload` carries it.
fn payload(rule: &Rule<'_>, script_id: &str, update_name: &str) -> anyhow::Result<String> {
    let name = rule_name(rule.source_name);
    let at = time::format(rule.now);
    let mut w = Writer::new(Vec::new());
    decl(&mut w)?;
    start(&mut w, "record_update", &[("table", "sys_script")])?;
    start(&mut w, "sys_script", &[("action", "INSERT_OR_UPDATE")])?;
    let fields: &[(&str, &str)] = &[
        ("abort_action", "false"),
        ("access", "package_private"),
        ("action_delete", "false"),
        ("action_insert", "true"),
        ("action_query", "false"),
        ("action_update", "true"),
        ("active", "true"),
        ("add_message", "false"),
        ("advanced", "true"),
        ("change_fields", "false"),
        ("client_callable", "false"),
        ("collection", "incident"),
        ("condition", ""),
        (
            "description",
            "Posts every incident insert and update to Glidepath.",
        ),
        ("execute_function", "false"),
        ("is_rest", "false"),
        ("message", ""),
        ("name", &name),
        ("order", "100"),
        ("priority", "100"),
        ("role_conditions", ""),
        ("script", rule.script),
        ("sys_class_name", "sys_script"),
        ("sys_created_by", "admin"),
        ("sys_created_on", &at),
        ("sys_domain", "global"),
        ("sys_domain_path", "/"),
        ("sys_id", script_id),
        ("sys_mod_count", "0"),
        ("sys_name", &name),
        ("sys_overrides", ""),
        ("sys_policy", ""),
        ("sys_update_name", update_name),
        ("sys_updated_by", "admin"),
        ("sys_updated_on", &at),
        ("template", ""),
        ("when", "async"),
    ];
    for (k, v) in fields {
        field(&mut w, k, &[], v)?;
        if *k == "execute_function" {
            field(&mut w, "filter_condition", &[("table", "incident")], "")?;
        }
        if *k == "sys_name" {
            field(
                &mut w,
                "sys_package",
                &[("display_value", "Global"), ("source", "global")],
                "global",
            )?;
            field(
                &mut w,
                "sys_scope",
                &[("display_value", "Global")],
                "global",
            )?;
        }
    }
    end(&mut w, "sys_script")?;
    end(&mut w, "record_update")?;
    into_string(w)
}

/// The whole update set.
pub fn xml(rule: &Rule<'_>) -> anyhow::Result<String> {
    let script_id = sys_id(&["glidepath sys_script", rule.source_id]);
    let update_name = format!("sys_script_{script_id}");
    let set_id = sys_id(&["glidepath update set", rule.source_id, rule.script]);
    let xml_id = sys_id(&["glidepath update xml", rule.source_id, rule.script]);
    let payload = payload(rule, &script_id, &update_name)?;
    let name = rule_name(rule.source_name);
    let at = time::format(rule.now);
    let set_name = format!("Glidepath business rule: {}", rule.source_name);
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 0);
    decl(&mut w)?;
    start(&mut w, "unload", &[("unload_date", &at)])?;

    start(
        &mut w,
        "sys_remote_update_set",
        &[("action", "INSERT_OR_UPDATE")],
    )?;
    let set_fields: &[(&str, &str)] = &[
        ("application_name", "Global"),
        ("application_scope", "global"),
        ("application_version", ""),
        ("collisions", ""),
        ("commit_date", ""),
        ("deleted", ""),
        (
            "description",
            "Installs the business rule that posts every incident insert and update to Glidepath.",
        ),
        ("inserted", ""),
        ("name", &set_name),
        ("origin_sys_id", ""),
        ("release_date", ""),
        ("remote_sys_id", &set_id),
        ("state", "loaded"),
        ("summary", ""),
        ("sys_class_name", "sys_remote_update_set"),
        ("sys_created_by", "admin"),
        ("sys_created_on", &at),
        ("sys_id", &set_id),
        ("sys_mod_count", "0"),
        ("sys_updated_by", "admin"),
        ("sys_updated_on", &at),
        ("update_source", ""),
        ("updated", ""),
    ];
    field(
        &mut w,
        "application",
        &[("display_value", "Global")],
        "global",
    )?;
    for (k, v) in set_fields {
        field(&mut w, k, &[], v)?;
    }
    end(&mut w, "sys_remote_update_set")?;

    start(&mut w, "sys_update_xml", &[("action", "INSERT_OR_UPDATE")])?;
    field(&mut w, "action", &[], "INSERT_OR_UPDATE")?;
    field(
        &mut w,
        "application",
        &[("display_value", "Global")],
        "global",
    )?;
    let xml_fields: &[(&str, &str)] = &[
        ("category", "customer"),
        ("comments", ""),
        ("name", &update_name),
        ("payload", &payload),
        ("replace_on_upgrade", "false"),
        ("sys_created_by", "admin"),
        ("sys_created_on", &at),
        ("sys_id", &xml_id),
        ("sys_mod_count", "0"),
        ("sys_recorded_at", ""),
        ("sys_updated_by", "admin"),
        ("sys_updated_on", &at),
        ("table", "incident"),
        ("target_name", &name),
        ("type", "Business Rule"),
        ("update_domain", "global"),
        ("update_guid", &xml_id),
        ("view", ""),
    ];
    for (k, v) in xml_fields {
        field(&mut w, k, &[], v)?;
        if *k == "payload" {
            field(
                &mut w,
                "remote_update_set",
                &[("display_value", &set_name)],
                &set_id,
            )?;
        }
    }
    end(&mut w, "sys_update_xml")?;
    end(&mut w, "unload")?;
    into_string(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_and_names_are_escaped() {
        let rule = Rule {
            source_id: "0190-src",
            source_name: "Prod <EU> & \"co\"",
            script: "if (a < b && c > d) { x = \"]]>\"; }",
            now: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        };
        let out = xml(&rule).unwrap();
        assert!(out.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert!(!out.contains("a < b"), "{out}");
        assert!(out.contains("<unload unload_date="));
        assert!(out.contains("<sys_remote_update_set action=\"INSERT_OR_UPDATE\">"));
        assert!(out.contains("<type>Business Rule</type>"));
        // The payload is escaped once as text: its script is escaped twice.
        assert!(out.contains("&amp;lt;"), "{out}");
        assert!(!out.contains("<sys_script "), "{out}");
    }

    #[test]
    fn the_rule_keeps_its_sys_id_across_scripts() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let a = xml(&Rule {
            source_id: "s1",
            source_name: "n",
            script: "one",
            now: at,
        })
        .unwrap();
        let b = xml(&Rule {
            source_id: "s1",
            source_name: "n",
            script: "two",
            now: at,
        })
        .unwrap();
        let id = sys_id(&["glidepath sys_script", "s1"]);
        assert!(a.contains(&format!("sys_script_{id}")) && b.contains(&format!("sys_script_{id}")));
        assert_ne!(a, b);
    }
}
