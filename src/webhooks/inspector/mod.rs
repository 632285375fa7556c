//! The webhook inspector's pages, over what the receiver saw ([`crate::inspector`]): `GET /inspector` lists delivery
//! attempts, newest first, refreshing itself every few seconds, with filters by source, outcome and correlation key
//! (`?source=razorpay&outcome=rejected&key=plink_…`);
//! `GET /inspector/attempts/{id}` shows one attempt whole (headers, payload, events); `GET /inspector/events/{id}`
//! shows one stored event and what came of it: the payment link it concerns, who created it and the invoice-book
//! write-backs it caused.
//!
//! Who may open them ([`crate::access`]): with the HTTP token, anyone presenting it; without one, only this
//! machine (a loopback peer, under a loopback or allowed `Host`). The pages change nothing.

mod audit;
mod event;

use crate::access;
use crate::domain::event::{Correlation, event_id};
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
const BADGE: &str = "Switchboard · webhook inspector";
/// Short cells (a time, a source name, a link) stay on one line.
const NOWRAP: &str = "white-space:nowrap";

/// The inspector's routes, guarded as described above.
pub fn routes(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/inspector", get(list))
        .route("/inspector/attempts/{id}", get(attempt))
        .route("/inspector/events/{id}", get(event::page))
        .route("/inspector/audit", get(audit::page))
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
            (REFRESH_SECS) " seconds. " a href="/inspector/audit" { "The audit trail" } " shows what agents did."
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
