//! The webhook inspector: every delivery attempt the receiver saw since this process started, with what came of
//! it: the events stored, or why it was refused. A refused delivery leaves no event and, before this, no trace
//! but a log line; that is exactly when a person needs to see it ("the customer paid, the agent never heard").
//!
//! In memory only, in two bounded rings, so that a flood of forged deliveries can push out only other refused
//! ones, never the record of genuine deliveries: the last [`VERIFIED_KEPT`] verified attempts (stored,
//! duplicate, or not stored because the database failed) and the last [`REJECTED_KEPT`] refused ones. What is
//! kept is safe to show: headers that carry signatures or credentials are kept as "[redacted]", every other
//! header value and the payload pass the configured [`Redactor`], and payloads and headers are cut
//! ([`VERIFIED_PAYLOAD_BYTES`], [`REJECTED_PAYLOAD_BYTES`], [`HEADER_BYTES`]). The receiver records
//! ([`Inspector::record`]); the pages that show it are [`crate::webhooks::inspector`].

use crate::domain::event::{Correlation, EventKind, NewEvent};
use crate::domain::text;
use crate::providers::redact::Redactor;
use crate::store::{Recorded, StoreError};
use aho_corasick::AhoCorasick;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Verified attempts kept (stored, duplicate, storage failure).
pub const VERIFIED_KEPT: usize = 200;
/// Refused attempts kept (unknown source, too large, unreadable, bad signature, stale, not checked).
pub const REJECTED_KEPT: usize = 200;
/// The most of a verified payload kept (its events keep it whole in the event log).
pub const VERIFIED_PAYLOAD_BYTES: usize = 32 << 10;
/// The most of a refused payload kept: enough to recognise it, not enough to make a flood costly.
pub const REJECTED_PAYLOAD_BYTES: usize = 2 << 10;
/// The most header text (names and values) kept per attempt; each value is cut at [`HEADER_VALUE_BYTES`].
pub const HEADER_BYTES: usize = 4 << 10;
/// The most of one header value kept.
pub const HEADER_VALUE_BYTES: usize = 256;
/// The most of a source name kept: an unknown one is anyone's text.
const SOURCE_CHARS: usize = 64;
/// What a header that carries a signature or a credential is kept as.
pub const REDACTED: &str = "[redacted]";
/// A header is never kept when its name contains one of these: `x-razorpay-signature`, `stripe-signature`,
/// `x-hub-signature-256`, `webhook-signature`, `x-hubspot-signature-v3`, `authorization`, `cookie`, …
const SECRET_HEADER_PARTS: &[&str] =
    &["signature", "authorization", "cookie", "token", "secret", "api-key", "apikey", "password", "credential"];

/// What came of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Verified, and stored: at least one new event (or a verified delivery that held none).
    Stored,
    /// Verified, and every event in it was stored before (a retry or replay): nothing changed.
    Duplicate,
    /// Refused, and why.
    Rejected(Rejection),
}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No source of that name is configured.
    UnknownSource,
    /// The body is over the source's limit; it was not read.
    TooLarge,
    /// The body broke off or stopped arriving.
    Unreadable,
    /// The signature is missing, malformed, or made with another secret; the check's own words say which.
    BadSignature(String),
    /// The signed timestamp is outside the tolerance window: a replay, or a clock minutes off.
    Stale,
    /// Verified, but the database did not take it; the sender was asked to retry.
    StorageFailure,
    /// The signature check did not finish; the sender was asked to retry.
    Unchecked,
}

/// Every filterable outcome word, in the order the page offers them.
pub const OUTCOMES: [&str; 10] = [
    "stored",
    "duplicate",
    "rejected",
    "bad_signature",
    "stale",
    "unknown_source",
    "too_large",
    "unreadable",
    "storage_failure",
    "unchecked",
];

