//! A row of the invoices data source (a Notion page) → [`Invoice`], read through the property map.
//!
//! Amounts: Notion stores a number as a JSON float, typed in major units (45000 for ₹45,000). Its shortest
//! decimal form ("299.95") is parsed exactly like an amount a person types, so a value with more decimals than
//! the currency has (or a negative, zero or absurd one) is refused with a sentence naming the invoice and the
//! property, never rounded.

use super::P;
use crate::config::NotionConfig;
use crate::domain::invoice::InvoiceStatus;
use crate::domain::time::{DayEdge, parse_instant};
use crate::domain::{Currency, Invoice, InvoiceCustomer, Money, text, time};
use crate::providers::ProviderError;
use crate::providers::redact::Redacted;
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Debug, Deserialize)]
pub struct WirePage {
    pub id: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub in_trash: bool,
    #[serde(default)]
    pub last_edited_time: Option<String>,
    #[serde(default)]
    pub created_time: Option<String>,
    #[serde(default)]
    pub parent: Option<WirePageParent>,
    #[serde(default)]
    pub properties: HashMap<String, Value>,
}

#[derive(Debug, Deserialize)]
pub struct WirePageParent {
    pub data_source_id: Option<String>,
    pub database_id: Option<String>,
}

/// A property value: `{"id": …, "type": "number", "number": 45000}`. Types Switchboard does not read are
/// `Other`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Value {
    Title {
        title: Vec<RichText>,
    },
    RichText {
        rich_text: Vec<RichText>,
    },
    Number {
        number: Option<f64>,
    },
    Select {
        select: Option<Named>,
    },
    Status {
        status: Option<Named>,
    },
    Date {
        date: Option<DateValue>,
    },
    Email {
        email: Option<String>,
    },
    Url {
        url: Option<String>,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
pub struct RichText {
    #[serde(default)]
    plain_text: String,
}

#[derive(Debug, Deserialize)]
pub struct Named {
    name: String,
}

#[derive(Debug, Deserialize)]
pub struct DateValue {
    start: String,
}

impl Value {
    /// The text of a title, text, select, status, e-mail or URL value; `None` when empty.
    fn text(&self) -> Option<String> {
        let joined = |parts: &[RichText]| parts.iter().map(|p| p.plain_text.as_str()).collect::<String>();
        let text = match self {
            Value::Title { title: parts } | Value::RichText { rich_text: parts } => joined(parts),
            Value::Select { select: Some(n) } | Value::Status { status: Some(n) } => n.name.clone(),
            Value::Email { email: Some(s) } | Value::Url { url: Some(s) } => s.clone(),
            _ => return None,
        };
        text::untrusted(&text)
    }
}

/// A page, read as an invoice.
pub struct Row<'a> {
    page: &'a WirePage,
    config: &'a NotionConfig,
}

impl<'a> Row<'a> {
    pub fn new(page: &'a WirePage, config: &'a NotionConfig) -> Self {
        Row { page, config }
    }

    fn value(&self, name: &str) -> Option<&Value> {
        self.page.properties.get(name)
    }

    fn text(&self, name: &str) -> Option<String> {
        self.value(name).and_then(Value::text)
    }

    /// A date property as unix seconds at the given edge of its day (a date-time as is).
    fn date(&self, name: &str, edge: DayEdge) -> Result<Option<i64>, ProviderError> {
        match self.value(name) {
            Some(Value::Date { date: Some(d) }) => parse_instant(name, &d.start, edge)
                .map(Some)
                .map_err(|_| self.unreadable(name, "is not a date Switchboard can read")),
            _ => Ok(None),
        }
    }

    fn unreadable(&self, property: &str, problem: &str) -> ProviderError {
        let number = self.text(&self.config.properties.invoice).unwrap_or_else(|| "(no number)".into());
        ProviderError::Decode {
            provider: P,
            message: Redacted::own(format!(
                "invoice {} (page {}): its '{property}' {problem}",
                text::clip(&number, 60),
                self.page.id
            )),
        }
    }

    fn currency(&self) -> Result<Currency, ProviderError> {
        let name = &self.config.properties.currency;
        match self.text(name) {
            Some(code) => Currency::parse(&code).map_err(|_| {
                self.unreadable(name, &format!("'{}' is not an ISO 4217 currency code", text::clip(&code, 12)))
            }),
            None => self.config.default_currency.ok_or_else(|| {
                self.unreadable(name, "is empty; set it in Notion, or set [notion] default_currency in the config")
            }),
        }
    }

    fn amount(&self, currency: Currency) -> Result<Money, ProviderError> {
        let name = &self.config.properties.amount;
        let number = match self.value(name) {
            Some(Value::Number { number: Some(n) }) => *n,
            _ => return Err(self.unreadable(name, "is empty; an invoice needs its amount")),
        };
        money_from_number(number, currency).map_err(|problem| self.unreadable(name, &problem))
    }

