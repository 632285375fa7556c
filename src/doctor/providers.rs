//! The providers' checks: one harmless read each, all at once, and what each failure means for the person.

use super::{Row, Status};
use crate::config::{Config, OutboundConfig, env};
use crate::domain::ProviderId;
use crate::providers::ProviderError;
use crate::providers::http::HttpClient;
use crate::providers::hubspot::HubSpotClient;
use crate::providers::notion::NotionClient;
use crate::providers::razorpay::RazorpayClient;
use crate::providers::redact::Redactor;
use crate::providers::stripe::StripeClient;
use crate::providers::whatsapp::WhatsAppClient;
use reqwest::Url;
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;

/// One read per configured provider, all at once; each with a short deadline and one retry, so an unreachable
/// provider costs seconds, not the minutes a tool call may wait.
pub(super) async fn providers(config: &Config) -> Vec<Row> {
    let outbound = OutboundConfig {
        attempt_timeout: config.outbound.attempt_timeout.min(Duration::from_secs(10)),
        call_deadline: config.outbound.call_deadline.min(Duration::from_secs(15)),
        max_retries: config.outbound.max_retries.min(1),
        min_backoff: config.outbound.min_backoff,
    };
    let http = Arc::new(HttpClient::new(outbound, Arc::new(Redactor::from_config(config))));
    let razorpay = async {
        let c = config.razorpay.as_ref()?;
        let mode = key_mode(&c.key_id, "rzp_live_", "rzp_test_");
        let read = RazorpayClient::new(c.clone(), http.clone()).check().await;
        let vars = format!("{} / {}", env::RAZORPAY_KEY_ID, env::RAZORPAY_KEY_SECRET);
        let how = Setting { vars: &vars, base_var: env::RAZORPAY_BASE_URL, base: &c.base_url, what: "payment links" };
        Some(row(ProviderId::Razorpay, read, &how, format!("credentials accepted ({mode}; read one payment link)")))
    };
    let stripe = async {
        let c = config.stripe.as_ref()?;
        let mode = match c.api_key.expose_secret().get(..8) {
            Some("sk_live_") => "a live-mode secret key",
            Some("sk_test_") => "a test-mode secret key",
            Some("rk_live_") => "a live-mode restricted key",
            Some("rk_test_") => "a test-mode restricted key",
            _ => "a key",
        };
        let read = StripeClient::new(c.clone(), http.clone()).check().await;
        let how = Setting {
            vars: env::STRIPE_API_KEY,
            base_var: env::STRIPE_BASE_URL,
            base: &c.base_url,
            what: "payment links",
        };
        Some(row(ProviderId::Stripe, read, &how, format!("key accepted ({mode}; read one payment link)")))
    };
    let hubspot = async {
        let c = config.hubspot.as_ref()?;
        let read = HubSpotClient::new(c.clone(), http.clone()).check().await;
        let how = Setting {
            vars: env::HUBSPOT_ACCESS_TOKEN,
            base_var: env::HUBSPOT_BASE_URL,
            base: &c.base_url,
            what: "contacts",
        };
        Some(row(ProviderId::HubSpot, read, &how, "token accepted (read one contact)".to_string()))
    };
    let whatsapp = async {
        let c = config.whatsapp.as_ref()?;
        let read = WhatsAppClient::new(c.clone(), http.clone()).check().await;
        let vars = format!("{} / {}", env::WHATSAPP_ACCESS_TOKEN, env::WHATSAPP_PHONE_NUMBER_ID);
        let how =
            Setting { vars: &vars, base_var: env::WHATSAPP_BASE_URL, base: &c.base_url, what: "the phone number" };
        let ok = format!("token accepted; phone number id {} is the business's", c.phone_number_id);
        Some(row(ProviderId::WhatsApp, read, &how, ok))
    };
    let notion = async {
        let c = config.notion.as_ref()?;
        let client = NotionClient::new(c.clone(), http.clone());
        let read = client.book().await.map(|_| ());
        let vars = format!("{} / {}", env::NOTION_TOKEN, env::NOTION_INVOICES_DATABASE_ID);
        let how =
            Setting { vars: &vars, base_var: env::NOTION_BASE_URL, base: &c.base_url, what: "the invoices database" };
        Some(row(
            ProviderId::Notion,
            read,
            &how,
            "the invoices database is shared and has every property needed".into(),
        ))
    };
    let (razorpay, stripe, hubspot, whatsapp, notion) = tokio::join!(razorpay, stripe, hubspot, whatsapp, notion);
    let rows: Vec<Row> = [razorpay, stripe, hubspot, whatsapp, notion].into_iter().flatten().collect();
    if rows.is_empty() {
        let detail = format!(
            "none configured, so agents can only be told what to set up. Set {} and {}, {}, {} …, or try `switchboard demo` (no account needed)",
            env::RAZORPAY_KEY_ID,
            env::RAZORPAY_KEY_SECRET,
            env::STRIPE_API_KEY,
            env::HUBSPOT_ACCESS_TOKEN
        );
        return vec![Row::new("Providers", Status::Warn, detail)];
    }
    rows
}

