//! Durable state behind five interfaces, the event log ([`EventLog`]), the idempotency ledger ([`Ledger`]),
//! the approvals waiting for a person ([`Approvals`]), the changes owed to the invoice book ([`WriteBacks`]) and
//! the audit trail ([`AuditLog`]), with two backends: embedded SQLite in the data directory ([`sqlite`], the
//! default) and PostgreSQL shared by any number of instances ([`postgres`], chosen by a `postgres://` URL), which
//! also keeps the MCP sessions every instance may serve ([`SharedSessions`]). Tools, pages, the receiver and the
//! transports see only the interfaces. Each owns its wake-up: the event log's `record` and the
//! approvals' changes publish, `subscribe` / `changes` listen (on PostgreSQL, to every instance's changes).

#[cfg(test)]
mod contract;
mod decode;
pub(crate) mod group_commit;
pub mod postgres;
pub mod sqlite;

use crate::domain::approval::{Approval, Decision, Outcome};
use crate::domain::audit::AuditEntry;
use crate::domain::event::{Event, EventFilter, NewEvent};
use crate::domain::writeback::{LinkForInvoice, WriteBack};
use secrecy::SecretString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored record is unreadable: {0}")]
    Corrupt(String),
    #[error("the event log writer stopped before the commit")]
    WriterGone,
    #[error("the database cannot be opened: {0}")]
    Unavailable(String),
}

/// What recording an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Stored as a new event with this sequence number.
    New(i64),
    /// Already stored earlier (a retry or replay by the provider): nothing changed.
    Duplicate,
}

/// The event log: verified webhook events, deduplicated on (source, provider event id) and, for senders whose
/// id is not signed, on the signed bytes; durable before `record` returns.
#[async_trait::async_trait]
pub trait EventLog: Send + Sync {
    /// Store the events of one delivery once each; one outcome per event, in order, each returned only after
    /// its commit is durable. Subscribers hear of the new ones.
    async fn record_all(&self, events: &[NewEvent]) -> Vec<Result<Recorded, StoreError>>;

    /// Store one event (see [`EventLog::record_all`]).
    async fn record(&self, event: &NewEvent) -> Result<Recorded, StoreError> {
        self.record_all(std::slice::from_ref(event)).await.pop().unwrap_or(Err(StoreError::WriterGone))
    }

    /// Events matching `filter`, oldest first (by arrival), at most `limit`, with their sequence numbers.
    async fn list(&self, filter: &EventFilter, limit: i64) -> Result<Vec<(i64, Event)>, StoreError>;

    /// Events matching `filter`, newest first, at most `limit`.
    async fn recent(&self, filter: &EventFilter, limit: i64) -> Result<Vec<(i64, Event)>, StoreError>;

    /// The most recent event matching `filter`.
    async fn newest(&self, filter: &EventFilter) -> Result<Option<(i64, Event)>, StoreError> {
        Ok(self.recent(filter, 1).await?.into_iter().next())
    }

    /// One event by sequence number.
    async fn get(&self, seq: i64) -> Result<Option<Event>, StoreError>;

    /// The verified body of event `seq`, byte for byte as it was signed (replayable against its signature); for
    /// the later events of a batch delivery (WhatsApp), their own item in the sender's envelope.
    async fn body(&self, seq: i64) -> Result<Option<Vec<u8>>, StoreError>;

    /// The newest sequence number stored (0 when empty).
    async fn latest_seq(&self) -> Result<i64, StoreError>;

    /// Delete events (and with them their dedupe keys) received before `cutoff` (unix seconds).
    async fn prune(&self, cutoff: i64) -> Result<u64, StoreError>;

    /// Hears of every event stored after this call (the newest sequence number). Subscribe first, then read
    /// the log: nothing stored in between is missed.
    fn subscribe(&self) -> tokio::sync::watch::Receiver<i64>;

    /// How many subscriptions are open (waiting tools, resource subscriptions): each should end with its caller.
    fn listeners(&self) -> usize;
}

/// How long a claim protects an in-flight call (longer than any outbound deadline).
pub const LOCK_SECONDS: i64 = 180;

/// What [`Ledger::claim`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// New call: the caller owns the key and must `finish` or `release` it.
    Acquired,
    /// An earlier attempt died mid-flight; the caller owns the key again but must reconcile with the
    /// provider (look the object up by key) before creating. `age_secs` is how long ago the key was first claimed.
    Abandoned { age_secs: i64 },
    /// Finished before: here is the stored result.
    Replay(serde_json::Value),
    /// The key was used with different parameters.
    Conflict,
    /// Another caller is creating it right now.
    Busy { retry_after_secs: i64 },
}

/// One logical call: its key and what identifies it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub tool: String,
    pub provider: String,
    pub request_hash: String,
}

