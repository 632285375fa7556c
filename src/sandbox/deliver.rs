//! Signed Razorpay webhook deliveries for a paid link, sent over HTTP to the server's own receiver
//! (`POST /webhooks/razorpay`) the way Razorpay sends them: the event envelope as the raw JSON body,
//! `X-Razorpay-Signature` (hex HMAC-SHA256 of the body with the webhook secret) and `x-razorpay-event-id`.
//! A failed delivery is retried with backoff, as Razorpay retries anything but a 2xx.

use super::{DeliveryOptions, Sandbox, WEBHOOK_SOURCE};
use crate::webhooks::{Scheme, verify::sign};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// How many times one delivery is attempted before the sandbox gives up on it.
const ATTEMPTS: u32 = 6;

/// The entities a payment touched.
#[derive(Debug, Clone)]
pub struct Paid {
    pub link: Value,
    pub order: Value,
    pub payment: Value,
}

/// The two events a paid link produces, in the order Razorpay usually sends them.
pub fn events(sandbox: &Sandbox, paid: &Paid, now: i64) -> Vec<(String, Vec<u8>)> {
    let envelope = |event: &str, contains: &[&str], payload: Value| {
        json!({
            "entity": "event",
            "account_id": sandbox.credentials.razorpay_account_id,
            "event": event,
            "contains": contains,
            "payload": payload,
            "created_at": now,
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
        .map(|body| (super::world::random_id(14), serde_json::to_vec(&body).unwrap_or_default()))
        .collect()
}

/// Send a paid link's events after the configured delay (each twice when asked), in the background.
pub fn spawn(sandbox: Arc<Sandbox>, paid: Paid, options: DeliveryOptions) {
    tokio::spawn(async move {
        tokio::time::sleep(options.delay).await;
        let client = match reqwest::Client::builder().timeout(Duration::from_secs(5)).build() {
            Ok(client) => client,
            Err(e) => {
                tracing::error!(error = %e, "the sandbox cannot send webhooks");
                return;
            }
        };
        let url = format!("{}/webhooks/{WEBHOOK_SOURCE}", sandbox.base);
        let copies = if options.duplicate { 2 } else { 1 };
        for (event_id, body) in events(&sandbox, &paid, crate::domain::time::now()) {
            for _ in 0..copies {
                let secret = &sandbox.credentials.razorpay_webhook_secret;
                if deliver(&client, &url, secret, &event_id, &body).await {
                    sandbox.delivered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        }
    });
}

/// One delivery, retried until acknowledged (true) or given up (false).
async fn deliver(client: &reqwest::Client, url: &str, secret: &str, event_id: &str, body: &[u8]) -> bool {
    let mut backoff = Duration::from_millis(250);
    for attempt in 1..=ATTEMPTS {
        let mut request = client.post(url).header("content-type", "application/json").body(body.to_vec());
        for (name, value) in sign(Scheme::Razorpay, secret, body, crate::domain::time::now(), event_id) {
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
        tokio::time::sleep(backoff).await;
        backoff *= 2;
    }
    tracing::error!(event_id, "the sandbox gave up delivering a webhook");
    false
}
