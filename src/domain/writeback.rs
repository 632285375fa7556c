//! Changes owed to the invoice book: a payment link recorded on its invoice, the invoice marked paid.

use super::ProviderId;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What is written to the invoice's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WriteBackKind {
    /// The payment link's URL, written when the link is created.
    PaymentLink,
    /// Status paid, the paid date and the payment id, written when a verified webhook says the link was paid.
    Paid,
}

impl WriteBackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteBackKind::PaymentLink => "payment_link",
            WriteBackKind::Paid => "paid",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [WriteBackKind::PaymentLink, WriteBackKind::Paid].into_iter().find(|k| k.as_str() == text)
    }
}

/// Where a write-back stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WriteBackState {
    /// Not written yet: it is retried with backoff until it is.
    Pending,
    /// Written.
    Done,
    /// The book refused it for a reason retrying will not fix (retried again at the next start-up).
    Failed,
}

impl WriteBackState {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteBackState::Pending => "pending",
            WriteBackState::Done => "done",
            WriteBackState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [WriteBackState::Pending, WriteBackState::Done, WriteBackState::Failed].into_iter().find(|s| s.as_str() == text)
    }
}

/// A payment link made for a book invoice: what the watch starts from.
#[derive(Debug, Clone)]
pub struct LinkForInvoice {
    /// The invoice's page id.
    pub invoice_id: String,
    pub link_provider: ProviderId,
    pub link_id: String,
    pub link_url: Option<String>,
}

/// One change owed to (or made in) the book.
#[derive(Debug, Clone)]
pub struct WriteBack {
    pub id: i64,
    pub invoice_id: String,
    pub kind: WriteBackKind,
    pub link_provider: String,
    pub link_id: String,
    pub link_url: Option<String>,
    pub payment_id: Option<String>,
    /// The day it was paid ("2026-11-30"), for `Paid`.
    pub paid_on: Option<String>,
    pub state: WriteBackState,
    pub attempts: i64,
    /// Unix seconds.
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

/// An update to an invoice's page that Switchboard owes and has not made yet, as the agent sees it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PendingUpdate {
    /// What is to be written: "payment_link" (the link's URL) or "paid" (status, paid date, payment id).
    pub update: WriteBackKind,
    /// "pending": retried automatically; "failed": the book refused it (see error) until the server restarts.
    pub state: WriteBackState,
    /// The payment link it concerns.
    pub payment_link_id: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// When the next attempt is due (RFC 3339, UTC), while pending.
    pub next_attempt_at: Option<String>,
}

impl From<&WriteBack> for PendingUpdate {
    fn from(w: &WriteBack) -> Self {
        PendingUpdate {
            update: w.kind,
            state: w.state,
            payment_link_id: w.link_id.clone(),
            attempts: w.attempts,
            error: w.last_error.clone(),
            next_attempt_at: (w.state == WriteBackState::Pending)
                .then(|| super::time::rfc3339(w.next_attempt_at))
                .flatten(),
        }
    }
}
