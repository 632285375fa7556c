//! The customers' side of the sandbox's WhatsApp: `GET /sandbox/phone` lists the people on WhatsApp, and
//! `GET /sandbox/phone/{wa_id}` is one person's phone showing their chat with the business — their messages and
//! the business's replies, each with its ticks (🕓 not yet announced, ✓ sent, ✓✓ delivered, blue ✓✓ read, as
//! the status webhooks the receiver acknowledged say). A person types as the customer in its form: `POST` stores
//! the message and sends it to `/webhooks/whatsapp` as Meta's signed inbound-message webhook, then redirects back.
//!
//! Viewing the page is the customer reading the chat: every business message they had not seen gets a `read`
//! status webhook (after its `sent` and `delivered`). The page reloads itself every few seconds while webhooks
//! about the chat are still on their way or the customer's last message (under ten minutes old) awaits a reply,
//! and not otherwise, so a reload never wipes what a person is typing once the chat is quiet.

use super::Sandbox;
use super::whatsapp::{self, MAX_TEXT_CHARS};
use super::world::{WaCustomer, WaDirection, WaMessage};
use crate::html::{self, Markup, PreEscaped, html};
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

/// How often a waiting chat reloads itself.
const REFRESH_SECS: u32 = 3;
/// A customer's unanswered message keeps the page reloading this long.
const AWAIT_REPLY_SECS: i64 = 600;

/// The chat's own look, on top of the shared stylesheet.
const CHAT_STYLE: &str = "#messages{list-style:none;padding:0;margin:1rem 0;display:flex;flex-direction:column;gap:.5rem}\
.message{max-width:80%;padding:.5rem .7rem;border-radius:10px;box-shadow:0 1px 2px #0002}\
.message.inbound{align-self:flex-end;background:#dcf8c6}.message.outbound{align-self:flex-start;background:#fff;border:1px solid #e3e3e3}\
.message .body{white-space:pre-wrap;overflow-wrap:anywhere}.message .meta{display:block;text-align:right;color:#888;font-size:.75rem;margin-top:.2rem}\
.ticks{margin-left:.3rem;letter-spacing:-.2em}.ticks.read{color:#34b7f1}\
.quote{border-left:3px solid #34b7f1;padding-left:.5rem;color:#555;font-size:.85rem;margin:0 0 .3rem}\
input#text{width:100%;box-sizing:border-box;padding:.7rem;font-size:1rem;border:1px solid #ccc;border-radius:8px}";

pub fn routes(sandbox: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/sandbox/phone", get(index))
        .route("/sandbox/phone/{customer}", get(show).post(write))
        .with_state(sandbox)
}

/// A customer's WhatsApp id from the path (`919876500001`, also accepted as `+919876500001`).
fn wa_id_of(customer: &str) -> Option<String> {
    let digits = customer.trim().trim_start_matches('+');
    (!digits.is_empty() && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.to_string())
}

fn message(status: StatusCode, title: &str, detail: &str) -> Response {
    html::message(status, "Switchboard sandbox", title, detail)
}

fn no_such_customer() -> Response {
    message(StatusCode::NOT_FOUND, "No such phone", "Nobody with that number is on WhatsApp in this sandbox.")
}

