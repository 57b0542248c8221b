//! On-call schedules: the next two weeks as a timeline (the final rota and each layer), overrides
//! made by picking a range on it, a new rotation, and the signed-in user's own shifts.

use js_sys::Date;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::{JsCast, JsValue};

use crate::Session;
use crate::api::{
    self, CreateSchedule, CreateScheduleOverride, DeleteScheduleOverride, MyShifts,
    ScheduleList as ScheduleListQuery, ScheduleTimeline, create_schedule, create_schedule_override,
    delete_schedule_override, my_shifts, schedule_list, schedule_timeline,
};
use crate::time;
use crate::ui::{Empty, ErrorMessage, Loading, Notice};

const DAY_MS: f64 = 86_400_000.0;
const HOUR_MS: f64 = 3_600_000.0;
/// The timeline shows this many days from today's midnight (browser time).
const DAYS: u32 = 14;

type Timeline = schedule_timeline::ScheduleTimelineSchedule;

/// Today's local midnight, in milliseconds.
fn today() -> f64 {
    let now = Date::new_0();
    now.set_hours(0);
    now.set_minutes(0);
    now.set_seconds(0);
    now.set_milliseconds(0);
    now.get_time()
}

fn iso(ms: f64) -> String {
    Date::new(&JsValue::from_f64(ms)).to_iso_string().into()
}

fn ms(rfc3339: &str) -> f64 {
    Date::parse(rfc3339)
}

