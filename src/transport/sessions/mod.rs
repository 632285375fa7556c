//! MCP sessions with a cap and an idle timeout: rmcp's in-memory `LocalSessionManager`, wrapped.
//!
//! rmcp has no session cap, and its own idle timer (`SessionConfig::keep_alive`) only sees messages: a session
//! whose client waits on a long tool call without progress notifications (`wait_for_payment`, up to
//! `[webhooks] max_wait_secs`) looks idle to it and would be closed mid-call. Here a session is idle only when it
//! has no request in flight, no open stream (a client's GET stream included) and no message for
//! `[http] session_idle_secs`; a reaper task closes such sessions, and a client that comes back gets 404 and
//! initializes again, as the MCP spec prescribes.
//!
//! One `initialize` past `[http] max_sessions` gets 503 with `Retry-After`, answered at the edge of `/mcp`
//! (`transport::http`) before rmcp, which would answer [`SessionError::Full`] with 500.
//!
//! On a PostgreSQL store the sessions are also kept there, so that any instance serves any session ([`store`]): an
//! instance restores a session it does not hold, and the cap and the reaper count a restored session like any other.

mod store;

use crate::config::HttpLimits;
use crate::store::Store;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_core::Stream;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError, SessionConfig,
};
use rmcp::transport::streamable_http_server::session::{
    RestoreOutcome, ServerSseMessage, SessionId, SessionManager, SessionStore,
};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the server is serving its maximum of {0} MCP sessions")]
    Full(usize),
    #[error(transparent)]
    Local(#[from] LocalSessionManagerError),
}

/// rmcp's session manager behind a cap and an activity-aware idle timeout.
pub struct LimitedSessions {
    shared: Arc<Shared>,
    max_sessions: usize,
    idle: Duration,
    /// Creation is serialised so that check-then-create cannot overshoot the cap.
    creating: tokio::sync::Mutex<()>,
    /// The reaper starts with the first session (inside the runtime) and stops on shutdown or when this drops.
    reaper: OnceLock<()>,
    shutdown: CancellationToken,
    /// Whether the "limit reached" warning was logged since the last session fitted (one line per episode).
    warned: AtomicBool,
}

struct Shared {
    inner: LocalSessionManager,
    activity: Mutex<HashMap<SessionId, Activity>>,
    /// Where sessions are kept for the other instances sharing the database, if any.
    kept: Option<store::Kept>,
}

struct Activity {
    /// When the last request, stream or message started or ended.
    last: Instant,
    /// Requests in flight plus open streams.
    open: usize,
    /// Kept in the shared store (saved after its handshake, or restored from it), so it may be ended elsewhere.
    kept: bool,
}

impl Activity {
    fn new(kept: bool) -> Self {
        Activity { last: Instant::now(), open: 0, kept }
    }
}

impl LimitedSessions {
    /// Sessions under `limits`; kept in `store` too when it is shared with other instances (PostgreSQL).
    pub fn new(limits: &HttpLimits, store: &Store, shutdown: CancellationToken) -> Self {
        let mut inner = LocalSessionManager::default();
        let mut config = SessionConfig::default();
        // Idle sessions are closed by the reaper below, which knows about calls in flight; rmcp's timer does not.
        config.keep_alive = None;
        inner.session_config = config;
        LimitedSessions {
            shared: Arc::new(Shared {
                inner,
                activity: Mutex::new(HashMap::new()),
                kept: store::Kept::new(store, limits.session_idle),
            }),
            max_sessions: limits.max_sessions,
            idle: limits.session_idle,
            creating: tokio::sync::Mutex::new(()),
            reaper: OnceLock::new(),
            shutdown,
            warned: AtomicBool::new(false),
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.shared.book().len() >= self.max_sessions
    }

    /// What rmcp reads and writes to restore sessions opened on other instances (`None`: nothing is shared).
    pub fn session_store(&self) -> Option<Arc<dyn SessionStore>> {
        self.shared.kept.as_ref().map(|_| Arc::new(store::Restorable(self.shared.clone())) as Arc<dyn SessionStore>)
    }

    /// Whether a request for session `id` would restore it here although the cap is reached: it is not held here,
    /// and the shared store would restore it. (An unknown session still gets its 404 from rmcp.)
    pub(crate) async fn is_full_for(&self, id: &SessionId) -> bool {
        match &self.shared.kept {
            Some(kept) if self.is_full() && !self.shared.book().contains_key(id) => kept.restorable(id).await,
            _ => false,
        }
    }

    /// When the soonest idle session will be closed (the whole idle period when every session is busy).
    fn retry_after(&self) -> Duration {
        let now = Instant::now();
        self.shared
            .book()
            .values()
            .filter(|a| a.open == 0)
            .map(|a| (a.last + self.idle).saturating_duration_since(now))
            .min()
            .unwrap_or(self.idle)
    }

    /// 503 with a sentence and `Retry-After` (whole seconds, at least 1).
    pub(crate) fn refusal(&self) -> Response {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(max_sessions = self.max_sessions, "MCP session limit reached; refusing new sessions");
        }
        let wait = self.retry_after().as_secs_f64().ceil().max(1.0) as u64;
        let text = format!(
            "Switchboard is serving its maximum of {} MCP sessions; try again in {wait} s \
             (sessions with nothing in flight close after {} s idle).",
            self.max_sessions,
            self.idle.as_secs().max(1)
        );
        (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, wait.to_string())], text).into_response()
    }

    fn start_reaper(&self) {
        self.reaper.get_or_init(|| {
            tokio::spawn(reap(Arc::downgrade(&self.shared), self.idle, self.shutdown.clone()));
        });
    }
}