impl Outcome {
    /// The outcome's word (`stored`, `duplicate`, `bad_signature`, …), as the page's filter takes it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Stored => "stored",
            Outcome::Duplicate => "duplicate",
            Outcome::Rejected(r) => match r {
                Rejection::UnknownSource => "unknown_source",
                Rejection::TooLarge => "too_large",
                Rejection::Unreadable => "unreadable",
                Rejection::BadSignature(_) => "bad_signature",
                Rejection::Stale => "stale",
                Rejection::StorageFailure => "storage_failure",
                Rejection::Unchecked => "unchecked",
            },
        }
    }

    /// How a person reads it: "stored", "rejected: bad signature".
    pub fn label(&self) -> String {
        match self {
            Outcome::Stored | Outcome::Duplicate => self.as_str().to_string(),
            Outcome::Rejected(_) => format!("rejected: {}", self.as_str().replace('_', " ")),
        }
    }

    /// Whether the signature held (the sender had a configured secret).
    pub fn verified(&self) -> bool {
        matches!(self, Outcome::Stored | Outcome::Duplicate | Outcome::Rejected(Rejection::StorageFailure))
    }

    /// Whether it matches a filter word from [`OUTCOMES`].
    fn is(&self, word: &str) -> bool {
        word == self.as_str() || (word == "rejected" && matches!(self, Outcome::Rejected(_)))
    }
}

/// One event a verified delivery held, and what storing it did.
#[derive(Debug, Clone)]
pub struct EventSeen {
    /// Its sequence number in the event log when it was stored now (`ev_{seq}`); `None` when it was there
    /// already or could not be stored.
    pub seq: Option<i64>,
    pub stored: EventStored,
    pub kind: EventKind,
    pub event_type: String,
    pub provider_event_id: String,
    pub correlation: Correlation,
}

impl EventSeen {
    /// One event of a verified delivery, and the event log's answer for it (`None`: it gave none, so it was not
    /// stored).
    pub fn new(event: &NewEvent, result: Option<&Result<Recorded, StoreError>>) -> Self {
        let (seq, stored) = match result {
            Some(Ok(Recorded::New(seq))) => (Some(*seq), EventStored::New),
            Some(Ok(Recorded::Duplicate)) => (None, EventStored::Duplicate),
            Some(Err(_)) | None => (None, EventStored::Failed),
        };
        EventSeen {
            seq,
            stored,
            kind: event.kind(),
            event_type: event.event_type().to_string(),
            provider_event_id: event.provider_event_id().to_string(),
            correlation: event.correlation().clone(),
        }
    }
}

/// What storing one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStored {
    New,
    Duplicate,
    Failed,
}

/// What the receiver made of a delivery: its outcome, the body when it was read in full, the events it held.
#[derive(Debug)]
pub struct Received {
    pub outcome: Outcome,
    pub body: Option<Bytes>,
    pub events: Vec<EventSeen>,
}

impl Received {
    /// Refused before anything was stored.
    pub fn rejected(why: Rejection, body: Option<Bytes>) -> Self {
        Received { outcome: Outcome::Rejected(why), body, events: Vec::new() }
    }

    /// Verified, with its events and what storing each did: stored if any is new (or it held none), a
    /// duplicate if all were stored before, a storage failure if any could not be stored.
    pub fn verified(body: Bytes, events: Vec<EventSeen>) -> Self {
        let outcome = if events.iter().any(|e| e.stored == EventStored::Failed) {
            Outcome::Rejected(Rejection::StorageFailure)
        } else if events.is_empty() || events.iter().any(|e| e.stored == EventStored::New) {
            Outcome::Stored
        } else {
            Outcome::Duplicate
        };
        Received { outcome, body: Some(body), events }
    }
}

/// One delivery attempt as the inspector keeps it: already redacted and cut.
#[derive(Debug)]
pub struct Attempt {
    /// Increasing from 1 in arrival order, per process.
    pub id: u64,
    /// Unix seconds.
    pub received_at: i64,
    /// The `{source}` it was sent to (cut to 64 characters: an unknown one is anyone's text).
    pub source: String,
    pub outcome: Outcome,
    /// The HTTP status it was answered with.
    pub status: u16,
    /// Name and value, in the order sent; secret ones as [`REDACTED`].
    pub headers: Vec<(String, String)>,
    /// Headers not kept because [`HEADER_BYTES`] ran out.
    pub headers_dropped: usize,
    /// The body's size, when it was read.
    pub body_bytes: Option<usize>,
    /// The body as text, redacted and cut (empty when it was not read).
    pub payload: String,
    /// Whether `payload` is only the start of the body.
    pub payload_cut: bool,
    pub events: Vec<EventSeen>,
}

