//! Escalation policies: who is called, in which order, after how long.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::Session;
use crate::api::{
    self, CreatePolicy, PolicyList as PolicyListQuery, RoutingOptions, UpdatePolicy, create_policy,
    policy_list, routing_options, update_policy,
};
use crate::ui::{Empty, ErrorMessage, Loading};

type Policy = policy_list::PolicyListEscalationPolicies;
type User = policy_list::PolicyListUsers;
type ScheduleRef = policy_list::PolicyListSchedules;

/// One level being edited; signals so rows keep their inputs while others move.
#[derive(Clone, Copy)]
struct LevelDraft {
    key: u64,
    minutes: RwSignal<String>,
    users: RwSignal<Vec<String>>,
    /// On-call schedules the level pages.
    schedules: RwSignal<Vec<String>>,
}

#[derive(Clone, Copy)]
struct Draft {
    /// None: a new policy.
    id: RwSignal<Option<String>>,
    name: RwSignal<String>,
    routing_key: RwSignal<String>,
    repeat: RwSignal<String>,
    levels: RwSignal<Vec<LevelDraft>>,
    next_key: StoredValue<u64>,
    /// The page's owner: level signals are created under it, not under whichever button's view
    /// was current when "Add level" was clicked (that view may be gone a moment later).
    owner: StoredValue<Owner>,
}

impl Draft {
    fn new() -> Self {
        Draft {
            id: RwSignal::new(None),
            name: RwSignal::new(String::new()),
            routing_key: RwSignal::new(String::new()),
            repeat: RwSignal::new("0".into()),
            levels: RwSignal::new(Vec::new()),
            next_key: StoredValue::new(0),
            owner: StoredValue::new(Owner::current().unwrap_or_default()),
        }
    }

    fn add_level(&self, minutes: String, users: Vec<String>, schedules: Vec<String>) {
        let key = self.next_key.get_value();
        self.next_key.set_value(key + 1);
        let level = self.owner.get_value().with(|| LevelDraft {
            key,
            minutes: RwSignal::new(minutes),
            users: RwSignal::new(users),
            schedules: RwSignal::new(schedules),
        });
        self.levels.update(|l| l.push(level));
    }

    fn load(&self, policy: Option<&Policy>) {
        self.id.set(policy.map(|p| p.id.clone()));
        self.name
            .set(policy.map(|p| p.name.clone()).unwrap_or_default());
        self.routing_key.set(
            policy
                .and_then(|p| p.routing_key.clone())
                .unwrap_or_default(),
        );
        self.repeat.set(
            policy
                .map(|p| p.repeat.to_string())
                .unwrap_or_else(|| "0".into()),
        );
        self.levels.set(Vec::new());
        match policy {
            Some(p) => {
                for rule in &p.rules {
                    self.add_level(
                        rule.escalation_timeout_minutes.to_string(),
                        rule.users.iter().map(|u| u.id.clone()).collect(),
                        rule.schedules.iter().map(|s| s.id.clone()).collect(),
                    );
                }
            }
            None => self.add_level("15".into(), Vec::new(), Vec::new()),
        }
    }

    fn move_level(&self, key: u64, by: isize) {
        self.levels.update(|l| {
            if let Some(i) = l.iter().position(|x| x.key == key) {
                let j = i as isize + by;
                if j >= 0 && (j as usize) < l.len() {
                    l.swap(i, j as usize);
                }
            }
        });
    }
}

fn person(u: &User) -> String {
    if u.name.is_empty() {
        u.email.clone()
    } else {
        format!("{} ({})", u.name, u.email)
    }
}

