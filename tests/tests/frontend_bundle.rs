//! The web UI as the server ships it: the schema its typed operations are checked against is the
//! server's current one, and the bundle goes out compressed.

use glidepath_tests::*;

/// The UI's operations are compiled against `frontend/schema.graphql`. When the API changes,
/// regenerate it: `cargo build -p server && target/debug/glidepath schema > frontend/schema.graphql`.
#[tokio::test]
async fn committed_frontend_schema_matches_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_glidepath(&["schema"], &[], dir.path()).await;
    assert!(output.status.success(), "glidepath schema failed");
    let current = String::from_utf8(output.stdout).expect("schema is UTF-8");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend/schema.graphql");
    let committed = std::fs::read_to_string(&path).expect("frontend/schema.graphql exists");
    assert!(
        committed == current,
        "frontend/schema.graphql is stale: regenerate it with \
         `cargo build -p server && target/debug/glidepath schema > frontend/schema.graphql`, \
         then rebuild the UI (scripts/build-frontend.sh)"
    );
}

async fn fetch(app: &TestApp, path: &str, encoding: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("accept-encoding", encoding)
        .send()
        .await
        .expect("GET")
}

#[tokio::test]
async fn ui_bundle_is_served_gzip_compressed() {
    let app = spawn_app().await;
    let wasm = fetch(&app, "/frontend_bg.wasm", "gzip").await;
    assert_eq!(wasm.status(), StatusCode::OK);
    assert_eq!(
        wasm.headers()["content-type"],
        "application/wasm",
        "the UI bundle is not built into the binary: run scripts/build-frontend.sh, then rebuild the server"
    );
    assert_eq!(wasm.headers()["content-encoding"], "gzip");
    let compressed = wasm.bytes().await.unwrap().len();

    let plain = fetch(&app, "/frontend_bg.wasm", "identity").await;
    assert!(plain.headers().get("content-encoding").is_none());
    let size = plain.bytes().await.unwrap().len();
    assert!(
        compressed * 2 < size,
        "gzip {compressed} bytes vs {size} plain"
    );

    let js = fetch(&app, "/frontend.js", "gzip").await;
    assert_eq!(js.status(), StatusCode::OK);
    assert_eq!(js.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn ui_routes_fall_back_to_the_app_page() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/alerts",
        "/alerts/0192f7d0-0000-7000-8000-000000000000",
        "/sources",
    ] {
        let response = fetch(&app, path, "identity").await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body = response.text().await.unwrap();
        assert!(
            body.contains("/boot.js"),
            "{path} does not load the UI: {body}"
        );
    }
    // The page's only script is a file (the Content-Security-Policy forbids inline ones), and it
    // starts the bundle.
    let boot = fetch(&app, "/boot.js", "identity").await;
    assert_eq!(boot.status(), StatusCode::OK);
    assert!(boot.text().await.unwrap().contains("/frontend.js"));
}
