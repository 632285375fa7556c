//! The shared backend: one PostgreSQL database behind any number of Switchboard instances, chosen by a
//! `postgres://` URL in `DATABASE_URL` or `[store] url`. The pool opens on first use (and at start-up, so a wrong
//! URL fails there, not mid-conversation); migrations run once per database, instances starting together wait on
//! the migrator's advisory lock.
//!
//! What makes N instances one:
//! - **Event order** ([`commit`]): every event insert takes one advisory transaction lock first, so sequence
//!   numbers are handed out and committed in the same order on every instance. A reader that sees event `n` sees
//!   every event below `n` that will ever exist, and an `after_seq` cursor never skips an event committed late.
//! - **Wake-ups** ([`wakeups`]): after a commit (never inside it) an instance sends a `NOTIFY`; one `LISTEN`
//!   connection per process turns those hints, its reconnects and a 1 s timer into the same local signals the
//!   SQLite store raises, so a waiter on instance B hears an event stored by instance A.
//! - **Claims** ([`ledger`]): an idempotency claim is a leased row with a fencing token; a stale owner's later
//!   touch, release or unknown-outcome mark changes nothing. A claim whose instance died ([`instances`]: it
//!   stopped renewing its liveness) is abandoned at once, so another instance reconciles it within seconds.
//! - **Audit chain** ([`audit`]): appends serialise on an advisory transaction lock, so two instances never link
//!   to the same previous record.
//! - **MCP sessions** ([`sessions`]): a 2025-11-25 client's session, opened on one instance, is restored by any
//!   other from the `initialize` parameters kept here, until it is ended or idle everywhere.

mod approvals;
mod audit;
mod commit;
mod events;
mod instances;
pub use instances::LIVENESS_SECS;
mod ledger;
mod sessions;
mod wakeups;
mod writebacks;

use super::StoreError;
use crate::store::group_commit::Writer;
use secrecy::{ExposeSecret, SecretString};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;

/// How long a session may sit idle inside a transaction before the server ends it. Switchboard's transactions
/// do no work between their statements, so only a stalled process reaches it.
const IDLE_IN_TRANSACTION: &str = "30s";

/// Pool connections for queries; the `LISTEN` connection is one more.
const MAX_CONNECTIONS: u32 = 10;

/// The grace after a lapsed liveness before an instance's claims are taken over, without a configured deadline
/// (the default 30 s call deadline and [`GRACE_MARGIN_SECS`]).
const DEFAULT_GRACE_SECS: i64 = 30 + GRACE_MARGIN_SECS;
const GRACE_MARGIN_SECS: i64 = 5;

/// How long opening the database, or waiting for a free connection, may take before it is reported unreachable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The signals this process raises: the event log's (moved by local commits and by other instances' hints) and
/// the approvals' change counter. The `LISTEN` task holds them weakly and stops when the store is gone.
pub(super) struct Signals {
    /// The event log's group-commit writer; it also announces each commit.
    pub(super) writer: Writer,
    /// Moves on every change to an approval, here or (heard through the database) on another instance.
    pub(super) approvals_changed: tokio::sync::watch::Sender<u64>,
}

/// A PostgreSQL database and its lazily opened pool.
pub struct PgStore {
    url: SecretString,
    pool: OnceCell<PgPool>,
    signals: Arc<Signals>,
    /// The fencing token of each idempotency claim this process holds (see [`ledger`]).
    claims: Mutex<HashMap<String, String>>,
    /// This process among the instances (see [`instances`]); its claims name it as their owner.
    instance: String,
    /// How long after its liveness lapses this instance may still be in a provider call: its call deadline and a
    /// margin. Others take its claims over only after that.
    grace_secs: i64,
}

impl PgStore {
    /// The database at `url`; nothing is touched until the first query.
    pub fn new(url: SecretString) -> Self {
        PgStore {
            url,
            pool: OnceCell::new(),
            signals: Arc::new(Signals {
                writer: Writer::default(),
                approvals_changed: tokio::sync::watch::Sender::new(0),
            }),
            claims: Mutex::default(),
            instance: instances::new_id(),
            grace_secs: DEFAULT_GRACE_SECS,
        }
    }

