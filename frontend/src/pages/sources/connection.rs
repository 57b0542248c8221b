//! The optional ServiceNow connection of an alert source: instance URL, credentials, two-way
//! sync, and a check that they work.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{
    self, ConfigureServiceNow, TestServiceNowConnection, configure_service_now, source_detail,
    test_service_now_connection,
};
use crate::ui::{ErrorMessage, Notice};

#[component]
pub(super) fn Connection(
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
