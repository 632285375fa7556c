//! Exactly-once payment link creation: the idempotency ledger around the provider call.
//!
//! Identical calls (same key) are serialised in-process, replay the stored first result, and never reach the
//! provider twice. An identical call in flight on another instance (or process) is waited for, up to the
//! provider call's deadline, and its result replayed. A call whose outcome is unknown is reconciled by looking the link up at the provider by key
//! before anything is re-sent; the provider call itself runs in its own task, so a client that cancels or
//! disconnects cannot leave a created link unrecorded.

use super::payment_links::Refusal;
use crate::domain::ProviderId;
use crate::domain::payment_link::{PaymentLink, PaymentLinkRequest};
use crate::error::ToolError;
use crate::providers::PaymentLinks;
use crate::state::AppState;
use crate::store::{Claim, Entry, Ledger, StoreError};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

pub const CREATE_TOOL: &str = "create_payment_link";

/// What a create returned, and whether it was a replay of an earlier call.
pub struct Outcome {
    pub link: PaymentLink,
    pub replayed: bool,
}

/// The idempotency key: from the caller's explicit key, else from the call's business identity
/// (provider, reference, amount, currency, customer, description). ≤ 40 chars, Razorpay's `reference_id` limit.
/// An explicit key that is itself one of these (`sb_` and 32 hex digits, as results report it) is used as it
/// is, so passing a result's `idempotency_key` back retries that very call.
pub fn idempotency_key(provider: ProviderId, explicit: Option<&str>, request: &PaymentLinkRequest) -> String {
    if let Some(key) = explicit.filter(|k| is_derived_key(k)) {
        return key.to_string();
    }
    let identity = match explicit {
        Some(key) => serde_json::json!({"tool": CREATE_TOOL, "provider": provider, "key": key}),
        None => {
            let c = &request.customer;
            serde_json::json!({
                "tool": CREATE_TOOL,
                "provider": provider,
                "reference": request.reference_id,
                "amount": request.amount.minor_units(),
                "currency": request.amount.currency().code(),
                "customer": [c.name.as_deref(), c.email.as_ref().map(|e| e.as_str()), c.phone.as_ref().map(|p| p.as_str())],
                "description": request.description,
            })
        }
    };
    format!("sb_{}", &hex::encode(Sha256::digest(identity.to_string()))[..32])
}