/// The idempotency ledger: the same logical money-moving call runs upstream at most once, and every repeat gets
/// the first result back.
///
/// Phases: [`Ledger::claim`] the key → call the provider with the key as its idempotency handle →
/// [`Ledger::finish`] with the result. A crash between the phases leaves an in-progress claim whose lock
/// expires; whoever claims it next is told the outcome is unknown and must look the object up at the provider
/// before creating anything.
#[async_trait::async_trait]
pub trait Ledger: Send + Sync {
    /// The stored result for `key` if it finished with this `request_hash` (no lock taken).
    async fn finished(&self, key: &str, request_hash: &str) -> Result<Option<serde_json::Value>, StoreError>;

    /// Claim `key` for one call, or learn why not.
    async fn claim(&self, entry: &Entry) -> Result<Claim, StoreError>;

    /// Whether `key` has a claim that never finished (in flight, or its outcome unknown).
    async fn pending(&self, key: &str) -> Result<bool, StoreError>;

    /// When `key` was first claimed, if it finished (unix seconds).
    async fn finished_at(&self, key: &str) -> Result<Option<i64>, StoreError>;

    /// Record the call's result; every later claim of `key` replays it (kept even if the claim was released
    /// meanwhile).
    async fn finish(&self, entry: &Entry, response: &serde_json::Value) -> Result<(), StoreError>;

    /// Renew the claim on `key` just before the provider call, so a slow reconcile cannot let it lapse mid-call.
    async fn touch(&self, key: &str) -> Result<(), StoreError>;

    /// Forget a claim whose call certainly created nothing (the provider refused it), so a retry runs again.
    async fn release(&self, key: &str) -> Result<(), StoreError>;

    /// Leave a claim whose outcome is unknown (timeout, 5xx) for the next caller to reconcile at once.
    async fn mark_unknown(&self, key: &str) -> Result<(), StoreError>;

    /// Entries left in progress whose lock expired before `cutoff` (unix seconds). At start-up pass `i64::MAX`:
    /// every in-progress entry then belongs to a process that is gone.
    async fn abandoned(&self, cutoff: i64) -> Result<Vec<Entry>, StoreError>;

    /// The stored results of `tool`'s finished calls made at or after `since` (unix seconds), newest first, at
    /// most `limit`, each with when it was first claimed.
    async fn results(&self, tool: &str, since: i64, limit: i64) -> Result<Vec<(i64, serde_json::Value)>, StoreError>;
}

/// Actions waiting for a person's approval, one per (tool, idempotency key), durable across restarts. Every
/// change is a conditional update, so two people (or two processes) cannot both decide, and an approval is
/// performed at most once.
#[async_trait::async_trait]
pub trait Approvals: Send + Sync {
    /// Store `proposed` unless its (tool, key) already has an approval that still stands, and return the one that
    /// stands. An earlier one that expired unanswered, or that was declined or failed and the agent was told so,
    /// is replaced (nothing was performed); a performed one stands for good.
    async fn propose(&self, proposed: &Approval, now: i64) -> Result<Approval, StoreError>;

    /// One approval by id.
    async fn get(&self, id: &str) -> Result<Option<Approval>, StoreError>;

    /// The approval for a tool's idempotency key, if any.
    async fn find(&self, tool: &str, key: &str) -> Result<Option<Approval>, StoreError>;

    /// For the page: approvals open at `now` (pending and unexpired, or being performed) first, oldest first;
    /// then the most recently created others; at most `limit`.
    async fn recent(&self, now: i64, limit: i64) -> Result<Vec<Approval>, StoreError>;

    /// Record a person's decision if the approval is still pending and unexpired at `now`. Returns the updated
    /// approval, or `None` when it was no longer open (decided already, expired, unknown).
    async fn decide(&self, id: &str, decision: Decision, now: i64) -> Result<Option<Approval>, StoreError>;

    /// Record what performing an approved action gave (only an approved, unsettled approval changes).
    async fn settle(&self, id: &str, outcome: &Outcome) -> Result<(), StoreError>;

    /// Note that the agent has been told the final outcome.
    async fn mark_reported(&self, id: &str) -> Result<(), StoreError>;

    /// How many approvals are waiting for a person at `now` (pending, unexpired).
    async fn open_count(&self, now: i64) -> Result<i64, StoreError>;

    /// Delete approvals created before `cutoff` (unix seconds) that nobody waits on any more (decided, expired,
    /// performed); returns how many.
    async fn prune(&self, cutoff: i64) -> Result<u64, StoreError>;

    /// Approved before `cutoff` (unix seconds) but never settled: the process performing them stopped.
    async fn unsettled(&self, cutoff: i64) -> Result<Vec<Approval>, StoreError>;

