//! The audit trail: what an agent did, when, and on whose approval — one tamper-evident record per
//! world-changing tool call (a payment link created or cancelled, a message sent, a lead created, an invoice's
//! status set) and per approval a person gave or declined. Arguments and results are stored with every
//! configured credential masked. `switchboard audit verify` walks the chain; the `audit://recent` resource
//! shows the newest records to the agent.
//!
//! How a call was approved travels with the call: [`approvals::require`](crate::approvals::require) notes it in
//! a task-local [`Approved`] slot that the tool-call wrapper reads when the call ends.

use crate::domain::audit::{AuditRecord, Broken, GENESIS, check};
use crate::domain::time;
use crate::state::AppState;
use crate::store::StoreError;
use serde_json::{Value, json};
use std::cell::RefCell;
use std::future::Future;

/// The longest result text kept in a record, in characters.
const MAX_RESULT_CHARS: usize = 4_000;

/// How the call in progress was approved, if it asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approved {
    /// Decided now: `via` ("elicitation", "approval_page", "not_required") and the approval's id, if it has one.
    Now { via: &'static str, approval_id: Option<String> },
    /// Nothing new happened in this call: the approval page performed it earlier, or it replays an earlier
    /// result, or what it would create exists already. It was recorded when it happened.
    Reported,
}

tokio::task_local! {
    static APPROVED: RefCell<Option<Approved>>;
}

/// Run a tool call with a slot for its approval; returns what the call noted.
pub async fn with_approval_slot<F: Future>(call: F) -> (F::Output, Option<Approved>) {
    APPROVED
        .scope(RefCell::new(None), async move {
            let output = call.await;
            let noted = APPROVED.with(|slot| slot.borrow_mut().take());
            (output, noted)
        })
        .await
}

/// Note how the call in progress was approved (nothing happens outside a tool call).
pub fn note_approval(approved: Approved) {
    let _ = APPROVED.try_with(|slot| *slot.borrow_mut() = Some(approved));
}

/// Append a record (credentials masked, then long results cut); a write that fails is retried a few times, then
/// logged and counted (`switchboard_audit_write_failures_total`): the action itself already happened.
async fn append(state: &AppState, mut record: AuditRecord) {
    state.redactor.mask_json(&mut record.arguments);
    state.redactor.mask_json(&mut record.result);
    record.result = clip(std::mem::take(&mut record.result));
    let text = match serde_json::to_string(&record) {
        Ok(text) => text,
        Err(e) => {
            tracing::error!(error = %e, tool = %record.tool, "could not write an audit record");
            state.metrics.audit_write_failed();
            return;
        }
    };
    let mut last = None;
    for attempt in 0..3u64 {
        match state.store.audit().append(&text).await {
            Ok(seq) => {
                tracing::debug!(seq, tool = %record.tool, outcome = %record.outcome, "audit record written");
                return;
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50 * (attempt + 1))).await;
    }
    if let Some(e) = last {
        tracing::error!(error = %e, tool = %record.tool, outcome = %record.outcome, "could not write an audit record");
    }
    state.metrics.audit_write_failed();
}

/// A world-changing tool call ended: `result` is its structured result, or its error text.
pub async fn tool_call(
    state: &AppState,
    tool: &str,
    arguments: Value,
    approved: Option<Approved>,
    ok: bool,
    result: Value,
) {
    let approval = match approved {
        Some(Approved::Reported) => return,
        Some(Approved::Now { via, approval_id }) => Some(json!({ "via": via, "approval_id": approval_id })),
        None => None,
    };
    let record = AuditRecord {
        at: now(),
        kind: "tool_call",
        tool: tool.to_string(),
        arguments,
        approval,
        outcome: if ok { "ok" } else { "error" }.to_string(),
        result,
    };
    append(state, record).await;
}

/// The approval page performed an approved action.
pub async fn performed(
    state: &AppState,
    tool: &str,
    arguments: Value,
    approval_id: &str,
    result: Result<Value, String>,
) {
    let (outcome, result) = match result {
        Ok(value) => ("ok", value),
        Err(text) => ("error", Value::String(text)),
    };
    let record = AuditRecord {
        at: now(),
        kind: "tool_call",
        tool: tool.to_string(),
        arguments,
        approval: Some(json!({ "via": "approval_page", "approval_id": approval_id })),
        outcome: outcome.to_string(),
        result,
    };
    append(state, record).await;
}

/// A person approved or declined `tool` with `arguments`, `via` the client or the page.
pub async fn decision(
    state: &AppState,
    tool: &str,
    arguments: Value,
    via: &'static str,
    approval_id: Option<&str>,
    approved: bool,
) {
    let record = AuditRecord {
        at: now(),
        kind: "approval",
        tool: tool.to_string(),
        arguments,
        approval: Some(json!({ "via": via, "approval_id": approval_id })),
        outcome: if approved { "approved" } else { "declined" }.to_string(),
        result: Value::Null,
    };
    append(state, record).await;
}

fn now() -> String {
    time::rfc3339(time::now()).unwrap_or_default()
}

fn clip(result: Value) -> Value {
    let text = result.to_string();
    if text.chars().count() <= MAX_RESULT_CHARS {
        return result;
    }
    Value::String(crate::domain::text::clip(&text, MAX_RESULT_CHARS))
}

/// What `audit verify` found.
#[derive(Debug)]
pub enum Verdict {
    /// Every record links to the one before: how many, and the newest's hash.
    Intact {
        records: i64,
        head: String,
    },
    Broken(Broken),
}

/// Walk the whole chain, oldest first, and check that it ends at the newest record ever written (SQLite's
/// AUTOINCREMENT remembers it), so removing the newest records shows too.
pub async fn verify(state: &AppState) -> Result<Verdict, StoreError> {
    let mut previous = (0, GENESIS.to_string());
    let mut records = 0;
    loop {
        let page = state.store.audit().after(previous.0, 1_000).await?;
        if page.is_empty() {
            break;
        }
        match check(&page, previous.clone()) {
            Ok(last) => {
                records += i64::try_from(page.len()).unwrap_or(0);
                previous = last;
            }
            Err(broken) => return Ok(Verdict::Broken(broken)),
        }
    }
    let written = state.store.audit().highest_seq().await?;
    if written > previous.0 {
        return Ok(Verdict::Broken(Broken::Truncated { last: previous.0, written }));
    }
    Ok(Verdict::Intact { records, head: previous.1 })
}

/// `switchboard audit verify`: the sentence to print when the chain is intact, or an error naming the record.
pub async fn verify_report(config: crate::config::Config) -> anyhow::Result<String> {
    let dir = config.data_dir.clone();
    let state = AppState::new(config);
    if !state.store.exists() {
        return Ok(format!("No audit trail yet: {} holds no database.", dir.display()));
    }
    let dir = match &state.store {
        crate::store::Store::Sqlite(_) => dir.display().to_string(),
        postgres => postgres.describe(),
    };
    match verify(&state).await? {
        Verdict::Intact { records: 0, .. } => Ok(format!("The audit trail in {dir} is empty.")),
        Verdict::Intact { records, head } => Ok(format!(
            "The audit trail in {dir} is intact: {records} records, each linked to the one before. Newest hash: {head}"
        )),
        Verdict::Broken(broken) => anyhow::bail!("the audit trail in {dir} is broken: {broken}"),
    }
}
