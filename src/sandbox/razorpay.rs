//! Razorpay's REST API as the sandbox plays it: `/v1/payment_links` (create, fetch, list by `reference_id`,
//! cancel), `/v1/invoices` (fetch, list with `customer_id`/`from`/`to`/`count`/`skip`), `/v1/payments/{id}`.
//! Basic auth with the sandbox key; amounts in paise; errors in Razorpay's envelope, with "not found" as a 400
//! ("The id provided does not exist"), as Razorpay sends it.

use super::world::{World, random_id};
use super::{Sandbox, UpdateError};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The largest amount the sandbox accepts (₹5 crore in paise); Razorpay also refuses amounts over a limit.
pub(crate) const MAX_AMOUNT: i64 = 5_000_000_000;

/// Fields `POST /v1/payment_links` accepts.
const LINK_FIELDS: &[&str] = &[
    "amount",
    "currency",
    "accept_partial",
    "first_min_partial_amount",
    "description",
    "reference_id",
    "customer",
    "expire_by",
    "notify",
    "reminder_enable",
    "notes",
    "callback_url",
    "callback_method",
    "upi_link",
    "options",
];

pub fn routes(sandbox: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/v1/payment_links", post(create_link).get(list_links))
        .route("/v1/payment_links/{id}", get(fetch_link))
        .route("/v1/payment_links/{id}/cancel", post(cancel_link))
        .route("/v1/invoices", get(list_invoices))
        .route("/v1/invoices/{id}", get(fetch_invoice))
        .route("/v1/payments/{id}", get(fetch_payment))
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

/// A Razorpay error answer: `{"error": {"code", "description", "field", …}}`.
pub(crate) struct RzError {
    status: StatusCode,
    description: String,
    field: Option<String>,
}

impl IntoResponse for RzError {
    fn into_response(self) -> Response {
        let code = if self.status.is_server_error() { "SERVER_ERROR" } else { "BAD_REQUEST_ERROR" };
        let body = json!({"error": {
            "code": code, "description": self.description, "field": self.field,
            "source": "NA", "step": "NA", "reason": "NA", "metadata": {}
        }});
        (self.status, Json(body)).into_response()
    }
}

fn bad_request(description: impl Into<String>, field: Option<&str>) -> RzError {
    RzError { status: StatusCode::BAD_REQUEST, description: description.into(), field: field.map(str::to_string) }
}

fn not_found() -> RzError {
    bad_request("The id provided does not exist", None)
}

fn storage_failed(e: &std::io::Error) -> Response {
    tracing::error!(error = %e, "the sandbox could not save its state");
    let description = "The sandbox could not save its state; try again.".to_string();
    RzError { status: StatusCode::INTERNAL_SERVER_ERROR, description, field: None }.into_response()
}

/// Basic auth with the sandbox key id and secret, compared in constant time.
fn authorize(sandbox: &Sandbox, headers: &HeaderMap) -> Result<(), RzError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok());
    let c = &sandbox.credentials;
    let expected = format!("{}:{}", c.razorpay_key_id, c.razorpay_key_secret);
    match presented {
        Some(p) if bool::from(p.as_slice().ct_eq(expected.as_bytes())) => Ok(()),
        _ => Err(RzError {
            status: StatusCode::UNAUTHORIZED,
            description: "The api key provided is invalid".into(),
            field: None,
        }),
    }
}

/// A link as the API returns it: its `short_url` is this sandbox's pay page, and an unpaid link whose
/// `expire_by` has passed reads as expired.
pub(crate) fn present(sandbox: &Sandbox, link: &Value, now: i64) -> Value {
    let mut link = link.clone();
    let id = link["id"].as_str().unwrap_or_default().to_string();
    link["short_url"] = json!(sandbox.pay_url(&id));
    let expire_by = link["expire_by"].as_i64().unwrap_or(0);
    if link["status"] == "created" && expire_by > 0 && expire_by <= now {
        link["status"] = json!("expired");
        link["expired_at"] = json!(expire_by);
    }
    link
}