/// `GET /sandbox/phone`: the people on WhatsApp, whether the CRM knows them, and their last message.
async fn index(State(sandbox): State<Arc<Sandbox>>) -> Response {
    let rows = sandbox
        .read(|w| {
            w.whatsapp
                .customers
                .iter()
                .map(|c| {
                    let phone = format!("+{}", c.wa_id);
                    let crm = w.contacts.iter().find(|contact| {
                        let p = &contact["properties"];
                        p["phone"].as_str() == Some(phone.as_str()) || p["mobilephone"].as_str() == Some(phone.as_str())
                    });
                    let crm = crm.map(|contact| {
                        let p = &contact["properties"];
                        let name = [p["firstname"].as_str(), p["lastname"].as_str()].into_iter().flatten();
                        format!("HubSpot contact {} ({})", name.collect::<Vec<_>>().join(" "), text(&contact["id"]))
                    });
                    let last = w.whatsapp.messages.iter().rev().find(|m| m.wa_id == c.wa_id).map(shown);
                    (c.clone(), phone, crm, last)
                })
                .collect::<Vec<_>>()
        })
        .await;
    let body = html! {
        p class="badge" { "Switchboard sandbox · WhatsApp, as the customers see it" }
        h1 { "Customers' phones" }
        p { "Open a phone and write to the business as that customer: your message reaches Switchboard as a signed WhatsApp webhook, and the agent's replies appear there with their ticks." }
        table id="customers" {
            tr { th { "customer" } th { "WhatsApp" } th { "CRM" } th { "last message" } }
            @for (customer, phone, crm, last) in &rows {
                tr {
                    td { a href={ "/sandbox/phone/" (customer.wa_id) } { (customer.name) } }
                    td { (phone) }
                    td { (crm.as_deref().unwrap_or("not in the CRM")) }
                    td { (last.as_deref().unwrap_or("—")) }
                }
            }
        }
        p class="id" { a href="/sandbox" { "← sandbox" } }
    };
    html::respond(StatusCode::OK, html::page("Phones · Switchboard sandbox", true, None, body))
}

