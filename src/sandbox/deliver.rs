//! Signed Razorpay webhook deliveries for a paid link, sent over HTTP to the server's own receiver
//! (`POST /webhooks/razorpay`) the way Razorpay sends them: the event envelope as the raw JSON body,
//! `X-Razorpay-Signature` (hex HMAC-SHA256 of the body with the webhook secret) and `x-razorpay-event-id`.
//!
//! Like Razorpay, the sandbox does not forget an event it owes: the deliveries are saved with the payment (in the
//! same write), retried with backoff until the receiver answers 2xx, removed only then, and resumed when the
//! sandbox starts again after a stop. The retry loop ([`post_until_acknowledged`]) also carries the WhatsApp
//! webhooks ([`super::whatsapp`]).

use super::{Sandbox, WEBHOOK_SOURCE};
use crate::webhooks::{Scheme, verify::sign};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Razorpay retries a failing webhook for 24 hours.
const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);
/// The longest pause between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// One event the sandbox still owes the receiver.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    /// Sent as `x-razorpay-event-id`, the same for every copy and retry.
    pub event_id: String,
    /// The exact JSON body that is signed and sent.
    pub body: String,
    /// 2 when every delivery is to be sent twice, concurrently (so duplicates race at the receiver).
    pub copies: u8,
}

/// The entities a payment touched.
pub struct Paid<'a> {
    pub link: &'a Value,
    pub order: &'a Value,
    pub payment: &'a Value,
}

/// The two events a paid link produces, in the order Razorpay usually sends them, stamped with the payment time.
pub fn events(account_id: &str, paid: Paid<'_>, paid_at: i64, copies: u8) -> Vec<Pending> {
    let envelope = |event: &str, contains: &[&str], payload: Value| {
        json!({
            "entity": "event",
            "account_id": account_id,
            "event": event,
            "contains": contains,
            "payload": payload,
            "created_at": paid_at,
        })
    };
    let captured = envelope("payment.captured", &["payment"], json!({"payment": {"entity": paid.payment}}));
    let link_paid = envelope(
        "payment_link.paid",
        &["payment_link", "order", "payment"],
        json!({
            "payment_link": {"entity": paid.link},
            "order": {"entity": paid.order},
            "payment": {"entity": paid.payment},
        }),
    );
    [captured, link_paid]
        .into_iter()
        .map(|body| Pending { event_id: super::world::random_id(14), body: body.to_string(), copies })
        .collect()
}

/// A client for the sandbox's calls to its own receiver. Loopback: a configured HTTP proxy must not see the
/// signed bodies.
pub(super) fn loopback_client() -> Option<reqwest::Client> {
    match reqwest::Client::builder().timeout(Duration::from_secs(5)).no_proxy().build() {
        Ok(client) => Some(client),
        Err(e) => {
            tracing::error!(error = %e, "the sandbox cannot send webhooks");
            None
        }
    }
}

/// Deliver `pending` after `delay`, in order, in the background; each is forgotten once acknowledged.
pub fn spawn(sandbox: Arc<Sandbox>, pending: Vec<Pending>, delay: Duration) {
    if pending.is_empty() {
        return;
    }
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let Some(client) = loopback_client() else { return };
        let url = format!("{}/webhooks/{WEBHOOK_SOURCE}", sandbox.base);
        let secret = sandbox.credentials.razorpay_webhook_secret.clone();
        for p in pending {
            let once = || deliver(&client, &url, &secret, &p.event_id, p.body.as_bytes());
            let acked = if p.copies > 1 {
                let (a, b) = tokio::join!(once(), once());
                u64::from(a) + u64::from(b)
            } else {
                u64::from(once().await)
            };
            sandbox.delivered.fetch_add(acked, std::sync::atomic::Ordering::SeqCst);
            if acked > 0 {
                let id = p.event_id.clone();
                let forgotten = sandbox
                    .update(move |world| {
                        world.pending.retain(|q| q.event_id != id);
                        Ok::<(), ()>(())
                    })
                    .await;
                if forgotten.is_err() {
                    tracing::warn!(event_id = %p.event_id, "could not record a delivered webhook; it may be sent again");
                }
            }
        }
    });
}

/// One Razorpay delivery, retried with growing pauses until acknowledged (true) or 24 hours have passed (false).
async fn deliver(client: &reqwest::Client, url: &str, secret: &str, event_id: &str, body: &[u8]) -> bool {
    let headers = |body: &[u8]| sign(Scheme::Razorpay, secret, body, crate::domain::time::now(), event_id);
    post_until_acknowledged(client, url, event_id, body, GIVE_UP_AFTER, headers, || true).await
}

/// POST `body` with the headers `headers` makes for it, retried with growing pauses until the receiver answers
/// 2xx (true), or until `give_up_after` has passed or `wanted` turns false (false).
pub(super) async fn post_until_acknowledged(
    client: &reqwest::Client,
    url: &str,
    event_id: &str,
    body: &[u8],
    give_up_after: Duration,
    headers: impl Fn(&[u8]) -> Vec<(&'static str, String)>,
    wanted: impl Fn() -> bool,
) -> bool {
    let started = tokio::time::Instant::now();
    let mut backoff = Duration::from_millis(250);
    for attempt in 1.. {
        let mut request = client.post(url).header("content-type", "application/json").body(body.to_vec());
        for (name, value) in headers(body) {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(r) if r.status().is_success() => {
                tracing::info!(event_id, status = r.status().as_u16(), "sandbox delivered a webhook");
                return true;
            }
            Ok(r) => tracing::warn!(event_id, attempt, status = r.status().as_u16(), "sandbox webhook refused"),
            Err(e) => tracing::warn!(event_id, attempt, error = %e, "sandbox webhook not delivered"),
        }
        if started.elapsed() + backoff > give_up_after || !wanted() {
            break;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        if !wanted() {
            return false;
        }
    }
    if wanted() {
        tracing::error!(event_id, hours = give_up_after.as_secs() / 3600, "the sandbox gave up delivering a webhook");
    }
    false
}
