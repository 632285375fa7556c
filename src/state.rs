//! Shared state behind every MCP session and the webhook listener: config, provider clients, the store.

use crate::config::Config;
use crate::providers::Registry;
use crate::providers::http::HttpClient;
use crate::providers::redact::Redactor;
use crate::store::Store;
use rmcp::model::RequestStateCodec;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
}

impl AppState {
    /// Cheap: provider clients are plain structs, the HTTP client and the database open on first use.
    pub fn new(config: Config) -> Self {
        let redactor = Arc::new(Redactor::from_config(&config));
        let http = Arc::new(HttpClient::new(config.outbound.clone(), redactor.clone()));
        let providers = Registry::from_config(&config, http);
        let key: [u8; 32] = rand::random();
        AppState {
            store: Store::new(config.data_dir.clone()),
            key_locks: KeyLocks::default(),
            // A 32-byte random key always meets the codec's minimum length; the fallback is unreachable.
            request_state: RequestStateCodec::try_new(key.to_vec())
                .unwrap_or_else(|_| RequestStateCodec::new_unchecked(key.to_vec())),
            config,
            redactor,
            providers,
        }
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