    /// Take an unsettled approval (approved before `cutoff`, never settled) for performing: its decision time
    /// moves to `now`, so another instance sweeping at the same moment leaves it alone. False when another took it
    /// first (or it was settled meanwhile).
    async fn take_unsettled(&self, id: &str, cutoff: i64, now: i64) -> Result<bool, StoreError>;

    /// Changes after this call (a counter that moves on every change made through this store, and on
    /// PostgreSQL on every change another instance announces). Subscribe first, then read: nothing changed in
    /// between is missed. On SQLite changes made by another process are not heard; waiters also re-read on a
    /// timer.
    fn changes(&self) -> tokio::sync::watch::Receiver<u64>;
}

/// Changes owed to the invoice book, durable until made: one per (payment link, kind), so a repeated webhook
/// or a second worker adds nothing; pending ones are retried with backoff, across restarts.
#[async_trait::async_trait]
pub trait WriteBacks: Send + Sync {
    /// A payment link was made for a book invoice: owe its URL to the page, and watch it for payment.
    async fn link_created(&self, link: &LinkForInvoice, now: i64) -> Result<(), StoreError>;

    /// The payment link `link_id` was paid: owe "paid" to its invoice, if it was made for one and nothing is owed
    /// already. Returns whether a write-back was added.
    async fn link_paid(
        &self,
        link_id: &str,
        payment_id: Option<&str>,
        paid_on: &str,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Take pending write-backs due at `now`, oldest first, at most `limit`, each leased to the caller: not due
    /// again for `lease_secs` (unless it is retried, failed or done sooner), so workers on several instances
    /// never attempt one write-back together, and one that dies mid-attempt leaves it to the next after the lease.
    async fn take_due(&self, now: i64, lease_secs: i64, limit: i64) -> Result<Vec<WriteBack>, StoreError>;

    /// How many write-backs are pending.
    async fn pending_count(&self) -> Result<i64, StoreError>;

    /// When the next pending write-back is due, if any.
    async fn next_due(&self) -> Result<Option<i64>, StoreError>;

    /// It was written.
    async fn done(&self, id: i64, now: i64) -> Result<(), StoreError>;

    /// It failed: try again at `next_attempt_at`.
    async fn retry_later(&self, id: i64, error: &str, next_attempt_at: i64, now: i64) -> Result<(), StoreError>;

    /// The book refused it for good (until `requeue_failed`).
    async fn failed(&self, id: i64, error: &str, now: i64) -> Result<(), StoreError>;

    /// Put every failed write-back back in the queue (at start-up: the configuration may have been fixed).
    async fn requeue_failed(&self, now: i64) -> Result<u64, StoreError>;

    /// The write-backs for an invoice's page, oldest first.
    async fn for_invoice(&self, invoice_id: &str) -> Result<Vec<WriteBack>, StoreError>;

    /// The write-backs a payment link caused (its URL recorded, its invoice marked paid), oldest first.
    async fn for_link(&self, link_id: &str) -> Result<Vec<WriteBack>, StoreError>;

    /// How far the worker has read the event log (0: not at all).
    async fn cursor(&self) -> Result<i64, StoreError>;

    async fn set_cursor(&self, seq: i64) -> Result<(), StoreError>;
}

/// The audit trail: records appended one at a time, each linked to the one before by its hash.
#[async_trait::async_trait]
pub trait AuditLog: Send + Sync {
    /// Append `record` (JSON text) after the newest record; returns its sequence number.
    async fn append(&self, record: &str) -> Result<i64, StoreError>;

