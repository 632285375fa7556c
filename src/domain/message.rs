//! Messages to customers (WhatsApp): what a tool asks to send, validated once at the tool edge, and what came
//! back.

use super::payment_link::Phone;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// WhatsApp's limit on a text message body.
pub const MAX_TEXT_CHARS: usize = 4096;

/// A message to one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    /// E.164 with `+` (WhatsApp reads a number without `+` as one of the business's own country).
    pub to: Phone,
    pub content: Content,
}

/// What the message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Free-form text: only inside the 24-hour customer-service window. `reply_to` quotes the customer's message.
    Text { body: String, reply_to: Option<String> },
    /// An approved template: the only kind allowed outside the window.
    Template { name: String, language: String, parameters: Vec<String> },
}

impl Content {
    /// The words the person approving reads, and the conversation shows.
    pub fn shown(&self) -> String {
        match self {
            Content::Text { body, .. } => body.clone(),
            Content::Template { name, language, parameters } if parameters.is_empty() => {
                format!("template \"{name}\" ({language})")
            }
            Content::Template { name, language, parameters } => {
                format!("template \"{name}\" ({language}) with {}", parameters.join(" | "))
            }
        }
    }
}

/// A message the provider accepted.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SentMessage {
    /// The provider's message id (`wamid.…`): its delivery statuses arrive as events with this message_id.
    pub message_id: String,
    /// The recipient as sent, E.164.
    pub to: String,
    /// The recipient's WhatsApp id, as WhatsApp resolved it (may differ from the number sent).
    pub wa_id: Option<String>,
    /// What was sent: the text, or the template and its parameters.
    pub content: String,
    /// The message it replied to, if any.
    pub reply_to: Option<String>,
    /// When WhatsApp accepted it (RFC 3339, UTC). Accepted is not delivered: wait for message_delivered.
    pub accepted_at: String,
}