/// `YYYY-MM-DDTHH:MM` in browser time, for a `datetime-local` input.
fn local_input(ms: f64) -> String {
    let d = Date::new(&JsValue::from_f64(ms));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

/// A `datetime-local` value (browser time) as milliseconds; NaN when empty or malformed.
fn from_local_input(value: &str) -> f64 {
    if value.len() < 16 {
        return f64::NAN;
    }
    Date::new(&JsValue::from_str(value)).get_time()
}

fn short(email: &str) -> String {
    email.split('@').next().unwrap_or(email).to_string()
}

/// A stable colour per person, so one person's shifts look alike in every row.
fn hue(email: &str) -> u32 {
    email
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 360
}

#[derive(Clone, PartialEq)]
struct Bar {
    email: String,
    start: f64,
    end: f64,
    label: String,
}

/// One row of the timeline: bars placed by time between `from` and `to`.
#[component]
fn Row(
    #[prop(into)] title: String,
    bars: Vec<Bar>,
    from: f64,
    to: f64,
    /// Clicking the row picks a time (the final row: override ranges).
    #[prop(optional)]
    on_pick: Option<Callback<f64>>,
    #[prop(optional, into)] class: String,
) -> impl IntoView {
    let span = to - from;
    let pick = move |ev: leptos::ev::MouseEvent| {
        let Some(cb) = on_pick else { return };
        let Some(target) = ev.current_target() else {
            return;
        };
        let Ok(el) = target.dyn_into::<web_sys::Element>() else {
            return;
        };
        let rect = el.get_bounding_client_rect();
        if rect.width() <= 0.0 {
            return;
        }
        let x = (f64::from(ev.client_x()) - rect.left()).clamp(0.0, rect.width());
        let at = from + span * x / rect.width();
        cb.run((at / HOUR_MS).round() * HOUR_MS);
    };
    view! {
        <div class=format!("timeline-row {class}")>
            <div class="timeline-label">{title.clone()}</div>
            <div class="timeline-track" class:pickable=on_pick.is_some() on:click=pick
                role=if on_pick.is_some() { "button" } else { "presentation" }
                aria-label=format!("{title} timeline")>
                {bars.into_iter().filter(|b| b.end > from && b.start < to).map(|b| {
                    let left = ((b.start.max(from) - from) / span * 100.0).max(0.0);
                    let width = ((b.end.min(to) - b.start.max(from)) / span * 100.0).max(0.2);
                    // Set through the CSSOM (`style:`): the Content-Security-Policy forbids
                    // inline style attributes.
                    let background = format!("hsl({},55%,78%)", hue(&b.email));
                    view! {
                        <div class="shift" style:left=format!("{left:.3}%") style:width=format!("{width:.3}%")
                            style:background=background title=b.label.clone() data-email=b.email.clone()>
                            <span>{short(&b.email)}</span>
                        </div>
                    }
                }).collect_view()}
            </div>
        </div>
    }
}

fn bar(email: &str, start: &str, end: &str) -> Bar {
    Bar {
        email: email.to_string(),
        start: ms(start),
        end: ms(end),
        label: format!("{email}: {} – {}", time::local(start), time::local(end)),
    }
}

#[component]
pub fn ScheduleList() -> impl IntoView {
    let session = expect_context::<Session>();
    let data = RwSignal::new(None::<schedule_list::ResponseData>);
    let error = RwSignal::new(None::<String>);
    let selected = RwSignal::new(None::<String>);
    let creating = RwSignal::new(false);
    let load = move || {
        spawn_local(async move {
            match api::run::<ScheduleListQuery>(schedule_list::Variables).await {
                Ok(answer) => {
                    if selected.get_untracked().is_none() {
                        selected.set(answer.schedules.first().map(|s| s.id.clone()));
                    }
                    data.set(Some(answer));
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    load();

    view! {
        <div class="page-head">
            <h1>"On-call schedules"</h1>
            {move || (session.is_admin() && !creating.get()).then(|| view! {
                <button type="button" class="button primary" on:click=move |_| creating.set(true)>"New schedule"</button>
            })}
        </div>
        <ErrorMessage error=error />
        <MyShiftList />
        {move || creating.get().then(|| {
            let users = data.with(|d| d.as_ref().map(|d| d.users.iter().filter(|u| !u.disabled).cloned().collect()).unwrap_or_default());
            view! { <ScheduleForm users=users on_done=Callback::new(move |saved: Option<String>| {
                creating.set(false);
                if let Some(id) = saved {
                    selected.set(Some(id));
                    load();
                }
            }) /> }
        })}
        {move || match data.get() {
            None => (error.get().is_none()).then(|| view! { <Loading what="schedules" /> }).into_any(),
            Some(d) if d.schedules.is_empty() => view! {
                <Empty title="No schedules yet">
                    <p>{if session.is_admin() {
                        "Create one with “New schedule”: a rotation of people who take turns being on call."
                    } else {
                        "Ask an admin to create one: it says who is on call when."
                    }}</p>
                </Empty>
            }.into_any(),
            Some(d) => {
                let users = d.users.clone();
                view! {
                    <div class="schedule-tabs" role="tablist">
                        {d.schedules.iter().map(|s| {
                            let id = s.id.clone();
                            let id_sel = s.id.clone();
                            view! {
                                <button type="button" role="tab" class="button small"
                                    class:primary=move || selected.with(|x| x.as_deref() == Some(id_sel.as_str()))
                                    on:click=move |_| selected.set(Some(id.clone()))>
                                    {s.name.clone()}
                                </button>
                            }
                        }).collect_view()}
                    </div>
                    {move || selected.get().map(|id| view! { <TimelineView id=id users=users.clone() /> })}
                }.into_any()
            }
        }}
    }
}

#[component]
fn TimelineView(id: String, users: Vec<schedule_list::ScheduleListUsers>) -> impl IntoView {
    let session = expect_context::<Session>();
    let from = today();
    let to = from + f64::from(DAYS) * DAY_MS;
    let data = RwSignal::new(None::<Timeline>);
    let error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    let pick_start = RwSignal::new(String::new());
    let pick_end = RwSignal::new(String::new());
    let picking_end = RwSignal::new(false);
    let me = session
        .user
        .with_untracked(|u| u.as_ref().map(|u| u.id.clone()).unwrap_or_default());
    let override_user = RwSignal::new(
        users
            .iter()
            .find(|u| u.id != me && !u.disabled)
            .map(|u| u.id.clone())
            .unwrap_or_default(),
    );
    let kind = RwSignal::new("REPLACE".to_string());
    let schedule_id = StoredValue::new(id.clone());
    let load = move || {
        let id = schedule_id.get_value();
        spawn_local(async move {
            match api::run::<ScheduleTimeline>(schedule_timeline::Variables {
                id,
                from: iso(from),
                to: iso(to),
            })
            .await
            {
                Ok(answer) => data.set(answer.schedule),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    load();

    let pick = Callback::new(move |at: f64| {
        if picking_end.get_untracked() {
            let start = from_local_input(&pick_start.get_untracked());
            let (a, b) = if at < start { (at, start) } else { (start, at) };
            pick_start.set(local_input(a));
            pick_end.set(local_input(if b > a { b } else { a + HOUR_MS }));
            picking_end.set(false);
        } else {
            pick_start.set(local_input(at));
            pick_end.set(String::new());
            picking_end.set(true);
        }
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let start = from_local_input(&pick_start.get_untracked());
        let end = from_local_input(&pick_end.get_untracked());
        if start.is_nan() || end.is_nan() {
            error.set(Some(
                "Pick a start and an end on the timeline, or type them.".into(),
            ));
            return;
        }
        let input = create_schedule_override::ScheduleOverrideInput {
            user_id: override_user.get_untracked(),
            start: iso(start),
            end: iso(end),
            kind: if kind.get_untracked() == "ADD" {
                create_schedule_override::OverrideKind::ADD
            } else {
                create_schedule_override::OverrideKind::REPLACE
            },
        };
        error.set(None);
        spawn_local(async move {
            match api::run::<CreateScheduleOverride>(create_schedule_override::Variables {
                schedule_id: schedule_id.get_value(),
                input,
            })
            .await
            {
                Ok(_) => {
                    notice.set(Some("Override saved.".into()));
                    pick_start.set(String::new());
                    pick_end.set(String::new());
                    load();
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };

    let remove = move |id: String| {
        spawn_local(async move {
            match api::run::<DeleteScheduleOverride>(delete_schedule_override::Variables { id })
                .await
            {
                Ok(_) => {
                    notice.set(Some("Override deleted.".into()));
                    load();
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };

    let users = StoredValue::new(users);
    view! {
        <ErrorMessage error=error />
        <Notice notice=notice />
        {move || data.get().map(|s| {
            let days: Vec<String> = (0..DAYS).map(|i| {
                let d = Date::new(&JsValue::from_f64(from + f64::from(i) * DAY_MS));
                format!("{}/{}", d.get_date(), d.get_month() + 1)
            }).collect();
            let final_bars: Vec<Bar> = s.shifts.iter().map(|x| bar(&x.user.email, &x.start, &x.end)).collect();
            view! {
                <section class="card" aria-labelledby="timeline-title">
                    <h2 id="timeline-title">{format!("{} ({})", s.name, s.time_zone)}</h2>
                    <p class="on-call-now">{if s.on_call_now.is_empty() {
                        "Nobody is on call now.".to_string()
                    } else {
                        format!("On call now: {}", s.on_call_now.iter().map(|c| match &c.until {
                            Some(u) => format!("{} until {}", c.user.email, time::local(u)),
                            None => c.user.email.clone(),
                        }).collect::<Vec<_>>().join(", "))
                    }}</p>
                    <div class="timeline" role="group" aria-label="Next two weeks">
                        <div class="timeline-row timeline-days">
                            <div class="timeline-label"></div>
                            <div class="timeline-track">
                                {days.into_iter().enumerate().map(|(i, d)| view! {
                                    <span class="day" style:left=format!("{:.3}%", f64::from(i as u32) * 100.0 / f64::from(DAYS))>{d}</span>
                                }).collect_view()}
                            </div>
                        </div>
                        <Row title="Final" class="final" bars=final_bars from=from to=to on_pick=pick />
                        {s.layers.iter().rev().map(|l| {
                            let bars: Vec<Bar> = l.shifts.iter().map(|x| bar(&x.user.email, &x.start, &x.end)).collect();
                            view! { <Row title=format!("Layer {}: {}", l.position, l.name) bars=bars from=from to=to /> }
                        }).collect_view()}
                    </div>
                    <p class="muted">"Click the final row twice to pick the start and end of an override."</p>
                    <form class="stack override-form" on:submit=submit>
                        <h3>"Override"</h3>
                        <label for="override-user">"Who is on call instead"</label>
                        <select id="override-user" on:change=move |ev| override_user.set(event_target_value(&ev))>
                            {users.get_value().into_iter().filter(|u| !u.disabled).map(|u| {
                                let selected = u.id == override_user.get_untracked();
                                view! { <option value=u.id.clone() selected=selected>{u.email.clone()}</option> }
                            }).collect_view()}
                        </select>
                        <label for="override-kind">"Kind"</label>
                        <select id="override-kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                            <option value="REPLACE">"Replace whoever is on call"</option>
                            <option value="ADD">"Add beside them"</option>
                        </select>
                        <label for="override-start">"Start"</label>
                        <input id="override-start" type="datetime-local" prop:value=pick_start
                            on:input=move |ev| pick_start.set(event_target_value(&ev)) />
                        <label for="override-end">"End"</label>
                        <input id="override-end" type="datetime-local" prop:value=pick_end
                            on:input=move |ev| pick_end.set(event_target_value(&ev)) />
                        <div class="button-row">
                            <button type="submit" class="button primary">"Save override"</button>
                        </div>
                    </form>
                    {(!s.overrides.is_empty()).then(|| view! {
                        <h3>"Overrides"</h3>
                        <ul class="overrides">
                            {s.overrides.iter().map(|o| {
                                let id = o.id.clone();
                                let who = o.user.as_ref().map(|u| u.email.clone()).unwrap_or_default();
                                view! {
                                    <li>
                                        <span>{format!("{} ({}) {} – {}", who, api::enum_name(&o.kind).to_lowercase(), time::local(&o.start), time::local(&o.end))}</span>
                                        " "
                                        <button type="button" class="button small danger" on:click=move |_| remove(id.clone())>"Delete"</button>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    })}
                </section>
            }
        })}
    }
}

#[component]
fn MyShiftList() -> impl IntoView {
    let from = today();
    let to = from + f64::from(DAYS) * DAY_MS;
    let shifts = RwSignal::new(None::<Vec<my_shifts::MyShiftsMeOnCallShifts>>);
    spawn_local(async move {
        if let Ok(answer) = api::run::<MyShifts>(my_shifts::Variables {
            from: iso(from),
            to: iso(to),
        })
        .await
        {
            shifts.set(Some(answer.me.on_call_shifts));
        }
    });
    view! {
        <section class="card my-shifts" aria-labelledby="my-shifts-title">
            <h2 id="my-shifts-title">"My shifts (next two weeks)"</h2>
            {move || match shifts.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(list) if list.is_empty() => view! { <p class="muted">"You are not on call in the next two weeks."</p> }.into_any(),
                Some(list) => view! {
                    <ul class="list">
                        {list.into_iter().map(|s| view! {
                            <li>{format!("{}: {} – {}", s.schedule.name, time::local(&s.start), time::local(&s.end))}</li>
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
fn ScheduleForm(
    users: Vec<schedule_list::ScheduleListUsers>,
    on_done: Callback<Option<String>>,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let name = RwSignal::new(String::new());
    let zone = RwSignal::new(browser_zone());
    let layer_name = RwSignal::new("Rotation".to_string());
    let start = RwSignal::new(local_input(today() + 9.0 * HOUR_MS));
    let unit = RwSignal::new("WEEKS".to_string());
    let count = RwSignal::new("1".to_string());
    let restriction = RwSignal::new("none".to_string());
    let chosen = RwSignal::new(Vec::<String>::new());
    let busy = RwSignal::new(false);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(turn_count) = count.get_untracked().trim().parse::<i64>() else {
            error.set(Some("The turn length must be a whole number.".into()));
            return;
        };
        let turn_unit = match unit.get_untracked().as_str() {
            "HOURS" => create_schedule::TurnUnit::HOURS,
            "DAYS" => create_schedule::TurnUnit::DAYS,
            _ => create_schedule::TurnUnit::WEEKS,
        };
        let window = |days: Vec<i64>, start: &str, end: &str| create_schedule::RestrictionInput {
            days,
            start: start.into(),
            end: end.into(),
        };
        let restrictions = match restriction.get_untracked().as_str() {
            "office" => vec![window(vec![1, 2, 3, 4, 5], "09:00", "17:00")],
            "nights" => vec![window(vec![1, 2, 3, 4, 5, 6, 7], "18:00", "08:00")],
            "weekends" => vec![window(vec![6, 7], "00:00", "00:00")],
            _ => Vec::new(),
        };
        let input = create_schedule::ScheduleInput {
            name: name.get_untracked().trim().to_string(),
            time_zone: zone.get_untracked().trim().to_string(),
            layers: vec![create_schedule::ScheduleLayerInput {
                name: layer_name.get_untracked().trim().to_string(),
                user_ids: chosen.get_untracked(),
                start: start.get_untracked(),
                turn_unit,
                turn_count,
                restrictions,
            }],
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let result = api::run::<CreateSchedule>(create_schedule::Variables { input }).await;
            busy.set(false);
            match result {
                Ok(answer) => on_done.run(Some(answer.create_schedule.id)),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };

    view! {
        <section class="card" aria-labelledby="schedule-form-title">
            <h2 id="schedule-form-title">"New schedule"</h2>
            <form class="stack" on:submit=submit>
                <ErrorMessage error=error />
                <label for="schedule-name">"Name"</label>
                <input id="schedule-name" type="text" required prop:value=name on:input=move |ev| name.set(event_target_value(&ev)) />
                <label for="schedule-zone">"Time zone (IANA, e.g. Europe/Berlin)"</label>
                <input id="schedule-zone" type="text" required prop:value=zone on:input=move |ev| zone.set(event_target_value(&ev)) />
                <label for="layer-name">"Rotation name"</label>
                <input id="layer-name" type="text" required prop:value=layer_name on:input=move |ev| layer_name.set(event_target_value(&ev)) />
                <label for="layer-start">"First hand-off (in the schedule's time zone)"</label>
                <input id="layer-start" type="datetime-local" required prop:value=start on:input=move |ev| start.set(event_target_value(&ev)) />
                <label for="layer-count">"Each turn lasts"</label>
                <div class="inline">
                    <input id="layer-count" type="number" min="1" prop:value=count on:input=move |ev| count.set(event_target_value(&ev)) />
                    <select id="layer-unit" aria-label="Turn unit" on:change=move |ev| unit.set(event_target_value(&ev))>
                        <option value="HOURS">"hours"</option>
                        <option value="DAYS">"days"</option>
                        <option value="WEEKS" selected>"weeks"</option>
                    </select>
                </div>
                <label for="layer-restriction">"Applies"</label>
                <select id="layer-restriction" on:change=move |ev| restriction.set(event_target_value(&ev))>
                    <option value="none">"All the time"</option>
                    <option value="office">"Weekdays 09:00–17:00"</option>
                    <option value="nights">"Nights 18:00–08:00"</option>
                    <option value="weekends">"Weekends"</option>
                </select>
                <div class="checks" role="group" aria-label="People, in the order they take turns">
                    {users.into_iter().map(|u| {
                        let uid = u.id.clone();
                        let uid_change = u.id.clone();
                        let check_id = format!("rotation-user-{}", u.id);
                        let label_for = check_id.clone();
                        view! {
                            <label class="check" for=label_for>
                                <input id=check_id type="checkbox"
                                    prop:checked=move || chosen.with(|s| s.contains(&uid))
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        let uid = uid_change.clone();
                                        chosen.update(|s| {
                                            s.retain(|x| *x != uid);
                                            if on { s.push(uid); }
                                        });
                                    } />
                                {format!(" {}", u.email)}
                            </label>
                        }
                    }).collect_view()}
                </div>
                <p class="muted">{move || {
                    let n = chosen.with(Vec::len);
                    if n == 0 { "Tick people in the order they take turns.".to_string() } else { format!("{n} in the rotation, in the order ticked.") }
                }}</p>
                <div class="button-row">
                    <button type="submit" class="button primary" disabled=busy>"Save schedule"</button>
                    <button type="button" class="button ghost" on:click=move |_| on_done.run(None)>"Cancel"</button>
                </div>
            </form>
        </section>
    }
}

/// The browser's IANA time zone, or UTC.
fn browser_zone() -> String {
    let options = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
        .resolved_options();
    js_sys::Reflect::get(&options, &JsValue::from_str("timeZone"))
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_else(|| "UTC".into())
}
