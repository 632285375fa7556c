//! Notion's objects as its API writes them (2025-09-03): the "Invoices" database, its data source (the schema),
//! pages and their property values, rich text and timestamps. Shapes follow Notion's responses field for field;
//! nothing here is the sandbox's own invention.

use serde_json::{Map, Value, json};

/// The integration's bot user, named as creator and last editor of everything in the sandbox.
pub const BOT_USER: &str = "6f1e2d3c-4b5a-4968-8776-5e4d3c2b1a09";

/// The status options of the Invoices database, in Notion's groups: to do, in progress, complete.
pub const STATUSES: [(&str, &str); 4] =
    [("Draft", "default"), ("Issued", "blue"), ("Paid", "green"), ("Cancelled", "red")];

/// A Notion timestamp: ISO 8601 in UTC with milliseconds, rounded down to the minute as Notion keeps its
/// `created_time` / `last_edited_time` ("2026-11-20T10:04:00.000Z").
pub fn timestamp(unix_seconds: i64) -> String {
    let minute = unix_seconds - unix_seconds.rem_euclid(60);
    let text = crate::domain::time::rfc3339(minute).unwrap_or_default();
    text.strip_suffix('Z').map_or(text.clone(), |t| format!("{t}.000Z"))
}

/// A date as a date property holds it: "2026-11-15".
pub fn date(unix_seconds: i64) -> String {
    crate::domain::time::rfc3339(unix_seconds).map(|t| t[..10].to_string()).unwrap_or_default()
}

/// One rich text object of type `text`, with default annotations.
pub fn rich_text(content: &str, link: Option<&str>) -> Value {
    json!({
        "type": "text",
        "text": {"content": content, "link": link.map(|url| json!({"url": url}))},
        "annotations": {
            "bold": false, "italic": false, "strikethrough": false, "underline": false, "code": false,
            "color": "default"
        },
        "plain_text": content,
        "href": link,
    })
}

fn user() -> Value {
    json!({"object": "user", "id": BOT_USER})
}

/// The Invoices data source's properties, by name, with Switchboard's default property names.
pub fn schema() -> Value {
    let options = |list: &[(&str, &str)], prefix: &str| -> Vec<Value> {
        list.iter()
            .enumerate()
            .map(|(i, (name, color))| {
                json!({"id": format!("{prefix}{}", i + 1), "name": name, "color": color, "description": null})
            })
            .collect()
    };
    let plain = |id: &str, name: &str, kind: &str| json!({"id": id, "name": name, "type": kind, kind: {}});
    json!({
        "Invoice": plain("title", "Invoice", "title"),
        "Customer": plain("%3DkXl", "Customer", "rich_text"),
        "Customer Email": plain("b%5Cqv", "Customer Email", "email"),
        "Amount": {"id": "Fz%40m", "name": "Amount", "type": "number", "number": {"format": "rupee"}},
        "Currency": {"id": "Ys%7Bp", "name": "Currency", "type": "select",
            "select": {"options": options(&[("INR", "orange"), ("USD", "green")], "a")}},
        "Status": {"id": "%5EdJi", "name": "Status", "type": "status", "status": {
            "options": options(&STATUSES, "s"),
            "groups": [
                {"id": "g1", "name": "To-do", "color": "gray", "option_ids": ["s1"]},
                {"id": "g2", "name": "In progress", "color": "blue", "option_ids": ["s2"]},
                {"id": "g3", "name": "Complete", "color": "green", "option_ids": ["s3", "s4"]}
            ]
        }},
        "Issued": plain("Iq%3Ek", "Issued", "date"),
        "Due": plain("Du%3Ee", "Due", "date"),
        "Paid At": plain("Pa%3Et", "Paid At", "date"),
        "Payment Link": plain("Pl%3Ek", "Payment Link", "url"),
        "Payment ID": plain("Pi%3Ed", "Payment ID", "rich_text"),
    })
}

/// Where the database lives: a workspace page.
#[derive(Clone, Copy)]
pub struct Place<'a> {
    pub database_id: &'a str,
    pub data_source_id: &'a str,
    pub parent_page_id: &'a str,
    pub created: i64,
}

fn title(text: &str) -> Value {
    json!([rich_text(text, None)])
}

