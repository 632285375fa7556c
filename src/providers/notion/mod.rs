//! Notion as the invoice book: a database whose rows are invoices, read and kept true through Notion's API
//! (`Notion-Version` 2025-09-03: data sources), with the integration's Bearer token.
//!
//! - [`schema`]: the configured database resolved to its data source, and its properties checked against the
//!   property map (once, before the first call; a failure is retried on the next call).
//! - [`page`]: a page → the provider-neutral [`Invoice`]; amounts read exactly or refused.
//! - [`query`]: `list_invoices` filters → a data source query, and positions inside Notion's cursor pages.
//!
//! Writes ([`NotionClient::update`]) set properties to given values, so repeating one changes nothing more:
//! the write-back queue may retry them freely.

pub mod page;
pub mod query;
pub mod schema;

use super::api::{Api, Auth, Body, Call, ErrorBody, Meaning, Object};
use super::http::{HttpClient, Retry};
use super::registry::{self, Capability, Claim, IdKind};
use super::{Invoices, ProviderError, ScannedPage, scan};
use crate::config::{NotionConfig, env, notion_id};
use crate::domain::{Invoice, InvoicePage, InvoiceQuery, ProviderId, time};
use reqwest::StatusCode;
use schema::{Book, StatusKind};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::OnceCell;

const P: ProviderId = ProviderId::Notion;

/// The Notion API version every request pins (data sources; the SDK's default since v5).
pub const NOTION_VERSION: &str = "2025-09-03";

/// What Notion says about itself: how to set it up, and its ids (page ids: 32 hex digits, or a page's URL).
pub struct NotionProfile;
pub static PROFILE: NotionProfile = NotionProfile;

impl registry::Profile for NotionProfile {
    fn id(&self) -> ProviderId {
        P
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[Capability::Invoices]
    }

    fn setup(&self) -> String {
        format!(
            "create an internal integration at notion.so/profile/integrations (capabilities: read and update \
             content), share the invoices database with it (••• → Connections), then set {} to its token and {} to \
             the database's id (or the [notion] section of the config file)",
            env::NOTION_TOKEN,
            env::NOTION_INVOICES_DATABASE_ID
        )
    }

    fn claim(&self, kind: IdKind, id: &str) -> Claim {
        match kind {
            IdKind::Invoice if notion_id(id).is_some() => Claim::Certain,
            _ => Claim::No,
        }
    }

    fn check_id(&self, kind: IdKind, field: &str, id: &str) -> Result<(), String> {
        match kind {
            IdKind::Invoice if notion_id(id).is_some() => Ok(()),
            IdKind::Invoice => Err(format!(
                "{field}: a Notion invoice is named by its page id (32 hex digits, dashes optional) or the page's \
                 URL"
            )),
            _ => Err(format!("{field}: Notion holds invoices only; customers and payment links live elsewhere")),
        }
    }

    fn id_shape(&self, kind: IdKind) -> Option<&'static str> {
        (kind == IdKind::Invoice).then_some("a page id or page URL")
    }
}

/// Notion's error body: `{"object":"error","status":404,"code":"object_not_found","message":"…","request_id":"…"}`.
#[derive(Deserialize)]
pub struct ErrorEnvelope {
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
}

impl ErrorBody for ErrorEnvelope {
    fn meaning(&self, _status: StatusCode) -> Meaning {
        match self.code.as_deref() {
            Some("object_not_found") => Meaning::NotFound,
            // 529 is Notion's "overloaded, retry after": like a 429, its Retry-After is what matters.
            Some("rate_limited" | "service_overload") => Meaning::RateLimited,
            Some("conflict_error") => Meaning::Conflict,
            _ => Meaning::Status,
        }
    }

    fn into_message(self) -> Option<String> {
        let mut text = match (self.code, self.message) {
            (Some(code), Some(message)) => format!("{message} ({code})"),
            (code, message) => message.or(code)?,
        };
        if let Some(id) = self.request_id {
            text.push_str(&format!(", request id {id}"));
        }
        Some(text)
    }
}

/// The invoices database in Notion.
pub struct NotionClient {
    api: Api<ErrorEnvelope>,
    config: NotionConfig,
    book: OnceCell<Book>,
}

