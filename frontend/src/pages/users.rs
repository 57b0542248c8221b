//! Users (admins create them) and the signed-in user's API tokens.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::Session;
use crate::api::{
    self, ApiTokens as ApiTokensQuery, CreateApiToken, CreateUser, RevokeApiToken, UpdateUserRole,
    UserList as UserListQuery, api_tokens, create_api_token, create_user, revoke_api_token,
    update_user_role, user_list,
};
use crate::time;
use crate::ui::{CopyButton, ErrorMessage, Loading, Notice};

#[component]
pub fn UserList() -> impl IntoView {
    let session = expect_context::<Session>();
    let data = RwSignal::new(None::<Vec<user_list::UserListUsers>>);
    let error = RwSignal::new(None::<String>);
    let role_error = RwSignal::new(None::<String>);
    let load = move || {
        spawn_local(async move {
            match api::run::<UserListQuery>(user_list::Variables).await {
                Ok(answer) => data.set(Some(answer.users)),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    load();
    view! {
        <div class="page-head"><h1>"Users"</h1></div>
        <ErrorMessage error=error />
        <ErrorMessage error=role_error />
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
                            <span class="muted" title=time::local(&u.created_at)>{format!("added {}", time::age(&u.created_at))}</span>
                        </li>
                    }).collect_view()}
                </ul>
            }.into_any(),
        }}
        {move || session.is_admin().then(|| view! { <NewUser on_created=Callback::new(move |_| load()) /> })}
        <ApiTokens />
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

#[component]
fn ApiTokens() -> impl IntoView {
    let name = RwSignal::new(String::new());
    let created = RwSignal::new(None::<(String, String)>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let tokens = RwSignal::new(None::<Vec<api_tokens::ApiTokensApiTokens>>);
    let load = move || {
        spawn_local(async move {
            match api::run::<ApiTokensQuery>(api_tokens::Variables).await {
                Ok(answer) => tokens.set(Some(answer.api_tokens)),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    load();
    let revoke = move |id: String| {
        error.set(None);
        spawn_local(async move {
            if let Err(e) = api::run::<RevokeApiToken>(revoke_api_token::Variables { id }).await {
                error.set(Some(e.message));
            }
            load();
        });
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let variables = create_api_token::Variables {
            name: name.get_untracked().trim().to_string(),
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match api::run::<CreateApiToken>(variables).await {
                Ok(answer) => {
                    name.set(String::new());
                    created.set(Some((
                        answer.create_api_token.name,
                        answer.create_api_token.token,
                    )));
                    load();
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <section class="card" aria-labelledby="tokens-title">
            <h2 id="tokens-title">"Your API tokens"</h2>
            <p class="muted">"Scripts and integrations use a token as " <code>"Authorization: Bearer …"</code> " on " <code>"/graphql"</code> ". It acts as you."</p>
            {move || created.get().map(|(n, token)| {
                let copy = token.clone();
                view! {
                    <div class="message success" role="status">
                        <p>{format!("Token “{n}” created. Copy it now: it is not shown again.")}</p>
                        <div class="copy-line">
                            <code class="code-line">{token}</code>
                            <CopyButton text=Signal::derive(move || copy.clone()) label="API token" />
                        </div>
                    </div>
                }
            })}
            {move || match tokens.get() {
                None => view! { <Loading what="tokens" /> }.into_any(),
                Some(list) if list.is_empty() => view! { <p class="muted">"You have no API tokens."</p> }.into_any(),
                Some(list) => view! {
                    <ul class="list token-list">
                        {list.into_iter().map(|t| {
                            let id = t.id.clone();
                            let label = format!("Revoke {}", t.name);
                            view! {
                                <li class="list-row">
                                    <span class="row-title">{t.name}</span>
                                    <span class="muted" title=time::local(&t.created_at)>{format!("created {}", time::age(&t.created_at))}</span>
                                    <button type="button" class="button small danger" aria-label=label
                                        on:click=move |_| revoke(id.clone())>"Revoke"</button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
            <ErrorMessage error=error />
            <form class="inline-form" on:submit=submit>
                <div class="field">
                    <label for="token-name">"Token name"</label>
                    <input id="token-name" type="text" required placeholder="monitoring script"
                        prop:value=name on:input=move |ev| name.set(event_target_value(&ev)) />
                </div>
                <button type="submit" class="button" disabled=busy>"Create token"</button>
            </form>
        </section>
    }
}
