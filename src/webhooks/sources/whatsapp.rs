//! WhatsApp Cloud API webhooks: `{"object": "whatsapp_business_account", "entry": [{"changes": [{"field":
//! "messages", "value": {"contacts": […], "messages": […], "statuses": […]}}]}]}`. One delivery batches up to 1,000
//! updates across entries and changes: every inbound message is one event (deduplicated on its `wamid`), every
//! status one event (on `wamid` and status), anything else one "other" event per change. Nothing here fails: an
//! unknown shape is stored as "other".

use super::{event, text};
use crate::domain::event::{Correlation, EventKind, Extracted};
use serde_json::Value;

pub(super) fn extract(body: &Value) -> Vec<Extracted> {
    let mut events = Vec::new();
    let changes =
        body["entry"].as_array().into_iter().flatten().flat_map(|e| e["changes"].as_array().into_iter().flatten());
    for change in changes {
        let value = &change["value"];
        let field = text(&change["field"]).unwrap_or_else(|| "unknown".into());
        let messages = value["messages"].as_array().filter(|_| field == "messages");
        let statuses = value["statuses"].as_array().filter(|_| field == "messages");
        if messages.is_none() && statuses.is_none() {
            // Other subscribed fields (account_update, template status, out-of-band errors, …): kept, not read.
            events.push(event(EventKind::Other, Some(format!("whatsapp.{field}"))));
            continue;
        }
        events.extend(messages.into_iter().flatten().map(message));
        events.extend(statuses.into_iter().flatten().map(status));
    }
    if events.is_empty() {
        events.push(event(EventKind::Other, text(&body["object"])));
    }
    events
}

/// An inbound message: `message.<type>`, keyed by its wamid, correlated by the sender's phone and the message
/// it replies to.
fn message(m: &Value) -> Extracted {
    let kind_of = text(&m["type"]).unwrap_or_else(|| "unknown".into());
    let id = text(&m["id"]);
    Extracted {
        provider_event_id: id.clone(),
        occurred_at: timestamp(&m["timestamp"]),
        correlation: Correlation {
            customer_phone: phone(&m["from"]),
            message_id: id,
            reply_to: text(&m["context"]["id"]),
            ..Correlation::default()
        },
        ..event(
            if id_ok(m) { EventKind::MessageReceived } else { EventKind::Other },
            Some(format!("message.{kind_of}")),
        )
    }
}

/// A status of a message we sent: `status.<status>`, keyed by wamid and status (one message has several).
fn status(s: &Value) -> Extracted {
    let state = text(&s["status"]).unwrap_or_else(|| "unknown".into());
    let kind = match state.as_str() {
        "sent" => EventKind::MessageSent,
        "delivered" => EventKind::MessageDelivered,
        "read" | "played" => EventKind::MessageRead,
        "failed" => EventKind::MessageFailed,
        _ => EventKind::Other,
    };
    let id = text(&s["id"]);
    Extracted {
        provider_event_id: id.as_ref().map(|id| format!("{id}:{state}")),
        occurred_at: timestamp(&s["timestamp"]),
        correlation: Correlation {
            customer_phone: phone(&s["recipient_id"]),
            message_id: id,
            // Switchboard sets its ledger key as biz_opaque_callback_data on every send.
            reference_id: text(&s["biz_opaque_callback_data"]),
            ..Correlation::default()
        },
        ..event(kind, Some(format!("status.{state}")))
    }
}

fn id_ok(m: &Value) -> bool {
    m["id"].as_str().is_some_and(|id| !id.is_empty())
}

/// Meta sends unix seconds as strings (and, leniently, numbers).
fn timestamp(v: &Value) -> Option<i64> {
    v.as_str().and_then(|s| s.trim().parse().ok()).or_else(|| v.as_i64())
}

/// A WhatsApp id (digits, no `+`) as E.164: `+` and the digits. Anything else is not a phone (a BSUID, say).
fn phone(v: &Value) -> Option<String> {
    let digits = v.as_str()?.trim();
    let ok = (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| format!("+{digits}"))
}
