//! `GET /sandbox`: what the sandbox holds — the demo customers' invoices and every payment link with its pay page —
//! so a person trying the demo can see what the agent sees and pay a link by hand.

use super::Sandbox;
use super::pay_page::{HEAD, escape};
use crate::domain::{Currency, Money};
use axum::Router;
use axum::extract::State;
use axum::response::Html;
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

async fn home(State(sandbox): State<Arc<Sandbox>>) -> Html<String> {
    let now = crate::domain::time::now();
    let (invoices, links) = sandbox.read(|w| (w.invoices.clone(), w.payment_links.clone())).await;
    let invoice_rows: String = invoices
        .iter()
        .map(|i| {
            let due = i["expire_by"].as_i64().unwrap_or(0);
            let status = match i["status"].as_str().unwrap_or_default() {
                "issued" if due > 0 && due < now => "issued (overdue)",
                other => other,
            };
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(i["invoice_number"].as_str().unwrap_or_default()),
                escape(i["customer_details"]["email"].as_str().unwrap_or_default()),
                escape(&money(i, "amount_due")),
                escape(status)
            )
        })
        .collect();
    let link_rows: String = links
        .iter()
        .map(|l| {
            let l = super::razorpay::present(&sandbox, l, now);
            let id = escape(l["id"].as_str().unwrap_or_default());
            format!(
                "<tr><td><a href=\"/sandbox/pay/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&money(&l, "amount")),
                escape(l["description"].as_str().unwrap_or_default()),
                escape(l["status"].as_str().unwrap_or_default())
            )
        })
        .collect();
    let links_table = if links.is_empty() {
        "<p>None yet: ask your agent to create one.</p>".to_string()
    } else {
        format!("<table><tr><th>link</th><th>amount</th><th>for</th><th>status</th></tr>{link_rows}</table>")
    };
    Html(format!(
        "{HEAD}<main class=\"wide\"><p class=\"badge\">Switchboard sandbox · no real money moves</p>\
         <h2>Invoices</h2><table><tr><th>number</th><th>customer</th><th>due</th><th>status</th></tr>{invoice_rows}</table>\
         <h2>Payment links</h2>{links_table}<p class=\"id\">MCP endpoint: {}/mcp</p></main></body></html>",
        escape(sandbox.base())
    ))
}
