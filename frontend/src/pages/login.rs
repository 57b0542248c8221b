//! Sign in. The password goes to `login` once and is never kept; the server answers with the
//! session cookie, which the browser keeps and sends with every later request.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, login};
use crate::ui::ErrorMessage;
use crate::{CurrentUser, Session};

#[component]
pub fn Login(startup_error: RwSignal<Option<String>>) -> impl IntoView {
    let session = expect_context::<Session>();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    Effect::new(move || {
        if let Some(e) = startup_error.get() {
            error.set(Some(e));
        }
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let variables = login::Variables {
            email: email.get_untracked().trim().to_string(),
            password: password.get_untracked(),
        };
        spawn_local(async move {
            match api::run::<api::Login>(variables).await {
                Ok(data) => {
                    let u = data.login.user;
                    password.set(String::new());
                    session.user.set(Some(CurrentUser {
                        is_admin: api::enum_name(&u.role) == "ADMIN",
                        must_change_password: u.must_change_password,
                        id: u.id,
                        email: u.email,
                        name: u.name,
                    }));
                }
                Err(e) => {
                    // The server says "disabled" only after the right password was given.
                    let message = if e.code == "UNAUTHENTICATED" && e.message.contains("disabled") {
                        "This account is disabled. Ask an administrator to enable it.".to_string()
                    } else if e.code == "UNAUTHENTICATED" {
                        "Wrong e-mail or password. Check both and try again.".to_string()
                    } else {
                        e.message
                    };
                    error.set(Some(message));
                    busy.set(false);
                }
            }
        });
    };

    view! {
        <main class="signin">
            <form class="card signin-card" on:submit=submit>
                <h1 class="brand-large">"Glidepath"</h1>
                <p class="muted">"Sign in to work your alerts."</p>
                <ErrorMessage error=error />
                <label for="email">"E-mail"</label>
                <input
                    id="email"
                    name="email"
                    type="email"
                    autocomplete="username"
                    required
                    prop:value=email
                    on:input=move |ev| email.set(event_target_value(&ev))
                />
                <label for="password">"Password"</label>
                <input
                    id="password"
                    name="password"
                    type="password"
                    autocomplete="current-password"
                    required
                    prop:value=password
                    on:input=move |ev| password.set(event_target_value(&ev))
                />
                <button class="button primary wide" type="submit" disabled=busy>
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </main>
    }
}
