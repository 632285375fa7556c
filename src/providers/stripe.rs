//! Stripe REST client: Bearer auth, a pinned `Stripe-Version`, form-encoded bodies, amounts in cents.

use super::http::{HttpClient, Reply, Retry};
use super::{Payments, ProviderError, SCAN_PAGE_SIZE, ScannedPage, scan};
use crate::config::StripeConfig;
use crate::domain::invoice::InvoiceStatus;
use crate::domain::{
    Currency, CustomerRef, Invoice, InvoiceCustomer, InvoiceLineItem, InvoicePage, InvoiceQuery, Money, Provider, text,
    time,
};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

const P: Provider = Provider::Stripe;

/// The API version every request pins, so a dashboard upgrade never changes what we parse.
/// `price_data` on payment links needs at least 2025-07-30.basil.
pub const STRIPE_API_VERSION: &str = "2026-07-29.dahlia";

pub struct StripeClient {
    http: Arc<HttpClient>,
    config: StripeConfig,
}

impl StripeClient {
    pub fn new(config: StripeConfig, http: Arc<HttpClient>) -> Self {
        StripeClient { http, config }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url.as_str().trim_end_matches('/'))
    }

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
                c.get(&url)
                    .bearer_auth(self.config.api_key.expose_secret())
                    .header("Stripe-Version", STRIPE_API_VERSION)
                    .query(query)
            })
            .await
            .map_err(|e| ProviderError::transport(P, e))?;
        decode(reply, object)
    }

    /// Stripe customer ids with this e-mail (exact match, read-after-write safe list filter).
    async fn customers_by_email(&self, email: &str) -> Result<Vec<String>, ProviderError> {
        let list: List<IdOnly> =
            self.get("/v1/customers", &[("email", email.to_string()), ("limit", "100".to_string())], None).await?;
        Ok(list.data.into_iter().map(|c| c.id).collect())
    }
}

fn decode<T: DeserializeOwned>(reply: Reply, object: Option<(&'static str, &str)>) -> Result<T, ProviderError> {
    if reply.status.is_success() {
        return serde_json::from_slice(&reply.body).map_err(|e| ProviderError::decode(P, e));
    }
    let error = serde_json::from_slice::<ErrorEnvelope>(&reply.body).ok().map(|e| e.error);
    let code = error.as_ref().and_then(|e| e.code.clone()).unwrap_or_default();
    if code == "rate_limit" {
        return Err(ProviderError::RateLimited { provider: P, retry_after: reply.retry_after });
    }
    let missing = reply.status.as_u16() == 404 || code == "resource_missing";
    let message = error.map(|e| match e.param {
        Some(param) => format!("{} (parameter: {param})", e.message.unwrap_or_default()),
        None => e.message.unwrap_or_default(),
    });
    Err(ProviderError::from_status(P, &reply, message, object.filter(|_| missing)))
}

#[async_trait::async_trait]
impl Payments for StripeClient {
    fn provider(&self) -> Provider {
        P
    }

    async fn get_invoice(&self, id: &str) -> Result<Invoice, ProviderError> {
        let wire: WireInvoice = self.get(&format!("/v1/invoices/{id}"), &[], Some(("invoice", id))).await?;
        wire.into_domain(time::now())
    }

    async fn list_invoices(&self, query: &InvoiceQuery) -> Result<InvoicePage, ProviderError> {
        let mut query = query.clone();
        // An e-mail usually names one Stripe customer: filter by that id server-side.
        if let Some(CustomerRef::Email(email)) = &query.customer {
            let ids = self.customers_by_email(email.as_str()).await?;
            match ids.as_slice() {
                [] => {
                    return Ok(InvoicePage { invoices: Vec::new(), next_position: None });
                }
                [only] => query.customer = Some(CustomerRef::Id(only.clone())),
                _ => {} // several customers share it: match invoices on `customer_email` instead
            }
        }
        let mut base: Vec<(&str, String)> = Vec::new();
        if let Some(CustomerRef::Id(id)) = &query.customer {
            base.push(("customer", id.clone()));
        }
        let pushed_status = query.status.and_then(|s| match s {
            InvoiceStatus::Draft => Some("draft"),
            InvoiceStatus::Open | InvoiceStatus::Overdue | InvoiceStatus::PartiallyPaid => Some("open"),
            InvoiceStatus::Paid => Some("paid"),
            InvoiceStatus::Void => Some("void"),
            InvoiceStatus::Uncollectible => Some("uncollectible"),
            InvoiceStatus::Expired => None,
        });
        if let Some(status) = pushed_status {
            base.push(("status", status.to_string()));
        }
        if let Some(from) = query.created_from {
            base.push(("created[gte]", from.to_string()));
        }
        if let Some(to) = query.created_to {
            base.push(("created[lte]", to.to_string()));
        }
        let exact = matches!(
            query.status,
            None | Some(
                InvoiceStatus::Draft | InvoiceStatus::Paid | InvoiceStatus::Void | InvoiceStatus::Uncollectible
            )
        ) && !matches!(query.customer, Some(CustomerRef::Email(_)));
        let page_size = if exact { query.limit + 1 } else { SCAN_PAGE_SIZE }.min(100);
        let now = time::now();
        scan(&query, page_size, |position, limit| {
            let mut params = base.clone();
            params.push(("limit", limit.to_string()));
            if let Some(after) = position {
                params.push(("starting_after", after));
            }
            async move {
                let list: List<WireInvoice> = self.get("/v1/invoices", &params, None).await?;
                let items = list
                    .data
                    .into_iter()
                    .map(|w| {
                        let id = w.id.clone();
                        Ok((w.into_domain(now)?, id))
                    })
                    .collect::<Result<Vec<_>, ProviderError>>()?;
                Ok(ScannedPage { items, more: list.has_more })
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
    code: Option<String>,
    message: Option<String>,
    param: Option<String>,
}

#[derive(Deserialize)]
struct List<T> {
    data: Vec<T>,
    #[serde(default)]
    has_more: bool,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

/// `customer` is an id, or the object when expanded.
#[derive(Deserialize)]
#[serde(untagged)]
enum Expandable {
    Id(String),
    Object(IdOnly),
}

#[derive(Deserialize)]
struct WireInvoice {
    id: String,
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
    fn into_domain(self, now: i64) -> Result<Invoice, ProviderError> {
        let currency = Currency::parse(&self.currency).map_err(|e| ProviderError::decode(P, e))?;
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
            id: self.id,
        })
    }
}
