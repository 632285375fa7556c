//! Razorpay webhooks: `{"event": "payment_link.paid", "payload": {"payment": {"entity": {…}}, …}, "created_at": …}`.

use super::{email, event, money, text};
use crate::domain::event::{Correlation, EventKind, Extracted};
use serde_json::Value;

pub(super) fn extract(body: &Value) -> Extracted {
    let entity = |name: &str| &body["payload"][name]["entity"];
    let (link, payment, order, invoice) =
        (entity("payment_link"), entity("payment"), entity("order"), entity("invoice"));
    let event_type = text(&body["event"]);
    let kind = match event_type.as_deref() {
        Some("payment.captured" | "order.paid" | "invoice.paid") => EventKind::PaymentSucceeded,
        Some("payment.failed") => EventKind::PaymentFailed,
        Some("payment_link.paid") => EventKind::PaymentLinkPaid,
        Some("payment_link.partially_paid") => EventKind::PaymentLinkPartiallyPaid,
        Some("payment_link.expired") => EventKind::PaymentLinkExpired,
        Some("payment_link.cancelled") => EventKind::PaymentLinkCancelled,
        _ => EventKind::Other,
    };
    let paid =
        matches!(kind, EventKind::PaymentSucceeded | EventKind::PaymentLinkPaid | EventKind::PaymentLinkPartiallyPaid);
    Extracted {
        occurred_at: body["created_at"].as_i64(),
        // The payment's own amount first; a link's running total when the event carries no payment.
        amount: paid
            .then(|| {
                money(&payment["amount"], &payment["currency"])
                    .or_else(|| money(&link["amount_paid"], &link["currency"]))
            })
            .flatten(),
        correlation: Correlation {
            payment_link_id: text(&link["id"]),
            payment_id: text(&payment["id"]),
            order_id: text(&payment["order_id"]).or_else(|| text(&order["id"])).or_else(|| text(&link["order_id"])),
            invoice_id: text(&payment["invoice_id"]).or_else(|| text(&invoice["id"])),
            // Switchboard keeps the caller's reference in notes; Razorpay's own reference_id holds our idempotency
            // key.
            reference_id: text(&link["notes"]["reference_id"]).or_else(|| text(&payment["notes"]["reference_id"])),
            customer_email: email(&payment["email"]).or_else(|| email(&link["customer"]["email"])),
            customer_phone: text(&payment["contact"]).or_else(|| text(&link["customer"]["contact"])),
            ..Correlation::default()
        },
        ..event(kind, event_type)
    }
}
