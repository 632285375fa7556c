//! `POST /webhooks/{source}`: verify the raw bytes, commit the event durably, then acknowledge.
//!
//! Answers: 200 once stored (or already stored: duplicates change nothing); 401 with no detail for a bad,
//! missing or stale signature; 404 for an unknown source; 413 over the body limit; 503 when storage fails, so
//! the provider retries. Nothing is parsed before the signature is checked.

use super::{Delivery, NewEvent, Verifier};
use crate::domain::time;
use crate::state::AppState;
use crate::store::events::Recorded;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::sync::Arc;

/// The webhook routes, with the configured body limit.
pub fn routes(state: Arc<AppState>) -> Router {
    let limit = state.config.webhooks.max_body_bytes;
    Router::new().route("/webhooks/{source}", post(receive)).layer(DefaultBodyLimit::max(limit)).with_state(state)
}

async fn receive(
    State(state): State<Arc<AppState>>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(config) = state.config.webhooks.sources.get(&source) else {
        tracing::warn!(source = ?crate::domain::text::clip(&source, 64), "webhook for an unknown source");
        return StatusCode::NOT_FOUND;
    };
    let verifier = Verifier {
        scheme: config.scheme,
        secrets: config.secrets.clone(),
        tolerance_secs: super::verify::DEFAULT_TOLERANCE_SECS,
    };
    let delivery = match Delivery::new(source.clone(), headers, body).verify(&verifier, time::now()) {
        Ok(verified) => verified,
        Err(e) => {
            tracing::warn!(%source, reason = %e, "refused a webhook delivery");
            return StatusCode::UNAUTHORIZED;
        }
    };
    let event = NewEvent::from_verified(&delivery);
    match state.store.events().record(&event).await {
        Ok(Recorded::New(seq)) => {
            tracing::info!(%source, event = event.event_type(), seq, "stored a webhook event");
            state.event_stored(seq);
            StatusCode::OK
        }
        Ok(Recorded::Duplicate) => {
            tracing::debug!(%source, event = event.event_type(), "duplicate webhook delivery");
            StatusCode::OK
        }
        Err(e) => {
            tracing::error!(%source, error = %e, "could not store a webhook event; asking the sender to retry");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}