#[component]
pub fn PolicyList() -> impl IntoView {
    let session = expect_context::<Session>();
    let data = RwSignal::new(None::<policy_list::ResponseData>);
    let error = RwSignal::new(None::<String>);
    let editing = RwSignal::new(false);
    let draft = Draft::new();
    let load = move || {
        spawn_local(async move {
            match api::run::<PolicyListQuery>(policy_list::Variables).await {
                Ok(answer) => data.set(Some(answer)),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    load();

    let start = move |policy: Option<Policy>| {
        draft.load(policy.as_ref());
        editing.set(true);
    };

    view! {
        <div class="page-head">
            <h1>"Escalation policies"</h1>
            {move || (session.is_admin() && !editing.get()).then(|| view! {
                <button type="button" class="button primary" on:click=move |_| start(None)>"New policy"</button>
            })}
        </div>
        <ErrorMessage error=error />
        {move || editing.get().then(|| {
            let users = data.with(|d| d.as_ref().map(|d| d.users.clone()).unwrap_or_default());
            let schedules = data.with(|d| d.as_ref().map(|d| d.schedules.clone()).unwrap_or_default());
            // A source routing by a ServiceNow field offers that field's records as routing keys.
            let routing = data.with(|d| {
                d.as_ref().and_then(|d| {
                    d.alert_sources.iter().find_map(|s| {
                        let field = s.service_now.as_ref()?.routing_field.clone()?;
                        Some((s.id.clone(), field))
                    })
                })
            });
            view! { <PolicyForm draft=draft users=users schedules=schedules routing=routing on_done=Callback::new(move |saved: bool| {
                editing.set(false);
                if saved { load(); }
            }) /> }
        })}
        {move || match data.get() {
            None => (error.get().is_none()).then(|| view! { <Loading what="escalation policies" /> }).into_any(),
            Some(d) if d.escalation_policies.is_empty() => view! {
                <Empty title="No escalation policies yet">
                    <p>{if session.is_admin() {
                        "Create one with “New policy”: it says who is notified first and who next when nobody accepts."
                    } else {
                        "Ask an admin to create one: it says who is notified when an alert arrives."
                    }}</p>
                </Empty>
            }.into_any(),
            Some(d) => view! {
                <ul class="list">
                    {d.escalation_policies.into_iter().map(|p| {
                        let edit_copy = p.clone();
                        view! {
                            <li class="card policy">
                                <div class="policy-head">
                                    <h2 class="row-title">{p.name.clone()}</h2>
                                    {p.routing_key.clone().map(|k| view! { <span class="tag">{format!("routing key: {k}")}</span> })}
                                    {session.is_admin().then(|| view! {
                                        <button type="button" class="button small" on:click=move |_| start(Some(edit_copy.clone()))>
                                            {format!("Edit {}", p.name)}
                                        </button>
                                    })}
                                </div>
                                <ol class="levels">
                                    {p.rules.iter().map(|r| view! {
                                        <li>
                                            <span>{r.users.iter().map(|u| if u.name.is_empty() { u.email.clone() } else { u.name.clone() })
                                                .chain(r.schedules.iter().map(|s| format!("on call in {}", s.name)))
                                                .collect::<Vec<_>>().join(", ")}</span>
                                            <span class="muted">{format!(" — escalate after {} min", r.escalation_timeout_minutes)}</span>
                                        </li>
                                    }).collect_view()}
                                </ol>
                                <p class="muted">{match p.repeat {
                                    0 => "Stops after the last level.".to_string(),
                                    1 => "Repeats once.".to_string(),
                                    n => format!("Repeats {n} times."),
                                }}</p>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }.into_any(),
        }}
    }
}

#[component]
fn PolicyForm(
    draft: Draft,
    users: Vec<User>,
    schedules: Vec<ScheduleRef>,
    routing: Option<(String, String)>,
    on_done: Callback<bool>,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let choices = RwSignal::new(Vec::<
        routing_options::RoutingOptionsServiceNowReferenceOptions,
    >::new());
    let routing_field = routing.as_ref().map(|(_, f)| f.clone()).unwrap_or_default();
    if let Some((alert_source_id, field)) = routing {
        spawn_local(async move {
            // Not a reference field, or the instance is down: the plain text input remains.
            if let Ok(answer) = api::run::<RoutingOptions>(routing_options::Variables {
                alert_source_id,
                field,
            })
            .await
            {
                choices.set(answer.service_now_reference_options);
            }
        });
    }
    let busy = RwSignal::new(false);
    let users = StoredValue::new(users);
    let schedules = StoredValue::new(schedules);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let repeat: i64 = match draft.repeat.get_untracked().trim().parse() {
            Ok(n) => n,
            Err(_) => {
                error.set(Some("Repeat must be a whole number from 0 to 20.".into()));
                return;
            }
        };
        let mut rules = Vec::new();
        for (i, level) in draft.levels.get_untracked().iter().enumerate() {
            let Ok(minutes) = level.minutes.get_untracked().trim().parse::<i64>() else {
                error.set(Some(format!(
                    "Level {}: the timeout must be a whole number of minutes.",
                    i + 1
                )));
                return;
            };
            rules.push((
                minutes,
                level.users.get_untracked(),
                level.schedules.get_untracked(),
            ));
        }
        let name = draft.name.get_untracked().trim().to_string();
        let key = draft.routing_key.get_untracked().trim().to_string();
        let routing_key = (!key.is_empty()).then_some(key);
        busy.set(true);
        error.set(None);
        let id = draft.id.get_untracked();
        spawn_local(async move {
            let result = match id {
                None => api::run::<CreatePolicy>(create_policy::Variables {
                    input: create_policy::CreateEscalationPolicyInput {
                        name,
                        routing_key,
                        repeat,
                        rules: rules
                            .into_iter()
                            .map(|(m, u, s)| create_policy::EscalationRuleInput {
                                escalation_timeout_minutes: m,
                                user_ids: u,
                                schedule_ids: s,
                            })
                            .collect(),
                    },
                })
                .await
                .map(|_| ()),
                Some(id) => api::run::<UpdatePolicy>(update_policy::Variables {
                    id,
                    input: update_policy::UpdateEscalationPolicyInput {
                        name,
                        routing_key,
                        repeat,
                        rules: rules
                            .into_iter()
                            .map(|(m, u, s)| update_policy::EscalationRuleInput {
                                escalation_timeout_minutes: m,
                                user_ids: u,
                                schedule_ids: s,
                            })
                            .collect(),
                    },
                })
                .await
                .map(|_| ()),
            };
            busy.set(false);
            match result {
                Ok(()) => on_done.run(true),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };

    view! {
        <section class="card" aria-labelledby="policy-form-title">
            <h2 id="policy-form-title">{move || if draft.id.with(Option::is_some) { "Edit escalation policy" } else { "New escalation policy" }}</h2>
            <form class="stack" on:submit=submit>
                <ErrorMessage error=error />
                <label for="policy-name">"Name"</label>
                <input id="policy-name" type="text" required prop:value=draft.name on:input=move |ev| draft.name.set(event_target_value(&ev)) />
                <label for="policy-key">"Routing key (optional)"</label>
                <input id="policy-key" type="text" placeholder="the ServiceNow assignment group, e.g. network"
                    prop:value=draft.routing_key on:input=move |ev| draft.routing_key.set(event_target_value(&ev)) />
                {move || (!choices.with(Vec::is_empty)).then(|| {
                    let current = draft.routing_key.get_untracked();
                    view! {
                        <label for="policy-key-picker">{format!("…or pick the ServiceNow record ({}) that routes here", routing_field)}</label>
                        <select id="policy-key-picker" on:change=move |ev| draft.routing_key.set(event_target_value(&ev))>
                            <option value="">"Choose…"</option>
                            {choices.get().into_iter().map(|c| {
                                let selected = c.sys_id == current;
                                view! { <option value=c.sys_id selected=selected>{c.name}</option> }
                            }).collect_view()}
                        </select>
                    }
                })}
                <fieldset class="levels-edit">
                    <legend>"Levels, in order"</legend>
                    <For each=move || draft.levels.get() key=|l| l.key children=move |level| {
                        let number = move || draft.levels.with(|l| l.iter().position(|x| x.key == level.key).map(|i| i + 1).unwrap_or(0));
                        let minutes_id = format!("level-{}-minutes", level.key);
                        let minutes_for = minutes_id.clone();
                        view! {
                            <div class="level-edit">
                                <h3>{move || format!("Level {}", number())}</h3>
                                <label for=minutes_for>"Escalate to the next level after (minutes)"</label>
                                <input id=minutes_id type="number" min="1" required prop:value=level.minutes
                                    on:input=move |ev| level.minutes.set(event_target_value(&ev)) />
                                <div class="checks" role="group" aria-label=move || format!("Users notified at level {}", number())>
                                    {users.get_value().into_iter().map(|u| {
                                        let uid = u.id.clone();
                                        let uid_change = u.id.clone();
                                        let check_id = format!("level-{}-user-{}", level.key, u.id);
                                        let label_for = check_id.clone();
                                        view! {
                                            <label class="check" for=label_for>
                                                <input id=check_id type="checkbox"
                                                    prop:checked=move || level.users.with(|s| s.contains(&uid))
                                                    on:change=move |ev| {
                                                        let on = event_target_checked(&ev);
                                                        let uid = uid_change.clone();
                                                        level.users.update(|s| {
                                                            s.retain(|x| *x != uid);
                                                            if on { s.push(uid); }
                                                        });
                                                    } />
                                                {format!(" {}", person(&u))}
                                            </label>
                                        }
                                    }).collect_view()}
                                </div>
                                {(!schedules.get_value().is_empty()).then(|| view! {
                                    <div class="checks" role="group" aria-label=move || format!("Schedules paged at level {}", number())>
                                        {schedules.get_value().into_iter().map(|sch| {
                                            let sid = sch.id.clone();
                                            let sid_change = sch.id.clone();
                                            let check_id = format!("level-{}-schedule-{}", level.key, sch.id);
                                            let label_for = check_id.clone();
                                            view! {
                                                <label class="check" for=label_for>
                                                    <input id=check_id type="checkbox"
                                                        prop:checked=move || level.schedules.with(|s| s.contains(&sid))
                                                        on:change=move |ev| {
                                                            let on = event_target_checked(&ev);
                                                            let sid = sid_change.clone();
                                                            level.schedules.update(|s| {
                                                                s.retain(|x| *x != sid);
                                                                if on { s.push(sid); }
                                                            });
                                                        } />
                                                    {format!(" whoever is on call in {}", sch.name)}
                                                </label>
                                            }
                                        }).collect_view()}
                                    </div>
                                })}
                                <div class="button-row">
                                    <button type="button" class="button small" on:click=move |_| draft.move_level(level.key, -1)>"Move up"</button>
                                    <button type="button" class="button small" on:click=move |_| draft.move_level(level.key, 1)>"Move down"</button>
                                    <button type="button" class="button small danger" on:click=move |_| draft.levels.update(|l| l.retain(|x| x.key != level.key))>"Remove level"</button>
                                </div>
                            </div>
                        }
                    } />
                    <button type="button" class="button small" on:click=move |_| draft.add_level("15".into(), Vec::new(), Vec::new())>"Add level"</button>
                </fieldset>
                <label for="policy-repeat">"Repeat the levels this many more times (0–20)"</label>
                <input id="policy-repeat" type="number" min="0" max="20" prop:value=draft.repeat
                    on:input=move |ev| draft.repeat.set(event_target_value(&ev)) />
                <div class="button-row">
                    <button type="submit" class="button primary" disabled=busy>"Save policy"</button>
                    <button type="button" class="button ghost" on:click=move |_| on_done.run(false)>"Cancel"</button>
                </div>
            </form>
        </section>
    }
}
