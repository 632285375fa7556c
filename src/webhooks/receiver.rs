//! `POST /webhooks/{source}`: verify the raw bytes, commit the event durably, then acknowledge.
//!
//! Answers: 200 once stored (or already stored: duplicates change nothing); 401 with no detail for a bad,
//! missing or stale signature (a signature header with absurdly many entries included: it is refused before any
//! hashing); 404 for an unknown source; 413 over the source's body limit (a declared `Content-Length` over it
//! before the body is read); 503 when storage fails, so the provider retries. Nothing is parsed before the
//! signature is checked. Every attempt, whatever its answer, is handed to the [`crate::inspector`].
//!
//! `GET /webhooks/{source}` answers Meta's subscription handshake for a source with a verify token:
//! `hub.mode=subscribe` and the right `hub.verify_token` (compared in constant time) → 200 with `hub.challenge`
//! echoed verbatim; anything else → 403.

use super::{Delivery, Unverified, Verified, Verifier, VerifyError};
use crate::domain::time;
use crate::inspector::{EventSeen, Outcome, Received, Rejection};
use crate::state::AppState;
use crate::store::Recorded;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use secrecy::ExposeSecret;
use std::collections::HashMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The webhook routes. The body is read only for a configured source, up to its body limit.
pub fn routes(state: Arc<AppState>) -> Router {
    Router::new().route("/webhooks/{source}", post(receive).get(handshake)).with_state(state)
}

/// The longest `hub.challenge` echoed (Meta's are short numbers).
const MAX_CHALLENGE_BYTES: usize = 256;

async fn handshake(
    State(state): State<Arc<AppState>>,
    Path(source): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(config) = state.config.webhooks.sources.get(&source) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(expected) = &config.verify_token else {
        return StatusCode::FORBIDDEN.into_response();
    };
    let presented = query.get("hub.verify_token").map(String::as_bytes).unwrap_or_default();
    let token_ok = bool::from(presented.ct_eq(expected.expose_secret().as_bytes()));
    let challenge = query.get("hub.challenge").filter(|c| !c.is_empty() && c.len() <= MAX_CHALLENGE_BYTES);
    match (query.get("hub.mode").map(String::as_str), token_ok, challenge) {
        (Some("subscribe"), true, Some(challenge)) => {
            tracing::info!(%source, "answered the webhook subscription handshake");
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], challenge.clone()).into_response()
        }
        _ => {
            tracing::warn!(%source, "refused a webhook subscription handshake");
            StatusCode::FORBIDDEN.into_response()
        }
    }
}

async fn receive(State(state): State<Arc<AppState>>, Path(source): Path<String>, request: Request) -> StatusCode {
    let started = std::time::Instant::now();
    let headers = request.headers().clone();
    let received = ingest(&state, &source, request).await;
    let status = answer(&received.outcome);
    // A made-up source name is not a metric label.
    let label = if state.config.webhooks.sources.contains_key(&source) { source.as_str() } else { "unknown" };
    state.metrics.delivery(label, received.outcome.as_str(), started.elapsed());
    // The one hook: every attempt, refused ones too, is kept (redacted, bounded) for the inspector page.
    state.inspector.record(&source, &headers, status, received);
    status
}

/// The HTTP answer to each outcome (see the module docs).
fn answer(outcome: &Outcome) -> StatusCode {
    match outcome {
        Outcome::Stored | Outcome::Duplicate => StatusCode::OK,
        Outcome::Rejected(why) => match why {
            Rejection::UnknownSource => StatusCode::NOT_FOUND,
            Rejection::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::Unreadable => StatusCode::BAD_REQUEST,
            Rejection::BadSignature(_) | Rejection::Stale => StatusCode::UNAUTHORIZED,
            Rejection::StorageFailure | Rejection::Unchecked => StatusCode::SERVICE_UNAVAILABLE,
        },
    }
}

/// Source, size, signature, storage: what came of one attempt, logged as it goes.
async fn ingest(state: &AppState, source: &str, request: Request) -> Received {
    // The source is checked before a byte of the body is read: a stranger's upload to a made-up source costs
    // nothing but its headers.
    let Some(config) = state.config.webhooks.sources.get(source) else {
        tracing::warn!(source = ?crate::domain::text::clip(source, 64), "webhook for an unknown source");
        return Received::rejected(Rejection::UnknownSource, None);
    };
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > config.max_body_bytes as u64) {
        tracing::warn!(%source, "refused a webhook delivery over the body limit");
        return Received::rejected(Rejection::TooLarge, None);
    }
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, config.max_body_bytes).await {
        Ok(body) => body,
        Err(e) => return Received::rejected(unreadable_body(source, &e), None),
    };
    let verifier = Verifier {
        scheme: config.scheme,
        secrets: config.secrets.clone(),
        tolerance_secs: super::verify::DEFAULT_TOLERANCE_SECS,
    };
    let delivery = match verify(Delivery::new(source, parts.headers, body.clone()), verifier).await {
        Ok(Ok(verified)) => verified,
        Ok(Err(e)) => {
            tracing::warn!(%source, reason = %e, "refused a webhook delivery");
            let why = match e {
                VerifyError::StaleTimestamp => Rejection::Stale,
                e => Rejection::BadSignature(e.to_string()),
            };
            return Received::rejected(why, Some(body));
        }
        Err(e) => {
            tracing::error!(%source, error = %e, "signature check did not finish; asking the sender to retry");
            return Received::rejected(Rejection::Unchecked, Some(body));
        }
    };
    let events = super::sources::extract(&delivery, config.format);
    let outcomes = state.store.events().record_all(&events).await;
    for (event, outcome) in events.iter().zip(&outcomes) {
        match outcome {
            Ok(Recorded::New(seq)) => {
                tracing::info!(target: "switchboard::notify", %source, event = event.event_type(), kind = event.kind().as_str(), seq, "stored a webhook event");
            }
            Ok(Recorded::Duplicate) => {
                tracing::debug!(%source, event = event.event_type(), "duplicate webhook delivery");
            }
            Err(e) => {
                tracing::error!(%source, error = %e, "could not store a webhook event; asking the sender to retry");
            }
        }
    }
    // The events that were stored stay stored: the retry finds them duplicates and stores only the rest.
    let seen = events.iter().enumerate().map(|(i, event)| EventSeen::new(event, outcomes.get(i))).collect();
    Received::verified(body, seen)
}

/// Over the limit (413), or broke off or stopped arriving (the body timeout; 400).
fn unreadable_body(source: &str, e: &axum::Error) -> Rejection {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            tracing::warn!(%source, "refused a webhook delivery over the body limit");
            return Rejection::TooLarge;
        }
        cause = c.source();
    }
    tracing::warn!(%source, error = %e, "could not read a webhook delivery's body");
    Rejection::Unreadable
}

/// Bodies at least this large are hashed on the blocking pool: an HMAC of 1 MiB takes milliseconds, which must
/// not hold up the reactor threads that serve `/mcp`, `/healthz` and other deliveries.
const HASH_OFF_REACTOR_BYTES: usize = 64 * 1024;

async fn verify(
    delivery: Delivery<Unverified>,
    verifier: Verifier,
) -> Result<Result<Delivery<Verified>, VerifyError>, tokio::task::JoinError> {
    if delivery.body().len() < HASH_OFF_REACTOR_BYTES {
        return Ok(delivery.verify(&verifier, time::now()));
    }
    tokio::task::spawn_blocking(move || delivery.verify(&verifier, time::now())).await
}
