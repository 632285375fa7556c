//! Stripe invoice object (API version pinned in [`super::STRIPE_API_VERSION`]) → [`Invoice`].

use super::{IdOnly, List, P};
use crate::domain::invoice::InvoiceStatus;
use crate::domain::{Currency, Invoice, InvoiceCustomer, InvoiceLineItem, Money, text, time};
use crate::providers::ProviderError;
use serde::Deserialize;

/// `customer` is an id, or the object when expanded.
#[derive(Deserialize)]
#[serde(untagged)]
enum Expandable {
    Id(String),
    Object(IdOnly),
}

#[derive(Deserialize)]
pub(super) struct WireInvoice {
    pub(super) id: String,
    number: Option<String>,
    status: Option<String>,
    currency: String,
    #[serde(default)]
    total: i64,
    #[serde(default)]
    amount_paid: i64,
    #[serde(default)]
    amount_remaining: Option<i64>,
    customer: Option<Expandable>,
    customer_email: Option<String>,
    customer_name: Option<String>,
    customer_phone: Option<String>,
    description: Option<String>,
    due_date: Option<i64>,
    status_transitions: Option<StatusTransitions>,
    hosted_invoice_url: Option<String>,
    lines: Option<List<WireLine>>,
}

#[derive(Deserialize)]
struct StatusTransitions {
    finalized_at: Option<i64>,
    paid_at: Option<i64>,
}

#[derive(Deserialize)]
struct WireLine {
    description: Option<String>,
    #[serde(default)]
    amount: i64,
    quantity: Option<i64>,
    /// Dahlia's successor to `quantity`: a decimal string such as "2".
    quantity_decimal: Option<String>,
    pricing: Option<WirePricing>,
}

#[derive(Deserialize)]
struct WirePricing {
    /// Decimal string of minor units, e.g. "129900" or "0.5".
    unit_amount_decimal: Option<String>,
}

impl WireInvoice {
    pub(super) fn into_domain(self, now: i64) -> Result<Invoice, ProviderError> {
        let currency =
            Currency::parse(&self.currency).map_err(|_| ProviderError::unknown_currency(P, &self.currency))?;
        let money = |minor: i64| Money::from_minor(minor, currency).to_amount();
        let raw_status = self.status.unwrap_or_else(|| "draft".to_string());
        let status = match raw_status.as_str() {
            "draft" => InvoiceStatus::Draft,
            "open" if self.amount_paid > 0 => InvoiceStatus::PartiallyPaid,
            "paid" => InvoiceStatus::Paid,
            "void" => InvoiceStatus::Void,
            "uncollectible" => InvoiceStatus::Uncollectible,
            _ => InvoiceStatus::Open,
        }
        .with_due_date(self.due_date, now);
        let transitions = self.status_transitions.unwrap_or(StatusTransitions { finalized_at: None, paid_at: None });
        let line_items = self
            .lines
            .map(|l| l.data)
            .unwrap_or_default()
            .into_iter()
            .map(|line| InvoiceLineItem {
                description: text::untrusted_opt(line.description.as_deref()),
                quantity: line
                    .quantity
                    .or_else(|| line.quantity_decimal.as_deref().and_then(|q| q.parse().ok()))
                    .unwrap_or(1),
                unit_amount: line
                    .pricing
                    .and_then(|p| p.unit_amount_decimal)
                    .and_then(|d| d.parse::<i64>().ok())
                    .map(money),
                amount: money(line.amount),
            })
            .collect();
        Ok(Invoice {
            provider: P,
            number: self.number,
            status,
            provider_status: raw_status,
            currency: currency.code().to_string(),
            total: money(self.total),
            amount_paid: money(self.amount_paid),
            amount_due: money(self.amount_remaining.unwrap_or(self.total - self.amount_paid)),
            customer: InvoiceCustomer {
                id: self.customer.map(|c| match c {
                    Expandable::Id(id) => id,
                    Expandable::Object(o) => o.id,
                }),
                name: text::untrusted_opt(self.customer_name.as_deref()),
                email: text::untrusted_opt(self.customer_email.as_deref()),
                phone: text::untrusted_opt(self.customer_phone.as_deref()),
            },
            description: text::untrusted_opt(self.description.as_deref()),
            issued_at: transitions.finalized_at.and_then(time::rfc3339),
            due_at: self.due_date.and_then(time::rfc3339),
            paid_at: transitions.paid_at.and_then(time::rfc3339),
            line_items,
            payment_url: self.hosted_invoice_url,
            record_url: None,
            pending_updates: Vec::new(),
            id: self.id,
        })
    }
}
