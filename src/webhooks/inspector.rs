//! The webhook inspector's pages, over what the receiver saw ([`crate::inspector`]): `GET /inspector` lists delivery
//! attempts, newest first, refreshing itself every few seconds, with filters by source, outcome and correlation key
//! (`?source=razorpay&outcome=rejected&key=plink_…`);
//! `GET /inspector/attempts/{id}` shows one attempt whole (headers, payload, events); `GET /inspector/events/{id}`
//! shows one stored event and what came of it: the payment link it concerns, who created it and the invoice-book
//! write-backs it caused.
//!
//! Who may open them ([`crate::access`]): with the HTTP token, anyone presenting it; without one, only this
//! machine (a loopback peer, under a loopback or allowed `Host`). The pages change nothing.

use crate::access;
use crate::domain::approval::Outcome as ApprovalOutcome;
use crate::domain::event::{Correlation, event_id, parse_event_id};
use crate::domain::time;
use crate::html::{self, Markup, html};
use crate::inspector::{Attempt, EventStored, Filter, OUTCOMES, Outcome, REJECTED_KEPT, Rejection, VERIFIED_KEPT};
use crate::state::AppState;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use std::sync::Arc;

/// How many attempts the list shows.
const LIST_LIMIT: usize = 100;
/// How often the list reloads itself, in seconds.
const REFRESH_SECS: u32 = 5;
/// How many finished `create_payment_link` calls are searched for the one that made an event's link.
const CREATES_SEARCHED: i64 = 500;
/// How many recent approvals are searched for the one that approved it.
const APPROVALS_SEARCHED: i64 = 200;
/// How many of the newest audit records are searched for the agent's actions about an event.
const AUDIT_SEARCHED: i64 = 500;
/// Keys shorter than this are not searched for in the audit trail (they would match unrelated text).
const MIN_KEY_CHARS: usize = 6;
const BADGE: &str = "Switchboard · webhook inspector";
/// Short cells (a time, a source name, a link) stay on one line.
const NOWRAP: &str = "white-space:nowrap";

/// The inspector's routes, guarded as described above.
pub fn routes(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/inspector", get(list))
        .route("/inspector/attempts/{id}", get(attempt))
        .route("/inspector/events/{id}", get(event))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// With the HTTP token, anyone presenting it; without one, loopback peers; always a `Host` this server answers
/// to unless the token is presented.
async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if access::has_token(request.headers(), &state) {
        return next.run(request).await;
    }
    if !access::allowed_host(request.headers(), &state) {
        return refuse(StatusCode::FORBIDDEN, "This page does not answer under that host name.");
    }
    if state.config.http.token.is_some() {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "The webhook inspector needs the server's token: send it as Authorization: Bearer <token>.",
        );
    }
    if !access::loopback_peer(&request) {
        return refuse(StatusCode::FORBIDDEN, "The webhook inspector can only be opened on this machine.");
    }
    next.run(request).await
}

fn refuse(status: StatusCode, detail: &str) -> Response {
    html::message(status, BADGE, "Not allowed", detail)
}

async fn list(State(state): State<Arc<AppState>>, filter: Result<Query<Filter>, QueryRejection>) -> Response {
    let filter = filter.map(|Query(f)| f).unwrap_or_default();
    let attempts = state.inspector.recent(&filter, LIST_LIMIT);
    let filtered = filter.source().is_some() || filter.outcome().is_some() || filter.key().is_some();
    let body = html! {
        p class="badge" { (BADGE) }
        h1 { "Webhook deliveries" }
        (filters(&state, &filter))
        @if attempts.is_empty() {
            p id="empty" {
                @if filtered { "No delivery attempt matches these filters." }
                @else { "No delivery has arrived since this server started. Each attempt appears here, refused ones too." }
            }
        } @else {
            table id="attempts" {
                tr { th { "Received" } th { "Source" } th { "Outcome" } th { "Events" } th { "" } }
                @for a in &attempts {
                    tr class="attempt" data-outcome=(a.outcome.as_str()) data-id=(a.id) {
                        td style=(NOWRAP) { (when(a.received_at)) }
                        td class="source" style=(NOWRAP) { (a.source) }
                        td class=(outcome_class(&a.outcome)) { (a.outcome.label()) }
                        td class="events" { (events_cell(a)) }
                        td style=(NOWRAP) { a href=(format!("/inspector/attempts/{}", a.id)) { "Details" } }
                    }
                }
            }
        }
        p class="id" {
            "Every attempt since this server started, newest first (the last " (VERIFIED_KEPT)
            " verified and the last " (REJECTED_KEPT) " refused, kept in memory). Refreshes every "
            (REFRESH_SECS) " seconds."
        }
    };
    html::respond(StatusCode::OK, html::page("Webhook deliveries · Switchboard", true, Some(REFRESH_SECS), body))
}

