//! Reading stored event columns back, the same for every backend: lenient where one odd row must not make every
//! read of the log fail.

use crate::domain::event::EventKind;
use crate::domain::money::Amount;
use crate::domain::money::{Currency, Money};

/// A stored kind; one this build does not know (written by a newer one) reads as "other".
pub(super) fn kind(seq: i64, stored: &str) -> EventKind {
    EventKind::parse(stored).unwrap_or_else(|| {
        tracing::warn!(seq, kind = %crate::domain::text::clip(stored, 64), "stored event of an unknown kind; read as other");
        EventKind::Other
    })
}

/// The amount paid, or none when the stored minor units or currency cannot be read.
pub(super) fn amount(minor: Option<i64>, currency: Option<String>) -> Option<Amount> {
    match (minor, currency.as_deref().map(Currency::parse)) {
        (Some(minor), Some(Ok(currency))) => Some(Money::from_minor(minor, currency).to_amount()),
        _ => None,
    }
}

/// The stored body as the agent reads it: JSON when it is JSON, otherwise text (bytes that are not UTF-8 shown
/// as U+FFFD; [`super::EventLog::body`] has them verbatim).
pub(super) fn readable(payload: Vec<u8>) -> serde_json::Value {
    serde_json::from_slice(&payload).unwrap_or_else(|_| match String::from_utf8(payload) {
        Ok(text) => serde_json::Value::String(text),
        Err(e) => serde_json::Value::String(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    })
}
