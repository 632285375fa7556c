//! The idempotency ledger in `idempotency`: a claim is a leased row (`locked_until`) with a fencing token
//! (`claim_token`), so instances sharing the database race safely.
//!
//! - Two racers for a new key: `INSERT … ON CONFLICT DO NOTHING` lets exactly one in; the other reads the row
//!   (`FOR UPDATE`) and is told `Busy`, `Replay` or `Conflict`, as on SQLite.
//! - A lapsed lease, or a claim whose instance is gone ([`super::instances`]), is taken over under the row lock with
//!   a fresh token (`Abandoned`).
//! - The trait's later phases name only the key, so this process remembers the token of each claim it holds;
//!   `touch`, `release` and `mark_unknown` apply only while that token still owns the row. An owner whose lease
//!   another instance took over can no longer extend, delete or expire the new owner's claim. Without a token
//!   (the start-up reconcile, which never claimed) they apply only to a claim that is abandoned (lapsed, or its
//!   owner gone).
//! - Other instances are alive: `abandoned` lists only abandoned claims, even when asked for every in-progress
//!   entry (`i64::MAX`, which on a database of one's own means "everything a dead process left").
//! - `finish` stores a result unless one is stored already: the first result stands (a late finish from a stale
//!   owner does not overwrite it; the provider saw one idempotency key, so both describe the same object).

use super::PgStore;
use super::instances::owner_gone;
use crate::domain::time;
use crate::store::{Claim, Entry, LOCK_SECONDS, Ledger, StoreError, decode};
use sqlx::Row;

impl PgStore {
    /// The token of this process's claim on `key`, if it holds one.
    fn token(&self, key: &str) -> Option<String> {
        self.claims.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
    }

