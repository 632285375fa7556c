//! HubSpot's CRM v3 API as the sandbox plays it: contact search (`filterGroups`: filters in a group AND, groups
//! OR; `EQ`, `NEQ`, `CONTAINS_TOKEN`, `HAS_PROPERTY`, `NOT_HAS_PROPERTY`), contact read by id or
//! `idProperty=email` with associations, company read, deal batch read, contact create (`{"properties": {…}}` →
//! 201; an e-mail already taken → 409 "Contact already exists. Existing ID: N"). Bearer auth with the sandbox
//! token; errors in HubSpot's `{status, message, correlationId, category}` shape.

use super::Sandbox;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// What a search returns when the request names no properties.
const DEFAULT_PROPERTIES: &[&str] =
    &["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"];

pub fn routes(sandbox: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/crm/v3/objects/contacts", post(create_contact))
        .route("/crm/v3/objects/contacts/search", post(search_contacts))
        .route("/crm/v3/objects/contacts/{id}", get(read_contact))
        .route("/crm/v3/objects/companies/{id}", get(read_company))
        .route("/crm/v3/objects/deals/batch/read", post(read_deals))
        .route_layer(axum::middleware::from_fn_with_state(sandbox.clone(), require_credentials))
        .with_state(sandbox)
}

/// Every API call must carry the sandbox's credentials, as the real provider requires its own.
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

/// A HubSpot error answer: `{"status": "error", "message", "correlationId", "category"}`.
struct HsError {
    status: StatusCode,
    category: &'static str,
    message: String,
}

impl IntoResponse for HsError {
    fn into_response(self) -> Response {
        let body = json!({
            "status": "error",
            "message": self.message,
            "correlationId": super::world::random_id(12),
            "category": self.category,
        });
        (self.status, Json(body)).into_response()
    }
}

/// HubSpot's answer for an unknown object id.
fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.")
}

fn error(status: StatusCode, category: &'static str, message: &str) -> Response {
    HsError { status, category, message: message.to_string() }.into_response()
}

fn authorize(sandbox: &Sandbox, headers: &HeaderMap) -> Result<(), HsError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let expected = sandbox.credentials.hubspot_token.as_bytes();
    match presented {
        Some(p) if bool::from(p.as_bytes().ct_eq(expected)) => Ok(()),
        _ => Err(HsError {
            status: StatusCode::UNAUTHORIZED,
            category: "INVALID_AUTHENTICATION",
            message: "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview".into(),
        }),
    }
}

/// An object with only the named properties (HubSpot returns the ones asked for, `null` when unset).
fn with_properties(object: &Value, names: &[String], keep_associations: &[&str]) -> Value {
    let mut out = object.clone();
    let all = object["properties"].as_object().cloned().unwrap_or_default();
    let mut chosen = Map::new();
    for name in names {
        chosen.insert(name.clone(), all.get(name).cloned().unwrap_or(Value::Null));
    }
    for always in ["hs_object_id", "createdate", "lastmodifieddate"] {
        if let Some(v) = all.get(always) {
            chosen.entry(always).or_insert_with(|| v.clone());
        }
    }
    out["properties"] = Value::Object(chosen);
    if let Some(map) = out.as_object_mut() {
        let associations = map.remove("associations");
        let kept: Map<String, Value> = associations
            .and_then(|a| a.as_object().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, v)| {
                keep_associations.contains(&k.as_str()) && v["results"].as_array().is_some_and(|r| !r.is_empty())
            })
            .collect();
        if !kept.is_empty() {
            map.insert("associations".into(), Value::Object(kept));
        }
    }
    out
}

