//! Whether ServiceNow reaches the source: "Waiting for the first event from ServiceNow…" until
//! the webhook receives one, then "Receiving events" with the last event, the instance it came
//! from, the last 24 hours by outcome, and the last rejection with its reason. Polls, so the
//! panel flips by itself while the admin sets the rule up in ServiceNow.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, SourceEvents, source_events};
use crate::time;
use crate::ui::{ErrorMessage, poll};

#[component]
pub fn EventStatus(source_id: String) -> impl IntoView {
    let data = RwSignal::new(None::<source_events::SourceEventsAlertSource>);
    let error = RwSignal::new(None::<String>);
    let load = move |id: String| {
        spawn_local(async move {
            match api::run::<SourceEvents>(source_events::Variables { id }).await {
                Ok(answer) => {
                    error.set(None);
                    if answer.alert_source != data.get_untracked() {
                        data.set(answer.alert_source);
                    }
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    load(source_id.clone());
    poll(move || load(source_id.clone()));

    view! {
        <section class="card" aria-labelledby="events-title">
            <h2 id="events-title">"Events from ServiceNow"</h2>
            <ErrorMessage error=error />
            {move || data.get().map(|s| match s.last_event_at.clone() {
                None => view! {
                    <p id="event-status" class="loading" role="status">
                        <span class="spinner" aria-hidden="true"></span>
                        "Waiting for the first event from ServiceNow…"
                    </p>
                }.into_any(),
                Some(at) => {
                    let c = s.event_counts.clone();
                    let outcome = s.last_event_outcome.as_ref().map(api::enum_name).unwrap_or_default();
                    view! {
                        <p id="event-status" role="status"><strong>"Receiving events"</strong></p>
                        <dl class="facts">
                            <div><dt>"Last event"</dt><dd title=time::local(&at)>{format!("{} ({})", time::age(&at), outcome.to_lowercase())}</dd></div>
                            <div><dt>"From"</dt><dd id="event-instance">{s.last_event_server_url.clone().unwrap_or_else(|| "—".into())}</dd></div>
                        </dl>
                        <h3>"Last 24 hours"</h3>
                        <table class="event-counts">
                            <thead><tr>
                                <th scope="col">"Created"</th><th scope="col">"Accepted"</th><th scope="col">"Resolved"</th>
                                <th scope="col">"Updated"</th><th scope="col">"Unchanged"</th><th scope="col">"Rejected"</th>
                            </tr></thead>
                            <tbody><tr id="event-counts">
                                <td>{c.created}</td><td>{c.accepted}</td><td>{c.resolved}</td>
                                <td>{c.updated}</td><td>{c.unchanged}</td><td>{c.rejected}</td>
                            </tr></tbody>
                        </table>
                        {s.last_rejection.clone().map(|r| view! {
                            <div class="message error" id="last-rejection">
                                <p><strong>{format!("Last rejected event ({}):", time::age(&r.at))}</strong></p>
                                <p>{r.reason}</p>
                            </div>
                        })}
                    }.into_any()
                }
            })}
        </section>
    }
}
