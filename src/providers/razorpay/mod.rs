//! Razorpay REST client: Basic auth (`key_id:key_secret`), JSON bodies, amounts in paise.
//!
//! Wire quirks handled here: "not found" arrives as HTTP 400 ("The id provided does not exist"),
//! `notes` is `[]`, `{}` or `null`, amounts may be numbers or numeric strings, unset times are `null` or `0`.

use super::http::{HttpClient, Reply, Retry};
use super::{Payments, ProviderError, SCAN_PAGE_SIZE, ScannedPage, scan};
use crate::config::RazorpayConfig;
use crate::domain::payment_link::{PaymentLink, PaymentLinkRequest};
use crate::domain::{CustomerRef, Invoice, InvoicePage, InvoiceQuery, Provider, time};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

mod invoices;
mod lenient;
mod payment_links;

use invoices::WireInvoice;
use payment_links::{LinkList, WireLink};

const P: Provider = Provider::Razorpay;

pub struct RazorpayClient {
    http: Arc<HttpClient>,
    config: RazorpayConfig,
}

impl RazorpayClient {
    pub fn new(config: RazorpayConfig, http: Arc<HttpClient>) -> Self {
        RazorpayClient { http, config }
    }

    /// GET `path` and decode the body, mapping Razorpay's error envelope.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        object: Option<(&'static str, &str)>,
    ) -> Result<T, ProviderError> {
        self.call(Method::GET, path, query, None, Retry::Safe, object).await
    }

    /// One Razorpay call with Basic auth and an optional JSON body.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        retry: Retry,
        object: Option<(&'static str, &str)>,
    ) -> Result<T, ProviderError> {
        let url = super::http::endpoint(&self.config.base_url, path);
        let reply = self
            .http
            .send(retry, |c| {
                let request = c
                    .request(method.clone(), &url)
                    .basic_auth(&self.config.key_id, Some(self.config.key_secret.expose_secret()))
                    .query(query);
                match body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await
            .map_err(|e| ProviderError::transport(P, e))?;
        decode(reply, object)
    }
}

fn decode<T: DeserializeOwned>(reply: Reply, object: Option<(&'static str, &str)>) -> Result<T, ProviderError> {
    if reply.status.is_success() {
        return reply.json(P);
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

    fn check_payment_link(&self, request: &PaymentLinkRequest) -> Result<(), String> {
        if let Some(expires_at) = request.expires_at {
            let ahead = expires_at - time::now();
            if ahead < payment_links::MIN_EXPIRY_SECONDS {
                return Err("expires_at must be at least 15 minutes in the future for Razorpay".into());
            }
            if ahead > payment_links::MAX_EXPIRY_SECONDS {
                return Err("expires_at can be at most 180 days ahead for Razorpay".into());
            }
        }
        Ok(())
    }

    async fn create_payment_link(&self, request: &PaymentLinkRequest, key: &str) -> Result<PaymentLink, ProviderError> {
        let body = payment_links::create_body(request, key);
        let created =
            self.call::<WireLink>(Method::POST, "/v1/payment_links", &[], Some(&body), Retry::Never, None).await;
        match created {
            Ok(link) => link.into_domain(),
            // Our key is the link's unique reference_id: this answer means an earlier attempt created it.
            Err(ProviderError::Rejected { message, .. })
                if message.as_str().contains("reference ID already attempted") =>
            {
                self.find_payment_link(key).await?.ok_or(ProviderError::Conflict { provider: P.into(), message })
            }
            Err(e) => Err(e),
        }
    }

    async fn find_payment_link(&self, key: &str) -> Result<Option<PaymentLink>, ProviderError> {
        let list: LinkList = self.get("/v1/payment_links", &[("reference_id", key.to_string())], None).await?;
        list.payment_links.into_iter().next().map(WireLink::into_domain).transpose()
    }

    async fn get_payment_link(&self, id: &str) -> Result<PaymentLink, ProviderError> {
        let wire: WireLink = self.get(&format!("/v1/payment_links/{id}"), &[], Some(("payment link", id))).await?;
        wire.into_domain()
    }

    async fn cancel_payment_link(&self, id: &str) -> Result<PaymentLink, ProviderError> {
        let path = format!("/v1/payment_links/{id}/cancel");
        let wire: WireLink =
            self.call(Method::POST, &path, &[], None, Retry::Never, Some(("payment link", id))).await?;
        wire.into_domain()
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
        let page_size = if client_side { SCAN_PAGE_SIZE } else { (query.limit + 1).min(SCAN_PAGE_SIZE) };
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
