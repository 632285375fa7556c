//! WhatsApp's Cloud API as the sandbox plays it (Meta Graph API, whatsapp.md §4–§8):
//! `POST /{version}/{phone_number_id}/messages` sends a text (optionally quoting a message with
//! `context.message_id`) or a template, answered `{"messaging_product", "contacts": [{"input", "wa_id"}],
//! "messages": [{"id": "wamid.…"}]}`, or marks a customer's message read (`"status": "read"`) → `{"success": true}`.
//! Bearer auth with the sandbox token; refusals in Meta's error envelope: 131047 for free text more than 24 hours
//! after the customer last wrote (or to someone who never wrote), 131026 for a number that is not on WhatsApp in
//! the sandbox, 131008/131009/100 for missing or invalid parameters, 190 for a wrong token. The sandbox knows no
//! template registry: every well-formed template counts as approved.
//!
//! Webhooks, signed like Meta's (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the exact body with the app
//! secret>`, non-ASCII escaped as `\uXXXX`) and POSTed to the demo's own `/webhooks/whatsapp`:
//! - after each accepted send, status `sent` (after the demo's webhook delay) and `delivered` one second later;
//! - `read` when the customer's phone page is next viewed (the customer saw the chat);
//! - each message typed on the phone page, as an inbound `messages[]` webhook.
//!
//! They are saved with the change that owes them, sent one at a time in the order they were owed (so `read`
//! never overtakes `delivered`), retried until the receiver answers 2xx (for up to 7 days, as Meta does),
//! forgotten only then, and resumed after a restart. A message's ticks on the phone page follow the webhooks the
//! receiver acknowledged.

use super::deliver::{loopback_client, post_until_acknowledged};
use super::world::{WaCustomer, WaDirection, WaMessage, WaPending, World, random_id};
use super::{Sandbox, UpdateError};
use crate::webhooks::{Scheme, verify::sign};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// The webhook source the sandbox delivers WhatsApp webhooks to (`POST /webhooks/whatsapp`).
pub const WEBHOOK_SOURCE: &str = "whatsapp";
/// The sandbox business number's id: the path segment sends go to.
pub const PHONE_NUMBER_ID: &str = "109000000000001";
/// The sandbox's WhatsApp Business Account (`entry[].id` in webhooks).
pub const WABA_ID: &str = "102000000000001";
/// The business number as webhooks show it (`metadata.display_phone_number`): a fictional 555-01xx number.
pub const DISPLAY_PHONE_NUMBER: &str = "15550100001";
/// The Graph API version the demo's client is configured with (any `vNN.N` is accepted).
pub const API_VERSION: &str = "v26.0";
/// A `to` without `+` gets the business number's country calling code, as Meta does (whatsapp.md §4.4).
const BUSINESS_COUNTRY_CODE: &str = "1";
/// Free-form text is allowed this long after the customer's last message.
const WINDOW_SECS: i64 = 24 * 3600;
/// How long after `sent` a message is `delivered`.
const DELIVERED_AFTER_MS: i64 = 1000;
/// A customer's message can be marked read this long after it arrived.
const MARK_READ_WITHIN_SECS: i64 = 30 * 86_400;
/// Meta retries a webhook "for up to 7 days".
const GIVE_UP_AFTER: Duration = Duration::from_secs(7 * 86_400);
/// WhatsApp's limit on a text body.
pub(super) const MAX_TEXT_CHARS: usize = crate::domain::message::MAX_TEXT_CHARS;

const SEND_FIELDS: &[&str] =
    &["messaging_product", "recipient_type", "to", "type", "text", "template", "context", "biz_opaque_callback_data"];
const READ_FIELDS: &[&str] = &["messaging_product", "status", "message_id", "typing_indicator"];

pub fn routes(sandbox: Arc<Sandbox>) -> Router {
    Router::new().route("/{version}/{phone_number_id}/messages", post(messages)).with_state(sandbox)
}

/// A Graph API error answer: `{"error": {"message", "type", "code", "error_data": {"messaging_product",
/// "details"}, "fbtrace_id"}}` (whatsapp.md §6).
#[derive(Debug)]
pub(super) struct MetaError {
    status: StatusCode,
    code: i64,
    message: String,
    details: Option<String>,
}

