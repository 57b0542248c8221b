//! One alert: what happened, who is on it, and the actions valid for its state. Refreshed every
//! few seconds, so changes from ServiceNow or other responders show up by themselves.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;

use crate::api::{
    self, AcceptAlert, AddComment, AlertDetail as AlertDetailQuery, ApiError, RaiseAlertPriority,
    RerouteAlert, ResolveAlert, accept_alert, add_comment, alert_detail, raise_alert_priority,
    reroute_alert, resolve_alert,
};
use crate::time;
use crate::ui::{Empty, ErrorMessage, Loading, Notice, PriorityBadge, StatusBadge, TextArea, poll};

type Detail = alert_detail::AlertDetailAlert;
type Policy = alert_detail::AlertDetailEscalationPolicies;

fn person(name: &str, email: &str) -> String {
    if name.is_empty() {
        email.to_string()
    } else {
        format!("{name} ({email})")
    }
}

fn log_kind_label(kind: &str) -> &'static str {
    match kind {
        "CREATED" => "Created",
        "ACCEPTED" => "Accepted",
        "RESOLVED" => "Resolved",
        "PRIORITY_RAISED" => "Priority raised",
        "REROUTED" => "Re-routed",
        "COMMENTED" => "Comment",
        "TICKET_UPDATED" => "Ticket updated",
        "ESCALATED" => "Escalated",
        "NOTIFIED" => "Notified",
        "NOTIFICATION_FAILED" => "Notification failed",
        "PREVIOUS_KEY_USED" => "Previous integration key",
        _ => "Update",
    }
}

fn actor_kind_label(kind: &str) -> &'static str {
    match kind {
        "USER" => "User",
        "SERVICENOW" => "ServiceNow",
        _ => "System",
    }
}

