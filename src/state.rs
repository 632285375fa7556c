//! Shared state behind every MCP session and (later) the webhook listener: config and provider clients.

use crate::config::Config;
use crate::domain::Provider;
use crate::providers::Payments;
use crate::providers::http::HttpClient;
use crate::providers::razorpay::RazorpayClient;
use crate::providers::stripe::StripeClient;
use std::sync::Arc;

pub struct AppState {
    pub config: Config,
    razorpay: Option<Arc<dyn Payments>>,
    stripe: Option<Arc<dyn Payments>>,
}

impl AppState {
    /// Cheap: provider clients are plain structs and the HTTP client builds itself on first use.
    pub fn new(config: Config) -> Self {
        let http = Arc::new(HttpClient::new(config.outbound.clone()));
        let razorpay =
            config.razorpay.clone().map(|c| Arc::new(RazorpayClient::new(c, http.clone())) as Arc<dyn Payments>);
        let stripe = config.stripe.clone().map(|c| Arc::new(StripeClient::new(c, http.clone())) as Arc<dyn Payments>);
        AppState { config, razorpay, stripe }
    }

    /// The client for `provider`, if it is configured.
    pub fn payments(&self, provider: Provider) -> Option<Arc<dyn Payments>> {
        match provider {
            Provider::Razorpay => self.razorpay.clone(),
            Provider::Stripe => self.stripe.clone(),
        }
    }
}
