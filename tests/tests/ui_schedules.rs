//! On-call schedules in a real browser at phone width: an admin creates a rotation, picks a
//! range on the timeline for an override, and sees their own shifts; each checked through
//! GraphQL.

use glidepath_tests::browser::Browser;
use glidepath_tests::*;
use serde_json::json;

const SCHEDULES: &str =
    "{ schedules { id name timeZone layers { name turnUnit turnCount users { id } } } }";

#[tokio::test]
async fn admin_creates_a_rotation_and_an_override_on_a_phone() {
    let app = spawn_app().await;
    let admin_id = app.admin_id().await;
    let (responder, _) = app.create_responder().await;
    let responder_id = id_of(&responder);
    let browser = Browser::start_sized(&app.address, 390, 844).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto("/schedules").await;
    browser.find_text(".empty", "No schedules yet").await;
    browser.click_button("New schedule").await;
    browser.fill("#schedule-name", "Network primary").await;
    browser.fill("#schedule-zone", "UTC").await;
    browser.fill("#layer-name", "Daily").await;
    browser.select("#layer-unit", "DAYS").await;
    // The responder first, then the admin: the order they take turns.
    browser
        .click(&format!("#rotation-user-{responder_id}"))
        .await;
    browser.click(&format!("#rotation-user-{admin_id}")).await;
    browser.screenshot("schedule-form-phone").await;
    browser.click_button("Save schedule").await;
    browser.find_text(".timeline-row.final", "responder").await;
    browser.find_text(".timeline-row", "Layer 1: Daily").await;
    browser.screenshot("schedule-timeline-phone").await;

    let token = app.admin_token().await;
    let schedule = app.gql(&token, SCHEDULES, json!({})).await["schedules"][0].clone();
    assert_eq!(schedule["name"], "Network primary");
    assert_eq!(schedule["timeZone"], "UTC");
    assert_eq!(
        schedule["layers"],
        json!([{ "name": "Daily", "turnUnit": "DAYS", "turnCount": 1,
                 "users": [{ "id": responder_id }, { "id": admin_id }] }])
    );
    let id = id_of(&schedule);

    // Each shift sits at its own place on the timeline.
    let placed = browser
        .execute(
            "const lefts = [...document.querySelectorAll('.timeline-row.final .shift')]
               .map(b => Math.round(b.getBoundingClientRect().left));
             return lefts.length > 1 && new Set(lefts).size === lefts.length;",
        )
        .await;
    assert_eq!(
        placed,
        json!(true),
        "shifts are laid out along the timeline"
    );
    // The page fits the phone; only the timeline scrolls sideways.
    let fits = browser
        .execute("return document.documentElement.scrollWidth <= window.innerWidth + 1;")
        .await;
    assert_eq!(fits, json!(true), "the page is wider than the phone");

    // Pick a range on the final row: two clicks, at 50% and 60% of the two weeks.
    browser
        .execute(
            "const t = document.querySelector('.timeline-row.final .timeline-track');
             const r = t.getBoundingClientRect();
             for (const f of [0.5, 0.6]) {
               t.dispatchEvent(new MouseEvent('click', { bubbles: true,
                 clientX: r.left + r.width * f, clientY: r.top + 5 }));
             }
             return true;",
        )
        .await;
    let start = browser
        .execute("return document.querySelector('#override-start').value;")
        .await;
    let end = browser
        .execute("return document.querySelector('#override-end').value;")
        .await;
    assert!(
        start.as_str().is_some_and(|s| s.len() == 16)
            && end.as_str().is_some_and(|s| s.len() == 16),
        "the picked range fills the form: {start} {end}"
    );
    browser.select("#override-user", &responder_id).await;
    browser.click_button("Save override").await;
    browser.find_text(".message", "Override saved").await;
    browser.find_text(".overrides", "responder").await;

    let overrides = app
        .gql(
            &token,
            "query($id: ID!, $from: DateTime!, $to: DateTime!) { schedule(id: $id) { overrides(from: $from, to: $to) { kind start end user { id } } } }",
            json!({ "id": id, "from": "2000-01-01T00:00:00Z", "to": "2000-01-31T00:00:00Z" }),
        )
        .await;
    assert_eq!(
        overrides["schedule"]["overrides"],
        json!([]),
        "none in 2000"
    );
    let now = app
        .gql(&token, "{ schedules { onCallNow { until } } }", json!({}))
        .await;
    assert!(now["schedules"][0]["onCallNow"].is_array());
    // Two weeks from today: 10% of it is 33.6 hours, picked to the hour.
    let from = chrono_now_minus_days(1);
    let to = chrono_now_minus_days(-20);
    let got = app
        .gql(
            &token,
            "query($id: ID!, $from: DateTime!, $to: DateTime!) { schedule(id: $id) { overrides(from: $from, to: $to) { kind start end user { id } } } }",
            json!({ "id": id, "from": from, "to": to }),
        )
        .await;
    let list = got["schedule"]["overrides"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(list.len(), 1, "{got}");
    assert_eq!(list[0]["kind"], "REPLACE");
    assert_eq!(list[0]["user"]["id"], json!(responder_id));
    let hours =
        (seconds(&str_field(&list[0], "end")) - seconds(&str_field(&list[0], "start"))) / 3600;
    assert!((33..=35).contains(&hours), "{hours} hours: {got}");

    // My shifts: the admin takes every other day.
    browser.goto("/schedules").await;
    browser.find_text(".my-shifts", "Network primary").await;
    browser.screenshot("schedule-my-shifts-phone").await;
    browser.close().await;
}

/// RFC 3339 (UTC, as the server writes it) to seconds since the epoch, via the server's own
/// answers' fixed format `YYYY-MM-DDTHH:MM:SS+00:00`.
fn seconds(rfc3339: &str) -> i64 {
    let p = |a: usize, b: usize| {
        rfc3339
            .get(a..b)
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let (y, m, d) = (p(0, 4), p(5, 7), p(8, 10));
    let days = days_from_civil(y, m, d);
    days * 86_400 + p(11, 13) * 3600 + p(14, 16) * 60 + p(17, 19)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Now minus `days`, RFC 3339 in UTC.
fn chrono_now_minus_days(days: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
        - days * 86_400;
    let z = now.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let rem = now.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