/// "a live-mode key" / "a test-mode key" / "a key", from its prefix (public information, not the secret).
fn key_mode(key: &str, live: &str, test: &str) -> &'static str {
    if key.starts_with(live) {
        "a live-mode key"
    } else if key.starts_with(test) {
        "a test-mode key"
    } else {
        "a key"
    }
}

/// Where a provider's settings live, for the sentences that say what to change.
struct Setting<'a> {
    /// The variables holding its credentials.
    vars: &'a str,
    base_var: &'static str,
    base: &'a Url,
    /// What the check read, for "may not read …".
    what: &'static str,
}

/// The row for one provider's read.
fn row(provider: ProviderId, read: Result<(), ProviderError>, how: &Setting<'_>, ok: String) -> Row {
    let check = format!("{provider} API");
    let origin = how.base.origin().ascii_serialization();
    let (status, detail) = match read {
        Ok(()) => (Status::Ok, ok),
        Err(ProviderError::Unauthorized { .. }) => (
            Status::Fix,
            format!(
                "{provider} rejected the credentials: wrong, revoked, or for the other mode (test vs live). Check {}.",
                how.vars
            ),
        ),
        Err(ProviderError::Forbidden { message, .. }) => (
            Status::Fix,
            format!("the credentials work but may not read {}: {message}. Grant that permission.", how.what),
        ),
        Err(ProviderError::Unreachable { message, .. }) => (
            Status::Fix,
            format!("could not connect to {origin} ({message}). Check the network, or {} if you set it.", how.base_var),
        ),
        Err(ProviderError::Timeout { .. }) => {
            (Status::Fix, format!("{origin} did not answer in time. Check the network, or {}.", how.base_var))
        }
        Err(ProviderError::Network { message, .. }) => {
            (Status::Fix, format!("the connection to {origin} failed mid-request: {message}."))
        }
        Err(ProviderError::RateLimited { .. }) => (
            Status::Warn,
            format!(
                "{provider} is rate limiting just now, so the credentials were not checked; try again in a minute."
            ),
        ),
        Err(ProviderError::Upstream { status, .. }) => (
            Status::Warn,
            format!(
                "{provider} had a server error (HTTP {status}), so the credentials were not checked; try again later."
            ),
        ),
        // Anything else already says what is wrong (a missing property, a database not shared, a bad phone
        // number id), in redacted words.
        Err(e) => (Status::Fix, e.to_string()),
    };
    Row::new(check, status, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_modes_come_from_public_prefixes() {
        assert_eq!(key_mode("rzp_live_abc", "rzp_live_", "rzp_test_"), "a live-mode key");
        assert_eq!(key_mode("rzp_test_abc", "rzp_live_", "rzp_test_"), "a test-mode key");
        assert_eq!(key_mode("other", "rzp_live_", "rzp_test_"), "a key");
    }
}
