//! The idempotency ledger in the `idempotency` table: each phase is a short `BEGIN IMMEDIATE` transaction.

use super::SqliteStore;
use crate::domain::time;
use crate::store::{Claim, Entry, LOCK_SECONDS, Ledger, StoreError, decode};
use sqlx::Row;

#[async_trait::async_trait]
impl Ledger for SqliteStore {
    /// The stored result for `key` if it finished with this `request_hash` (no lock taken).
    async fn finished(&self, key: &str, request_hash: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let pool = self.pool().await?;
        let row = sqlx::query("SELECT request_hash, response FROM idempotency WHERE key = ? AND state = 'done'")
            .bind(key)
            .fetch_optional(pool)
            .await?;
        match row {
            Some(row) if row.try_get::<String, _>("request_hash")? == request_hash => {
                decode::ledger_response(row.try_get::<Option<String>, _>("response")?).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Claim `key` for one call, or learn why not.
    async fn claim(&self, entry: &Entry) -> Result<Claim, StoreError> {
        let (key, request_hash) = (entry.key.as_str(), entry.request_hash.as_str());
        let pool = self.pool().await?;
        let now = time::now();
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            "SELECT request_hash, state, response, locked_until, created_at FROM idempotency WHERE key = ?",
        )
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        let claim = match row {
            None => {
                sqlx::query(
                    "INSERT INTO idempotency (key, tool, provider, request_hash, state, locked_until, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, 'in_progress', ?, ?, ?)",
                )
                .bind(key)
                .bind(&entry.tool)
                .bind(&entry.provider)
                .bind(request_hash)
                .bind(now + LOCK_SECONDS)
                .bind(now)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                Claim::Acquired
            }
            Some(row) => {
                let locked_until: i64 = row.try_get("locked_until")?;
                if row.try_get::<String, _>("request_hash")? != request_hash {
                    Claim::Conflict
                } else if row.try_get::<String, _>("state")? == "done" {
                    Claim::Replay(decode::ledger_response(row.try_get("response")?)?)
                } else if locked_until > now {
                    Claim::Busy { retry_after_secs: locked_until - now }
                } else {
                    let age_secs = now - row.try_get::<i64, _>("created_at")?;
                    sqlx::query("UPDATE idempotency SET locked_until = ?, updated_at = ? WHERE key = ?")
                        .bind(now + LOCK_SECONDS)
                        .bind(now)
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                    Claim::Abandoned { age_secs }
                }
            }
        };
        tx.commit().await?;
        Ok(claim)
    }

    /// Record the call's result; every later claim of `key` replays it. An upsert, so the result is kept even
    /// if another process released the claim meanwhile.
    async fn finish(&self, entry: &Entry, response: &serde_json::Value) -> Result<(), StoreError> {
        let pool = self.pool().await?;
        let now = time::now();
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO idempotency (key, tool, provider, request_hash, state, response, locked_until, created_at, updated_at) \
             VALUES (?, ?, ?, ?, 'done', ?, 0, ?, ?) \
             ON CONFLICT (key) DO UPDATE SET state = 'done', response = excluded.response, updated_at = excluded.updated_at",
        )
        .bind(&entry.key)
        .bind(&entry.tool)
        .bind(&entry.provider)
        .bind(&entry.request_hash)
        .bind(response.to_string())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Renew the claim on `key` just before the provider call, so a slow reconcile cannot let it lapse mid-call.
    async fn touch(&self, key: &str) -> Result<(), StoreError> {
        let pool = self.pool().await?;
        let now = time::now();
        sqlx::query("UPDATE idempotency SET locked_until = ?, updated_at = ? WHERE key = ? AND state = 'in_progress'")
            .bind(now + LOCK_SECONDS)
            .bind(now)
            .bind(key)
            .execute(pool)
            .await?;
        Ok(())
    }

    /// Forget a claim whose call certainly created nothing (the provider refused it), so a retry runs again.
    async fn release(&self, key: &str) -> Result<(), StoreError> {
        let pool = self.pool().await?;
        sqlx::query("DELETE FROM idempotency WHERE key = ? AND state = 'in_progress'").bind(key).execute(pool).await?;
        Ok(())
    }

    /// Leave a claim whose outcome is unknown (timeout, 5xx) for the next caller to reconcile at once.
    async fn mark_unknown(&self, key: &str) -> Result<(), StoreError> {
        let pool = self.pool().await?;
        sqlx::query("UPDATE idempotency SET locked_until = 0, updated_at = ? WHERE key = ? AND state = 'in_progress'")
            .bind(time::now())
            .bind(key)
            .execute(pool)
            .await?;
        Ok(())
    }

    /// Entries left in progress whose lock expired before `cutoff` (unix seconds). At start-up pass `i64::MAX`:
    /// every in-progress entry then belongs to a process that is gone.
    async fn abandoned(&self, cutoff: i64) -> Result<Vec<Entry>, StoreError> {
        let pool = self.pool().await?;
        let rows = sqlx::query(
            "SELECT key, tool, provider, request_hash FROM idempotency WHERE state = 'in_progress' AND locked_until <= ?",
        )
        .bind(cutoff)
        .fetch_all(pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(Entry {
                    key: r.try_get("key")?,
                    tool: r.try_get("tool")?,
                    provider: r.try_get("provider")?,
                    request_hash: r.try_get("request_hash")?,
                })
            })
            .collect()
    }

    async fn pending(&self, key: &str) -> Result<bool, StoreError> {
        let pool = self.pool().await?;
        let row = sqlx::query("SELECT 1 AS one FROM idempotency WHERE key = ? AND state = 'in_progress'")
            .bind(key)
            .fetch_optional(pool)
            .await?;
        Ok(row.is_some())
    }

    async fn finished_at(&self, key: &str) -> Result<Option<i64>, StoreError> {
        let pool = self.pool().await?;
        let row = sqlx::query("SELECT created_at FROM idempotency WHERE key = ? AND state = 'done'")
            .bind(key)
            .fetch_optional(pool)
            .await?;
        row.map(|r| r.try_get("created_at")).transpose().map_err(Into::into)
    }

    async fn results(&self, tool: &str, since: i64, limit: i64) -> Result<Vec<(i64, serde_json::Value)>, StoreError> {
        let pool = self.pool().await?;
        let rows = sqlx::query(
            "SELECT created_at, response FROM idempotency WHERE tool = ? AND state = 'done' AND created_at >= ? \
             ORDER BY created_at DESC, rowid DESC LIMIT ?",
        )
        .bind(tool)
        .bind(since)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        rows.iter().map(decode::ledger_result).collect()
    }
}
