//! Payload formats: what one verified delivery means. A format's extractor turns the verified bytes into zero or
//! more [`NewEvent`]s, each with a provider-neutral [`EventKind`], its amount and its correlation keys, so that
//! nothing past ingest reads a provider's JSON again. This is the only place a `NewEvent` is made.

mod generic;
mod razorpay;
mod stripe;
mod whatsapp;

use super::verify::{Delivery, Verified};
use crate::domain::event::{EventKind, Extracted, NewEvent};
use crate::domain::money::{Currency, Money};
use crate::domain::source::Format;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The events one verified delivery holds, in the order the sender listed them.
pub fn extract(delivery: &Delivery<Verified>, format: Format) -> Vec<NewEvent> {
    let body: Value = serde_json::from_slice(delivery.body()).unwrap_or(Value::Null);
    let extracted = match format {
        Format::Razorpay => vec![razorpay::extract(&body)],
        Format::Stripe => vec![stripe::extract(&body)],
        Format::Generic => vec![generic::extract(&body, delivery)],
        Format::WhatsApp => whatsapp::extract(&body),
    };
    // A sender without a signed delivery id is deduplicated on the exact bytes it signed (plus the event's
    // position, for deliveries that batch several events).
    let body_hash = hex::encode(Sha256::digest(delivery.body()));
    let keyed_by_body = !delivery.event_id_is_signed();
    extracted
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            let body_key = match i {
                0 => body_hash.clone(),
                i => format!("{body_hash}#{i}"),
            };
            // The delivery's id names its first event; later ones of a batch add their position, so that no two
            // events of one delivery share a dedupe key.
            let delivery_id = delivery.event_id().map(|id| match i {
                0 => id.to_string(),
                i => format!("{id}#{i}"),
            });
            let id = e.provider_event_id.clone().or(delivery_id).unwrap_or_else(|| body_key.clone());
            let payload = match (i, e.own_payload.take()) {
                (0, _) | (_, None) => delivery.body().clone(),
                (_, Some(own)) => own,
            };
            NewEvent::new(delivery.source(), e, id, payload, keyed_by_body.then_some(body_key))
        })
        .collect()
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// E-mail addresses are stored lower-cased so filters match whatever case the sender used.
fn email(v: &Value) -> Option<String> {
    text(v).map(|e| e.to_ascii_lowercase())
}

/// An amount in minor units with its currency code, when both are present and valid.
fn money(minor: &Value, currency: &Value) -> Option<Money> {
    let currency = Currency::parse(currency.as_str()?).ok()?;
    Some(Money::from_minor(minor.as_i64()?, currency))
}

/// An event with just a type and a kind; formats fill in the rest.
fn event(kind: EventKind, event_type: Option<String>) -> Extracted {
    Extracted {
        kind,
        event_type: event_type.unwrap_or_else(|| "unknown".into()),
        provider_event_id: None,
        occurred_at: None,
        amount: None,
        correlation: Default::default(),
        own_payload: None,
    }
}

#[cfg(test)]
mod tests;
