//! A responder acts from the notification e-mail in a browser, without signing in: the accept
//! link's page, its button, and the In Progress update reaching the (simulated) ServiceNow
//! incident. Also renders the e-mail's HTML part as a mail client shows it, for the docs.

mod sync_support;

use std::time::Duration;

use glidepath_tests::browser::Browser;
use glidepath_tests::*;
use sync_support::{World, options};

#[tokio::test]
async fn the_accept_link_of_the_mail_accepts_and_servicenow_gets_in_progress() {
    let sink = SmtpSink::start().await;
    let world = World::start_with(options().env("GLIDEPATH_SMTP_URL", &sink.url())).await;
    let (sys_id, alert_id) = world.incident().await;
    // The source's policy notifies the admin.
    let mail = eventually(Duration::from_secs(20), "the escalation mail", || async {
        sink.mails_to(ADMIN_EMAIL).first().map(Mail::parse)
    })
    .await;
    let accept = mail.text_link("Accept").expect("an accept link");
    assert!(mail.html_links_to(&accept), "{:?}", mail.html_hrefs());

    let browser = Browser::start(&world.app.address).await;
    // The mail's HTML part as a mail client shows it.
    browser.show_html(&mail.html).await;
    browser.find("#accept").await;
    browser.screenshot("notification-email").await;

    // Not signed in: the link alone is enough.
    browser.goto_url(&accept).await;
    browser.find_text("#title", "Accept this alert?").await;
    browser.screenshot("notification-accept-page").await;
    assert_eq!(world.app.alert(&alert_id).await["status"], "PENDING");
    browser.click("#confirm").await;
    browser.find_text("#title", "Accepted").await;
    assert_eq!(world.app.alert(&alert_id).await["status"], "ACCEPTED");

    eventually(
        Duration::from_secs(10),
        "In Progress in ServiceNow",
        || async {
            (world.record(&sys_id).get("state").map(String::as_str) == Some("2")).then_some(())
        },
    )
    .await;
    let patches = world.patch_bodies(&sys_id);
    assert!(
        patches.iter().any(|p| p["state"] == "2"),
        "the In Progress PATCH: {patches:?}"
    );

    // Back: the same link is used now.
    browser.goto_url(&accept).await;
    browser.find_text("#title", "already used").await;
    browser.close().await;
}