/// What an invoice's page is changed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// A payment link was made for it.
    PaymentLink { url: String },
    /// It was paid: status paid, when, and the payment's id (or how it was paid, for a person's record).
    Paid { paid_on: String, payment_id: String },
    /// A person set its status to one of the book's own words.
    Status { word: String },
}

#[derive(Deserialize)]
struct QueryAnswer {
    results: Vec<page::WirePage>,
    #[serde(default)]
    has_more: bool,
    next_cursor: Option<String>,
}

impl NotionClient {
    pub fn new(config: NotionConfig, http: Arc<HttpClient>) -> Self {
        let api = Api::new(P, config.base_url.clone(), Auth::Bearer(config.token.clone()), http)
            .with_headers(&[("Notion-Version", NOTION_VERSION)]);
        NotionClient { api, config, book: OnceCell::new() }
    }

    /// The data source, resolved and checked on first use.
    pub async fn book(&self) -> Result<&Book, ProviderError> {
        self.book
            .get_or_try_init(|| {
                schema::resolve(&self.api, &self.config.database_id, &self.config.properties, &self.config.paid_status)
            })
            .await
    }

    /// The page behind `id` (a page id or URL), checked to be a row of the invoices database.
    async fn page(&self, id: &str) -> Result<page::WirePage, ProviderError> {
        let book = self.book().await?;
        let page_id =
            notion_id(id).ok_or_else(|| ProviderError::NotFound { provider: P, what: "invoice", id: id.into() })?;
        let page: page::WirePage = self
            .api
            .call(Call::get(&format!("/v1/pages/{page_id}")).about(Object::new("invoice", &page_id)))
            .await
            .map_err(|e| match e {
                ProviderError::NotFound { id, .. } => ProviderError::Unshared { provider: P, what: "invoice page", id },
                e => e,
            })?;
        let parent = page.parent.as_ref();
        let ours = parent.is_some_and(|p| {
            p.data_source_id.as_deref() == Some(book.data_source_id.as_str())
                || (p.database_id.is_some() && p.database_id == book.database_id)
        });
        if !ours || page.in_trash {
            return Err(ProviderError::NotFound { provider: P, what: "invoice in the invoices database", id: page_id });
        }
        Ok(page)
    }

    /// Change an invoice's page (`id`: a page id or URL). Once Notion accepted it, the change is made: the invoice
    /// as it now reads comes back, or `None` when the page no longer reads as an invoice (an amount with too many
    /// decimals, say), which does not undo the change.
    pub async fn update(&self, id: &str, update: &Update) -> Result<Option<Invoice>, ProviderError> {
        let page = self.page(id).await?;
        let book = self.book().await?;
        let body = json!({ "properties": self.properties_for(book, update) });
        let path = format!("/v1/pages/{}", page.id);
        let call = Call::patch(&path, Body::Json(&body)).about(Object::new("invoice", &page.id));
        let updated: page::WirePage = self.api.call(call).await?;
        Ok(page::Row::new(&updated, &self.config)
            .into_invoice(time::now())
            .inspect_err(|e| tracing::warn!(error = %e, "updated a Notion invoice that no longer reads as one"))
            .ok())
    }

    fn properties_for(&self, book: &Book, update: &Update) -> Value {
        let map = &self.config.properties;
        let status = |word: &str| json!({ book.status_kind.key(): { "name": word } });
        let mut properties = serde_json::Map::new();
        match update {
            Update::PaymentLink { url } => {
                properties.insert(map.payment_link.clone(), json!({ "url": url }));
            }
            Update::Paid { paid_on, payment_id } => {
                properties.insert(map.status.clone(), status(&self.config.paid_status));
                properties.insert(map.paid_at.clone(), json!({ "date": { "start": paid_on } }));
                properties
                    .insert(map.payment_id.clone(), json!({ "rich_text": [{ "text": { "content": payment_id } }] }));
            }
            Update::Status { word } => {
                properties.insert(map.status.clone(), status(word));
            }
        }
        Value::Object(properties)
    }

