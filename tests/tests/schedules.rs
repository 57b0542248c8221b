//! On-call schedules over GraphQL: rotations across daylight-saving changes, restricted layers,
//! overrides and who may make them, onCallNow, a user's shifts, whoIsOnCall, bad input, and
//! escalation through schedules (the log names schedule and person, nobody on call moves on, a
//! hand-off does not re-page, two processes resolve a level once).

use std::time::{Duration, Instant};

use glidepath_tests::*;
use serde_json::{Value, json};

const CREATE: &str = "mutation($input: ScheduleInput!) { createSchedule(input: $input) { \
     id name timeZone layers { position name start turnUnit turnCount users { email } \
       restrictions { days start end } } } }";

const SHIFTS: &str = "query($id: ID!, $from: DateTime!, $to: DateTime!) { schedule(id: $id) { \
     shifts(from: $from, to: $to) { user { email } start end layer } \
     layers { shifts(from: $from, to: $to) { user { email } start end layer } } } }";

const OVERRIDE: &str = "mutation($id: ID!, $input: ScheduleOverrideInput!) { \
     createScheduleOverride(scheduleId: $id, input: $input) { id kind start end user { email } } }";

async fn responders(app: &TestApp, n: usize) -> Vec<(String, String)> {
    let admin = app.admin_token().await;
    let mut out = Vec::new();
    for i in 0..n {
        let email = unique_email(&format!("oncall{}", i + 1));
        let user = app.create_user(&admin, &email, "RESPONDER").await;
        out.push((id_of(&user), email));
    }
    out
}

fn layer(name: &str, users: &[&str], start: &str, unit: &str, count: i32) -> Value {
    json!({ "name": name, "userIds": users, "start": start, "turnUnit": unit, "turnCount": count })
}

async fn create_schedule(app: &TestApp, tz: &str, layers: Vec<Value>) -> Value {
    let admin = app.admin_token().await;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    app.gql(
        &admin,
        CREATE,
        json!({ "input": { "name": format!("Primary {}", &suffix[..8]), "timeZone": tz, "layers": layers } }),
    )
    .await["createSchedule"]
        .clone()
}

/// (email, start, end, layer) of each final shift.
fn spans(shifts: &Value) -> Vec<(String, String, String, Value)> {
    shifts
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        str_field(&s["user"], "email"),
                        str_field(s, "start"),
                        str_field(s, "end"),
                        s["layer"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn shifts(app: &TestApp, token: &str, id: &str, from: &str, to: &str) -> Value {
    app.gql(token, SHIFTS, json!({ "id": id, "from": from, "to": to }))
        .await["schedule"]
        .clone()
}

fn iso(t: chrono_like::Instant) -> String {
    t.iso()
}

/// Just enough date arithmetic for the tests, on top of the system clock.
mod chrono_like {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    #[derive(Clone, Copy)]
    pub struct Instant(pub i64);

    impl Instant {
        pub fn now() -> Instant {
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_secs();
            Instant(i64::try_from(secs).unwrap_or(0))
        }

        pub fn plus(self, secs: i64) -> Instant {
            Instant(self.0 + secs)
        }

        /// RFC 3339 in UTC.
        pub fn iso(self) -> String {
            let days = self.0.div_euclid(86_400);
            let rem = self.0.rem_euclid(86_400);
            let (y, m, d) = civil(days);
            format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
                rem / 3600,
                (rem % 3600) / 60,
                rem % 60
            )
        }

        /// `YYYY-MM-DDTHH:MM` of this instant in UTC.
        pub fn local_utc(self) -> String {
            self.iso()[..16].to_string()
        }
    }

    /// Days since 1970-01-01 to (year, month, day) (H. Hinnant's algorithm).
    fn civil(z: i64) -> (i64, i64, i64) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (if m <= 2 { y + 1 } else { y }, m, d)
    }
}

