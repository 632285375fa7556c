//! MCP logging (`logging/setLevel`, protocol 2025-11-25 and earlier): once a client sets a level, Switchboard's
//! own events at or above it — a webhook stored, a provider call retried, an approval asked or decided, an
//! invoice updated in Notion — reach it as `notifications/message`, with credentials masked. Nothing is sent to
//! a client that did not ask (2026-07-28 removed `setLevel`; such clients get nothing).

#![allow(deprecated)]

use super::Switchboard;
use crate::telemetry;
use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam, SetLevelRequestParams};
use rmcp::service::{Peer, RequestContext};
use rmcp::{ErrorData as McpError, RoleServer};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use tokio::sync::broadcast::error::RecvError;

/// One session's chosen level, and whether its forwarder runs.
#[derive(Debug)]
pub struct SessionLog {
    /// `LoggingLevel as u8`; `u8::MAX` until the client sets one.
    level: AtomicU8,
    forwarding: AtomicBool,
}

impl Default for SessionLog {
    fn default() -> Self {
        SessionLog { level: AtomicU8::new(u8::MAX), forwarding: AtomicBool::new(false) }
    }
}

fn from_tracing(level: tracing::Level) -> LoggingLevel {
    match level {
        tracing::Level::ERROR => LoggingLevel::Error,
        tracing::Level::WARN => LoggingLevel::Warning,
        tracing::Level::INFO => LoggingLevel::Info,
        _ => LoggingLevel::Debug,
    }
}

impl Switchboard {
    pub(crate) fn set_log_level(
        &self,
        request: SetLevelRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let log = self.session_log().clone();
        log.level.store(request.level as u8, Ordering::Relaxed);
        if !log.forwarding.swap(true, Ordering::AcqRel) {
            tokio::spawn(forward(log, ctx.peer, self.shared_state()));
        }
        Ok(())
    }
}

/// How often a forwarder checks that its session still exists when no note arrives.
const SESSION_CHECK: std::time::Duration = std::time::Duration::from_secs(30);

/// Send the session every note at or above its level until it goes away (noticed when a send fails, or by a
/// periodic look when nothing is sent).
async fn forward(log: Arc<SessionLog>, peer: Peer<RoleServer>, state: Arc<crate::state::AppState>) {
    let mut notes = telemetry::notes();
    let mut look = tokio::time::interval(SESSION_CHECK);
    loop {
        let note = tokio::select! {
            received = notes.recv() => match received {
                Ok(note) => note,
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "a logging client fell behind; some log messages were skipped");
                    continue;
                }
                Err(RecvError::Closed) => return,
            },
            _ = look.tick() => {
                if peer.is_transport_closed() {
                    return;
                }
                continue;
            }
        };
        let level = from_tracing(note.level);
        if (level as u8) < log.level.load(Ordering::Relaxed) {
            continue;
        }
        let mut data = note.data;
        state.redactor.mask_json(&mut data);
        let message = LoggingMessageNotificationParam::new(level, data).with_logger("switchboard");
        if peer.notify_logging_message(message).await.is_err() {
            // The session is gone.
            return;
        }
    }
}
