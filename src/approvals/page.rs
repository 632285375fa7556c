//! The approval page: `GET /approvals` lists what waits for a person (and what was decided lately),
//! `GET /approvals/{id}` shows one action in full with Approve and Decline, `POST /approvals/{id}` decides.
//!
//! Who may use it: without an HTTP token, only this machine (a loopback peer, and a loopback `Host`, so a
//! DNS-rebinding page cannot reach it). With a token, anyone holding an approval's link (its id is 130 random
//! bits), and the list only with the token. A decision must carry the form's own token, which only the page
//! itself shows, and a browser's cross-site POST (`Origin` or `Sec-Fetch-Site` not this page's) is refused:
//! another page open in the same browser cannot approve by itself. The pages cannot be framed.

use super::{Performer, perform};
use crate::access;
use crate::domain::approval::{Approval, ApprovalStatus, Decision, Outcome};
use crate::domain::time;
use crate::html::{self, Markup, html};
use crate::state::AppState;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// How many approvals the list shows.
const LIST_LIMIT: i64 = 100;
/// The largest decision form accepted.
const MAX_FORM_BYTES: usize = 4 << 10;

struct Pages {
    state: Arc<AppState>,
    performer: Arc<dyn Performer>,
}

/// The page's routes, guarded as described above.
pub fn routes(state: Arc<AppState>, performer: Arc<dyn Performer>) -> Router {
    let pages = Arc::new(Pages { state, performer });
    Router::new()
        .route("/approvals", get(list))
        .route("/approvals/{id}", get(show).post(decide))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_FORM_BYTES))
        .layer(middleware::from_fn_with_state(pages.clone(), guard))
        .with_state(pages)
}

/// Who may see and use the pages (see the module docs and [`access`]): with the HTTP token, anyone; otherwise,
/// under a host this server answers to, only loopback peers when no token is set; with one, the list needs the
/// token, and one approval's page needs its unguessable link.
async fn guard(State(pages): State<Arc<Pages>>, request: Request, next: Next) -> Response {
    let state = &pages.state;
    if access::has_token(request.headers(), state) {
        return next.run(request).await;
    }
    if !access::allowed_host(request.headers(), state) {
        return refuse(StatusCode::FORBIDDEN, "This page does not answer under that host name.");
    }
    let token_set = state.config.http.token.is_some();
    if !token_set && !access::loopback_peer(&request) {
        return refuse(StatusCode::FORBIDDEN, "Approvals can only be decided on this machine.");
    }
    if token_set && request.uri().path() == "/approvals" {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "The list of approvals needs the server's token; open an approval's own link instead.",
        );
    }
    next.run(request).await
}

/// A browser POST from another site carries that site's `Origin` / `Sec-Fetch-Site`; non-browser clients send
/// neither (the form token still guards them).
fn same_origin(headers: &HeaderMap, state: &AppState) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| !matches!(s, "same-origin" | "none")) {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let public = state.config.approvals.public_url.as_ref().map(|u| u.origin().ascii_serialization());
    origin == format!("http://{host}") || origin == format!("https://{host}") || public.as_deref() == Some(origin)
}

fn refuse(status: StatusCode, detail: &str) -> Response {
    html::message(status, "Switchboard approvals", "Not allowed", detail)
}

async fn list(State(pages): State<Arc<Pages>>) -> Response {
    let now = time::now();
    let approvals = match pages.state.store.approvals().recent(now, LIST_LIMIT).await {
        Ok(approvals) => approvals,
        Err(e) => return storage_failed(e),
    };
    let waiting = approvals.iter().filter(|a| a.status_at(now).is_open()).count();
    let body = html! {
        p class="badge" { "Switchboard approvals" }
        h1 { (waiting) " waiting" }
        @if approvals.is_empty() {
            p { "Nothing has asked for approval yet. When an agent wants to move money or message a customer, it appears here." }
        } @else {
            table id="approvals" {
                tr { th { "Action" } th { "Status" } th { "Asked" } th { "" } }
                @for a in &approvals {
                    tr class="approval" data-status=(a.status_at(now).as_str()) {
                        td { (a.summary.headline) }
                        td class="status" { (status_text(a, now)) }
                        td { (when(a.created_at)) }
                        td { a href=(format!("/approvals/{}", a.id)) { @if a.status_at(now).is_open() { "Review" } @else { "Open" } } }
                    }
                }
            }
        }
        p class="id" { "This list refreshes every 5 seconds." }
    };
    html::respond(StatusCode::OK, html::page("Approvals · Switchboard", true, Some(5), body))
}

async fn show(State(pages): State<Arc<Pages>>, Path(id): Path<String>) -> Response {
    match pages.state.store.approvals().get(&id).await {
        Ok(Some(approval)) => {
            let performing = approval.status == ApprovalStatus::Approved;
            let refresh = performing.then_some(2);
            html::respond(StatusCode::OK, html::page("Approve? · Switchboard", false, refresh, one(&approval)))
        }
        Ok(None) => not_found(),
        Err(e) => storage_failed(e),
    }
}

