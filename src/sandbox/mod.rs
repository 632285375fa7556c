//! The no-account sandbox behind `switchboard demo`: a local provider that speaks Razorpay's wire format
//! (payment links, invoices, payments), HubSpot's CRM format, WhatsApp's Cloud API and Notion's API (an
//! "Invoices" database, the demo's invoice book), a pay page per payment link, a phone page per WhatsApp
//! customer, a page per Notion invoice, and signed webhooks sent back to the receiver when a link is paid, a
//! customer writes, or a message the business sent is sent, delivered and read.
//!
//! The real provider clients are pointed at it by base URL, so the demo runs the same code paths as production:
//! Basic/Bearer auth, JSON decoding, error envelopes, the idempotency ledger, signature verification and the
//! event log. No real money moves.
//!
//! - [`world`]: the data, kept in the providers' wire shapes and saved to `sandbox.json` after every change.
//! - [`seed`]: the demo customers, invoices and CRM records a fresh sandbox starts with.
//! - [`razorpay`], [`hubspot`], [`whatsapp`], [`notion`]: the provider APIs (`whatsapp` also sends its signed
//!   webhooks to `/webhooks/whatsapp`; `notion` also shows each invoice at `/sandbox/notion/page/{id}`).
//! - [`pay_page`]: `/sandbox/pay/{link_id}`, the customer's side of a payment link.
//! - [`phone`]: `/sandbox/phone/{wa_id}`, a WhatsApp customer's side of the chat with the business.
//! - [`home`]: `/sandbox`, the invoices (Notion's and Razorpay's) and payment links the sandbox holds, and the
//!   phones.
//! - [`deliver`]: signed `payment.captured` / `payment_link.paid` deliveries to `/webhooks/razorpay`.

pub mod deliver;
pub mod home;
pub mod hubspot;
pub mod notion;
pub mod pay_page;
pub mod phone;
pub mod razorpay;
pub mod seed;
pub mod whatsapp;
pub mod world;

use crate::config::{
    HUBSPOT_DEFAULT_SEARCH_PER_SECOND, HubSpotConfig, NotionConfig, NotionProperties, RazorpayConfig,
    WHATSAPP_MIN_BODY_BYTES, WebhookSource, WhatsAppConfig,
};
use crate::webhooks::Scheme;
use axum::Router;
use secrecy::SecretString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use world::{Credentials, World};

/// The webhook source name the sandbox delivers to (`POST /webhooks/razorpay`).
pub const WEBHOOK_SOURCE: &str = "razorpay";

/// How paid links are announced.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryOptions {
    /// Wait this long after a payment before the first delivery.
    pub delay: Duration,
    /// Send every delivery twice (same event id), as real providers sometimes do.
    pub duplicate: bool,
}

/// The running sandbox: its world, where it lives, and the address it is served on.
pub struct Sandbox {
    dir: PathBuf,
    world: tokio::sync::Mutex<World>,
    credentials: Credentials,
    /// `http://host:port` the sandbox is reachable at (pay pages, API base URLs, webhook target).
    base: String,
    razorpay_url: reqwest::Url,
    hubspot_url: reqwest::Url,
    whatsapp_url: reqwest::Url,
    notion_url: reqwest::Url,
    /// The Notion "Invoices" database (fixed once seeded).
    notion_database_id: String,
    deliveries: DeliveryOptions,
    /// Webhook deliveries the receiver acknowledged since start-up (duplicates included).
    delivered: std::sync::atomic::AtomicU64,
    /// WhatsApp webhook deliveries the receiver acknowledged since start-up (duplicates included).
    wa_delivered: std::sync::atomic::AtomicU64,
    /// Wakes the WhatsApp delivery task when a webhook is owed.
    wa_wake: Arc<tokio::sync::Notify>,
    /// Whether the WhatsApp delivery task runs.
    wa_worker: std::sync::atomic::AtomicBool,
    /// Accept any `Host` (`--allow-remote`); otherwise only loopback names, against DNS rebinding.
    remote: bool,
}