impl IntoResponse for MetaError {
    fn into_response(self) -> Response {
        let mut error = json!({
            "message": self.message,
            "type": "OAuthException",
            "code": self.code,
            "fbtrace_id": random_id(23),
        });
        if let Some(details) = self.details {
            error["error_data"] = json!({"messaging_product": "whatsapp", "details": details});
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

/// A coded refusal (HTTP 400): `message` is "(#code) title".
fn refusal(code: i64, title: &str, details: impl Into<String>) -> MetaError {
    MetaError {
        status: StatusCode::BAD_REQUEST,
        code,
        message: format!("(#{code}) {title}"),
        details: Some(details.into()),
    }
}

fn invalid(details: impl Into<String>) -> MetaError {
    refusal(100, "Invalid parameter", details)
}

fn missing(name: &str) -> MetaError {
    refusal(131008, "Required parameter is missing", format!("Parameter '{name}' is required."))
}

fn not_valid(details: impl Into<String>) -> MetaError {
    refusal(131009, "Parameter value is not valid", details)
}

fn window_closed() -> MetaError {
    refusal(
        131047,
        "Re-engagement message",
        "More than 24 hours have passed since the recipient last replied to the sender number.",
    )
}

fn not_on_whatsapp() -> MetaError {
    refusal(
        131026,
        "Message undeliverable",
        "Unable to deliver message: the recipient is not on WhatsApp (no such number in the sandbox).",
    )
}

fn storage_failed(e: &std::io::Error) -> Response {
    tracing::error!(error = %e, "the sandbox could not save its state");
    MetaError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: 2,
        message: "(#2) Service temporarily unavailable".into(),
        details: Some("The sandbox could not save its state; nothing was sent.".into()),
    }
    .into_response()
}

/// `Authorization: Bearer <sandbox token>`, compared in constant time; otherwise Meta's 190.
fn authorize(sandbox: &Sandbox, headers: &HeaderMap) -> Result<(), MetaError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let expected = sandbox.credentials.whatsapp_token.as_bytes();
    match presented {
        Some(p) if bool::from(p.as_bytes().ct_eq(expected)) => Ok(()),
        _ => Err(MetaError {
            status: StatusCode::UNAUTHORIZED,
            code: 190,
            message: "Invalid OAuth access token - Cannot parse access token".into(),
            details: None,
        }),
    }
}

fn version_ok(version: &str) -> bool {
    version.strip_prefix('v').is_some_and(|v| {
        let parts: Vec<&str> = v.split('.').collect();
        parts.len() == 2 && parts.iter().all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
    })
}

async fn messages(
    State(sandbox): State<Arc<Sandbox>>,
    Path((version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(denied) = authorize(&sandbox, &headers) {
        return denied.into_response();
    }
    if !version_ok(&version) {
        return invalid(format!("Unknown Graph API version '{}'.", crate::domain::text::clip(&version, 16)))
            .into_response();
    }
    if phone_number_id != PHONE_NUMBER_ID {
        return invalid(format!(
            "The sandbox's business phone number id is {PHONE_NUMBER_ID}, not '{}'.",
            crate::domain::text::clip(&phone_number_id, 32)
        ))
        .into_response();
    }
    let request = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => map,
        _ => return invalid("The request body must be a JSON object.").into_response(),
    };
    match request.get("messaging_product") {
        None => return missing("messaging_product").into_response(),
        Some(p) if p != "whatsapp" => return not_valid("messaging_product must be \"whatsapp\".").into_response(),
        Some(_) => {}
    }
    let now = crate::domain::time::now();
    if request.contains_key("status") {
        return mark_read(&sandbox, request, now).await;
    }
    let send = match Send::parse(&request) {
        Ok(send) => send,
        Err(refused) => return refused.into_response(),
    };
    // Statuses are due from the moment of the send (milliseconds), not from the start of its second.
    let due_ms = now_ms() + i64::try_from(sandbox.deliveries.delay.as_millis()).unwrap_or(60_000);
    let accepted = sandbox.update(move |world| send.accept(world, request, now, due_ms)).await;
    match accepted {
        Ok(answer) => {
            sandbox.wa_wake.notify_one();
            Json(answer).into_response()
        }
        Err(UpdateError::Rejected(refused)) => refused.into_response(),
        Err(UpdateError::Storage(e)) => storage_failed(&e),
    }
}

/// `{"messaging_product": "whatsapp", "status": "read", "message_id": …}`: the customer's message and the
/// earlier ones of that chat turn read (their ticks turn blue on the phone page).
async fn mark_read(sandbox: &Arc<Sandbox>, request: Map<String, Value>, now: i64) -> Response {
    if let Some(key) = request.keys().find(|k| !READ_FIELDS.contains(&k.as_str())) {
        return invalid(format!("The sandbox does not know the parameter '{}'.", crate::domain::text::clip(key, 40)))
            .into_response();
    }
    if request["status"] != "read" {
        return not_valid("status must be \"read\".").into_response();
    }
    let Some(id) = request.get("message_id").and_then(Value::as_str).map(str::to_string) else {
        return missing("message_id").into_response();
    };
    let marked = sandbox
        .update(move |world| {
            let messages = &mut world.whatsapp.messages;
            let Some(i) = messages.iter().position(|m| m.id == id && m.direction == WaDirection::Inbound) else {
                return Err(not_valid("Message ID is not valid: no message from a customer has that id."));
            };
            if messages[i].timestamp + MARK_READ_WITHIN_SECS < now {
                return Err(not_valid("A message can be marked read only within 30 days of receipt."));
            }
            let wa_id = messages[i].wa_id.clone();
            for m in messages[..=i].iter_mut().filter(|m| m.wa_id == wa_id && m.direction == WaDirection::Inbound) {
                m.status = "read".into();
            }
            Ok(())
        })
        .await;
    match marked {
        Ok(()) => Json(json!({"success": true})).into_response(),
        Err(UpdateError::Rejected(refused)) => refused.into_response(),
        Err(UpdateError::Storage(e)) => storage_failed(&e),
    }
}

/// A send request, checked.
struct Send {
    /// `to` as given (echoed as `contacts[].input`).
    input: String,
    wa_id: String,
    /// Free text (needs the 24-hour window) rather than a template.
    text: bool,
}

impl Send {
    fn parse(request: &Map<String, Value>) -> Result<Send, MetaError> {
        if let Some(key) = request.keys().find(|k| !SEND_FIELDS.contains(&k.as_str())) {
            return Err(invalid(format!(
                "The sandbox does not know the parameter '{}'.",
                crate::domain::text::clip(key, 40)
            )));
        }
        if let Some(kind) = request.get("recipient_type")
            && kind != "individual"
        {
            return Err(invalid("The sandbox sends to individuals only (recipient_type \"individual\")."));
        }
        let input = match request.get("to") {
            None => return Err(missing("to")),
            Some(Value::String(to)) => to.clone(),
            Some(_) => return Err(not_valid("'to' must be a phone number string.")),
        };
        let wa_id = recipient(&input).ok_or_else(|| not_valid("'to' is not a valid phone number."))?;
        if let Some(data) = request.get("biz_opaque_callback_data")
            && !data.is_string()
        {
            return Err(not_valid("biz_opaque_callback_data must be a string."));
        }
        if let Some(context) = request.get("context")
            && !context["message_id"].is_string()
        {
            return Err(missing("context.message_id"));
        }
        let text = match request.get("type").map_or(Some("text"), Value::as_str) {
            Some("text") => {
                let text = request.get("text").ok_or_else(|| missing("text"))?;
                let body = text["body"].as_str().ok_or_else(|| missing("text.body"))?;
                if body.trim().is_empty() || body.chars().count() > MAX_TEXT_CHARS {
                    return Err(not_valid(format!("text.body must be 1–{MAX_TEXT_CHARS} characters.")));
                }
                if !matches!(text.get("preview_url"), None | Some(Value::Bool(_))) {
                    return Err(not_valid("text.preview_url must be true or false."));
                }
                true
            }
            Some("template") => {
                let template = request.get("template").ok_or_else(|| missing("template"))?;
                if template["name"].as_str().is_none_or(|n| n.trim().is_empty()) {
                    return Err(missing("template.name"));
                }
                if template["language"]["code"].as_str().is_none_or(|c| c.trim().is_empty()) {
                    return Err(missing("template.language.code"));
                }
                if !matches!(template.get("components"), None | Some(Value::Array(_))) {
                    return Err(not_valid("template.components must be a list."));
                }
                false
            }
            _ => return Err(invalid("The sandbox sends text and template messages only.")),
        };
        Ok(Send { input, wa_id, text })
    }

    /// Record the message and the `sent` (due at `sent_ms`) and `delivered` webhooks it is owed, or refuse it as
    /// WhatsApp would.
    fn accept(
        self,
        world: &mut World,
        request: Map<String, Value>,
        now: i64,
        sent_ms: i64,
    ) -> Result<Value, MetaError> {
        if !world.whatsapp.customers.iter().any(|c| c.wa_id == self.wa_id) {
            return Err(not_on_whatsapp());
        }
        if self.text && !window_open(world, &self.wa_id, now) {
            return Err(window_closed());
        }
        let message = WaMessage {
            id: wamid(&self.wa_id),
            wa_id: self.wa_id.clone(),
            direction: WaDirection::Outbound,
            timestamp: now,
            wire: Value::Object(request),
            status: "accepted".into(),
            read_queued: false,
        };
        owe(world, &message, "sent", sent_ms);
        owe(world, &message, "delivered", sent_ms + DELIVERED_AFTER_MS);
        let answer = json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": self.input, "wa_id": self.wa_id}],
            "messages": [{"id": message.id}],
        });
        world.whatsapp.messages.push(message);
        Ok(answer)
    }
}

