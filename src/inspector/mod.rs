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

mod attempt;

pub use attempt::{Attempt, EventSeen, EventStored, OUTCOMES, Outcome, Received, Rejection};

use crate::domain::text;
use crate::providers::redact::Redactor;
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
        for value in event.correlation.each_mut().into_iter().flatten() {
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