/// `GET /v1/databases/{id}`: the container, naming its data sources.
pub fn database(place: &Place<'_>, name: &str) -> Value {
    let at = timestamp(place.created);
    json!({
        "object": "database",
        "id": place.database_id,
        "created_time": at,
        "last_edited_time": at,
        "created_by": user(),
        "last_edited_by": user(),
        "title": title(name),
        "description": [],
        "icon": null,
        "cover": null,
        "parent": {"type": "page_id", "page_id": place.parent_page_id},
        "is_inline": false,
        "in_trash": false,
        "is_locked": false,
        "data_sources": [{"id": place.data_source_id, "name": name}],
        "url": format!("https://www.notion.so/{}", place.database_id.replace('-', "")),
        "public_url": null,
    })
}

/// `GET /v1/data_sources/{id}`: the schema.
pub fn data_source(place: &Place<'_>, name: &str, properties: Value) -> Value {
    let at = timestamp(place.created);
    json!({
        "object": "data_source",
        "id": place.data_source_id,
        "created_time": at,
        "last_edited_time": at,
        "created_by": user(),
        "last_edited_by": user(),
        "title": title(name),
        "description": [],
        "icon": null,
        "cover": null,
        "parent": {"type": "database_id", "database_id": place.database_id},
        "database_parent": {"type": "page_id", "page_id": place.parent_page_id},
        "is_inline": false,
        "in_trash": false,
        "archived": false,
        "properties": properties,
        "url": format!("https://www.notion.so/{}", place.database_id.replace('-', "")),
        "public_url": null,
    })
}

/// A property value as a page carries it: `{"id", "type", <type>: inner}`, for the schema entry `property`.
pub fn value(property: &Value, inner: Value) -> Value {
    let kind = property["type"].as_str().unwrap_or_default();
    json!({"id": property["id"], "type": kind, kind: inner})
}

/// A select or status option of `property` by name, as a page's value names it: `{"id", "name", "color"}`.
pub fn option(property: &Value, name: &str) -> Option<Value> {
    let kind = property["type"].as_str().unwrap_or_default();
    property[kind]["options"]
        .as_array()?
        .iter()
        .find(|o| o["name"].as_str() == Some(name))
        .map(|o| json!({"id": o["id"], "name": o["name"], "color": o["color"]}))
}

/// A new page (row) of the data source, created at `created`, with `values` by property name (properties not
/// given read empty, as Notion returns every property of the schema).
pub fn page(id: &str, place: &Place<'_>, schema: &Map<String, Value>, mut values: Map<String, Value>) -> Value {
    let mut properties = Map::new();
    for (name, property) in schema {
        let inner = values.remove(name).unwrap_or_else(|| empty(property));
        properties.insert(name.clone(), value(property, inner));
    }
    let at = timestamp(place.created);
    json!({
        "object": "page",
        "id": id,
        "created_time": at,
        "last_edited_time": at,
        "created_by": user(),
        "last_edited_by": user(),
        "cover": null,
        "icon": null,
        "parent": {"type": "data_source_id", "data_source_id": place.data_source_id, "database_id": place.database_id},
        "in_trash": false,
        "archived": false,
        "is_archived": false,
        "is_locked": false,
        "properties": properties,
        "url": "",
        "public_url": null,
    })
}

/// What an unset property of this schema entry reads as.
pub fn empty(property: &Value) -> Value {
    match property["type"].as_str() {
        Some("title" | "rich_text" | "multi_select" | "people" | "relation" | "files") => json!([]),
        Some("checkbox") => json!(false),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_notions_millisecond_form_rounded_to_the_minute() {
        assert_eq!(timestamp(1_793_491_200 + 3_723), "2026-11-01T01:02:00.000Z");
        assert_eq!(date(1_793_491_200 + 86_399), "2026-11-01");
    }

    #[test]
    fn the_schema_has_the_property_map_switchboard_checks_with_its_status_options() {
        let schema = schema();
        let names: Vec<&str> = schema.as_object().unwrap().keys().map(String::as_str).collect();
        for wanted in ["Invoice", "Customer", "Customer Email", "Amount", "Currency", "Status", "Issued", "Due"] {
            assert!(names.contains(&wanted), "{names:?}");
        }
        assert_eq!(option(&schema["Status"], "Paid").unwrap(), json!({"id": "s3", "name": "Paid", "color": "green"}));
        assert_eq!(option(&schema["Status"], "Overdue"), None);
        assert_eq!(value(&schema["Amount"], json!(45000)), json!({"id": "Fz%40m", "type": "number", "number": 45000}));
    }
}