fn one(a: &Approval) -> Markup {
    let now = time::now();
    let status = a.status_at(now);
    html! {
        p class="badge" { "Switchboard · approval needed" }
        h1 id="headline" style="font-size:1.5rem" { (a.summary.headline) }
        table id="details" {
            @for (label, value) in &a.summary.details {
                tr { th { (label) } td style="white-space:pre-wrap" { (value) } }
            }
        }
        p { "Status: " strong id="status" { (status_text(a, now)) } }
        @match status {
            ApprovalStatus::Pending => {
                form method="post" action=(format!("/approvals/{}", a.id)) {
                    input type="hidden" name="form_token" value=(a.form_token);
                    button id="approve" type="submit" name="decision" value="approve" { "Approve" }
                    button id="decline" class="secondary" type="submit" name="decision" value="decline" { "Decline" }
                }
                p class="id" { "Approving performs exactly this, once. Expires " (when(a.expires_at)) "." }
            }
            ApprovalStatus::Approved => p { "Approved; performing it now…" },
            ApprovalStatus::Done => {
                p class="ok" id="outcome" { "Done." }
                @if let Some(Outcome::Ok(result)) = &a.outcome {
                    @if let Some(url) = result.get("short_url").or(result.get("url")).and_then(|u| u.as_str()) {
                        p { "Link: " a id="result-url" href=(url) rel="noreferrer" { (url) } }
                    }
                    details {
                        summary { "Full result" }
                        pre id="result" { (serde_json::to_string_pretty(result).unwrap_or_default()) }
                    }
                }
            }
            ApprovalStatus::Failed => {
                p class="bad" id="outcome" { "It failed; nothing more will be tried." }
                @if let Some(Outcome::Error(reason)) = &a.outcome { p id="reason" { (reason) } }
            }
            ApprovalStatus::Declined => p class="bad" id="outcome" { "Declined. Nothing was done." },
            ApprovalStatus::Expired => p class="bad" id="outcome" { "Expired unanswered. Nothing was done." },
        }
        p class="id" { (a.tool) " · key " (a.key) " · " a href="/approvals" { "all approvals" } }
    }
}

#[derive(Debug, Deserialize)]
struct DecisionForm {
    decision: String,
    form_token: String,
}

async fn decide(
    State(pages): State<Arc<Pages>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> Response {
    if !same_origin(&headers, &pages.state) {
        tracing::warn!(approval = %id, "refused a cross-site approval POST");
        return refuse(StatusCode::FORBIDDEN, "A decision can only be made from the approval's own page.");
    }
    let Ok(Form(form)) = form else {
        return refuse(StatusCode::BAD_REQUEST, "The decision form was incomplete; reload the page and try again.");
    };
    let decision = match form.decision.as_str() {
        "approve" => Decision::Approve,
        "decline" => Decision::Decline,
        _ => return refuse(StatusCode::BAD_REQUEST, "The decision must be approve or decline."),
    };
    let approvals = pages.state.store.approvals();
    let approval = match approvals.get(&id).await {
        Ok(Some(approval)) => approval,
        Ok(None) => return not_found(),
        Err(e) => return storage_failed(e),
    };
    if !bool::from(form.form_token.as_bytes().ct_eq(approval.form_token.as_bytes())) {
        tracing::warn!(approval = %id, "refused an approval POST without its page's token");
        return refuse(StatusCode::FORBIDDEN, "A decision can only be made from the approval's own page.");
    }
    match approvals.decide(&id, decision, time::now()).await {
        Ok(Some(decided)) => {
            tracing::info!(target: "switchboard::notify", approval = %id, tool = %decided.tool, ?decision, "a person decided on the approval page");
            let approve = decision == Decision::Approve;
            let (tool, arguments) = (decided.tool.clone(), decided.arguments.clone());
            crate::audit::decision(&pages.state, &tool, arguments, "approval_page", Some(&id), approve).await;
            if decision == Decision::Approve {
                perform(pages.state.clone(), pages.performer.clone(), decided).await;
            }
            Redirect::to(&format!("/approvals/{id}")).into_response()
        }
        Ok(None) => {
            // Re-read: it may have been decided a moment ago (a double submit).
            let current = approvals.get(&id).await.ok().flatten().unwrap_or(approval);
            let text = format!("This approval is already {}; nothing changed.", status_text(&current, time::now()));
            html::message(StatusCode::CONFLICT, "Switchboard approvals", "Already decided", &text)
        }
        Err(e) => storage_failed(e),
    }
}

fn status_text(a: &Approval, now: i64) -> &'static str {
    match a.status_at(now) {
        ApprovalStatus::Pending => "waiting for you",
        ApprovalStatus::Approved => "approved, performing",
        ApprovalStatus::Declined => "declined",
        ApprovalStatus::Expired => "expired",
        ApprovalStatus::Done => "approved and done",
        ApprovalStatus::Failed => "approved, but it failed",
    }
}

fn when(unix_seconds: i64) -> String {
    time::rfc3339(unix_seconds).unwrap_or_default()
}

fn not_found() -> Response {
    html::message(
        StatusCode::NOT_FOUND,
        "Switchboard approvals",
        "No such approval",
        "Nothing is waiting under this link.",
    )
}

fn storage_failed(e: crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "the approval page could not use the store");
    html::message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Switchboard approvals",
        "Try again",
        "Switchboard could not read its database just now; nothing changed.",
    )
}
