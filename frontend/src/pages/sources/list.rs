//! The list of alert sources and, for admins, the form that creates one.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

use crate::Session;
use crate::api::{
    self, CreateAlertSource, SourceList as SourceListQuery, create_alert_source, source_list,
};
use crate::time;
use crate::ui::{Empty, ErrorMessage, Loading};

#[component]
pub fn SourceList() -> impl IntoView {
    let session = expect_context::<Session>();
    let data = RwSignal::new(None::<source_list::ResponseData>);
    let error = RwSignal::new(None::<String>);
    spawn_local(async move {
        match api::run::<SourceListQuery>(source_list::Variables).await {
            Ok(answer) => data.set(Some(answer)),
            Err(e) => error.set(Some(e.message)),
        }
    });

    view! {
        <div class="page-head"><h1>"Alert sources"</h1></div>
        <p class="muted lead">"Each alert source is one ServiceNow business rule posting incidents to its own webhook."</p>
        <ErrorMessage error=error />
        {move || data.get().map(|d| {
            let policies = d.escalation_policies.clone();
            view! {
                {if d.alert_sources.is_empty() {
                    view! {
                        <Empty title="No alert sources yet">
                            <p>{if session.is_admin() {
                                "Create one below: you get the webhook URL and the business rule to paste into ServiceNow."
                            } else {
                                "Ask an admin to create one: it connects a ServiceNow instance to Glidepath."
                            }}</p>
                        </Empty>
                    }.into_any()
                } else {
                    view! {
                        <ul class="list">
                            {d.alert_sources.into_iter().map(|s| view! {
                                <li class="list-row">
                                    <a class="row-title" href=format!("/sources/{}", s.id)>{s.name}</a>
                                    <span class="muted">{format!("Escalates to {}", s.escalation_policy.name)}</span>
                                    <span class="muted">{match s.service_now {
                                        Some(c) => format!("Connected to {}", c.instance_url),
                                        None => "No ServiceNow connection".to_string(),
                                    }}</span>
                                    <span class="muted" title=time::local(&s.created_at)>{format!("created {}", time::age(&s.created_at))}</span>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
                {session.is_admin().then(|| view! { <CreateSource policies=policies /> })}
            }.into_any()
        }).unwrap_or_else(|| if error.get().is_none() { view! { <Loading what="alert sources" /> }.into_any() } else { ().into_any() }) }
    }
}

#[component]
fn CreateSource(policies: Vec<source_list::SourceListEscalationPolicies>) -> impl IntoView {
    let navigate = use_navigate();
    let name = RwSignal::new(String::new());
    let policy = RwSignal::new(policies.first().map(|p| p.id.clone()).unwrap_or_default());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let no_policies = policies.is_empty();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let variables = create_alert_source::Variables {
            name: name.get_untracked().trim().to_string(),
            escalation_policy_id: policy.get_untracked(),
        };
        if variables.name.is_empty() {
            error.set(Some("Give the alert source a name.".into()));
            return;
        }
        busy.set(true);
        error.set(None);
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::run::<CreateAlertSource>(variables).await {
                Ok(answer) => navigate(
                    &format!("/sources/{}", answer.create_alert_source.id),
                    Default::default(),
                ),
                Err(e) => {
                    error.set(Some(e.message));
                    busy.set(false);
                }
            }
        });
    };
    view! {
        <section class="card" aria-labelledby="new-source-title">
            <h2 id="new-source-title">"New alert source"</h2>
            {if no_policies {
                view! {
                    <p>"An alert source sends its alerts to an escalation policy. "
                    <a href="/policies">"Create an escalation policy"</a> " first."</p>
                }.into_any()
            } else {
                view! {
                    <form class="stack" on:submit=submit>
                        <ErrorMessage error=error />
                        <label for="source-name">"Name"</label>
                        <input id="source-name" type="text" required placeholder="ServiceNow production"
                            prop:value=name on:input=move |ev| name.set(event_target_value(&ev)) />
                        <label for="source-policy">"Escalation policy"</label>
                        <select id="source-policy" prop:value=policy on:change=move |ev| policy.set(event_target_value(&ev))>
                            {policies.into_iter().map(|p| view! { <option value=p.id>{p.name}</option> }).collect_view()}
                        </select>
                        <label for="source-type">"Integration type"</label>
                        <select id="source-type" disabled>
                            <option>"ServiceNow"</option>
                        </select>
                        <div class="button-row">
                            <button type="submit" class="button primary" disabled=busy>"Create alert source"</button>
                        </div>
                    </form>
                }.into_any()
            }}
        </section>
    }
}
