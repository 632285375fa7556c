//! `GET /inspector/audit`: the audit trail as a person reads it — the newest records (what the agent did, when,
//! approved how, with what outcome) and whether the whole chain still verifies.

use super::{BADGE, NOWRAP, storage_failed};
use crate::audit::{self, Verdict};
use crate::html::{self, html};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;

/// How many records the page shows.
const SHOWN: i64 = 100;

pub(super) async fn page(State(state): State<Arc<AppState>>) -> Response {
    let (entries, verdict) = if state.store.exists() {
        let entries = match state.store.audit().newest(SHOWN).await {
            Ok(entries) => entries,
            Err(e) => return storage_failed(e),
        };
        match audit::verify(&state).await {
            Ok(verdict) => (entries, Some(verdict)),
            Err(e) => return storage_failed(e),
        }
    } else {
        (Vec::new(), None)
    };
    let text = |v: &Value, k: &str| v.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let body = html! {
        p class="badge" { (BADGE) }
        h1 { "Audit trail" }
        @match &verdict {
            Some(Verdict::Intact { records, head }) => p id="chain" class="ok" {
                "Intact: " (records) " records, each linked to the one before by its hash. Newest hash " code { (head) }
            },
            Some(Verdict::Broken(broken)) => p id="chain" class="bad" { "Broken: " (broken.to_string()) },
            None => p id="chain" { "Nothing recorded yet." },
        }
        @if !entries.is_empty() {
            table id="audit" {
                tr { th { "#" } th { "When" } th { "What" } th { "Tool" } th { "Outcome" } th { "Approved" } th { "Arguments" } }
                @for entry in &entries {
                    @let record: Value = serde_json::from_str(&entry.record).unwrap_or(Value::Null);
                    tr data-seq=(entry.seq) {
                        td { (entry.seq) }
                        td style=(NOWRAP) { (text(&record, "at")) }
                        td { @if text(&record, "kind") == "approval" { "a person decided" } @else { "tool call" } }
                        td { (text(&record, "tool")) }
                        td { (text(&record, "outcome")) }
                        td { (record.get("approval").map(|a| text(a, "via")).unwrap_or_default()) }
                        td { code { (crate::domain::text::clip(&record["arguments"].to_string(), 300)) } }
                    }
                }
            }
        }
        p class="id" {
            "The newest " (SHOWN) " records, newest first; agents read them as audit://recent; "
            code { "switchboard audit verify" } " checks the chain from the command line. "
            a href="/inspector" { "Webhook deliveries" }
        }
    };
    html::respond(StatusCode::OK, html::page("Audit trail", true, None, body))
}