fn is_derived_key(key: &str) -> bool {
    key.strip_prefix("sb_")
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// A fingerprint of every argument: the same key with a different fingerprint is a conflict.
pub fn request_hash(provider: ProviderId, request: &PaymentLinkRequest) -> String {
    let c = &request.customer;
    let all = serde_json::json!({
        "provider": provider,
        "amount": request.amount.minor_units(),
        "currency": request.amount.currency().code(),
        "description": request.description,
        "customer": [c.name.as_deref(), c.email.as_ref().map(|e| e.as_str()), c.phone.as_ref().map(|p| p.as_str())],
        "reference": request.reference_id,
        "expires_at": request.expires_at,
        "notify": [request.notify_email, request.notify_sms],
        "callback_url": request.callback_url,
    });
    hex::encode(Sha256::digest(all.to_string()))
}

/// The stored result of an identical finished call, if any (no lock, no provider call).
pub async fn replay(state: &AppState, key: &str, hash: &str) -> Result<Option<PaymentLink>, ToolError> {
    match state.store.ledger().finished(key, hash).await? {
        Some(stored) => Ok(Some(decode(stored)?)),
        None => Ok(None),
    }
}

/// Create the link at most once for `key`. With `book_invoice` (a Notion invoice's page id), the link is
/// recorded for that invoice in the same detached task, so a cancelled request cannot leave it unwatched.
pub async fn create(
    state: Arc<AppState>,
    payments: Arc<dyn PaymentLinks>,
    request: PaymentLinkRequest,
    key: String,
    hash: String,
    book_invoice: Option<String>,
) -> Result<Outcome, ToolError> {
    let provider = payments.provider();
    let entry = Entry { key, tool: CREATE_TOOL.into(), provider: provider.as_str().into(), request_hash: hash };
    let deadline = patience_from_now(&state);
    // Detached: runs to completion (ledger updated) even if the MCP request is cancelled mid-flight.
    let task = tokio::spawn(async move {
        let (_serialised, claim) = claim_serialised(&state, &entry, deadline).await?;
        let ledger = state.store.ledger();
        match claim {
            Claim::Replay(stored) => return Ok(Outcome { link: decode(stored)?, replayed: true }),
            Claim::Conflict => return Err(Refusal::Conflict.into()),
            Claim::Busy { retry_after_secs } => return Err(Refusal::InProgress(retry_after_secs.max(1)).into()),
            Claim::Abandoned { age_secs } => {
                if let Some(link) = recover(&state, payments.as_ref(), &entry).await? {
                    return Ok(Outcome { link, replayed: true });
                }
                // Past the provider's memory of keys, re-sending could create a second link.
                let forgotten =
                    payments.key_memory().is_some_and(|m| age_secs > i64::try_from(m.as_secs()).unwrap_or(i64::MAX));
                if forgotten {
                    noted(ledger.mark_unknown(&entry.key).await, &entry.key);
                    return Err(Refusal::StaleUnknown { provider }.into());
                }
            }
            Claim::Acquired => {}
        }
        ledger.touch(&entry.key).await?;
        match payments.create_payment_link(&request, &entry.key).await {
            Ok(link) => {
                // The link exists whatever happens next: a failed record is logged, and the next identical call
                // finds the link at the provider instead of creating another.
                record(ledger, &entry, &link).await;
                if let Some(page) = &book_invoice
                    && let Err(e) = super::book::link_created(&state, page, &link).await
                {
                    tracing::error!(link = %link.id, invoice = %page, error = %e, "could not record a payment link for its Notion invoice");
                }
                Ok(Outcome { link, replayed: false })
            }
            Err(e) if e.outcome_unknown() => {
                noted(ledger.mark_unknown(&entry.key).await, &entry.key);
                Err(Refusal::OutcomeUnknown(e).into())
            }
            Err(e) => {
                noted(ledger.release(&entry.key).await, &entry.key);
                Err(e.into())
            }
        }
    });
    task.await.unwrap_or_else(|e| {
        // Its claim stays in progress, so the next identical call reconciles with the provider.
        tracing::error!(error = %e, "the create task failed");
        Err(Refusal::Interrupted.into())
    })
}

/// How long past the provider call's deadline a call waits for an identical one in flight elsewhere.
const BUSY_MARGIN: Duration = Duration::from_secs(5);
/// How often it looks again.
const BUSY_POLL: Duration = Duration::from_millis(200);

/// Until when a call may wait for an identical one in flight (here, on another instance, or in another process):
/// that call's deadline, a margin, and on a shared store the time before a dead instance's claim is taken over.
pub(crate) fn patience_from_now(state: &AppState) -> Instant {
    Instant::now() + state.config.outbound.call_deadline + BUSY_MARGIN + state.store.takeover_after()
}

/// Take `entry`'s key for one call: this process's lock on it, then the ledger's claim. While an identical call
/// holds it, wait, looking again every [`BUSY_POLL`], until `deadline` in all (queued callers do not each wait a
/// full patience): that call's result is then replayed, or, if its instance died, its claim comes back abandoned
/// and is reconciled by the caller. Still busy at `deadline`: `Busy`, and the caller is told to call again.
pub(crate) async fn claim_serialised(
    state: &AppState,
    entry: &Entry,
    deadline: Instant,
) -> Result<(Option<OwnedMutexGuard<()>>, Claim), StoreError> {
    let busy = |deadline: Instant| Claim::Busy {
        retry_after_secs: i64::try_from(deadline.saturating_duration_since(Instant::now()).as_secs()).unwrap_or(1),
    };
    let Ok(serialised) = tokio::time::timeout_at(deadline, state.key_locks.get(&entry.key).lock_owned()).await else {
        return Ok((None, busy(deadline + BUSY_MARGIN)));
    };
    let ledger = state.store.ledger();
    loop {
        match ledger.claim(entry).await? {
            Claim::Busy { .. } if Instant::now() + BUSY_POLL < deadline => tokio::time::sleep(BUSY_POLL).await,
            claim => return Ok((Some(serialised), claim)),
        }
    }
}

/// After the provider answered, the ledger notes what came of the call (released, or outcome unknown). If that
/// write fails, the claim stays in progress, so the next identical call waits for it or reconciles with the
/// provider (never re-sends blindly), and the caller still reports the provider's answer: a store error would
/// tell the model nothing was sent, which would be false.
pub(crate) fn noted(written: Result<(), StoreError>, key: &str) {
    if let Err(e) = written {
        tracing::warn!(key, error = %e, "could not note a provider's answer; the claim stays for the next identical call to settle");
    }
}

/// Record a created link in the ledger. The link exists at the provider either way, so a failure is logged, not
/// returned: the next identical call finds the link there instead of creating another.
async fn record(ledger: &dyn Ledger, entry: &Entry, link: &PaymentLink) {
    let stored = match serde_json::to_value(link) {
        Ok(stored) => stored,
        Err(e) => {
            tracing::error!(key = %entry.key, link = %link.id, error = %e, "created a payment link but could not encode it");
            return;
        }
    };
    if let Err(e) = ledger.finish(entry, &stored).await {
        tracing::error!(key = %entry.key, link = %link.id, error = %e, "created a payment link but could not record it");
    }
}

/// Settle an abandoned key: if the provider has the link, record and return it. `None` means it was never
/// created, and the caller (who holds the claim) may create it.
pub async fn recover(
    state: &AppState,
    payments: &dyn PaymentLinks,
    entry: &Entry,
) -> Result<Option<PaymentLink>, ToolError> {
    let ledger = state.store.ledger();
    match payments.find_payment_link(&entry.key).await {
        Ok(Some(link)) => {
            // The link exists: the caller gets it even if recording it fails (the next call finds it again).
            record(ledger, entry, &link).await;
            tracing::info!(key = %entry.key, link = %link.id, "reconciled an interrupted create with the provider");
            Ok(Some(link))
        }
        Ok(None) => Ok(None),
        Err(e) => {
            noted(ledger.mark_unknown(&entry.key).await, &entry.key);
            Err(Refusal::OutcomeUnknown(e).into())
        }
    }
}

/// Start-up: settle every call a crash left in progress. Payment links found are recorded; keys with no link are
/// released so the next identical call creates it; other tools' claims are opened for their next call to
/// settle. Nothing is created or sent here (no one approved anything).
pub async fn reconcile_abandoned(state: &AppState) -> Result<usize, StoreError> {
    let ledger = state.store.ledger();
    let mut settled = 0;
    // Every in-progress row predates this process. Another process sharing the data directory may still be
    // mid-create: releasing its claim is safe because the provider itself refuses a second create with the
    // same key (Razorpay reference_id, Stripe Idempotency-Key), and `finish` records its result regardless.
    for entry in ledger.abandoned(i64::MAX).await? {
        let payments = entry.provider.parse::<ProviderId>().ok().and_then(|p| state.providers.payment_links_of(p));
        let Some(payments) = payments.filter(|_| entry.tool == CREATE_TOOL) else {
            // Not a payment link (a WhatsApp send, a CRM write): nothing to look up here. Its claim is certainly
            // abandoned, so the next identical call settles it its own way at once (a send from its status
            // webhook, never by sending again) instead of waiting out the lock.
            ledger.mark_unknown(&entry.key).await?;
            settled += 1;
            continue;
        };
        let lock = state.key_locks.get(&entry.key);
        let _serialised = lock.lock().await;
        match payments.find_payment_link(&entry.key).await {
            Ok(Some(link)) => {
                let stored = serde_json::to_value(&link).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                ledger.finish(&entry, &stored).await?
            }
            Ok(None) => ledger.mark_unknown(&entry.key).await?,
            // Provider unreachable now: leave it for the next identical call, which reconciles first.
            Err(_) => continue,
        }
        settled += 1;
    }
    Ok(settled)
}

fn decode(stored: serde_json::Value) -> Result<PaymentLink, ToolError> {
    serde_json::from_value(stored).map_err(|e| ToolError::Store(StoreError::Corrupt(e.to_string())))
}