    /// Records after `after_seq`, oldest first, at most `limit`.
    async fn after(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError>;

    /// The newest records, newest first, at most `limit`.
    async fn newest(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError>;

    /// The highest sequence number ever given to a record (0 if none), even if that record is gone.
    async fn highest_seq(&self) -> Result<i64, StoreError>;
}

/// MCP protocol sessions that any instance may serve (2025-11-25 clients' `Mcp-Session-Id`): what each client
/// declared in `initialize`, kept while some instance has the session in use. A session ended on one instance
/// (DELETE) is ended for all; one whose time ran out is not restored, then deleted.
#[async_trait::async_trait]
pub trait SharedSessions: Send + Sync {
    /// Keep session `id`, opened with these `initialize` params, for `ttl` from now.
    async fn save(&self, id: &str, initialize: &serde_json::Value, ttl: Duration) -> Result<(), StoreError>;

    /// The `initialize` params of session `id`, unless it was ended or its time ran out.
    async fn load(&self, id: &str) -> Result<Option<serde_json::Value>, StoreError>;

    /// Whether session `id` is still kept: false once it was ended (on any instance) or deleted as expired.
    async fn kept(&self, id: &str) -> Result<bool, StoreError>;

    /// Keep sessions in use here for at least their `Duration` from now (a longer time, set by another instance,
    /// stands). Returns the ids still kept; the others were ended elsewhere or expired.
    async fn extend(&self, sessions: &[(String, Duration)]) -> Result<Vec<String>, StoreError>;

    /// End session `id` for every instance.
    async fn end(&self, id: &str) -> Result<(), StoreError>;

    /// Delete the sessions whose time ran out; returns how many.
    async fn prune(&self) -> Result<u64, StoreError>;
}

/// The configured backend.
#[derive(Clone)]
pub enum Store {
    /// `data_dir/switchboard.db`, opened on first use.
    Sqlite(Arc<sqlite::SqliteStore>),
    /// A PostgreSQL database shared with other instances, opened on first use (or by [`Store::open`]).
    Postgres(Arc<postgres::PgStore>),
}

/// Hand every call to the backend.
macro_rules! backend {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Store::Sqlite($s) => $e,
            Store::Postgres($s) => $e,
        }
    };
}

impl Store {
    /// The embedded store in `data_dir`; nothing is touched until the first query.
    pub fn new(data_dir: PathBuf) -> Self {
        Store::Sqlite(Arc::new(sqlite::SqliteStore::new(data_dir)))
    }

    /// The PostgreSQL store at `url`; nothing is touched until the first query.
    pub fn postgres(url: SecretString) -> Self {
        Store::Postgres(Arc::new(postgres::PgStore::new(url)))
    }

    /// The store the configuration names: PostgreSQL when a URL is set, else SQLite in the data directory.
    pub fn from_config(config: &crate::config::Config) -> Self {
        match &config.store.url {
            Some(url) => Store::Postgres(Arc::new(
                postgres::PgStore::new(url.clone()).with_call_deadline(config.outbound.call_deadline),
            )),
            None => Store::new(config.data_dir.clone()),
        }
    }

    /// Open the database now, so a start-up with a wrong URL or an unreachable server fails with a sentence that
    /// names the host and the setting. SQLite keeps opening on first use (it cannot be unreachable).
    pub async fn open(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(_) => Ok(()),
            Store::Postgres(s) => s.pool().await.map(|_| ()),
        }
    }

    /// Where the data lives, for people: the database file, or the PostgreSQL host and database (no password).
    pub fn describe(&self) -> String {
        match self {
            Store::Sqlite(s) => s.path().display().to_string(),
            Store::Postgres(s) => s.describe(),
        }
    }

    /// Whether other instances may share this store (PostgreSQL): then "left unfinished" means "left by an
    /// instance that is gone", not "left before this process started".
    pub fn is_shared(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    /// How long after its last sign of life a dead instance's claims wait before another takes them over, on
    /// top of its call deadline (zero when no other instance shares the store).
    pub fn takeover_after(&self) -> std::time::Duration {
        match self {
            Store::Sqlite(_) => std::time::Duration::ZERO,
            Store::Postgres(_) => std::time::Duration::from_secs(postgres::LIVENESS_SECS.unsigned_abs() + 5),
        }
    }

    /// Whether the store takes writes now. A PostgreSQL server in recovery (a standby) or set read-only answers
    /// reads but would refuse every webhook. SQLite is not checked (a read-only file shows at the first write).
    pub async fn accepts_writes(&self) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(_) => Ok(true),
            Store::Postgres(s) => s.accepts_writes().await,
        }
    }

    /// The backend's name: `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    pub fn events(&self) -> &dyn EventLog {
        backend!(self, s => s.as_ref())
    }

    pub fn ledger(&self) -> &dyn Ledger {
        backend!(self, s => s.as_ref())
    }

    pub fn approvals(&self) -> &dyn Approvals {
        backend!(self, s => s.as_ref())
    }

    pub fn audit(&self) -> &dyn AuditLog {
        backend!(self, s => s.as_ref())
    }

    pub fn write_backs(&self) -> &dyn WriteBacks {
        backend!(self, s => s.as_ref())
    }

    /// The MCP sessions shared with other instances: PostgreSQL only. A SQLite store serves one instance, which
    /// holds every session of its own in memory already (see `transport::sessions`).
    pub fn sessions(&self) -> Option<Arc<dyn SharedSessions>> {
        match self {
            Store::Sqlite(_) => None,
            Store::Postgres(s) => Some(s.clone()),
        }
    }

    /// Whether anything was ever stored (false means reads would only create an empty database). A PostgreSQL
    /// store always counts: its database exists before Switchboard does.
    pub fn exists(&self) -> bool {
        match self {
            Store::Sqlite(s) => s.exists(),
            Store::Postgres(_) => true,
        }
    }
}
