//! One alert source: its webhook URL, the business rule script and the steps to install it, and
//! for admins the forms that change how it connects.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;

use super::connection::{AttentionBanner, Connection};
use super::events::EventStatus;
use super::instance_settings::InstanceSettings;
use super::rotate_key::RotateKey;
use super::webhook_auth::WebhookAuthForm;
use crate::Session;
use crate::api::{
    self, SourceDetail as SourceDetailQuery, SourceScript, source_detail, source_script,
};
use crate::ui::{CopyButton, Empty, ErrorMessage, Loading};

#[component]
pub fn SourceDetail() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let data = RwSignal::new(None::<Option<source_detail::SourceDetailAlertSource>>);
    let error = RwSignal::new(None::<String>);
    Effect::new(move || {
        let variables = source_detail::Variables { id: id.get() };
        spawn_local(async move {
            match api::run::<SourceDetailQuery>(variables).await {
                Ok(answer) => data.set(Some(answer.alert_source)),
                Err(e) => error.set(Some(e.message)),
            }
        });
    });

    view! {
        <p class="crumbs"><a href="/sources">"← All alert sources"</a></p>
        <ErrorMessage error=error />
        {move || match data.get() {
            None => (error.get().is_none()).then(|| view! { <Loading what="the alert source" /> }).into_any(),
            Some(None) => view! {
                <Empty title="Alert source not found"><p><a href="/sources">"Back to the alert sources"</a></p></Empty>
            }.into_any(),
            Some(Some(s)) => view! { <SourceSetup source=s /> }.into_any(),
        }}
    }
}

#[component]
fn SourceSetup(source: source_detail::SourceDetailAlertSource) -> impl IntoView {
    let session = expect_context::<Session>();
    // None: loading (or not asked: only admins read the webhook URL, the script and the update
    // set, all carry the integration key); Some((url, script, update set)) once loaded.
    let secrets = RwSignal::new(None::<(String, String, String)>);
    // The end of the replaced key's grace period, while one runs.
    let grace_end = RwSignal::new(None::<String>);
    let script_error = RwSignal::new(None::<String>);
    let source_id = source.id.clone();
    let load_script = Callback::new(move |()| {
        let variables = source_script::Variables {
            id: source_id.clone(),
        };
        spawn_local(async move {
            match api::run::<SourceScript>(variables).await {
                Ok(answer) => secrets.set(answer.alert_source.map(|s| {
                    grace_end.set(s.key_rotation.map(|r| r.previous_key_expires_at));
                    (
                        s.webhook_url.unwrap_or_default(),
                        s.business_rule_script.unwrap_or_default(),
                        s.business_rule_update_set.unwrap_or_default(),
                    )
                })),
                Err(e) => script_error.set(Some(e.message)),
            }
        });
    });
    if session.is_admin() {
        load_script.run(());
    }
    let admin = session.is_admin();
    view! {
        <div class="page-head"><h1>{source.name.clone()}</h1></div>
        <p class="muted lead">{format!("Alerts from this source escalate to {}.", source.escalation_policy.name)}</p>
        {(admin && source.service_now.is_some()).then(|| view! { <AttentionBanner source_id=source.id.clone() /> })}
        <section class="card" aria-labelledby="webhook-title">
            <h2 id="webhook-title">"Webhook URL"</h2>
            <p class="muted">"Treat it like a password: whoever has it can create alerts."</p>
            {move || match secrets.get() {
                Some((webhook, _, _)) => {
                    let copy = webhook.clone();
                    view! {
                        <div class="copy-line">
                            <code id="webhook-url" class="code-line">{webhook}</code>
                            <CopyButton text=Signal::derive(move || copy.clone()) label="Webhook URL" />
                        </div>
                    }.into_any()
                }
                None if !admin => view! {
                    <p class="muted">"Only admins see the webhook URL: it carries the integration key."</p>
                }.into_any(),
                None => ().into_any(),
            }}
            {admin.then(|| view! { <RotateKey source_id=source.id.clone() grace_end=grace_end on_rotated=load_script /> })}
        </section>
        <EventStatus source_id=source.id.clone() />
        <section class="card" aria-labelledby="setup-title">
            <h2 id="setup-title">"Set up ServiceNow"</h2>
            <h3>"Import the update set (quickest)"</h3>
            <ol class="steps" id="update-set-steps">
                <li>"Download the update set below: it holds the business rule, webhook URL included."</li>
                <li>"In ServiceNow, open " <strong>"System Update Sets → Retrieved Update Sets"</strong> " and choose " <strong>"Import Update Set from XML"</strong> "; upload the file."</li>
                <li>"Open the retrieved update set, " <strong>"Preview Update Set"</strong> ", then " <strong>"Commit Update Set"</strong> "."</li>
            </ol>
            {move || secrets.get().map(|(_, _, xml)| {
                let href = format!(
                    "data:application/xml;charset=utf-8,{}",
                    String::from(js_sys::encode_uri_component(&xml))
                );
                view! {
                    <p><a id="download-update-set" class="button small" download="glidepath-business-rule.xml" href=href>"Download update set (XML)"</a></p>
                }
            })}
            <h3>"Or create the business rule by hand"</h3>
            <ol class="steps" id="business-rule-steps">
                <li>"In ServiceNow, search for " <strong>"Incidents"</strong> " and open the incident list."</li>
                <li>"Open the list's header menu and choose " <strong>"Configure → Business Rules"</strong> ", then " <strong>"New"</strong> "."</li>
                <li>"Name it (e.g. " <em>"Glidepath alerts"</em> ") and tick " <strong>"Advanced"</strong> "."</li>
                <li>"Under " <strong>"When to run"</strong> ", set " <strong>"When: async"</strong> " and tick " <strong>"Insert"</strong> " and " <strong>"Update"</strong> "."</li>
                <li>"On the " <strong>"Advanced"</strong> " tab, replace the script with the one below (the webhook URL is already in it), then " <strong>"Submit"</strong> "."</li>
                <li>"Create or update an incident: its alert appears in " <a href="/alerts">"Alerts"</a> " within seconds."</li>
            </ol>
            <ErrorMessage error=script_error />
            {move || match secrets.get() {
                Some((_, text, _)) => {
                    let copy = text.clone();
                    view! {
                        <div class="copy-head">
                            <h3>"Business rule script"</h3>
                            <CopyButton text=Signal::derive(move || copy.clone()) label="Business rule script" />
                        </div>
                        <pre id="business-rule-script" class="code-block" tabindex="0">{text}</pre>
                    }.into_any()
                }
                None if !admin => view! {
                    <p class="muted">"Only admins see the business rule script: it carries the integration key."</p>
                }.into_any(),
                None => (script_error.get().is_none()).then(|| view! { <Loading what="the business rule script" /> }).into_any(),
            }}
        </section>
        {session.is_admin().then(|| view! {
            <WebhookAuthForm source_id=source.id.clone() current=source.webhook_auth.clone() on_saved=load_script />
        })}
        {session.is_admin().then(|| view! { <Connection source_id=source.id.clone() current=source.service_now.clone() /> })}
        {session.is_admin().then(|| source.service_now.clone().map(|c| view! { <InstanceSettings source_id=source.id.clone() current=c /> }))}
    }
}