#[tokio::test]
async fn a_weekly_rotation_hands_off_at_nine_local_across_daylight_saving_changes() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let u = responders(&app, 2).await;
    // Mondays 09:00 in Berlin; summer time begins on Sunday 2030-03-31.
    let s = create_schedule(
        &app,
        "Europe/Berlin",
        vec![layer(
            "Weekly",
            &[&u[0].0, &u[1].0],
            "2030-03-18T09:00",
            "WEEKS",
            1,
        )],
    )
    .await;
    assert_eq!(s["timeZone"], "Europe/Berlin");
    assert_eq!(s["layers"][0]["turnUnit"], "WEEKS");
    assert_eq!(s["layers"][0]["start"], "2030-03-18T09:00");
    let got = shifts(
        &app,
        &admin,
        &id_of(&s),
        "2030-03-25T00:00:00Z",
        "2030-04-08T00:00:00Z",
    )
    .await;
    let (a, b) = (u[0].1.clone(), u[1].1.clone());
    assert_eq!(
        spans(&got["shifts"]),
        vec![
            (
                a.clone(),
                "2030-03-25T00:00:00+00:00".into(),
                "2030-03-25T08:00:00+00:00".into(),
                json!(1)
            ),
            (
                b.clone(),
                "2030-03-25T08:00:00+00:00".into(),
                "2030-04-01T07:00:00+00:00".into(),
                json!(1)
            ),
            (
                a.clone(),
                "2030-04-01T07:00:00+00:00".into(),
                "2030-04-08T00:00:00+00:00".into(),
                json!(1)
            ),
        ],
        "{got}"
    );
    // Autumn in New York: winter time from Sunday 2030-11-03; hand-offs stay at 09:00.
    let ny = create_schedule(
        &app,
        "America/New_York",
        vec![layer(
            "Weekly",
            &[&u[0].0, &u[1].0],
            "2030-10-21T09:00",
            "WEEKS",
            1,
        )],
    )
    .await;
    let got = shifts(
        &app,
        &admin,
        &id_of(&ny),
        "2030-10-28T13:00:00Z",
        "2030-11-11T14:00:00Z",
    )
    .await;
    assert_eq!(
        spans(&got["shifts"]),
        vec![
            (
                b.clone(),
                "2030-10-28T13:00:00+00:00".into(),
                "2030-11-04T14:00:00+00:00".into(),
                json!(1)
            ),
            (
                a.clone(),
                "2030-11-04T14:00:00+00:00".into(),
                "2030-11-11T14:00:00+00:00".into(),
                json!(1)
            ),
        ],
        "{got}"
    );
}