#[component]
pub fn AlertDetail() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    // None: loading; Some(None): no such alert.
    let alert = RwSignal::new(None::<Option<Detail>>);
    let policies = RwSignal::new(Vec::<Policy>::new());
    let load_error = RwSignal::new(None::<String>);
    let action_error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let load = move || {
        let variables = alert_detail::Variables {
            id: id.get_untracked(),
        };
        spawn_local(async move {
            match api::run::<AlertDetailQuery>(variables).await {
                Ok(answer) => {
                    load_error.set(None);
                    if alert.with_untracked(|a| a.as_ref() != Some(&answer.alert)) {
                        alert.set(Some(answer.alert));
                    }
                    if policies.with_untracked(|p| *p != answer.escalation_policies) {
                        policies.set(answer.escalation_policies);
                    }
                }
                Err(e) => load_error.set(Some(e.message)),
            }
        });
    };
    Effect::new(move || {
        id.track();
        alert.set(None);
        load();
    });
    poll(load);

    // Runs one action, then shows its error in words or reloads the alert.
    let act =
        move |done: &'static str,
              action: std::pin::Pin<Box<dyn Future<Output = Result<(), ApiError>>>>| {
            busy.set(true);
            action_error.set(None);
            notice.set(None);
            spawn_local(async move {
                match action.await {
                    Ok(()) => {
                        notice.set(Some(done.to_string()));
                        load();
                    }
                    Err(e) => action_error.set(Some(e.message)),
                }
                busy.set(false);
            });
        };

    // What the action buttons depend on; a Memo so a refresh that changes nothing else keeps the
    // forms below (and their focus) as they are.
    let state = Memo::new(move |_| {
        alert.with(|a| {
            a.as_ref().and_then(|a| a.as_ref()).map(|a| {
                (
                    api::enum_name(&a.status),
                    api::enum_name(&a.priority),
                    a.escalation_policy.id.clone(),
                )
            })
        })
    });

    let resolve_open = RwSignal::new(false);
    let resolve_comment = RwSignal::new(String::new());
    let reroute_to = RwSignal::new(String::new());
    let comment = RwSignal::new(String::new());

    let accept = move |_| {
        let id = id.get_untracked();
        act(
            "Alert accepted: it is assigned to you and escalation stopped.",
            Box::pin(async move {
                api::run::<AcceptAlert>(accept_alert::Variables { id })
                    .await
                    .map(|_| ())
            }),
        );
    };
    let raise = move |_| {
        let id = id.get_untracked();
        act(
            "Priority raised to high.",
            Box::pin(async move {
                api::run::<RaiseAlertPriority>(raise_alert_priority::Variables { id })
                    .await
                    .map(|_| ())
            }),
        );
    };
    let resolve = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let id = id.get_untracked();
        let text = resolve_comment.get_untracked().trim().to_string();
        let comment = (!text.is_empty()).then_some(text);
        resolve_open.set(false);
        resolve_comment.set(String::new());
        act(
            "Alert resolved.",
            Box::pin(async move {
                api::run::<ResolveAlert>(resolve_alert::Variables { id, comment })
                    .await
                    .map(|_| ())
            }),
        );
    };
    let reroute = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let id = id.get_untracked();
        let escalation_policy_id = reroute_to.get_untracked();
        if escalation_policy_id.is_empty() {
            action_error.set(Some("Choose the escalation policy to re-route to.".into()));
            return;
        }
        reroute_to.set(String::new());
        act(
            "Alert re-routed: escalation starts again on the new policy.",
            Box::pin(async move {
                api::run::<RerouteAlert>(reroute_alert::Variables {
                    id,
                    escalation_policy_id,
                })
                .await
                .map(|_| ())
            }),
        );
    };
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = comment.get_untracked().trim().to_string();
        if body.is_empty() {
            action_error.set(Some("Write a comment first.".into()));
            return;
        }
        let alert_id = id.get_untracked();
        comment.set(String::new());
        act(
            "Comment added.",
            Box::pin(async move {
                api::run::<AddComment>(add_comment::Variables { alert_id, body })
                    .await
                    .map(|_| ())
            }),
        );
    };

    let actions = move || {
        state.get().map(|(status, priority, policy_id)| {
            let open = status != "RESOLVED";
            let other_policies: Vec<Policy> = policies
                .get()
                .into_iter()
                .filter(|p| p.id != policy_id)
                .collect();
            view! {
                <section class="card actions" aria-labelledby="actions-title">
                    <h2 id="actions-title">"Actions"</h2>
                    {(!open).then(|| view! {
                        <p class="muted">"This alert is resolved: only comments can be added."</p>
                    })}
                    <div class="button-row">
                        {(status == "PENDING").then(|| view! {
                            <button type="button" class="button primary" disabled=busy on:click=accept>
                                "Accept"
                            </button>
                        })}
                        {open.then(|| view! {
                            <button
                                type="button"
                                class="button"
                                disabled=busy
                                aria-expanded=move || resolve_open.get().to_string()
                                on:click=move |_| resolve_open.update(|o| *o = !*o)
                            >
                                "Resolve…"
                            </button>
                        })}
                        {(open && priority == "LOW").then(|| view! {
                            <button type="button" class="button" disabled=busy on:click=raise>
                                "Raise priority"
                            </button>
                        })}
                    </div>
                    {move || (open && resolve_open.get()).then(|| view! {
                        <form class="stack" on:submit=resolve>
                            <TextArea id="resolve-comment" label="Resolution comment (optional, becomes the ticket's close notes)" value=resolve_comment />
                            <div class="button-row">
                                <button type="submit" class="button primary" disabled=busy>"Resolve alert"</button>
                                <button type="button" class="button ghost" on:click=move |_| resolve_open.set(false)>"Cancel"</button>
                            </div>
                        </form>
                    })}
                    {(open && !other_policies.is_empty()).then(|| view! {
                        <form class="inline-form" on:submit=reroute>
                            <div class="field">
                                <label for="reroute-policy">"Re-route to escalation policy"</label>
                                <select
                                    id="reroute-policy"
                                    prop:value=reroute_to
                                    on:change=move |ev| reroute_to.set(event_target_value(&ev))
                                >
                                    <option value="">"Choose a policy…"</option>
                                    {other_policies
                                        .into_iter()
                                        .map(|p| view! { <option value=p.id>{p.name}</option> })
                                        .collect_view()}
                                </select>
                            </div>
                            <button type="submit" class="button" disabled=busy>"Re-route"</button>
                        </form>
                    })}
                </section>
            }
        })
    };

    view! {
        <p class="crumbs"><a href="/alerts">"← All alerts"</a></p>
        <ErrorMessage error=load_error />
        {move || match alert.get() {
            None => view! { <Loading what="the alert" /> }.into_any(),
            Some(None) => view! {
                <Empty title="Alert not found">
                    <p>"It may have been removed, or the address is wrong. " <a href="/alerts">"Back to the alert list"</a> "."</p>
                </Empty>
            }.into_any(),
            Some(Some(a)) => view! { <Header alert=a /> }.into_any(),
        }}
        <Notice notice=notice />
        <ErrorMessage error=action_error />
        {actions}
        {move || state.with(Option::is_some).then(|| view! {
            <section class="card" aria-labelledby="comment-title">
                <h2 id="comment-title">"Add a comment"</h2>
                <form class="stack" on:submit=add>
                    <TextArea id="comment-body" label="Comment" value=comment />
                    <div class="button-row">
                        <button type="submit" class="button" disabled=busy>"Add comment"</button>
                    </div>
                </form>
            </section>
        })}
        {move || alert.get().flatten().and_then(|a| {
            let status = a.sync_status.clone()?;
            Some(view! {
                <super::sync::SyncPanel alert_id=a.id.clone() status=status updates=a.sync_updates.clone()
                    on_retried=Callback::new(move |()| load()) />
            })
        })}
        {move || alert.get().flatten().map(|a| view! { <History alert=a /> })}
    }
}

