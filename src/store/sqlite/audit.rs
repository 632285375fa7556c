//! The audit trail in `audit`: an append reads the newest hash and inserts after it in one `BEGIN IMMEDIATE`
//! transaction, so two appends can never link to the same record.

use super::SqliteStore;
use crate::domain::audit::{AuditEntry, GENESIS, link_hash};
use crate::store::decode;
use crate::store::{AuditLog, StoreError};

#[async_trait::async_trait]
impl AuditLog for SqliteStore {
    async fn append(&self, record: &str) -> Result<i64, StoreError> {
        let pool = self.pool().await?;
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        let prev: Option<String> =
            sqlx::query_scalar("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1").fetch_optional(&mut *tx).await?;
        let prev = prev.unwrap_or_else(|| GENESIS.to_string());
        let hash = link_hash(&prev, record);
        let seq = sqlx::query("INSERT INTO audit (record, prev_hash, hash) VALUES (?, ?, ?)")
            .bind(record)
            .bind(&prev)
            .bind(&hash)
            .execute(&mut *tx)
            .await?
            .last_insert_rowid();
        tx.commit().await?;
        Ok(seq)
    }

    async fn after(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query("SELECT seq, record, prev_hash, hash FROM audit WHERE seq > ? ORDER BY seq LIMIT ?")
            .bind(after_seq)
            .bind(limit)
            .fetch_all(self.pool().await?)
            .await?;
        rows.iter().map(decode::audit_entry).collect()
    }

    async fn newest(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query("SELECT seq, record, prev_hash, hash FROM audit ORDER BY seq DESC LIMIT ?")
            .bind(limit)
            .fetch_all(self.pool().await?)
            .await?;
        rows.iter().map(decode::audit_entry).collect()
    }

    async fn highest_seq(&self) -> Result<i64, StoreError> {
        // AUTOINCREMENT keeps the highest id ever used in sqlite_sequence, even after the row is deleted.
        let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'audit'")
            .fetch_optional(self.pool().await?)
            .await?;
        Ok(seq.unwrap_or(0))
    }
}
