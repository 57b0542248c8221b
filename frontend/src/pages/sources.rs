//! Alert sources: where ServiceNow sends incidents. Creating one leads straight to what an admin
//! pastes into ServiceNow, with the steps to follow there.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::Session;
use crate::api::{
    self, ConfigureServiceNow, CreateAlertSource, SourceDetail as SourceDetailQuery,
    SourceList as SourceListQuery, TestServiceNowConnection, configure_service_now,
    create_alert_source, source_detail, source_list, test_service_now_connection,
};
use crate::time;
use crate::ui::{CopyButton, Empty, ErrorMessage, Loading};

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
    let webhook = source.webhook_url.clone();
    let script = source.business_rule_script.clone();
    view! {
        <div class="page-head"><h1>{source.name.clone()}</h1></div>
        <p class="muted lead">{format!("Alerts from this source escalate to {}.", source.escalation_policy.name)}</p>
        <section class="card" aria-labelledby="webhook-title">
            <h2 id="webhook-title">"Webhook URL"</h2>
            <p class="muted">"Treat it like a password: whoever has it can create alerts."</p>
            <div class="copy-line">
                <code id="webhook-url" class="code-line">{webhook.clone()}</code>
                <CopyButton text=Signal::derive(move || webhook.clone()) label="Webhook URL" />
            </div>
        </section>
        <section class="card" aria-labelledby="setup-title">
            <h2 id="setup-title">"Set up ServiceNow"</h2>
            <ol class="steps">
                <li>"In ServiceNow, search for " <strong>"Incidents"</strong> " and open the incident list."</li>
                <li>"Open the list's header menu and choose " <strong>"Configure → Business Rules"</strong> ", then " <strong>"New"</strong> "."</li>
                <li>"Name it (e.g. " <em>"Glidepath alerts"</em> ") and tick " <strong>"Advanced"</strong> "."</li>
                <li>"Under " <strong>"When to run"</strong> ", set " <strong>"When: async"</strong> " and tick " <strong>"Insert"</strong> " and " <strong>"Update"</strong> "."</li>
                <li>"On the " <strong>"Advanced"</strong> " tab, replace the script with the one below (the webhook URL is already in it), then " <strong>"Submit"</strong> "."</li>
                <li>"Create or update an incident: its alert appears in " <a href="/alerts">"Alerts"</a> " within seconds."</li>
            </ol>
            <div class="copy-head">
                <h3>"Business rule script"</h3>
                <CopyButton text=Signal::derive(move || script.clone()) label="Business rule script" />
            </div>
            <pre id="business-rule-script" class="code-block" tabindex="0">{source.business_rule_script.clone()}</pre>
        </section>
        {session.is_admin().then(|| view! { <Connection source_id=source.id.clone() current=source.service_now.clone() /> })}
    }
}

#[component]
fn Connection(
    source_id: String,
    current: Option<source_detail::SourceDetailAlertSourceServiceNow>,
) -> impl IntoView {
    let password_set = RwSignal::new(current.as_ref().is_some_and(|c| c.password_set));
    let configured = RwSignal::new(current.is_some());
    let instance_url = RwSignal::new(
        current
            .as_ref()
            .map(|c| c.instance_url.clone())
            .unwrap_or_default(),
    );
    let username = RwSignal::new(
        current
            .as_ref()
            .map(|c| c.username.clone())
            .unwrap_or_default(),
    );
    let password = RwSignal::new(String::new());
    let bidirectional = RwSignal::new(current.as_ref().is_some_and(|c| c.bidirectional));
    let error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let source_id = StoredValue::new(source_id);

    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let secret = password.get_untracked();
        let variables = configure_service_now::Variables {
            alert_source_id: source_id.get_value(),
            input: configure_service_now::ServiceNowConnectionInput {
                instance_url: instance_url.get_untracked().trim().to_string(),
                username: username.get_untracked().trim().to_string(),
                password: (!secret.is_empty()).then_some(secret),
                bidirectional: bidirectional.get_untracked(),
            },
        };
        busy.set(true);
        error.set(None);
        notice.set(None);
        spawn_local(async move {
            match api::run::<ConfigureServiceNow>(variables).await {
                Ok(answer) => {
                    password.set(String::new());
                    if let Some(c) = answer.configure_service_now.service_now {
                        password_set.set(c.password_set);
                        configured.set(true);
                    }
                    notice.set(Some(
                        "Connection saved. Test it to check the credentials.".into(),
                    ));
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let test = move |_| {
        busy.set(true);
        error.set(None);
        notice.set(None);
        let variables = test_service_now_connection::Variables {
            alert_source_id: source_id.get_value(),
        };
        spawn_local(async move {
            match api::run::<TestServiceNowConnection>(variables).await {
                Ok(answer) => {
                    let r = answer.test_service_now_connection;
                    if r.ok {
                        notice.set(Some(format!("Connection works. {}", r.message)));
                    } else {
                        error.set(Some(format!("Connection failed: {}", r.message)));
                    }
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };

    view! {
        <details class="card advanced">
            <summary><h2 class="inline">"Advanced: ServiceNow connection"</h2></summary>
            <p class="muted">"Optional. With a connection, Glidepath reads from your instance's Table API, and with two-way sync writes alert changes back to the ticket."</p>
            <form class="stack" on:submit=save>
                <div role="status">{move || notice.get().map(|n| view! { <p class="message success">{n}</p> })}</div>
                <ErrorMessage error=error />
                <label for="sn-url">"Instance URL"</label>
                <input id="sn-url" type="url" required placeholder="https://acme.service-now.com"
                    prop:value=instance_url on:input=move |ev| instance_url.set(event_target_value(&ev)) />
                <label for="sn-user">"User name"</label>
                <input id="sn-user" type="text" required autocomplete="off"
                    prop:value=username on:input=move |ev| username.set(event_target_value(&ev)) />
                <label for="sn-password">"Password"</label>
                <input id="sn-password" type="password" autocomplete="new-password"
                    placeholder=move || if password_set.get() { "Stored; leave empty to keep it" } else { "" }
                    prop:value=password on:input=move |ev| password.set(event_target_value(&ev)) />
                <label class="switch" for="sn-bidirectional">
                    <input id="sn-bidirectional" type="checkbox" role="switch"
                        prop:checked=bidirectional on:change=move |ev| bidirectional.set(event_target_checked(&ev)) />
                    " Two-way sync: write accept, resolve and comments back to the ticket"
                </label>
                <div class="button-row">
                    <button type="submit" class="button primary" disabled=busy>"Save connection"</button>
                    <button type="button" class="button" disabled=move || busy.get() || !configured.get() on:click=test>"Test connection"</button>
                </div>
            </form>
        </details>
    }
}
