//! `GET /metrics`: the registry in [`crate::metrics`], with the gauges read from the store at each scrape. With
//! the HTTP token set it needs the token; without one it answers loopback peers only.

use crate::domain::time;
use crate::metrics::Gauges;
use crate::state::AppState;
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use std::net::SocketAddr;
use std::sync::Arc;

/// `GET /metrics`.
pub fn routes(state: Arc<AppState>) -> Router {
    Router::new().route("/metrics", axum::routing::get(scrape)).with_state(state)
}

async fn scrape(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let allowed = match &state.config.http.token {
        Some(token) => request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .is_some_and(|(scheme, t)| {
                scheme.eq_ignore_ascii_case("bearer") && constant_eq(t.trim(), token.expose_secret())
            }),
        None => {
            request.extensions().get::<ConnectInfo<SocketAddr>>().is_some_and(|c| c.0.ip().to_canonical().is_loopback())
        }
    };
    if !allowed {
        return (StatusCode::UNAUTHORIZED, "metrics need the HTTP bearer token (or, without one, a loopback client)")
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

fn constant_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