impl Sandbox {
    /// Open the sandbox saved in `dir`, or seed a new one (always a new one with `reset`).
    pub fn open(dir: &Path, reset: bool, base: String, deliveries: DeliveryOptions) -> std::io::Result<Sandbox> {
        if reset {
            reset_dir(dir)?;
        }
        let world = match World::load(dir)? {
            Some(mut world) => {
                // Saved before the sandbox spoke WhatsApp or Notion: add what it lacks (and the new keys, just read
                // as fresh), and keep them.
                let mut added = false;
                if !world.whatsapp.seeded {
                    world.whatsapp = seed::whatsapp();
                    added = true;
                }
                if !world.notion.seeded {
                    world.notion = seed::notion(crate::domain::time::now());
                    added = true;
                }
                if added {
                    world.save_blocking(dir)?;
                }
                world
            }
            None => {
                let world = seed::world(crate::domain::time::now());
                world.save_blocking(dir)?;
                world
            }
        };
        let base = base.trim_end_matches('/').to_string();
        let url = |path: &str| reqwest::Url::parse(&format!("{base}{path}")).map_err(std::io::Error::other);
        Ok(Sandbox {
            dir: dir.to_path_buf(),
            credentials: world.credentials.clone(),
            notion_database_id: world.notion.database_id().to_string(),
            notion_url: url("/sandbox/notion")?,
            world: tokio::sync::Mutex::new(world),
            razorpay_url: url("/sandbox/razorpay")?,
            hubspot_url: url("/sandbox/hubspot")?,
            whatsapp_url: url("/sandbox/whatsapp")?,
            base,
            deliveries,
            delivered: std::sync::atomic::AtomicU64::new(0),
            wa_delivered: std::sync::atomic::AtomicU64::new(0),
            wa_wake: Arc::new(tokio::sync::Notify::new()),
            wa_worker: std::sync::atomic::AtomicBool::new(false),
            remote: false,
        })
    }

    /// Serve other machines too (`--allow-remote`): any `Host` is accepted.
    pub fn allow_remote(mut self, remote: bool) -> Self {
        self.remote = remote;
        self
    }

    /// Send the webhooks a previous run still owed (a stop between a payment and its acknowledgement), and start
    /// sending WhatsApp's (those owed from before, then new ones as they are owed).
    pub async fn resume_deliveries(self: &Arc<Self>) {
        let (pending, whatsapp) = self.read(|w| (w.pending.clone(), w.whatsapp.pending.len())).await;
        if !pending.is_empty() || whatsapp > 0 {
            tracing::info!(count = pending.len() + whatsapp, "resuming sandbox webhook deliveries");
        }
        deliver::spawn(self.clone(), pending, Duration::ZERO);
        whatsapp::start_deliveries(self);
    }

    /// All sandbox routes: `/sandbox/razorpay/v1/…`, `/sandbox/hubspot/crm/v3/…`, `/sandbox/whatsapp/v26.0/…`,
    /// `/sandbox/notion/v1/…`, `/sandbox/notion/page/{id}`, `/sandbox/pay/{id}`, `/sandbox/phone/{wa_id}`,
    /// `/sandbox`.
    pub fn routes(self: &Arc<Self>) -> Router {
        Router::new()
            .nest("/sandbox/razorpay", razorpay::routes(self.clone()))
            .nest("/sandbox/hubspot", hubspot::routes(self.clone()))
            .nest("/sandbox/whatsapp", whatsapp::routes(self.clone()))
            .nest("/sandbox/notion", notion::routes(self.clone()))
            .merge(pay_page::routes(self.clone()))
            .merge(phone::routes(self.clone()))
            .merge(home::routes(self.clone()))
            .layer(axum::middleware::from_fn_with_state(self.clone(), same_site))
    }