/// `GET /sandbox/phone/{wa_id}`: the customer opens the chat (and so reads what the business sent).
async fn show(State(sandbox): State<Arc<Sandbox>>, Path(customer): Path<String>) -> Response {
    let Some(wa_id) = wa_id_of(&customer) else { return no_such_customer() };
    let known = sandbox.read(|w| w.whatsapp.customers.iter().any(|c| c.wa_id == wa_id)).await;
    if !known {
        return no_such_customer();
    }
    if sandbox.read(|w| whatsapp::has_unseen(w, &wa_id)).await {
        let (id, now) = (wa_id.clone(), whatsapp::now_ms());
        let read = sandbox
            .update(move |w| {
                whatsapp::customer_reads(w, &id, now);
                Ok::<(), ()>(())
            })
            .await;
        match read {
            Ok(()) => sandbox.wa_wake.notify_one(),
            Err(_) => tracing::warn!("the sandbox could not save that a customer read the chat"),
        }
    }
    let now = crate::domain::time::now();
    let view = sandbox
        .read(|w| {
            let customer = w.whatsapp.customers.iter().find(|c| c.wa_id == wa_id).cloned()?;
            let chat: Vec<(WaMessage, String, Option<String>)> = w
                .whatsapp
                .messages
                .iter()
                .filter(|m| m.wa_id == wa_id)
                .map(|m| (m.clone(), shown(m), quoted(m, w)))
                .collect();
            let in_flight = w.whatsapp.pending.iter().any(|p| chat.iter().any(|(m, _, _)| m.id == p.message_id));
            let awaiting = chat
                .last()
                .is_some_and(|(m, _, _)| m.direction == WaDirection::Inbound && now - m.timestamp < AWAIT_REPLY_SECS);
            Some((customer, chat, in_flight || awaiting))
        })
        .await;
    match view {
        Some((customer, chat, refresh)) => html::respond(StatusCode::OK, page(&customer, &chat, refresh)),
        None => no_such_customer(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct WriteForm {
    #[serde(default)]
    text: String,
}

/// `POST /sandbox/phone/{wa_id}`: the customer sends `text` to the business.
async fn write(
    State(sandbox): State<Arc<Sandbox>>,
    Path(customer): Path<String>,
    Form(form): Form<WriteForm>,
) -> Response {
    let Some(wa_id) = wa_id_of(&customer) else { return no_such_customer() };
    let text = crate::domain::text::strip_hidden(form.text.trim());
    let text = text.trim().to_string();
    if text.is_empty() || text.chars().count() > MAX_TEXT_CHARS {
        return message(
            StatusCode::BAD_REQUEST,
            "Not sent",
            &format!("A WhatsApp message is 1 to {MAX_TEXT_CHARS} characters."),
        );
    }
    let (id, now) = (wa_id.clone(), whatsapp::now_ms());
    let written = sandbox.update(move |w| whatsapp::customer_writes(w, &id, &text, now).ok_or(())).await;
    match written {
        Ok(message_id) => {
            tracing::info!(message = %message_id, "a sandbox customer wrote on WhatsApp");
            sandbox.wa_wake.notify_one();
            Redirect::to(&format!("/sandbox/phone/{wa_id}")).into_response()
        }
        Err(super::UpdateError::Rejected(())) => no_such_customer(),
        Err(super::UpdateError::Storage(e)) => {
            tracing::error!(error = %e, "the sandbox could not save a customer's message");
            message(StatusCode::INTERNAL_SERVER_ERROR, "Not sent", "The sandbox could not save the message; try again.")
        }
    }
}

/// `value` as text ("" if it is not a string).
fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// What a message says, as the phone shows it: the text, or a template's name and parameters.
fn shown(m: &WaMessage) -> String {
    match m.direction {
        WaDirection::Inbound => text(&m.wire["text"]["body"]).to_string(),
        WaDirection::Outbound if m.wire["type"] == "template" => {
            let template = &m.wire["template"];
            let parameters: Vec<&str> = template["components"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["parameters"].as_array().into_iter().flatten())
                .filter_map(|p| p["text"].as_str())
                .collect();
            let mut shown = format!("Template “{}” ({})", text(&template["name"]), text(&template["language"]["code"]));
            if !parameters.is_empty() {
                shown.push_str(": ");
                shown.push_str(&parameters.join(" · "));
            }
            shown
        }
        WaDirection::Outbound => text(&m.wire["text"]["body"]).to_string(),
    }
}

/// The message a business reply quotes (`context.message_id`), as the phone shows it.
fn quoted(m: &WaMessage, world: &super::world::World) -> Option<String> {
    let id = m.wire["context"]["message_id"].as_str()?;
    let original = world.whatsapp.messages.iter().find(|o| o.id == id)?;
    Some(crate::domain::text::clip(&shown(original), 120))
}

/// A message's ticks: the glyph and the word for its status.
fn ticks(status: &str) -> (&'static str, &'static str) {
    match whatsapp::rank(status) {
        1 => ("✓", "sent"),
        2 => ("✓✓", "delivered"),
        3 => ("✓✓", "read"),
        _ => ("🕓", "sending"),
    }
}

fn time_of(at: i64) -> String {
    crate::domain::time::rfc3339(at).map(|t| format!("{} UTC", t.get(11..16).unwrap_or_default())).unwrap_or_default()
}

fn page(customer: &WaCustomer, chat: &[(WaMessage, String, Option<String>)], refresh: bool) -> Markup {
    let body = html! {
        style { (PreEscaped(CHAT_STYLE)) }
        p class="badge" { "Switchboard sandbox · " (customer.name) "'s phone" }
        h1 id="customer" { (customer.name) }
        p class="id" {
            "+" (customer.wa_id) " · chatting with the business on +" (whatsapp::DISPLAY_PHONE_NUMBER)
        }
        @if chat.is_empty() {
            p id="empty" { "No messages yet. Write to the business below." }
        }
        ol id="messages" {
            @for (m, words, quote) in chat {
                @let (glyph, word) = ticks(&m.status);
                @let side = if m.direction == WaDirection::Inbound { "inbound" } else { "outbound" };
                li class={ "message " (side) } data-id=(m.id) {
                    @if let Some(quote) = quote {
                        p class="quote" { (quote) }
                    }
                    span class="body" { (words) }
                    span class="meta" {
                        (time_of(m.timestamp))
                        span class={ "ticks " (word) } title=(word) { (glyph) }
                    }
                }
            }
        }
        form method="post" action={ "/sandbox/phone/" (customer.wa_id) } {
            label for="text" { "Message as " (customer.name) }
            input type="text" name="text" id="text" required maxlength=(MAX_TEXT_CHARS) autocomplete="off" autofocus;
            button id="send" type="submit" { "Send" }
        }
        p class="id" { a href="/sandbox/phone" { "← all phones" } " · " a href="/sandbox" { "sandbox" } }
    };
    let title = format!("{} · WhatsApp · Switchboard sandbox", customer.name);
    html::page(&title, false, refresh.then_some(REFRESH_SECS), body)
}
