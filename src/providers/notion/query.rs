//! `list_invoices` → a data source query: the filters Notion can apply itself, newest issued first, and a
//! position that resumes exactly where the previous page stopped.
//!
//! Notion pages its results with opaque cursors (`start_cursor` / `next_cursor`). Filters Notion cannot apply
//! (a normalised status such as "void", which depends on the book's own words) run here, so a page may stop
//! mid-way through a Notion page; a position is therefore "how many rows of the page at this cursor were
//! already examined" plus the cursor, always with the same page size.

use crate::config::NotionProperties;
use crate::domain::time;
use crate::domain::{CustomerRef, InvoiceQuery, InvoiceStatus};
use serde_json::{Value, json};

/// Rows per Notion query (its maximum); constant so that positions within a page stay valid.
pub const PAGE_SIZE: usize = 100;

/// Where a listing resumes: the Notion cursor of a page (none: the first) and how many of its rows are done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub cursor: Option<String>,
    pub skip: usize,
}

impl Position {
    pub fn parse(text: Option<&str>) -> Option<Position> {
        let Some(text) = text else { return Some(Position { cursor: None, skip: 0 }) };
        let (skip, cursor) = text.split_once(':')?;
        let skip = skip.parse().ok().filter(|s| *s < PAGE_SIZE)?;
        Some(Position { cursor: (!cursor.is_empty()).then(|| cursor.to_string()), skip })
    }

    pub fn encode(&self) -> String {
        format!("{}:{}", self.skip, self.cursor.as_deref().unwrap_or(""))
    }
}

/// The query body for one page of `query`, at `cursor`; `today` is the current UTC date ("2026-11-30").
pub fn body(
    query: &InvoiceQuery,
    map: &NotionProperties,
    status_key: &str,
    paid_status: &str,
    cursor: Option<&str>,
    today: &str,
) -> Value {
    let mut filters = Vec::new();
    if let Some(CustomerRef::Email(email)) = &query.customer {
        filters.push(json!({"property": map.customer_email, "email": {"equals": email.to_string()}}));
    }
    let day = |t: i64| time::rfc3339(t).map(|s| s[..10].to_string());
    if let Some(from) = query.created_from.and_then(day) {
        filters.push(json!({"property": map.issued, "date": {"on_or_after": from}}));
    }
    if let Some(to) = query.created_to.and_then(day) {
        filters.push(json!({"property": map.issued, "date": {"on_or_before": to}}));
    }
    let not_paid = json!({"property": map.status, status_key: {"does_not_equal": paid_status}});
    match query.status {
        Some(InvoiceStatus::Paid) => {
            filters.push(json!({"property": map.status, status_key: {"equals": paid_status}}));
        }
        Some(InvoiceStatus::Overdue) => {
            filters.push(not_paid);
            filters.push(json!({"property": map.due, "date": {"before": today}}));
        }
        Some(InvoiceStatus::Open | InvoiceStatus::PartiallyPaid | InvoiceStatus::Draft) => filters.push(not_paid),
        _ => {}
    }
    let mut body = json!({
        "sorts": [
            {"property": map.issued, "direction": "descending"},
            {"timestamp": "created_time", "direction": "descending"}
        ],
        "page_size": PAGE_SIZE,
    });
    match filters.len() {
        0 => {}
        1 => body["filter"] = filters.remove(0),
        _ => body["filter"] = json!({"and": filters}),
    }
    if let Some(cursor) = cursor {
        body["start_cursor"] = json!(cursor);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_and_refuse_what_they_did_not_write() {
        let p = Position { cursor: Some("fe2cc560-036c-44cd-90e8-294d5a74cebc".into()), skip: 7 };
        assert_eq!(Position::parse(Some(&p.encode())), Some(p));
        assert_eq!(Position::parse(None), Some(Position { cursor: None, skip: 0 }));
        assert_eq!(Position::parse(Some("0:")), Some(Position { cursor: None, skip: 0 }));
        assert_eq!(Position::parse(Some("100:abc")), None);
        assert_eq!(Position::parse(Some("abc")), None);
    }
}
