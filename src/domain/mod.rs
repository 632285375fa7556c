//! Provider-neutral types that validate on construction. Past the tool edge nothing re-checks them.

pub mod approval;
pub mod audit;
pub mod contact;
pub mod event;
pub mod invoice;
pub mod lead;
pub mod message;
pub mod money;
pub mod payment_link;
pub mod provider;
pub mod source;
pub mod text;
pub mod time;
pub mod writeback;

pub use contact::Email;
pub use invoice::{CustomerRef, Invoice, InvoiceCustomer, InvoiceLineItem, InvoicePage, InvoiceQuery, InvoiceStatus};
pub use money::{Amount, Currency, Money};
pub use provider::{Provider, ProviderId};

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
