//! Shared state behind every MCP session and the webhook listener: config, provider clients, the store.

use crate::config::Config;
use crate::providers::Registry;
use crate::providers::http::HttpClient;
use crate::providers::redact::Redactor;
use crate::store::Store;
use rmcp::model::RequestStateCodec;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

pub struct AppState {
    pub config: Config,
    pub store: Store,
    /// Serialises concurrent calls with the same idempotency key inside this process.
    pub key_locks: KeyLocks,
    /// Seals the state a 2026-07-28 client echoes between confirmation rounds (per-process random key).
    pub request_state: RequestStateCodec,
    /// Masks the configured credentials: in provider errors (through the HTTP client) and in every tool result.
    pub redactor: Arc<Redactor>,
    /// The configured provider clients, and which one serves a call.
    pub providers: Registry,
    /// Where the approval page is served (`http://127.0.0.1:8080`), once a listener serves it; unset, approvals
    /// have no page.
    pub approval_base: OnceLock<String>,
    /// When this process's state was built (unix seconds): approvals decided before it belong to an earlier one.
    pub started_at: i64,
    /// Wakes the invoice book's write-back worker when something new is owed to the book.
    pub book_wake: tokio::sync::Notify,
    /// Every webhook delivery attempt lately, refused ones too, for the inspector page (bounded, in memory).
    pub inspector: crate::inspector::Inspector,
    /// What `/metrics` reports.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl AppState {
    /// Cheap: provider clients are plain structs, the HTTP client and the database open on first use.
    pub fn new(config: Config) -> Self {
        let redactor = Arc::new(Redactor::from_config(&config));
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let http = Arc::new(HttpClient::new(config.outbound.clone(), redactor.clone()).with_metrics(metrics.clone()));
        let providers = Registry::from_config(&config, http);
        let key: [u8; 32] = rand::random();
        let inspector = crate::inspector::Inspector::new(redactor.clone());
        AppState {
            store: Store::from_config(&config),
            key_locks: KeyLocks::default(),
            // A 32-byte random key always meets the codec's minimum length; the fallback is unreachable.
            request_state: RequestStateCodec::try_new(key.to_vec())
                .unwrap_or_else(|_| RequestStateCodec::new_unchecked(key.to_vec())),
            config,
            redactor,
            providers,
            approval_base: OnceLock::new(),
            started_at: crate::domain::time::now(),
            book_wake: tokio::sync::Notify::new(),
            inspector,
            metrics,
        }
    }

    /// Note that a listener on `local` serves the approval page: links then point at the configured public URL,
    /// else at this address (a wildcard address as loopback). The first listener wins.
    pub fn serve_approvals_at(&self, local: SocketAddr) {
        let base = match &self.config.approvals.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_string(),
            None => {
                let ip = if local.ip().is_unspecified() {
                    if local.is_ipv4() { "127.0.0.1".parse().ok() } else { "::1".parse().ok() }
                } else {
                    Some(local.ip())
                };
                let addr = SocketAddr::new(ip.unwrap_or(local.ip()), local.port());
                format!("http://{addr}")
            }
        };
        let _ = self.approval_base.set(base);
    }
}

/// One async mutex per key in use; entries nobody holds are dropped on the next lookup.
#[derive(Default)]
pub struct KeyLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl KeyLocks {
    pub fn get(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        // A poisoned map only means another thread panicked mid-insert; the map itself is still valid.
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, lock| Arc::strong_count(lock) > 1);
        map.entry(key.to_string()).or_default().clone()
    }
}
