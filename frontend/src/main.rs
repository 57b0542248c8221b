//! The Glidepath web UI, rendered in the browser (Leptos, client-side). It talks to the server
//! only through `/graphql`, like any integrator.

use leptos::prelude::*;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    view! {
        <main class="shell">
            <header class="brand">
                <h1>"Glidepath"</h1>
                <p class="tagline">"On-call alerting for teams that run on ServiceNow"</p>
            </header>
            <section class="card">
                <h2>"The server is running"</h2>
                <p>
                    "Alerts arrive from ServiceNow through each alert source's webhook. "
                    "Explore and script the API in "
                    <a href="/graphql">"GraphiQL"</a>
                    "."
                </p>
            </section>
        </main>
    }
}
