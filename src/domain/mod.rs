//! Provider-neutral types that validate on construction. Past the tool edge nothing re-checks them.

pub mod contact;
pub mod event;
pub mod invoice;
pub mod lead;
pub mod money;
pub mod payment_link;
pub mod source;
pub mod text;
pub mod time;

pub use contact::Email;
pub use invoice::{CustomerRef, Invoice, InvoiceCustomer, InvoiceLineItem, InvoicePage, InvoiceQuery, InvoiceStatus};
pub use money::{Amount, Currency, Money};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A payments provider Switchboard can talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Razorpay (India): ids like `inv_…`, `plink_…`, `pay_…`.
    Razorpay,
    /// Stripe: ids like `in_…`, `plink_…`, `cus_…`.
    Stripe,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Razorpay => "Razorpay",
            Provider::Stripe => "Stripe",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Razorpay => "razorpay",
            Provider::Stripe => "stripe",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Any upstream service Switchboard calls (payments providers and the CRM), for errors and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Razorpay,
    Stripe,
    HubSpot,
}

impl From<Provider> for Service {
    fn from(p: Provider) -> Self {
        match p {
            Provider::Razorpay => Service::Razorpay,
            Provider::Stripe => Service::Stripe,
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Razorpay => "Razorpay",
            Service::Stripe => "Stripe",
            Service::HubSpot => "HubSpot",
        })
    }
}

/// Check that a provider object id is safe to put in a URL path: `prefix` then 1–64 of `[A-Za-z0-9_]`.
pub fn validate_object_id(field: &str, id: &str, prefixes: &[&str]) -> Result<(), String> {
    let ok_chars = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let ok_prefix = prefixes.iter().any(|p| id.starts_with(p) && id.len() > p.len());
    if ok_chars && ok_prefix {
        Ok(())
    } else {
        Err(format!(
            "{field} '{}' is not a valid id; expected one starting with {} followed by letters and digits",
            text::clip(id, 80),
            prefixes.iter().map(|p| format!("'{p}'")).collect::<Vec<_>>().join(" or ")
        ))
    }
}