    /// The row's place in a listing (id, Issued as Notion has it, creation time).
    pub fn seen(&self) -> super::query::Seen {
        let issued = match self.value(&self.config.properties.issued) {
            Some(Value::Date { date: Some(d) }) => d.start.clone(),
            _ => String::new(),
        };
        super::query::Seen {
            id: self.page.id.clone(),
            issued,
            created: self.page.created_time.clone().unwrap_or_default(),
        }
    }

    pub fn into_invoice(self, now: i64) -> Result<Invoice, ProviderError> {
        let map = &self.config.properties;
        let currency = self.currency()?;
        let total = self.amount(currency)?;
        let book_status = self.text(&map.status).unwrap_or_default();
        let due_end = self.date(&map.due, DayEdge::End)?;
        let status = normalise(&book_status, &self.config.paid_status).with_due_date(due_end, now);
        let paid = if status == InvoiceStatus::Paid { total } else { Money::from_minor(0, currency) };
        let due = Money::from_minor(total.minor_units() - paid.minor_units(), currency);
        Ok(Invoice {
            id: self.page.id.clone(),
            provider: P,
            number: self.text(&map.invoice),
            status,
            provider_status: book_status,
            currency: currency.code().to_string(),
            total: total.to_amount(),
            amount_paid: paid.to_amount(),
            amount_due: due.to_amount(),
            customer: InvoiceCustomer {
                id: None,
                name: self.text(&map.customer),
                email: self.text(&map.customer_email),
                phone: None,
            },
            description: None,
            issued_at: self.date(&map.issued, DayEdge::Start)?.and_then(time::rfc3339),
            due_at: due_end.and_then(time::rfc3339),
            paid_at: self.date(&map.paid_at, DayEdge::Start)?.and_then(time::rfc3339),
            line_items: Vec::new(),
            payment_url: self.text(&map.payment_link),
            record_url: self.page.url.clone(),
            pending_updates: Vec::new(),
        })
    }
}

/// A Notion number in major units → exact money, or why not.
pub fn money_from_number(number: f64, currency: Currency) -> Result<Money, String> {
    if !number.is_finite() {
        return Err("is not a finite number".into());
    }
    // Rust prints a float as the shortest decimal that reads back to it, never in exponent form: what was typed.
    let typed = format!("{number}");
    Money::parse_major(&typed, currency).map_err(|e| format!("is {typed}, which Switchboard will not guess at: {e}"))
}

/// The book's own status word → the normalised status (before the due date is considered).
pub fn normalise(word: &str, paid_status: &str) -> InvoiceStatus {
    let w = word.trim().to_lowercase();
    if w == paid_status.trim().to_lowercase() {
        return InvoiceStatus::Paid;
    }
    match w.as_str() {
        "paid" | "settled" | "received" => InvoiceStatus::Paid,
        "draft" | "not started" => InvoiceStatus::Draft,
        "overdue" | "late" => InvoiceStatus::Overdue,
        "partially paid" | "partial" | "part paid" => InvoiceStatus::PartiallyPaid,
        "cancelled" | "canceled" | "void" | "voided" => InvoiceStatus::Void,
        "uncollectible" | "written off" | "bad debt" => InvoiceStatus::Uncollectible,
        "expired" => InvoiceStatus::Expired,
        _ => InvoiceStatus::Open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notion_numbers_become_exact_money_or_a_clear_refusal() {
        let inr = Currency::parse("INR").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(money_from_number(45000.0, inr).unwrap().minor_units(), 4_500_000);
        assert_eq!(money_from_number(299.95, inr).unwrap().minor_units(), 29_995);
        assert_eq!(money_from_number(0.1 + 0.2, inr).unwrap_err().split(',').next().unwrap(), "is 0.30000000000000004");
        assert!(money_from_number(45000.123, inr).unwrap_err().contains("at most 2 digits"));
        assert!(money_from_number(100.5, jpy).unwrap_err().contains("no minor unit"));
        assert!(money_from_number(-5.0, inr).unwrap_err().contains("not a plain decimal"));
        assert!(money_from_number(1e20, inr).unwrap_err().contains("larger than any payment"));
        assert!(money_from_number(f64::NAN, inr).is_err());
    }

    #[test]
    fn status_words_normalise_with_the_configured_paid_word_first() {
        assert_eq!(normalise("Paid", "Paid"), InvoiceStatus::Paid);
        assert_eq!(normalise("Received ✓", "Received ✓"), InvoiceStatus::Paid);
        assert_eq!(normalise("Issued", "Paid"), InvoiceStatus::Open);
        assert_eq!(normalise("Cancelled", "Paid"), InvoiceStatus::Void);
        assert_eq!(normalise("", "Paid"), InvoiceStatus::Open);
    }
}
