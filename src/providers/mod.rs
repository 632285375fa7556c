//! Provider clients and the seams between them and the tools.
//!
//! Seams: [`Invoices`] (Razorpay, Stripe, Notion) and [`PaymentLinks`] (Razorpay, Stripe), used as `Arc<dyn …>` through
//! the [`Registry`], which also knows each provider's ids ([`registry::Profile`]). The CRM has one
//! implementation, so it is the concrete [`hubspot::HubSpotClient`]. Each client speaks its provider's real
//! wire format over the shared plumbing in [`http`] and maps it to the provider-neutral types in
//! [`crate::domain`]; [`ProviderError`] is what can go wrong, in words the model can act on.

pub mod api;
pub mod http;
pub mod hubspot;
pub mod notion;
pub mod razorpay;
pub mod redact;
pub mod registry;
pub mod stripe;
pub mod whatsapp;

pub use registry::{IdKind, Registry, Unserved};

use crate::domain::payment_link::{PaymentLink, PaymentLinkRequest};
use crate::domain::{Invoice, InvoicePage, InvoiceQuery, ProviderId};
use redact::Redacted;
use std::future::Future;
use std::time::Duration;

/// An invoice book: Razorpay, Stripe, or a Notion database.
#[async_trait::async_trait]
pub trait Invoices: Send + Sync {
    fn provider(&self) -> ProviderId;

    /// One invoice by id. The id has already been checked against this provider's format.
    async fn get_invoice(&self, id: &str) -> Result<Invoice, ProviderError>;

    /// A page of invoices matching `query`, oldest position first as the provider orders them.
    async fn list_invoices(&self, query: &InvoiceQuery) -> Result<InvoicePage, ProviderError>;
}

/// Payment links: Razorpay and Stripe.
#[async_trait::async_trait]
pub trait PaymentLinks: Send + Sync {
    fn provider(&self) -> ProviderId;

    /// Refuse, before anything is sent, a request this provider cannot honour exactly (a sentence naming the
    /// argument), so no argument is ever silently dropped.
    fn check_payment_link(&self, request: &PaymentLinkRequest) -> Result<(), String>;

    /// How long after a create the provider is sure to still recognise its idempotency key; `None` when it
    /// always does. Past it, a create that ended without an answer is never re-sent automatically.
    fn key_memory(&self) -> Option<Duration> {
        None
    }

    /// Create a payment link carrying `key` as the provider's idempotency handle (Stripe `Idempotency-Key`,
    /// Razorpay `reference_id`). Sent once; an unknown outcome is reported, never retried blindly.
    async fn create_payment_link(&self, request: &PaymentLinkRequest, key: &str) -> Result<PaymentLink, ProviderError>;

    /// The link an earlier create with `key` made, if the provider has one.
    async fn find_payment_link(&self, key: &str) -> Result<Option<PaymentLink>, ProviderError>;

    async fn get_payment_link(&self, id: &str) -> Result<PaymentLink, ProviderError>;

    async fn cancel_payment_link(&self, id: &str) -> Result<PaymentLink, ProviderError>;
}

/// Everything that can go wrong talking to a provider, in words the model can act on.
/// Messages never carry credentials: every text is [`Redacted`], which only the configured
/// [`Redactor`](redact::Redactor) makes from upstream text.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(
        "{provider} has no {what} with id '{id}'. Check the id (ids are case-sensitive) or list them to find the right one."
    )]
    NotFound { provider: ProviderId, what: &'static str, id: String },
    #[error(
        "{provider} has no {what} '{id}' that Switchboard's integration can see. Check the id; if it exists, share its database with the integration in {provider} (the database's ••• menu → Connections → add the integration)."
    )]
    Unshared { provider: ProviderId, what: &'static str, id: String },
    #[error("{provider} is not set up the way Switchboard needs: {message}")]
    Misconfigured { provider: ProviderId, message: Redacted },
    #[error(
        "{provider} rejected Switchboard's API credentials. The server's {provider} key is wrong, revoked, or for the other mode (test vs live); fix it in the server configuration and restart. Retrying will not help."
    )]
    Unauthorized { provider: ProviderId },
    #[error(
        "{provider} refused this operation for the configured API key: {message}. Give the key the needed permission (restricted keys need it granted explicitly)."
    )]
    Forbidden { provider: ProviderId, message: Redacted },
    #[error("{provider} is rate limiting requests and Switchboard's retries ran out. {}", retry_hint(*retry_after))]
    RateLimited { provider: ProviderId, retry_after: Option<Duration> },
    #[error("{provider} rejected the request: {message}")]
    Rejected { provider: ProviderId, message: Redacted },
    #[error("{provider} reports a conflicting request still in flight or already made: {message}")]
    Conflict { provider: ProviderId, message: Redacted },
    #[error("{provider} had a server error (HTTP {status}) and retries ran out: {message}. Try again in a minute.")]
    Upstream { provider: ProviderId, status: u16, message: Redacted },
    #[error("{provider} did not answer in time. For a read, try again; the call was retried already.")]
    Timeout { provider: ProviderId },
    #[error("{provider} answered with an error that does not say whether the request was carried out: {message}.")]
    Uncertain { provider: ProviderId, message: Redacted },
    #[error(
        "could not connect to {provider} ({message}); nothing was sent. Check the network or the base URL and try again."
    )]
    Unreachable { provider: ProviderId, message: Redacted },
    #[error("the connection to {provider} failed mid-request: {message}")]
    Network { provider: ProviderId, message: Redacted },
    #[error(
        "{provider} sent a response Switchboard could not read ({message}). This is a Switchboard bug or an API change; please report it."
    )]
    Decode { provider: ProviderId, message: Redacted },
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!("It asks to wait {} s before the next try.", d.as_secs().max(1)),
        None => "Wait a little and try again.".to_string(),
    }
}

