//! The alert list a responder lives in: newest first, filtered, paged, refreshed every few
//! seconds without a reload.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, AlertList as AlertListQuery, SourceNames, alert_list, source_names};
use crate::time;
use crate::ui::{Empty, ErrorMessage, Loading, PriorityBadge, StatusBadge, poll};

const PAGE_SIZE: i64 = 25;

fn status_filter(value: &str) -> Option<alert_list::AlertStatus> {
    match value {
        "PENDING" => Some(alert_list::AlertStatus::PENDING),
        "ACCEPTED" => Some(alert_list::AlertStatus::ACCEPTED),
        "RESOLVED" => Some(alert_list::AlertStatus::RESOLVED),
        _ => None,
    }
}

fn priority_filter(value: &str) -> Option<alert_list::AlertPriority> {
    match value {
        "HIGH" => Some(alert_list::AlertPriority::HIGH),
        "LOW" => Some(alert_list::AlertPriority::LOW),
        _ => None,
    }
}

#[component]
pub fn AlertList() -> impl IntoView {
    let status = RwSignal::new(String::new());
    let priority = RwSignal::new(String::new());
    let source = RwSignal::new(String::new());
    // The cursor of the page shown, and those of the pages before it (for "Newer").
    let after = RwSignal::new(None::<String>);
    let earlier = RwSignal::new(Vec::<Option<String>>::new());

    let data = RwSignal::new(None::<alert_list::AlertListAlerts>);
    let error = RwSignal::new(None::<String>);
    let sources = RwSignal::new(Vec::<source_names::SourceNamesAlertSources>::new());
    let generation = StoredValue::new(0u64);

    let load = move || {
        let generation_now = generation.get_value() + 1;
        generation.set_value(generation_now);
        let variables = alert_list::Variables {
            status: status_filter(&status.get_untracked()),
            priority: priority_filter(&priority.get_untracked()),
            alert_source_id: Some(source.get_untracked()).filter(|s| !s.is_empty()),
            first: Some(PAGE_SIZE),
            after: after.get_untracked(),
        };
        spawn_local(async move {
            let result = api::run::<AlertListQuery>(variables).await;
            if generation.get_value() != generation_now {
                return; // a newer request (other filters or page) is under way
            }
            match result {
                Ok(answer) => {
                    error.set(None);
                    // Re-render only on change, so polling keeps focus and scroll where they are.
                    if data.with_untracked(|d| d.as_ref() != Some(&answer.alerts)) {
                        data.set(Some(answer.alerts));
                    }
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };

    Effect::new(move || {
        status.track();
        priority.track();
        source.track();
        after.track();
        load();
    });
    // Ages ("4 min ago") move on with every poll even when no alert changed.
    let tick = RwSignal::new(0u64);
    poll(move || {
        tick.update(|t| *t += 1);
        load();
    });
    spawn_local(async move {
        if let Ok(answer) = api::run::<SourceNames>(source_names::Variables).await {
            sources.set(answer.alert_sources);
        }
    });

    let reset_paging = Callback::new(move |()| {
        earlier.set(Vec::new());
        after.set(None);
    });

    view! {
        <div class="page-head">
            <h1>"Alerts"</h1>
            <p class="muted live" aria-live="off">"Live: refreshed every 3 s"</p>
        </div>
        <form class="filters" aria-label="Filter alerts" on:submit=|ev| ev.prevent_default()>
            <FilterSelect id="filter-status" label="Status" value=status on_change=reset_paging
                options=Signal::stored(vec![
                    (String::new(), "All statuses".to_string()),
                    ("PENDING".into(), "Pending".into()),
                    ("ACCEPTED".into(), "Accepted".into()),
                    ("RESOLVED".into(), "Resolved".into()),
                ]) />
            <FilterSelect id="filter-priority" label="Priority" value=priority on_change=reset_paging
                options=Signal::stored(vec![
                    (String::new(), "All priorities".to_string()),
                    ("HIGH".into(), "High".into()),
                    ("LOW".into(), "Low".into()),
                ]) />
            <FilterSelect id="filter-source" label="Alert source" value=source on_change=reset_paging
                options=Signal::derive(move || {
                    std::iter::once((String::new(), "All alert sources".to_string()))
                        .chain(sources.get().into_iter().map(|s| (s.id, s.name)))
                        .collect()
                }) />
        </form>
        <ErrorMessage error=error />
        {move || match data.get() {
            None => view! { <Loading what="alerts" /> }.into_any(),
            Some(page) if page.nodes.is_empty() => {
                let filtered = !status.get().is_empty() || !priority.get().is_empty()
                    || !source.get().is_empty();
                view! {
                    <Empty title=if filtered { "No alerts match these filters" } else { "No alerts yet" }>
                        {if filtered {
                            view! { <p>"Choose “All” in the filters above to see every alert."</p> }.into_any()
                        } else {
                            view! {
                                <p>
                                    "Alerts appear here by themselves when ServiceNow posts an incident to an alert source's webhook. "
                                    <a href="/sources">"Set up an alert source"</a>
                                    " to connect your instance."
                                </p>
                            }
                                .into_any()
                        }}
                    </Empty>
                }
                    .into_any()
            }
            Some(page) => {
                let total = page.total_count;
                let shown = page.nodes.len();
                let has_next = page.page_info.has_next_page;
                let end_cursor = page.page_info.end_cursor.clone();
                view! {
                    <p class="muted count">{format!("{total} alert{}", if total == 1 { "" } else { "s" })}</p>
                    <ul class="alert-list">
                        {page.nodes.into_iter().map(|a| view! { <AlertRow alert=a tick=tick /> }).collect_view()}
                    </ul>
                    <nav class="pager" aria-label="Pages">
                        <button
                            type="button"
                            class="button"
                            disabled=move || earlier.with(Vec::is_empty)
                            on:click=move |_| {
                                let mut stack = earlier.get_untracked();
                                let previous = stack.pop().flatten();
                                earlier.set(stack);
                                after.set(previous);
                            }
                        >
                            "← Newer"
                        </button>
                        <span class="muted">{format!("{shown} shown")}</span>
                        <button
                            type="button"
                            class="button"
                            disabled=!has_next
                            on:click=move |_| {
                                earlier.update(|s| s.push(after.get_untracked()));
                                after.set(end_cursor.clone());
                            }
                        >
                            "Older →"
                        </button>
                    </nav>
                }
                    .into_any()
            }
        }}
    }
}

/// One labelled filter; choosing a value goes back to the first page.
#[component]
fn FilterSelect(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    /// (value, text) pairs; the first is "all".
    options: Signal<Vec<(String, String)>>,
    on_change: Callback<()>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <select
                id=id
                prop:value=value
                on:change=move |ev| {
                    value.set(event_target_value(&ev));
                    on_change.run(());
                }
            >
                <For
                    each=move || options.get()
                    key=|(v, _)| v.clone()
                    children=|(v, text)| view! { <option value=v>{text}</option> }
                />
            </select>
        </div>
    }
}

#[component]
fn AlertRow(alert: alert_list::AlertListAlertsNodes, tick: RwSignal<u64>) -> impl IntoView {
    let created = alert.created_at.clone();
    let age = move || {
        tick.track();
        time::age(&created)
    };
    let href = format!("/alerts/{}", alert.id);
    let ticket = alert
        .ticket
        .number
        .clone()
        .map(|number| match alert.ticket.url.clone() {
            Some(url) => view! {
                <a class="ticket" href=url target="_blank" rel="noopener noreferrer">
                    {number}
                </a>
            }
            .into_any(),
            None => view! { <span class="ticket">{number}</span> }.into_any(),
        });
    let assignee = alert
        .assigned_to
        .map(|u| if u.name.is_empty() { u.email } else { u.name })
        .unwrap_or_else(|| "Unassigned".into());
    view! {
        <li class="alert-row" data-alert-id=alert.id.clone()>
            <div class="badges">
                <StatusBadge status=api::enum_name(&alert.status) />
                <PriorityBadge priority=api::enum_name(&alert.priority) />
            </div>
            <div class="alert-main">
                <a class="summary" href=href>
                    {alert.summary}
                </a>
                <div class="meta">
                    {ticket}
                    <span title="Alert source">{alert.alert_source.name}</span>
                    <span title="Escalation policy">{alert.escalation_policy.name}</span>
                </div>
            </div>
            <div class="alert-side">
                <span class="assignee">{assignee}</span>
                <time datetime=alert.created_at.clone() title=time::local(&alert.created_at)>
                    {age}
                </time>
            </div>
        </li>
    }
}
