//! Notion's API as the sandbox plays it (`Notion-Version` 2025-09-03, data sources): the "Invoices" database
//! (`GET /v1/databases/{id}`), its data source (`GET /v1/data_sources/{id}`, the schema), a query over its rows
//! (`POST /v1/data_sources/{id}/query`: `filter`, `sorts`, `page_size` ≤ 100 and `start_cursor` paging), and a
//! row's page (`GET` / `PATCH /v1/pages/{id}`, property writes). Bearer auth with the sandbox's integration
//! token; a missing `Notion-Version` is refused as Notion refuses it; errors in Notion's envelope
//! `{"object": "error", "status", "code", "message", "request_id"}`; ids accepted with or without dashes.
//!
//! - [`wire`]: Notion's object shapes. - [`filter`]: query filters and sorts. - [`edit`]: property writes.
//! - [`view`]: `/sandbox/notion/page/{id}`, a row as a person sees it (Status, Payment Link, Paid At).

pub mod edit;
pub mod filter;
pub mod view;
pub mod wire;

use super::{Sandbox, UpdateError};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The API versions the sandbox speaks: data sources exist from 2025-09-03.
pub const VERSIONS: &[&str] = &["2025-09-03", "2026-03-11"];
/// Rows per query page when the request names no `page_size` (Notion's default and maximum).
const MAX_PAGE_SIZE: u64 = 100;
/// The keys a query body may carry.
const QUERY_KEYS: &[&str] = &["filter", "sorts", "start_cursor", "page_size", "in_trash", "result_type"];

pub fn routes(sandbox: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/v1/databases/{id}", get(retrieve_database))
        .route("/v1/data_sources/{id}", get(retrieve_data_source))
        .route("/v1/data_sources/{id}/query", post(query))
        .route("/v1/pages/{id}", get(retrieve_page).patch(update_page))
        .fallback(|| async { NotionError::new(StatusCode::BAD_REQUEST, "invalid_request_url", "Invalid request URL.") })
        .route_layer(axum::middleware::from_fn_with_state(sandbox.clone(), require_credentials))
        // The person's view takes no token, like the pay page (added after the layer, which guards only the API).
        .route("/page/{id}", get(view::show))
        .with_state(sandbox)
}

/// A Notion error answer.
pub(crate) struct NotionError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl NotionError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        NotionError { status, code, message: message.into() }
    }

    fn validation(message: impl Into<String>) -> Self {
        NotionError::new(StatusCode::BAD_REQUEST, "validation_error", message)
    }

    /// Notion's 404: the object does not exist, or is not shared with the integration.
    fn not_found(what: &str, id: &str) -> Self {
        let message = format!(
            "Could not find {what} with ID: {id}. Make sure the relevant pages and databases are shared with your \
             integration."
        );
        NotionError::new(StatusCode::NOT_FOUND, "object_not_found", message)
    }
}

impl IntoResponse for NotionError {
    fn into_response(self) -> Response {
        let body = json!({
            "object": "error",
            "status": self.status.as_u16(),
            "code": self.code,
            "message": self.message,
            "request_id": super::world::uuid(),
        });
        (self.status, Json(body)).into_response()
    }
}

/// Every call carries the integration token and a `Notion-Version` the sandbox speaks.
async fn require_credentials(
    State(sandbox): State<Arc<Sandbox>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match authorize(&sandbox, request.headers()) {
        Ok(()) => next.run(request).await,
        Err(denied) => denied.into_response(),
    }
}

fn authorize(sandbox: &Sandbox, headers: &HeaderMap) -> Result<(), NotionError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let expected = sandbox.credentials.notion_token.as_bytes();
    if !presented.is_some_and(|p| bool::from(p.as_bytes().ct_eq(expected))) {
        return Err(NotionError::new(StatusCode::UNAUTHORIZED, "unauthorized", "API token is invalid."));
    }
    match headers.get("notion-version").map(|v| v.to_str().unwrap_or_default().trim()) {
        None => Err(NotionError::new(
            StatusCode::BAD_REQUEST,
            "missing_version",
            "Notion-Version header failed validation: Notion-Version header should be defined, instead was \
             `undefined`.",
        )),
        Some(version) if VERSIONS.contains(&version) => Ok(()),
        Some(version) => Err(NotionError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "The sandbox speaks Notion-Version {} (data sources); this request asked for `{}`.",
                VERSIONS.join(" or "),
                crate::domain::text::clip(version, 40)
            ),
        )),
    }
}

