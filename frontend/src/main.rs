//! The Glidepath web UI, rendered in the browser (Leptos, client-side). It talks to the server
//! only through `/graphql`, like any integrator, with the session cookie that `login` sets.

mod api;
mod pages;
mod time;
mod ui;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::path;

use api::{Logout, Me, logout, me};

/// The signed-in user, as the whole app sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct CurrentUser {
    pub id: String,
    pub email: String,
    pub name: String,
    pub is_admin: bool,
    /// An admin reset the password: the user must choose a new one before anything else.
    pub must_change_password: bool,
}

/// Who is signed in; `None` shows the sign-in form whatever the address.
#[derive(Clone, Copy)]
pub struct Session {
    pub user: RwSignal<Option<CurrentUser>>,
}

impl Session {
    pub fn is_admin(&self) -> bool {
        self.user.with(|u| u.as_ref().is_some_and(|u| u.is_admin))
    }

    pub fn must_change_password(&self) -> bool {
        self.user
            .with(|u| u.as_ref().is_some_and(|u| u.must_change_password))
    }

    /// Records whether the signed-in user still has to change their password.
    pub fn set_must_change_password(&self, value: bool) {
        self.user.update(|u| {
            if let Some(u) = u.as_mut() {
                u.must_change_password = value;
            }
        });
    }
}

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    let user = RwSignal::new(None::<CurrentUser>);
    let checked = RwSignal::new(false);
    let startup_error = RwSignal::new(None::<String>);
    let lost = RwSignal::new(false);
    api::on_session_lost(lost);
    Effect::new(move || {
        if lost.get() {
            if user.with_untracked(Option::is_some) {
                user.set(None);
            }
            lost.set(false);
        }
    });
    let change_required = RwSignal::new(false);
    api::on_password_change_required(change_required);
    Effect::new(move || {
        if change_required.get() {
            if user.with_untracked(|u| u.as_ref().is_some_and(|u| !u.must_change_password)) {
                Session { user }.set_must_change_password(true);
            }
            change_required.set(false);
        }
    });
    provide_context(Session { user });

    spawn_local(async move {
        match api::run::<Me>(me::Variables).await {
            Ok(data) => user.set(Some(CurrentUser {
                id: data.me.id,
                email: data.me.email,
                name: data.me.name,
                is_admin: api::enum_name(&data.me.role) == "ADMIN",
                must_change_password: data.me.must_change_password,
            })),
            Err(e) if e.code == "UNAUTHENTICATED" => {}
            Err(e) => startup_error.set(Some(e.message)),
        }
        checked.set(true);
    });

    // Only signing in or out swaps the screen, not every change of the user record.
    let signed_in = Memo::new(move |_| user.with(Option::is_some));
    view! {
        <Router>
            {move || {
                if !checked.get() {
                    view! { <p class="boot" role="status">"Loading Glidepath…"</p> }.into_any()
                } else if !signed_in.get() {
                    view! { <pages::login::Login startup_error=startup_error /> }.into_any()
                } else {
                    view! { <Shell /> }.into_any()
                }
            }}
        </Router>
    }
}

#[component]
fn Shell() -> impl IntoView {
    let session = expect_context::<Session>();
    let sign_out = move |_| {
        spawn_local(async move {
            // Whatever the answer, the cookie is useless afterwards; show the sign-in form.
            let _ = api::run::<Logout>(logout::Variables).await;
            session.user.set(None);
        });
    };
    // While an admin's reset is pending the server refuses everything but a password change:
    // whatever page was asked for, the My account page is where the user can act.
    let navigate = use_navigate();
    let pathname = use_location().pathname;
    Effect::new(move || {
        if session.must_change_password() && pathname.get() != "/account" {
            navigate("/account", Default::default());
        }
    });
    let who = move || {
        session
            .user
            .with(|u| u.as_ref().map(|u| u.email.clone()).unwrap_or_default())
    };
    view! {
        <a class="skip" href="#main">"Skip to content"</a>
        <header class="topbar">
            <a class="brand" href="/alerts">"Glidepath"</a>
            <nav aria-label="Main">
                <A href="/alerts">"Alerts"</A>
                <A href="/sources">"Alert sources"</A>
                <A href="/policies">"Escalation policies"</A>
                <A href="/schedules">"Schedules"</A>
                <A href="/users">"Users"</A>
                <A href="/account">"My account"</A>
            </nav>
            <div class="account">
                <span class="muted who">{who}</span>
                <button class="button ghost" type="button" on:click=sign_out>
                    "Sign out"
                </button>
            </div>
        </header>
        <main id="main" class="page">
            <Routes fallback=|| view! { <ui::NotFound /> }>
                <Route path=path!("/") view=pages::alerts::AlertList />
                <Route path=path!("/alerts") view=pages::alerts::AlertList />
                <Route path=path!("/alerts/:id") view=pages::alert_detail::AlertDetail />
                <Route path=path!("/sources") view=pages::sources::SourceList />
                <Route path=path!("/sources/:id") view=pages::sources::SourceDetail />
                <Route path=path!("/policies") view=pages::policies::PolicyList />
                <Route path=path!("/schedules") view=pages::schedules::ScheduleList />
                <Route path=path!("/users") view=pages::users::UserList />
                <Route path=path!("/account") view=pages::account::Account />
            </Routes>
        </main>
    }
}
