//! The audit trail in `audit`: an append takes [`AUDIT_LOCK`] (an advisory transaction lock), reads the newest
//! hash and inserts after it in one transaction, so two instances can never link to the same record.

use super::PgStore;
use crate::domain::audit::{AuditEntry, GENESIS, link_hash};
use crate::store::decode;
use crate::store::{AuditLog, StoreError};

/// The advisory lock key that serialises appends ("SWBD" 0002).
const AUDIT_LOCK: i64 = 0x5357_4244_0002;

#[async_trait::async_trait]
impl AuditLog for PgStore {
    async fn append(&self, record: &str) -> Result<i64, StoreError> {
        let pool = self.pool().await?;
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(AUDIT_LOCK).execute(&mut *tx).await?;
        let prev: Option<String> =
            sqlx::query_scalar("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1").fetch_optional(&mut *tx).await?;
        let prev = prev.unwrap_or_else(|| GENESIS.to_string());
        let hash = link_hash(&prev, record);
        let seq: i64 =
            sqlx::query_scalar("INSERT INTO audit (record, prev_hash, hash) VALUES ($1, $2, $3) RETURNING seq")
                .bind(record)
                .bind(&prev)
                .bind(&hash)
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO audit_head (id, seq) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq",
        )
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(seq)
    }

    async fn after(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query("SELECT seq, record, prev_hash, hash FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after_seq)
            .bind(limit)
            .fetch_all(self.pool().await?)
            .await?;
        rows.iter().map(decode::audit_entry).collect()
    }

    async fn newest(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query("SELECT seq, record, prev_hash, hash FROM audit ORDER BY seq DESC LIMIT $1")
            .bind(limit)
            .fetch_all(self.pool().await?)
            .await?;
        rows.iter().map(decode::audit_entry).collect()
    }

    async fn highest_seq(&self) -> Result<i64, StoreError> {
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM audit_head WHERE id = 1").fetch_optional(self.pool().await?).await?;
        Ok(seq.unwrap_or(0))
    }
}
