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
    let changes = body["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|entry| entry["changes"].as_array().into_iter().flatten().map(move |change| (entry, change)));
    for (entry, change) in changes {
        let value = &change["value"];
        let field = text(&change["field"]).unwrap_or_else(|| "unknown".into());
        let messages = value["messages"].as_array().filter(|_| field == "messages");
        let statuses = value["statuses"].as_array().filter(|_| field == "messages");
        if messages.is_none() && statuses.is_none() {
            // Other subscribed fields (account_update, template status, out-of-band errors, …): kept, not read.
            let mut other = event(EventKind::Other, Some(format!("whatsapp.{field}")));
            other.own_payload = Some(envelope(body, entry, change, None));
            events.push(other);
            continue;
        }
        events.extend(messages.into_iter().flatten().map(|m| Extracted {
            own_payload: Some(envelope(body, entry, change, Some(("messages", m)))),
            ..message(m)
        }));
        events.extend(statuses.into_iter().flatten().map(|s| Extracted {
            own_payload: Some(envelope(body, entry, change, Some(("statuses", s)))),
            ..status(s)
        }));
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

/// One item in Meta's envelope: the delivery's object, the entry's id, the change's field and value metadata (and
/// the sender's contact, for a message), and just this item. Readers see the same shape as a whole delivery.
fn envelope(body: &Value, entry: &Value, change: &Value, item: Option<(&str, &Value)>) -> bytes::Bytes {
    let value = &change["value"];
    let value = match item {
        None => value.clone(),
        Some((list, item)) => {
            let mut own = serde_json::Map::new();
            for key in ["messaging_product", "metadata"] {
                if let Some(v) = value.get(key) {
                    own.insert(key.into(), v.clone());
                }
            }
            let from = item["from"].as_str();
            let contacts: Vec<Value> = value["contacts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| from.is_some() && c["wa_id"].as_str() == from)
                .cloned()
                .collect();
            if !contacts.is_empty() {
                own.insert("contacts".into(), Value::Array(contacts));
            }
            own.insert(list.into(), Value::Array(vec![item.clone()]));
            Value::Object(own)
        }
    };
    let own = serde_json::json!({
        "object": body["object"],
        "entry": [{"id": entry["id"], "changes": [{"field": change["field"], "value": value}]}],
    });
    bytes::Bytes::from(serde_json::to_vec(&own).unwrap_or_default())
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
