//! Approvals in the `approvals` table: each change is one short `BEGIN IMMEDIATE` transaction or one conditional
//! update, so a decision or a settlement happens once however many pages and processes race for it.

use super::SqliteStore;
use crate::domain::approval::{Approval, ApprovalStatus, Decision, Outcome, Summary};
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
            .map(|row| decode(&row))
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
        row.map(|r| decode(&r)).transpose()
    }

    async fn find(&self, tool: &str, key: &str) -> Result<Option<Approval>, StoreError> {
        let pool = self.pool().await?;
        let row = sqlx::query(select!("WHERE tool = ? AND key = ?")).bind(tool).bind(key).fetch_optional(pool).await?;
        row.map(|r| decode(&r)).transpose()
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
        rows.iter().map(decode).collect()
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

    async fn unsettled(&self, cutoff: i64) -> Result<Vec<Approval>, StoreError> {
        let pool = self.pool().await?;
        let rows = sqlx::query(select!("WHERE status = 'approved' AND decided_at <= ? ORDER BY decided_at"))
            .bind(cutoff)
            .fetch_all(pool)
            .await?;
        rows.iter().map(decode).collect()
    }

    fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.approvals_changed.subscribe()
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode(row: &SqliteRow) -> Result<Approval, StoreError> {
    let json = |column: &str| -> Result<serde_json::Value, StoreError> {
        let text: String = row.try_get(column)?;
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("approvals.{column}: {e}")))
    };
    let status: String = row.try_get("status")?;
    let summary: Summary =
        serde_json::from_value(json("summary")?).map_err(|e| StoreError::Corrupt(format!("approvals.summary: {e}")))?;
    let outcome = match row.try_get::<Option<String>, _>("outcome")? {
        Some(text) => Some(
            serde_json::from_str::<Outcome>(&text)
                .map_err(|e| StoreError::Corrupt(format!("approvals.outcome: {e}")))?,
        ),
        None => None,
    };
    Ok(Approval {
        id: row.try_get("id")?,
        tool: row.try_get("tool")?,
        key: row.try_get("key")?,
        binding: row.try_get("binding")?,
        summary,
        arguments: json("arguments")?,
        form_token: row.try_get("form_token")?,
        status: ApprovalStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("approvals.status: unknown '{status}'")))?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        decided_at: row.try_get("decided_at")?,
        reported: row.try_get::<i64, _>("reported")? != 0,
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::approval::random_token;

    fn proposed(key: &str, binding: &str, now: i64, ttl: i64) -> Approval {
        Approval {
            id: random_token("apv_"),
            tool: "create_payment_link".into(),
            key: key.into(),
            binding: binding.into(),
            summary: Summary { headline: "Create a link".into(), details: vec![("Amount".into(), "₹1.00".into())] },
            arguments: serde_json::json!({"amount": "1"}),
            form_token: random_token(""),
            status: ApprovalStatus::Pending,
            created_at: now,
            expires_at: now + ttl,
            decided_at: None,
            reported: false,
            outcome: None,
        }
    }

    #[tokio::test]
    async fn one_approval_stands_per_key_and_is_decided_and_settled_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::new(dir.path().to_path_buf());
        let approvals = store.approvals();
        let first = proposed("k1", "h1", 1_000, 600);
        assert_eq!(approvals.propose(&first, 1_000).await.unwrap(), first);
        // A second proposal for the key gets the one that stands, whatever its arguments.
        let again = approvals.propose(&proposed("k1", "h2", 1_001, 600), 1_001).await.unwrap();
        assert_eq!((again.id.as_str(), again.binding.as_str()), (first.id.as_str(), "h1"));

        let approved = approvals.decide(&first.id, Decision::Approve, 1_002).await.unwrap().unwrap();
        assert_eq!((approved.status, approved.decided_at), (ApprovalStatus::Approved, Some(1_002)));
        assert_eq!(approvals.decide(&first.id, Decision::Decline, 1_003).await.unwrap(), None, "decided once");
        assert_eq!(approvals.unsettled(1_002).await.unwrap().len(), 1);

        let result = Outcome::Ok(serde_json::json!({"id": "plink_1"}));
        approvals.settle(&first.id, &result).await.unwrap();
        approvals.settle(&first.id, &Outcome::Error("late".into())).await.unwrap();
        let done = approvals.get(&first.id).await.unwrap().unwrap();
        assert_eq!((done.status, done.outcome), (ApprovalStatus::Done, Some(result)), "settled once");
        assert!(approvals.unsettled(i64::MAX).await.unwrap().is_empty());
        assert_eq!(approvals.open_count(1_003).await.unwrap(), 0);
        // A performed approval stands for good: the key cannot be approved into a second action.
        let later = approvals.propose(&proposed("k1", "h1", 5_000, 600), 5_000).await.unwrap();
        assert_eq!(later.id, first.id);
    }

    #[tokio::test]
    async fn expired_approvals_cannot_be_decided_and_give_way_to_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::new(dir.path().to_path_buf());
        let approvals = store.approvals();
        let first = proposed("k1", "h1", 1_000, 60);
        approvals.propose(&first, 1_000).await.unwrap();
        assert_eq!((approvals.open_count(1_059).await.unwrap(), approvals.open_count(1_060).await.unwrap()), (1, 0));
        assert_eq!(approvals.decide(&first.id, Decision::Approve, 1_060).await.unwrap(), None);
        assert_eq!(approvals.get(&first.id).await.unwrap().unwrap().status_at(1_060), ApprovalStatus::Expired);
        let fresh = proposed("k1", "h1", 1_061, 60);
        assert_eq!(approvals.propose(&fresh, 1_061).await.unwrap().id, fresh.id);
        assert_eq!(approvals.get(&first.id).await.unwrap(), None, "the expired one is gone");
        // An approval nobody decided does not hide newer ones on the list: open ones come first at `now`.
        let newer = proposed("k3", "h3", 1_900, 600);
        approvals.propose(&newer, 1_900).await.unwrap();
        let stale = proposed("k4", "h4", 1_000, 60);
        approvals.propose(&stale, 1_000).await.unwrap();
        assert_eq!(approvals.recent(1_950, 1).await.unwrap()[0].id, newer.id);
        // Pruning keeps what someone still waits on, however old.
        approvals.propose(&proposed("k2", "h2", 900, 1_000_000), 900).await.unwrap();
        assert_eq!(approvals.prune(2_000).await.unwrap(), 2, "the expired k1 and k4");
        let kept: Vec<String> = approvals.recent(2_000, 10).await.unwrap().into_iter().map(|a| a.key).collect();
        assert_eq!(kept, ["k2", "k3"], "both still open, oldest first");
    }

    #[tokio::test]
    async fn a_declined_approval_stands_until_the_agent_is_told_then_a_new_call_asks_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::new(dir.path().to_path_buf());
        let approvals = store.approvals();
        let first = proposed("k1", "h1", 1_000, 600);
        approvals.propose(&first, 1_000).await.unwrap();
        let changes = approvals.changes();
        approvals.decide(&first.id, Decision::Decline, 1_001).await.unwrap().unwrap();
        assert!(changes.has_changed().unwrap(), "a decision wakes waiters");
        assert_eq!(approvals.propose(&proposed("k1", "h1", 1_002, 600), 1_002).await.unwrap().id, first.id);
        approvals.mark_reported(&first.id).await.unwrap();
        let fresh = proposed("k1", "h1", 1_003, 600);
        assert_eq!(approvals.propose(&fresh, 1_003).await.unwrap().id, fresh.id);
    }
}