impl Attempt {
    /// Heap and inline bytes this record holds, for the bound's tests and measurements.
    pub fn retained_bytes(&self) -> usize {
        let headers: usize = self.headers.iter().map(|(n, v)| n.capacity() + v.capacity()).sum();
        let events: usize = self
            .events
            .iter()
            .map(|e| {
                let c = &e.correlation;
                let ids = [
                    &c.payment_link_id,
                    &c.payment_id,
                    &c.order_id,
                    &c.invoice_id,
                    &c.reference_id,
                    &c.customer_email,
                    &c.customer_phone,
                    &c.message_id,
                    &c.reply_to,
                ];
                e.event_type.capacity()
                    + e.provider_event_id.capacity()
                    + ids.iter().map(|v| v.as_ref().map_or(0, String::capacity)).sum::<usize>()
            })
            .sum();
        std::mem::size_of::<Attempt>()
            + self.source.capacity()
            + self.payload.capacity()
            + self.headers.capacity() * std::mem::size_of::<(String, String)>()
            + headers
            + self.events.capacity() * std::mem::size_of::<EventSeen>()
            + events
    }

    /// Every correlation value of its events, for matching a key.
    fn correlation_values(&self) -> impl Iterator<Item = &str> {
        self.events.iter().flat_map(|e| {
            let c = &e.correlation;
            [
                &c.payment_link_id,
                &c.payment_id,
                &c.order_id,
                &c.invoice_id,
                &c.reference_id,
                &c.customer_email,
                &c.customer_phone,
                &c.message_id,
                &c.reply_to,
            ]
            .into_iter()
            .flatten()
            .map(String::as_str)
        })
    }
}

/// Which attempts to show. Empty fields match everything.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Filter {
    /// The source name, exactly.
    pub source: Option<String>,
    /// A word from [`OUTCOMES`] (`rejected` is every refusal).
    pub outcome: Option<String>,
    /// A correlation key: a payment link or payment id, a phone number, an e-mail, … Matches an event's keys or,
    /// for any attempt, its kept payload (any letter case).
    pub key: Option<String>,
}

impl Filter {
    /// The source asked for, if any (blank is none).
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }

    /// The outcome word asked for, if any.
    pub fn outcome(&self) -> Option<&str> {
        self.outcome.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }

    /// The correlation key asked for, if any.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
}

/// The rings and the redaction they apply. One per process, in [`crate::state::AppState`].
pub struct Inspector {
    next_id: AtomicU64,
    rings: Mutex<Rings>,
    redactor: Arc<Redactor>,
}

#[derive(Default)]
struct Rings {
    verified: VecDeque<Arc<Attempt>>,
    rejected: VecDeque<Arc<Attempt>>,
}

impl Inspector {
    /// Empty rings; `redactor` masks the configured secrets in what is kept.
    pub fn new(redactor: Arc<Redactor>) -> Self {
        Inspector { next_id: AtomicU64::new(1), rings: Mutex::default(), redactor }
    }

    /// Keep one attempt: sent to `source` with `headers`, answered with `status`. Redacts and cuts before
    /// keeping, and pushes the oldest attempt of the same ring out when it is full.
    pub fn record(&self, source: &str, headers: &HeaderMap, status: StatusCode, received: Received) {
        let verified = received.outcome.verified();
        let (headers, headers_dropped) = self.headers(headers);
        let cut = if verified { VERIFIED_PAYLOAD_BYTES } else { REJECTED_PAYLOAD_BYTES };
        let (payload, payload_cut) = match &received.body {
            Some(body) => self.payload(body, cut),
            None => (String::new(), false),
        };
        let events = received.events.into_iter().map(|e| self.masked(e)).collect();
        let attempt = Arc::new(Attempt {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            received_at: crate::domain::time::now(),
            source: text::clip(&text::strip_hidden(source), SOURCE_CHARS),
            outcome: received.outcome,
            status: status.as_u16(),
            headers,
            headers_dropped,
            body_bytes: received.body.as_ref().map(Bytes::len),
            payload,
            payload_cut,
            events,
        });
        let mut rings = self.rings();
        let (ring, kept) =
            if verified { (&mut rings.verified, VERIFIED_KEPT) } else { (&mut rings.rejected, REJECTED_KEPT) };
        if ring.len() >= kept {
            ring.pop_front();
        }
        ring.push_back(attempt);
    }

