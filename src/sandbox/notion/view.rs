//! `GET /sandbox/notion/page/{id}`: a row of the sandbox's Notion "Invoices" database as a person sees it in
//! Notion — its number, then each property (Status, Payment Link, Paid At, Payment ID…) — so whoever tries the
//! demo can watch the invoice turn Paid when its link is paid. Reloads itself every few seconds.

use super::super::Sandbox;
use crate::domain::Currency;
use crate::html::{self, html};
use crate::providers::notion::page::money_from_number;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;

/// How often the page reloads itself, in seconds.
const REFRESH_SECS: u32 = 3;

/// The properties shown first, in this order (the rest follow by name).
const ORDER: [&str; 10] = [
    "Customer",
    "Customer Email",
    "Amount",
    "Currency",
    "Status",
    "Issued",
    "Due",
    "Paid At",
    "Payment Link",
    "Payment ID",
];

pub async fn show(State(sandbox): State<Arc<Sandbox>>, Path(id): Path<String>) -> Response {
    let page = match crate::config::notion_id(&id) {
        Some(id) => sandbox.read(|w| w.notion.page(&id).map(|i| w.notion.pages[i].clone())).await,
        None => None,
    };
    let Some(page) = page else {
        let detail = "This sandbox's Notion workspace has no page with that id.";
        return html::message(StatusCode::NOT_FOUND, "Switchboard sandbox · Notion", "No such page", detail);
    };
    let properties = page["properties"].as_object().cloned().unwrap_or_default();
    let title = properties.values().find(|v| v["type"] == "title").map(|v| display(v, &page)).unwrap_or_default();
    let mut names: Vec<&String> = properties.keys().filter(|n| properties[*n]["type"] != "title").collect();
    let rank = |name: &str| ORDER.iter().position(|o| *o == name).unwrap_or(ORDER.len());
    names.sort_by(|a, b| (rank(a), a).cmp(&(rank(b), b)));
    let status = status_of(&page);
    let body = html! {
        p class="badge" { "Switchboard sandbox · Notion · Invoices database" }
        h1 id="title" { (if title.is_empty() { "Untitled" } else { title.as_str() }) }
        p { "Status: " strong id="status" class=[(status == "Paid").then_some("ok")] { (status) }
            @if overdue(&page) { " " span class="bad" id="overdue" { "overdue" } } }
        table {
            @for name in &names {
                @let value = &properties[*name];
                @let shown = display(value, &page);
                tr {
                    th { (name) }
                    td id=(slug(name)) {
                        @if value["type"] == "url" && (shown.starts_with("https://") || shown.starts_with("http://")) {
                            a href=(shown) { (shown) }
                        } @else if shown.is_empty() {
                            span class="id" { "Empty" }
                        } @else {
                            (shown)
                        }
                    }
                }
            }
        }
        p class="id" { "Page " (page["id"].as_str().unwrap_or_default()) " · last edited "
            (page["last_edited_time"].as_str().unwrap_or_default()) " · " a href="/sandbox" { "all invoices" } }
    };
    let title = format!("{} · Notion · Switchboard sandbox", if title.is_empty() { "Untitled" } else { &title });
    html::respond(StatusCode::OK, html::page(&title, false, Some(REFRESH_SECS), body))
}

/// An element id for a property: "Paid At" → "prop-paid-at".
fn slug(name: &str) -> String {
    let words: Vec<String> =
        name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    format!("prop-{}", words.join("-"))
}

/// A page's Status, by name ("" when unset).
pub fn status_of(page: &Value) -> String {
    display(&page["properties"]["Status"], page)
}

/// Whether a page is past its Due date and neither paid nor cancelled nor a draft.
pub fn overdue(page: &Value) -> bool {
    let today = super::wire::date(crate::domain::time::now());
    let due = page["properties"]["Due"]["date"]["start"].as_str().and_then(|d| d.get(..10));
    !matches!(status_of(page).as_str(), "Paid" | "Cancelled" | "Draft") && due.is_some_and(|d| d < today.as_str())
}

/// A property value as Notion shows it: text, the option's name, a date (range), an amount in the page's
/// currency ("₹45,000.00").
pub fn display(value: &Value, page: &Value) -> String {
    let kind = value["type"].as_str().unwrap_or_default();
    let inner = &value[kind];
    match kind {
        "title" | "rich_text" => inner
            .as_array()
            .map(|parts| parts.iter().filter_map(|p| p["plain_text"].as_str()).collect())
            .unwrap_or_default(),
        "select" | "status" => inner["name"].as_str().unwrap_or_default().to_string(),
        "date" => match (inner["start"].as_str(), inner["end"].as_str()) {
            (Some(start), Some(end)) => format!("{start} → {end}"),
            (Some(start), None) => start.to_string(),
            _ => String::new(),
        },
        "number" => match inner.as_f64() {
            Some(n) => {
                let currency =
                    page["properties"]["Currency"]["select"]["name"].as_str().and_then(|c| Currency::parse(c).ok());
                match currency.map(|c| money_from_number(n, c)) {
                    Some(Ok(money)) => money.format(),
                    _ => format!("{n}"),
                }
            }
            None => String::new(),
        },
        _ => inner.as_str().unwrap_or_default().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_read_as_notion_shows_them() {
        let page = json!({"properties": {"Currency": {"type": "select", "select": {"name": "INR"}}}});
        assert_eq!(display(&json!({"type": "number", "number": 8250.5}), &page), "₹8,250.50");
        assert_eq!(
            display(&json!({"type": "date", "date": {"start": "2026-11-29", "end": null}}), &page),
            "2026-11-29"
        );
        assert_eq!(display(&json!({"type": "url", "url": null}), &page), "");
        assert_eq!(slug("Paid At"), "prop-paid-at");
    }
}
