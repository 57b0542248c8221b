//! A real browser for the UI tests: Debian's headless Chromium driven through chromedriver
//! (WebDriver, fantoccini). Each test starts its own chromedriver on a free port and its own
//! Chromium profile, and both end when the test does.
//!
//! Without `chromium` and `chromedriver` the tests fail with a message saying what to install:
//! they never pass without having run.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// How long a test waits for something to appear on screen.
pub const WAIT: Duration = Duration::from_secs(10);

fn find_binary(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port for chromedriver")
}

pub struct Browser {
    pub client: Client,
    base: String,
    driver: Child,
    driver_url: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium (1280×900) aimed at `base` (`http://127.0.0.1:PORT`).
    pub async fn start(base: &str) -> Browser {
        Self::start_sized(base, 1280, 900).await
    }

    pub async fn start_sized(base: &str, width: u32, height: u32) -> Browser {
        let missing = "the browser tests need Debian's Chromium and chromedriver: \
                       apt-get install chromium chromium-driver (or set CHROME_BIN and CHROMEDRIVER)";
        let chromium = find_binary(
            "CHROME_BIN",
            &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        )
        .unwrap_or_else(|| panic!("chromium not found; {missing}"));
        let chromedriver = find_binary("CHROMEDRIVER", &["/usr/bin/chromedriver"])
            .unwrap_or_else(|| panic!("chromedriver not found; {missing}"));
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so Chromium and its helpers end with it (see Drop).
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}; {missing}", chromedriver.display()));
        let profile = tempfile::tempdir().expect("profile dir");
        let mut args = vec![
            "--headless=new".to_string(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--lang=en-GB".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        if running_as_root() {
            args.push("--no-sandbox".into());
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        // Keeps the console, so a test can read it (`console_log`).
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(15);
        let client = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if Instant::now() > deadline => {
                    panic!("chromedriver on {url} did not start a browser: {e}; {missing}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Browser {
            client,
            base: base.trim_end_matches('/').to_string(),
            driver,
            driver_url: url,
            _profile: profile,
        }
    }

    pub async fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.base);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Opens an absolute URL (`about:blank`, a link from an e-mail).
    pub async fn goto_url(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Shows `html` as the whole page, on a blank page of no origin (no policy of the server
    /// applies): an e-mail's HTML part as a mail client would show it.
    pub async fn show_html(&self, html: &str) {
        self.goto_url("about:blank").await;
        self.client
            .execute(
                "document.open(); document.write(arguments[0]); document.close(); return true;",
                vec![Value::String(html.to_string())],
            )
            .await
            .expect("write the page");
    }

    /// The first element matching `css`, waiting up to `WAIT` for it.
    pub async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => panic!(
                "no element {css:?} within {WAIT:?}: {e}\npage text:\n{}",
                self.page_text().await
            ),
        }
    }

    /// Waits until an element matching `css` shows `text` (a substring) and returns it.
    pub async fn find_text(&self, css: &str, text: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(elements) = self.client.find_all(Locator::Css(css)).await {
                for e in elements {
                    if e.text().await.is_ok_and(|t| t.contains(text)) {
                        return e;
                    }
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "no {css:?} showing {text:?} within {WAIT:?}\npage text:\n{}",
                    self.page_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until no element matching `css` is on the page.
    pub async fn wait_gone(&self, css: &str) {
        let deadline = Instant::now() + WAIT;
        while self
            .client
            .find_all(Locator::Css(css))
            .await
            .is_ok_and(|v| !v.is_empty())
        {
            assert!(
                Instant::now() < deadline,
                "{css:?} still on the page after {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Clicks the button whose text contains `text`.
    pub async fn click_button(&self, text: &str) {
        self.find_text("button", text)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click button {text:?}: {e}"));
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let input = self.find(css).await;
        input.clear().await.ok();
        input
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.find(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
    }

    /// On the alert page: adds `body` as a comment and waits for it in the comment list.
    pub async fn add_comment(&self, body: &str) {
        self.fill("#comment-body", body).await;
        self.click_button("Add comment").await;
        self.find_text(".comments", body).await;
    }

    /// On the alert page: re-routes to the policy `policy_id` and waits for its `name`.
    pub async fn reroute(&self, policy_id: &str, name: &str) {
        self.select("#reroute-policy", policy_id).await;
        self.click_button("Re-route").await;
        self.find_text(".facts", name).await;
    }

    /// On the alert page: resolves with `comment` and waits for the Resolved badge.
    pub async fn resolve_with(&self, comment: &str) {
        self.click_button("Resolve…").await;
        self.fill("#resolve-comment", comment).await;
        self.click_button("Resolve alert").await;
        self.find(".detail-head .status-resolved").await;
    }

    pub async fn page_text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(e) => format!("(no page: {e})"),
        }
    }

    /// Signs in through the form and waits for the main navigation.
    pub async fn sign_in(&self, email: &str, password: &str) {
        self.goto("/").await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("form button[type=submit]").await;
        self.find("nav[aria-label=Main]").await;
    }

    /// Saves a PNG of the viewport as `target/screenshots/<name>.png`, and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
        std::fs::create_dir_all(&dir).expect("create target/screenshots");
        let png = self.client.screenshot().await.expect("screenshot");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    pub async fn execute(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// The console messages (errors, Content-Security-Policy violations, logs) since the last
    /// call, as chromedriver reports them: one string per message.
    pub async fn console_log(&self) -> Vec<String> {
        let session = self
            .client
            .session_id()
            .await
            .ok()
            .flatten()
            .expect("a WebDriver session");
        let http = reqwest::Client::new();
        for path in ["se/log", "log"] {
            let url = format!("{}/session/{session}/{path}", self.driver_url);
            let Ok(response) = http
                .post(&url)
                .json(&json!({"type": "browser"}))
                .send()
                .await
            else {
                continue;
            };
            if !response.status().is_success() {
                continue;
            }
            let body: Value = response.json().await.expect("log answer is JSON");
            return body["value"]
                .as_array()
                .map(|entries| {
                    entries
                        .iter()
                        .map(|e| format!("{} {}", e["level"], e["message"]))
                        .collect()
                })
                .unwrap_or_default();
        }
        panic!("chromedriver gave no browser log");
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
        // Drop ends chromedriver and every browser process it started.
    }
}

impl Drop for Browser {
    /// Also runs when a test fails half-way: without it the browser would outlive the test.
    fn drop(&mut self) {
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