    /// The Razorpay client configuration that points at this sandbox.
    pub fn razorpay_config(&self) -> RazorpayConfig {
        RazorpayConfig {
            key_id: self.credentials.razorpay_key_id.clone(),
            key_secret: SecretString::from(self.credentials.razorpay_key_secret.clone()),
            base_url: self.razorpay_url.clone(),
        }
    }

    /// The HubSpot client configuration that points at this sandbox.
    pub fn hubspot_config(&self) -> HubSpotConfig {
        HubSpotConfig {
            access_token: SecretString::from(self.credentials.hubspot_token.clone()),
            base_url: self.hubspot_url.clone(),
            search_per_second: HUBSPOT_DEFAULT_SEARCH_PER_SECOND,
        }
    }

    /// The WhatsApp Cloud API client configuration that points at this sandbox: its Graph API at
    /// `/sandbox/whatsapp`, its token and business number id.
    pub fn whatsapp_config(&self) -> WhatsAppConfig {
        WhatsAppConfig {
            access_token: SecretString::from(self.credentials.whatsapp_token.clone()),
            phone_number_id: whatsapp::PHONE_NUMBER_ID.to_string(),
            api_version: whatsapp::API_VERSION.to_string(),
            base_url: self.whatsapp_url.clone(),
        }
    }

    /// The Notion invoice book configuration that points at this sandbox: its API at `/sandbox/notion`, the
    /// integration token, the "Invoices" database and Switchboard's default property names.
    pub fn notion_config(&self) -> NotionConfig {
        NotionConfig {
            token: SecretString::from(self.credentials.notion_token.clone()),
            database_id: self.notion_database_id.clone(),
            base_url: self.notion_url.clone(),
            properties: NotionProperties::default(),
            paid_status: "Paid".into(),
            default_currency: None,
        }
    }

    /// The sandbox's view of a Notion page (`id`: dashed or not).
    pub fn notion_page_url(&self, id: &str) -> String {
        format!("{}/sandbox/notion/page/{}", self.base, id.replace('-', ""))
    }

    /// The webhook source the receiver verifies the sandbox's WhatsApp deliveries with (`/webhooks/whatsapp`):
    /// its app secret, its handshake verify token and WhatsApp's 3 MiB body limit.
    pub fn whatsapp_webhook_source(&self) -> WebhookSource {
        WebhookSource {
            verify_token: Some(SecretString::from(self.credentials.whatsapp_verify_token.clone())),
            ..WebhookSource::new(
                Scheme::HubSignature256,
                crate::domain::source::Format::WhatsApp,
                vec![SecretString::from(self.credentials.whatsapp_app_secret.clone())],
                WHATSAPP_MIN_BODY_BYTES,
            )
        }
    }

    /// The webhook source the receiver verifies sandbox deliveries with.
    pub fn webhook_source(&self) -> WebhookSource {
        WebhookSource::new(
            Scheme::Razorpay,
            crate::domain::source::Format::Razorpay,
            vec![SecretString::from(self.credentials.razorpay_webhook_secret.clone())],
            crate::config::WebhookConfig::default().max_body_bytes,
        )
    }

    /// The customer's pay page for a link.
    pub fn pay_url(&self, link_id: &str) -> String {
        format!("{}/sandbox/pay/{link_id}", self.base)
    }

    /// A WhatsApp customer's phone page (`wa_id`: their number's digits), or the list of phones without one.
    pub fn phone_url(&self, wa_id: Option<&str>) -> String {
        match wa_id {
            Some(wa_id) => format!("{}/sandbox/phone/{}", self.base, wa_id.trim_start_matches('+')),
            None => format!("{}/sandbox/phone", self.base),
        }
    }

