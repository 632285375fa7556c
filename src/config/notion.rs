//! `[notion]`: a Notion database used as the invoice book, and the names of its properties.

use super::{ConfigError, base_url, env, is_set};
use crate::domain::{Currency, text};
use reqwest::Url;
use secrecy::SecretString;
use serde::Deserialize;

pub const NOTION_DEFAULT_BASE_URL: &str = "https://api.notion.com";

/// The invoice book in Notion.
#[derive(Debug, Clone)]
pub struct NotionConfig {
    /// The internal integration's token (`ntn_…` or `secret_…`).
    pub token: SecretString,
    /// The invoices database (resolved to its data source on first use) or the data source itself, as a dashed
    /// UUID.
    pub database_id: String,
    pub base_url: Url,
    /// Which property holds what.
    pub properties: NotionProperties,
    /// The Status option written when an invoice is paid (it must exist when Status is a `status` property).
    pub paid_status: String,
    /// Currency of rows whose Currency is empty; `None`: such a row is refused with an error naming it.
    pub default_currency: Option<Currency>,
}

/// The database's property names, each overridable in `[notion.properties]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotionProperties {
    /// Title: the invoice number ("INV-2026-001").
    pub invoice: String,
    /// Text: who the invoice is addressed to.
    pub customer: String,
    /// E-mail.
    pub customer_email: String,
    /// Number, in major units as people type them (45000 for ₹45,000).
    pub amount: String,
    /// Select: an ISO 4217 code.
    pub currency: String,
    /// Status or select.
    pub status: String,
    /// Date.
    pub issued: String,
    /// Date.
    pub due: String,
    /// Date, written when the invoice is paid.
    pub paid_at: String,
    /// URL, written when a payment link is made for the invoice.
    pub payment_link: String,
    /// Text, written when the invoice is paid.
    pub payment_id: String,
}

impl Default for NotionProperties {
    fn default() -> Self {
        NotionProperties {
            invoice: "Invoice".into(),
            customer: "Customer".into(),
            customer_email: "Customer Email".into(),
            amount: "Amount".into(),
            currency: "Currency".into(),
            status: "Status".into(),
            issued: "Issued".into(),
            due: "Due".into(),
            paid_at: "Paid At".into(),
            payment_link: "Payment Link".into(),
            payment_id: "Payment ID".into(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileNotion {
    token: Option<String>,
    database_id: Option<String>,
    base_url: Option<String>,
    paid_status: Option<String>,
    default_currency: Option<String>,
    properties: Option<NotionProperties>,
}

pub(super) fn load(
    file: FileNotion,
    env_var: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<NotionConfig>, ConfigError> {
    let from_file = |key: &str, v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| is_set(key, v));
    let token = env_var(env::NOTION_TOKEN).or(from_file("notion.token", file.token));
    let database = env_var(env::NOTION_INVOICES_DATABASE_ID).or(from_file("notion.database_id", file.database_id));
    let (token, database) = match (token, database) {
        (None, None) => return Ok(None),
        (Some(t), Some(d)) => (t, d),
        (Some(_), None) => {
            return Err(ConfigError::Invalid(format!(
                "{} is set but {} is not: set it to the invoices database's id (the 32 hex digits in the database's \
                 URL, or \"Copy link to view\" in Notion)",
                env::NOTION_TOKEN,
                env::NOTION_INVOICES_DATABASE_ID
            )));
        }
        (None, Some(_)) => {
            return Err(ConfigError::Invalid(format!(
                "{} is set but {} is not: create an internal integration at notion.so/profile/integrations and set \
                 its token",
                env::NOTION_INVOICES_DATABASE_ID,
                env::NOTION_TOKEN
            )));
        }
    };
    let database_id = notion_id(&database).ok_or_else(|| {
        ConfigError::Invalid(format!(
            "{} '{}' is not a Notion id: use the 32 hex digits from the database's URL (dashes optional), or the URL \
             itself",
            env::NOTION_INVOICES_DATABASE_ID,
            text::clip(&database, 80)
        ))
    })?;
    let properties = file.properties.unwrap_or_default();
    let names = [
        ("invoice", &properties.invoice),
        ("customer", &properties.customer),
        ("customer_email", &properties.customer_email),
        ("amount", &properties.amount),
        ("currency", &properties.currency),
        ("status", &properties.status),
        ("issued", &properties.issued),
        ("due", &properties.due),
        ("paid_at", &properties.paid_at),
        ("payment_link", &properties.payment_link),
        ("payment_id", &properties.payment_id),
    ];
    if let Some((key, _)) = names.iter().find(|(_, name)| name.trim().is_empty()) {
        return Err(ConfigError::Invalid(format!(
            "[notion.properties] {key} is empty; name the property or omit the key"
        )));
    }
    let default_currency = file
        .default_currency
        .map(|c| Currency::parse(&c).map_err(|e| ConfigError::Invalid(format!("[notion] default_currency: {e}"))))
        .transpose()?;
    Ok(Some(NotionConfig {
        token: SecretString::from(token),
        database_id,
        base_url: base_url(
            env::NOTION_BASE_URL,
            env_var(env::NOTION_BASE_URL).or(file.base_url),
            NOTION_DEFAULT_BASE_URL,
        )?,
        properties,
        paid_status: file.paid_status.filter(|s| !s.trim().is_empty()).unwrap_or_else(|| "Paid".into()),
        default_currency,
    }))
}

/// A Notion id as a dashed lower-case UUID, from the id (dashes optional) or a notion.so / notion.site URL whose
/// path ends in it ("…/Invoices-0f3c…?v=…").
pub fn notion_id(text: &str) -> Option<String> {
    let text = text.trim();
    let path = match Url::parse(text) {
        // A local Notion (a proxy, the sandbox) may speak plain http.
        Ok(url) if url.scheme() == "https" || matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")) => {
            url.path().to_string()
        }
        Ok(_) => return None,
        Err(_) => text.to_string(),
    };
    let last = path.trim_end_matches('/').rsplit('/').next()?;
    let hex: String = last.chars().filter(|c| *c != '-').collect();
    let tail = hex.get(hex.len().checked_sub(32)?..)?;
    let whole_is_id = last.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if !tail.bytes().all(|b| b.is_ascii_hexdigit()) || (!whole_is_id && !last.ends_with(tail)) {
        return None;
    }
    if whole_is_id && hex.len() != 32 {
        return None;
    }
    let t = tail.to_ascii_lowercase();
    Some(format!("{}-{}-{}-{}-{}", &t[0..8], &t[8..12], &t[12..16], &t[16..20], &t[20..32]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notion_ids_come_from_bare_ids_dashed_ids_and_page_urls() {
        let id = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
        for text in [
            "1a2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d",
            id,
            "1A2B3C4D5E6F4A7B8C9D0E1F2A3B4C5D",
            "https://www.notion.so/acme/INV-2026-001-1a2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d",
            "https://www.notion.so/1a2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d?v=abc&pvs=4",
            "https://acme.notion.site/Invoices-1a2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d/",
            "http://127.0.0.1:8080/sandbox/notion/page/1a2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d",
        ] {
            assert_eq!(notion_id(text).as_deref(), Some(id), "{text}");
        }
        for bad in [
            "inv_NmTq3XfGkZ8vYp",
            "1a2b3c4d5e6f4a7b8c9d0e1f2a3b4c5",
            "11a2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d",
            "http://www.notion.so/1a2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d",
            "https://www.notion.so/acme/INV-2026-001-1a2b3c4d5e6f4a7b8c9d0e1f2a3b4czz",
            "",
        ] {
            assert_eq!(notion_id(bad), None, "{bad}");
        }
    }
}
