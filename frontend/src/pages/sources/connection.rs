//! The optional ServiceNow connection of an alert source: instance URL, how Glidepath signs in
//! (basic auth or OAuth 2.0), two-way sync, a check that it works, and a warning while the
//! instance refuses the connection's OAuth credentials.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{
    self, ConfigureServiceNow, ServiceNowAuth, TestServiceNowConnection, configure_service_now,
    service_now_auth, source_detail, test_service_now_connection,
};
use crate::ui::{ErrorMessage, Notice, poll};

const BASIC: &str = "BASIC";
const OAUTH_PASSWORD: &str = "OAUTH_PASSWORD";
const OAUTH_CLIENT_CREDENTIALS: &str = "OAUTH_CLIENT_CREDENTIALS";

fn auth_method(name: &str) -> configure_service_now::ServiceNowAuthMethod {
    use configure_service_now::ServiceNowAuthMethod as M;
    match name {
        OAUTH_PASSWORD => M::OAUTH_PASSWORD,
        OAUTH_CLIENT_CREDENTIALS => M::OAUTH_CLIENT_CREDENTIALS,
        _ => M::BASIC,
    }
}

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
    let method = RwSignal::new(BASIC.to_string());
    let client_id = RwSignal::new(String::new());
    let client_secret = RwSignal::new(String::new());
    let client_secret_set = RwSignal::new(false);
    // Why the instance refuses the connection, while it does.
    let attention = RwSignal::new(None::<String>);
    // The form opens when the connection needs attention, and stays open once fixed.
    let expanded = RwSignal::new(false);
    Effect::new(move || {
        if attention.get().is_some() {
            expanded.set(true);
        }
    });
    let error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let source_id = StoredValue::new(source_id);

    // The sign-in settings fill the form once; the attention state follows the server.
    let load_auth = move |fill: bool| {
        let variables = service_now_auth::Variables {
            id: source_id.get_value(),
        };
        spawn_local(async move {
            let Ok(answer) = api::run::<ServiceNowAuth>(variables).await else {
                return;
            };
            let Some(c) = answer.alert_source.and_then(|s| s.service_now) else {
                return;
            };
            if fill {
                method.set(api::enum_name(&c.auth_method));
                client_id.set(c.client_id.clone().unwrap_or_default());
                client_secret_set.set(c.client_secret_set);
            }
            attention.set(
                c.needs_attention
                    .then(|| c.attention_reason.unwrap_or_default()),
            );
        });
    };
    if configured.get_untracked() {
        load_auth(true);
    }
    poll(move || {
        if configured.get_untracked() {
            load_auth(false);
        }
    });

    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let secret = password.get_untracked();
        let chosen = method.get_untracked();
        let oauth = chosen != BASIC;
        let id = client_id.get_untracked().trim().to_string();
        let client_secret_value = client_secret.get_untracked();
        let variables = configure_service_now::Variables {
            alert_source_id: source_id.get_value(),
            input: configure_service_now::ServiceNowConnectionInput {
                instance_url: instance_url.get_untracked().trim().to_string(),
                username: username.get_untracked().trim().to_string(),
                password: (!secret.is_empty() && chosen != OAUTH_CLIENT_CREDENTIALS)
                    .then_some(secret),
                bidirectional: bidirectional.get_untracked(),
                // Omitted: the stored close code stays.
                close_code: None,
                auth_method: Some(auth_method(&chosen)),
                client_id: (oauth && !id.is_empty()).then_some(id),
                client_secret: (oauth && !client_secret_value.is_empty())
                    .then_some(client_secret_value),
            },
        };
        busy.set(true);
        error.set(None);
        notice.set(None);
        spawn_local(async move {
            match api::run::<ConfigureServiceNow>(variables).await {
                Ok(answer) => {
                    password.set(String::new());
                    client_secret.set(String::new());
                    if let Some(c) = answer.configure_service_now.service_now {
                        password_set.set(c.password_set);
                        client_secret_set.set(c.client_secret_set);
                        attention.set(
                            c.needs_attention
                                .then(|| c.attention_reason.unwrap_or_default()),
                        );
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
                        attention.set(None);
                        notice.set(Some(format!("Connection works. {}", r.message)));
                    } else {
                        if r.needs_attention {
                            attention.set(Some(r.message.clone()));
                        }
                        error.set(Some(format!("Connection failed: {}", r.message)));
                    }
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };

    let initial = method.get_untracked();
    view! {
        <details class="card advanced" id="sn-connection" open=expanded>
            <summary><h2 class="inline">"Advanced: ServiceNow connection"</h2></summary>
            <p class="muted">"Optional. With a connection, Glidepath reads from your instance's Table API, and with two-way sync writes alert changes back to the ticket."</p>
            <form class="stack" on:submit=save>
                <Notice notice=notice />
                <ErrorMessage error=error />
                <label for="sn-url">"Instance URL"</label>
                <input id="sn-url" type="url" required placeholder="https://acme.service-now.com"
                    prop:value=instance_url on:input=move |ev| instance_url.set(event_target_value(&ev)) />
                <label for="sn-auth-method">"Sign in with"</label>
                <select id="sn-auth-method" prop:value=method on:change=move |ev| method.set(event_target_value(&ev))>
                    <option value=BASIC selected=initial == BASIC>"Basic auth (user name and password)"</option>
                    <option value=OAUTH_PASSWORD selected=initial == OAUTH_PASSWORD>"OAuth 2.0: password grant (client, user name and password)"</option>
                    <option value=OAUTH_CLIENT_CREDENTIALS selected=initial == OAUTH_CLIENT_CREDENTIALS>"OAuth 2.0: client credentials (Washington DC and later)"</option>
                </select>
                {move || (method.get() != BASIC).then(|| view! {
                    <label for="sn-client-id">"OAuth client ID"</label>
                    <input id="sn-client-id" type="text" required autocomplete="off"
                        prop:value=client_id on:input=move |ev| client_id.set(event_target_value(&ev)) />
                    <label for="sn-client-secret">"OAuth client secret"</label>
                    <input id="sn-client-secret" type="password" autocomplete="new-password"
                        placeholder=move || if client_secret_set.get() { "Stored; leave empty to keep it" } else { "" }
                        prop:value=client_secret on:input=move |ev| client_secret.set(event_target_value(&ev)) />
                })}
                <label for="sn-user">{move || if method.get() == OAUTH_CLIENT_CREDENTIALS { "OAuth application user (user name)" } else { "User name" }}</label>
                <input id="sn-user" type="text" required autocomplete="off"
                    prop:value=username on:input=move |ev| username.set(event_target_value(&ev)) />
                {move || (method.get() != OAUTH_CLIENT_CREDENTIALS).then(|| view! {
                    <label for="sn-password">"Password"</label>
                    <input id="sn-password" type="password" autocomplete="new-password"
                        placeholder=move || if password_set.get() { "Stored; leave empty to keep it" } else { "" }
                        prop:value=password on:input=move |ev| password.set(event_target_value(&ev)) />
                })}
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

/// A warning at the top of the source's page while the instance refuses the connection's OAuth
/// credentials; it follows the server (polled) and links to the connection form.
#[component]
pub(super) fn AttentionBanner(source_id: String) -> impl IntoView {
    let attention = RwSignal::new(None::<String>);
    let source_id = StoredValue::new(source_id);
    let load = move || {
        let variables = service_now_auth::Variables {
            id: source_id.get_value(),
        };
        spawn_local(async move {
            if let Ok(answer) = api::run::<ServiceNowAuth>(variables).await {
                let c = answer.alert_source.and_then(|s| s.service_now);
                attention.set(c.and_then(|c| {
                    c.needs_attention
                        .then(|| c.attention_reason.unwrap_or_default())
                }));
            }
        });
    };
    load();
    poll(load);
    move || {
        attention.get().map(|reason| {
            view! {
                <div class="message error" id="sn-attention" role="alert">
                    <strong>"The ServiceNow connection needs attention. "</strong>
                    "The instance refuses its OAuth credentials, so nothing is sent to it and ticket updates wait. Fix them in "
                    <a href="#sn-connection">"the ServiceNow connection"</a>
                    " (or on the ServiceNow side, then test the connection): the waiting updates are sent then, each once."
                    <p>{reason}</p>
                </div>
            }
        })
    }
}
