//! Users: admins add them, change roles, disable, enable, reset passwords and delete them.
//! Admins also see every user's API tokens here and may revoke any of them. The signed-in
//! user's own password and API tokens are on the My account page.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::Session;
use crate::api::{
    self, AllApiTokens, CreateUser, DeleteUser, DisableUser, EnableUser, ResetUserPassword,
    RevokeApiToken, UpdateUserRole, UserList as UserListQuery, all_api_tokens, create_user,
    delete_user, disable_user, enable_user, reset_user_password, revoke_api_token,
    update_user_role, user_list,
};
use crate::pages::account::expiry;
use crate::time;
use crate::ui::{CopyButton, ErrorMessage, Loading, Notice};

/// What an admin did to a user, for `act`.
#[derive(Clone, Copy)]
enum Action {
    Disable,
    Enable,
    Delete,
}

#[component]
pub fn UserList() -> impl IntoView {
    let session = expect_context::<Session>();
    let data = RwSignal::new(None::<Vec<user_list::UserListUsers>>);
    let error = RwSignal::new(None::<String>);
    let role_error = RwSignal::new(None::<String>);
    let action_notice = RwSignal::new(None::<String>);
    // The one-time password of the last reset: (e-mail, password).
    let reset = RwSignal::new(None::<(String, String)>);
    // The user whose deletion waits for a second click: (id, e-mail).
    let confirm_delete = RwSignal::new(None::<(String, String)>);
    let load = move || {
        spawn_local(async move {
            match api::run::<UserListQuery>(user_list::Variables).await {
                Ok(answer) => data.set(Some(answer.users)),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    load();
    let act = move |action: Action, id: String, email: String| {
        role_error.set(None);
        action_notice.set(None);
        reset.set(None);
        confirm_delete.set(None);
        spawn_local(async move {
            let result = match action {
                Action::Disable => api::run::<DisableUser>(disable_user::Variables { id })
                    .await
                    .map(|_| format!("{email} is disabled: signed out, and cannot sign in.")),
                Action::Enable => api::run::<EnableUser>(enable_user::Variables { id })
                    .await
                    .map(|_| format!("{email} is enabled again.")),
                Action::Delete => api::run::<DeleteUser>(delete_user::Variables { id })
                    .await
                    .map(|_| format!("{email} is deleted.")),
            };
            match result {
                Ok(message) => action_notice.set(Some(message)),
                Err(e) => role_error.set(Some(e.message)),
            }
            load();
        });
    };
    let reset_password = move |id: String| {
        role_error.set(None);
        action_notice.set(None);
        reset.set(None);
        confirm_delete.set(None);
        spawn_local(async move {
            match api::run::<ResetUserPassword>(reset_user_password::Variables { user_id: id })
                .await
            {
                Ok(answer) => {
                    let r = answer.reset_user_password;
                    reset.set(Some((r.user.email, r.temporary_password)));
                }
                Err(e) => role_error.set(Some(e.message)),
            }
            load();
        });
    };
    view! {
        <div class="page-head"><h1>"Users"</h1></div>
        <ErrorMessage error=error />
        <ErrorMessage error=role_error />
        <Notice notice=action_notice />
        {move || reset.get().map(|(email, password)| {
            let copy = password.clone();
            view! {
                <div class="message success temporary-password" role="status">
                    <p>{format!("Temporary password for {email}. Hand it over now: it is not shown again. They must choose a new password when they sign in.")}</p>
                    <div class="copy-line">
                        <code class="code-line">{password}</code>
                        <CopyButton text=Signal::derive(move || copy.clone()) label="Temporary password" />
                    </div>
                </div>
            }
        })}
        {move || confirm_delete.get().map(|(id, email)| {
            let delete_email = email.clone();
            view! {
                <div class="message error confirm-delete" role="alert">
                    <p>{format!("Delete {email}? They can no longer sign in, and this cannot be undone. Alert history keeps their e-mail.")}</p>
                    <div class="button-row">
                        <button type="button" class="button danger"
                            on:click=move |_| act(Action::Delete, id.clone(), delete_email.clone())>"Delete user"</button>
                        <button type="button" class="button" on:click=move |_| confirm_delete.set(None)>"Cancel"</button>
                    </div>
                </div>
            }
        })}
        {move || match data.get() {
            None => (error.get().is_none()).then(|| view! { <Loading what="users" /> }).into_any(),
            Some(users) => view! {
                <ul class="list">
                    {users.into_iter().map(|u| view! {
                        <li class="list-row">
                            <span class="row-title">{if u.name.is_empty() { u.email.clone() } else { u.name.clone() }}</span>
                            <span class="muted">{u.email.clone()}</span>
                            {
                                let role = api::enum_name(&u.role);
                                if session.is_admin() {
                                    let id = u.id.clone();
                                    let select_id = format!("role-{}", u.id);
                                    let label = format!("Role of {}", u.email);
                                    view! {
                                        <select id=select_id class="role-select" aria-label=label
                                            on:change=move |ev| {
                                                let role = if event_target_value(&ev) == "ADMIN" {
                                                    update_user_role::Role::ADMIN
                                                } else {
                                                    update_user_role::Role::RESPONDER
                                                };
                                                let variables = update_user_role::Variables { id: id.clone(), role };
                                                role_error.set(None);
                                                spawn_local(async move {
                                                    if let Err(e) = api::run::<UpdateUserRole>(variables).await {
                                                        role_error.set(Some(e.message));
                                                    }
                                                    load();
                                                });
                                            }>
                                            <option value="ADMIN" selected=role == "ADMIN">"Admin"</option>
                                            <option value="RESPONDER" selected=role != "ADMIN">"Responder"</option>
                                        </select>
                                    }.into_any()
                                } else {
                                    view! { <span class="tag">{if role == "ADMIN" { "Admin" } else { "Responder" }}</span> }.into_any()
                                }
                            }
                            {u.disabled.then(|| view! { <span class="badge user-disabled">"Disabled"</span> })}
                            {u.must_change_password.then(|| view! { <span class="tag">"Password reset pending"</span> })}
                            <span class="muted" title=time::local(&u.created_at)>{format!("added {}", time::age(&u.created_at))}</span>
                            {session.is_admin().then(|| {
                                let (id, email) = (u.id.clone(), u.email.clone());
                                let (reset_id, delete_id, delete_email) = (u.id.clone(), u.id.clone(), u.email.clone());
                                let toggle = if u.disabled {
                                    let label = format!("Enable {}", u.email);
                                    view! { <button type="button" class="button small" aria-label=label
                                        on:click=move |_| act(Action::Enable, id.clone(), email.clone())>"Enable"</button> }.into_any()
                                } else {
                                    let label = format!("Disable {}", u.email);
                                    view! { <button type="button" class="button small" aria-label=label
                                        on:click=move |_| act(Action::Disable, id.clone(), email.clone())>"Disable"</button> }.into_any()
                                };
                                let reset_label = format!("Reset password of {}", u.email);
                                let delete_label = format!("Delete {}", u.email);
                                view! {
                                    <span class="row-actions">
                                        {toggle}
                                        <button type="button" class="button small" aria-label=reset_label
                                            on:click=move |_| reset_password(reset_id.clone())>"Reset password"</button>
                                        <button type="button" class="button small danger" aria-label=delete_label
                                            on:click=move |_| {
                                                action_notice.set(None);
                                                confirm_delete.set(Some((delete_id.clone(), delete_email.clone())));
                                            }>"Delete"</button>
                                    </span>
                                }
                            })}
                        </li>
                    }).collect_view()}
                </ul>
            }.into_any(),
        }}
        {move || session.is_admin().then(|| view! { <NewUser on_created=Callback::new(move |_| load()) /> })}
        {move || session.is_admin().then(|| view! { <AllTokens users=data /> })}
        <p class="muted">"Your own password and API tokens: " <a href="/account">"My account"</a> "."</p>
    }
}

/// Every user's API tokens, for admins: owner, name, created, last used, expiry, and Revoke.
/// Reloads whenever the user list does (a deleted user's tokens go with them).
#[component]
fn AllTokens(users: RwSignal<Option<Vec<user_list::UserListUsers>>>) -> impl IntoView {
    let tokens = RwSignal::new(None::<Vec<all_api_tokens::AllApiTokensApiTokens>>);
    let error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    let load = move || {
        spawn_local(async move {
            match api::run::<AllApiTokens>(all_api_tokens::Variables).await {
                Ok(answer) => tokens.set(Some(answer.api_tokens)),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    Effect::new(move || {
        users.track();
        load();
    });
    let owner = move |user_id: &str| {
        users
            .with(|list| {
                list.as_ref()
                    .and_then(|l| l.iter().find(|u| u.id == user_id))
                    .map(|u| u.email.clone())
            })
            .unwrap_or_else(|| format!("user {user_id}"))
    };
    let revoke = move |id: String, what: String| {
        error.set(None);
        notice.set(None);
        spawn_local(async move {
            match api::run::<RevokeApiToken>(revoke_api_token::Variables { id }).await {
                Ok(_) => notice.set(Some(format!("{what} is revoked."))),
                Err(e) => error.set(Some(e.message)),
            }
            load();
        });
    };
    view! {
        <section class="card" aria-labelledby="all-tokens-title">
            <h2 id="all-tokens-title">"API tokens"</h2>
            <p class="muted">"Every user's tokens. Revoking one stops it at once; its owner can create a new one on My account."</p>
            <Notice notice=notice />
            <ErrorMessage error=error />
            {move || match tokens.get() {
                None => (error.get().is_none()).then(|| view! { <Loading what="tokens" /> }).into_any(),
                Some(list) if list.is_empty() => view! { <p class="muted">"No user has an API token."</p> }.into_any(),
                Some(list) => view! {
                    <ul class="list all-token-list">
                        {list.into_iter().map(|t| {
                            let email = owner(&t.user_id);
                            let id = t.id.clone();
                            let label = format!("Revoke {} of {email}", t.name);
                            let what = format!("Token “{}” of {email}", t.name);
                            let used = match &t.last_used_at {
                                Some(at) => view! { <span class="muted" title=time::local(at)>{format!("last used {}", time::age(at))}</span> }.into_any(),
                                None => view! { <span class="muted">"never used"</span> }.into_any(),
                            };
                            view! {
                                <li class="list-row">
                                    <span class="row-title">{t.name}</span>
                                    <span class="muted token-owner">{email}</span>
                                    <span class="muted" title=time::local(&t.created_at)>{format!("created {}", time::age(&t.created_at))}</span>
                                    {used}
                                    <span class="muted">{expiry(t.expires_at.as_deref())}</span>
                                    <button type="button" class="button small danger" aria-label=label
                                        on:click=move |_| revoke(id.clone(), what.clone())>"Revoke"</button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
fn NewUser(on_created: Callback<()>) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let admin = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let variables = create_user::Variables {
            input: create_user::CreateUserInput {
                email: email.get_untracked().trim().to_string(),
                name: name.get_untracked().trim().to_string(),
                password: password.get_untracked(),
                role: if admin.get_untracked() {
                    create_user::Role::ADMIN
                } else {
                    create_user::Role::RESPONDER
                },
            },
        };
        busy.set(true);
        error.set(None);
        notice.set(None);
        spawn_local(async move {
            match api::run::<CreateUser>(variables).await {
                Ok(_) => {
                    notice.set(Some(format!("{} can now sign in.", email.get_untracked())));
                    email.set(String::new());
                    name.set(String::new());
                    password.set(String::new());
                    admin.set(false);
                    on_created.run(());
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <section class="card" aria-labelledby="new-user-title">
            <h2 id="new-user-title">"Add a user"</h2>
            <form class="stack" on:submit=submit>
                <Notice notice=notice />
                <ErrorMessage error=error />
                <label for="user-name">"Name"</label>
                <input id="user-name" type="text" required prop:value=name on:input=move |ev| name.set(event_target_value(&ev)) />
                <label for="user-email">"E-mail"</label>
                <input id="user-email" type="email" required prop:value=email on:input=move |ev| email.set(event_target_value(&ev)) />
                <label for="user-password">"Initial password (at least 8 characters)"</label>
                <input id="user-password" type="password" minlength="8" required autocomplete="new-password"
                    prop:value=password on:input=move |ev| password.set(event_target_value(&ev)) />
                <label class="check" for="user-admin">
                    <input id="user-admin" type="checkbox" prop:checked=admin on:change=move |ev| admin.set(event_target_checked(&ev)) />
                    " Admin (can change configuration and users)"
                </label>
                <div class="button-row">
                    <button type="submit" class="button primary" disabled=busy>"Add user"</button>
                </div>
            </form>
        </section>
    }
}
