//! Reading stored rows back, the same for every backend (the SQL differs, the columns do not): lenient where one
//! odd event row must not make every read of the log fail, strict (`StoreError::Corrupt`) elsewhere.

use super::StoreError;
use crate::domain::approval::{Approval, ApprovalStatus, Outcome, Summary};
use crate::domain::audit::AuditEntry;
use crate::domain::event::EventKind;
use crate::domain::money::Amount;
use crate::domain::money::{Currency, Money};
use crate::domain::writeback::{WriteBack, WriteBackKind, WriteBackState};
use sqlx::{ColumnIndex, Decode, Row, Type};

/// A stored kind; one this build does not know (written by a newer one) reads as "other".
pub(super) fn kind(seq: i64, stored: &str) -> EventKind {
    EventKind::parse(stored).unwrap_or_else(|| {
        tracing::warn!(seq, kind = %crate::domain::text::clip(stored, 64), "stored event of an unknown kind; read as other");
        EventKind::Other
    })
}

/// The amount paid, or none when the stored minor units or currency cannot be read.
pub(super) fn amount(minor: Option<i64>, currency: Option<String>) -> Option<Amount> {
    match (minor, currency.as_deref().map(Currency::parse)) {
        (Some(minor), Some(Ok(currency))) => Some(Money::from_minor(minor, currency).to_amount()),
        _ => None,
    }
}

/// The stored body as the agent reads it: JSON when it is JSON, otherwise text (bytes that are not UTF-8 shown
/// as U+FFFD; [`super::EventLog::body`] has them verbatim).
pub(super) fn readable(payload: Vec<u8>) -> serde_json::Value {
    serde_json::from_slice(&payload).unwrap_or_else(|_| match String::from_utf8(payload) {
        Ok(text) => serde_json::Value::String(text),
        Err(e) => serde_json::Value::String(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    })
}

/// A value stored as JSON text.
pub(super) fn encode<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// An `approvals` row; `reported` is read by the caller (a boolean on PostgreSQL, an integer on SQLite).
pub(super) fn approval<'r, R>(row: &'r R, reported: bool) -> Result<Approval, StoreError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
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
        reported,
        outcome,
    })
}

/// A `book_writebacks` row.
pub(super) fn write_back<'r, R>(row: &'r R) -> Result<WriteBack, StoreError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    let kind: String = row.try_get("kind")?;
    let state: String = row.try_get("state")?;
    Ok(WriteBack {
        id: row.try_get("id")?,
        invoice_id: row.try_get("invoice_id")?,
        kind: WriteBackKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("write-back kind '{kind}'")))?,
        link_provider: row.try_get("link_provider")?,
        link_id: row.try_get("link_id")?,
        link_url: row.try_get("link_url")?,
        payment_id: row.try_get("payment_id")?,
        paid_on: row.try_get("paid_on")?,
        state: WriteBackState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("write-back state '{state}'")))?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// An `audit` row.
pub(super) fn audit_entry<'r, R>(row: &'r R) -> Result<AuditEntry, StoreError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        record: row.try_get("record")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// A finished ledger entry's time and stored result.
pub(super) fn ledger_result<'r, R>(row: &'r R) -> Result<(i64, serde_json::Value), StoreError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok((row.try_get("created_at")?, ledger_response(row.try_get("response")?)?))
}

/// A finished ledger entry's stored response.
pub(super) fn ledger_response(response: Option<String>) -> Result<serde_json::Value, StoreError> {
    let text = response.ok_or_else(|| StoreError::Corrupt("a finished entry has no response".into()))?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))
}
