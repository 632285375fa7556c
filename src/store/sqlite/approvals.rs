//! Approvals in the `approvals` table: each change is one short `BEGIN IMMEDIATE` transaction or one conditional
//! update, so a decision or a settlement happens once however many pages and processes race for it.

use super::SqliteStore;
use crate::domain::approval::{Approval, ApprovalStatus, Decision, Outcome};
use crate::store::decode::{self, encode};
use crate::store::{Approvals, StoreError};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

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
impl Approvals for SqliteStore {
    async fn propose(&self, proposed: &Approval, now: i64) -> Result<Approval, StoreError> {
        let pool = self.pool().await?;
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        let existing = sqlx::query(select!("WHERE tool = ? AND key = ?"))
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
                    sqlx::query("DELETE FROM approvals WHERE id = ?").bind(&old.id).execute(&mut *tx).await?;
                }
                sqlx::query(
                    "INSERT INTO approvals (id, tool, key, binding, summary, arguments, form_token, status, created_at, \
                     expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
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
        self.approvals_changed.send_modify(|n| *n += 1);
        Ok(stands)
    }

    async fn get(&self, id: &str) -> Result<Option<Approval>, StoreError> {
        let pool = self.pool().await?;
        let row = sqlx::query(select!("WHERE id = ?")).bind(id).fetch_optional(pool).await?;
        row.map(|r| approval(&r)).transpose()
    }

    async fn find(&self, tool: &str, key: &str) -> Result<Option<Approval>, StoreError> {
        let pool = self.pool().await?;
        let row = sqlx::query(select!("WHERE tool = ? AND key = ?")).bind(tool).bind(key).fetch_optional(pool).await?;
        row.map(|r| approval(&r)).transpose()
    }

    async fn recent(&self, now: i64, limit: i64) -> Result<Vec<Approval>, StoreError> {
        let pool = self.pool().await?;
        let rows = sqlx::query(select!(
            "ORDER BY ((status = 'pending' AND expires_at > ?1) OR status = 'approved') DESC, \
             CASE WHEN (status = 'pending' AND expires_at > ?1) OR status = 'approved' THEN created_at \
             ELSE -created_at END LIMIT ?2"
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
            "UPDATE approvals SET status = ?, decided_at = ? WHERE id = ? AND status = 'pending' AND expires_at > ?",
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
        self.approvals_changed.send_modify(|n| *n += 1);
        self.get(id).await
    }

    async fn settle(&self, id: &str, outcome: &Outcome) -> Result<(), StoreError> {
        let status = match outcome {
            Outcome::Ok(_) => ApprovalStatus::Done,
            Outcome::Error(_) => ApprovalStatus::Failed,
        };
        let pool = self.pool().await?;
        sqlx::query("UPDATE approvals SET status = ?, outcome = ? WHERE id = ? AND status = 'approved'")
            .bind(status.as_str())
            .bind(encode(outcome)?)
            .bind(id)
            .execute(pool)
            .await?;
        self.approvals_changed.send_modify(|n| *n += 1);
        Ok(())
    }

    async fn mark_reported(&self, id: &str) -> Result<(), StoreError> {
        let pool = self.pool().await?;
        sqlx::query("UPDATE approvals SET reported = 1 WHERE id = ?").bind(id).execute(pool).await?;
        Ok(())
    }

    async fn open_count(&self, now: i64) -> Result<i64, StoreError> {
        let pool = self.pool().await?;
        let row = sqlx::query("SELECT COUNT(*) AS n FROM approvals WHERE status = 'pending' AND expires_at > ?")
            .bind(now)
            .fetch_one(pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    async fn prune(&self, cutoff: i64) -> Result<u64, StoreError> {
        let pool = self.pool().await?;
        let done = sqlx::query(
            "DELETE FROM approvals WHERE created_at < ? AND (status NOT IN ('pending', 'approved') OR expires_at < ?)",
        )
        .bind(cutoff)
        .bind(cutoff)
        .execute(pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn take_unsettled(&self, id: &str, cutoff: i64, now: i64) -> Result<bool, StoreError> {
        let pool = self.pool().await?;
        let taken =
            sqlx::query("UPDATE approvals SET decided_at = ? WHERE id = ? AND status = 'approved' AND decided_at <= ?")
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
        let rows = sqlx::query(select!("WHERE status = 'approved' AND decided_at <= ? ORDER BY decided_at"))
            .bind(cutoff)
            .fetch_all(pool)
            .await?;
        rows.iter().map(approval).collect()
    }

    fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.approvals_changed.subscribe()
    }
}

/// An `approvals` row (`reported` is an integer here).
fn approval(row: &SqliteRow) -> Result<Approval, StoreError> {
    decode::approval(row, row.try_get::<i64, _>("reported")? != 0)
}
