//! Any other sender (Standard Webhooks, GitHub-style): the type from the body or the `X-GitHub-Event` header; no
//! provider meaning, so every event is of kind "other".

use super::{email, event, text};
use crate::domain::event::{Correlation, EventKind, Extracted};
use crate::webhooks::verify::{Delivery, Verified};
use serde_json::Value;

pub(super) fn extract(body: &Value, d: &Delivery<Verified>) -> Extracted {
    let header_type = d.header("x-github-event").map(str::to_string);
    let event_type = text(&body["type"]).or_else(|| text(&body["event"])).or(header_type);
    Extracted {
        occurred_at: d.signed_at(),
        correlation: Correlation {
            reference_id: text(&body["data"]["reference_id"]),
            customer_email: email(&body["data"]["email"]),
            ..Correlation::default()
        },
        ..event(EventKind::Other, event_type)
    }
}
