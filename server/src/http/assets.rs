//! The browser UI: the Leptos bundle from `frontend/dist`, embedded in release builds so one file
//! deploys. Unknown paths get `index.html` so the UI's own routes survive a reload.

use actix_web::{HttpRequest, HttpResponse, http::header};
use rust_embed::RustEmbed;

use super::error::json_error;

#[derive(RustEmbed)]
#[folder = "../frontend/dist"]
#[allow_missing = true]
struct Assets;

const NOT_BUILT: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Glidepath</title></head>\
<body><h1>Glidepath</h1><p>The web UI was not built into this binary. Build it with \
<code>scripts/build-frontend.sh</code>, then rebuild the server. The GraphQL API is at \
<a href=\"/graphql\">/graphql</a>.</p></body></html>";

pub async fn serve(req: HttpRequest) -> HttpResponse {
    let path = req.path().trim_start_matches('/');
    if path.starts_with("api/") {
        return json_error(
            actix_web::http::StatusCode::NOT_FOUND,
            "not_found",
            "no such API route",
        );
    }
    let (name, file) = match Assets::get(path).filter(|_| !path.is_empty()) {
        Some(file) => (path, file),
        None => match Assets::get("index.html") {
            Some(file) => ("index.html", file),
            None => {
                return HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .body(NOT_BUILT);
            }
        },
    };
    let cache = if name == "index.html" {
        "no-cache"
    } else {
        "public, max-age=3600"
    };
    HttpResponse::Ok()
        .content_type(file.metadata.mimetype())
        .insert_header((header::CACHE_CONTROL, cache))
        .body(file.data.into_owned())
}
