//! The customer's side of a sandbox payment link: `GET /sandbox/pay/{link_id}` shows the amount, description
//! and customer with a Pay button; `POST` pays it (a captured UPI payment and its order are recorded, the link
//! turns `paid`) and the signed webhooks follow after the configured delay. The form can ask for a different
//! delay (`delay_ms`) or for every webhook to be sent twice (`duplicate`).

use super::deliver::{self, Paid, Pending};
use super::world::{World, random_id};
use super::{Sandbox, UpdateError};
use crate::domain::{Currency, Money};
use crate::html::{self, Markup, html};
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The longest delay a pay form may ask for.
const MAX_DELAY_MS: u64 = 60_000;

pub fn routes(sandbox: Arc<Sandbox>) -> Router {
    Router::new().route("/sandbox/pay/{id}", get(show).post(pay)).with_state(sandbox)
}

async fn show(State(sandbox): State<Arc<Sandbox>>, Path(id): Path<String>) -> Response {
    let now = crate::domain::time::now();
    let link = sandbox.read(|w| World::find(&w.payment_links, &id).map(|i| w.payment_links[i].clone())).await;
    match link {
        Some(link) => html::respond(StatusCode::OK, page(&super::razorpay::present(&sandbox, &link, now), &sandbox)),
        None => {
            message(StatusCode::NOT_FOUND, "No such payment link", "This sandbox has no payment link with that id.")
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PayForm {
    /// "on" when the "send every webhook twice" box is ticked.
    #[serde(default)]
    duplicate: Option<String>,
    /// Delay before the webhooks, in milliseconds (default: the demo's `--webhook-delay-ms`).
    #[serde(default)]
    delay_ms: Option<String>,
}

async fn pay(State(sandbox): State<Arc<Sandbox>>, Path(id): Path<String>, Form(form): Form<PayForm>) -> Response {
    let delay = match form.delay_ms.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => sandbox.deliveries.delay,
        Some(d) => match d.parse::<u64>() {
            Ok(ms) if ms <= MAX_DELAY_MS => Duration::from_millis(ms),
            _ => {
                return message(
                    StatusCode::BAD_REQUEST,
                    "Invalid delay",
                    "delay_ms must be a whole number of milliseconds from 0 to 60000.",
                );
            }
        },
    };
    // The form's checkbox decides (the page pre-ticks it under --duplicate-webhooks).
    let copies = if form.duplicate.is_some_and(|d| matches!(d.as_str(), "on" | "true" | "1")) { 2 } else { 1 };
    let now = crate::domain::time::now();
    let paid = {
        let (sandbox, id) = (sandbox.clone(), id.clone());
        sandbox.clone().update(move |world| settle(world, &sandbox, &id, now, copies)).await
    };
    match paid {
        Ok((payment_id, pending)) => {
            tracing::info!(link = %id, payment = %payment_id, "sandbox payment captured");
            deliver::spawn(sandbox.clone(), pending, delay);
            Redirect::to(&format!("/sandbox/pay/{id}")).into_response()
        }
        Err(UpdateError::Rejected((status, title, detail))) => message(status, title, &detail),
        Err(UpdateError::Storage(e)) => {
            tracing::error!(error = %e, "the sandbox could not save a payment");
            message(StatusCode::INTERNAL_SERVER_ERROR, "Not paid", "The sandbox could not save the payment; try again.")
        }
    }
}

type Refusal = (StatusCode, &'static str, String);

/// Pay link `id` in full: a captured payment, a paid order, the link `paid`, and the webhooks owed for it —
/// all in one saved change. Returns the payment id and the deliveries to send.
fn settle(
    world: &mut World,
    sandbox: &Sandbox,
    id: &str,
    now: i64,
    copies: u8,
) -> Result<(String, Vec<Pending>), Refusal> {
    let key_id = &sandbox.credentials.razorpay_key_id;
    let i = World::find(&world.payment_links, id).ok_or((
        StatusCode::NOT_FOUND,
        "No such payment link",
        "This sandbox has no payment link with that id.".into(),
    ))?;
    let link = &world.payment_links[i];
    let expire_by = link["expire_by"].as_i64().unwrap_or(0);
    let status = link["status"].as_str().unwrap_or_default();
    if status != "created" || (expire_by > 0 && expire_by <= now) {
        let status = if status == "created" { "expired" } else { status };
        return Err((
            StatusCode::CONFLICT,
            "Not payable",
            format!("This payment link is {status}; nothing was charged."),
        ));
    }
    let amount = link["amount"].as_i64().unwrap_or(0);
    let currency = link["currency"].clone();
    let payment_id = format!("pay_{}", random_id(14));
    let order_id = format!("order_{}", random_id(14));
    // Amounts are capped at creation (razorpay::MAX_AMOUNT), so these cannot overflow.
    let fee = amount / 50;
    let customer = &link["customer"];
    let payment = json!({
        "id": payment_id, "entity": "payment", "amount": amount, "currency": currency, "base_amount": amount,
        "status": "captured", "order_id": order_id, "invoice_id": null, "international": false, "method": "upi",
        "amount_refunded": 0, "amount_transferred": 0, "refund_status": null, "captured": true,
        "description": link["description"], "card_id": null, "bank": null, "wallet": null, "vpa": "success@razorpay",
        "email": customer["email"].as_str().unwrap_or("void@razorpay.com"),
        "contact": customer["contact"].as_str().unwrap_or("+919000090000"),
        "notes": [], "fee": fee, "tax": fee * 18 / 100,
        "error_code": null, "error_description": null, "error_source": null, "error_step": null, "error_reason": null,
        "acquirer_data": {"rrn": random_id(12).to_uppercase(), "upi_transaction_id": random_id(20)},
        "created_at": now
    });
    let order = json!({
        "id": order_id, "entity": "order", "amount": amount, "amount_paid": amount, "amount_due": 0,
        "currency": currency, "receipt": link["reference_id"], "offer_id": null, "status": "paid", "attempts": 1,
        "notes": [], "created_at": now, "product_type": "payment_link_v2", "product_id": id, "public_key": key_id
    });
    let link = &mut world.payment_links[i];
    link["status"] = json!("paid");
    link["amount_paid"] = json!(amount);
    link["order_id"] = json!(order_id);
    link["updated_at"] = json!(now);
    link["payments"] = json!([{
        "amount": amount, "created_at": now, "method": "upi", "payment_id": payment_id,
        "plink_id": id, "status": "captured", "updated_at": now
    }]);
    let link = super::razorpay::present(sandbox, link, now);
    let paid = Paid { link: &link, order: &order, payment: &payment };
    let pending = deliver::events(&sandbox.credentials.razorpay_account_id, paid, now, copies);
    world.pending.extend(pending.iter().cloned());
    world.payments.push(payment);
    world.orders.push(order);
    Ok((payment_id, pending))
}

/// A sandbox page that only says something (a refusal, "not found"): the kit's message under the sandbox badge.
fn message(status: StatusCode, title: &str, detail: &str) -> Response {
    html::message(status, "Switchboard sandbox", title, detail)
}

/// The pay page of `link` (as the API presents it): amount, description, customer and status, then the Pay form
/// while it is payable, or the payment and the acknowledged deliveries once it is paid.
fn page(link: &Value, sandbox: &Sandbox) -> Markup {
    let defaults = sandbox.deliveries;
    let id = link["id"].as_str().unwrap_or_default();
    let amount = link["amount"].as_i64().unwrap_or(0);
    let formatted = Currency::parse(link["currency"].as_str().unwrap_or("INR"))
        .map(|c| Money::from_minor(amount, c).format())
        .unwrap_or_else(|_| format!("{amount} (minor units)"));
    let customer = &link["customer"];
    let who: Vec<&str> = [field(&customer["name"]), field(&customer["email"]), field(&customer["contact"])]
        .into_iter()
        .flatten()
        .collect();
    let status = link["status"].as_str().unwrap_or("created");
    let payment = link["payments"][0]["payment_id"].as_str();
    let body = html! {
        p class="badge" { "Switchboard sandbox · no real money moves" }
        h1 id="amount" { (formatted) }
        p id="description" { (field(&link["description"]).unwrap_or_default()) }
        p id="customer" {
            @if who.is_empty() { "—" } @else { (who.join(" · ")) }
        }
        p { "Status: " strong id="status" { (status) } }
        @if status == "created" {
            form method="post" action={ "/sandbox/pay/" (id) } {
                label {
                    input type="checkbox" name="duplicate" id="duplicate" checked[defaults.duplicate];
                    " send every webhook twice"
                }
                label {
                    "webhook delay "
                    input type="number" name="delay_ms" id="delay_ms" min="0" max=(MAX_DELAY_MS)
                        value=(defaults.delay.as_millis());
                    " ms"
                }
                button id="pay" type="submit" { "Pay " (formatted) }
            }
        } @else if let Some(payment) = payment {
            p id="paid" { "Paid — payment " code { (payment) } ". The signed webhooks follow." }
            p class="id" {
                "Webhook deliveries acknowledged since the sandbox started: "
                span id="deliveries" { (sandbox.delivered()) }
                " (reload to update)"
            }
        }
        p class="id" { (id) }
    };
    html::page("Pay · Switchboard sandbox", false, None, body)
}

/// `value` as text, if it is a string that is not empty.
fn field(value: &Value) -> Option<&str> {
    value.as_str().filter(|s| !s.is_empty())
}
