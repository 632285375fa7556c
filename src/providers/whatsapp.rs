//! WhatsApp Business Cloud API client (Meta Graph API): send a text or template message, mark a customer's
//! message read. Bearer token, JSON, `POST /{version}/{phone_number_id}/messages`.
//!
//! The Cloud API has no idempotency key, so a send is never retried here: the caller records it in the ledger
//! first and passes the ledger key as `biz_opaque_callback_data`, which Meta echoes in the message's status
//! webhooks. Meta's error envelope (`{"error": {"code", "message", "error_data": {"details"}}}`) is read by
//! code, and each code that has a fix says it.

use super::ProviderError;
use super::api::{Api, Auth, Body, Call, ErrorBody, Meaning};
use super::http::HttpClient;
use super::registry::{self, Capability, Claim, IdKind};
use crate::config::{WhatsAppConfig, env};
use crate::domain::ProviderId;
use crate::domain::message::{Content, OutboundMessage};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

const W: ProviderId = ProviderId::WhatsApp;

/// What WhatsApp says about itself: how to configure it.
pub struct WhatsAppProfile;
pub static PROFILE: WhatsAppProfile = WhatsAppProfile;

impl registry::Profile for WhatsAppProfile {
    fn id(&self) -> ProviderId {
        W
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[Capability::Messaging]
    }

    fn setup(&self) -> String {
        format!(
            "set {} (a system-user access token with whatsapp_business_messaging) and {} (WhatsApp Manager → API \
             Setup), or [whatsapp] access_token and phone_number_id in the config file",
            env::WHATSAPP_ACCESS_TOKEN,
            env::WHATSAPP_PHONE_NUMBER_ID
        )
    }

    fn claim(&self, _kind: IdKind, _id: &str) -> Claim {
        Claim::No
    }

    fn check_id(&self, _kind: IdKind, field: &str, _id: &str) -> Result<(), String> {
        Err(format!("{field}: WhatsApp has no invoices, customers or payment links"))
    }

    fn id_shape(&self, _kind: IdKind) -> Option<&'static str> {
        None
    }
}

/// The configured WhatsApp business number.
pub struct WhatsAppClient {
    api: Api<MetaError>,
    messages_path: String,
    /// The business phone number's own node (`/v26.0/{phone_number_id}`).
    number_path: String,
}

/// What Meta answered to a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub message_id: String,
    pub wa_id: Option<String>,
}

impl WhatsAppClient {
    pub fn new(config: WhatsAppConfig, http: Arc<HttpClient>) -> Self {
        WhatsAppClient {
            messages_path: format!("/{}/{}/messages", config.api_version, config.phone_number_id),
            number_path: format!("/{}/{}", config.api_version, config.phone_number_id),
            api: Api::new(W, config.base_url, Auth::Bearer(config.access_token), http),
        }
    }

    /// Send `message` once (never retried: Meta would send it twice). `callback_key` comes back in its status
    /// webhooks.
    pub async fn send(&self, message: &OutboundMessage, callback_key: &str) -> Result<Accepted, ProviderError> {
        let body = send_body(message, callback_key);
        let answer: SendAnswer = self.api.call(Call::post(&self.messages_path, Body::Json(&body))).await?;
        let message_id = answer.messages.into_iter().next().map(|m| m.id).ok_or_else(|| ProviderError::Decode {
            provider: W,
            message: super::redact::Redacted::own("the answer to a send has no message id".to_string()),
        })?;
        Ok(Accepted { message_id, wa_id: answer.contacts.into_iter().next().and_then(|c| c.wa_id) })
    }

    /// One harmless read (the business phone number's name and number) to learn whether the token works and
    /// the phone number id is the business's: for `switchboard doctor`.
    pub async fn check(&self) -> Result<(), ProviderError> {
        let query = [("fields", "verified_name,display_phone_number".to_string())];
        let _: Value = self.api.call(Call::get(&self.number_path).query(&query)).await?;
        Ok(())
    }

    /// Mark a customer's message (and the earlier ones of that conversation) read: the blue ticks.
    pub async fn mark_read(&self, message_id: &str) -> Result<(), ProviderError> {
        let body = json!({"messaging_product": "whatsapp", "status": "read", "message_id": message_id});
        let _: Value = self.api.call(Call::post(&self.messages_path, Body::Json(&body))).await?;
        Ok(())
    }
}

/// The request body, exactly as Meta documents it (whatsapp.md §4.2).
pub fn send_body(message: &OutboundMessage, callback_key: &str) -> Value {
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.to.as_str(),
        "biz_opaque_callback_data": callback_key,
    });
    match &message.content {
        Content::Text { body: text, reply_to } => {
            body["type"] = json!("text");
            body["text"] = json!({"preview_url": false, "body": text});
            if let Some(id) = reply_to {
                body["context"] = json!({"message_id": id});
            }
        }
        Content::Template { name, language, parameters } => {
            let mut template = json!({"name": name, "language": {"policy": "deterministic", "code": language}});
            if !parameters.is_empty() {
                let parameters: Vec<Value> = parameters.iter().map(|p| json!({"type": "text", "text": p})).collect();
                template["components"] = json!([{"type": "body", "parameters": parameters}]);
            }
            body["type"] = json!("template");
            body["template"] = template;
        }
    }
    body
}