fn property_list(names: Option<&str>) -> Vec<String> {
    match names {
        Some(n) => n.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect(),
        None => DEFAULT_PROPERTIES.iter().map(|s| s.to_string()).collect(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchRequest {
    #[serde(default)]
    filter_groups: Vec<FilterGroup>,
    #[serde(default)]
    properties: Vec<String>,
    #[serde(default)]
    sorts: Vec<Value>,
    limit: Option<usize>,
    after: Option<String>,
}

#[derive(Deserialize)]
struct FilterGroup {
    #[serde(default)]
    filters: Vec<Filter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    property_name: String,
    operator: String,
    value: Option<String>,
}

impl Filter {
    fn matches(&self, object: &Value) -> Result<bool, String> {
        let actual = object["properties"][&self.property_name].as_str().map(str::to_lowercase);
        let wanted = self.value.as_deref().map(str::to_lowercase);
        Ok(match self.operator.as_str() {
            "EQ" => actual.is_some() && actual == wanted,
            "NEQ" => actual != wanted,
            "HAS_PROPERTY" => actual.is_some_and(|a| !a.is_empty()),
            "NOT_HAS_PROPERTY" => actual.is_none_or(|a| a.is_empty()),
            "CONTAINS_TOKEN" => match (actual, wanted) {
                (Some(a), Some(w)) => {
                    let w = w.trim_matches('*');
                    a.split(|c: char| !c.is_alphanumeric()).any(|token| token == w)
                }
                _ => false,
            },
            other => return Err(format!("The sandbox does not support the filter operator {other}.")),
        })
    }
}

/// The properties a created contact may set (others are refused, as HubSpot refuses unknown properties).
const WRITABLE: &[&str] = &["email", "firstname", "lastname", "phone", "mobilephone", "company"];

async fn create_contact(State(sandbox): State<Arc<Sandbox>>, body: axum::body::Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "Invalid input JSON on line 1");
    };
    let Some(properties) = request["properties"].as_object().cloned() else {
        return error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "properties is required");
    };
    if let Some(unknown) = properties.keys().find(|k| !WRITABLE.contains(&k.as_str())) {
        let message = format!("Property values were not valid: Property \"{unknown}\" does not exist");
        return error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", &message);
    }
    let now = crate::domain::time::now();
    let created = sandbox
        .update(move |world| {
            let email = properties.get("email").and_then(Value::as_str).map(str::to_ascii_lowercase);
            let taken = world.contacts.iter().find(|c| {
                email.is_some() && c["properties"]["email"].as_str().map(str::to_ascii_lowercase) == email
            });
            if let Some(existing) = taken {
                let id = existing["id"].as_str().unwrap_or_default().to_string();
                return Err(format!("Contact already exists. Existing ID: {id}"));
            }
            let id = format!("9{:010}", 100_000 + world.contacts.len());
            let at = crate::domain::time::rfc3339(now).unwrap_or_default();
            let mut props = properties.clone();
            for (k, v) in [("createdate", &at), ("lastmodifieddate", &at), ("hs_object_id", &id)] {
                props.insert(k.into(), json!(v));
            }
            props.insert("lifecyclestage".into(), json!("lead"));
            let contact = json!({"id": id, "properties": props, "createdAt": at, "updatedAt": at, "archived": false, "associations": {}});
            world.contacts.push(contact.clone());
            Ok(contact)
        })
        .await;
    match created {
        Ok(contact) => (StatusCode::CREATED, Json(contact)).into_response(),
        Err(super::UpdateError::Rejected(message)) => error(StatusCode::CONFLICT, "CONFLICT", &message),
        Err(super::UpdateError::Storage(e)) => {
            tracing::error!(error = %e, "the sandbox could not save a contact");
            error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "internal error")
        }
    }
}

async fn search_contacts(State(sandbox): State<Arc<Sandbox>>, body: axum::body::Bytes) -> Response {
    let request: SearchRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", &format!("Invalid input JSON: {e}"));
        }
    };
    let limit = request.limit.unwrap_or(10);
    if !(1..=200).contains(&limit) {
        return error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "limit must be between 1 and 200");
    }
    let offset: usize = request.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0);
    let contacts = sandbox.read(|w| w.contacts.clone()).await;
    let mut matched = Vec::new();
    for contact in contacts {
        let mut any = request.filter_groups.is_empty();
        for group in &request.filter_groups {
            let mut all = true;
            for filter in &group.filters {
                match filter.matches(&contact) {
                    Ok(m) => all &= m,
                    Err(message) => return error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", &message),
                }
            }
            any |= all;
        }
        if any {
            matched.push(contact);
        }
    }
    sort(&mut matched, &request.sorts);
    let names = if request.properties.is_empty() { property_list(None) } else { request.properties.clone() };
    let total = matched.len();
    let results: Vec<Value> =
        matched.iter().skip(offset).take(limit).map(|c| with_properties(c, &names, &[])).collect();
    let mut page = json!({"total": total, "results": results});
    let next = offset.saturating_add(limit);
    if next < total {
        let after = next.to_string();
        page["paging"] = json!({"next": {"after": after, "link": format!("?after={after}")}});
    }
    Json(page).into_response()
}

