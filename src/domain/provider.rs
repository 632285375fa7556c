//! Who is upstream: [`ProviderId`] names every service Switchboard calls; [`Provider`] is the narrower set a
//! tool call may name in its `provider` argument.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Every upstream Switchboard calls: in errors, logs, the idempotency ledger, cursors and results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderId {
    Razorpay,
    Stripe,
    HubSpot,
    #[serde(rename = "whatsapp")]
    WhatsApp,
    Notion,
}

impl ProviderId {
    /// The name people know it by: "HubSpot".
    pub fn name(self) -> &'static str {
        match self {
            ProviderId::Razorpay => "Razorpay",
            ProviderId::Stripe => "Stripe",
            ProviderId::HubSpot => "HubSpot",
            ProviderId::WhatsApp => "WhatsApp",
            ProviderId::Notion => "Notion",
        }
    }

    /// The machine spelling, as in arguments, config sections and the ledger: "hubspot".
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderId::Razorpay => "razorpay",
            ProviderId::Stripe => "stripe",
            ProviderId::HubSpot => "hubspot",
            ProviderId::WhatsApp => "whatsapp",
            ProviderId::Notion => "notion",
        }
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ProviderId {
    type Err = ();

    /// The machine spelling, in any letter case.
    fn from_str(s: &str) -> Result<Self, ()> {
        [ProviderId::Razorpay, ProviderId::Stripe, ProviderId::HubSpot, ProviderId::WhatsApp, ProviderId::Notion]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or(())
    }
}

// The `provider` argument of the invoice and payment link tools, and the schema of the `provider` field in their
// results: what a model may name. Everything past the tool edge uses `ProviderId`. (A plain comment: the doc
// comment below is the schema's description in the committed tool catalog.)
/// Where invoices and payment links live: a payments provider, or a Notion database used as the invoice book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Razorpay (India): ids like `inv_…`, `plink_…`, `pay_…`.
    Razorpay,
    /// Stripe: ids like `in_…`, `plink_…`, `cus_…`.
    Stripe,
    /// A Notion database of invoices (invoices only): page ids or page URLs.
    Notion,
}

impl From<Provider> for ProviderId {
    fn from(p: Provider) -> Self {
        match p {
            Provider::Razorpay => ProviderId::Razorpay,
            Provider::Stripe => ProviderId::Stripe,
            Provider::Notion => ProviderId::Notion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_ids_read_back_from_their_machine_spelling_and_serialise_to_it() {
        for id in
            [ProviderId::Razorpay, ProviderId::Stripe, ProviderId::HubSpot, ProviderId::WhatsApp, ProviderId::Notion]
        {
            assert_eq!(id.as_str().parse::<ProviderId>(), Ok(id));
            assert_eq!(serde_json::to_value(id).unwrap(), id.as_str());
        }
        assert_eq!(serde_json::to_value(ProviderId::from(Provider::Stripe)).unwrap(), "stripe");
        assert!("paypal".parse::<ProviderId>().is_err());
    }
}
