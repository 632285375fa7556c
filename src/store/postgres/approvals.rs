//! Approvals in the `approvals` table: each change is one short transaction (its (tool, key) locked) or one
//! conditional update, so a decision or a settlement happens once however many pages and instances race for it.
//! After each change commits, the other instances are told ([`super::wakeups`]).

use super::{PgStore, wakeups};
use crate::domain::approval::{Approval, ApprovalStatus, Decision, Outcome};
use crate::store::decode::{self, encode};
use crate::store::{Approvals, StoreError};
use sqlx::Row;
use sqlx::postgres::PgRow;

/// `SELECT` every column `FROM approvals`, then the rest of the statement (a literal: sqlx takes only static SQL).
macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, tool, key, binding, summary, arguments, form_token, status, created_at, expires_at, ",
            "decided_at, reported, outcome FROM approvals ",
            $rest
        )
    };
}

#[async_trait::async_trait]
impl Approvals for PgStore {
    async fn propose(&self, proposed: &Approval, now: i64) -> Result<Approval, StoreError> {
        let pool = self.pool().await?;
        let mut tx = pool.begin().await?;
        // Two instances proposing for a new (tool, key) find no row to lock: serialise them on the pair itself.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, 0))")
            .bind(&proposed.tool)
            .bind(&proposed.key)
            .execute(&mut *tx)
            .await?;
        let existing = sqlx::query(select!("WHERE tool = $1 AND key = $2"))
            .bind(&proposed.tool)
            .bind(&proposed.key)
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| approval(&row))
            .transpose()?;
        let stands = match existing {
            Some(existing) if !existing.gives_way(now) => existing,
            replaced => {
                if let Some(old) = replaced {
                    sqlx::query("DELETE FROM approvals WHERE id = $1").bind(&old.id).execute(&mut *tx).await?;
                }
                sqlx::query(
                    "INSERT INTO approvals (id, tool, key, binding, summary, arguments, form_token, status, created_at, \
                     expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9)",
                )
                .bind(&proposed.id)
                .bind(&proposed.tool)
                .bind(&proposed.key)
                .bind(&proposed.binding)
                .bind(encode(&proposed.summary)?)
                .bind(proposed.arguments.to_string())
                .bind(&proposed.form_token)
                .bind(proposed.created_at)
                .bind(proposed.expires_at)
                .execute(&mut *tx)
                .await?;
                proposed.clone()
            }
        };
        tx.commit().await?;
        self.changed(pool);
        Ok(stands)
    }

    async fn get(&self, id: &str) -> Result<Option<Approval>, StoreError> {
        let pool = self.pool().await?;
        let row = sqlx::query(select!("WHERE id = $1")).bind(id).fetch_optional(pool).await?;
        row.map(|r| approval(&r)).transpose()
    }

    async fn find(&self, tool: &str, key: &str) -> Result<Option<Approval>, StoreError> {
        let pool = self.pool().await?;
        let row =
            sqlx::query(select!("WHERE tool = $1 AND key = $2")).bind(tool).bind(key).fetch_optional(pool).await?;
        row.map(|r| approval(&r)).transpose()
    }

    async fn recent(&self, now: i64, limit: i64) -> Result<Vec<Approval>, StoreError> {
        let pool = self.pool().await?;
        let rows = sqlx::query(select!(
            "ORDER BY ((status = 'pending' AND expires_at > $1) OR status = 'approved') DESC, \
             CASE WHEN (status = 'pending' AND expires_at > $1) OR status = 'approved' THEN created_at \
             ELSE -created_at END LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        rows.iter().map(approval).collect()
    }

    async fn decide(&self, id: &str, decision: Decision, now: i64) -> Result<Option<Approval>, StoreError> {
        let status = match decision {
            Decision::Approve => ApprovalStatus::Approved,
            Decision::Decline => ApprovalStatus::Declined,
        };
        let pool = self.pool().await?;
        let changed = sqlx::query(
            "UPDATE approvals SET status = $1, decided_at = $2 WHERE id = $3 AND status = 'pending' AND expires_at > $4",
        )
        .bind(status.as_str())
        .bind(now)
        .bind(id)
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        self.changed(pool);
        self.get(id).await
    }

    async fn settle(&self, id: &str, outcome: &Outcome) -> Result<(), StoreError> {
        let status = match outcome {
            Outcome::Ok(_) => ApprovalStatus::Done,
            Outcome::Error(_) => ApprovalStatus::Failed,
        };
        let pool = self.pool().await?;
        sqlx::query("UPDATE approvals SET status = $1, outcome = $2 WHERE id = $3 AND status = 'approved'")
            .bind(status.as_str())
            .bind(encode(outcome)?)
            .bind(id)
            .execute(pool)
            .await?;
        self.changed(pool);
        Ok(())
    }

    async fn mark_reported(&self, id: &str) -> Result<(), StoreError> {
        let pool = self.pool().await?;
        sqlx::query("UPDATE approvals SET reported = TRUE WHERE id = $1").bind(id).execute(pool).await?;
        Ok(())
    }

    async fn open_count(&self, now: i64) -> Result<i64, StoreError> {
        let pool = self.pool().await?;
        let row = sqlx::query("SELECT COUNT(*) AS n FROM approvals WHERE status = 'pending' AND expires_at > $1")
            .bind(now)
            .fetch_one(pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    async fn prune(&self, cutoff: i64) -> Result<u64, StoreError> {
        let pool = self.pool().await?;
        let done = sqlx::query(
            "DELETE FROM approvals WHERE created_at < $1 AND (status NOT IN ('pending', 'approved') OR expires_at < $2)",
        )
        .bind(cutoff)
        .bind(cutoff)
        .execute(pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn take_unsettled(&self, id: &str, cutoff: i64, now: i64) -> Result<bool, StoreError> {
        let pool = self.pool().await?;
        let taken = sqlx::query(
            "UPDATE approvals SET decided_at = $1 WHERE id = $2 AND status = 'approved' AND decided_at <= $3",
        )
        .bind(now)
        .bind(id)
        .bind(cutoff)
        .execute(pool)
        .await?
        .rows_affected();
        Ok(taken == 1)
    }

    async fn unsettled(&self, cutoff: i64) -> Result<Vec<Approval>, StoreError> {
        let pool = self.pool().await?;
        let rows = sqlx::query(select!("WHERE status = 'approved' AND decided_at <= $1 ORDER BY decided_at"))
            .bind(cutoff)
            .fetch_all(pool)
            .await?;
        rows.iter().map(approval).collect()
    }

    fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.signals.approvals_changed.subscribe()
    }
}

impl PgStore {
    /// An approval changed: wake this process's waiters now, and the other instances' through the database.
    fn changed(&self, pool: &sqlx::PgPool) {
        self.signals.approvals_changed.send_modify(|n| *n += 1);
        wakeups::approvals_changed(pool);
    }
}

/// An `approvals` row (`reported` is a boolean here).
fn approval(row: &PgRow) -> Result<Approval, StoreError> {
    decode::approval(row, row.try_get("reported")?)
}
