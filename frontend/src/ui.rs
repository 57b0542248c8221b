//! Small pieces every screen uses: badges, messages, copy buttons, polling.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen_futures::JsFuture;

/// How often lists and the alert page ask the server for changes. Short polling works unchanged
/// with any number of server processes behind a load balancer.
pub const POLL_EVERY: Duration = Duration::from_secs(3);

/// Calls `f` every `POLL_EVERY` while the calling component is mounted.
pub fn poll(f: impl Fn() + 'static) {
    if let Ok(handle) = set_interval_with_handle(f, POLL_EVERY) {
        on_cleanup(move || handle.clear());
    }
}

fn title_case(name: &str) -> String {
    let lower = name.to_lowercase().replace('_', " ");
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[component]
pub fn StatusBadge(status: String) -> impl IntoView {
    let class = format!("badge status-{}", status.to_lowercase());
    view! { <span class=class>{title_case(&status)}</span> }
}

#[component]
pub fn PriorityBadge(priority: String) -> impl IntoView {
    let class = format!("badge priority-{}", priority.to_lowercase());
    let label = format!("{} priority", title_case(&priority));
    view! { <span class=class>{label}</span> }
}

/// An error from the server, in words; announced to screen readers.
#[component]
pub fn ErrorMessage(#[prop(into)] error: Signal<Option<String>>) -> impl IntoView {
    move || {
        error.get().map(|message| {
            view! {
                <p class="message error" role="alert">
                    {message}
                </p>
            }
        })
    }
}

/// What an action achieved, announced politely to screen readers.
#[component]
pub fn Notice(#[prop(into)] notice: Signal<Option<String>>) -> impl IntoView {
    view! {
        <div role="status" aria-live="polite">
            {move || notice.get().map(|n| view! { <p class="message success">{n}</p> })}
        </div>
    }
}

/// A labelled multi-line text input bound to `value`.
#[component]
pub fn TextArea(
    id: &'static str,
    #[prop(into)] label: String,
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <label for=id>{label}</label>
        <textarea id=id rows="3" prop:value=value on:input=move |ev| value.set(event_target_value(&ev))></textarea>
    }
}

#[component]
pub fn Loading(#[prop(into)] what: String) -> impl IntoView {
    view! {
        <p class="loading" role="status">
            <span class="spinner" aria-hidden="true"></span>
            {format!("Loading {what}…")}
        </p>
    }
}

#[component]
pub fn Empty(#[prop(into)] title: String, children: Children) -> impl IntoView {
    view! {
        <div class="empty">
            <h3>{title}</h3>
            {children()}
        </div>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <Empty title="Page not found">
            <p>"This address shows nothing. " <a href="/alerts">"Go to the alert list"</a> "."</p>
        </Empty>
    }
}

/// Copies `text` to the clipboard and says whether it worked.
#[component]
pub fn CopyButton(
    #[prop(into)] text: Signal<String>,
    #[prop(into)] label: String,
) -> impl IntoView {
    let state = RwSignal::new(None::<bool>);
    let copy = move |_| {
        let value = text.get_untracked();
        spawn_local(async move {
            let ok = match web_sys::window() {
                Some(window) => {
                    let promise = window.navigator().clipboard().write_text(&value);
                    JsFuture::from(promise).await.is_ok()
                }
                None => false,
            };
            state.set(Some(ok));
        });
    };
    let label_now = label.clone();
    view! {
        <button type="button" class="button small" on:click=copy aria-label=label>
            "Copy"
        </button>
        <span class="copy-state" role="status">
            {move || match state.get() {
                Some(true) => format!("{label_now}: copied"),
                Some(false) => "Copy failed: select the text and copy it by hand".to_string(),
                None => String::new(),
            }}
        </span>
    }
}
