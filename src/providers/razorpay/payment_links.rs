//! Razorpay payment links: `POST /v1/payment_links` (JSON, amounts in paise), fetch, list by `reference_id`,
//! cancel. Our idempotency key travels as Razorpay's `reference_id` (unique per link, ≤ 40 chars); the
//! caller's own reference is kept in `notes.reference_id`.

use super::P;
use super::lenient;
use crate::domain::payment_link::{LinkCustomer, LinkPayment, PaymentLink, PaymentLinkRequest, PaymentLinkStatus};
use crate::domain::{Currency, Money, text, time};
use crate::providers::ProviderError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Razorpay refuses expiries sooner than this.
pub(super) const MIN_EXPIRY_SECONDS: i64 = 15 * 60;
/// …and later than about six months.
pub(super) const MAX_EXPIRY_SECONDS: i64 = 180 * 24 * 3600;

/// The create body, exactly as Razorpay documents it.
#[derive(Serialize)]
pub(super) struct CreateLink<'a> {
    amount: i64,
    currency: &'static str,
    /// Our idempotency key: Razorpay refuses a second link with the same one.
    reference_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<CreateCustomer<'a>>,
    notify: Notify,
    #[serde(skip_serializing_if = "Option::is_none")]
    expire_by: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_method: Option<&'static str>,
    /// The caller's own reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<Notes<'a>>,
}

#[derive(Serialize)]
struct CreateCustomer<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<&'a str>,
}

#[derive(Serialize)]
struct Notify {
    sms: bool,
    email: bool,
}

#[derive(Serialize)]
struct Notes<'a> {
    reference_id: &'a str,
}

impl<'a> CreateLink<'a> {
    pub(super) fn new(request: &'a PaymentLinkRequest, key: &'a str) -> Self {
        let c = &request.customer;
        let customer = CreateCustomer {
            name: c.name.as_deref(),
            email: c.email.as_ref().map(|e| e.as_str()),
            contact: c.phone.as_ref().map(|p| p.as_str()),
        };
        let has_customer = customer.name.is_some() || customer.email.is_some() || customer.contact.is_some();
        CreateLink {
            amount: request.amount.minor_units(),
            currency: request.amount.currency().code(),
            reference_id: key,
            description: request.description.as_deref(),
            customer: has_customer.then_some(customer),
            notify: Notify { sms: request.notify_sms, email: request.notify_email },
            expire_by: request.expires_at,
            callback_url: request.callback_url.as_deref(),
            callback_method: request.callback_url.as_ref().map(|_| "get"),
            notes: request.reference_id.as_deref().map(|reference_id| Notes { reference_id }),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct LinkList {
    #[serde(default)]
    pub(super) payment_links: Vec<WireLink>,
}

#[derive(Deserialize)]
pub(super) struct WireLink {
    id: String,
    #[serde(default, deserialize_with = "lenient::int")]
    amount: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    amount_paid: Option<i64>,
    currency: Option<String>,
    status: String,
    short_url: Option<String>,
    description: Option<String>,
    customer: Option<WireCustomer>,
    /// `[]`, `{}` or `null` on the wire.
    #[serde(default)]
    notes: Value,
    #[serde(default, deserialize_with = "lenient::int")]
    expire_by: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    created_at: Option<i64>,
    #[serde(default)]
    payments: Option<Vec<WirePayment>>,
}

#[derive(Deserialize)]
struct WireCustomer {
    name: Option<String>,
    email: Option<String>,
    contact: Option<String>,
}

#[derive(Deserialize)]
struct WirePayment {
    payment_id: String,
    #[serde(default, deserialize_with = "lenient::int")]
    amount: Option<i64>,
    status: Option<String>,
    method: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    created_at: Option<i64>,
}

impl WireLink {
    pub(super) fn into_domain(self) -> Result<PaymentLink, ProviderError> {
        let code = self.currency.as_deref().unwrap_or("INR");
        let currency = Currency::parse(code).map_err(|_| ProviderError::unknown_currency(P, code))?;
        let money = |minor: Option<i64>| Money::from_minor(minor.unwrap_or(0), currency).to_amount();
        let status = match self.status.as_str() {
            "partially_paid" => PaymentLinkStatus::PartiallyPaid,
            "paid" => PaymentLinkStatus::Paid,
            "expired" => PaymentLinkStatus::Expired,
            "cancelled" => PaymentLinkStatus::Cancelled,
            _ => PaymentLinkStatus::Created,
        };
        let customer = self.customer.map_or_else(LinkCustomer::default, |c| LinkCustomer {
            name: text::untrusted_opt(c.name.as_deref()),
            email: text::untrusted_opt(c.email.as_deref()),
            phone: text::untrusted_opt(c.contact.as_deref()),
        });
        let payments = self
            .payments
            .unwrap_or_default()
            .into_iter()
            .map(|p| LinkPayment {
                id: p.payment_id,
                amount: money(p.amount),
                status: p.status.unwrap_or_else(|| "captured".into()),
                method: p.method,
                paid_at: p.created_at.and_then(time::rfc3339),
            })
            .collect();
        Ok(PaymentLink {
            id: self.id,
            provider: P,
            url: self.short_url.filter(|u| !u.is_empty()),
            status,
            provider_status: self.status,
            amount: money(self.amount),
            amount_paid: money(self.amount_paid),
            description: text::untrusted_opt(self.description.as_deref()),
            customer,
            reference_id: self.notes.get("reference_id").and_then(Value::as_str).and_then(text::untrusted),
            expires_at: self.expire_by.and_then(time::rfc3339),
            created_at: self.created_at.and_then(time::rfc3339),
            payments,
        })
    }
}