#[tokio::test]
async fn layers_stack_restrictions_let_the_one_below_show_through_and_overrides_win() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let u = responders(&app, 3).await;
    let mut office = layer("Office hours", &[&u[1].0], "2030-01-07T00:00", "WEEKS", 1);
    office["restrictions"] = json!([{ "days": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:00" }]);
    let s = create_schedule(
        &app,
        "UTC",
        vec![
            layer("Base", &[&u[0].0], "2030-01-07T00:00", "DAYS", 1),
            office,
        ],
    )
    .await;
    assert_eq!(
        s["layers"][1]["restrictions"],
        json!([{ "days": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:00" }])
    );
    let id = id_of(&s);
    // Friday 2030-01-11 and the weekend after.
    let got = shifts(
        &app,
        &admin,
        &id,
        "2030-01-11T00:00:00Z",
        "2030-01-13T00:00:00Z",
    )
    .await;
    let base = u[0].1.clone();
    let office_user = u[1].1.clone();
    assert_eq!(
        spans(&got["shifts"]),
        vec![
            (
                base.clone(),
                "2030-01-11T00:00:00+00:00".into(),
                "2030-01-11T09:00:00+00:00".into(),
                json!(1)
            ),
            (
                office_user.clone(),
                "2030-01-11T09:00:00+00:00".into(),
                "2030-01-11T17:00:00+00:00".into(),
                json!(2)
            ),
            (
                base.clone(),
                "2030-01-11T17:00:00+00:00".into(),
                "2030-01-13T00:00:00+00:00".into(),
                json!(1)
            ),
        ],
        "{got}"
    );
    // Each layer's own shifts: the office layer only in its window.
    assert_eq!(
        spans(&got["layers"][1]["shifts"]),
        vec![(
            office_user.clone(),
            "2030-01-11T09:00:00+00:00".into(),
            "2030-01-11T17:00:00+00:00".into(),
            json!(2)
        )]
    );
    // An override replacing whoever is on call, and one beside them.
    let o = app
        .gql(
            &admin,
            OVERRIDE,
            json!({ "id": id, "input": { "userId": u[2].0, "start": "2030-01-11T12:00:00Z", "end": "2030-01-11T20:00:00Z" } }),
        )
        .await;
    assert_eq!(o["createScheduleOverride"]["kind"], "REPLACE");
    app.gql(
        &admin,
        OVERRIDE,
        json!({ "id": id, "input": { "userId": u[1].0, "start": "2030-01-12T00:00:00Z", "end": "2030-01-12T06:00:00Z", "kind": "ADD" } }),
    )
    .await;
    let got = shifts(
        &app,
        &admin,
        &id,
        "2030-01-11T00:00:00Z",
        "2030-01-13T00:00:00Z",
    )
    .await;
    let over = u[2].1.clone();
    assert_eq!(
        spans(&got["shifts"]),
        vec![
            (
                base.clone(),
                "2030-01-11T00:00:00+00:00".into(),
                "2030-01-11T09:00:00+00:00".into(),
                json!(1)
            ),
            (
                office_user.clone(),
                "2030-01-11T09:00:00+00:00".into(),
                "2030-01-11T12:00:00+00:00".into(),
                json!(2)
            ),
            (
                over.clone(),
                "2030-01-11T12:00:00+00:00".into(),
                "2030-01-11T20:00:00+00:00".into(),
                Value::Null
            ),
            (
                base.clone(),
                "2030-01-11T20:00:00+00:00".into(),
                "2030-01-13T00:00:00+00:00".into(),
                json!(1)
            ),
            (
                office_user.clone(),
                "2030-01-12T00:00:00+00:00".into(),
                "2030-01-12T06:00:00+00:00".into(),
                Value::Null
            ),
        ],
        "{got}"
    );
    // Deleting the replacing override brings the layers back.
    let override_id = id_of(&o["createScheduleOverride"]);
    app.gql(
        &admin,
        "mutation($id: ID!) { deleteScheduleOverride(id: $id) }",
        json!({ "id": override_id }),
    )
    .await;
    let got = shifts(
        &app,
        &admin,
        &id,
        "2030-01-11T12:00:00Z",
        "2030-01-11T13:00:00Z",
    )
    .await;
    assert_eq!(spans(&got["shifts"])[0].0, office_user);
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let u = responders(&app, 1).await;
    let good = layer("L", &[&u[0].0], "2030-01-07T09:00", "WEEKS", 1);
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({ "name": "S", "timeZone": "Mars/Olympus", "layers": [good.clone()] }),
            "timeZone",
        ),
        (
            json!({ "name": " ", "timeZone": "UTC", "layers": [good.clone()] }),
            "name",
        ),
        (
            json!({ "name": "S", "timeZone": "UTC", "layers": [] }),
            "layers",
        ),
        (
            json!({ "name": "S", "timeZone": "UTC", "layers": [layer("L", &[], "2030-01-07T09:00", "WEEKS", 1)] }),
            "userIds",
        ),
        (
            json!({ "name": "S", "timeZone": "UTC", "layers": [layer("L", &["nobody"], "2030-01-07T09:00", "WEEKS", 1)] }),
            "userIds",
        ),
        (
            json!({ "name": "S", "timeZone": "UTC", "layers": [layer("L", &[&u[0].0], "next monday", "WEEKS", 1)] }),
            "start",
        ),
        (
            json!({ "name": "S", "timeZone": "UTC", "layers": [layer("L", &[&u[0].0], "2030-01-07T09:00", "WEEKS", 0)] }),
            "turnCount",
        ),
        (
            json!({ "name": "S", "timeZone": "UTC", "layers": [{ "name": "L", "userIds": [u[0].0], "start": "2030-01-07T09:00", "turnUnit": "DAYS",
            "restrictions": [{ "days": [0], "start": "09:00", "end": "17:00" }] }] }),
            "days",
        ),
        (
            json!({ "name": "S", "timeZone": "UTC", "layers": [{ "name": "L", "userIds": [u[0].0], "start": "2030-01-07T09:00", "turnUnit": "DAYS",
            "restrictions": [{ "days": [1], "start": "25:00", "end": "17:00" }] }] }),
            "start",
        ),
    ];
    for (input, field) in cases {
        let response = app
            .graphql(Some(&admin), CREATE, json!({ "input": input }))
            .await;
        assert_error_code(&response, "BAD_USER_INPUT");
        assert!(
            error_message(&response).contains(field),
            "{field}: {response}"
        );
    }
    let list = app.gql(&admin, "{ schedules { id } }", json!({})).await;
    assert_eq!(list["schedules"], json!([]), "nothing was created");

    let s = create_schedule(&app, "UTC", vec![good]).await;
    let id = id_of(&s);
    // Ranges are bounded.
    let response = app
        .graphql(
            Some(&admin),
            SHIFTS,
            json!({ "id": id, "from": "2030-01-01T00:00:00Z", "to": "2030-03-01T00:00:00Z" }),
        )
        .await;
    assert_error_code(&response, "BAD_USER_INPUT");
    let response = app
        .graphql(
            Some(&admin),
            SHIFTS,
            json!({ "id": id, "from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z" }),
        )
        .await;
    assert_error_code(&response, "BAD_USER_INPUT");
    // Overrides: end before start, in the past, unknown schedule.
    for input in [
        json!({ "userId": u[0].0, "start": "2030-01-02T00:00:00Z", "end": "2030-01-01T00:00:00Z" }),
        json!({ "userId": u[0].0, "start": "2001-01-01T00:00:00Z", "end": "2001-01-02T00:00:00Z" }),
        json!({ "userId": "nobody", "start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z" }),
    ] {
        let response = app
            .graphql(Some(&admin), OVERRIDE, json!({ "id": id, "input": input }))
            .await;
        assert_error_code(&response, "BAD_USER_INPUT");
    }
    let response = app
        .graphql(
            Some(&admin),
            OVERRIDE,
            json!({ "id": "no-such-schedule", "input": { "userId": u[0].0, "start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z" } }),
        )
        .await;
    assert_error_code(&response, "NOT_FOUND");
    let got = app
        .gql(
            &admin,
            "query($id: ID!) { schedule(id: $id) { overrides(from: \"2030-01-01T00:00:00Z\", to: \"2030-01-20T00:00:00Z\") { id } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(got["schedule"]["overrides"], json!([]));
}

#[tokio::test]
async fn only_an_admin_or_the_user_on_call_may_override() {
    let app = spawn_app().await;
    let u = responders(&app, 2).await;
    let on_call = app.login_token(&u[0].1, USER_PASSWORD).await;
    let other = app.login_token(&u[1].1, USER_PASSWORD).await;
    // u0 alone, all the time.
    let response = app
        .graphql(
            Some(&on_call),
            CREATE,
            json!({ "input": { "name": "S", "timeZone": "UTC", "layers": [layer("L", &[&u[0].0], "2029-01-01T00:00", "WEEKS", 1)] } }),
        )
        .await;
    assert_error_code(&response, "FORBIDDEN");
    let s = create_schedule(
        &app,
        "UTC",
        vec![layer("L", &[&u[0].0], "2029-01-01T00:00", "WEEKS", 1)],
    )
    .await;
    let id = id_of(&s);
    let hand_over = json!({ "id": id, "input": { "userId": u[1].0, "start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z" } });
    // Someone who is not on call may not hand u0's time away, nor may u0 add people beside.
    assert_error_code(
        &app.graphql(Some(&other), OVERRIDE, hand_over.clone()).await,
        "FORBIDDEN",
    );
    let mut add = hand_over.clone();
    add["input"]["kind"] = json!("ADD");
    assert_error_code(
        &app.graphql(Some(&on_call), OVERRIDE, add).await,
        "FORBIDDEN",
    );
    // The user on call hands a day over.
    let made = app.gql(&on_call, OVERRIDE, hand_over.clone()).await;
    assert_eq!(
        made["createScheduleOverride"]["user"]["email"],
        u[1].1.as_str()
    );
    // Now u0 is no longer on call then: a second hand-over of the same day is refused.
    assert_error_code(
        &app.graphql(Some(&on_call), OVERRIDE, hand_over.clone())
            .await,
        "FORBIDDEN",
    );
    // Its creator may delete it; the colleague may not.
    let oid = id_of(&made["createScheduleOverride"]);
    let delete = "mutation($id: ID!) { deleteScheduleOverride(id: $id) }";
    assert_error_code(
        &app.graphql(Some(&other), delete, json!({ "id": oid }))
            .await,
        "FORBIDDEN",
    );
    app.gql(&on_call, delete, json!({ "id": oid })).await;

    // Someone an ADMIN added beside u0 (ADD) does not hold the on-call: they may not push u0
    // out, neither for themselves nor for anyone else.
    let admin = app.admin_token().await;
    let mut beside = hand_over.clone();
    beside["input"]["kind"] = json!("ADD");
    app.gql(&admin, OVERRIDE, beside).await;
    let mut take_over = hand_over.clone();
    take_over["input"]["userId"] = json!(u[1].0);
    assert_error_code(
        &app.graphql(Some(&other), OVERRIDE, take_over).await,
        "FORBIDDEN",
    );
    let mut push_out = hand_over.clone();
    push_out["input"]["userId"] = json!(u[0].0);
    assert_error_code(
        &app.graphql(Some(&other), OVERRIDE, push_out.clone()).await,
        "FORBIDDEN",
    );
    // Nor may u0 "hand over" to themselves.
    assert_error_code(
        &app.graphql(Some(&on_call), OVERRIDE, push_out).await,
        "FORBIDDEN",
    );
}

#[tokio::test]
async fn instants_far_out_of_range_are_refused_not_computed() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let u = responders(&app, 1).await;
    let s = create_schedule(
        &app,
        "Asia/Tokyo",
        vec![layer("L", &[&u[0].0], "2029-01-01T00:00", "HOURS", 1)],
    )
    .await;
    let id = id_of(&s);
    for (from, to) in [
        ("+262142-12-30T00:00:00Z", "+262142-12-31T20:00:00Z"),
        ("-262000-01-01T00:00:00Z", "-262000-01-02T00:00:00Z"),
        ("2201-01-01T00:00:00Z", "2201-01-02T00:00:00Z"),
    ] {
        let response = app
            .graphql(
                Some(&admin),
                "query($id: ID!, $from: DateTime!, $to: DateTime!) { schedule(id: $id) { shifts(from: $from, to: $to) { start } } }",
                json!({ "id": id, "from": from, "to": to }),
            )
            .await;
        assert_error_code(&response, "BAD_USER_INPUT");
        let response = app
            .graphql(
                Some(&admin),
                OVERRIDE,
                json!({ "id": id, "input": { "userId": u[0].0, "start": from, "end": to } }),
            )
            .await;
        assert_error_code(&response, "BAD_USER_INPUT");
    }
    // The server is still answering.
    let fine = app
        .gql(
            &admin,
            "query($id: ID!) { schedule(id: $id) { shifts(from: \"2030-01-01T00:00:00Z\", to: \"2030-01-02T00:00:00Z\") { start } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        fine["schedule"]["shifts"].as_array().map(Vec::len),
        Some(1),
        "one user: one shift over the day"
    );
}

#[tokio::test]
async fn on_call_now_my_shifts_and_who_is_on_call_skip_disabled_users() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let u = responders(&app, 3).await;
    let now = chrono_like::Instant::now();
    // Daily turns in UTC that began an hour ago: u0 now, u1 from the next hand-off.
    let start = now.plus(-3600).local_utc();
    let s = create_schedule(
        &app,
        "UTC",
        vec![
            layer("Below", &[&u[2].0], &start, "WEEKS", 1),
            layer("Daily", &[&u[0].0, &u[1].0], &start, "DAYS", 1),
        ],
    )
    .await;
    let id = id_of(&s);
    let q = "query($id: ID!) { schedule(id: $id) { onCallNow { user { email } until } } }";
    let got = app.gql(&admin, q, json!({ "id": id })).await;
    let now_on = &got["schedule"]["onCallNow"];
    assert_eq!(now_on[0]["user"]["email"], u[0].1.as_str(), "{got}");
    assert!(now_on[0]["until"].is_string(), "{got}");

    // My shifts, as u1.
    let mine = app.login_token(&u[1].1, USER_PASSWORD).await;
    let from = now.iso();
    let to = now.plus(4 * 86_400).iso();
    let got = app
        .gql(
            &mine,
            "query($from: DateTime!, $to: DateTime!) { me { onCallShifts(from: $from, to: $to) { schedule { id } start end layer } } }",
            json!({ "from": from, "to": to }),
        )
        .await;
    let shifts = got["me"]["onCallShifts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(shifts.len(), 2, "every other day of four: {got}");
    assert!(
        shifts
            .iter()
            .all(|s| s["schedule"]["id"] == id.as_str() && s["layer"] == 2)
    );

    // whoIsOnCall through a policy that pages the schedule beside a fixed user.
    let policy = app
        .gql(
            &admin,
            "mutation($input: CreateEscalationPolicyInput!) { createEscalationPolicy(input: $input) { id rules { schedules { id } } } }",
            json!({ "input": { "name": "Via schedule", "rules": [{ "escalationTimeoutMinutes": 5, "userIds": [u[2].0], "scheduleIds": [id] }] } }),
        )
        .await;
    let pid = id_of(&policy["createEscalationPolicy"]);
    assert_eq!(
        policy["createEscalationPolicy"]["rules"][0]["schedules"][0]["id"],
        id.as_str()
    );
    let who = "query($id: ID!) { whoIsOnCall(escalationPolicyId: $id) { level user { email } schedule { id } } }";
    let got = app.gql(&admin, who, json!({ "id": pid })).await;
    assert_eq!(
        got["whoIsOnCall"],
        json!([
            { "level": 1, "user": { "email": u[2].1 }, "schedule": null },
            { "level": 1, "user": { "email": u[0].1 }, "schedule": { "id": id } },
        ])
    );
    // u0 disabled: their turn leaves the layer below (u2) showing through.
    app.gql(
        &admin,
        "mutation($id: ID!) { disableUser(id: $id) { id } }",
        json!({ "id": u[0].0 }),
    )
    .await;
    let got = app.gql(&admin, q, json!({ "id": id })).await;
    assert_eq!(
        got["schedule"]["onCallNow"][0]["user"]["email"],
        u[2].1.as_str(),
        "{got}"
    );
    let got = app.gql(&admin, who, json!({ "id": pid })).await;
    assert!(
        !got.to_string().contains(&u[0].1),
        "a disabled user is never on call: {got}"
    );
    // A schedule a policy pages cannot be deleted.
    let response = app
        .graphql(
            Some(&admin),
            "mutation($id: ID!) { deleteSchedule(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_error_code(&response, "CONFLICT");
    assert!(
        error_message(&response).contains("Via schedule"),
        "{response}"
    );
}

// ---- escalation through schedules ----

const ESCALATION_FIELDS: &str = "id escalationLevel escalationRound nextEscalationAt \
     assignedTo { email } responders { email } logEntries { kind message }";

async fn escalation_policy(app: &TestApp, rules: Value, repeat: i32) -> String {
    let admin = app.admin_token().await;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let data = app
        .gql(
            &admin,
            "mutation($input: CreateEscalationPolicyInput!) { createEscalationPolicy(input: $input) { id } }",
            json!({ "input": { "name": format!("P {}", &suffix[..8]), "routingKey": format!("rk-{suffix}"), "rules": rules, "repeat": repeat } }),
        )
        .await;
    id_of(&data["createEscalationPolicy"])
}

async fn alert_on(app: &TestApp, policy_id: &str) -> String {
    let admin = app.admin_token().await;
    let source = app.create_alert_source(&admin, policy_id).await;
    let key = str_field(&source, "integrationKey");
    let (status, body) = app
        .post_event(&key, &incident(&new_sys_id(), state::NEW, 0))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    str_field(&body, "alertId")
}

async fn escalation_of(app: &TestApp, id: &str) -> Value {
    let admin = app.admin_token().await;
    app.gql(
        &admin,
        &format!("query($id: ID!) {{ alert(id: $id) {{ {ESCALATION_FIELDS} }} }}"),
        json!({ "id": id }),
    )
    .await["alert"]
        .clone()
}

async fn wait_for(app: &TestApp, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let alert = escalation_of(app, id).await;
        if done(&alert) {
            return alert;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {alert}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn escalations(alert: &Value) -> Vec<String> {
    log_entries_of(alert, "ESCALATED")
        .iter()
        .map(|e| str_field(e, "message"))
        .collect()
}

fn responder_emails(alert: &Value) -> Vec<String> {
    alert["responders"]
        .as_array()
        .map(|r| r.iter().map(|u| str_field(u, "email")).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_level_pages_whoever_the_schedule_has_on_call_and_a_hand_off_does_not_re_page() {
    // At 600 a 30-minute level lasts 3 s.
    let app =
        spawn_app_with_options(SpawnOptions::default().env("GLIDEPATH_TIME_SCALE", "600")).await;
    let admin = app.admin_token().await;
    let u = responders(&app, 2).await;
    let now = chrono_like::Instant::now();
    let s = create_schedule(
        &app,
        "Europe/Berlin",
        vec![layer("Weekly", &[&u[0].0], "2020-01-06T09:00", "WEEKS", 1)],
    )
    .await;
    let sid = id_of(&s);
    let name = str_field(&s, "name");
    let p = escalation_policy(
        &app,
        json!([{ "escalationTimeoutMinutes": 30, "scheduleIds": [sid] }]),
        1,
    )
    .await;
    let id = alert_on(&app, &p).await;
    let alert = escalation_of(&app, &id).await;
    assert_eq!(alert["assignedTo"]["email"], u[0].1.as_str(), "{alert}");
    let steps = escalations(&alert);
    assert!(
        steps[0].contains(&format!("schedule {name:?} (level 1): {}", u[0].1)),
        "the log names schedule and person: {steps:?}"
    );
    // u1 takes over from now on: the open alert is not paged again.
    app.gql(
        &admin,
        OVERRIDE,
        json!({ "id": sid, "input": { "userId": u[1].0, "start": iso(now), "end": iso(now.plus(3600)) } }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let alert = escalation_of(&app, &id).await;
    assert_eq!(escalations(&alert).len(), 1, "{alert}");
    assert_eq!(responder_emails(&alert), vec![u[0].1.clone()]);
    // The repeat resolves afresh: u1.
    let alert = wait_for(&app, &id, "the repeat", |a| a["escalationRound"] == 1).await;
    let steps = escalations(&alert);
    assert!(
        steps[1].contains(&format!("schedule {name:?} (level 1): {}", u[1].1)),
        "{steps:?}"
    );
    assert_eq!(alert["assignedTo"]["email"], u[1].1.as_str());
}

#[tokio::test]
async fn a_schedule_with_nobody_on_call_is_logged_and_the_next_level_pages() {
    let app = spawn_app().await;
    let u = responders(&app, 1).await;
    // The only layer starts in 2099: nobody is on call now.
    let s = create_schedule(
        &app,
        "UTC",
        vec![layer("Later", &[&u[0].0], "2099-01-05T09:00", "WEEKS", 1)],
    )
    .await;
    let name = str_field(&s, "name");
    let p = escalation_policy(
        &app,
        json!([
            { "escalationTimeoutMinutes": 5, "scheduleIds": [id_of(&s)] },
            { "escalationTimeoutMinutes": 5, "userIds": [u[0].0] },
        ]),
        0,
    )
    .await;
    let id = alert_on(&app, &p).await;
    let alert = escalation_of(&app, &id).await;
    assert_eq!(alert["escalationLevel"], 2, "{alert}");
    assert_eq!(alert["assignedTo"]["email"], u[0].1.as_str());
    let steps = escalations(&alert);
    assert!(
        steps[0].contains(&format!("schedule {name:?} (level 1): nobody on call")),
        "{steps:?}"
    );
}

#[tokio::test]
async fn two_processes_resolve_a_schedule_level_exactly_once() {
    let app =
        spawn_app_with_options(SpawnOptions::default().env("GLIDEPATH_TIME_SCALE", "600")).await;
    let sibling = app.spawn_sibling().await;
    let u = responders(&app, 2).await;
    let s = create_schedule(
        &app,
        "UTC",
        vec![layer("Always", &[&u[1].0], "2020-01-06T00:00", "WEEKS", 1)],
    )
    .await;
    let name = str_field(&s, "name");
    let p = escalation_policy(
        &app,
        json!([
            { "escalationTimeoutMinutes": 1, "userIds": [u[0].0] },
            { "escalationTimeoutMinutes": 1, "scheduleIds": [id_of(&s)] },
        ]),
        0,
    )
    .await;
    let admin = app.admin_token().await;
    let source = app.create_alert_source(&admin, &p).await;
    let key = str_field(&source, "integrationKey");
    let mut ids = Vec::new();
    for i in 0..20 {
        let target = if i % 2 == 0 { &app } else { &sibling };
        let (status, body) = target
            .post_event(&key, &incident(&new_sys_id(), state::NEW, 0))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(str_field(&body, "alertId"));
    }
    for id in &ids {
        let alert = wait_for(&app, id, "level 2", |a| {
            a["escalationLevel"] == 2 && a["nextEscalationAt"].is_null()
        })
        .await;
        let steps = escalations(&alert);
        let via_schedule: Vec<&String> = steps
            .iter()
            .filter(|m| m.contains(&format!("schedule {name:?} (level 2): {}", u[1].1)))
            .collect();
        assert_eq!(steps.len(), 2, "{steps:?}");
        assert_eq!(
            via_schedule.len(),
            1,
            "the schedule level resolved once: {steps:?}"
        );
        assert_eq!(
            responder_emails(&alert),
            vec![u[0].1.clone(), u[1].1.clone()]
        );
    }
}

// ---- iCalendar feeds ----

/// The events of an iCalendar document, parsed with the `ical` crate: (SUMMARY, DTSTART, DTEND).
fn events(body: &str) -> Vec<(String, String, String)> {
    let mut parser = ical::IcalParser::new(std::io::BufReader::new(body.as_bytes()));
    let calendar = parser
        .next()
        .expect("one calendar")
        .expect("a valid iCalendar document");
    assert!(parser.next().is_none(), "exactly one calendar");
    calendar
        .events
        .iter()
        .map(|e| {
            let prop = |name: &str| {
                e.properties
                    .iter()
                    .find(|p| p.name == name)
                    .and_then(|p| p.value.clone())
                    .unwrap_or_default()
            };
            assert!(!prop("UID").is_empty(), "every event has a UID");
            (prop("SUMMARY"), prop("DTSTART"), prop("DTEND"))
        })
        .collect()
}

async fn get(app: &TestApp, url: &str) -> (StatusCode, String, Option<String>) {
    // The address names the public URL; the test speaks to the listener directly.
    let path = url
        .split_once("/api/")
        .map(|(_, p)| format!("/api/{p}"))
        .unwrap_or_default();
    let response = reqwest::get(app.url(&path)).await.expect("GET feed");
    let status = response.status();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    (status, response.text().await.unwrap_or_default(), kind)
}

#[tokio::test]
async fn calendar_feeds_list_shifts_behind_a_rotatable_secret() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let u = responders(&app, 2).await;
    let now = chrono_like::Instant::now();
    let start = now.plus(-86_400).local_utc();
    let s = create_schedule(
        &app,
        "UTC",
        vec![layer("Daily", &[&u[0].0, &u[1].0], &start, "DAYS", 1)],
    )
    .await;
    let id = id_of(&s);
    let rotate = "mutation($id: ID!) { rotateScheduleFeed(scheduleId: $id) }";
    // A responder may not make a schedule's feed.
    let (_, responder) = app.create_responder().await;
    assert_error_code(
        &app.graphql(Some(&responder), rotate, json!({ "id": id }))
            .await,
        "FORBIDDEN",
    );
    let url = str_field(
        &app.gql(&admin, rotate, json!({ "id": id })).await,
        "rotateScheduleFeed",
    );
    assert!(
        url.contains(&format!("/api/v1/schedules/{id}.ics?token=")),
        "{url}"
    );
    let (status, body, kind) = get(&app, &url).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(kind.unwrap_or_default().starts_with("text/calendar"));
    let got = events(&body);
    // Seven days back and 28 ahead of daily turns that began yesterday: 29 whole days and the
    // turn under way 28 days from now.
    assert!(got.len() >= 29, "{got:?}");
    assert!(got.iter().any(|(summary, _, _)| summary.contains(&u[0].1)));
    assert!(got.iter().any(|(summary, _, _)| summary.contains(&u[1].1)));
    assert!(
        got.iter()
            .all(|(_, start, end)| start.ends_with('Z') && end.ends_with('Z') && start < end)
    );
    assert!(!body.contains(&u[0].0), "ids stay out of summaries");

    // A wrong token, no token and an unknown schedule look the same.
    let token = url.split("token=").nth(1).unwrap_or_default().to_string();
    for path in [
        format!("/api/v1/schedules/{id}.ics?token=wrong"),
        format!("/api/v1/schedules/{id}.ics"),
        format!("/api/v1/schedules/no-such-schedule.ics?token={token}"),
        format!("/api/v1/schedules/{id}?token={token}"),
    ] {
        let (status, body, _) = get(&app, &format!("http://x{path}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert!(body.contains("no such calendar feed"), "{body}");
    }
    // Rotating revokes the old address.
    let newer = str_field(
        &app.gql(&admin, rotate, json!({ "id": id })).await,
        "rotateScheduleFeed",
    );
    assert_eq!(get(&app, &url).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, &newer).await.0, StatusCode::OK);

    // A user's own feed: only their shifts.
    let mine = app.login_token(&u[1].1, USER_PASSWORD).await;
    let url = str_field(
        &app.gql(&mine, "mutation { rotateUserFeed }", json!({}))
            .await,
        "rotateUserFeed",
    );
    assert!(
        url.contains(&format!("/api/v1/users/{}/shifts.ics?token=", u[1].0)),
        "{url}"
    );
    let (status, body, _) = get(&app, &url).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let got = events(&body);
    assert!(got.len() >= 14, "{got:?}");
    assert!(
        got.iter().all(|(summary, _, _)| summary.contains(&u[1].1)),
        "{got:?}"
    );
    // Nobody else may rotate it.
    let other = app.login_token(&u[0].1, USER_PASSWORD).await;
    let response = app
        .graphql(
            Some(&other),
            "mutation($id: ID!) { rotateUserFeed(userId: $id) }",
            json!({ "id": u[1].0 }),
        )
        .await;
    assert_error_code(&response, "FORBIDDEN");
    // The stored secret is a hash.
    let dump = String::from_utf8_lossy(&app.database_dump().await).to_string();
    let token = url.split("token=").nth(1).unwrap_or_default();
    assert!(
        !dump.contains(token),
        "the feed token is not stored in clear"
    );
    // Deleting the user removes their feed with them.
    assert_eq!(
        app.gql(
            &admin,
            "mutation($id: ID!) { deleteUser(id: $id) }",
            json!({ "id": u[1].0 })
        )
        .await["deleteUser"],
        json!(true)
    );
    assert_eq!(get(&app, &url).await.0, StatusCode::NOT_FOUND);
    let feeds = app
        .query_i64(&format!(
            "SELECT COUNT(*) FROM calendar_feeds WHERE owner_id = '{}'",
            u[1].0
        ))
        .await;
    assert_eq!(feeds, 0, "no feed row outlives its user");
}

#[tokio::test]
async fn a_schedule_that_cannot_be_read_does_not_stop_its_level_paging_the_others() {
    let app = spawn_app().await;
    let u = responders(&app, 2).await;
    let s = create_schedule(
        &app,
        "UTC",
        vec![layer("L", &[&u[0].0], "2020-01-06T09:00", "WEEKS", 1)],
    )
    .await;
    let sid = id_of(&s);
    let p = escalation_policy(
        &app,
        json!([{ "escalationTimeoutMinutes": 30, "userIds": [u[1].0], "scheduleIds": [sid] }]),
        0,
    )
    .await;
    // The stored time zone no longer names one (as after a tz database change).
    app.execute_sql(&format!(
        "UPDATE schedules SET time_zone = 'Atlantis/Capital' WHERE id = '{sid}'"
    ))
    .await;
    let id = alert_on(&app, &p).await;
    let alert = escalation_of(&app, &id).await;
    assert_eq!(responder_emails(&alert), vec![u[1].1.clone()], "{alert}");
    let steps = escalations(&alert);
    assert!(
        steps[0].contains(&format!("schedule {sid} (level 1): cannot be read")),
        "the log says why the schedule paged nobody: {steps:?}"
    );
}