impl Shared {
    fn book(&self) -> MutexGuard<'_, HashMap<SessionId, Activity>> {
        // Nothing panics while holding the lock; if something ever did, the map is still consistent.
        self.activity.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn touch(&self, id: &SessionId) {
        if let Some(a) = self.book().get_mut(id) {
            a.last = Instant::now();
        }
    }

    /// Mark a request or stream as open on `id` until the returned guard drops.
    fn busy(self: &Arc<Self>, id: &SessionId) -> Busy {
        let counted = match self.book().get_mut(id) {
            Some(a) => {
                a.open += 1;
                a.last = Instant::now();
                true
            }
            None => false,
        };
        Busy { shared: self.clone(), id: id.clone(), counted }
    }

    /// Close session `id` here (the book no longer holds it); `why` is for the log.
    async fn close(&self, id: &SessionId, why: &str) {
        tracing::debug!(session = %id, why, "closing an MCP session");
        if let Err(e) = self.inner.close_session(id).await {
            tracing::debug!(session = %id, error = %e, "closing an MCP session failed");
        }
    }

    /// The kept sessions held here and how long ago each was last in use (zero while it is).
    fn in_use(&self) -> Vec<(SessionId, Duration)> {
        let book = self.book();
        let ago = |a: &Activity| if a.open > 0 { Duration::ZERO } else { a.last.elapsed() };
        book.iter().filter(|(_, a)| a.kept).map(|(id, a)| (id.clone(), ago(a))).collect()
    }

    /// Forget sessions idle for `idle` and return them, to be closed.
    fn take_idle(&self, idle: Duration) -> Vec<SessionId> {
        let mut book = self.book();
        let expired: Vec<SessionId> =
            book.iter().filter(|(_, a)| a.open == 0 && a.last.elapsed() >= idle).map(|(id, _)| id.clone()).collect();
        for id in &expired {
            book.remove(id);
        }
        expired
    }
}

