//! WAL checkpoints kept out of commits. SQLite's default (`wal_autocheckpoint=1000`) runs a checkpoint inside
//! the commit that crosses 1,000 pages: that commit, and every delivery queued behind it, waits for the pages to
//! be copied into the database file and the file to be flushed. That was the ack tail at 1,000 deliveries/s.
//!
//! Here one task on a connection of its own checkpoints with `PASSIVE` (it never waits for a writer or a reader)
//! shortly after commits and every second when the store is quiet. A `PASSIVE` checkpoint cannot reach the end of
//! a WAL that commits keep extending, and the WAL only starts over once it is checkpointed to its end, so under
//! sustained load it would grow without end. Past [`RESTART_PAGES`] the task asks the event writer for a
//! `RESTART` before its next batch (run by the task itself, it starved against a writer that takes the lock again
//! at once). Little is left to copy by then; it waits at most [`RESTART_WAIT`] for readers still in the WAL, and
//! after a refusal the task asks again only after [`RESTART_BACKOFF`]; while a `RESTART` is pending the task runs
//! no checkpoint of its own (SQLite refuses a second checkpointer at once). Commits themselves checkpoint only far
//! past that bound ([`AUTOCHECKPOINT`]).

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection, SqlitePool};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Set on every pooled connection: a commit checkpoints only when the WAL is 4× the task's bound (64 MiB), which
/// happens only if the task is gone or a reader keeps the WAL from starting over.
pub(super) const AUTOCHECKPOINT: (&str, &str) = ("wal_autocheckpoint", "16384");
/// After a commit, let others land before checkpointing (so at most ~10 checkpoints a second).
const AFTER_COMMIT: Duration = Duration::from_millis(100);
/// With no event committed, checkpoint anyway this often (other tables write to the WAL too).
const IDLE: Duration = Duration::from_secs(1);
/// A WAL longer than this after a `PASSIVE` checkpoint (pages of 4 KiB: 16 MiB) is restarted.
pub(super) const RESTART_PAGES: i64 = 4096;
/// How long a `RESTART` waits for readers to leave the WAL (the event writer waits with it).
const RESTART_WAIT: &str = "PRAGMA busy_timeout = 50";
/// After a `RESTART` that could not run, the next is asked for no sooner than this.
const RESTART_BACKOFF: Duration = Duration::from_secs(10);
/// How long the task holds its own checkpoints back for a `RESTART` it asked for (the writer runs it before its
/// next batch; with no batch coming, the task goes on checkpointing).
const RESTART_PENDING: Duration = Duration::from_secs(1);

/// What the event writer and the checkpoint task share: the writer says when it committed, the task when the
/// WAL needs a `RESTART`. Held by the store and its writer task; the checkpoint task ends when both are gone.
#[derive(Clone, Default)]
pub(crate) struct Checkpoints(Arc<Shared>);

#[derive(Default)]
struct Shared {
    committed: Notify,
    restart: AtomicBool,
    /// No `RESTART` is asked for before this.
    backoff_until: Mutex<Option<Instant>>,
    /// `RESTART`s run so far.
    restarts: AtomicU32,
}

impl Checkpoints {
    /// The event writer committed a batch.
    pub(super) fn committed(&self) {
        self.0.committed.notify_one();
    }

    /// Run the `RESTART` checkpoint the task asked for, if it asked (the event writer, before a batch).
    pub(super) async fn restart_if_asked(&self, pool: &SqlitePool) {
        if !self.0.restart.swap(false, Ordering::AcqRel) {
            return;
        }
        self.0.restarts.fetch_add(1, Ordering::Relaxed);
        match restart(pool).await {
            Ok((0, log, done)) => tracing::debug!(log, done, "restarted a long WAL"),
            Ok((_, log, done)) => {
                tracing::debug!(log, done, "the WAL could not restart (a reader or another checkpoint was in it)");
                self.back_off();
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not restart the WAL; asking again later");
                self.back_off();
            }
        }
    }

    fn back_off(&self) {
        *self.0.backoff_until.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + RESTART_BACKOFF);
    }
}

impl Shared {
    /// Ask the writer for a `RESTART` unless backing off; whether it was asked.
    fn ask_for_restart(&self) -> bool {
        let backoff = *self.backoff_until.lock().unwrap_or_else(|e| e.into_inner());
        let ask = backoff.is_none_or(|until| Instant::now() >= until);
        if ask {
            self.restart.store(true, Ordering::Release);
        }
        ask
    }
}

/// `RESTART` on a pooled connection that waits [`RESTART_WAIT`] for readers; the connection is closed after it
/// rather than handed back with the short timeout. Returns `(busy, log, checkpointed)`.
async fn restart(pool: &SqlitePool) -> Result<(i64, i64, i64), sqlx::Error> {
    let mut connection = pool.acquire().await?;
    connection.close_on_drop();
    sqlx::query(RESTART_WAIT).execute(&mut *connection).await?;
    sqlx::query_as("PRAGMA wal_checkpoint(RESTART)").fetch_one(&mut *connection).await
}

