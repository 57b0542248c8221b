//! My account: the signed-in user's password, API tokens and sessions. After an admin's reset
//! this is the only page that works until a new password is chosen.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::Session;
use crate::api::{
    self, ApiTokens as ApiTokensQuery, ChangePassword as ChangePasswordMutation, CreateApiToken,
    RevokeApiToken, SignOutEverywhere as SignOutEverywhereMutation, api_tokens, change_password,
    create_api_token, revoke_api_token, sign_out_everywhere,
};
use crate::time;
use crate::ui::{CopyButton, ErrorMessage, Loading, Notice};

/// The server's lower bound for a password, repeated here to say so before asking.
const MIN_PASSWORD_CHARS: usize = 8;

#[component]
pub fn Account() -> impl IntoView {
    let session = expect_context::<Session>();
    let who = move || {
        session.user.with(|u| {
            u.as_ref()
                .map(|u| {
                    if u.name.is_empty() {
                        u.email.clone()
                    } else {
                        format!("{} ({})", u.name, u.email)
                    }
                })
                .unwrap_or_default()
        })
    };
    view! {
        <div class="page-head"><h1>"My account"</h1></div>
        <p class="muted">"Signed in as " {who} "."</p>
        {move || session.must_change_password().then(|| view! {
            <p class="message error must-change" role="alert">
                "Your password was reset by an administrator. Choose a new password to continue: "
                "until then nothing else works."
            </p>
        })}
        <ChangePassword />
        {move || (!session.must_change_password()).then(|| view! {
            <ApiTokens />
            <SignOutEverywhere />
        })}
    }
}

#[component]
fn ChangePassword() -> impl IntoView {
    let session = expect_context::<Session>();
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        error.set(None);
        notice.set(None);
        let new_password = new.get_untracked();
        if new_password.chars().count() < MIN_PASSWORD_CHARS {
            error.set(Some(format!(
                "The new password needs at least {MIN_PASSWORD_CHARS} characters."
            )));
            return;
        }
        if new_password != confirm.get_untracked() {
            error.set(Some(
                "The new password and its confirmation differ. Type the same password twice."
                    .into(),
            ));
            return;
        }
        let variables = change_password::Variables {
            current_password: current.get_untracked(),
            new_password,
        };
        busy.set(true);
        spawn_local(async move {
            match api::run::<ChangePasswordMutation>(variables).await {
                Ok(_) => {
                    current.set(String::new());
                    new.set(String::new());
                    confirm.set(String::new());
                    notice.set(Some(
                        "Your password has been changed. Your other sessions have been signed out."
                            .into(),
                    ));
                    session.set_must_change_password(false);
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <section class="card" aria-labelledby="password-title">
            <h2 id="password-title">"Change your password"</h2>
            <form class="stack" on:submit=submit>
                <Notice notice=notice />
                <ErrorMessage error=error />
                <label for="current-password">"Current password"</label>
                <input id="current-password" type="password" required autocomplete="current-password"
                    prop:value=current on:input=move |ev| current.set(event_target_value(&ev)) />
                <label for="new-password">{format!("New password (at least {MIN_PASSWORD_CHARS} characters)")}</label>
                <input id="new-password" type="password" required autocomplete="new-password"
                    prop:value=new on:input=move |ev| new.set(event_target_value(&ev)) />
                <label for="confirm-password">"New password again"</label>
                <input id="confirm-password" type="password" required autocomplete="new-password"
                    prop:value=confirm on:input=move |ev| confirm.set(event_target_value(&ev)) />
                <div class="button-row">
                    <button type="submit" class="button primary" disabled=busy>"Change password"</button>
                </div>
            </form>
        </section>
    }
}

/// "expires …" / "does not expire" for a token row.
pub(crate) fn expiry(expires_at: Option<&str>) -> String {
    match expires_at {
        Some(at) => format!("expires {}", time::local(at)),
        None => "does not expire".into(),
    }
}

#[component]
fn ApiTokens() -> impl IntoView {
    let name = RwSignal::new(String::new());
    let days = RwSignal::new(String::new());
    let created = RwSignal::new(None::<(String, String, Option<String>)>);
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
        error.set(None);
        let days_text = days.get_untracked().trim().to_string();
        let expires_in_days = if days_text.is_empty() {
            None
        } else {
            match days_text.parse::<i64>() {
                Ok(d) if (1..=3650).contains(&d) => Some(d),
                _ => {
                    error.set(Some(
                        "Expiry: a whole number of days from 1 to 3650, or empty for no expiry."
                            .into(),
                    ));
                    return;
                }
            }
        };
        let variables = create_api_token::Variables {
            name: name.get_untracked().trim().to_string(),
            expires_in_days,
        };
        busy.set(true);
        spawn_local(async move {
            match api::run::<CreateApiToken>(variables).await {
                Ok(answer) => {
                    name.set(String::new());
                    days.set(String::new());
                    let t = answer.create_api_token;
                    created.set(Some((t.name, t.token, t.expires_at)));
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
            {move || created.get().map(|(n, token, expires_at)| {
                let copy = token.clone();
                view! {
                    <div class="message success" role="status">
                        <p>{format!("Token “{n}” created ({}). Copy it now: it is not shown again.", expiry(expires_at.as_deref()))}</p>
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
                            let used = match &t.last_used_at {
                                Some(at) => view! { <span class="muted" title=time::local(at)>{format!("last used {}", time::age(at))}</span> }.into_any(),
                                None => view! { <span class="muted">"never used"</span> }.into_any(),
                            };
                            view! {
                                <li class="list-row">
                                    <span class="row-title">{t.name}</span>
                                    <span class="muted" title=time::local(&t.created_at)>{format!("created {}", time::age(&t.created_at))}</span>
                                    {used}
                                    <span class="muted">{expiry(t.expires_at.as_deref())}</span>
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
                <div class="field">
                    <label for="token-days">"Expires in days (empty: never)"</label>
                    <input id="token-days" type="number" min="1" max="3650" step="1" inputmode="numeric"
                        prop:value=days on:input=move |ev| days.set(event_target_value(&ev)) />
                </div>
                <button type="submit" class="button" disabled=busy>"Create token"</button>
            </form>
        </section>
    }
}

#[component]
fn SignOutEverywhere() -> impl IntoView {
    let session = expect_context::<Session>();
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let sign_out = move |_| {
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match api::run::<SignOutEverywhereMutation>(sign_out_everywhere::Variables).await {
                // This session ended too: back to the sign-in form.
                Ok(_) => session.user.set(None),
                Err(e) => {
                    error.set(Some(e.message));
                    busy.set(false);
                }
            }
        });
    };
    view! {
        <section class="card" aria-labelledby="sessions-title">
            <h2 id="sessions-title">"Sessions"</h2>
            <p class="muted">"Ends every browser session of yours, this one included (a lost laptop, a shared computer). API tokens keep working: revoke them above."</p>
            <ErrorMessage error=error />
            <div class="button-row">
                <button type="button" class="button danger" disabled=busy on:click=sign_out>"Sign out everywhere"</button>
            </div>
        </section>
    }
}