/// A path id (dashes optional) as Notion writes ids, or the validation error Notion gives for a malformed one.
fn path_id(field: &str, id: &str) -> Result<String, NotionError> {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    match crate::config::notion_id(&hex) {
        Some(dashed) if hex.len() == 32 => Ok(dashed),
        _ => Err(NotionError::validation(format!(
            "path failed validation: path.{field} should be a valid uuid, instead was `\"{}\"`.",
            crate::domain::text::clip(id, 60)
        ))),
    }
}

/// An object as a response body: with the response's `request_id`.
fn respond(mut object: Value) -> Response {
    object["request_id"] = json!(super::world::uuid());
    Json(object).into_response()
}

/// A page as the API returns it: its `url` opens the sandbox's view of it.
pub(crate) fn present(sandbox: &Sandbox, page: &Value) -> Value {
    let mut page = page.clone();
    let id = page["id"].as_str().unwrap_or_default().replace('-', "");
    page["url"] = json!(sandbox.notion_page_url(&id));
    page
}

async fn retrieve_database(State(sandbox): State<Arc<Sandbox>>, Path(id): Path<String>) -> Response {
    let id = match path_id("database_id", &id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    match sandbox.read(|w| (w.notion.database_id() == id).then(|| w.notion.database.clone())).await {
        Some(database) => respond(database),
        None => NotionError::not_found("database", &id).into_response(),
    }
}

async fn retrieve_data_source(State(sandbox): State<Arc<Sandbox>>, Path(id): Path<String>) -> Response {
    let id = match path_id("data_source_id", &id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    match sandbox.read(|w| (w.notion.data_source_id() == id).then(|| w.notion.data_source.clone())).await {
        Some(source) => respond(source),
        None => NotionError::not_found("data source", &id).into_response(),
    }
}

async fn retrieve_page(State(sandbox): State<Arc<Sandbox>>, Path(id): Path<String>) -> Response {
    let id = match path_id("page_id", &id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    match sandbox.read(|w| w.notion.page(&id).map(|i| w.notion.pages[i].clone())).await {
        Some(page) => respond(present(&sandbox, &page)),
        None => NotionError::not_found("page", &id).into_response(),
    }
}

/// The JSON object a body must be, or Notion's answer for one that is not.
fn body_object(body: &[u8]) -> Result<Map<String, Value>, NotionError> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(NotionError::validation("body failed validation: body should be an object.")),
        Err(_) => Err(NotionError::new(StatusCode::BAD_REQUEST, "invalid_json", "Error parsing JSON body.")),
    }
}

async fn query(State(sandbox): State<Arc<Sandbox>>, Path(id): Path<String>, body: axum::body::Bytes) -> Response {
    match run_query(&sandbox, &id, &body).await {
        Ok(list) => respond(list),
        Err(e) => e.into_response(),
    }
}

async fn run_query(sandbox: &Sandbox, id: &str, body: &[u8]) -> Result<Value, NotionError> {
    let id = path_id("data_source_id", id)?;
    let request = body_object(body)?;
    if let Some(extra) = request.keys().find(|k| !QUERY_KEYS.contains(&k.as_str())) {
        return Err(NotionError::validation(format!("body failed validation: body.{extra} should be not present.")));
    }
    let page_size = match request.get("page_size") {
        None | Some(Value::Null) => MAX_PAGE_SIZE,
        Some(n) => n.as_u64().filter(|n| (1..=MAX_PAGE_SIZE).contains(n)).ok_or_else(|| {
            NotionError::validation(format!(
                "body failed validation: body.page_size should be a number from 1 to {MAX_PAGE_SIZE}, instead was \
                 `{n}`."
            ))
        })?,
    };
    let in_trash = request.get("in_trash").and_then(Value::as_bool).unwrap_or(false);
    let (schema, mut rows) = sandbox
        .read(|w| {
            (w.notion.data_source_id() == id).then(|| {
                let schema = w.notion.data_source["properties"].as_object().cloned().unwrap_or_default();
                (schema, w.notion.pages.clone())
            })
        })
        .await
        .ok_or_else(|| NotionError::not_found("data source", &id))?;
    let filter =
        request.get("filter").map(|f| filter::parse(f, &schema)).transpose().map_err(NotionError::validation)?;
    let default_order = json!([{"timestamp": "created_time", "direction": "descending"}]);
    let sorts = filter::parse_sorts(request.get("sorts").unwrap_or(&default_order), &schema)
        .map_err(NotionError::validation)?;
    rows.retain(|p| p["in_trash"].as_bool().unwrap_or(false) == in_trash);
    rows.retain(|p| filter.as_ref().is_none_or(|f| f.matches(p)));
    filter::sort(&mut rows, &sorts);
    // A cursor is the id of the first row of the next page, as Notion's are.
    let start = match request.get("start_cursor").and_then(Value::as_str) {
        None => 0,
        Some(cursor) => rows.iter().position(|p| p["id"].as_str() == Some(cursor)).ok_or_else(|| {
            NotionError::validation(format!(
                "body failed validation: body.start_cursor `{}` is not a cursor of this query.",
                crate::domain::text::clip(cursor, 60)
            ))
        })?,
    };
    let size = usize::try_from(page_size).unwrap_or(100);
    let results: Vec<Value> = rows.iter().skip(start).take(size).map(|p| present(sandbox, p)).collect();
    let next = rows.get(start + size).map(|p| p["id"].clone());
    Ok(json!({
        "object": "list",
        "results": results,
        "next_cursor": next.clone().unwrap_or(Value::Null),
        "has_more": next.is_some(),
        "type": "page_or_data_source",
        "page_or_data_source": {},
    }))
}

async fn update_page(State(sandbox): State<Arc<Sandbox>>, Path(id): Path<String>, body: axum::body::Bytes) -> Response {
    let id = match path_id("page_id", &id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let request = match body_object(&body) {
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    if let Some(extra) = request.keys().find(|k| k.as_str() != "properties") {
        let message =
            format!("body failed validation: the sandbox updates page properties only; body.{extra} is not supported.");
        return NotionError::validation(message).into_response();
    }
    let Some(writes) = request.get("properties").and_then(Value::as_object).cloned() else {
        return NotionError::validation("body failed validation: body.properties should be an object.").into_response();
    };
    let now = crate::domain::time::now();
    let updated = sandbox
        .update(move |world| {
            let i = world.notion.page(&id).ok_or_else(|| NotionError::not_found("page", &id))?;
            let notion = &mut world.notion;
            let mut schema = notion.data_source["properties"].as_object().cloned().unwrap_or_default();
            let page = &mut notion.pages[i];
            if page["in_trash"].as_bool().unwrap_or(false) {
                return Err(NotionError::validation(
                    "Can't edit block that is archived. You must unarchive the block before editing.",
                ));
            }
            edit::apply(page, &mut schema, &writes).map_err(NotionError::validation)?;
            page["last_edited_time"] = json!(wire::timestamp(now));
            let page = page.clone();
            notion.data_source["properties"] = Value::Object(schema);
            Ok(page)
        })
        .await;
    match updated {
        Ok(page) => respond(present(&sandbox, &page)),
        Err(UpdateError::Rejected(e)) => e.into_response(),
        Err(UpdateError::Storage(e)) => {
            tracing::error!(error = %e, "the sandbox could not save a Notion page");
            NotionError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_server_error",
                "An unexpected error occurred.",
            )
            .into_response()
        }
    }
}
