//! Write-backs owed to the invoice book, in `book_writebacks`; the worker's place in the event log in
//! `book_cursor`.

use super::SqliteStore;
use crate::domain::writeback::{LinkForInvoice, WriteBack};
use crate::store::decode;
use crate::store::{StoreError, WriteBacks};

/// `SELECT` every column `FROM book_writebacks`, then the rest of the statement (sqlx takes only static SQL).
macro_rules! select {
    ($rest:literal) => {
        concat!("SELECT ", columns!(), " FROM book_writebacks ", $rest)
    };
}

/// Every column of `book_writebacks`, as [`decode`] reads them.
macro_rules! columns {
    () => {
        "id, invoice_id, kind, link_provider, link_id, link_url, payment_id, paid_on, state, attempts, \
         next_attempt_at, last_error, updated_at"
    };
}

#[async_trait::async_trait]
impl WriteBacks for SqliteStore {
    async fn link_created(&self, link: &LinkForInvoice, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO book_writebacks (invoice_id, kind, link_provider, link_id, link_url, next_attempt_at, \
             created_at, updated_at) VALUES (?, 'payment_link', ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (link_provider, link_id, kind) DO NOTHING",
        )
        .bind(&link.invoice_id)
        .bind(link.link_provider.as_str())
        .bind(&link.link_id)
        .bind(&link.link_url)
        .bind(now)
        .bind(now)
        .bind(now)
        .execute(self.pool().await?)
        .await?;
        Ok(())
    }

    async fn link_paid(
        &self,
        link_id: &str,
        payment_id: Option<&str>,
        paid_on: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let added = sqlx::query(
            "INSERT INTO book_writebacks (invoice_id, kind, link_provider, link_id, payment_id, paid_on, \
             next_attempt_at, created_at, updated_at) \
             SELECT invoice_id, 'paid', link_provider, link_id, ?, ?, ?, ?, ? FROM book_writebacks \
             WHERE link_id = ? AND kind = 'payment_link' \
             ON CONFLICT (link_provider, link_id, kind) DO NOTHING",
        )
        .bind(payment_id)
        .bind(paid_on)
        .bind(now)
        .bind(now)
        .bind(now)
        .bind(link_id)
        .execute(self.pool().await?)
        .await?;
        Ok(added.rows_affected() > 0)
    }

    async fn take_due(&self, now: i64, lease_secs: i64, limit: i64) -> Result<Vec<WriteBack>, StoreError> {
        let sql = concat!(
            "UPDATE book_writebacks SET next_attempt_at = ?1 + ?2 WHERE id IN (SELECT id FROM book_writebacks ",
            "WHERE state = 'pending' AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?3) RETURNING ",
            columns!()
        );
        let rows = sqlx::query(sql).bind(now).bind(lease_secs).bind(limit).fetch_all(self.pool().await?).await?;
        let mut taken = rows.iter().map(decode::write_back).collect::<Result<Vec<_>, _>>()?;
        taken.sort_by_key(|w| w.id);
        Ok(taken)
    }

    async fn pending_count(&self) -> Result<i64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM book_writebacks WHERE state = 'pending'")
            .fetch_one(self.pool().await?)
            .await?;
        Ok(count)
    }

    async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        let next: Option<i64> =
            sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM book_writebacks WHERE state = 'pending'")
                .fetch_one(self.pool().await?)
                .await?;
        Ok(next)
    }

    async fn done(&self, id: i64, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE book_writebacks SET state = 'done', attempts = attempts + 1, last_error = NULL, updated_at = ? \
             WHERE id = ?",
        )
        .bind(now)
        .bind(id)
        .execute(self.pool().await?)
        .await?;
        Ok(())
    }

    async fn retry_later(&self, id: i64, error: &str, next_attempt_at: i64, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE book_writebacks SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, updated_at = ? \
             WHERE id = ? AND state = 'pending'",
        )
        .bind(error)
        .bind(next_attempt_at)
        .bind(now)
        .bind(id)
        .execute(self.pool().await?)
        .await?;
        Ok(())
    }

    async fn failed(&self, id: i64, error: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE book_writebacks SET state = 'failed', attempts = attempts + 1, last_error = ?, updated_at = ? \
             WHERE id = ? AND state = 'pending'",
        )
        .bind(error)
        .bind(now)
        .bind(id)
        .execute(self.pool().await?)
        .await?;
        Ok(())
    }

    async fn requeue_failed(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE book_writebacks SET state = 'pending', next_attempt_at = ?, updated_at = ? WHERE state = 'failed'",
        )
        .bind(now)
        .bind(now)
        .execute(self.pool().await?)
        .await?;
        Ok(done.rows_affected())
    }

    async fn for_invoice(&self, invoice_id: &str) -> Result<Vec<WriteBack>, StoreError> {
        let rows = sqlx::query(select!("WHERE invoice_id = ? ORDER BY id"))
            .bind(invoice_id)
            .fetch_all(self.pool().await?)
            .await?;
        rows.iter().map(decode::write_back).collect()
    }

    async fn for_link(&self, link_id: &str) -> Result<Vec<WriteBack>, StoreError> {
        let rows =
            sqlx::query(select!("WHERE link_id = ? ORDER BY id")).bind(link_id).fetch_all(self.pool().await?).await?;
        rows.iter().map(decode::write_back).collect()
    }

    async fn cursor(&self) -> Result<i64, StoreError> {
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM book_cursor WHERE id = 1").fetch_optional(self.pool().await?).await?;
        Ok(seq.unwrap_or(0))
    }

    async fn set_cursor(&self, seq: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO book_cursor (id, seq) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET seq = MAX(seq, excluded.seq)",
        )
        .bind(seq)
        .execute(self.pool().await?)
        .await?;
        Ok(())
    }
}