    /// How many WhatsApp webhook deliveries the receiver has acknowledged since start-up, duplicates included.
    pub fn whatsapp_delivered(&self) -> u64 {
        self.wa_delivered.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The people on WhatsApp in the sandbox: their WhatsApp id (the phone's digits) and profile name.
    pub async fn whatsapp_customers(&self) -> Vec<(String, String)> {
        self.read(|w| w.whatsapp.customers.iter().map(|c| (c.wa_id.clone(), c.name.clone())).collect()).await
    }

    /// How many WhatsApp webhooks are saved as owed (not yet acknowledged).
    pub async fn pending_whatsapp_deliveries(&self) -> usize {
        self.read(|w| w.whatsapp.pending.len()).await
    }

    /// How many WhatsApp messages (either way) the sandbox holds.
    pub async fn whatsapp_message_count(&self) -> usize {
        self.read(|w| w.whatsapp.messages.len()).await
    }

    /// How many webhook deliveries the receiver has acknowledged since start-up, duplicates included.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many webhook deliveries are saved as owed (not yet acknowledged).
    pub async fn pending_deliveries(&self) -> usize {
        self.read(|w| w.pending.len()).await
    }

    /// How many payment links the sandbox holds.
    pub async fn payment_link_count(&self) -> usize {
        self.read(|w| w.payment_links.len()).await
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Change the world: `f` edits a copy, which is saved before it replaces the original, so a failed save
    /// changes nothing and every answer the sandbox gives has been written to disk first. The change runs in
    /// its own task, so a caller that goes away mid-save cannot leave the disk and memory disagreeing.
    pub(crate) async fn update<T, E>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut World) -> Result<T, E> + Send + 'static,
    ) -> Result<T, UpdateError<E>>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        let sandbox = self.clone();
        let task = tokio::spawn(async move {
            let mut world = sandbox.world.lock().await;
            let mut next = world.clone();
            let out = f(&mut next).map_err(UpdateError::Rejected)?;
            next.save(&sandbox.dir).await.map_err(UpdateError::Storage)?;
            *world = next;
            Ok(out)
        });
        task.await.unwrap_or_else(|e| Err(UpdateError::Storage(std::io::Error::other(e))))
    }

    /// Read the world.
    pub(crate) async fn read<T>(&self, f: impl FnOnce(&World) -> T) -> T {
        f(&*self.world.lock().await)
    }
}

/// Why a change to the world did not happen.
pub(crate) enum UpdateError<E> {
    Rejected(E),
    Storage(std::io::Error),
}

/// `--reset`: empty the sandbox directory, but only one that holds a sandbox (`sandbox.json`), so a mistyped
/// `--data-dir` can never wipe other data.
fn reset_dir(dir: &Path) -> std::io::Result<()> {
    let marker = world::file(dir);
    if marker.exists() {
        return std::fs::remove_dir_all(dir);
    }
    let empty = match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(e),
        Ok(mut entries) => entries.next().is_none(),
    };
    if empty {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "refusing to --reset {}: it is not empty and holds no sandbox.json, so it is not a sandbox directory. \
             Point --data-dir at the sandbox's own directory.",
            dir.display()
        )))
    }
}

/// The sandbox takes no credentials on its pages, so it checks where requests come from: a loopback `Host`
/// (unless `--allow-remote`), which stops DNS rebinding, and no foreign `Origin` on a POST, which stops another
/// site from paying a link in the user's browser.
async fn same_site(
    axum::extract::State(sandbox): axum::extract::State<Arc<Sandbox>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{Method, StatusCode, header};
    use axum::response::IntoResponse;
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let host_name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host.as_str(),
    };
    let loopback = |name: &str| matches!(name, "localhost" | "127.0.0.1" | "[::1]");
    if !sandbox.remote && !loopback(host_name) {
        tracing::warn!(host = %crate::domain::text::clip(&host, 64), "sandbox request with a foreign Host refused");
        return (StatusCode::FORBIDDEN, "the sandbox answers only on localhost").into_response();
    }
    if request.method() == Method::POST
        && let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
    {
        let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
        let origin_name = origin_host.rsplit_once(':').map_or(origin_host, |(name, _)| name);
        if origin_host != host && !loopback(origin_name) {
            tracing::warn!("sandbox POST from a foreign Origin refused");
            return (StatusCode::FORBIDDEN, "cross-site requests to the sandbox are refused").into_response();
        }
    }
    next.run(request).await
}
