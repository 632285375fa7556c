//! Event resources: `events://recent` (the newest events) and `events://{id}` (one event). Subscribing to
//! `events://recent` yields `notifications/resources/updated` whenever a webhook event is stored — through
//! `resources/subscribe` on sessions up to 2025-11-25, through `subscriptions/listen` on 2026-07-28.

use super::Switchboard;
use crate::domain::event::parse_event_id;
use rmcp::ErrorData as McpError;
use rmcp::RoleServer;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource, ResourceContents, ResourceTemplate,
};
use rmcp::service::{Peer, SubscriptionContext};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub const RECENT: &str = "events://recent";
/// The newest audit records.
pub const AUDIT: &str = "audit://recent";
const AUDIT_COUNT: i64 = 50;
const TEMPLATE: &str = "events://{id}";
const RECENT_COUNT: i64 = 20;

/// How often a legacy subscription's forwarder checks that its session still exists.
const SESSION_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// One session's resource subscriptions (legacy `resources/subscribe`). Only `events://recent` changes, so a
/// session's subscriptions are one flag, whatever a client sends.
#[derive(Clone, Default)]
pub struct Subscriptions {
    recent: Arc<AtomicBool>,
    watching: Arc<AtomicBool>,
}

/// `resources/read` or `resources/subscribe` of a URI that is not one of ours; the URI is clipped, not echoed.
fn not_found(uri: &str) -> McpError {
    let uri = crate::domain::text::clip(uri, 128);
    McpError::resource_not_found(format!("no resource {uri}"), Some(serde_json::json!({"uri": uri})))
}

pub fn list() -> ListResourcesResult {
    ListResourcesResult::with_all_items(vec![
        Resource::new(RECENT, "recent events")
            .with_description("The 20 most recent verified webhook events, newest first (JSON). Subscribe to be told when one arrives.")
            .with_mime_type("application/json"),
        Resource::new(AUDIT, "audit trail")
            .with_description("The 50 newest audit records, newest first (JSON): each world-changing tool call and approval decision, when, with what arguments, approved how, and what the provider answered.")
            .with_mime_type("application/json"),
    ])
}

pub fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new(TEMPLATE, "event")
            .with_description("One stored webhook event by id, e.g. events://ev_42 (JSON).")
            .with_mime_type("application/json"),
    ])
}

impl Switchboard {
    /// `audit://recent`: the newest records, each with its place in the chain.
    pub(crate) async fn read_audit_resource(&self, uri: &str) -> Result<ReadResourceResult, McpError> {
        let store = &self.state().store;
        let entries = if store.exists() {
            store
                .audit()
                .newest(AUDIT_COUNT)
                .await
                .map_err(|e| McpError::internal_error(format!("audit trail unavailable: {e}"), None))?
        } else {
            Vec::new()
        };
        let records: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                let record = serde_json::from_str(&e.record).unwrap_or(serde_json::Value::String(e.record.clone()));
                serde_json::json!({"seq": e.seq, "record": record, "hash": e.hash, "prev_hash": e.prev_hash})
            })
            .collect();
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(serde_json::Value::Array(records).to_string(), uri)
                .with_mime_type("application/json"),
        ]))
    }

    pub(crate) async fn read_event_resource(&self, uri: &str) -> Result<ReadResourceResult, McpError> {
        if uri == AUDIT {
            return self.read_audit_resource(uri).await;
        }
        let events = self.state().store.events();
        let not_found = || not_found(uri);
        let internal =
            |e: crate::store::StoreError| McpError::internal_error(format!("event log unavailable: {e}"), None);
        let mut value = if uri == RECENT {
            let latest = events.latest_seq().await.map_err(internal)?;
            let filter = crate::domain::event::EventFilter {
                after_seq: Some((latest - RECENT_COUNT).max(0)),
                ..Default::default()
            };
            let mut recent: Vec<_> =
                events.list(&filter, RECENT_COUNT).await.map_err(internal)?.into_iter().map(|(_, e)| e).collect();
            recent.reverse();
            serde_json::to_value(recent)
        } else {
            let seq = uri.strip_prefix("events://").and_then(parse_event_id).ok_or_else(not_found)?;
            let event = events.get(seq).await.map_err(internal)?.ok_or_else(not_found)?;
            serde_json::to_value(event)
        }
        .map_err(|e| McpError::internal_error(e.to_string(), None))?;
        // Event payloads are provider text: a configured credential in one is masked like in a tool result.
        self.state().redactor.mask_json(&mut value);
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(value.to_string(), uri).with_mime_type("application/json"),
        ]))
    }

    /// Legacy subscribe: for `events://recent`, remember it and, once per session, start forwarding "stored"
    /// signals. One event (`events://ev_42`) never changes: accepted, nothing to remember. Anything else is not
    /// ours and is refused.
    pub(crate) fn subscribe_resource(&self, uri: &str, peer: Peer<RoleServer>) -> Result<(), McpError> {
        if uri != RECENT {
            return match uri.strip_prefix("events://").and_then(parse_event_id) {
                Some(_) => Ok(()),
                None => Err(not_found(uri)),
            };
        }
        let subs = self.subscriptions();
        subs.recent.store(true, Ordering::SeqCst);
        if subs.watching.swap(true, Ordering::SeqCst) {
            return Ok(()); // this session already forwards notifications
        }
        let mut stored = self.state().store.events().subscribe();
        let subs = subs.clone();
        tokio::spawn(async move {
            // Ends with the session: when a notification cannot be sent, and, since no event may arrive (or the
            // client unsubscribed), when a periodic look finds its transport closed.
            let mut look = tokio::time::interval(SESSION_CHECK);
            loop {
                tokio::select! {
                    changed = stored.changed() => if changed.is_err() { break },
                    _ = look.tick() => {
                        if peer.is_transport_closed() { break }
                        continue;
                    }
                }
                if !subs.recent.load(Ordering::SeqCst) {
                    continue;
                }
                #[allow(deprecated)]
                let sent =
                    peer.notify_resource_updated(rmcp::model::ResourceUpdatedNotificationParam::new(RECENT)).await;
                if sent.is_err() {
                    break; // the session is gone
                }
            }
        });
        Ok(())
    }

    pub(crate) fn unsubscribe_resource(&self, uri: &str) {
        if uri == RECENT {
            self.subscriptions().recent.store(false, Ordering::SeqCst);
        }
    }

    /// 2026-07-28 `subscriptions/listen`: forward "stored" signals until the client stops listening.
    pub(crate) async fn listen_events(&self, cx: SubscriptionContext) -> Result<(), McpError> {
        let wants_recent =
            cx.accepted().resource_subscriptions.as_ref().is_some_and(|uris| uris.iter().any(|u| u == RECENT));
        let mut stored = self.state().store.events().subscribe();
        loop {
            tokio::select! {
                _ = cx.cancelled() => return Ok(()),
                changed = stored.changed() => {
                    if changed.is_err() || (wants_recent && cx.sink().notify_resource_updated(RECENT).await.is_err()) {
                        return Ok(());
                    }
                }
            }
        }
    }
}
