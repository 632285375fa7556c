//! The idempotency ledger: the same logical money-moving call runs upstream at most once, and every
//! repeat gets the first result back.
//!
//! Phases (each a short `BEGIN IMMEDIATE` transaction): [`Ledger::claim`] the key → call the provider with the
//! key as its idempotency handle → [`Ledger::finish`] with the result. A crash between the phases leaves an
//! `in_progress` row whose lock expires; whoever claims it next is told the outcome is unknown and must look
//! the object up at the provider before creating anything.

use super::{Store, StoreError};
use crate::domain::time;
use sqlx::Row;

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

/// Typed access to the `idempotency` table.
pub struct Ledger<'a> {
    store: &'a Store,
}

impl Store {
    pub fn ledger(&self) -> Ledger<'_> {
        Ledger { store: self }
    }
}

impl Ledger<'_> {
    /// The stored result for `key` if it finished with this `request_hash` (no lock taken).
    pub async fn finished(&self, key: &str, request_hash: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let pool = self.store.pool().await?;
        let row = sqlx::query("SELECT request_hash, response FROM idempotency WHERE key = ? AND state = 'done'")
            .bind(key)
            .fetch_optional(pool)
            .await?;
        match row {
            Some(row) if row.get::<String, _>("request_hash") == request_hash => {
                parse(row.get::<Option<String>, _>("response")).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Claim `key` for one call, or learn why not.
    pub async fn claim(&self, entry: &Entry) -> Result<Claim, StoreError> {
        let (key, request_hash) = (entry.key.as_str(), entry.request_hash.as_str());
        let pool = self.store.pool().await?;
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
            Some(row) if row.get::<String, _>("request_hash") != request_hash => Claim::Conflict,
            Some(row) if row.get::<String, _>("state") == "done" => Claim::Replay(parse(row.get("response"))?),
            Some(row) if row.get::<i64, _>("locked_until") > now => {
                Claim::Busy { retry_after_secs: row.get::<i64, _>("locked_until") - now }
            }
            Some(row) => {
                let age_secs = now - row.get::<i64, _>("created_at");
                sqlx::query("UPDATE idempotency SET locked_until = ?, updated_at = ? WHERE key = ?")
                    .bind(now + LOCK_SECONDS)
                    .bind(now)
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
                Claim::Abandoned { age_secs }
            }
        };
        tx.commit().await?;
        Ok(claim)
    }

    /// Record the call's result; every later claim of `key` replays it. An upsert, so the result is kept even
    /// if another process released the claim meanwhile.
    pub async fn finish(&self, entry: &Entry, response: &serde_json::Value) -> Result<(), StoreError> {
        let pool = self.store.pool().await?;
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
    pub async fn touch(&self, key: &str) -> Result<(), StoreError> {
        let pool = self.store.pool().await?;
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
    pub async fn release(&self, key: &str) -> Result<(), StoreError> {
        let pool = self.store.pool().await?;
        sqlx::query("DELETE FROM idempotency WHERE key = ? AND state = 'in_progress'").bind(key).execute(pool).await?;
        Ok(())
    }

    /// Leave a claim whose outcome is unknown (timeout, 5xx) for the next caller to reconcile at once.
    pub async fn mark_unknown(&self, key: &str) -> Result<(), StoreError> {
        let pool = self.store.pool().await?;
        sqlx::query("UPDATE idempotency SET locked_until = 0, updated_at = ? WHERE key = ? AND state = 'in_progress'")
            .bind(time::now())
            .bind(key)
            .execute(pool)
            .await?;
        Ok(())
    }

    /// Entries left in progress whose lock expired before `cutoff` (unix seconds). At start-up pass `i64::MAX`:
    /// every in-progress entry then belongs to a process that is gone.
    pub async fn abandoned(&self, cutoff: i64) -> Result<Vec<Entry>, StoreError> {
        let pool = self.store.pool().await?;
        let rows = sqlx::query(
            "SELECT key, tool, provider, request_hash FROM idempotency WHERE state = 'in_progress' AND locked_until <= ?",
        )
        .bind(cutoff)
        .fetch_all(pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Entry {
                key: r.get("key"),
                tool: r.get("tool"),
                provider: r.get("provider"),
                request_hash: r.get("request_hash"),
            })
            .collect())
    }
}

fn parse(response: Option<String>) -> Result<serde_json::Value, StoreError> {
    let text = response.ok_or_else(|| StoreError::Corrupt("a finished entry has no response".into()))?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, hash: &str) -> Entry {
        Entry {
            key: key.into(),
            tool: "create_payment_link".into(),
            provider: "razorpay".into(),
            request_hash: hash.into(),
        }
    }

    #[tokio::test]
    async fn a_key_is_claimed_once_then_replayed_and_guards_its_parameters() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let ledger = store.ledger();
        assert_eq!(ledger.claim(&entry("k1", "h1")).await.unwrap(), Claim::Acquired);
        assert!(matches!(ledger.claim(&entry("k1", "h1")).await.unwrap(), Claim::Busy { .. }));
        assert_eq!(ledger.claim(&entry("k1", "h2")).await.unwrap(), Claim::Conflict);
        ledger.finish(&entry("k1", "h1"), &serde_json::json!({"id": "plink_1"})).await.unwrap();
        assert_eq!(
            ledger.claim(&entry("k1", "h1")).await.unwrap(),
            Claim::Replay(serde_json::json!({"id": "plink_1"}))
        );
        assert_eq!(ledger.finished("k1", "h1").await.unwrap(), Some(serde_json::json!({"id": "plink_1"})));
        assert_eq!(ledger.finished("k1", "h2").await.unwrap(), None);
    }

    #[tokio::test]
    async fn unknown_outcomes_are_reclaimed_as_abandoned_and_refusals_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let ledger = store.ledger();
        ledger.claim(&entry("k2", "h")).await.unwrap();
        ledger.mark_unknown("k2").await.unwrap();
        assert_eq!(ledger.abandoned(time::now()).await.unwrap().len(), 1);
        assert_eq!(ledger.claim(&entry("k2", "h")).await.unwrap(), Claim::Abandoned { age_secs: 0 });
        ledger.release("k2").await.unwrap();
        assert_eq!(ledger.claim(&entry("k2", "h")).await.unwrap(), Claim::Acquired);
    }
}
