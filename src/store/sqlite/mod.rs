//! The embedded backend: SQLite in the data directory (WAL, `synchronous=FULL`, `BEGIN IMMEDIATE` writes),
//! opened on first use so start-up never waits for it. Event log writes go through one group-commit writer.

mod approvals;
mod audit;
mod checkpoint;
mod commit;
mod events;
mod ledger;
mod writebacks;

use super::StoreError;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::OnceCell;

/// The database file and its lazily opened pool.
pub struct SqliteStore {
    path: PathBuf,
    pool: OnceCell<SqlitePool>,
    /// The event log's group-commit writer, started on the first delivery; it also announces each commit.
    writer: crate::store::group_commit::Writer,
    /// Moves on every change to an approval made through this store.
    approvals_changed: tokio::sync::watch::Sender<u64>,
    /// Shared by the event writer and the checkpoint task.
    checkpoints: checkpoint::Checkpoints,
}

impl SqliteStore {
    /// `data_dir/switchboard.db`; nothing is touched until the first query.
    pub fn new(data_dir: PathBuf) -> Self {
        SqliteStore {
            path: data_dir.join("switchboard.db"),
            pool: OnceCell::new(),
            writer: crate::store::group_commit::Writer::default(),
            approvals_changed: tokio::sync::watch::Sender::new(0),
            checkpoints: checkpoint::Checkpoints::default(),
        }
    }

    /// The database file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Whether the database file has been created (by any earlier run).
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    pub(crate) async fn pool(&self) -> Result<&SqlitePool, StoreError> {
        self.pool.get_or_try_init(|| open(self.path.clone(), &self.checkpoints)).await
    }
}

/// Open (creating it if needed) and migrate the database, and start its checkpoints ([`checkpoint`]), which
/// follow the event writer's commits and end with the store.
async fn open(path: PathBuf, checkpoints: &checkpoint::Checkpoints) -> Result<SqlitePool, StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir { path: dir.to_path_buf(), source })?;
    }
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let (name, value) = checkpoint::AUTOCHECKPOINT;
    let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options.clone().pragma(name, value)).await?;
    sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
    checkpoint::spawn(options, checkpoints);
    tracing::debug!(path = %path.display(), "opened the store");
    Ok(pool)
}
