//! Keeping the invoice book true: the worker that writes to a Notion invoice's page what happened to it — the
//! payment link made for it, and, when a verified webhook says that link was paid, status paid, the paid date
//! and the payment id.
//!
//! Nothing is lost on the way: the webhook is stored before it is acknowledged, the worker reads the event log
//! from a durable cursor and turns each paid event for a watched link into a durable write-back row (one per
//! link and kind, so the same webhook five times owes one update), and a row stays pending until Notion has it.
//! Failures are retried with backoff (honouring `Retry-After` on 429 / 529), across restarts; refusals that
//! retrying cannot fix are marked failed, logged, and shown to the agent on the invoice.

use crate::domain::event::{EventFilter, EventKind};
use crate::domain::time;
use crate::domain::writeback::{WriteBack, WriteBackKind};
use crate::providers::ProviderError;
use crate::providers::notion::{NotionClient, Update};
use crate::state::AppState;
use crate::store::StoreError;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Paid events read from the log per round.
const EVENTS_PER_ROUND: i64 = 500;
/// Write-backs attempted per round.
const WRITES_PER_ROUND: i64 = 20;
/// How long a worker holds the write-back it took, longer than any attempt (a few Notion calls, each within the
/// call deadline of at most 60 s): another instance's worker takes it only after that, if this one died
/// mid-attempt.
const LEASE_SECS: i64 = 300;
/// The longest wait between attempts of one write-back.
const MAX_BACKOFF_SECS: i64 = 300;
/// How often the worker looks even when nothing woke it (another process may have added work).
const IDLE_SECS: i64 = 30;

/// Start the worker if an invoice book is configured; it stops with `shutdown`.
pub fn spawn(state: Arc<AppState>, shutdown: CancellationToken) -> Option<tokio::task::JoinHandle<()>> {
    let book = state.providers.book().ok()?;
    Some(tokio::spawn(run(state, book, shutdown)))
}

async fn run(state: Arc<AppState>, book: Arc<NotionClient>, shutdown: CancellationToken) {
    // Failed write-backs get another chance after a restart: the configuration may have been fixed.
    if state.store.exists() {
        match state.store.write_backs().requeue_failed(time::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(requeued = n, "retrying invoice book updates that failed before the restart"),
            Err(e) => tracing::warn!(error = %e, "could not requeue failed invoice book updates"),
        }
    }
    let mut events = state.store.events().subscribe();
    loop {
        let next = match round(&state, &book).await {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(error = %e, "the invoice book worker could not read its queue; trying again shortly");
                Some(time::now() + 5)
            }
        };
        let wait = next.map_or(IDLE_SECS, |at| (at - time::now()).clamp(0, IDLE_SECS));
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = events.changed() => {}
            _ = state.book_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(wait.unsigned_abs())) => {}
        }
    }
}

/// Turn new paid events into write-backs, make the ones due, and say when the next is due.
pub async fn round(state: &AppState, book: &NotionClient) -> Result<Option<i64>, StoreError> {
    if !state.store.exists() {
        return Ok(None);
    }
    let queue = state.store.write_backs();
    let cursor = queue.cursor().await?;
    let filter = EventFilter { kinds: vec![EventKind::PaymentLinkPaid], after_seq: Some(cursor), ..Default::default() };
    let paid = state.store.events().list(&filter, EVENTS_PER_ROUND).await?;
    for (seq, event) in &paid {
        if let Some(link_id) = &event.correlation.payment_link_id {
            let when = event.occurred_at.as_deref().unwrap_or(&event.received_at);
            let paid_on = when.get(..10).unwrap_or(when);
            let payment_id = event.correlation.payment_id.as_deref();
            if queue.link_paid(link_id, payment_id, paid_on, time::now()).await? {
                tracing::info!(link = %link_id, event = %event.id, "a paid link's invoice is owed 'paid' in the book");
            }
        }
        queue.set_cursor(*seq).await?;
    }
    // One at a time, each taken just before its attempt, so the lease covers that attempt alone.
    for _ in 0..WRITES_PER_ROUND {
        let Some(write_back) = queue.take_due(time::now(), LEASE_SECS, 1).await?.pop() else { break };
        attempt(state, book, &write_back).await?;
    }
    queue.next_due().await
}

async fn attempt(state: &AppState, book: &NotionClient, w: &WriteBack) -> Result<(), StoreError> {
    let queue = state.store.write_backs();
    let update = match w.kind {
        WriteBackKind::PaymentLink => match &w.link_url {
            Some(url) => Update::PaymentLink { url: url.clone() },
            None => return queue.done(w.id, time::now()).await,
        },
        WriteBackKind::Paid => Update::Paid {
            paid_on: w
                .paid_on
                .clone()
                .unwrap_or_else(|| time::rfc3339(time::now()).unwrap_or_default()[..10].to_string()),
            payment_id: w.payment_id.clone().unwrap_or_else(|| format!("paid through payment link {}", w.link_id)),
        },
    };
    match book.update(&w.invoice_id, &update).await {
        // Accepted is done, even if the page no longer reads as an invoice (that is logged by the client).
        Ok(_) => {
            tracing::info!(target: "switchboard::notify", invoice = %w.invoice_id, update = w.kind.as_str(), link = %w.link_id, "updated the invoice in Notion");
            queue.done(w.id, time::now()).await
        }
        Err(e) if retryable(&e) => {
            let next = time::now() + backoff(w.attempts, &e);
            tracing::warn!(target: "switchboard::notify", invoice = %w.invoice_id, update = w.kind.as_str(), attempts = w.attempts + 1, error = %e, "could not update the invoice in Notion; will retry");
            queue.retry_later(w.id, &e.to_string(), next, time::now()).await
        }
        Err(e) => {
            tracing::error!(target: "switchboard::notify", invoice = %w.invoice_id, update = w.kind.as_str(), error = %e, "Notion refused an invoice update; it is retried after the next restart");
            queue.failed(w.id, &e.to_string(), time::now()).await
        }
    }
}

/// Whether trying again later may succeed.
fn retryable(e: &ProviderError) -> bool {
    matches!(
        e,
        ProviderError::RateLimited { .. }
            | ProviderError::Upstream { .. }
            | ProviderError::Timeout { .. }
            | ProviderError::Unreachable { .. }
            | ProviderError::Network { .. }
            | ProviderError::Uncertain { .. }
            | ProviderError::Conflict { .. }
    )
}

/// Seconds until the next attempt: doubling from 2 s to five minutes, never sooner than Notion asked.
fn backoff(attempts: i64, e: &ProviderError) -> i64 {
    let doubling = 2_i64.saturating_pow(u32::try_from(attempts.clamp(0, 16)).unwrap_or(16) + 1).min(MAX_BACKOFF_SECS);
    let asked = match e {
        ProviderError::RateLimited { retry_after: Some(d), .. } => {
            i64::try_from(d.as_secs()).unwrap_or(MAX_BACKOFF_SECS)
        }
        _ => 0,
    };
    doubling.max(asked.min(MAX_BACKOFF_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ProviderId;

    #[test]
    fn backoff_doubles_to_a_cap_and_honours_retry_after() {
        let busy = ProviderError::Timeout { provider: ProviderId::Notion };
        assert_eq!(backoff(0, &busy), 2);
        assert_eq!(backoff(3, &busy), 16);
        assert_eq!(backoff(30, &busy), MAX_BACKOFF_SECS);
        let limited =
            ProviderError::RateLimited { provider: ProviderId::Notion, retry_after: Some(Duration::from_secs(40)) };
        assert_eq!(backoff(0, &limited), 40);
    }
}
