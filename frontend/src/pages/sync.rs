//! The ServiceNow side of one alert: each change queued for the ticket and whether it got there.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, RetrySync, alert_detail, retry_sync};
use crate::time;

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "ACCEPT" => "Accept",
        "COMMENT" => "Comment",
        "PRIORITY" => "Priority",
        "REROUTE" => "Re-route",
        "ASSIGN" => "Assignment",
        "RESOLVE" => "Resolve",
        _ => "Update",
    }
}

fn state_badge(state: &str) -> AnyView {
    let (class, text) = match state {
        "SYNCED" => ("badge status-resolved", "Synced"),
        "FAILED" => ("badge status-pending", "Failed"),
        _ => ("badge status-accepted", "Pending"),
    };
    view! { <span class=class>{text}</span> }.into_any()
}

/// Shown only for alerts whose source writes back to ServiceNow (`syncStatus` is not null).
#[component]
pub fn SyncPanel(
    alert_id: String,
    status: alert_detail::AlertDetailAlertSyncStatus,
    updates: Vec<alert_detail::AlertDetailAlertSyncUpdates>,
    on_retried: Callback<()>,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let state = api::enum_name(&status.state);
    let failed = state == "FAILED";
    let retry = move |_| {
        let variables = retry_sync::Variables {
            alert_id: alert_id.clone(),
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match api::run::<RetrySync>(variables).await {
                Ok(_) => on_retried.run(()),
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <section class="card" aria-labelledby="sync-title">
            <h2 id="sync-title">"ServiceNow sync"</h2>
            <p class="sync-summary">
                {state_badge(&state)}
                " "
                <span class="muted">{format!("updated {}", time::age(&status.updated_at))}</span>
            </p>
            {status.last_error.clone().filter(|_| failed).map(|e| view! {
                <p class="message error">{format!("The last update failed after {} attempts: {e}", status.attempts)}</p>
            })}
            {move || error.get().map(|e| view! { <p class="message error" role="alert">{e}</p> })}
            {failed.then(move || view! {
                <div class="button-row">
                    <button type="button" class="button primary" disabled=busy on:click=retry>"Retry sync"</button>
                </div>
            })}
            <ul class="list sync-updates">
                {updates.into_iter().map(|u| {
                    let kind = api::enum_name(&u.kind);
                    let state = api::enum_name(&u.state);
                    let when = match u.delivered_at.as_deref() {
                        Some(t) => format!("delivered {}", time::local(t)),
                        None => format!("queued {}", time::local(&u.created_at)),
                    };
                    view! {
                        <li class="list-row">
                            <span class="row-title">{kind_label(&kind)}</span>
                            {state_badge(&state)}
                            <span class="muted">{when}</span>
                            {(u.attempts > 1).then(|| view! { <span class="muted">{format!("{} attempts", u.attempts)}</span> })}
                            {u.last_error.clone().filter(|_| state != "SYNCED").map(|e| view! { <span class="sync-error">{e}</span> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}
