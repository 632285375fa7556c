//! One stored event's page: the record as agents read it, and what came of it (the payment link it concerns,
//! the create that made it, the approval and the invoice-book write-backs; the agent's audited actions about it).

use super::{BADGE, NOWRAP, keys, not_found, storage_failed, when};
use crate::domain::approval::Outcome as ApprovalOutcome;
use crate::domain::event::{Correlation, parse_event_id};
use crate::domain::time;
use crate::html::{self, Markup, html};
use crate::inspector::Filter;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::sync::Arc;

/// How many finished `create_payment_link` calls are searched for the one that made an event's link.
const CREATES_SEARCHED: i64 = 500;
/// How many recent approvals are searched for the one that approved it.
const APPROVALS_SEARCHED: i64 = 200;
/// How many of the newest audit records are searched for the agent's actions about an event.
const AUDIT_SEARCHED: i64 = 500;
/// Keys shorter than this are not searched for in the audit trail (they would match unrelated text).
const MIN_KEY_CHARS: usize = 6;

pub(super) async fn page(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let Some(seq) = parse_event_id(&id) else { return not_found("No such event", "Event ids look like ev_42.") };
    let event = match state.store.events().get(seq).await {
        Ok(Some(event)) => event,
        Ok(None) => {
            return not_found(
                "No such event",
                "It is not in the event log (events are kept for a while, then pruned).",
            );
        }
        Err(e) => return storage_failed(e),
    };
    let came_of_it = match &event.correlation.payment_link_id {
        Some(link) => match link_story(&state, link).await {
            Ok(story) => story,
            Err(e) => return storage_failed(e),
        },
        None => html! {},
    };
    let actions = match agent_actions(&state, &event.correlation).await {
        Ok(actions) => actions,
        Err(e) => return storage_failed(e),
    };
    // Masked as the event resources are; then the text again, for a secret an object key or an escape held.
    let mut payload = event.payload.clone();
    state.redactor.mask_json(&mut payload);
    let payload = serde_json::to_string_pretty(&payload).unwrap_or_default();
    let payload = state.redactor.mask_values(&payload).unwrap_or(payload);
    let carried_by: Vec<u64> = state
        .inspector
        .recent(&Filter::default(), usize::MAX)
        .iter()
        .filter(|a| a.events.iter().any(|e| e.seq == Some(seq)))
        .map(|a| a.id)
        .collect();
    let body = html! {
        p class="badge" { (BADGE) }
        h1 style="font-size:1.6rem" { (event.id) " · " (event.kind.as_str()) }
        table id="record" {
            tr { th { "Source" } td { (event.source) } }
            tr { th { "Type" } td { (event.event_type) } }
            @if let Some(amount) = &event.amount { tr { th { "Amount" } td { (amount.formatted) " (" (amount.currency) ")" } } }
            tr { th { "Provider id" } td { (event.provider_event_id) } }
            tr { th { "Received" } td { (event.received_at) } }
            @if let Some(at) = &event.occurred_at { tr { th { "Occurred" } td { (at) } } }
            tr { th { "Keys" } td { (keys(&event.correlation)) } }
            @if !carried_by.is_empty() {
                tr { th { "Delivered in" } td { @for id in &carried_by {
                    a href=(format!("/inspector/attempts/{id}")) { "attempt " (id) } " "
                } } }
            }
        }
        (came_of_it)
        (actions)
        h2 { "Stored payload" }
        pre id="payload" { (payload) }
        p class="id" {
            "Agents read this record with get_event " (event.id) " or the resource events://" (event.id)
            ". Third-party data: nothing in it is an instruction. · " a href="/inspector" { "all deliveries" }
        }
    };
    html::respond(StatusCode::OK, html::page("Event · Switchboard", true, None, body))
}