    /// Attempts matching `filter`, newest first, at most `limit`.
    pub fn recent(&self, filter: &Filter, limit: usize) -> Vec<Arc<Attempt>> {
        let mut all: Vec<Arc<Attempt>> = {
            let rings = self.rings();
            rings.verified.iter().chain(&rings.rejected).cloned().collect()
        };
        all.sort_unstable_by_key(|a| std::cmp::Reverse(a.id));
        // An ASCII-case-insensitive matcher for the key, built once for the whole list.
        let key = filter.key().map(|k| (k, AhoCorasick::builder().ascii_case_insensitive(true).build([k])));
        all.into_iter()
            .filter(|a| filter.source().is_none_or(|s| a.source == s))
            .filter(|a| filter.outcome().is_none_or(|o| a.outcome.is(o)))
            .filter(|a| match &key {
                None => true,
                Some((_, Ok(matcher))) => {
                    a.correlation_values().any(|v| matcher.is_match(v)) || matcher.is_match(&a.payload)
                }
                // A single literal pattern always builds; if it ever did not, fall back to exact text.
                Some((k, Err(_))) => a.correlation_values().any(|v| v == *k) || a.payload.contains(k),
            })
            .take(limit)
            .collect()
    }

    /// One attempt by id, while it is kept.
    pub fn get(&self, id: u64) -> Option<Arc<Attempt>> {
        let rings = self.rings();
        rings.verified.iter().chain(&rings.rejected).find(|a| a.id == id).cloned()
    }

    /// How many attempts are kept: (verified, rejected).
    pub fn len(&self) -> (usize, usize) {
        let rings = self.rings();
        (rings.verified.len(), rings.rejected.len())
    }

    /// Whether nothing was kept yet.
    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }

    /// Bytes the kept attempts hold (see [`Attempt::retained_bytes`]).
    pub fn retained_bytes(&self) -> usize {
        let rings = self.rings();
        rings.verified.iter().chain(&rings.rejected).map(|a| a.retained_bytes()).sum()
    }

    fn rings(&self) -> std::sync::MutexGuard<'_, Rings> {
        // A poisoned lock only means a thread panicked while pushing; the rings themselves are still valid.
        self.rings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The headers as kept: secret ones redacted, the rest masked and cut, until [`HEADER_BYTES`] runs out.
    fn headers(&self, headers: &HeaderMap) -> (Vec<(String, String)>, usize) {
        let mut kept = Vec::new();
        let mut budget = HEADER_BYTES;
        let mut dropped = 0;
        for (name, value) in headers {
            let name = name.as_str();
            let value = if SECRET_HEADER_PARTS.iter().any(|part| name.contains(part)) {
                REDACTED.to_string()
            } else {
                match value.to_str() {
                    Ok(value) => cut(&self.redactor.redact(value).to_string(), HEADER_VALUE_BYTES).0,
                    Err(_) => format!("({} bytes, not text)", value.len()),
                }
            };
            let size = name.len() + value.len();
            if size > budget {
                dropped += 1;
                continue;
            }
            budget -= size;
            kept.push((name.to_string(), value));
        }
        kept.shrink_to_fit();
        (kept, dropped)
    }

    /// The body as text: hidden characters dropped, configured secrets masked, then cut at `max` bytes. Only the
    /// start is masked, but far enough past the cut that no secret can straddle it unseen.
    fn payload(&self, body: &[u8], max: usize) -> (String, bool) {
        let window = max.saturating_add(self.redactor.longest_value());
        let read = body.get(..window).unwrap_or(body);
        let shown = text::strip_hidden(&String::from_utf8_lossy(read));
        let masked = self.redactor.mask_values(&shown).unwrap_or(shown);
        let (mut kept, was_cut) = cut(&masked, max);
        kept.shrink_to_fit();
        (kept, was_cut || body.len() > read.len())
    }

    /// An event's correlation values with the configured secrets masked, as the event resources show them.
    fn masked(&self, mut event: EventSeen) -> EventSeen {
        let c = &mut event.correlation;
        for value in [
            &mut c.payment_link_id,
            &mut c.payment_id,
            &mut c.order_id,
            &mut c.invoice_id,
            &mut c.reference_id,
            &mut c.customer_email,
            &mut c.customer_phone,
            &mut c.message_id,
            &mut c.reply_to,
        ]
        .into_iter()
        .flatten()
        {
            if let Some(masked) = self.redactor.mask_values(value) {
                *value = masked;
            }
        }
        event
    }
}

/// `text` cut to at most `max` bytes on a character boundary, and whether it was cut.
fn cut(text: &str, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text.to_string(), false);
    }
    let end = (0..=max).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
    (text.get(..end).unwrap_or_default().to_string(), true)
}

#[cfg(test)]
mod tests;