    /// One invoice as it reads now (a page id or URL).
    pub async fn get_invoice_now(&self, id: &str) -> Result<Invoice, ProviderError> {
        Ok(self.get_invoice_versioned(id).await?.0)
    }

    /// One invoice as it reads now, with the page's version (its last edit time): a change approved against one
    /// version is not the same change against a later one.
    pub async fn get_invoice_versioned(&self, id: &str) -> Result<(Invoice, String), ProviderError> {
        let page = self.page(id).await?;
        let version = page.last_edited_time.clone().unwrap_or_default();
        Ok((page::Row::new(&page, &self.config).into_invoice(time::now())?, version))
    }

    /// The configured word for "paid".
    pub fn paid_status(&self) -> &str {
        &self.config.paid_status
    }

    /// The book's word for `word` if its Status can take it (matched ignoring case; a `select` takes new words
    /// too), else the words it can take.
    pub async fn status_word(&self, word: &str) -> Result<Result<String, Vec<String>>, ProviderError> {
        let book = self.book().await?;
        let known = book.status_options.iter().find(|o| o.eq_ignore_ascii_case(word.trim()));
        Ok(match (known, book.status_kind) {
            (Some(option), _) => Ok(option.clone()),
            (None, StatusKind::Select) => Ok(word.trim().to_string()),
            (None, StatusKind::Status) => Err(book.status_options.clone()),
        })
    }
}

#[async_trait::async_trait]
impl Invoices for NotionClient {
    fn provider(&self) -> ProviderId {
        P
    }

    async fn get_invoice(&self, id: &str) -> Result<Invoice, ProviderError> {
        self.get_invoice_now(id).await
    }

    async fn list_invoices(&self, invoice_query: &InvoiceQuery) -> Result<InvoicePage, ProviderError> {
        let book = self.book().await?;
        let now = time::now();
        let today = time::rfc3339(now).map(|s| s[..10].to_string()).unwrap_or_default();
        let source = book.data_source_id.clone();
        let path = format!("/v1/data_sources/{source}/query");
        scan(invoice_query, query::PAGE_SIZE, |position, _| {
            let path = path.clone();
            let today = today.clone();
            async move {
                let at = query::Position::parse(position.as_deref()).ok_or_else(|| ProviderError::Decode {
                    provider: P,
                    message: super::redact::Redacted::own("a listing position Switchboard did not write"),
                })?;
                let body = query::body(
                    invoice_query,
                    &self.config.properties,
                    book.status_kind.key(),
                    &self.config.paid_status,
                    at.cursor.as_deref(),
                    &today,
                );
                // A query changes nothing: safe to repeat.
                let database = Object::new("invoices database", &self.config.database_id);
                let call = Call::post(&path, Body::Json(&body)).retry(Retry::Safe).about(database);
                let answer: QueryAnswer = self.api.call(call).await.map_err(|e| match e {
                    ProviderError::NotFound { .. } => ProviderError::Unshared {
                        provider: P,
                        what: "invoices database",
                        id: self.config.database_id.clone(),
                    },
                    e => e,
                })?;
                let rows: Vec<query::Seen> =
                    answer.results.iter().map(|row| page::Row::new(row, &self.config).seen()).collect();
                let more = answer.has_more && answer.next_cursor.is_some();
                let next_page = more.then(|| query::Position::page(answer.next_cursor.clone()));
                let mut items = Vec::new();
                for (index, row) in answer.results.iter().enumerate().skip(at.start_in(&rows)) {
                    let after = match &next_page {
                        Some(next) if index + 1 == rows.len() => next.clone(),
                        _ => query::Position {
                            cursor: at.cursor.clone(),
                            after: rows.get(index).cloned(),
                            skip: index + 1,
                        },
                    };
                    // One unreadable row must not hide the rest: it is logged and left out.
                    let invoice = page::Row::new(row, &self.config)
                        .into_invoice(now)
                        .inspect_err(|e| tracing::warn!(error = %e, "skipped a Notion invoice Switchboard cannot read"))
                        .ok();
                    items.push((invoice, after.encode()));
                }
                Ok(ScannedPage { items, more, end: next_page.map(|p| p.encode()) })
            }
        })
        .await
    }
}