/// The filter form: a GET to this page, so a filtered view is a link, and survives the refresh.
fn filters(state: &AppState, filter: &Filter) -> Markup {
    let chosen_source = filter.source().unwrap_or_default();
    let chosen_outcome = filter.outcome().unwrap_or_default();
    let mut sources: Vec<&str> = state.config.webhooks.sources.keys().map(String::as_str).collect();
    if !chosen_source.is_empty() && !sources.contains(&chosen_source) {
        sources.push(chosen_source);
    }
    html! {
        form id="filters" method="get" action="/inspector" style="display:flex;gap:.6rem;flex-wrap:wrap;align-items:end" {
            label { "Source " select name="source" {
                option value="" { "any" }
                @for s in &sources { option value=(s) selected[*s == chosen_source] { (s) } }
            } }
            label { "Outcome " select name="outcome" {
                option value="" { "any" }
                @for o in OUTCOMES { option value=(o) selected[o == chosen_outcome] { (o.replace('_', " ")) } }
            } }
            label { "Key " input type="search" name="key" value=(filter.key().unwrap_or_default())
                placeholder="plink_…, +9198…, name@example.com"; }
            button type="submit" style="width:auto;margin:.6rem 0;padding:.4rem 1rem;font-size:1rem" { "Filter" }
        }
    }
}

fn events_cell(a: &Attempt) -> Markup {
    html! {
        @if !a.outcome.verified() { "—" }
        @else if a.events.is_empty() { "none in it" }
        @for e in &a.events {
            div {
                @match e.seq {
                    Some(seq) => { a href=(format!("/inspector/events/{}", event_id(seq))) { (event_id(seq)) } " " }
                    None => {}
                }
                (e.kind.as_str())
                @match e.stored {
                    EventStored::New => {}
                    EventStored::Duplicate => span class="id" { " (stored before)" },
                    EventStored::Failed => span class="bad" { " (not stored)" },
                }
            }
        }
    }
}

