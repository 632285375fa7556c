//! WAL checkpoints off the commit path. SQLite's default (`wal_autocheckpoint=1000`) runs a checkpoint inside
//! the commit that crosses 1,000 pages: that commit, and every delivery queued behind it, waits for the pages to
//! be copied into the database file and the file to be flushed. That was the ack tail at 1,000 deliveries/s.
//!
//! Here the pool's connections never checkpoint; one task on a connection of its own does, with `PASSIVE`
//! (it never blocks a writer or a reader) shortly after commits and when the store goes quiet. A `PASSIVE`
//! checkpoint cannot reach the end of a WAL that commits keep extending, and the WAL only starts over once it
//! is checkpointed to its end, so under sustained load it would grow without end. Past [`RESTART_PAGES`] the
//! task asks the event writer for a `RESTART` between two batches (run by the task itself, it would starve
//! against a writer that takes the lock again at once): little is left to copy by then, so it is a short pause
//! every 16 MiB of WAL instead of a full copy every 4 MiB.

use crate::store::StoreError;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection, SqlitePool};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// Set on every pooled connection: commits never checkpoint.
pub(super) const AUTOCHECKPOINT: (&str, &str) = ("wal_autocheckpoint", "0");
/// After a commit, let others land before checkpointing (so at most ~10 checkpoints a second).
const AFTER_COMMIT: Duration = Duration::from_millis(100);
/// With no event committed, checkpoint anyway this often (other tables write to the WAL too).
const IDLE: Duration = Duration::from_secs(1);
/// A WAL longer than this after a `PASSIVE` checkpoint (pages of 4 KiB: 16 MiB) is restarted.
pub(super) const RESTART_PAGES: i64 = 4096;

/// Raised by the checkpoint task when the WAL outgrew [`RESTART_PAGES`]; the event writer takes it.
#[derive(Clone, Default)]
pub(crate) struct RestartWanted(Arc<AtomicBool>);

impl RestartWanted {
    /// Run the `RESTART` checkpoint the task asked for, if it asked (the event writer, between batches). Waits
    /// for readers that still use the WAL (within the busy timeout); a failure is only logged.
    pub(super) async fn take(&self, pool: &SqlitePool) {
        if !self.0.swap(false, Ordering::AcqRel) {
            return;
        }
        let restarted: Result<(i64, i64, i64), _> =
            sqlx::query_as("PRAGMA wal_checkpoint(RESTART)").fetch_one(pool).await.map_err(StoreError::from);
        match restarted {
            Ok((busy, log, done)) => tracing::debug!(busy, log, done, "restarted a long WAL"),
            Err(e) => tracing::warn!(error = %e, "could not restart the WAL; asking again after the next checkpoint"),
        }
    }
}

/// Checkpoint `options`' database until `commits` (the event writer's signal) is closed, i.e. the store is gone.
pub(super) fn spawn(options: SqliteConnectOptions, commits: watch::Receiver<i64>, restart: RestartWanted) {
    tokio::spawn(async move {
        match options.connect().await {
            Ok(connection) => run(connection, commits, restart).await,
            Err(e) => {
                tracing::warn!(error = %e, "could not open the checkpoint connection; the WAL is not checkpointed")
            }
        }
    });
}

async fn run(mut connection: SqliteConnection, mut commits: watch::Receiver<i64>, restart: RestartWanted) {
    loop {
        match tokio::time::timeout(IDLE, commits.changed()).await {
            Ok(Err(_)) => return,
            Ok(Ok(())) => tokio::time::sleep(AFTER_COMMIT).await,
            Err(_) => {}
        }
        commits.borrow_and_update();
        match passive(&mut connection).await {
            Ok(pages) if pages > RESTART_PAGES => restart.0.store(true, Ordering::Release),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; retrying later"),
        }
    }
}

/// One `PASSIVE` checkpoint; the WAL's length in pages.
async fn passive(connection: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    let (_busy, log, _done): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&mut *connection).await?;
    Ok(log)
}

#[cfg(test)]
mod tests {
    use crate::domain::event::{Correlation, EventKind, Extracted, NewEvent};
    use crate::store::EventLog;
    use crate::store::sqlite::SqliteStore;
    use std::time::{Duration, Instant};

    fn events(from: usize, n: usize) -> Vec<NewEvent> {
        (from..from + n)
            .map(|i| {
                let extracted = Extracted {
                    kind: EventKind::PaymentSucceeded,
                    event_type: "payment.captured".into(),
                    provider_event_id: None,
                    occurred_at: None,
                    amount: None,
                    correlation: Correlation::default(),
                    own_payload: None,
                };
                // ~2 KB, like a real delivery: 64 of them fill ~32 pages of WAL.
                let body = format!("{{\"id\":\"evt_{i}\",\"pad\":\"{}\"}}", "x".repeat(2000));
                NewEvent::new("razorpay", extracted, format!("evt_{i}"), body.into(), None)
            })
            .collect()
    }

    /// The connections that commit deliveries never checkpoint (SQLite's default runs one inside the commit that
    /// crosses 1,000 pages, and every delivery queued behind it waits).
    #[tokio::test]
    async fn commits_never_run_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::new(dir.path().to_path_buf());
        let pool = store.pool().await.unwrap();
        for _ in 0..4 {
            let mut connections = Vec::new();
            // Every connection the pool opens, not only the first.
            for _ in 0..4 {
                connections.push(pool.acquire().await.unwrap());
            }
            for c in &mut connections {
                let pages: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint").fetch_one(&mut **c).await.unwrap();
                assert_eq!(pages, 0, "a pooled connection would checkpoint inside a commit");
            }
        }
    }

    /// What commits write reaches the database file shortly after, without waiting for 1,000 pages of WAL, and
    /// the WAL does not grow without end under steady writes.
    #[tokio::test]
    async fn the_wal_is_checkpointed_off_the_commit_path_and_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::new(dir.path().to_path_buf());
        let db = dir.path().join("switchboard.db");
        let wal = dir.path().join("switchboard.db-wal");
        store.record_all(&events(0, 1)).await.pop().unwrap().unwrap();
        let empty = std::fs::metadata(&db).unwrap().len();
        // ~500 KB: far below the 4 MB at which SQLite's own autocheckpoint would move it.
        for r in store.record_all(&events(1, 250)).await {
            r.unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::metadata(&db).unwrap().len() < empty + 400_000 {
            assert!(Instant::now() < deadline, "the WAL was not checkpointed into the database within 5 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Steady writes of ~40 MB, more than twice the restart bound: the WAL file stays near that bound.
        for batch in 0..160 {
            for r in store.record_all(&events(1_000 + batch * 128, 128)).await {
                r.unwrap();
            }
        }
        let wal_bytes = std::fs::metadata(&wal).unwrap().len();
        assert!(
            wal_bytes < 3 * super::RESTART_PAGES as u64 * 4096,
            "the WAL grew to {wal_bytes} bytes under steady writes"
        );
    }
}