/// `to` as a WhatsApp id: its digits (plus signs, hyphens, parentheses and spaces allowed), with the business's
/// country code in front when it has no `+`.
fn recipient(to: &str) -> Option<String> {
    let to = to.trim();
    if !to.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '(' | ')' | ' ')) {
        return None;
    }
    let digits: String = to.chars().filter(char::is_ascii_digit).collect();
    let wa_id = if to.starts_with('+') { digits } else { format!("{BUSINESS_COUNTRY_CODE}{digits}") };
    (8..=15).contains(&wa_id.len()).then_some(wa_id)
}

/// Whether the customer wrote within the last 24 hours.
pub(super) fn window_open(world: &World, wa_id: &str, now: i64) -> bool {
    world
        .whatsapp
        .messages
        .iter()
        .filter(|m| m.wa_id == wa_id && m.direction == WaDirection::Inbound)
        .map(|m| m.timestamp)
        .max()
        .is_some_and(|last| now - last < WINDOW_SECS)
}

/// A new message id, shaped like WhatsApp's (`wamid.` and base64).
fn wamid(wa_id: &str) -> String {
    use base64::Engine;
    let raw = format!("{wa_id}\u{15}\u{2}\u{0}{}", random_id(20));
    format!("wamid.HBgM{}", base64::engine::general_purpose::STANDARD.encode(raw))
}