    /// The longest provider call this instance makes (its `[outbound] deadline_secs`): another instance takes its
    /// claims over only once such a call must have ended.
    pub fn with_call_deadline(mut self, deadline: Duration) -> Self {
        self.grace_secs = i64::try_from(deadline.as_secs()).unwrap_or(i64::MAX / 4) + GRACE_MARGIN_SECS;
        self
    }

    /// Where the store lives, for logs and errors: host, port, database and user, never the password.
    pub fn describe(&self) -> String {
        match PgConnectOptions::from_str(self.url.expose_secret()) {
            Ok(o) => format!(
                "PostgreSQL at {}:{} (database {}, user {})",
                o.get_host(),
                o.get_port(),
                o.get_database().unwrap_or("named after the user"),
                o.get_username()
            ),
            Err(_) => "PostgreSQL (DATABASE_URL or [store] url)".to_string(),
        }
    }

    /// Not a standby, and new transactions are not read-only (`default_transaction_read_only`).
    pub(crate) async fn accepts_writes(&self) -> Result<bool, StoreError> {
        let writable = "SELECT NOT (pg_is_in_recovery() OR current_setting('transaction_read_only')::bool)";
        Ok(sqlx::query_scalar(writable).fetch_one(self.pool().await?).await?)
    }

    pub(crate) async fn pool(&self) -> Result<&PgPool, StoreError> {
        self.pool.get_or_try_init(|| self.open()).await
    }

    async fn open(&self) -> Result<PgPool, StoreError> {
        let where_ = self.describe();
        let options = PgConnectOptions::from_str(self.url.expose_secret())
            .map_err(|e| {
                StoreError::Unavailable(format!("DATABASE_URL or [store] url is not a usable PostgreSQL URL: {e}"))
            })?
            // A session that stalls inside a transaction (holding the event log's lock, say) is ended by the
            // server rather than stalling every instance's ingest behind it.
            .options([("idle_in_transaction_session_timeout", IDLE_IN_TRANSACTION)]);
        // One connection first, alone: the pool would retry until its timeout and report only that, where this
        // says why (refused, unknown host, authentication failed, no such database).
        let unreachable = |cause: String| {
            StoreError::Unavailable(format!("cannot connect to {where_}, set by DATABASE_URL or [store] url: {cause}"))
        };
        let first = tokio::time::timeout(ACQUIRE_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| unreachable(format!("no answer within {} s", ACQUIRE_TIMEOUT.as_secs())))?
            .map_err(|e| unreachable(e.to_string()))?;
        let _ = first.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS + 1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        // Alive before the first claim can name this instance as its owner; renewed on a connection of its own.
        instances::renew(&pool, &self.instance, self.grace_secs).await?;
        let renewals =
            PgPoolOptions::new().max_connections(1).acquire_timeout(ACQUIRE_TIMEOUT).connect_lazy_with(options.clone());
        instances::spawn(renewals, self.instance.clone(), self.grace_secs, Arc::downgrade(&self.signals));
        wakeups::spawn(pool.clone(), Arc::downgrade(&self.signals));
        tracing::debug!(store = %where_, "opened the store");
        Ok(pool)
    }
}

/// What the store contract's PostgreSQL tests reach inside for: the event insert, to hold one open.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::domain::event::NewEvent;
    use crate::store::{Recorded, StoreError};

    pub(crate) const EVENTS_LOCK: i64 = super::commit::EVENTS_LOCK;

    /// Insert `event` in `tx` (which must hold [`EVENTS_LOCK`]) as the writer would.
    pub(crate) async fn insert(tx: &mut sqlx::PgConnection, event: &NewEvent) -> Result<Recorded, StoreError> {
        let mut recorded = super::events::insert_all(tx, &[event]).await?;
        recorded.pop().ok_or_else(|| StoreError::Corrupt("an insert reported no outcome".into()))
    }
}
