//! Razorpay invoice entity → [`Invoice`].

use super::P;
use crate::domain::invoice::InvoiceStatus;
use crate::domain::{Currency, Invoice, InvoiceCustomer, InvoiceLineItem, Money, text, time};
use crate::providers::ProviderError;
use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct WireInvoice {
    id: String,
    invoice_number: Option<String>,
    status: String,
    currency: Option<String>,
    #[serde(default, deserialize_with = "super::lenient::int")]
    amount: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::int")]
    amount_paid: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::int")]
    amount_due: Option<i64>,
    customer_id: Option<String>,
    customer_details: Option<WireCustomer>,
    #[serde(default)]
    line_items: Vec<WireLineItem>,
    description: Option<String>,
    #[serde(default, deserialize_with = "super::lenient::int")]
    issued_at: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::int")]
    paid_at: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::int")]
    expire_by: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::int")]
    date: Option<i64>,
    short_url: Option<String>,
}

#[derive(Deserialize)]
struct WireCustomer {
    id: Option<String>,
    name: Option<String>,
    email: Option<String>,
    contact: Option<String>,
    customer_name: Option<String>,
    customer_email: Option<String>,
    customer_contact: Option<String>,
}

#[derive(Deserialize)]
struct WireLineItem {
    name: Option<String>,
    description: Option<String>,
    #[serde(default, deserialize_with = "super::lenient::int")]
    amount: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::int")]
    unit_amount: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::int")]
    gross_amount: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::int")]
    net_amount: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::int")]
    quantity: Option<i64>,
}

impl WireInvoice {
    pub(super) fn into_domain(self, now: i64) -> Result<Invoice, ProviderError> {
        let code = self.currency.as_deref().unwrap_or("INR");
        let currency = Currency::parse(code).map_err(|_| ProviderError::unknown_currency(P, code))?;
        let money = |minor: Option<i64>| Money::from_minor(minor.unwrap_or(0), currency).to_amount();
        let total = self.amount.unwrap_or(0);
        let paid = self.amount_paid.unwrap_or(0);
        let due_at = self.expire_by.filter(|t| *t > 0);
        let status = match self.status.as_str() {
            "draft" => InvoiceStatus::Draft,
            "issued" => InvoiceStatus::Open,
            "partially_paid" => InvoiceStatus::PartiallyPaid,
            "paid" => InvoiceStatus::Paid,
            "cancelled" | "deleted" => InvoiceStatus::Void,
            "expired" => InvoiceStatus::Expired,
            _ => InvoiceStatus::Open,
        }
        .with_due_date(due_at, now);
        let customer = self.customer_details.map(|c| InvoiceCustomer {
            id: c.id.or(self.customer_id.clone()),
            name: text::untrusted_opt(c.name.or(c.customer_name).as_deref()),
            email: text::untrusted_opt(c.email.or(c.customer_email).as_deref()),
            phone: text::untrusted_opt(c.contact.or(c.customer_contact).as_deref()),
        });
        let line_items = self
            .line_items
            .into_iter()
            .map(|li| {
                let quantity = li.quantity.unwrap_or(1);
                let unit = li.unit_amount.or(li.amount);
                let line_total = li.net_amount.or(li.gross_amount).or(unit.map(|u| u * quantity));
                InvoiceLineItem {
                    description: text::untrusted_opt(li.name.or(li.description).as_deref()),
                    quantity,
                    unit_amount: unit.map(|u| Money::from_minor(u, currency).to_amount()),
                    amount: money(line_total),
                }
            })
            .collect();
        Ok(Invoice {
            id: self.id,
            provider: P,
            number: self.invoice_number,
            status,
            provider_status: self.status,
            currency: currency.code().to_string(),
            total: money(Some(total)),
            amount_paid: money(Some(paid)),
            amount_due: money(Some(self.amount_due.unwrap_or(total - paid))),
            customer: customer.unwrap_or_else(|| InvoiceCustomer { id: self.customer_id, ..Default::default() }),
            description: text::untrusted_opt(self.description.as_deref()),
            issued_at: self.issued_at.or(self.date).and_then(time::rfc3339),
            due_at: due_at.and_then(time::rfc3339),
            paid_at: self.paid_at.and_then(time::rfc3339),
            line_items,
            payment_url: self.short_url.filter(|u| !u.is_empty()),
            record_url: None,
            pending_updates: Vec::new(),
        })
    }
}
