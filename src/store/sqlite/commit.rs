//! The SQLite side of the event log's group commit ([`crate::store::group_commit`]): a batch is one
//! `BEGIN IMMEDIATE` transaction, and one fsync (WAL, `synchronous=FULL`) makes all of its events durable.

use super::checkpoint::Checkpoints;
use super::events::insert_all;
use crate::domain::event::NewEvent;
use crate::store::group_commit::Batches;
use crate::store::{Recorded, StoreError};
use sqlx::SqlitePool;

/// The pool the writer commits through, and the checkpoint task it tells of commits (and runs `RESTART`s for).
#[derive(Clone)]
pub(super) struct SqliteBatches(pub(super) SqlitePool, pub(super) Checkpoints);

#[async_trait::async_trait]
impl Batches for SqliteBatches {
    async fn commit(&self, events: &[&NewEvent]) -> Result<Vec<Recorded>, StoreError> {
        self.1.restart_if_asked(&self.0).await;
        let mut tx = self.0.begin_with("BEGIN IMMEDIATE").await?;
        let recorded = insert_all(&mut tx, events).await?;
        tx.commit().await?;
        Ok(recorded)
    }

    fn committed(&self, _newest: i64) {
        self.1.committed();
    }
}