/// `sorts: [{"propertyName": "createdate", "direction": "DESCENDING"}]` (ISO timestamps sort as text).
fn sort(objects: &mut [Value], sorts: &[Value]) {
    if let Some(first) = sorts.first() {
        let property = first["propertyName"].as_str().unwrap_or("createdate").to_string();
        let descending = first["direction"] == "DESCENDING";
        objects.sort_by(|a, b| {
            let key = |o: &Value| o["properties"][&property].as_str().unwrap_or_default().to_string();
            let order = key(a).cmp(&key(b));
            if descending { order.reverse() } else { order }
        });
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadQuery {
    properties: Option<String>,
    associations: Option<String>,
    id_property: Option<String>,
}

async fn read_contact(
    State(sandbox): State<Arc<Sandbox>>,
    Path(id): Path<String>,
    Query(q): Query<ReadQuery>,
) -> Response {
    let by = q.id_property.as_deref().unwrap_or("hs_object_id").to_string();
    let wanted = id.to_lowercase();
    let found = sandbox
        .read(|w| {
            w.contacts
                .iter()
                .find(|c| {
                    let value = if by == "hs_object_id" { c["id"].as_str() } else { c["properties"][&by].as_str() };
                    value.map(str::to_lowercase).as_deref() == Some(wanted.as_str())
                })
                .cloned()
        })
        .await;
    let associations: Vec<&str> =
        q.associations.as_deref().map(|a| a.split(',').map(str::trim).collect()).unwrap_or_default();
    match found {
        Some(contact) => {
            Json(with_properties(&contact, &property_list(q.properties.as_deref()), &associations)).into_response()
        }
        None => not_found(),
    }
}

async fn read_company(
    State(sandbox): State<Arc<Sandbox>>,
    Path(id): Path<String>,
    Query(q): Query<ReadQuery>,
) -> Response {
    match sandbox.read(|w| w.companies.iter().find(|c| c["id"] == id.as_str()).cloned()).await {
        Some(company) => Json(with_properties(&company, &property_list(q.properties.as_deref()), &[])).into_response(),
        None => not_found(),
    }
}

#[derive(Deserialize)]
struct BatchRead {
    #[serde(default)]
    properties: Vec<String>,
    inputs: Vec<BatchInput>,
}

#[derive(Deserialize)]
struct BatchInput {
    id: String,
}

async fn read_deals(State(sandbox): State<Arc<Sandbox>>, body: axum::body::Bytes) -> Response {
    let request: BatchRead = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", &format!("Invalid input JSON: {e}")),
    };
    let deals = sandbox.read(|w| w.deals.clone()).await;
    let names = if request.properties.is_empty() { property_list(None) } else { request.properties };
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for input in &request.inputs {
        match deals.iter().find(|d| d["id"] == input.id.as_str()) {
            Some(deal) => results.push(with_properties(deal, &names, &[])),
            None => missing.push(input.id.clone()),
        }
    }
    let now = crate::domain::time::rfc3339(crate::domain::time::now()).unwrap_or_default();
    let mut answer = json!({"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now});
    if missing.is_empty() {
        return Json(answer).into_response();
    }
    // HubSpot answers a partly failed batch with 207 Multi-Status and the errors beside the results.
    answer["numErrors"] = json!(1);
    answer["errors"] = json!([{
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": "Could not get some DEAL objects, they may be deleted or not exist. Check that ids are valid.",
        "context": {"ids": missing}
    }]);
    (StatusCode::MULTI_STATUS, Json(answer)).into_response()
}