async fn attempt(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let Some(a) = id.parse().ok().and_then(|id| state.inspector.get(id)) else {
        return not_found(
            "No such delivery attempt",
            "It may have been pushed out of the inspector's memory by newer ones, or the server restarted since.",
        );
    };
    let payload = pretty(&state, &a.payload);
    let body = html! {
        p class="badge" { (BADGE) }
        h1 id="outcome" class=(outcome_class(&a.outcome)) style="font-size:1.6rem" { (a.outcome.label()) }
        p id="meaning" { (meaning(&a.outcome)) }
        table id="summary" {
            tr { th { "Received" } td { (when(a.received_at)) } }
            tr { th { "Source" } td { (a.source) } }
            tr { th { "Answered" } td { "HTTP " (a.status) } }
            tr { th { "Body" } td { @match a.body_bytes { Some(n) => { (n) " bytes" }, None => "not read" } } }
        }
        @if !a.events.is_empty() {
            h2 { "Events" }
            table id="events" {
                tr { th { "Event" } th { "Kind" } th { "Type" } th { "Provider id" } th { "Keys" } }
                @for e in &a.events {
                    tr {
                        td { @match (e.seq, e.stored) {
                            (Some(seq), _) => a href=(format!("/inspector/events/{}", event_id(seq))) { (event_id(seq)) },
                            (None, EventStored::Duplicate) => "stored before",
                            (None, _) => span class="bad" { "not stored" },
                        } }
                        td { (e.kind.as_str()) }
                        td { (e.event_type) }
                        td { (e.provider_event_id) }
                        td { (keys(&e.correlation)) }
                    }
                }
            }
        }
        h2 { "Headers" }
        table id="headers" {
            @for (name, value) in &a.headers { tr { th { (name) } td { (value) } } }
        }
        @if a.headers_dropped > 0 { p class="id" { (a.headers_dropped) " more headers not kept." } }
        h2 { "Payload" }
        @if !a.outcome.verified() {
            p class="bad" { "Not verified: anyone could have sent this. Nothing in it was stored." }
        }
        @if a.body_bytes.is_none() {
            p { "The body was not read." }
        } @else {
            pre id="payload" { (payload) }
            @if a.payload_cut { p class="id" { "Only the first " (a.payload.len()) " bytes are kept." } }
        }
        p class="id" { "Attempt " (a.id) " · " a href="/inspector" { "all deliveries" } }
    };
    html::respond(StatusCode::OK, html::page("Delivery · Switchboard", true, None, body))
}

/// What an outcome means and what to check.
fn meaning(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Stored => "Verified and stored; agents waiting on these events were woken.".into(),
        Outcome::Duplicate => {
            "Verified; every event in it was stored before (the sender retried or replayed it), so nothing changed."
                .into()
        }
        Outcome::Rejected(r) => match r {
            Rejection::UnknownSource => "No webhook source of this name is configured: check the URL in the \
                provider's dashboard against [webhooks.sources] (and the *_WEBHOOK_SECRET variables)."
                .into(),
            Rejection::TooLarge => "The body was over this source's limit ([webhooks] max_body_bytes), so it was \
                refused unread."
                .into(),
            Rejection::Unreadable => "The body broke off or did not arrive in time.".into(),
            Rejection::BadSignature(e) => format!(
                "The signature did not verify ({e}). Either the secret in the provider's dashboard is not one of \
                 this source's secrets, or the provider did not send this."
            ),
            Rejection::Stale => "The signed timestamp is more than five minutes from this server's clock: a \
                replayed delivery, or a clock that is off."
                .into(),
            Rejection::StorageFailure => "Verified, but the database did not take it; the sender was asked to \
                retry (HTTP 503)."
                .into(),
            Rejection::Unchecked => {
                "The signature check did not finish; the sender was asked to retry (HTTP 503).".into()
            }
        },
    }
}

async fn event(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
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

/// The payload as a person reads it: JSON pretty-printed (the configured secrets masked again, in case an
/// escape hid one from the first pass), anything else as it came.
fn pretty(state: &AppState, payload: &str) -> String {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(payload) else { return payload.to_string() };
    let text = serde_json::to_string_pretty(&value).unwrap_or_else(|_| payload.to_string());
    state.redactor.mask_values(&text).unwrap_or(text)
}

/// An event's correlation keys, "payment link plink_… · e-mail …".
fn keys(c: &Correlation) -> String {
    let shown: Vec<String> =
        c.labelled().iter().filter_map(|(label, value)| value.map(|v| format!("{label} {v}"))).collect();
    shown.join(" · ")
}

fn outcome_class(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Stored => "outcome ok",
        Outcome::Duplicate => "outcome",
        Outcome::Rejected(_) => "outcome bad",
    }
}

fn when(unix_seconds: i64) -> String {
    time::rfc3339(unix_seconds).unwrap_or_default()
}

fn not_found(title: &str, detail: &str) -> Response {
    html::message(StatusCode::NOT_FOUND, BADGE, title, detail)
}

fn storage_failed(e: crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "the webhook inspector could not read the store");
    html::message(
        StatusCode::SERVICE_UNAVAILABLE,
        BADGE,
        "Try again",
        "Switchboard could not read its database just now.",
    )
}
