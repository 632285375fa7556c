//! One delivery attempt as the inspector keeps it, and what the receiver hands over to make one.

use crate::domain::event::{Correlation, EventKind, NewEvent};
use crate::store::{Recorded, StoreError};
use bytes::Bytes;

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
    pub(super) fn is(&self, word: &str) -> bool {
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
                let ids: usize = e.correlation.labelled().iter().map(|(_, v)| v.map_or(0, str::len)).sum();
                e.event_type.capacity() + e.provider_event_id.capacity() + ids
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
    pub(super) fn correlation_values(&self) -> impl Iterator<Item = &str> {
        self.events.iter().flat_map(|e| e.correlation.labelled().into_iter().filter_map(|(_, v)| v))
    }
}
