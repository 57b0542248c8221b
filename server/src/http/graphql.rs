//! `POST /graphql`. (`GET /graphql` is the query page: `query_page`.)
//!
//! The caller comes from `Authorization: Bearer` or the session cookie. Every POST must be
//! `application/json`: a browser can send text/plain, form or multipart bodies cross-site without
//! a preflight, so refusing them keeps the cookie from being usable for CSRF.
//!
//! A batch holds at most `MAX_BATCH` operations and needs an authenticated caller; a request
//! (batch or not) holds at most one `login`, aliases included: each costs an argon2 hash, so
//! more would let one request hash many passwords. Both are refused before anything runs.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use async_graphql_actix_web::GraphQLResponse;
use serde_json::json;

use super::client_addr::client_addr;
use super::{BodyError, BodyTimeout, content_type, read_body};
use crate::graphql::AppSchema;
use crate::graphql::SESSION_COOKIE;
use crate::service::auth;
use crate::state::AppState;

const MAX_BODY: usize = 256 * 1024;
/// Operations per batch at most.
pub const MAX_BATCH: usize = 10;
/// Enough to follow any fragment nesting a real client writes.
const MAX_FRAGMENT_NESTING: usize = 32;

fn bad_request(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .json(json!({"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}))
}

fn token(req: &HttpRequest) -> Option<String> {
    if let Some(value) = req.headers().get(actix_web::http::header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string());
    }
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_string())
}

pub async fn execute(
    state: web::Data<AppState>,
    schema: web::Data<AppSchema>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    if content_type(&req).as_deref() != Some("application/json") {
        return Ok(bad_request(
            StatusCode::BAD_REQUEST,
            "POST /graphql needs Content-Type: application/json",
        ));
    }
    let body = match read_body(&req, payload, MAX_BODY).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return Ok(bad_request(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request is larger than 256 KiB",
            ));
        }
        Err(BodyError::Timeout) => return Err(BodyTimeout.into()),
        Err(BodyError::Payload(e)) => return Err(e),
    };
    let batch: async_graphql::BatchRequest = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            let msg = format!("not a GraphQL request: {e}");
            return Ok(bad_request(StatusCode::BAD_REQUEST, &msg));
        }
    };
    let requests: Vec<&async_graphql::Request> = match &batch {
        async_graphql::BatchRequest::Single(r) => vec![r],
        async_graphql::BatchRequest::Batch(rs) => rs.iter().collect(),
    };
    if requests.len() > MAX_BATCH {
        let msg = format!("a batch holds at most {MAX_BATCH} operations");
        return Ok(bad_request(StatusCode::BAD_REQUEST, &msg));
    }
    let logins: usize = requests.iter().map(|r| login_fields(&r.query)).sum();
    if logins > 1 {
        return Ok(bad_request(
            StatusCode::BAD_REQUEST,
            "a request may sign in (login) only once",
        ));
    }
    let is_batch = matches!(batch, async_graphql::BatchRequest::Batch(_));
    let caller = match token(&req) {
        Some(t) => auth::authenticate(&state.ctx, &t).await?,
        None => None,
    };
    let batch = match caller {
        Some(c) => batch.data(c),
        None if is_batch => {
            return Ok(HttpResponse::Unauthorized().json(json!({"errors": [{
                "message": "batched operations need a bearer token or a session",
                "extensions": {"code": "UNAUTHENTICATED"}
            }]})));
        }
        None => batch,
    };
    let batch = batch.data(client_addr(&req, &state.trusted_proxies));
    let mut response = schema.execute_batch(batch).await;
    let busy = match &response {
        async_graphql::BatchResponse::Single(r) => too_many(r),
        async_graphql::BatchResponse::Batch(rs) => rs.iter().any(too_many),
    };
    match &mut response {
        async_graphql::BatchResponse::Single(r) => add_missing_codes(r),
        async_graphql::BatchResponse::Batch(rs) => rs.iter_mut().for_each(add_missing_codes),
    }
    let response: GraphQLResponse = response.into();
    use actix_web::Responder;
    let mut http = response.respond_to(&req).map_into_boxed_body();
    if busy {
        *http.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    }
    Ok(http)
}

/// Whether an error says the server is too busy (hash queue full, sign-ins throttled): the HTTP
/// answer is then 429 too, so proxies and clients back off.
fn too_many(response: &async_graphql::Response) -> bool {
    response.errors.iter().any(|e| {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .is_some_and(|c| *c == async_graphql::Value::from("TOO_MANY_REQUESTS"))
    })
}

/// How many `login` fields a document selects at the root of its mutations, through inline
/// fragments and fragment spreads (each fragment counted once per operation). A document that
/// does not parse counts 0: it fails validation without running anything.
fn login_fields(query: &str) -> usize {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    if !query.contains("login") {
        return 0;
    }
    let Ok(doc) = async_graphql::parser::parse_query(query) else {
        return 0;
    };
    let operations: Vec<_> = match &doc.operations {
        DocumentOperations::Single(op) => vec![&op.node],
        DocumentOperations::Multiple(ops) => ops.values().map(|op| &op.node).collect(),
    };
    operations
        .into_iter()
        .filter(|op| op.ty == OperationType::Mutation)
        .map(|op| {
            let mut seen = std::collections::HashSet::new();
            count_logins(&op.selection_set.node, &doc.fragments, &mut seen, 0)
        })
        .sum()
}

fn count_logins(
    set: &async_graphql::parser::types::SelectionSet,
    fragments: &std::collections::HashMap<
        async_graphql::Name,
        async_graphql::Positioned<async_graphql::parser::types::FragmentDefinition>,
    >,
    seen: &mut std::collections::HashSet<async_graphql::Name>,
    depth: usize,
) -> usize {
    use async_graphql::parser::types::Selection;
    if depth > MAX_FRAGMENT_NESTING {
        // Deeper than any schema allows: count it as too many rather than follow it.
        return 2;
    }
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => usize::from(f.node.name.node.as_str() == "login"),
            Selection::InlineFragment(f) => {
                count_logins(&f.node.selection_set.node, fragments, seen, depth + 1)
            }
            Selection::FragmentSpread(s) => {
                let name = &s.node.fragment_name.node;
                match fragments.get(name) {
                    Some(def) if seen.insert(name.clone()) => {
                        count_logins(&def.node.selection_set.node, fragments, seen, depth + 1)
                    }
                    _ => 0,
                }
            }
        })
        .sum()
}

/// Resolver errors carry a code already (`graphql::error::gql`); what is left are errors async-graphql
/// raises itself before running anything: syntax, unknown fields, wrong argument types, and the
/// depth and complexity limits.
fn add_missing_codes(response: &mut async_graphql::Response) {
    for error in &mut response.errors {
        let ext = error.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", "GRAPHQL_VALIDATION_FAILED");
        }
    }
}
