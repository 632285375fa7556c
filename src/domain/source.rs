//! A webhook source as configured: how its deliveries are signed ([`Scheme`]) and what their payloads say
//! ([`Format`]). Signature checking lives in `webhooks::verify`, reading payloads in `webhooks::sources`.

use serde::Deserialize;

/// A signature scheme a source uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// `X-Razorpay-Signature`: hex HMAC-SHA256 of the body; dedupe on `X-Razorpay-Event-Id`.
    Razorpay,
    /// `Stripe-Signature: t=…,v1=…`: hex HMAC-SHA256 of "{t}.{body}" keyed with the whole `whsec_…` string.
    Stripe,
    /// Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`; Svix): base64 HMAC-SHA256 of
    /// "{id}.{timestamp}.{body}" keyed with the base64-decoded `whsec_` secret.
    StandardWebhooks,
    /// `X-Hub-Signature-256: sha256=<hex>` (GitHub, Meta / WhatsApp): hex HMAC-SHA256 of the body. Written
    /// `hub_signature_256` (as documented); `hub_signature256` is accepted too.
    #[serde(rename = "hub_signature_256", alias = "hub_signature256")]
    HubSignature256,
}

/// What a source's payloads look like, and so how a delivery becomes events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Razorpay webhooks (`event`, `payload.<entity>.entity`).
    Razorpay,
    /// Stripe events (`type`, `data.object`).
    Stripe,
    /// Anything else: the type from the body's `type` / `event` (or `X-GitHub-Event`); every event is "other".
    Generic,
    /// WhatsApp Cloud API (`entry[].changes[].value.messages[]` / `statuses[]`): one event per message and status.
    #[serde(rename = "whatsapp")]
    WhatsApp,
}

impl Format {
    /// The format a source has when the configuration names none: its provider's for the Razorpay and Stripe
    /// schemes (whatever the source is called: "stripe_eu" is a Stripe account too), generic otherwise.
    pub fn for_scheme(scheme: Scheme) -> Self {
        match scheme {
            Scheme::Razorpay => Format::Razorpay,
            Scheme::Stripe => Format::Stripe,
            Scheme::StandardWebhooks | Scheme::HubSignature256 => Format::Generic,
        }
    }
}
