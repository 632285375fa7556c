//! Stripe payment links with inline `price_data` (API ≥ 2025-07-30.basil), form-encoded with bracket indices.
//! Stripe links are reusable and never expire, so each is restricted to one completed payment and anything
//! Stripe cannot express (expiry, provider-sent notifications) is refused before sending.

use super::{List, P};
use crate::domain::payment_link::{LinkCustomer, LinkPayment, PaymentLink, PaymentLinkRequest, PaymentLinkStatus};
use crate::domain::{Currency, Money, text, time};
use crate::providers::ProviderError;
use serde::Deserialize;
use std::collections::HashMap;

/// Metadata key that records our idempotency key on the link (used to find it after a crash).
pub(super) const KEY_METADATA: &str = "switchboard_key";
/// How many pages of 100 links a lookup by key reads (the key is recent: a crash or a timeout just happened).
pub(super) const FIND_PAGES: usize = 10;

pub(super) fn check(request: &PaymentLinkRequest) -> Result<(), String> {
    if request.expires_at.is_some() {
        return Err("expires_at: Stripe payment links do not expire; omit expires_at and cancel the link with \
                    cancel_payment_link when it should stop accepting payment"
            .into());
    }
    if request.notify_email || request.notify_sms {
        return Err("notify_email/notify_sms: Stripe does not send payment link e-mails or SMS; omit them and \
                    share the returned url with the customer"
            .into());
    }
    Ok(())
}

/// The create form: one line item with inline price data, single use, our key and the caller's details in metadata.
pub(super) fn create_form(request: &PaymentLinkRequest, key: &str) -> Vec<(String, String)> {
    let amount = request.amount;
    let name = request.description.clone().unwrap_or_else(|| format!("Payment of {}", amount.format()));
    let mut form: Vec<(String, String)> = vec![
        ("line_items[0][price_data][currency]".into(), amount.currency().code().to_ascii_lowercase()),
        ("line_items[0][price_data][unit_amount]".into(), amount.minor_units().to_string()),
        ("line_items[0][price_data][product_data][name]".into(), text::clip(&name, 250)),
        ("line_items[0][quantity]".into(), "1".into()),
        ("restrictions[completed_sessions][limit]".into(), "1".into()),
        (format!("metadata[{KEY_METADATA}]"), key.into()),
        (format!("payment_intent_data[metadata][{KEY_METADATA}]"), key.into()),
    ];
    let c = &request.customer;
    let details = [
        ("reference_id", request.reference_id.clone()),
        ("customer_name", c.name.clone()),
        ("customer_email", c.email.as_ref().map(|e| e.as_str().to_string())),
        ("customer_phone", c.phone.as_ref().map(|p| p.as_str().to_string())),
    ];
    for (k, v) in details {
        if let Some(v) = v {
            form.push((format!("metadata[{k}]"), v.clone()));
            if k == "reference_id" {
                form.push((format!("payment_intent_data[metadata][{k}]"), v));
            }
        }
    }
    if let Some(url) = &request.callback_url {
        form.push(("after_completion[type]".into(), "redirect".into()));
        form.push(("after_completion[redirect][url]".into(), url.clone()));
    }
    form
}

#[derive(Deserialize)]
pub(super) struct WireLink {
    pub(super) id: String,
    url: Option<String>,
    active: bool,
    currency: Option<String>,
    #[serde(default)]
    pub(super) metadata: HashMap<String, String>,
    line_items: Option<List<WireLineItem>>,
}

#[derive(Deserialize)]
struct WireLineItem {
    amount_total: i64,
    currency: String,
    description: Option<String>,
}

/// A Checkout Session started from the link: how Stripe records payments made through it.
#[derive(Deserialize)]
pub(super) struct WireSession {
    id: String,
    payment_status: String,
    amount_total: Option<i64>,
    payment_intent: Option<String>,
    created: Option<i64>,
}

impl WireLink {
    /// Normalise; `amount` comes from the create request or the expanded line items.
    pub(super) fn into_domain(
        self,
        amount: Option<Money>,
        sessions: Vec<WireSession>,
    ) -> Result<PaymentLink, ProviderError> {
        let from_lines =
            self.line_items.as_ref().and_then(|l| l.data.first()).map(|li| (li.amount_total, li.currency.clone()));
        let (minor, code) = match (amount, from_lines) {
            (Some(m), _) => (m.minor_units(), m.currency().code().to_string()),
            (None, Some((minor, code))) => (minor, code),
            (None, None) => (0, self.currency.clone().unwrap_or_else(|| "usd".into())),
        };
        let currency = Currency::parse(&code).map_err(|_| ProviderError::unknown_currency(P, &code))?;
        let money = |m: i64| Money::from_minor(m, currency).to_amount();
        let payments: Vec<LinkPayment> = sessions
            .into_iter()
            .filter(|s| s.payment_status == "paid")
            .map(|s| LinkPayment {
                id: s.payment_intent.unwrap_or(s.id),
                amount: money(s.amount_total.unwrap_or(0)),
                status: s.payment_status,
                method: None,
                paid_at: s.created.and_then(time::rfc3339),
            })
            .collect();
        let paid: i64 = payments.iter().map(|p| p.amount.minor_units).sum();
        let status = match (paid, self.active) {
            (p, _) if p >= minor && p > 0 => PaymentLinkStatus::Paid,
            (p, _) if p > 0 => PaymentLinkStatus::PartiallyPaid,
            (_, false) => PaymentLinkStatus::Cancelled,
            (_, true) => PaymentLinkStatus::Created,
        };
        let meta = |k: &str| self.metadata.get(k).and_then(|v| text::untrusted(v));
        Ok(PaymentLink {
            provider: P,
            url: self.url.clone(),
            status,
            provider_status: if self.active { "active" } else { "inactive" }.into(),
            amount: money(minor),
            amount_paid: money(paid),
            description: self
                .line_items
                .as_ref()
                .and_then(|l| l.data.first())
                .and_then(|li| text::untrusted_opt(li.description.as_deref())),
            customer: LinkCustomer {
                name: meta("customer_name"),
                email: meta("customer_email"),
                phone: meta("customer_phone"),
            },
            reference_id: meta("reference_id"),
            expires_at: None,
            created_at: None,
            payments,
            id: self.id,
        })
    }
}
