//! Razorpay REST client: Basic auth (`key_id:key_secret`), JSON bodies, amounts in paise.
//!
//! Wire quirks handled here: "not found" arrives as HTTP 400 ("The id provided does not exist"),
//! `notes` is `[]`, `{}` or `null`, amounts may be numbers or numeric strings, unset times are `null` or `0`.

use super::api::{Api, Auth, Body, Call, ErrorBody, Meaning, Object};
use super::http::HttpClient;
use super::registry::{self, Capability, Claim, IdKind};
use super::{Invoices, PaymentLinks, ProviderError, SCAN_PAGE_SIZE, ScannedPage, scan};
use crate::config::{RazorpayConfig, env};
use crate::domain::payment_link::{PaymentLink, PaymentLinkRequest};
use crate::domain::{CustomerRef, Invoice, InvoicePage, InvoiceQuery, ProviderId, time, validate_object_id};
use reqwest::StatusCode;
use serde::Deserialize;
use std::sync::Arc;

mod invoices;
mod lenient;
mod payment_links;

use invoices::WireInvoice;
use payment_links::{LinkList, WireLink};

const P: ProviderId = ProviderId::Razorpay;

/// What Razorpay says about itself: how to configure it, and its ids (a prefix, then exactly 14 characters).
pub struct RazorpayProfile;
pub static PROFILE: RazorpayProfile = RazorpayProfile;

/// Razorpay ids carry exactly this many characters after their prefix.
const ID_LEN: usize = 14;

impl RazorpayProfile {
    fn prefix(kind: IdKind) -> &'static str {
        match kind {
            IdKind::Invoice => "inv_",
            IdKind::Customer => "cust_",
            IdKind::PaymentLink => "plink_",
        }
    }
}

impl registry::Profile for RazorpayProfile {
    fn id(&self) -> ProviderId {
        P
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[Capability::Invoices, Capability::PaymentLinks]
    }

    fn setup(&self) -> String {
        format!(
            "set {} and {} in the server's environment (or the [razorpay] section of its config file)",
            env::RAZORPAY_KEY_ID,
            env::RAZORPAY_KEY_SECRET
        )
    }

    fn claim(&self, kind: IdKind, id: &str) -> Claim {
        let prefix = Self::prefix(kind);
        match kind {
            // Stripe's payment links share the prefix; only the length tells them apart.
            IdKind::PaymentLink if self.check_id(kind, "id", id).is_ok() && id.len() == prefix.len() + ID_LEN => {
                Claim::Likely
            }
            IdKind::PaymentLink => Claim::No,
            IdKind::Invoice | IdKind::Customer if id.starts_with(prefix) => Claim::Certain,
            IdKind::Invoice | IdKind::Customer => Claim::No,
        }
    }

    fn check_id(&self, kind: IdKind, field: &str, id: &str) -> Result<(), String> {
        validate_object_id(field, id, &[Self::prefix(kind)])
    }

    fn id_shape(&self, kind: IdKind) -> Option<&'static str> {
        Some(match kind {
            IdKind::Invoice => "inv_…",
            IdKind::Customer => "cust_…",
            IdKind::PaymentLink => "plink_…",
        })
    }
}

pub struct RazorpayClient {
    api: Api<ErrorEnvelope>,
}

impl RazorpayClient {
    pub fn new(config: RazorpayConfig, http: Arc<HttpClient>) -> Self {
        let auth = Auth::Basic { user: config.key_id, password: config.key_secret };
        RazorpayClient { api: Api::new(P, config.base_url, auth, http) }
    }

    /// One harmless read (a page of one payment link) to learn whether the credentials work: for
    /// `switchboard doctor`.
    pub async fn check(&self) -> Result<(), ProviderError> {
        let query = [("count", "1".to_string())];
        let _: serde_json::Value = self.api.call(Call::get("/v1/payment_links").query(&query)).await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl PaymentLinks for RazorpayClient {
    fn provider(&self) -> ProviderId {
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
        let body = payment_links::CreateLink::new(request, key);
        let created = self.api.call::<WireLink, _>(Call::post("/v1/payment_links", Body::Json(&body))).await;
        match created {
            Ok(link) => link.into_domain(),
            // Our key is the link's unique reference_id: this answer means an earlier attempt created it.
            Err(ProviderError::Rejected { message, .. })
                if message.as_str().contains("reference ID already attempted") =>
            {
                self.find_payment_link(key).await?.ok_or(ProviderError::Conflict { provider: P, message })
            }
            Err(e) => Err(e),
        }
    }

    async fn find_payment_link(&self, key: &str) -> Result<Option<PaymentLink>, ProviderError> {
        let query = [("reference_id", key.to_string())];
        let list: LinkList = self.api.call(Call::get("/v1/payment_links").query(&query)).await?;
        list.payment_links.into_iter().next().map(WireLink::into_domain).transpose()
    }

    async fn get_payment_link(&self, id: &str) -> Result<PaymentLink, ProviderError> {
        let path = format!("/v1/payment_links/{id}");
        let wire: WireLink = self.api.call(Call::get(&path).about(Object::new("payment link", id))).await?;
        wire.into_domain()
    }

    async fn cancel_payment_link(&self, id: &str) -> Result<PaymentLink, ProviderError> {
        let path = format!("/v1/payment_links/{id}/cancel");
        let wire: WireLink = self.api.call(Call::post_empty(&path).about(Object::new("payment link", id))).await?;
        wire.into_domain()
    }
}

#[async_trait::async_trait]
impl Invoices for RazorpayClient {
    fn provider(&self) -> ProviderId {
        P
    }

    async fn get_invoice(&self, id: &str) -> Result<Invoice, ProviderError> {
        let path = format!("/v1/invoices/{id}");
        let wire: WireInvoice = self.api.call(Call::get(&path).about(Object::new("invoice", id))).await?;
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
                let collection: Collection<WireInvoice> =
                    self.api.call(Call::get("/v1/invoices").query(&params)).await?;
                let more = collection.items.len() >= count;
                let items = collection
                    .items
                    .into_iter()
                    .enumerate()
                    .map(|(i, w)| Ok((Some(w.into_domain(now)?), (skip + i + 1).to_string())))
                    .collect::<Result<Vec<_>, ProviderError>>()?;
                Ok(ScannedPage { items, more, end: None })
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

impl ErrorBody for ErrorEnvelope {
    /// Razorpay answers a missing object with 400 and "The id provided does not exist" (or "invalid input" for
    /// an id of the wrong shape).
    fn meaning(&self, status: StatusCode) -> Meaning {
        let description = self.error.description.as_deref().unwrap_or_default();
        let missing = description.contains("does not exist") || description.starts_with("invalid input");
        if status == StatusCode::BAD_REQUEST && missing { Meaning::NotFound } else { Meaning::Status }
    }

    fn into_message(self) -> Option<String> {
        let e = self.error;
        Some(match e.field.filter(|f| !f.is_empty() && f != "NA") {
            Some(field) => format!("{} (field: {field})", e.description.unwrap_or_default()),
            None => e.description.unwrap_or_default(),
        })
    }
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