/// The customer typed `text` on their phone: the message is stored and its webhook owed. Returns its id.
pub(super) fn customer_writes(world: &mut World, wa_id: &str, text: &str, now_ms: i64) -> Option<String> {
    let customer = world.whatsapp.customers.iter().find(|c| c.wa_id == wa_id)?.clone();
    let id = wamid(wa_id);
    let wire = json!({
        "from": wa_id,
        "id": id,
        "timestamp": (now_ms / 1000).to_string(),
        "type": "text",
        "text": {"body": text},
    });
    let body = inbound_body(&customer, &wire);
    world.whatsapp.messages.push(WaMessage {
        id: id.clone(),
        wa_id: wa_id.to_string(),
        direction: WaDirection::Inbound,
        timestamp: now_ms / 1000,
        wire,
        status: "sent".into(),
        read_queued: false,
    });
    push_pending(world, &id, "delivered", now_ms, body);
    Some(id)
}

/// Whether the customer has business messages they have not seen yet.
pub(super) fn has_unseen(world: &World, wa_id: &str) -> bool {
    world.whatsapp.messages.iter().any(|m| m.wa_id == wa_id && m.direction == WaDirection::Outbound && !m.read_queued)
}

/// The customer looked at the chat: every business message they had not seen is owed a `read` status, after
/// the statuses already owed for it.
pub(super) fn customer_reads(world: &mut World, wa_id: &str, now_ms: i64) {
    let unseen: Vec<WaMessage> = world
        .whatsapp
        .messages
        .iter_mut()
        .filter(|m| m.wa_id == wa_id && m.direction == WaDirection::Outbound && !m.read_queued)
        .map(|m| {
            m.read_queued = true;
            m.clone()
        })
        .collect();
    for message in unseen {
        let after = world.whatsapp.pending.iter().filter(|p| p.message_id == message.id).map(|p| p.due_ms).max();
        owe(world, &message, "read", after.unwrap_or(0).max(now_ms));
    }
}

/// Owe the receiver `status` of business message `message`, stamped `at_ms`.
fn owe(world: &mut World, message: &WaMessage, status: &str, at_ms: i64) {
    let mut entry = json!({
        "id": message.id,
        "status": status,
        "timestamp": (at_ms / 1000).to_string(),
        "recipient_id": message.wa_id,
    });
    if let Some(data) = message.wire.get("biz_opaque_callback_data") {
        entry["biz_opaque_callback_data"] = data.clone();
    }
    let body = envelope(json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(),
        "statuses": [entry],
    }));
    push_pending(world, &message.id, status, at_ms, body);
}

fn push_pending(world: &mut World, message_id: &str, status: &str, due_ms: i64, body: String) {
    world.whatsapp.pending.push(WaPending {
        id: random_id(14),
        due_ms,
        body,
        message_id: message_id.to_string(),
        status: status.to_string(),
    });
}

fn metadata() -> Value {
    json!({"display_phone_number": DISPLAY_PHONE_NUMBER, "phone_number_id": PHONE_NUMBER_ID})
}