impl ProviderError {
    /// For a write: true when the provider may or may not have acted (no answer, or a server error), so the
    /// object must be looked up before anything is re-sent.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            ProviderError::Timeout { .. }
                | ProviderError::Uncertain { .. }
                | ProviderError::Network { .. }
                | ProviderError::Upstream { .. }
                | ProviderError::Conflict { .. }
                // A success we could not read: the object exists.
                | ProviderError::Decode { .. }
        )
    }

    pub(crate) fn transport(provider: ProviderId, e: http::TransportError) -> Self {
        match e {
            http::TransportError::Timeout => ProviderError::Timeout { provider },
            http::TransportError::Connect(message) => ProviderError::Unreachable { provider, message },
            http::TransportError::Other(message) => ProviderError::Network { provider, message },
        }
    }

    /// Map a non-success HTTP answer by its status. `message` is the provider's own error text, redacted.
    pub(crate) fn from_status(provider: ProviderId, reply: &http::Reply, message: Redacted) -> Self {
        let status = reply.status.as_u16();
        match status {
            401 => ProviderError::Unauthorized { provider },
            403 => ProviderError::Forbidden { provider, message },
            409 => ProviderError::Conflict { provider, message },
            429 => ProviderError::RateLimited { provider, retry_after: reply.retry_after },
            500.. => ProviderError::Upstream { provider, status, message },
            _ => ProviderError::Rejected { provider, message },
        }
    }

    /// The provider sent a currency Switchboard does not know. Only a three-letter code is quoted: anything
    /// else is upstream text that could hold anything, a credential included.
    pub(crate) fn unknown_currency(provider: ProviderId, code: &str) -> Self {
        let code = code.trim();
        let message = if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
            format!("unknown currency code '{code}'")
        } else {
            "a currency that is not a three-letter ISO 4217 code".to_string()
        };
        ProviderError::Decode { provider, message: Redacted::own(message) }
    }
}

/// Items of one provider page, each with the position just after it, for [`scan`]. `None`: a row examined but
/// left out (one the client could not read, and logged).
pub(crate) struct ScannedPage {
    pub items: Vec<(Option<Invoice>, String)>,
    /// Whether the provider has items after this page.
    pub more: bool,
    /// The position after the whole page, when its last item's position may not say it (a page with no items
    /// left to examine but more behind it).
    pub end: Option<String>,
}

/// Most provider pages one `list_invoices` call reads when filtering client-side.
const MAX_SCAN_PAGES: usize = 5;
/// Page size when filters run client-side (the largest both providers allow).
pub(crate) const SCAN_PAGE_SIZE: usize = 100;

/// Walk provider pages from `query.position`, keep invoices that pass `query.accepts`, and stop at
/// `query.limit` matches, the end of the data, or the page budget. The returned position points just
/// after the last invoice examined, so the next call resumes exactly there.
pub(crate) async fn scan<F, Fut>(
    query: &InvoiceQuery,
    page_size: usize,
    mut fetch: F,
) -> Result<InvoicePage, ProviderError>
where
    F: FnMut(Option<String>, usize) -> Fut,
    Fut: Future<Output = Result<ScannedPage, ProviderError>>,
{
    let mut position = query.position.clone();
    let mut invoices = Vec::new();
    for _ in 0..MAX_SCAN_PAGES {
        let page = fetch(position.clone(), page_size).await?;
        for (invoice, after) in page.items {
            if invoices.len() == query.limit {
                return Ok(InvoicePage { invoices, next_position: position });
            }
            position = Some(after);
            if let Some(invoice) = invoice.filter(|i| query.accepts(i)) {
                invoices.push(invoice);
            }
        }
        if !page.more {
            return Ok(InvoicePage { invoices, next_position: None });
        }
        // Every item of the page was examined: continue after the page, even if it had none to examine.
        if let Some(end) = page.end {
            position = Some(end);
        }
        if invoices.len() == query.limit {
            break;
        }
    }
    Ok(InvoicePage { invoices, next_position: position })
}