async fn create_link(State(sandbox): State<Arc<Sandbox>>, body: axum::body::Bytes) -> Response {
    let now = crate::domain::time::now();
    let request = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => map,
        _ => return bad_request("The request body must be a JSON object.", None).into_response(),
    };
    let link = match new_link(&request, now) {
        Ok(link) => link,
        Err(rejection) => return rejection.into_response(),
    };
    let created = sandbox
        .update(move |world| {
            if let Some(reference) = link["reference_id"].as_str().filter(|r| !r.is_empty())
                && world.payment_links.iter().any(|l| l["reference_id"].as_str() == Some(reference))
            {
                return Err(bad_request("payment link creation with reference ID already attempted", None));
            }
            world.payment_links.insert(0, link.clone());
            Ok(link)
        })
        .await;
    match created {
        Ok(link) => Json(present(&sandbox, &link, now)).into_response(),
        Err(UpdateError::Rejected(rejection)) => rejection.into_response(),
        Err(UpdateError::Storage(e)) => storage_failed(&e),
    }
}

/// Validate a create request the way Razorpay does and build the new link entity.
fn new_link(request: &Map<String, Value>, now: i64) -> Result<Value, RzError> {
    if let Some(extra) = request.keys().find(|k| !LINK_FIELDS.contains(&k.as_str())) {
        return Err(bad_request(format!("{extra} is/are not required and should not be sent"), Some(extra)));
    }
    let amount = match &request.get("amount") {
        None | Some(Value::Null) => return Err(bad_request("The amount field is required.", Some("amount"))),
        Some(v) => v.as_i64().ok_or_else(|| bad_request("The amount must be an integer.", Some("amount")))?,
    };
    if amount < 100 {
        return Err(bad_request("The amount must be at least INR 1.00", Some("amount")));
    }
    if amount > MAX_AMOUNT {
        return Err(bad_request("amount exceeds maximum amount allowed.", Some("amount")));
    }
    let currency = request.get("currency").and_then(Value::as_str).unwrap_or("INR");
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(bad_request("The currency is invalid.", Some("currency")));
    }
    if request.get("upi_link") == Some(&json!(true)) {
        return Err(bad_request("UPI Payment Links is not supported in Test Mode", Some("upi_link")));
    }
    let text = |key: &str, max: usize| -> Result<Option<String>, RzError> {
        match request.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
            Some(Value::String(_)) => {
                Err(bad_request(format!("The {key} may not be greater than {max} characters."), Some(key)))
            }
            Some(_) => Err(bad_request(format!("The {key} must be a string."), Some(key))),
        }
    };
    let description = text("description", 2048)?;
    let reference_id = text("reference_id", 40)?;
    let expire_by = request.get("expire_by").and_then(Value::as_i64).unwrap_or(0);
    if expire_by != 0 && expire_by < now + 15 * 60 {
        return Err(bad_request("timestamp must be atleast 15 minutes in future", Some("expire_by")));
    }
    if request.contains_key("callback_url") && request.get("callback_method").and_then(Value::as_str) != Some("get") {
        return Err(bad_request("callback_method should be 'get' when callback_url is set", Some("callback_method")));
    }
    let customer = request.get("customer").cloned().unwrap_or_else(|| json!({}));
    let notify = request.get("notify").cloned().unwrap_or_else(|| json!({"sms": false, "email": false}));
    let notes = match request.get("notes") {
        Some(Value::Object(n)) if !n.is_empty() => Value::Object(n.clone()),
        _ => Value::Null,
    };
    let flag = |key: &str| request.get(key).and_then(Value::as_bool).unwrap_or(false);
    Ok(json!({
        "accept_partial": flag("accept_partial"),
        "amount": amount,
        "amount_paid": 0,
        "callback_method": request.get("callback_method").cloned().unwrap_or(json!("")),
        "callback_url": request.get("callback_url").cloned().unwrap_or(json!("")),
        "cancelled_at": 0,
        "created_at": now,
        "currency": currency,
        "customer": customer,
        "description": description.unwrap_or_default(),
        "expire_by": expire_by,
        "expired_at": 0,
        "first_min_partial_amount": request.get("first_min_partial_amount").and_then(Value::as_i64).unwrap_or(0),
        "id": format!("plink_{}", random_id(14)),
        "notes": notes,
        "notify": notify,
        "payments": null,
        "reference_id": reference_id.unwrap_or_default(),
        "reminder_enable": flag("reminder_enable"),
        "reminders": [],
        "short_url": "",
        "status": "created",
        "updated_at": now,
        "upi_link": false,
        "user_id": ""
    }))
}

async fn fetch_link(State(sandbox): State<Arc<Sandbox>>, Path(id): Path<String>) -> Response {
    let now = crate::domain::time::now();
    let link = sandbox.read(|w| World::find(&w.payment_links, &id).map(|i| w.payment_links[i].clone())).await;
    match link {
        Some(link) => Json(present(&sandbox, &link, now)).into_response(),
        None => not_found().into_response(),
    }
}

