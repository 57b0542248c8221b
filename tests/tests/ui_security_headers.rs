//! The UI and the query page under the Content-Security-Policy, in a real browser: they work, and
//! the console shows no CSP violation.

use glidepath_tests::browser::Browser;
use glidepath_tests::*;

fn csp_errors(log: &[String]) -> Vec<&String> {
    log.iter()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("content security policy") || l.contains("content-security-policy")
        })
        .collect()
}

#[tokio::test]
async fn the_ui_and_the_query_page_work_under_the_csp_without_violations() {
    let app = spawn_app().await;
    let browser = Browser::start(&app.address).await;

    // The sign-in form is drawn by the wasm bundle: it only appears when the CSP let it run.
    browser.goto("/").await;
    browser.find("#email").await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.find_text(".account .who", ADMIN_EMAIL).await;
    browser.goto("/alerts").await;
    browser.find("nav[aria-label=Main]").await;

    // The query page runs a query with the session of the UI.
    browser.goto("/graphql").await;
    browser.find("#run").await;
    browser.click("#run").await;
    browser.find_text("#result", ADMIN_EMAIL).await;

    let log = browser.console_log().await;
    let errors = csp_errors(&log);
    assert!(errors.is_empty(), "CSP violations: {errors:#?}");

    // The policy is enforced: an inline script is refused, and the console says so.
    let ran = browser
        .execute(
            "const s = document.createElement('script'); s.textContent = 'window.inlineRan = true'; \
             document.head.appendChild(s); return window.inlineRan === true;",
        )
        .await;
    assert_eq!(ran, serde_json::Value::Bool(false));
    let log = browser.console_log().await;
    assert!(
        !csp_errors(&log).is_empty(),
        "no violation reported: {log:#?}"
    );
    browser.close().await;
}