/// The webhook body of a customer's message, as Meta sends it (whatsapp.md §3.2, §3.3).
fn inbound_body(customer: &WaCustomer, message: &Value) -> String {
    envelope(json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(),
        "contacts": [{"profile": {"name": customer.name}, "wa_id": customer.wa_id}],
        "messages": [message],
    }))
}

/// Meta's envelope around one change, as the exact bytes sent: compact JSON with every non-ASCII character
/// escaped as `\uXXXX` (lowercase hex, UTF-16), the way Meta sends payloads.
fn envelope(value: Value) -> String {
    let envelope = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
    });
    escape_non_ascii(&envelope.to_string())
}

/// JSON text with its non-ASCII characters (which can only stand inside strings) written as `\uXXXX` escapes.
fn escape_non_ascii(json: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

/// How far along a status is: accepted < sent < delivered < read.
pub(super) fn rank(status: &str) -> u8 {
    match status {
        "sent" => 1,
        "delivered" => 2,
        "read" => 3,
        _ => 0,
    }
}

/// `X-Hub-Signature-256` for `body`, and nothing else (Meta sends no delivery id).
fn hub_signature(secret: &str, body: &[u8]) -> Vec<(&'static str, String)> {
    sign(Scheme::HubSignature256, secret, body, 0, "")
        .into_iter()
        .filter(|(name, _)| *name == "x-hub-signature-256")
        .collect()
}

/// Start the one task that sends the owed WhatsApp webhooks, oldest first, one at a time. It holds the sandbox
/// only while it works, and ends once the sandbox is gone.
pub(super) fn start_deliveries(sandbox: &Arc<Sandbox>) {
    if sandbox.wa_worker.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let weak = Arc::downgrade(sandbox);
    let wake = sandbox.wa_wake.clone();
    tokio::spawn(async move {
        let Some(client) = loopback_client() else { return };
        loop {
            let Some(sandbox) = weak.upgrade() else { return };
            let next = sandbox.read(|w| w.whatsapp.pending.first().cloned()).await;
            let url = format!("{}/webhooks/{WEBHOOK_SOURCE}", sandbox.base);
            let secret = sandbox.credentials.whatsapp_app_secret.clone();
            let copies = if sandbox.deliveries.duplicate { 2 } else { 1 };
            drop(sandbox);
            let Some(p) = next else {
                let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
                continue;
            };
            let wait = p.due_ms - now_ms();
            if wait > 0 {
                // In steps, so a sandbox that goes away meanwhile is noticed.
                let step = Duration::from_millis(u64::try_from(wait.min(1000)).unwrap_or(1000));
                tokio::time::sleep(step).await;
                continue;
            }
            let alive = || weak.strong_count() > 0;
            let headers = |body: &[u8]| hub_signature(&secret, body);
            let once =
                || post_until_acknowledged(&client, &url, &p.id, p.body.as_bytes(), GIVE_UP_AFTER, headers, alive);
            let acked = if copies > 1 {
                let (a, b) = tokio::join!(once(), once());
                u64::from(a) + u64::from(b)
            } else {
                u64::from(once().await)
            };
            let Some(sandbox) = weak.upgrade() else { return };
            sandbox.wa_delivered.fetch_add(acked, std::sync::atomic::Ordering::SeqCst);
            let done = sandbox
                .update(move |world| {
                    world.whatsapp.pending.retain(|q| q.id != p.id);
                    if acked > 0
                        && let Some(m) = world.whatsapp.messages.iter_mut().find(|m| m.id == p.message_id)
                        && rank(&p.status) > rank(&m.status)
                    {
                        m.status = p.status.clone();
                    }
                    Ok::<(), ()>(())
                })
                .await;
            if done.is_err() {
                tracing::warn!("could not record a delivered WhatsApp webhook; it may be sent again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    });
}

/// Now, in unix milliseconds.
pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_is_escaped_as_meta_sends_it() {
        let escaped = escape_non_ascii(&json!({"name": "José", "body": "café 😀 ₹"}).to_string());
        assert_eq!(escaped, r#"{"body":"caf\u00e9 \ud83d\ude00 \u20b9","name":"Jos\u00e9"}"#);
        let back: Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back["body"], "café 😀 ₹");
    }

    #[test]
    fn recipients_are_read_as_meta_reads_them() {
        assert_eq!(recipient("+91 98765-43210").as_deref(), Some("919876543210"));
        assert_eq!(recipient("(650) 555 1234").as_deref(), Some("16505551234"), "no +: the business's country");
        assert_eq!(recipient("+91abc"), None);
        assert_eq!(recipient("+1"), None);
    }
}
