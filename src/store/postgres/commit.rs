//! The PostgreSQL side of the event log's group commit ([`crate::store::group_commit`]), and why its sequence
//! numbers are safe cursors.
//!
//! `bigserial` values are handed out when a row is inserted but become visible when its transaction commits, so
//! with several writers event 102 can be visible before 101; a reader that moved its cursor to 102 would never see
//! 101. Each batch therefore takes [`EVENTS_LOCK`] (`pg_advisory_xact_lock`) before inserting: one event
//! transaction at a time across every instance, holding the lock until its commit is visible. The next one draws
//! its numbers only after that, so numbers are committed in order, and whatever snapshot shows event `n` shows
//! every event below it. Cursors stay plain numbers (`after_seq`, `ev_<n>`), as on SQLite.
//!
//! The cost is one lock hand-over per batch; each instance still batches what arrived meanwhile (up to 256 events
//! per commit), so the lock is taken per batch, not per delivery. A transaction that held the lock and stalled
//! would stall every instance's ingest: these transactions hold no other work and end at once.
//!
//! After the commit (never inside the transaction: `NOTIFY` serialises every notifying commit in the cluster)
//! one `NOTIFY` per batch, asynchronous-commit, tells the other instances the newest number. It is a hint: lost,
//! it costs a waiter at most the listener's 1 s backstop.

use super::events::insert_all;
use super::wakeups::EVENTS_CHANNEL;
use crate::domain::event::NewEvent;
use crate::store::group_commit::Batches;
use crate::store::{Recorded, StoreError};
use sqlx::PgPool;

/// The advisory lock key that serialises event inserts ("SWBD" 0001).
pub(super) const EVENTS_LOCK: i64 = 0x5357_4244_0001;

/// The pool the writer commits through.
#[derive(Clone)]
pub(super) struct PgBatches(pub(super) PgPool);

#[async_trait::async_trait]
impl Batches for PgBatches {
    async fn commit(&self, events: &[&NewEvent]) -> Result<Vec<Recorded>, StoreError> {
        let mut tx = self.0.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(EVENTS_LOCK).execute(&mut *tx).await?;
        let recorded = insert_all(&mut tx, events).await?;
        tx.commit().await?;
        Ok(recorded)
    }

    /// Tell the other instances, in a transaction of its own that does not wait for a flush.
    fn committed(&self, newest: i64) {
        let pool = self.0.clone();
        tokio::spawn(async move {
            let sent = sqlx::query("SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, $2)")
                .bind(EVENTS_CHANNEL)
                .bind(newest.to_string())
                .execute(&pool)
                .await;
            if let Err(e) = sent {
                tracing::debug!(error = %e, "could not notify other instances of new events; they poll");
            }
        });
    }
}