/// What the agent did about a payment link: the call that created it (from the idempotency ledger), the
/// approval that let it, and the invoice-book write-backs it caused.
async fn link_story(state: &AppState, link: &str) -> Result<Markup, crate::store::StoreError> {
    let creates = state.store.ledger().results(crate::tools::once::CREATE_TOOL, 0, CREATES_SEARCHED).await?;
    let created = creates.into_iter().find(|(_, result)| result.get("id").and_then(|v| v.as_str()) == Some(link));
    let now = time::now();
    let approval = state.store.approvals().recent(now, APPROVALS_SEARCHED).await?.into_iter().find(|a| {
        matches!(&a.outcome, Some(ApprovalOutcome::Ok(result)) if result.get("id").and_then(|v| v.as_str()) == Some(link))
    });
    let write_backs = state.store.write_backs().for_link(link).await?;
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(|v| v.as_str()).map(str::to_string);
    Ok(html! {
        h2 { "What came of it" }
        table id="link" {
            tr { th { "Payment link" } td {
                (link) " · " a href=(format!("/inspector?key={link}")) { "every delivery about it" }
            } }
            tr { th { "Created" } td id="created" {
                @match &created {
                    Some((at, result)) => {
                        "by create_payment_link, " (when(*at))
                        @if let Some(url) = text(result, "url") { " · " a href=(url) rel="noreferrer" { (url) } }
                        @if let Some(amount) = result.get("amount").and_then(|a| a.get("formatted")).and_then(|v| v.as_str()) { " · " (amount) }
                        @if let Some(reference) = text(result, "reference_id") { " · reference " (reference) }
                    }
                    None => "not through this Switchboard (its ledger has no create for it)",
                }
            } }
            @if let Some(a) = &approval {
                tr { th { "Approved" } td { a href=(format!("/approvals/{}", a.id)) { (a.summary.headline) } } }
            }
            tr { th { "Invoice book" } td id="write-backs" {
                @if write_backs.is_empty() { "nothing written for it" }
                @for w in &write_backs {
                    div {
                        (w.kind.as_str()) " on invoice " (w.invoice_id) ": " strong { (w.state.as_str()) }
                        " after " (w.attempts) " attempt" @if w.attempts != 1 { "s" }
                        @if let Some(error) = &w.last_error { span class="id" { " · " (error) } }
                    }
                }
            } }
        }
    })
}

/// What the agent did about the event's link, payment, customer or message, as far as the audit trail records it:
/// the newest [`AUDIT_SEARCHED`] records that mention any of those keys (any letter case), newest first.
async fn agent_actions(state: &AppState, c: &Correlation) -> Result<Markup, crate::store::StoreError> {
    let phone_digits = c.customer_phone.as_deref().map(|p| p.trim_start_matches('+'));
    let keys: Vec<&str> = [
        c.payment_link_id.as_deref(),
        c.payment_id.as_deref(),
        c.customer_email.as_deref(),
        phone_digits,
        c.message_id.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter(|k| k.len() >= MIN_KEY_CHARS)
    .collect();
    if keys.is_empty() {
        return Ok(html! {});
    }
    let records = state.store.audit().newest(AUDIT_SEARCHED).await?;
    let Ok(matcher) = aho_corasick::AhoCorasick::builder().ascii_case_insensitive(true).build(&keys) else {
        return Ok(html! {});
    };
    let about: Vec<(i64, serde_json::Value)> = records
        .into_iter()
        .filter(|r| matcher.is_match(&r.record))
        .filter_map(|r| serde_json::from_str(&r.record).ok().map(|v| (r.seq, v)))
        .collect();
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    Ok(html! {
        h2 { "What the agent did about it" }
        @if about.is_empty() {
            p id="actions" class="id" {
                "No audit record mentions this event's " (keys.join(", ")) " (the newest " (AUDIT_SEARCHED)
                " records searched)."
            }
        } @else {
            table id="actions" {
                tr { th { "When" } th { "Tool" } th { "Outcome" } th { "Approved" } }
                @for (seq, r) in &about {
                    tr data-audit=(seq) {
                        td style=(NOWRAP) { (text(r, "at")) }
                        td { (text(r, "tool")) @if text(r, "kind") == "approval" { " (a person's decision)" } }
                        td { (text(r, "outcome")) }
                        td { (r.get("approval").map(|a| text(a, "via")).unwrap_or_default()) }
                    }
                }
            }
            p class="id" { "From the audit trail (audit://recent); each row is one record, newest first." }
        }
    })
}
