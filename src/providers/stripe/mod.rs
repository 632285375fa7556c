//! Stripe REST client: Bearer auth, a pinned `Stripe-Version`, form-encoded bodies, amounts in cents.

use super::api::{Api, Auth, Body, Call, ErrorBody, Meaning, Object};
use super::http::HttpClient;
use super::registry::{self, Capability, Claim, IdKind};
use super::{Invoices, PaymentLinks, ProviderError, SCAN_PAGE_SIZE, ScannedPage, scan};
use crate::config::{StripeConfig, env};
use crate::domain::invoice::InvoiceStatus;
use crate::domain::payment_link::{PaymentLink, PaymentLinkRequest};
use crate::domain::{CustomerRef, Invoice, InvoicePage, InvoiceQuery, ProviderId, time, validate_object_id};
use reqwest::StatusCode;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

mod invoices;
mod payment_links;

use invoices::WireInvoice;
use payment_links::{WireLink, WireSession};

const P: ProviderId = ProviderId::Stripe;

/// What Stripe says about itself: how to configure it, and its ids (a prefix, then 24 or so characters).
pub struct StripeProfile;
pub static PROFILE: StripeProfile = StripeProfile;

/// Stripe ids are long; one with at most this many characters after its prefix is not likely Stripe's.
const SHORTEST_LIKELY_ID: usize = 15;

/// Past this age a Stripe idempotency key may have been pruned (Stripe keeps them at least 24 hours).
const KEY_MEMORY: Duration = Duration::from_secs(23 * 3600);

impl StripeProfile {
    fn prefix(kind: IdKind) -> &'static str {
        match kind {
            IdKind::Invoice => "in_",
            IdKind::Customer => "cus_",
            IdKind::PaymentLink => "plink_",
        }
    }
}

impl registry::Profile for StripeProfile {
    fn id(&self) -> ProviderId {
        P
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[Capability::Invoices, Capability::PaymentLinks]
    }

    fn setup(&self) -> String {
        format!("set {} in the server's environment (or the [stripe] section of its config file)", env::STRIPE_API_KEY)
    }

    fn claim(&self, kind: IdKind, id: &str) -> Claim {
        let prefix = Self::prefix(kind);
        match kind {
            // Razorpay's payment links share the prefix; Stripe's are the long ones.
            IdKind::PaymentLink
                if self.check_id(kind, "id", id).is_ok() && id.len() >= prefix.len() + SHORTEST_LIKELY_ID =>
            {
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
            IdKind::Invoice => "in_…",
            IdKind::Customer => "cus_…",
            IdKind::PaymentLink => "plink_…",
        })
    }
}

/// The API version every request pins, so a dashboard upgrade never changes what we parse.
/// `price_data` on payment links needs at least 2025-07-30.basil.
pub const STRIPE_API_VERSION: &str = "2026-07-29.dahlia";

pub struct StripeClient {
    api: Api<ErrorEnvelope>,
}

impl StripeClient {
    pub fn new(config: StripeConfig, http: Arc<HttpClient>) -> Self {
        let api = Api::new(P, config.base_url, Auth::Bearer(config.api_key), http)
            .with_headers(&[("Stripe-Version", STRIPE_API_VERSION)]);
        StripeClient { api }
    }

    /// One harmless read (a page of one payment link) to learn whether the key works and may read payment
    /// links: for `switchboard doctor`.
    pub async fn check(&self) -> Result<(), ProviderError> {
        let query = [("limit", "1".to_string())];
        let _: serde_json::Value = self.api.call(Call::get("/v1/payment_links").query(&query)).await?;
        Ok(())
    }

    /// Checkout Sessions started from a payment link: where Stripe records what was paid through it.
    async fn sessions(&self, link_id: &str) -> Result<Vec<WireSession>, ProviderError> {
        let query = [("payment_link", link_id.to_string()), ("limit", "100".to_string())];
        let list: List<WireSession> = self.api.call(Call::get("/v1/checkout/sessions").query(&query)).await?;
        Ok(list.data)
    }

    /// Stripe customer ids with this e-mail (exact match, read-after-write safe list filter).
    async fn customers_by_email(&self, email: &str) -> Result<Vec<String>, ProviderError> {
        let query = [("email", email.to_string()), ("limit", "100".to_string())];
        let list: List<IdOnly> = self.api.call(Call::get("/v1/customers").query(&query)).await?;
        Ok(list.data.into_iter().map(|c| c.id).collect())
    }
}

#[async_trait::async_trait]
impl PaymentLinks for StripeClient {
    fn provider(&self) -> ProviderId {
        P
    }

    fn key_memory(&self) -> Option<Duration> {
        Some(KEY_MEMORY)
    }

    fn check_payment_link(&self, request: &PaymentLinkRequest) -> Result<(), String> {
        payment_links::check(request)
    }

    async fn create_payment_link(&self, request: &PaymentLinkRequest, key: &str) -> Result<PaymentLink, ProviderError> {
        let form = payment_links::create_form(request, key);
        let wire: WireLink =
            self.api.call(Call::post("/v1/payment_links", Body::Form(form.as_slice())).idempotency_key(key)).await?;
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
            let list: List<WireLink> = self.api.call(Call::get("/v1/payment_links").query(&query)).await?;
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
        let path = format!("/v1/payment_links/{id}");
        let call = Call::get(&path).query(&query).about(Object::new("payment link", id));
        let wire: WireLink = self.api.call(call).await?;
        let sessions = self.sessions(id).await?;
        wire.into_domain(None, sessions)
    }

    async fn cancel_payment_link(&self, id: &str) -> Result<PaymentLink, ProviderError> {
        let form = [("active", "false")];
        let path = format!("/v1/payment_links/{id}");
        let call = Call::post(&path, Body::Form(&form)).about(Object::new("payment link", id));
        let _: WireLink = self.api.call(call).await?;
        self.get_payment_link(id).await
    }
}

#[async_trait::async_trait]
impl Invoices for StripeClient {
    fn provider(&self) -> ProviderId {
        P
    }

    async fn get_invoice(&self, id: &str) -> Result<Invoice, ProviderError> {
        let path = format!("/v1/invoices/{id}");
        let wire: WireInvoice = self.api.call(Call::get(&path).about(Object::new("invoice", id))).await?;
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
                let list: List<WireInvoice> = self.api.call(Call::get("/v1/invoices").query(&params)).await?;
                let items = list
                    .data
                    .into_iter()
                    .map(|w| {
                        let id = w.id.clone();
                        Ok((Some(w.into_domain(now)?), id))
                    })
                    .collect::<Result<Vec<_>, ProviderError>>()?;
                Ok(ScannedPage { items, more: list.has_more, end: None })
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

impl ErrorBody for ErrorEnvelope {
    fn meaning(&self, _status: StatusCode) -> Meaning {
        match (self.error.kind.as_deref(), self.error.code.as_deref()) {
            (_, Some("rate_limit")) => Meaning::RateLimited,
            // The same Idempotency-Key with different parameters, or its first request still running.
            (Some("idempotency_error"), _) => Meaning::Conflict,
            (_, Some("resource_missing")) => Meaning::NotFound,
            _ => Meaning::Status,
        }
    }

    fn into_message(self) -> Option<String> {
        let e = self.error;
        Some(match e.param {
            Some(param) => format!("{} (parameter: {param})", e.message.unwrap_or_default()),
            None => e.message.unwrap_or_default(),
        })
    }
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
