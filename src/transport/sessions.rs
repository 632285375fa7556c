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

use crate::config::HttpLimits;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_core::Stream;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError, SessionConfig,
};
use rmcp::transport::streamable_http_server::session::{ServerSseMessage, SessionId, SessionManager};
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
}

struct Activity {
    /// When the last request, stream or message started or ended.
    last: Instant,
    /// Requests in flight plus open streams.
    open: usize,
}

impl LimitedSessions {
    pub fn new(limits: &HttpLimits, shutdown: CancellationToken) -> Self {
        let mut inner = LocalSessionManager::default();
        let mut config = SessionConfig::default();
        // Idle sessions are closed by the reaper below, which knows about calls in flight; rmcp's timer does not.
        config.keep_alive = None;
        inner.session_config = config;
        LimitedSessions {
            shared: Arc::new(Shared { inner, activity: Mutex::new(HashMap::new()) }),
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

/// Close idle sessions every quarter of the idle period.
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
            tracing::debug!(session = %id, "closing an idle MCP session");
            if let Err(e) = shared.inner.close_session(&id).await {
                tracing::debug!(session = %id, error = %e, "closing an idle MCP session failed");
            }
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
        self.shared.book().insert(id.clone(), Activity { last: Instant::now(), open: 0 });
        self.warned.store(false, Ordering::Relaxed);
        Ok((id, transport))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, SessionError> {
        let _busy = self.shared.busy(id);
        Ok(self.shared.inner.initialize_session(id, message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, SessionError> {
        Ok(self.shared.inner.has_session(id).await?)
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
