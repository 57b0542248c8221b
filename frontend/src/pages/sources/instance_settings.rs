use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{
    self, ServiceNowOptions, SetPriorityMapping, SetRoutingField, service_now_options,
    set_priority_mapping, set_routing_field, source_detail,
};
use crate::ui::{ErrorMessage, Loading, Notice};

/// The ServiceNow priority → alert priority table and the routing field, both filled from the
/// instance through the saved connection.
#[component]
pub(super) fn InstanceSettings(
    source_id: String,
    current: source_detail::SourceDetailAlertSourceServiceNow,
) -> impl IntoView {
    let source_id = StoredValue::new(source_id);
    let options = RwSignal::new(None::<service_now_options::ResponseData>);
    let error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // ServiceNow priority value → "HIGH" / "LOW", as chosen on screen.
    let mapping = RwSignal::new(
        current
            .priority_mapping
            .iter()
            .map(|m| {
                (
                    m.service_now_priority.clone(),
                    api::enum_name(&m.alert_priority),
                )
            })
            .collect::<Vec<_>>(),
    );
    let routing = RwSignal::new(current.routing_field.clone().unwrap_or_default());
    let load = move || {
        error.set(None);
        let variables = service_now_options::Variables {
            alert_source_id: source_id.get_value(),
        };
        spawn_local(async move {
            match api::run::<ServiceNowOptions>(variables).await {
                Ok(answer) => options.set(Some(answer)),
                Err(e) => error.set(Some(format!("Could not read the instance: {}", e.message))),
            }
        });
    };
    load();
    let chosen = move |value: &str| {
        mapping
            .with(|m| m.iter().find(|(v, _)| v == value).map(|(_, p)| p.clone()))
            .unwrap_or_else(|| {
                // The server's default: 1 (Critical) and 2 (High) page as HIGH.
                if value == "1" || value == "2" {
                    "HIGH".into()
                } else {
                    "LOW".into()
                }
            })
    };
    let save_mapping = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let values: Vec<String> = options.with_untracked(|o| {
            o.as_ref()
                .map(|o| {
                    o.service_now_priorities
                        .iter()
                        .map(|p| p.value.clone())
                        .collect()
                })
                .unwrap_or_default()
        });
        let mappings = values
            .iter()
            .map(|v| set_priority_mapping::PriorityMappingInput {
                service_now_priority: v.clone(),
                alert_priority: if chosen(v) == "HIGH" {
                    set_priority_mapping::AlertPriority::HIGH
                } else {
                    set_priority_mapping::AlertPriority::LOW
                },
            })
            .collect();
        let variables = set_priority_mapping::Variables {
            alert_source_id: source_id.get_value(),
            mappings,
        };
        busy.set(true);
        error.set(None);
        notice.set(None);
        spawn_local(async move {
            match api::run::<SetPriorityMapping>(variables).await {
                Ok(_) => notice.set(Some(
                    "Priority mapping saved: it applies to the next incident events.".into(),
                )),
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let save_routing = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let field = routing.get_untracked();
        let variables = set_routing_field::Variables {
            alert_source_id: source_id.get_value(),
            field: (!field.is_empty()).then_some(field),
        };
        busy.set(true);
        error.set(None);
        notice.set(None);
        spawn_local(async move {
            match api::run::<SetRoutingField>(variables).await {
                Ok(_) => notice.set(Some("Routing field saved.".into())),
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };

    view! {
        <section class="card" aria-labelledby="instance-title">
            <h2 id="instance-title">"Priorities and routing"</h2>
            <Notice notice=notice />
            <ErrorMessage error=error />
            {move || match options.get() {
                None => (error.get().is_none()).then(|| view! { <Loading what="the instance's priorities and fields" /> }).into_any(),
                Some(o) => {
                    let fields = o.service_now_fields.clone();
                    view! {
                        <form class="stack" on:submit=save_mapping>
                            <h3>"Priority mapping"</h3>
                            <p class="muted">"Which ServiceNow priorities page as high-priority alerts."</p>
                            <table class="mapping">
                                <thead><tr><th scope="col">"ServiceNow priority"</th><th scope="col">"Alert priority"</th></tr></thead>
                                <tbody>
                                    {o.service_now_priorities.into_iter().map(|p| {
                                        let high = chosen(&p.value) == "HIGH";
                                        let value_change = p.value.clone();
                                        let select_id = format!("priority-map-{}", p.value);
                                        let label = format!("Alert priority for ServiceNow priority {}", p.label);
                                        view! {
                                            <tr>
                                                <td>{format!("{} ({})", p.label, p.value)}</td>
                                                <td>
                                                    <select id=select_id aria-label=label
                                                        on:change=move |ev| {
                                                            let v = value_change.clone();
                                                            let p = event_target_value(&ev);
                                                            mapping.update(|m| {
                                                                m.retain(|(x, _)| *x != v);
                                                                m.push((v, p));
                                                            });
                                                        }>
                                                        <option value="HIGH" selected=high>"High"</option>
                                                        <option value="LOW" selected=!high>"Low"</option>
                                                    </select>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <div class="button-row">
                                <button type="submit" class="button primary" disabled=busy>"Save priority mapping"</button>
                            </div>
                        </form>
                        <form class="inline-form" on:submit=save_routing>
                            <div class="field">
                                <label for="routing-field">"Routing field: new alerts go to the escalation policy whose routing key is this field's value"</label>
                                <select id="routing-field" on:change=move |ev| routing.set(event_target_value(&ev))>
                                    <option value="">"No routing: use the alert source's policy"</option>
                                    {fields.into_iter().map(|f| {
                                        let text = format!("{} ({})", f.label, f.name);
                                        let selected = routing.get_untracked() == f.name;
                                        view! { <option value=f.name selected=selected>{text}</option> }
                                    }).collect_view()}
                                </select>
                            </div>
                            <button type="submit" class="button" disabled=busy>"Save routing field"</button>
                        </form>
                    }.into_any()
                }
            }}
            <div class="button-row">
                <button type="button" class="button small" on:click=move |_| load()>"Reload from the instance"</button>
            </div>
        </section>
    }
}
