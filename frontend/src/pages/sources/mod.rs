//! Alert sources: where ServiceNow sends incidents. Creating one leads straight to what an admin
//! pastes into ServiceNow, with the steps to follow there.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::Session;
use crate::api::{
    self, ConfigureServiceNow, CreateAlertSource, RotateIntegrationKey, ServiceNowOptions,
    SetPriorityMapping, SetRoutingField, SetWebhookAuth, SourceDetail as SourceDetailQuery,
    SourceList as SourceListQuery, SourceScript, TestServiceNowConnection, configure_service_now,
    create_alert_source, rotate_integration_key, service_now_options, set_priority_mapping,
    set_routing_field, set_webhook_auth, source_detail, source_list, source_script,
    test_service_now_connection,
};
use crate::time;
use crate::ui::{CopyButton, Empty, ErrorMessage, Loading, Notice};

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
    // None: loading (or not asked: only admins read the webhook URL and the script, both carry
    // the integration key); Some((url, script)) once loaded.
    let secrets = RwSignal::new(None::<(String, String)>);
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
        <section class="card" aria-labelledby="webhook-title">
            <h2 id="webhook-title">"Webhook URL"</h2>
            <p class="muted">"Treat it like a password: whoever has it can create alerts."</p>
            {move || match secrets.get() {
                Some((webhook, _)) => {
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
            <ErrorMessage error=script_error />
            {move || match secrets.get() {
                Some((_, text)) => {
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
                // Omitted: the stored close code stays.
                close_code: None,
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
                <Notice notice=notice />
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

/// The ServiceNow priority → alert priority table and the routing field, both filled from the
/// instance through the saved connection.
#[component]
fn InstanceSettings(
    source_id: String,
    current: source_detail::SourceDetailAlertSourceServiceNow,
) -> impl IntoView {
    let source_id = StoredValue::new(source_id);
    let options = RwSignal::new(None::<service_now_options::ResponseData>);
    let error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // ServiceNow priority value → "HIGH" / "LOW", as chosen on screen.
    let mapping = RwSignal::new(
        current
            .priority_mapping
            .iter()
            .map(|m| {
                (
                    m.service_now_priority.clone(),
                    api::enum_name(&m.alert_priority),
                )
            })
            .collect::<Vec<_>>(),
    );
    let routing = RwSignal::new(current.routing_field.clone().unwrap_or_default());
    let load = move || {
        error.set(None);
        let variables = service_now_options::Variables {
            alert_source_id: source_id.get_value(),
        };
        spawn_local(async move {
            match api::run::<ServiceNowOptions>(variables).await {
                Ok(answer) => options.set(Some(answer)),
                Err(e) => error.set(Some(format!("Could not read the instance: {}", e.message))),
            }
        });
    };
    load();
    let chosen = move |value: &str| {
        mapping
            .with(|m| m.iter().find(|(v, _)| v == value).map(|(_, p)| p.clone()))
            .unwrap_or_else(|| {
                // The server's default: 1 (Critical) and 2 (High) page as HIGH.
                if value == "1" || value == "2" {
                    "HIGH".into()
                } else {
                    "LOW".into()
                }
            })
    };
    let save_mapping = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let values: Vec<String> = options.with_untracked(|o| {
            o.as_ref()
                .map(|o| {
                    o.service_now_priorities
                        .iter()
                        .map(|p| p.value.clone())
                        .collect()
                })
                .unwrap_or_default()
        });
        let mappings = values
            .iter()
            .map(|v| set_priority_mapping::PriorityMappingInput {
                service_now_priority: v.clone(),
                alert_priority: if chosen(v) == "HIGH" {
                    set_priority_mapping::AlertPriority::HIGH
                } else {
                    set_priority_mapping::AlertPriority::LOW
                },
            })
            .collect();
        let variables = set_priority_mapping::Variables {
            alert_source_id: source_id.get_value(),
            mappings,
        };
        busy.set(true);
        error.set(None);
        notice.set(None);
        spawn_local(async move {
            match api::run::<SetPriorityMapping>(variables).await {
                Ok(_) => notice.set(Some(
                    "Priority mapping saved: it applies to the next incident events.".into(),
                )),
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let save_routing = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let field = routing.get_untracked();
        let variables = set_routing_field::Variables {
            alert_source_id: source_id.get_value(),
            field: (!field.is_empty()).then_some(field),
        };
        busy.set(true);
        error.set(None);
        notice.set(None);
        spawn_local(async move {
            match api::run::<SetRoutingField>(variables).await {
                Ok(_) => notice.set(Some("Routing field saved.".into())),
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };

    view! {
        <section class="card" aria-labelledby="instance-title">
            <h2 id="instance-title">"Priorities and routing"</h2>
            <Notice notice=notice />
            <ErrorMessage error=error />
            {move || match options.get() {
                None => (error.get().is_none()).then(|| view! { <Loading what="the instance's priorities and fields" /> }).into_any(),
                Some(o) => {
                    let fields = o.service_now_fields.clone();
                    view! {
                        <form class="stack" on:submit=save_mapping>
                            <h3>"Priority mapping"</h3>
                            <p class="muted">"Which ServiceNow priorities page as high-priority alerts."</p>
                            <table class="mapping">
                                <thead><tr><th scope="col">"ServiceNow priority"</th><th scope="col">"Alert priority"</th></tr></thead>
                                <tbody>
                                    {o.service_now_priorities.into_iter().map(|p| {
                                        let high = chosen(&p.value) == "HIGH";
                                        let value_change = p.value.clone();
                                        let select_id = format!("priority-map-{}", p.value);
                                        let label = format!("Alert priority for ServiceNow priority {}", p.label);
                                        view! {
                                            <tr>
                                                <td>{format!("{} ({})", p.label, p.value)}</td>
                                                <td>
                                                    <select id=select_id aria-label=label
                                                        on:change=move |ev| {
                                                            let v = value_change.clone();
                                                            let p = event_target_value(&ev);
                                                            mapping.update(|m| {
                                                                m.retain(|(x, _)| *x != v);
                                                                m.push((v, p));
                                                            });
                                                        }>
                                                        <option value="HIGH" selected=high>"High"</option>
                                                        <option value="LOW" selected=!high>"Low"</option>
                                                    </select>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <div class="button-row">
                                <button type="submit" class="button primary" disabled=busy>"Save priority mapping"</button>
                            </div>
                        </form>
                        <form class="inline-form" on:submit=save_routing>
                            <div class="field">
                                <label for="routing-field">"Routing field: new alerts go to the escalation policy whose routing key is this field's value"</label>
                                <select id="routing-field" on:change=move |ev| routing.set(event_target_value(&ev))>
                                    <option value="">"No routing: use the alert source's policy"</option>
                                    {fields.into_iter().map(|f| {
                                        let text = format!("{} ({})", f.label, f.name);
                                        let selected = routing.get_untracked() == f.name;
                                        view! { <option value=f.name selected=selected>{text}</option> }
                                    }).collect_view()}
                                </select>
                            </div>
                            <button type="submit" class="button" disabled=busy>"Save routing field"</button>
                        </form>
                    }.into_any()
                }
            }}
            <div class="button-row">
                <button type="button" class="button small" on:click=move |_| load()>"Reload from the instance"</button>
            </div>
        </section>
    }
}

/// Credentials ServiceNow must send besides the integration key; the business rule script
/// carries them, so it is reloaded after a change.
/// Rotates the integration key; the old one keeps delivering for the grace period chosen, whose end
/// is shown while it runs.
#[component]
fn RotateKey(
    source_id: String,
    grace_end: RwSignal<Option<String>>,
    on_rotated: Callback<()>,
) -> impl IntoView {
    let source_id = StoredValue::new(source_id);
    let grace = RwSignal::new("1440".to_string());
    let error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let rotate = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(minutes) = grace.get_untracked().trim().parse::<i64>() else {
            error.set(Some(
                "The grace period is a number of minutes (0 to 10080).".into(),
            ));
            return;
        };
        let variables = rotate_integration_key::Variables {
            alert_source_id: source_id.get_value(),
            grace_minutes: minutes,
        };
        busy.set(true);
        error.set(None);
        notice.set(None);
        spawn_local(async move {
            match api::run::<RotateIntegrationKey>(variables).await {
                Ok(answer) => {
                    let until = answer
                        .rotate_integration_key
                        .key_rotation
                        .map(|r| r.previous_key_expires_at);
                    notice.set(Some(match &until {
                        Some(t) => format!("New key issued. The old webhook URL works until {}: paste the new business rule script into ServiceNow before then.", time::local(t)),
                        None => "New key issued. The old webhook URL no longer works: paste the new business rule script into ServiceNow.".into(),
                    }));
                    grace_end.set(until);
                    on_rotated.run(());
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <form id="rotate-key" class="stack" on:submit=rotate>
            <Notice notice=notice />
            <ErrorMessage error=error />
            {move || grace_end.get().map(|t| view! {
                <p id="key-grace-end" class="muted">{format!("The previous key still delivers until {}.", time::local(&t))}</p>
            })}
            <label for="rotate-grace">"Keep the old key valid for (minutes, 0 to 10080)"</label>
            <input id="rotate-grace" type="number" min="0" max="10080" required
                prop:value=grace on:input=move |ev| grace.set(event_target_value(&ev)) />
            <div class="button-row">
                <button type="submit" class="button" disabled=busy>"Rotate key"</button>
            </div>
        </form>
    }
}

#[component]
fn WebhookAuthForm(
    source_id: String,
    current: source_detail::SourceDetailAlertSourceWebhookAuth,
    on_saved: Callback<()>,
) -> impl IntoView {
    let source_id = StoredValue::new(source_id);
    let kind = RwSignal::new(api::enum_name(&current.kind));
    let username = RwSignal::new(current.username.clone().unwrap_or_default());
    let secret = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let chosen = kind.get_untracked();
        let value = secret.get_untracked();
        let input = set_webhook_auth::WebhookAuthInput {
            kind: match chosen.as_str() {
                "BASIC" => set_webhook_auth::WebhookAuthKind::BASIC,
                "BEARER" => set_webhook_auth::WebhookAuthKind::BEARER,
                _ => set_webhook_auth::WebhookAuthKind::NONE,
            },
            username: (chosen == "BASIC").then(|| username.get_untracked().trim().to_string()),
            password: (chosen == "BASIC").then(|| value.clone()),
            token: (chosen == "BEARER").then_some(value),
        };
        let variables = set_webhook_auth::Variables {
            alert_source_id: source_id.get_value(),
            input,
        };
        busy.set(true);
        error.set(None);
        notice.set(None);
        spawn_local(async move {
            match api::run::<SetWebhookAuth>(variables).await {
                Ok(_) => {
                    secret.set(String::new());
                    notice.set(Some("Webhook authentication saved. Paste the updated business rule script into ServiceNow.".into()));
                    on_saved.run(());
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let initial = kind.get_untracked();
    view! {
        <details class="card advanced">
            <summary><h2 class="inline">"Advanced: webhook authentication"</h2></summary>
            <p class="muted">"Optionally require HTTP Basic credentials or a bearer token on the webhook, on top of the key in its URL."</p>
            <form class="stack" on:submit=save>
                <Notice notice=notice />
                <ErrorMessage error=error />
                <label for="hook-auth-kind">"Required credentials"</label>
                <select id="hook-auth-kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                    <option value="NONE" selected=initial == "NONE">"None: the URL's key is enough"</option>
                    <option value="BASIC" selected=initial == "BASIC">"HTTP Basic (user name and password)"</option>
                    <option value="BEARER" selected=initial == "BEARER">"Bearer token"</option>
                </select>
                {move || (kind.get() == "BASIC").then(|| view! {
                    <label for="hook-auth-user">"User name"</label>
                    <input id="hook-auth-user" type="text" autocomplete="off" required
                        prop:value=username on:input=move |ev| username.set(event_target_value(&ev)) />
                })}
                {move || (kind.get() != "NONE").then(|| view! {
                    <label for="hook-auth-secret">{move || if kind.get() == "BASIC" { "Password" } else { "Token" }}</label>
                    <input id="hook-auth-secret" type="password" autocomplete="new-password" required
                        prop:value=secret on:input=move |ev| secret.set(event_target_value(&ev)) />
                })}
                <div class="button-row">
                    <button type="submit" class="button primary" disabled=busy>"Save webhook authentication"</button>
                </div>
            </form>
        </details>
    }
}
