//! The no-account sandbox behind `switchboard demo`: a local provider that speaks Razorpay's wire format
//! (payment links, invoices, payments) and HubSpot's CRM format, a pay page per payment link, and signed
//! Razorpay webhooks sent back to the receiver when a link is paid.
//!
//! The real provider clients are pointed at it by base URL, so the demo runs the same code paths as production:
//! Basic/Bearer auth, JSON decoding, error envelopes, the idempotency ledger, signature verification and the
//! event log. No real money moves.
//!
//! - [`world`]: the data, kept in the providers' wire shapes and saved to `sandbox.json` after every change.
//! - [`seed`]: the demo customers, invoices and CRM records a fresh sandbox starts with.
//! - [`razorpay`], [`hubspot`]: the provider APIs.
//! - [`pay_page`]: `/sandbox/pay/{link_id}`, the customer's side of a payment link.
//! - [`home`]: `/sandbox`, the invoices and payment links the sandbox holds.
//! - [`deliver`]: signed `payment.captured` / `payment_link.paid` deliveries to `/webhooks/razorpay`.

pub mod deliver;
pub mod home;
pub mod hubspot;
pub mod pay_page;
pub mod razorpay;
pub mod seed;
pub mod world;

use crate::config::{HUBSPOT_DEFAULT_SEARCH_PER_SECOND, HubSpotConfig, RazorpayConfig, WebhookSource};
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
    deliveries: DeliveryOptions,
    /// Webhook deliveries the receiver acknowledged since start-up (duplicates included).
    delivered: std::sync::atomic::AtomicU64,
}

impl Sandbox {
    /// Open the sandbox saved in `dir`, or seed a new one (always a new one with `reset`).
    pub fn open(dir: &Path, reset: bool, base: String, deliveries: DeliveryOptions) -> std::io::Result<Sandbox> {
        if reset {
            match std::fs::remove_dir_all(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let world = match World::load(dir)? {
            Some(world) => world,
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
            world: tokio::sync::Mutex::new(world),
            razorpay_url: url("/sandbox/razorpay")?,
            hubspot_url: url("/sandbox/hubspot")?,
            base,
            deliveries,
            delivered: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// All sandbox routes: `/sandbox/razorpay/v1/…`, `/sandbox/hubspot/crm/v3/…`, `/sandbox/pay/{id}`, `/sandbox`.
    pub fn routes(self: &Arc<Self>) -> Router {
        Router::new()
            .nest("/sandbox/razorpay", razorpay::routes(self.clone()))
            .nest("/sandbox/hubspot", hubspot::routes(self.clone()))
            .merge(pay_page::routes(self.clone()))
            .merge(home::routes(self.clone()))
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

    /// The webhook source the receiver verifies sandbox deliveries with.
    pub fn webhook_source(&self) -> WebhookSource {
        WebhookSource {
            scheme: Scheme::Razorpay,
            secrets: vec![SecretString::from(self.credentials.razorpay_webhook_secret.clone())],
        }
    }

    /// The customer's pay page for a link.
    pub fn pay_url(&self, link_id: &str) -> String {
        format!("{}/sandbox/pay/{link_id}", self.base)
    }

    /// How many webhook deliveries the receiver has acknowledged since start-up, duplicates included.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many payment links the sandbox holds.
    pub async fn payment_link_count(&self) -> usize {
        self.read(|w| w.payment_links.len()).await
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Change the world: `f` edits a copy, which is saved before it replaces the original, so a failed save
    /// changes nothing and every answer the sandbox gives has been written to disk first.
    pub(crate) async fn update<T, E>(&self, f: impl FnOnce(&mut World) -> Result<T, E>) -> Result<T, UpdateError<E>> {
        let mut world = self.world.lock().await;
        let mut next = world.clone();
        let out = f(&mut next).map_err(UpdateError::Rejected)?;
        next.save(&self.dir).await.map_err(UpdateError::Storage)?;
        *world = next;
        Ok(out)
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
