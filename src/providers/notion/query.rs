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

/// Where a listing resumes: the Notion cursor of a page (none: the first), the last row examined in it (its id and
/// its place in the sort order), and how many of its rows were examined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub cursor: Option<String>,
    pub after: Option<Seen>,
    pub skip: usize,
}

/// A row's identity and its place in the listing's order: newest Issued first (rows without one last), then
/// newest created first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub id: String,
    /// The Issued date as Notion has it ("2026-11-01"); empty when the row has none.
    pub issued: String,
    pub created: String,
}

impl Seen {
    /// Whether `other` sorts after this row in the listing's order.
    fn precedes(&self, other: &Seen) -> bool {
        let key = |s: &Seen| (!s.issued.is_empty(), s.issued.clone(), s.created.clone());
        // Descending on every part: "after" means smaller.
        key(other) < key(self)
    }
}

impl Position {
    /// The start of a page.
    pub fn page(cursor: Option<String>) -> Self {
        Position { cursor, after: None, skip: 0 }
    }

    pub fn parse(text: Option<&str>) -> Option<Position> {
        let Some(text) = text else { return Some(Position::page(None)) };
        let parts: Vec<&str> = text.splitn(5, '|').collect();
        let [skip, id, issued, created, cursor] = parts.as_slice() else { return None };
        let skip = skip.parse().ok().filter(|s| *s <= PAGE_SIZE)?;
        let after = (!id.is_empty()).then(|| Seen {
            id: id.to_string(),
            issued: issued.to_string(),
            created: created.to_string(),
        });
        Some(Position { cursor: (!cursor.is_empty()).then(|| cursor.to_string()), after, skip })
    }

    pub fn encode(&self) -> String {
        let (id, issued, created) = match &self.after {
            Some(s) => (s.id.as_str(), s.issued.as_str(), s.created.as_str()),
            None => ("", "", ""),
        };
        format!("{}|{id}|{issued}|{created}|{}", self.skip, self.cursor.as_deref().unwrap_or(""))
    }

    /// Where to start in `rows`, this position's page as Notion returns it now: just after the last row examined,
    /// found by its id; if it has left the results since, at the first row that sorts after it; by count only
    /// when nothing was examined. Rows that left or joined the results do not shift it.
    pub fn start_in(&self, rows: &[Seen]) -> usize {
        let Some(after) = &self.after else { return self.skip.min(rows.len()) };
        if let Some(index) = rows.iter().position(|r| r.id == after.id) {
            return index + 1;
        }
        rows.iter().position(|r| after.precedes(r)).unwrap_or(rows.len())
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
        let p = Position {
            cursor: Some("fe2cc560-036c-44cd-90e8-294d5a74cebc".into()),
            after: Some(seen("1a2b", "2026-11-01", "2026-11-01T09:00:00.000Z")),
            skip: 7,
        };
        assert_eq!(Position::parse(Some(&p.encode())), Some(p));
        assert_eq!(Position::parse(None), Some(Position::page(None)));
        assert_eq!(Position::parse(Some("0||||")), Some(Position::page(None)));
        assert_eq!(Position::parse(Some("101||||abc")), None);
        assert_eq!(Position::parse(Some("abc")), None);
    }

    fn seen(id: &str, issued: &str, created: &str) -> Seen {
        Seen { id: id.into(), issued: issued.into(), created: created.into() }
    }

    #[test]
    fn a_page_resumes_after_the_last_row_seen_even_when_rows_left_or_joined() {
        let a = seen("a", "2026-11-20", "1");
        let b = seen("b", "2026-11-10", "1");
        let c = seen("c", "2026-11-01", "1");
        let none = seen("n", "", "1");
        let p = Position { cursor: None, after: Some(b.clone()), skip: 2 };
        assert_eq!(p.start_in(&[a.clone(), b.clone(), c.clone()]), 2);
        assert_eq!(p.start_in(&[b.clone(), c.clone()]), 1, "a row before it left");
        assert_eq!(p.start_in(&[a.clone(), c.clone()]), 1, "it left itself: the next row in order");
        assert_eq!(p.start_in(&[a.clone(), c.clone(), none.clone()]), 1);
        assert_eq!(p.start_in(std::slice::from_ref(&a)), 1, "nothing after it");
        let last = Position { cursor: None, after: Some(c), skip: 3 };
        assert_eq!(last.start_in(&[a, b, none]), 2, "rows without Issued come last");
    }
}
