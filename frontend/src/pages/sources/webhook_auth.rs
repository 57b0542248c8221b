use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, SetWebhookAuth, set_webhook_auth, source_detail};
use crate::ui::{ErrorMessage, Notice};

/// Credentials ServiceNow must send besides the integration key; the business rule script
/// carries them, so it is reloaded after a change.
#[component]
pub(super) fn WebhookAuthForm(
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
