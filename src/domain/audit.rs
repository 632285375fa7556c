//! The audit trail's records and its chain: each record carries the hash of the one before, so an edited,
//! removed or reordered record is found by walking the chain.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One stored record, as the chain holds it.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub seq: i64,
    /// The record's JSON text, exactly as hashed.
    pub record: String,
    pub prev_hash: String,
    pub hash: String,
}

/// `SHA-256(prev_hash || record)`, hex.
pub fn link_hash(prev_hash: &str, record: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(record.as_bytes());
    hex::encode(hasher.finalize())
}

/// What a record says happened.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    /// RFC 3339, UTC.
    pub at: String,
    /// "tool_call" (a world-changing call finished) or "approval" (a person decided).
    pub kind: &'static str,
    pub tool: String,
    /// The call's arguments, credentials masked.
    pub arguments: serde_json::Value,
    /// Who approved and how: `{"via": "elicitation" | "approval_page" | "not_required", "approval_id": …}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<serde_json::Value>,
    /// "ok", "error" (the provider or Switchboard refused; see result), "approved" or "declined".
    pub outcome: String,
    /// The provider's answer as the tool returned it (credentials masked, long text cut), or the error's text.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub result: serde_json::Value,
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error("audit record {seq} was changed after it was written: its hash does not match its content")]
    Altered { seq: i64 },
    #[error(
        "audit record {seq} does not follow record {previous}: a record between them was removed, or records were reordered or edited"
    )]
    Unlinked { seq: i64, previous: i64 },
    #[error("audit record {seq} does not start the chain: the records before it were removed, or it was edited")]
    Unrooted { seq: i64 },
    #[error("the audit trail ends at record {last}, but records up to {written} were written: the newest were removed")]
    Truncated { last: i64, written: i64 },
}

/// Walk `entries` (in order, continuing from `previous`: the last checked record's seq and hash) and return the
/// last good link, or where it breaks.
pub fn check<'a>(
    entries: impl IntoIterator<Item = &'a AuditEntry>,
    mut previous: (i64, String),
) -> Result<(i64, String), Broken> {
    for entry in entries {
        if entry.prev_hash != previous.1 {
            return Err(match previous.0 {
                0 => Broken::Unrooted { seq: entry.seq },
                _ => Broken::Unlinked { seq: entry.seq, previous: previous.0 },
            });
        }
        if link_hash(&entry.prev_hash, &entry.record) != entry.hash {
            return Err(Broken::Altered { seq: entry.seq });
        }
        previous = (entry.seq, entry.hash.clone());
    }
    Ok(previous)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(records: &[&str]) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_string();
        let mut out = Vec::new();
        for (i, r) in records.iter().enumerate() {
            let hash = link_hash(&prev, r);
            out.push(AuditEntry { seq: i as i64 + 1, record: r.to_string(), prev_hash: prev, hash: hash.clone() });
            prev = hash;
        }
        out
    }

    #[test]
    fn a_chain_verifies_and_an_edit_a_removal_or_a_swap_is_named() {
        let good = chain(&[r#"{"a":1}"#, r#"{"b":2}"#, r#"{"c":3}"#]);
        assert_eq!(check(&good, (0, GENESIS.into())).unwrap().0, 3);
        let mut edited = good.clone();
        edited[1].record = r#"{"b":20}"#.into();
        assert_eq!(check(&edited, (0, GENESIS.into())), Err(Broken::Altered { seq: 2 }));
        let removed = [good[0].clone(), good[2].clone()];
        assert_eq!(check(&removed, (0, GENESIS.into())), Err(Broken::Unlinked { seq: 3, previous: 1 }));
        let mut rehashed = good.clone();
        rehashed[1].record = r#"{"b":20}"#.into();
        rehashed[1].hash = link_hash(&rehashed[1].prev_hash, &rehashed[1].record);
        assert_eq!(check(&rehashed, (0, GENESIS.into())), Err(Broken::Unlinked { seq: 3, previous: 2 }));
    }
}