#[derive(Deserialize)]
struct SendAnswer {
    #[serde(default)]
    contacts: Vec<AnswerContact>,
    #[serde(default)]
    messages: Vec<AnswerMessage>,
}

#[derive(Deserialize)]
struct AnswerContact {
    wa_id: Option<String>,
}

#[derive(Deserialize)]
struct AnswerMessage {
    id: String,
}

/// Meta's error envelope.
#[derive(Deserialize)]
struct MetaError {
    error: MetaErrorBody,
}

#[derive(Deserialize)]
struct MetaErrorBody {
    message: Option<String>,
    code: Option<i64>,
    error_data: Option<ErrorData>,
}

#[derive(Deserialize)]
struct ErrorData {
    details: Option<String>,
}

impl ErrorBody for MetaError {
    /// A coded answer below 500 is Meta's definite refusal (nothing was sent): its words and the fix stand,
    /// whatever the HTTP status; except Meta's unknown and temporary codes, which, like a 5xx, leave the outcome
    /// unknown.
    fn meaning(&self, status: StatusCode) -> Meaning {
        match self.error.code {
            // Unknown, temporary or service-unavailable: Meta may or may not have sent it (whatsapp.md §6).
            Some(1 | 2 | 131000 | 131016 | 133004) => Meaning::Uncertain,
            Some(_) if !status.is_server_error() => Meaning::Rejected,
            _ => Meaning::Status,
        }
    }

    fn into_message(self) -> Option<String> {
        let MetaErrorBody { message, code, error_data } = self.error;
        let details = error_data.and_then(|d| d.details);
        let said = [message, details].into_iter().flatten().collect::<Vec<_>>().join(": ");
        let fix = code.and_then(fix_for);
        match (said.is_empty(), fix) {
            (true, None) => None,
            (false, None) => Some(said),
            (true, Some(fix)) => Some(fix.to_string()),
            (false, Some(fix)) => Some(format!("{said}. {fix}")),
        }
    }
}

/// What to do about the codes that have a fix (whatsapp.md §6).
fn fix_for(code: i64) -> Option<&'static str> {
    Some(match code {
        131047 => {
            "More than 24 hours have passed since the customer last wrote, so WhatsApp allows only an approved \
             template: send one with template_name (and template_parameters) instead of text. Nothing was sent."
        }
        131056 => {
            "Too many messages to this customer in a short time (WhatsApp's pair rate limit, about one every 6 \
             seconds). Nothing was sent: wait at least 6 seconds (then 24, 96, … if it repeats) and send once, \
             combining what you meant to say into one message."
        }
        130429 | 80007 | 4 => {
            "WhatsApp's sending rate limit was reached. Nothing was sent: wait a minute and try again."
        }
        190 | 0 => {
            "WhatsApp no longer accepts Switchboard's access token (expired or revoked). Nothing was sent. The \
             operator must create a new system-user token in Meta Business Settings, set WHATSAPP_ACCESS_TOKEN and \
             restart Switchboard."
        }
        3 | 10 | 200..=299 | 131005 => {
            "Switchboard's WhatsApp token lacks a permission (whatsapp_business_messaging). Nothing was sent; the \
             operator must grant it and restart."
        }
        131026 => {
            "The number cannot receive this WhatsApp message (not on WhatsApp, or an old app). Nothing was sent; \
             reach the customer another way."
        }
        132000 | 132001 | 132012 | 132015 => {
            "The template does not exist in that language, is not approved, is paused or got the wrong number of \
             parameters. Nothing was sent: check its name, language and parameters in WhatsApp Manager."
        }
        131008 | 131009 | 100 => "A parameter was missing or invalid; nothing was sent. Check the arguments.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::payment_link::Phone;

    #[test]
    fn bodies_are_meta_documented_shapes() {
        let to = Phone::parse("to", "+16505551234").unwrap();
        let text = OutboundMessage {
            to: to.clone(),
            content: Content::Text { body: "Yes, it also comes in green.".into(), reply_to: Some("wamid.X".into()) },
        };
        assert_eq!(
            send_body(&text, "sb_wa_1"),
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+16505551234",
                   "biz_opaque_callback_data": "sb_wa_1", "context": {"message_id": "wamid.X"},
                   "type": "text", "text": {"preview_url": false, "body": "Yes, it also comes in green."}})
        );
        let template = OutboundMessage {
            to,
            content: Content::Template {
                name: "lead_followup".into(),
                language: "en_US".into(),
                parameters: vec!["Sheena".into()],
            },
        };
        assert_eq!(
            send_body(&template, "sb_wa_2")["template"],
            json!({"name": "lead_followup", "language": {"policy": "deterministic", "code": "en_US"},
                   "components": [{"type": "body", "parameters": [{"type": "text", "text": "Sheena"}]}]})
        );
    }
}
