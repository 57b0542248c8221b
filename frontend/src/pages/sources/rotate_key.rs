use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, RotateIntegrationKey, rotate_integration_key};
use crate::time;
use crate::ui::{ErrorMessage, Notice};

/// Rotates the integration key; the old one keeps delivering for the grace period chosen, whose end
/// is shown while it runs.
#[component]
pub(super) fn RotateKey(
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
