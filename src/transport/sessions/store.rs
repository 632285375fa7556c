//! Sessions across instances. Protocol 2025-11-25 has sessions (`Mcp-Session-Id`) that rmcp keeps in process
//! memory; 2026-07-28 has none, and any instance serves any of its requests already. When the store is shared
//! (PostgreSQL), every session is also kept there with the client's `initialize` parameters, and an instance that
//! gets a session id it does not hold restores it: rmcp loads the parameters ([`Restorable`], its `SessionStore`),
//! asks [`super::LimitedSessions`] for a fresh local session under that id (counted against the cap, watched by the
//! reaper) and replays the handshake into it. The client notices nothing.
//!
//! - **Idle means idle everywhere.** Each reaper tick keeps every session held here in the store until its last use
//!   here (now, while a request or stream is open) plus this instance's `[http] session_idle_secs`, never
//!   shortening what another instance set. An instance's reaper closes its own copy as before; once no instance has
//!   used the session for its idle period the store no longer restores it, and the next tick on any instance
//!   deletes it, so the table holds little more than the sessions in use. (Per-row expiry rather than each
//!   instance's idle setting: instances configured differently cannot expire each other's sessions.)
//! - **DELETE on any instance ends the session everywhere.** rmcp deletes it from the store; an instance holding a
//!   copy closes it on the copy's next request (answered 404, as for any ended session) or at its next reaper
//!   tick, whichever comes first; closing ends the copy's GET stream and any call in flight on it.
//! - **Local to the instance holding a copy:** its GET stream and what travels on it (resource update
//!   notifications), resource subscriptions and the `logging/setLevel` level. A restored copy starts without them.
//! - **Nothing secret is kept:** the parameters are what the client declared about itself (protocol version,
//!   capabilities, name and version); its `_meta` is dropped, and no header (the bearer token) is ever part of them.
//! - **A store error never ends a session:** a failed check keeps serving the copy held here, a failed sync is
//!   retried at the next tick, and a failed save leaves a session served only where it was opened.

use super::Shared;
use crate::store::{SharedSessions, Store};
use rmcp::model::InitializeRequestParams;
use rmcp::transport::streamable_http_server::session::{SessionId, SessionState, SessionStore, SessionStoreError};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// The shared store, and how long a session may go unused here before this instance stops keeping it.
pub(super) struct Kept {
    sessions: Arc<dyn SharedSessions>,
    idle: Duration,
}

impl Kept {
    /// `None` unless `store` is shared with other instances.
    pub(super) fn new(store: &Store, idle: Duration) -> Option<Kept> {
        Some(Kept { sessions: store.sessions()?, idle })
    }

    /// Whether the store would restore session `id`.
    pub(super) async fn restorable(&self, id: &SessionId) -> bool {
        match self.sessions.load(id).await {
            Ok(found) => found.is_some(),
            Err(e) => {
                tracing::warn!(session = %id, error = %e, "could not look an MCP session up in the shared store");
                false
            }
        }
    }

    /// Whether session `id` was not ended elsewhere (true when the store cannot say).
    pub(super) async fn still_kept(&self, id: &SessionId) -> bool {
        self.sessions.kept(id).await.unwrap_or_else(|e| {
            tracing::warn!(session = %id, error = %e, "could not check an MCP session in the shared store; serving it");
            true
        })
    }

    /// Keep the sessions held here, each last in use the given time ago, for the idle period after that use;
    /// returns those of them that were ended elsewhere or expired.
    pub(super) async fn sync(&self, in_use: &[(SessionId, Duration)]) -> Vec<SessionId> {
        if in_use.is_empty() {
            return Vec::new();
        }
        let ttls: Vec<(String, Duration)> =
            in_use.iter().map(|(id, ago)| (id.to_string(), self.idle.saturating_sub(*ago))).collect();
        match self.sessions.extend(&ttls).await {
            Ok(kept) => {
                let kept: HashSet<String> = kept.into_iter().collect();
                in_use.iter().filter(|(id, _)| !kept.contains(id.as_ref())).map(|(id, _)| id.clone()).collect()
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not report MCP sessions in use to the shared store");
                Vec::new()
            }
        }
    }

    /// Delete the sessions whose time ran out.
    pub(super) async fn prune(&self) {
        match self.sessions.prune().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(sessions = n, "deleted expired MCP sessions from the shared store"),
            Err(e) => tracing::warn!(error = %e, "could not delete expired MCP sessions from the shared store"),
        }
    }
}

/// rmcp's view of the shared store: it saves a session after its handshake, loads one it does not hold, and
/// deletes one on DELETE.
pub(super) struct Restorable(pub(super) Arc<Shared>);

impl Restorable {
    fn kept(&self) -> Result<&Kept, SessionStoreError> {
        self.0.kept.as_ref().ok_or_else(|| "no shared session store".into())
    }
}

#[async_trait::async_trait]
impl SessionStore for Restorable {
    async fn load(&self, id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let Some(stored) = self.kept()?.sessions.load(id).await? else { return Ok(None) };
        match serde_json::from_value::<InitializeRequestParams>(stored) {
            Ok(params) => Ok(Some(SessionState::new(params))),
            Err(e) => {
                // Not restorable here (written by a newer version?): the client gets 404 and initializes again.
                tracing::warn!(session = %id, error = %e, "an MCP session in the shared store is unreadable");
                Ok(None)
            }
        }
    }

    async fn store(&self, id: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        let mut params = state.initialize_params.clone();
        params.meta = None;
        let kept = self.kept()?;
        kept.sessions.save(id, &serde_json::to_value(&params)?, kept.idle).await?;
        if let Some(activity) = self.0.book().get_mut(id) {
            activity.kept = true;
        }
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<(), SessionStoreError> {
        Ok(self.kept()?.sessions.end(id).await?)
    }
}
