//! Stripe REST client: Bearer auth, a pinned `Stripe-Version`, form-encoded bodies, amounts in cents.

use super::http::{HttpClient, Reply, Retry};
use super::{Payments, ProviderError, SCAN_PAGE_SIZE, ScannedPage, scan};
use crate::config::StripeConfig;
use crate::domain::invoice::InvoiceStatus;
use crate::domain::payment_link::{PaymentLink, PaymentLinkRequest};
use crate::domain::{CustomerRef, Invoice, InvoicePage, InvoiceQuery, Provider, time};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

mod invoices;
mod payment_links;

use invoices::WireInvoice;
use payment_links::{WireLink, WireSession};

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

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        object: Option<(&'static str, &str)>,
    ) -> Result<T, ProviderError> {
        self.call(Method::GET, path, query, None, object).await
    }

    /// A form-encoded POST. With an idempotency key Stripe replays the first answer, so it may be retried;
    /// without one it is sent once.
    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        form: &[(String, String)],
        idempotency_key: Option<&str>,
        object: Option<(&'static str, &str)>,
    ) -> Result<T, ProviderError> {
        self.call(Method::POST, path, &[], Some(Form { fields: form, idempotency_key }), object).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        form: Option<Form<'_>>,
        object: Option<(&'static str, &str)>,
    ) -> Result<T, ProviderError> {
        let url = super::http::endpoint(&self.config.base_url, path);
        let keyed = form.as_ref().is_some_and(|f| f.idempotency_key.is_some());
        let retry = if method == Method::GET || keyed { Retry::Safe } else { Retry::Never };
        let reply = self
            .http
            .send(retry, |c| {
                let request = c
                    .request(method.clone(), &url)
                    .bearer_auth(self.config.api_key.expose_secret())
                    .header("Stripe-Version", STRIPE_API_VERSION)
                    .query(query);
                match &form {
                    Some(Form { fields, idempotency_key: Some(key) }) => {
                        request.header("Idempotency-Key", *key).form(fields)
                    }
                    Some(Form { fields, idempotency_key: None }) => request.form(fields),
                    None => request,
                }
            })
            .await
            .map_err(|e| ProviderError::transport(P, e))?;
        decode(reply, object)
    }

    /// Checkout Sessions started from a payment link: where Stripe records what was paid through it.
    async fn sessions(&self, link_id: &str) -> Result<Vec<WireSession>, ProviderError> {
        let query = [("payment_link", link_id.to_string()), ("limit", "100".to_string())];
        let list: List<WireSession> = self.get("/v1/checkout/sessions", &query, None).await?;
        Ok(list.data)
    }

    /// Stripe customer ids with this e-mail (exact match, read-after-write safe list filter).
    async fn customers_by_email(&self, email: &str) -> Result<Vec<String>, ProviderError> {
        let list: List<IdOnly> =
            self.get("/v1/customers", &[("email", email.to_string()), ("limit", "100".to_string())], None).await?;
        Ok(list.data.into_iter().map(|c| c.id).collect())
    }
}

/// A form-encoded body and the idempotency key that makes re-sending it safe.
struct Form<'a> {
    fields: &'a [(String, String)],
    idempotency_key: Option<&'a str>,
}

fn decode<T: DeserializeOwned>(reply: Reply, object: Option<(&'static str, &str)>) -> Result<T, ProviderError> {
    if reply.status.is_success() {
        return reply.json(P);
    }
    let error = serde_json::from_slice::<ErrorEnvelope>(&reply.body).ok().map(|e| e.error);
    let code = error.as_ref().and_then(|e| e.code.clone()).unwrap_or_default();
    if code == "rate_limit" {
        return Err(ProviderError::RateLimited { provider: P.into(), retry_after: reply.retry_after });
    }
    if error.as_ref().and_then(|e| e.kind.as_deref()) == Some("idempotency_error") {
        let message = error.and_then(|e| e.message).unwrap_or_default();
        return Err(ProviderError::Conflict { provider: P.into(), message: reply.redact(&message) });
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

    fn check_payment_link(&self, request: &PaymentLinkRequest) -> Result<(), String> {
        payment_links::check(request)
    }

    async fn create_payment_link(&self, request: &PaymentLinkRequest, key: &str) -> Result<PaymentLink, ProviderError> {
        let form = payment_links::create_form(request, key);
        let wire: WireLink = self.post("/v1/payment_links", &form, Some(key), None).await?;
        let mut link = wire.into_domain(Some(request.amount), Vec::new())?;
        link.description = request.description.clone();
        Ok(link)
    }

    async fn find_payment_link(&self, key: &str) -> Result<Option<PaymentLink>, ProviderError> {
        // Stripe cannot filter links by metadata: walk the newest links (newest first) for our key.
        let mut after: Option<String> = None;
        for _ in 0..payment_links::FIND_PAGES {
            let mut query = vec![("limit", "100".to_string()), ("expand[]", "data.line_items".to_string())];
            if let Some(after) = &after {
                query.push(("starting_after", after.clone()));
            }
            let list: List<WireLink> = self.get("/v1/payment_links", &query, None).await?;
            after = list.data.last().map(|l| l.id.clone());
            let more = list.has_more;
            if let Some(link) = list
                .data
                .into_iter()
                .find(|l| l.metadata.get(payment_links::KEY_METADATA).map(String::as_str) == Some(key))
            {
                let sessions = self.sessions(&link.id).await?;
                return link.into_domain(None, sessions).map(Some);
            }
            if !more {
                break;
            }
        }
        Ok(None)
    }

    async fn get_payment_link(&self, id: &str) -> Result<PaymentLink, ProviderError> {
        let query = [("expand[]", "line_items".to_string())];
        let wire: WireLink = self.get(&format!("/v1/payment_links/{id}"), &query, Some(("payment link", id))).await?;
        let sessions = self.sessions(id).await?;
        wire.into_domain(None, sessions)
    }

    async fn cancel_payment_link(&self, id: &str) -> Result<PaymentLink, ProviderError> {
        let form = [("active".to_string(), "false".to_string())];
        let _: WireLink =
            self.post(&format!("/v1/payment_links/{id}"), &form, None, Some(("payment link", id))).await?;
        self.get_payment_link(id).await
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
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    message: Option<String>,
    param: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct List<T> {
    pub(super) data: Vec<T>,
    #[serde(default)]
    pub(super) has_more: bool,
}

#[derive(Deserialize)]
pub(super) struct IdOnly {
    pub(super) id: String,
}