/// Checkpoint `options`' database for as long as `checkpoints` is held by the store.
pub(super) fn spawn(options: SqliteConnectOptions, checkpoints: &Checkpoints) {
    let shared = Arc::downgrade(&checkpoints.0);
    tokio::spawn(async move {
        match options.connect().await {
            Ok(connection) => run(connection, shared).await,
            Err(e) => {
                tracing::warn!(error = %e, "could not open the checkpoint connection; commits checkpoint instead")
            }
        }
    });
}

async fn run(mut connection: SqliteConnection, shared: Weak<Shared>) {
    let mut asked: Option<Instant> = None;
    loop {
        let Some(s) = shared.upgrade() else { return };
        let woken = tokio::time::timeout(IDLE, s.committed.notified()).await.is_ok();
        if woken {
            tokio::time::sleep(AFTER_COMMIT).await;
        }
        // A checkpoint of ours would make the writer's RESTART fail at once: hold back while it is pending.
        if let Some(at) = asked.filter(|_| s.restart.load(Ordering::Acquire)) {
            if at.elapsed() < RESTART_PENDING {
                continue;
            }
            s.restart.store(false, Ordering::Release);
        }
        asked = None;
        drop(s);
        match passive(&mut connection).await {
            Ok(log) if log > RESTART_PAGES => {
                let Some(s) = shared.upgrade() else { return };
                asked = s.ask_for_restart().then(Instant::now);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; retrying later"),
        }
    }
}

/// One `PASSIVE` checkpoint: the WAL's length in pages. Even when every page reached the database file, the WAL
/// starts over only if no reader still uses it when the next write begins; a long one is restarted either way.
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
                // ~2 KB, like a real delivery: one row per 4 KiB page.
                let body = format!("{{\"id\":\"evt_{i}\",\"pad\":\"{}\"}}", "x".repeat(2000));
                NewEvent::new("razorpay", extracted, format!("evt_{i}"), body.into(), None)
            })
            .collect()
    }

    /// The connections that commit deliveries checkpoint only far past the task's bound (SQLite's default runs
    /// one inside the commit that crosses 1,000 pages, and every delivery queued behind it waits).
    #[tokio::test]
    async fn commits_checkpoint_only_as_a_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::new(dir.path().to_path_buf());
        let pool = store.pool().await.unwrap();
        let mut connections = Vec::new();
        // Every connection the pool opens, not only the first.
        for _ in 0..4 {
            connections.push(pool.acquire().await.unwrap());
        }
        for c in &mut connections {
            let pages: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint").fetch_one(&mut **c).await.unwrap();
            assert!(pages >= 4 * super::RESTART_PAGES, "a pooled connection checkpoints past {pages} pages");
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
        // ~1 MB of WAL: far below the 4 MB at which SQLite's own autocheckpoint would move it.
        for r in store.record_all(&events(1, 250)).await {
            r.unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::metadata(&db).unwrap().len() < empty + 400_000 {
            assert!(Instant::now() < deadline, "the WAL was not checkpointed into the database within 5 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Steady writes of ~85 MB of WAL, five times the restart bound: restarted, the WAL file stays near that
        // bound (~34 MB measured); left to the commits' fallback it passes 64 MiB.
        for batch in 0..160 {
            for r in store.record_all(&events(1_000 + batch * 128, 128)).await {
                r.unwrap();
            }
        }
        let wal_bytes = std::fs::metadata(&wal).unwrap().len();
        assert!(
            wal_bytes < 7 * super::RESTART_PAGES as u64 * 4096 / 2,
            "the WAL grew to {wal_bytes} bytes under steady writes"
        );
    }

    /// A reader that keeps a snapshot open (a backup tool, a `sqlite3` shell) stops the WAL from restarting; the
    /// event writer then waits for it no more than a moment, and does not ask again on every batch.
    #[tokio::test]
    async fn a_reader_holding_the_wal_stalls_no_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::new(dir.path().to_path_buf());
        store.record_all(&events(0, 1)).await.pop().unwrap().unwrap();
        let url = format!("sqlite://{}", dir.path().join("switchboard.db").display());
        let mut reader = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
        sqlx::query("BEGIN").execute(&mut reader).await.unwrap();
        let _: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&mut reader).await.unwrap();
        // ~50 MB of WAL: past the restart bound, so a RESTART is asked for and refused by the reader.
        let mut slowest = Duration::ZERO;
        for batch in 0..100 {
            let started = Instant::now();
            for r in store.record_all(&events(1_000 + batch * 128, 128)).await {
                r.unwrap();
            }
            slowest = slowest.max(started.elapsed());
            // Give the checkpoint task its turns, as the gaps between real deliveries do.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // A RESTART that waited out the pool's busy timeout would hold one batch for 5 s.
        assert!(slowest < Duration::from_secs(2), "a batch waited {slowest:?} behind a reader");
        // Asked for, refused, and not asked again on every batch (the back-off is 10 s; the writes take ~1 s).
        let restarts = store.checkpoints.0.restarts.load(std::sync::atomic::Ordering::Relaxed);
        assert!((1..=2).contains(&restarts), "{restarts} RESTARTs were run");
        sqlx::query("COMMIT").execute(&mut reader).await.unwrap();
    }
}