    fn hold(&self, key: &str, token: String) {
        self.claims.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), token);
    }

    fn drop_claim(&self, key: &str) {
        self.claims.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

/// A fresh fencing token.
fn new_token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

#[async_trait::async_trait]
impl Ledger for PgStore {
    async fn finished(&self, key: &str, request_hash: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let pool = self.pool().await?;
        let row = sqlx::query("SELECT request_hash, response FROM idempotency WHERE key = $1 AND state = 'done'")
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

    async fn claim(&self, entry: &Entry) -> Result<Claim, StoreError> {
        let (key, request_hash) = (entry.key.as_str(), entry.request_hash.as_str());
        let pool = self.pool().await?;
        let token = new_token();
        // A row released between the insert and the read is simply tried again; twice is plenty in practice.
        for _ in 0..3 {
            let now = time::now();
            let mut tx = pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO idempotency (key, tool, provider, request_hash, state, locked_until, claim_token, \
                 created_at, updated_at, owner) VALUES ($1, $2, $3, $4, 'in_progress', $5, $6, $7, $7, $8) \
                 ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(&entry.tool)
            .bind(&entry.provider)
            .bind(request_hash)
            .bind(now + LOCK_SECONDS)
            .bind(&token)
            .bind(now)
            .bind(&self.instance)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 1 {
                tx.commit().await?;
                self.hold(key, token);
                return Ok(Claim::Acquired);
            }
            let row = sqlx::query(concat!(
                "SELECT request_hash, state, response, locked_until, created_at, ",
                owner_gone!(),
                " AS owner_gone FROM idempotency WHERE key = $1 FOR UPDATE"
            ))
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else { continue };
            let locked_until: i64 = row.try_get("locked_until")?;
            let claim = if row.try_get::<String, _>("request_hash")? != request_hash {
                Claim::Conflict
            } else if row.try_get::<String, _>("state")? == "done" {
                Claim::Replay(decode::ledger_response(row.try_get("response")?)?)
            } else if locked_until > now && !row.try_get::<bool, _>("owner_gone")? {
                Claim::Busy { retry_after_secs: locked_until - now }
            } else {
                sqlx::query(
                    "UPDATE idempotency SET locked_until = $1, claim_token = $2, updated_at = $3, owner = $5 \
                     WHERE key = $4",
                )
                .bind(now + LOCK_SECONDS)
                .bind(&token)
                .bind(now)
                .bind(key)
                .bind(&self.instance)
                .execute(&mut *tx)
                .await?;
                Claim::Abandoned { age_secs: now - row.try_get::<i64, _>("created_at")? }
            };
            tx.commit().await?;
            if matches!(claim, Claim::Abandoned { .. }) {
                self.hold(key, token);
            }
            return Ok(claim);
        }
        Ok(Claim::Busy { retry_after_secs: 1 })
    }

    async fn finish(&self, entry: &Entry, response: &serde_json::Value) -> Result<(), StoreError> {
        let pool = self.pool().await?;
        let now = time::now();
        sqlx::query(
            "INSERT INTO idempotency (key, tool, provider, request_hash, state, response, locked_until, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, 'done', $5, 0, $6, $6) \
             ON CONFLICT (key) DO UPDATE SET state = 'done', response = excluded.response, claim_token = NULL, \
             updated_at = excluded.updated_at WHERE idempotency.state = 'in_progress'",
        )
        .bind(&entry.key)
        .bind(&entry.tool)
        .bind(&entry.provider)
        .bind(&entry.request_hash)
        .bind(response.to_string())
        .bind(now)
        .execute(pool)
        .await?;
        self.drop_claim(&entry.key);
        Ok(())
    }

    async fn touch(&self, key: &str) -> Result<(), StoreError> {
        let pool = self.pool().await?;
        // The provider call comes next: this instance's liveness must cover it (see `instances`).
        super::instances::renew(pool, &self.instance, self.grace_secs).await?;
        let now = time::now();
        sqlx::query(concat!(
            "UPDATE idempotency SET locked_until = $1, updated_at = $2 WHERE key = $3 AND state = 'in_progress' \
             AND (claim_token = $4 OR ($4::text IS NULL AND (locked_until <= $2 OR ",
            owner_gone!(),
            ")))"
        ))
        .bind(now + LOCK_SECONDS)
        .bind(now)
        .bind(key)
        .bind(self.token(key))
        .execute(pool)
        .await?;
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), StoreError> {
        let pool = self.pool().await?;
        sqlx::query(concat!(
            "DELETE FROM idempotency WHERE key = $1 AND state = 'in_progress' \
             AND (claim_token = $2 OR ($2::text IS NULL AND (locked_until <= $3 OR ",
            owner_gone!(),
            ")))"
        ))
        .bind(key)
        .bind(self.token(key))
        .bind(time::now())
        .execute(pool)
        .await?;
        self.drop_claim(key);
        Ok(())
    }

    async fn mark_unknown(&self, key: &str) -> Result<(), StoreError> {
        let pool = self.pool().await?;
        sqlx::query(concat!(
            "UPDATE idempotency SET locked_until = 0, updated_at = $1 WHERE key = $2 AND state = 'in_progress' \
             AND (claim_token = $3 OR ($3::text IS NULL AND (locked_until <= $1 OR ",
            owner_gone!(),
            ")))"
        ))
        .bind(time::now())
        .bind(key)
        .bind(self.token(key))
        .execute(pool)
        .await?;
        self.drop_claim(key);
        Ok(())
    }

    async fn abandoned(&self, cutoff: i64) -> Result<Vec<Entry>, StoreError> {
        let pool = self.pool().await?;
        let rows = sqlx::query(concat!(
            "SELECT key, tool, provider, request_hash FROM idempotency WHERE state = 'in_progress' \
             AND (locked_until <= $1 OR ",
            owner_gone!(),
            ")"
        ))
        .bind(cutoff.min(time::now()))
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
        let row = sqlx::query("SELECT 1 AS one FROM idempotency WHERE key = $1 AND state = 'in_progress'")
            .bind(key)
            .fetch_optional(pool)
            .await?;
        Ok(row.is_some())
    }

    async fn finished_at(&self, key: &str) -> Result<Option<i64>, StoreError> {
        let pool = self.pool().await?;
        let row = sqlx::query("SELECT created_at FROM idempotency WHERE key = $1 AND state = 'done'")
            .bind(key)
            .fetch_optional(pool)
            .await?;
        row.map(|r| r.try_get("created_at")).transpose().map_err(Into::into)
    }

    async fn results(&self, tool: &str, since: i64, limit: i64) -> Result<Vec<(i64, serde_json::Value)>, StoreError> {
        let pool = self.pool().await?;
        let rows = sqlx::query(
            "SELECT created_at, response FROM idempotency WHERE tool = $1 AND state = 'done' AND created_at >= $2 \
             ORDER BY created_at DESC, claimed_order DESC LIMIT $3",
        )
        .bind(tool)
        .bind(since)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        rows.iter().map(decode::ledger_result).collect()
    }
}