#[component]
fn Header(alert: Detail) -> impl IntoView {
    let ticket = match (alert.ticket.number.clone(), alert.ticket.url.clone()) {
        (Some(number), Some(url)) => view! {
            <a href=url target="_blank" rel="noopener noreferrer">{number}</a>
        }
        .into_any(),
        (Some(number), None) => view! { <span>{number}</span> }.into_any(),
        _ => view! { <span class="muted">"No ticket number"</span> }.into_any(),
    };
    let ticket_state = alert.ticket.state_label.clone();
    let assignee = alert
        .assigned_to
        .as_ref()
        .map(|u| person(&u.name, &u.email))
        .unwrap_or_else(|| "Unassigned".into());
    let responders = if alert.responders.is_empty() {
        "None yet".to_string()
    } else {
        alert
            .responders
            .iter()
            .map(|u| person(&u.name, &u.email))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let escalation = if alert.escalation_level == 0 {
        "Not escalated".to_string()
    } else if alert.escalation_round > 0 {
        format!(
            "Level {} (repeat {})",
            alert.escalation_level, alert.escalation_round
        )
    } else {
        format!("Level {}", alert.escalation_level)
    };
    let next = alert
        .next_escalation_at
        .as_deref()
        .map(time::local)
        .unwrap_or_else(|| "—".into());
    let when = |t: &Option<String>| t.as_deref().map(time::local).unwrap_or_else(|| "—".into());
    view! {
        <header class="detail-head">
            <div class="badges">
                <StatusBadge status=api::enum_name(&alert.status) />
                <PriorityBadge priority=api::enum_name(&alert.priority) />
            </div>
            <h1 class="detail-title">{alert.summary.clone()}</h1>
        </header>
        <section class="card">
            <dl class="facts">
                <div><dt>"ServiceNow ticket"</dt><dd>{ticket} " " <span class="muted">{ticket_state}</span></dd></div>
                <div><dt>"Alert source"</dt><dd>{alert.alert_source.name.clone()}</dd></div>
                <div><dt>"Escalation policy"</dt><dd>{alert.escalation_policy.name.clone()}</dd></div>
                <div><dt>"Assignee"</dt><dd>{assignee}</dd></div>
                <div><dt>"Responders"</dt><dd>{responders}</dd></div>
                <div><dt>"Escalation"</dt><dd>{escalation}</dd></div>
                <div><dt>"Next escalation"</dt><dd>{next}</dd></div>
                <div><dt>"Created"</dt><dd title=time::local(&alert.created_at)>{time::age(&alert.created_at)}</dd></div>
                <div><dt>"Accepted"</dt><dd>{when(&alert.accepted_at)}</dd></div>
                <div><dt>"Resolved"</dt><dd>{when(&alert.resolved_at)}</dd></div>
            </dl>
            <h2 class="subhead">"Details"</h2>
            {match alert.details.clone().filter(|d| !d.trim().is_empty()) {
                Some(d) => view! { <p class="details">{d}</p> }.into_any(),
                None => view! { <p class="muted">"The incident has no description."</p> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn History(alert: Detail) -> impl IntoView {
    let comments = if alert.comments.is_empty() {
        view! { <p class="muted">"No comments yet. Add one above to keep the team in the picture."</p> }.into_any()
    } else {
        view! {
            <ul class="comments">
                {alert.comments.into_iter().map(|c| {
                    let author = c.author.map(|u| person(&u.name, &u.email)).unwrap_or_else(|| "A removed user".into());
                    view! {
                        <li class="comment">
                            <div class="comment-meta">
                                <strong>{author}</strong>
                                <time datetime=c.created_at.clone()>{time::local(&c.created_at)}</time>
                            </div>
                            <p>{c.body}</p>
                        </li>
                    }
                }).collect_view()}
            </ul>
        }.into_any()
    };
    view! {
        <section class="card" aria-labelledby="comments-title">
            <h2 id="comments-title">"Comments"</h2>
            {comments}
        </section>
        <section class="card" aria-labelledby="log-title">
            <h2 id="log-title">"Timeline"</h2>
            <ol class="timeline">
                {alert.log_entries.into_iter().map(|entry| {
                    let kind = api::enum_name(&entry.kind);
                    let actor_kind = api::enum_name(&entry.actor_kind);
                    let class = format!("event actor-{}", actor_kind.to_lowercase());
                    view! {
                        <li class=class>
                            <div class="event-head">
                                <span class="event-kind">{log_kind_label(&kind)}</span>
                                <span class="actor-tag">{actor_kind_label(&actor_kind)}</span>
                                <span class="muted">{entry.actor}</span>
                                <time class="muted" datetime=entry.created_at.clone()>{time::local(&entry.created_at)}</time>
                            </div>
                            <p>{entry.message}</p>
                        </li>
                    }
                }).collect_view()}
            </ol>
        </section>
    }
}