/// Every quarter of the idle period: close idle sessions; with a shared store, tell it which sessions are in use
/// here, close the ones ended elsewhere, and delete the ones no instance has used for the idle period.
async fn reap(shared: Weak<Shared>, idle: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval((idle / 4).max(Duration::from_millis(50)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Some(shared) = shared.upgrade() else { return };
        for id in shared.take_idle(idle) {
            shared.close(&id, "idle").await;
        }
        if let Some(kept) = &shared.kept {
            for id in kept.sync(&shared.in_use()).await {
                shared.book().remove(&id);
                shared.close(&id, "ended on another instance").await;
            }
            kept.prune().await;
        }
    }
}

/// A request or stream open on a session; dropping it (the response ended, or the client went away) marks the
/// session active now.
struct Busy {
    shared: Arc<Shared>,
    id: SessionId,
    counted: bool,
}

impl Drop for Busy {
    fn drop(&mut self) {
        if !self.counted {
            return;
        }
        if let Some(a) = self.shared.book().get_mut(&self.id) {
            a.open = a.open.saturating_sub(1);
            a.last = Instant::now();
        }
    }
}

/// A stream that keeps its session busy while it lives.
struct Tracked<S> {
    inner: Pin<Box<S>>,
    _busy: Busy,
}

impl<S: Stream> Stream for Tracked<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl SessionManager for LimitedSessions {
    type Error = SessionError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), SessionError> {
        self.start_reaper();
        let _one_at_a_time = self.creating.lock().await;
        if self.is_full() {
            // Normally the edge of `/mcp` answered 503 already; this is the race for the last slot.
            return Err(SessionError::Full(self.max_sessions));
        }
        let (id, transport) = self.shared.inner.create_session().await?;
        // Marked kept once rmcp has saved it, after the handshake (see `store::Restorable`).
        self.shared.book().insert(id.clone(), Activity::new(false));
        self.warned.store(false, Ordering::Relaxed);
        Ok((id, transport))
    }

    /// A session opened on another instance, found in the shared store: held here from now on, under the same cap
    /// and reaper as the sessions opened here. rmcp then replays the client's `initialize` into it.
    async fn restore_session(&self, id: SessionId) -> Result<RestoreOutcome<Self::Transport>, SessionError> {
        self.start_reaper();
        let _one_at_a_time = self.creating.lock().await;
        if self.is_full() {
            // Normally the edge of `/mcp` answered 503 already; this is the race for the last slot.
            return Err(SessionError::Full(self.max_sessions));
        }
        let outcome = self.shared.inner.restore_session(id.clone()).await?;
        if matches!(outcome, RestoreOutcome::Restored(_)) {
            tracing::debug!(session = %id, "restoring an MCP session opened on another instance");
            self.shared.book().insert(id, Activity::new(true));
        }
        Ok(outcome)
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, SessionError> {
        let _busy = self.shared.busy(id);
        Ok(self.shared.inner.initialize_session(id, message).await?)
    }

    /// Held here, and (when kept in a shared store) not ended on another instance meanwhile: a session ended
    /// elsewhere is closed here on its next request, which then gets 404.
    async fn has_session(&self, id: &SessionId) -> Result<bool, SessionError> {
        if !self.shared.inner.has_session(id).await? {
            return Ok(false);
        }
        let kept = self.shared.book().get(id).is_some_and(|a| a.kept);
        match &self.shared.kept {
            Some(store) if kept && !store.still_kept(id).await => {
                self.close_session(id).await?;
                Ok(false)
            }
            _ => Ok(true),
        }
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), SessionError> {
        self.shared.book().remove(id);
        Ok(self.shared.inner.close_session(id).await?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, SessionError> {
        let busy = self.shared.busy(id);
        let stream = self.shared.inner.create_stream(id, message).await?;
        Ok(Tracked { inner: Box::pin(stream), _busy: busy })
    }

    async fn accept_message(&self, id: &SessionId, message: ClientJsonRpcMessage) -> Result<(), SessionError> {
        self.shared.touch(id);
        Ok(self.shared.inner.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, SessionError> {
        let busy = self.shared.busy(id);
        let stream = self.shared.inner.create_standalone_stream(id).await?;
        Ok(Tracked { inner: Box::pin(stream), _busy: busy })
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, SessionError> {
        let busy = self.shared.busy(id);
        let stream = self.shared.inner.resume(id, last_event_id).await?;
        Ok(Tracked { inner: Box::pin(stream), _busy: busy })
    }
}

/// Whether a request body is an `initialize` (the one request that opens a session).
pub(crate) fn is_initialize(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        method: Option<String>,
    }
    serde_json::from_slice::<Probe>(body).is_ok_and(|p| p.method.as_deref() == Some("initialize"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_initialize_request_counts_as_one() {
        assert!(is_initialize(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#));
        assert!(!is_initialize(br#"{"jsonrpc":"2.0","id":1,"method":"server/discover"}"#));
        assert!(!is_initialize(br#"[{"jsonrpc":"2.0","id":1,"method":"initialize"}]"#));
        assert!(!is_initialize(b"not json"));
    }
}
