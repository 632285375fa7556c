//! `GET /sandbox`: what the sandbox holds — the invoice book in Notion (each row linking to its page), the
//! demo customers' Razorpay invoices, every payment link with its pay page, and the WhatsApp customers' phones — so
//! a person trying the demo can see what the agent sees, pay a link by hand, watch an invoice turn Paid and write
//! to the business as a customer.

use super::{Sandbox, notion};
use crate::domain::{Currency, Money};
use crate::html::{self, html};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::Value;
use std::sync::Arc;

pub fn routes(sandbox: Arc<Sandbox>) -> Router {
    Router::new().route("/sandbox", get(home)).with_state(sandbox)
}

fn money(entity: &Value, field: &str) -> String {
    let minor = entity[field].as_i64().unwrap_or(0);
    Currency::parse(entity["currency"].as_str().unwrap_or("INR"))
        .map(|c| Money::from_minor(minor, c).format())
        .unwrap_or_else(|_| minor.to_string())
}

/// `value` as text ("" if it is not a string).
fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// An invoice's status as a person reads it: an issued invoice past its due date is marked overdue.
fn invoice_status(invoice: &Value, now: i64) -> &str {
    let due = invoice["expire_by"].as_i64().unwrap_or(0);
    match invoice["status"].as_str().unwrap_or_default() {
        "issued" if due > 0 && due < now => "issued (overdue)",
        other => other,
    }
}

async fn home(State(sandbox): State<Arc<Sandbox>>) -> Response {
    let now = crate::domain::time::now();
    let (book, invoices, links, phones) = sandbox
        .read(|w| {
            let phones: Vec<(String, String, usize)> = w
                .whatsapp
                .customers
                .iter()
                .map(|c| {
                    (c.wa_id.clone(), c.name.clone(), w.whatsapp.messages.iter().filter(|m| m.wa_id == c.wa_id).count())
                })
                .collect();
            let mut book = w.notion.pages.clone();
            book.reverse();
            (book, w.invoices.clone(), w.payment_links.clone(), phones)
        })
        .await;
    let body = html! {
        p class="badge" { "Switchboard sandbox · no real money moves" }
        h2 { "Invoices in Notion (the invoice book)" }
        table id="notion-invoices" {
            tr { th { "invoice" } th { "customer" } th { "amount" } th { "due" } th { "status" } }
            @for page in &book {
                @let p = &page["properties"];
                @let id = text(&page["id"]).replace('-', "");
                @let status = notion::view::status_of(page);
                tr {
                    td { a href={ "/sandbox/notion/page/" (id) } { (notion::view::display(&p["Invoice"], page)) } }
                    td { (notion::view::display(&p["Customer"], page)) }
                    td { (notion::view::display(&p["Amount"], page)) }
                    td { (notion::view::display(&p["Due"], page)) }
                    td class=[(status == "Paid").then_some("ok")] {
                        (status) @if notion::view::overdue(page) { " (overdue)" }
                    }
                }
            }
        }
        h2 { "Invoices in Razorpay" }
        table {
            tr { th { "number" } th { "customer" } th { "due" } th { "status" } }
            @for i in &invoices {
                tr {
                    td { (text(&i["invoice_number"])) }
                    td { (text(&i["customer_details"]["email"])) }
                    td { (money(i, "amount_due")) }
                    td { (invoice_status(i, now)) }
                }
            }
        }
        h2 { "Payment links" }
        @if links.is_empty() {
            p { "None yet: ask your agent to create one." }
        } @else {
            table {
                tr { th { "link" } th { "amount" } th { "for" } th { "status" } }
                @for l in &links {
                    @let l = super::razorpay::present(&sandbox, l, now);
                    @let id = text(&l["id"]);
                    tr {
                        td { a href={ "/sandbox/pay/" (id) } { (id) } }
                        td { (money(&l, "amount")) }
                        td { (text(&l["description"])) }
                        td { (text(&l["status"])) }
                    }
                }
            }
        }
        h2 { "WhatsApp" }
        p { "Write to the business as one of these customers on their " a href="/sandbox/phone" id="phones" { "phone" } "; the agent's replies appear there." }
        table {
            tr { th { "customer" } th { "WhatsApp" } th { "messages" } }
            @for (wa_id, name, count) in &phones {
                tr {
                    td { a href={ "/sandbox/phone/" (wa_id) } { (name) } }
                    td { "+" (wa_id) }
                    td { (count) }
                }
            }
        }
        p class="id" { "MCP endpoint: " (sandbox.base()) "/mcp" }
    };
    html::respond(StatusCode::OK, html::page("Switchboard sandbox", true, None, body))
}
