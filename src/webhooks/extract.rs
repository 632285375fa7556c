//! From a verified delivery to an event-log row: type, provider event id, time and correlation keys.
//! Only a [`Delivery<Verified>`] can become a [`NewEvent`], and only a `NewEvent` can be stored.

use super::verify::{Delivery, Scheme, Verified};
use crate::domain::event::Correlation;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A verified delivery, described for the event log.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub(crate) source: String,
    pub(crate) event_type: String,
    pub(crate) provider_event_id: String,
    pub(crate) occurred_at: Option<i64>,
    /// The verified body, byte for byte (it need not be UTF-8 or even JSON to be stored and replayed).
    pub(crate) payload: bytes::Bytes,
    pub(crate) correlation: Correlation,
    /// For schemes whose event id is not signed: the body's hash, a second dedupe key against replays.
    pub(crate) body_sha256: Option<String>,
}

impl NewEvent {
    pub fn from_verified(d: &Delivery<Verified>) -> Self {
        let body: Value = serde_json::from_slice(&d.body).unwrap_or(Value::Null);
        let (event_type, occurred_at, correlation) = match d.state.scheme {
            Scheme::Razorpay => razorpay(&body),
            Scheme::Stripe => stripe(&body),
            Scheme::StandardWebhooks | Scheme::HubSignature256 => generic(&body, d),
        };
        // A sender without a delivery id is deduplicated on the exact bytes it signed.
        let body_hash = hex::encode(Sha256::digest(&d.body));
        let unsigned_id = matches!(d.state.scheme, Scheme::Razorpay | Scheme::HubSignature256);
        let provider_event_id = d.event_id().map(str::to_string).unwrap_or_else(|| body_hash.clone());
        NewEvent {
            source: d.source.clone(),
            event_type,
            provider_event_id,
            occurred_at,
            payload: d.body.clone(),
            correlation,
            body_sha256: unsigned_id.then_some(body_hash),
        }
    }

    pub fn event_type(&self) -> &str {
        &self.event_type
    }
}

fn s(v: &Value) -> Option<String> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// E-mail addresses are stored lower-cased so filters match whatever case the sender used.
fn email(v: &Value) -> Option<String> {
    s(v).map(|e| e.to_ascii_lowercase())
}

fn razorpay(body: &Value) -> (String, Option<i64>, Correlation) {
    let entity = |name: &str| &body["payload"][name]["entity"];
    let (link, payment, order, invoice) =
        (entity("payment_link"), entity("payment"), entity("order"), entity("invoice"));
    let correlation = Correlation {
        payment_link_id: s(&link["id"]),
        payment_id: s(&payment["id"]),
        order_id: s(&payment["order_id"]).or_else(|| s(&order["id"])).or_else(|| s(&link["order_id"])),
        invoice_id: s(&payment["invoice_id"]).or_else(|| s(&invoice["id"])),
        // Switchboard keeps the caller's reference in notes; Razorpay's own reference_id holds our idempotency key.
        reference_id: s(&link["notes"]["reference_id"]).or_else(|| s(&payment["notes"]["reference_id"])),
        customer_email: email(&payment["email"]).or_else(|| email(&link["customer"]["email"])),
        customer_phone: s(&payment["contact"]).or_else(|| s(&link["customer"]["contact"])),
    };
    (s(&body["event"]).unwrap_or_else(|| "unknown".into()), body["created_at"].as_i64(), correlation)
}

fn stripe(body: &Value) -> (String, Option<i64>, Correlation) {
    let obj = &body["data"]["object"];
    let mut c = Correlation {
        reference_id: s(&obj["metadata"]["reference_id"]).or_else(|| s(&obj["client_reference_id"])),
        customer_email: email(&obj["customer_details"]["email"]).or_else(|| email(&obj["customer_email"])),
        ..Correlation::default()
    };
    match obj["object"].as_str() {
        Some("checkout.session") => {
            c.payment_link_id = s(&obj["payment_link"]);
            c.payment_id = s(&obj["payment_intent"]);
            c.invoice_id = s(&obj["invoice"]);
        }
        Some("payment_intent") => c.payment_id = s(&obj["id"]),
        Some("invoice") => c.invoice_id = s(&obj["id"]),
        Some("payment_link") => c.payment_link_id = s(&obj["id"]),
        _ => {}
    }
    (s(&body["type"]).unwrap_or_else(|| "unknown".into()), body["created"].as_i64(), c)
}

fn generic(body: &Value, d: &Delivery<Verified>) -> (String, Option<i64>, Correlation) {
    let header_type = d.headers.get("x-github-event").and_then(|v| v.to_str().ok()).map(str::to_string);
    let event_type = s(&body["type"]).or_else(|| s(&body["event"])).or(header_type).unwrap_or_else(|| "unknown".into());
    let correlation = Correlation {
        reference_id: s(&body["data"]["reference_id"]),
        customer_email: email(&body["data"]["email"]),
        ..Correlation::default()
    };
    (event_type, d.state.signed_at, correlation)
}
