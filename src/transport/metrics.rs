//! `GET /metrics`: the registry in [`crate::metrics`], with the gauges read from the store at each scrape. With
//! the HTTP token set it needs the token; without one it answers loopback peers only.

use crate::access;
use crate::domain::time;
use crate::metrics::Gauges;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// `GET /metrics`.
pub fn routes(state: Arc<AppState>) -> Router {
    Router::new().route("/metrics", axum::routing::get(scrape)).with_state(state)
}

async fn scrape(State(state): State<Arc<AppState>>, request: Request) -> Response {
    // As the webhook inspector: the token, or else this machine under a Host this server answers to (a tunnel or
    // a rebinding page arrives from loopback too, under a foreign Host).
    let allowed = access::has_token(request.headers(), &state)
        || (state.config.http.token.is_none()
            && access::allowed_host(request.headers(), &state)
            && access::loopback_peer(&request));
    if !allowed {
        return (StatusCode::UNAUTHORIZED, "metrics need the HTTP bearer token (or, without one, a local client)")
            .into_response();
    }
    let mut gauges = Gauges {
        active_waits: i64::try_from(state.store.events().listeners()).unwrap_or(i64::MAX),
        ..Gauges::default()
    };
    if state.store.exists() {
        gauges.pending_approvals = state.store.approvals().open_count(time::now()).await.ok();
        gauges.pending_write_backs = state.store.write_backs().pending_count().await.ok();
    }
    let body = state.metrics.render(gauges);
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response()
}
