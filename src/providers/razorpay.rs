//! Razorpay REST client: Basic auth (`key_id:key_secret`), JSON bodies, amounts in paise.
//!
//! Wire quirks handled here: "not found" arrives as HTTP 400 ("The id provided does not exist"),
//! `notes` is `[]`, `{}` or `null`, amounts may be numbers or numeric strings, unset times are `null` or `0`.

use super::http::{HttpClient, Reply, Retry};
use super::{Payments, ProviderError, SCAN_PAGE_SIZE, ScannedPage, scan};
use crate::config::RazorpayConfig;
use crate::domain::invoice::InvoiceStatus;
use crate::domain::{
    Currency, CustomerRef, Invoice, InvoiceCustomer, InvoiceLineItem, InvoicePage, InvoiceQuery, Money, Provider, text,
    time,
};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

const P: Provider = Provider::Razorpay;

pub struct RazorpayClient {
    http: Arc<HttpClient>,
    config: RazorpayConfig,
}

impl RazorpayClient {
    pub fn new(config: RazorpayConfig, http: Arc<HttpClient>) -> Self {
        RazorpayClient { http, config }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url.as_str().trim_end_matches('/'))
    }

    /// GET `path` and decode the body, mapping Razorpay's error envelope.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        object: Option<(&'static str, &str)>,
    ) -> Result<T, ProviderError> {
        let url = self.url(path);
        let reply = self
            .http
            .send(Retry::Safe, |c| {
                c.get(&url).basic_auth(&self.config.key_id, Some(self.config.key_secret.expose_secret())).query(query)
            })
            .await
            .map_err(|e| ProviderError::transport(P, e))?;
        decode(reply, object)
    }
}

fn decode<T: DeserializeOwned>(reply: Reply, object: Option<(&'static str, &str)>) -> Result<T, ProviderError> {
    if reply.status.is_success() {
        return serde_json::from_slice(&reply.body).map_err(|e| ProviderError::decode(P, e));
    }
    let error = serde_json::from_slice::<ErrorEnvelope>(&reply.body).ok().map(|e| e.error);
    let description = error.as_ref().and_then(|e| e.description.clone());
    let missing = reply.status.as_u16() == 404
        || (reply.status.as_u16() == 400
            && description.as_deref().is_some_and(|d| d.contains("does not exist") || d.starts_with("invalid input")));
    let message = error.map(|e| match e.field.filter(|f| !f.is_empty() && f != "NA") {
        Some(field) => format!("{} (field: {field})", e.description.unwrap_or_default()),
        None => e.description.unwrap_or_default(),
    });
    Err(ProviderError::from_status(P, &reply, message, object.filter(|_| missing)))
}

#[async_trait::async_trait]
impl Payments for RazorpayClient {
    fn provider(&self) -> Provider {
        P
    }

    async fn get_invoice(&self, id: &str) -> Result<Invoice, ProviderError> {
        let wire: WireInvoice = self.get(&format!("/v1/invoices/{id}"), &[], Some(("invoice", id))).await?;
        wire.into_domain(time::now())
    }

    async fn list_invoices(&self, query: &InvoiceQuery) -> Result<InvoicePage, ProviderError> {
        let mut base: Vec<(&str, String)> = vec![("type", "invoice".to_string())];
        if let Some(CustomerRef::Id(id)) = &query.customer {
            base.push(("customer_id", id.clone()));
        }
        if let Some(from) = query.created_from {
            base.push(("from", from.to_string()));
        }
        if let Some(to) = query.created_to {
            base.push(("to", to.to_string()));
        }
        // Razorpay cannot filter by status or customer e-mail: those run client-side over bigger pages.
        let client_side = query.status.is_some() || matches!(query.customer, Some(CustomerRef::Email(_)));
        let page_size = if client_side { SCAN_PAGE_SIZE } else { query.limit + 1 };
        let now = time::now();
        scan(query, page_size, |position, count| {
            let mut params = base.clone();
            let skip: usize = position.and_then(|p| p.parse().ok()).unwrap_or(0);
            params.push(("count", count.to_string()));
            params.push(("skip", skip.to_string()));
            async move {
                let collection: Collection<WireInvoice> = self.get("/v1/invoices", &params, None).await?;
                let more = collection.items.len() >= count;
                let items = collection
                    .items
                    .into_iter()
                    .enumerate()
                    .map(|(i, w)| Ok((w.into_domain(now)?, (skip + i + 1).to_string())))
                    .collect::<Result<Vec<_>, ProviderError>>()?;
                Ok(ScannedPage { items, more })
            }
        })
        .await
    }
}

// ---- wire format ----

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: WireError,
}

#[derive(Deserialize)]
struct WireError {
    description: Option<String>,
    field: Option<String>,
}

#[derive(Deserialize)]
struct Collection<T> {
    items: Vec<T>,
}

#[derive(Deserialize)]
struct WireInvoice {
    id: String,
    invoice_number: Option<String>,
    status: String,
    currency: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    amount: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    amount_paid: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    amount_due: Option<i64>,
    customer_id: Option<String>,
    customer_details: Option<WireCustomer>,
    #[serde(default)]
    line_items: Vec<WireLineItem>,
    description: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    issued_at: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    paid_at: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    expire_by: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
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
    #[serde(default, deserialize_with = "lenient::int")]
    amount: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    unit_amount: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    gross_amount: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    net_amount: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    quantity: Option<i64>,
}

impl WireInvoice {
    fn into_domain(self, now: i64) -> Result<Invoice, ProviderError> {
        let currency =
            Currency::parse(self.currency.as_deref().unwrap_or("INR")).map_err(|e| ProviderError::decode(P, e))?;
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
        })
    }
}

/// Razorpay sends integers as numbers, sometimes as strings, and `null` for unset.
mod lenient {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrString {
        Int(i64),
        Float(f64),
        Text(String),
    }

    pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Ok(match Option::<IntOrString>::deserialize(d)? {
            Some(IntOrString::Int(i)) => Some(i),
            // Whole numbers only: a fractional paise value would be a wire bug, so it is not rounded.
            Some(IntOrString::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
            Some(IntOrString::Float(_)) => {
                return Err(serde::de::Error::custom("expected an integer amount"));
            }
            Some(IntOrString::Text(s)) if s.trim().is_empty() => None,
            Some(IntOrString::Text(s)) => Some(s.trim().parse().map_err(serde::de::Error::custom)?),
            None => None,
        })
    }
}
