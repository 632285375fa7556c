//! `/healthz`: whether this instance can do its work, for a load balancer or an orchestrator.
//!
//! 200 when the store answers a read within [`CHECK_TIMEOUT`] and takes writes; 503 when it does not, or is
//! read-only (a PostgreSQL standby, or a database set read-only), because then every webhook would be refused
//! (503, for the provider to retry) and every tool call that needs the store would fail: a load balancer should
//! send traffic to an instance that can store it. The answer says which backend and whether it
//! answered, never where the database is (the endpoint is open to anyone who can reach the port). One check is
//! shared by every probe within [`CACHE_FOR`], so probes cannot load the database.

use crate::state::AppState;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// How long the store may take to answer the check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one check's answer is reused.
const CACHE_FOR: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Serialize)]
struct Health {
    /// `ok` or `unavailable`.
    status: &'static str,
    store: StoreHealth,
}

#[derive(Debug, Clone, Serialize)]
struct StoreHealth {
    /// `sqlite` or `postgres`.
    backend: &'static str,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<&'static str>,
}

/// The `/healthz` handler's state: the app and the last check.
pub struct Checker {
    state: Arc<AppState>,
    last: Mutex<Option<(Instant, Health)>>,
}

impl Checker {
    pub fn new(state: Arc<AppState>) -> Self {
        Checker { state, last: Mutex::new(None) }
    }

    async fn check(&self) -> Health {
        // Probes wait for a check in progress instead of starting their own.
        let mut last = self.last.lock().await;
        if let Some((at, health)) = last.as_ref()
            && at.elapsed() < CACHE_FOR
        {
            return health.clone();
        }
        let store = &self.state.store;
        let checked = async {
            store.events().latest_seq().await?;
            store.accepts_writes().await
        };
        let problem = match tokio::time::timeout(CHECK_TIMEOUT, checked).await {
            Ok(Ok(true)) => None,
            Ok(Ok(false)) => {
                tracing::warn!(store = %store.describe(), "health check: the store is read-only");
                Some("the store refuses writes (read-only)")
            }
            Ok(Err(e)) => {
                tracing::warn!(store = %store.describe(), error = %e, "health check: the store failed a read");
                Some("the store failed a read")
            }
            Err(_) => {
                tracing::warn!(store = %store.describe(), "health check: the store did not answer in time");
                Some("the store did not answer within 2 s")
            }
        };
        let health = Health {
            status: if problem.is_none() { "ok" } else { "unavailable" },
            store: StoreHealth { backend: store.kind(), ok: problem.is_none(), problem },
        };
        *last = Some((Instant::now(), health.clone()));
        health
    }
}

/// `GET /healthz`.
pub async fn healthz(axum::extract::State(checker): axum::extract::State<Arc<Checker>>) -> Response {
    let health = checker.check().await;
    let status = if health.store.ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(health)).into_response()
}
