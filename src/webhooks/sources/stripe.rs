//! Stripe events: `{"id": "evt_…", "type": "checkout.session.completed", "created": …, "data": {"object": {…}}}`.

use super::{email, event, money, text};
use crate::domain::event::{Correlation, EventKind, Extracted};
use serde_json::Value;

pub(super) fn extract(body: &Value) -> Extracted {
    let obj = &body["data"]["object"];
    let event_type = text(&body["type"]);
    let mut c = Correlation {
        reference_id: text(&obj["metadata"]["reference_id"]).or_else(|| text(&obj["client_reference_id"])),
        customer_email: email(&obj["customer_details"]["email"]).or_else(|| email(&obj["customer_email"])),
        ..Correlation::default()
    };
    match obj["object"].as_str() {
        Some("checkout.session") => {
            c.payment_link_id = text(&obj["payment_link"]);
            c.payment_id = text(&obj["payment_intent"]);
            c.invoice_id = text(&obj["invoice"]);
        }
        Some("payment_intent") => c.payment_id = text(&obj["id"]),
        Some("invoice") => c.invoice_id = text(&obj["id"]),
        Some("payment_link") => c.payment_link_id = text(&obj["id"]),
        _ => {}
    }
    // A Checkout Session completes before a delayed payment method (bank debit) settles: only a paid one is a
    // payment. Switchboard's links accept one completed session, so a paid session of a link pays the link.
    let settled = matches!(obj["payment_status"].as_str(), Some("paid" | "no_payment_required"));
    let kind = match event_type.as_deref() {
        Some("checkout.session.completed" | "checkout.session.async_payment_succeeded") if settled => {
            if c.payment_link_id.is_some() { EventKind::PaymentLinkPaid } else { EventKind::PaymentSucceeded }
        }
        Some("payment_intent.succeeded" | "invoice.paid") => EventKind::PaymentSucceeded,
        Some("payment_intent.payment_failed" | "checkout.session.async_payment_failed") => EventKind::PaymentFailed,
        _ => EventKind::Other,
    };
    let amount = match kind {
        EventKind::PaymentSucceeded | EventKind::PaymentLinkPaid => money(&obj["amount_total"], &obj["currency"])
            .or_else(|| money(&obj["amount_paid"], &obj["currency"]))
            .or_else(|| money(&obj["amount_received"], &obj["currency"])),
        _ => None,
    };
    Extracted { occurred_at: body["created"].as_i64(), amount, correlation: c, ..event(kind, event_type) }
}