#[derive(Deserialize)]
struct LinkFilter {
    reference_id: Option<String>,
    payment_id: Option<String>,
}

async fn list_links(State(sandbox): State<Arc<Sandbox>>, Query(filter): Query<LinkFilter>) -> Response {
    let now = crate::domain::time::now();
    let links: Vec<Value> = sandbox
        .read(|w| {
            w.payment_links
                .iter()
                .filter(|l| {
                    filter
                        .reference_id
                        .as_deref()
                        .filter(|r| !r.is_empty())
                        .is_none_or(|r| l["reference_id"].as_str() == Some(r))
                })
                .filter(|l| {
                    filter.payment_id.as_deref().is_none_or(|p| {
                        l["payments"].as_array().is_some_and(|ps| ps.iter().any(|x| x["payment_id"] == p))
                    })
                })
                .map(|l| present(&sandbox, l, now))
                .collect()
        })
        .await;
    Json(json!({"payment_links": links})).into_response()
}

async fn cancel_link(State(sandbox): State<Arc<Sandbox>>, Path(id): Path<String>) -> Response {
    let now = crate::domain::time::now();
    let inner = sandbox.clone();
    let cancelled = sandbox
        .update(move |world| {
            let i = World::find(&world.payment_links, &id).ok_or_else(not_found)?;
            let current = present(&inner, &world.payment_links[i], now);
            match current["status"].as_str() {
                Some("created" | "partially_paid") => {}
                Some(status) => {
                    return Err(bad_request(format!("Payment link cannot be cancelled as it is {status}"), None));
                }
                None => return Err(bad_request("Payment link cannot be cancelled", None)),
            }
            let link = &mut world.payment_links[i];
            link["status"] = json!("cancelled");
            link["cancelled_at"] = json!(now);
            link["updated_at"] = json!(now);
            Ok(link.clone())
        })
        .await;
    match cancelled {
        Ok(link) => Json(present(&sandbox, &link, now)).into_response(),
        Err(UpdateError::Rejected(rejection)) => rejection.into_response(),
        Err(UpdateError::Storage(e)) => storage_failed(&e),
    }
}

#[derive(Deserialize)]
struct InvoiceFilter {
    #[serde(rename = "type")]
    kind: Option<String>,
    customer_id: Option<String>,
    receipt: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    count: Option<usize>,
    skip: Option<usize>,
}

async fn list_invoices(State(sandbox): State<Arc<Sandbox>>, Query(f): Query<InvoiceFilter>) -> Response {
    let count = f.count.unwrap_or(10);
    if !(1..=100).contains(&count) {
        return bad_request("The count must be between 1 and 100.", Some("count")).into_response();
    }
    let items: Vec<Value> = sandbox
        .read(|w| {
            w.invoices
                .iter()
                .filter(|i| f.kind.as_deref().is_none_or(|k| i["type"] == k))
                .filter(|i| f.customer_id.as_deref().is_none_or(|c| i["customer_id"] == c))
                .filter(|i| f.receipt.as_deref().is_none_or(|r| i["receipt"] == r))
                .filter(|i| f.from.is_none_or(|from| i["created_at"].as_i64().unwrap_or(0) >= from))
                .filter(|i| f.to.is_none_or(|to| i["created_at"].as_i64().unwrap_or(0) <= to))
                .skip(f.skip.unwrap_or(0))
                .take(count)
                .cloned()
                .collect()
        })
        .await;
    Json(json!({"entity": "collection", "count": items.len(), "items": items})).into_response()
}

async fn fetch_invoice(State(sandbox): State<Arc<Sandbox>>, Path(id): Path<String>) -> Response {
    fetch_entity(&sandbox, |w| &w.invoices, &id).await
}

async fn fetch_payment(State(sandbox): State<Arc<Sandbox>>, Path(id): Path<String>) -> Response {
    fetch_entity(&sandbox, |w| &w.payments, &id).await
}

async fn fetch_entity(sandbox: &Sandbox, list: impl FnOnce(&World) -> &Vec<Value>, id: &str) -> Response {
    match sandbox.read(|w| list(w).iter().find(|e| e["id"] == id).cloned()).await {
        Some(entity) => Json(entity).into_response(),
        None => not_found().into_response(),
    }
}
