//! The invoices data source: found from the configured id (a database is resolved to its data source), and its
//! schema checked against the property map, once, before the first read or write.

use super::{ErrorEnvelope, P};
use crate::config::NotionProperties;
use crate::providers::ProviderError;
use crate::providers::api::{Api, Call, Object};
use crate::providers::redact::Redacted;
use serde::Deserialize;
use std::collections::HashMap;

/// The invoices data source, checked: where to query, and how Status is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Book {
    pub data_source_id: String,
    /// The database that holds it (pages name it as their parent too).
    pub database_id: Option<String>,
    /// Whether Status is a `status` or a `select` property: the key its value is written under.
    pub status_kind: StatusKind,
    /// The words Status can take: a `status` property's options (a `select` also takes new words).
    pub status_options: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    Status,
    Select,
}

impl StatusKind {
    pub fn key(self) -> &'static str {
        match self {
            StatusKind::Status => "status",
            StatusKind::Select => "select",
        }
    }
}

#[derive(Deserialize)]
struct WireDatabase {
    id: String,
    #[serde(default)]
    data_sources: Vec<WireSourceRef>,
}

#[derive(Deserialize)]
struct WireSourceRef {
    id: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct WireDataSource {
    id: String,
    #[serde(default)]
    parent: Option<WireParent>,
    properties: HashMap<String, WireProperty>,
}

#[derive(Deserialize)]
struct WireParent {
    database_id: Option<String>,
}

#[derive(Deserialize)]
struct WireProperty {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    status: Option<WireOptions>,
    #[serde(default)]
    select: Option<WireOptions>,
}

#[derive(Deserialize)]
struct WireOptions {
    #[serde(default)]
    options: Vec<WireOption>,
}

#[derive(Deserialize)]
struct WireOption {
    name: String,
}

/// Find the data source behind `id` (a database with one data source, or a data source) and check its schema.
pub async fn resolve(
    api: &Api<ErrorEnvelope>,
    id: &str,
    map: &NotionProperties,
    paid_status: &str,
) -> Result<Book, ProviderError> {
    let database: Option<WireDatabase> =
        match api.call(Call::get(&format!("/v1/databases/{id}")).about(Object::new("database", id))).await {
            Ok(database) => Some(database),
            // Not a database this integration sees: perhaps the id is the data source's own.
            Err(ProviderError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
    let (source_id, database_id) = match database {
        Some(db) => match db.data_sources.as_slice() {
            [only] => (only.id.clone(), Some(db.id)),
            [] => return Err(misconfigured(format!("the database {id} has no data source to read invoices from"))),
            several => {
                let list: Vec<String> = several.iter().map(|s| format!("'{}' ({})", s.name, s.id)).collect();
                return Err(misconfigured(format!(
                    "the database {id} has several data sources ({}); set NOTION_INVOICES_DATABASE_ID to the \
                     invoices one's id",
                    list.join(", ")
                )));
            }
        },
        None => (id.to_string(), None),
    };
    let source: WireDataSource = api
        .call(Call::get(&format!("/v1/data_sources/{source_id}")).about(Object::new("invoices database", id)))
        .await
        .map_err(|e| match e {
            ProviderError::NotFound { .. } => {
                ProviderError::Unshared { provider: P, what: "invoices database", id: id.to_string() }
            }
            e => e,
        })?;
    let status_kind = check(&source.properties, map, paid_status).map_err(misconfigured)?;
    let status = &source.properties[&map.status];
    let options = status.status.as_ref().or(status.select.as_ref());
    let status_options = options.map(|o| o.options.iter().map(|o| o.name.clone()).collect()).unwrap_or_default();
    let database_id = database_id.or(source.parent.and_then(|p| p.database_id));
    Ok(Book { data_source_id: source.id, database_id, status_kind, status_options })
}

fn misconfigured(message: String) -> ProviderError {
    ProviderError::Misconfigured { provider: P, message: Redacted::own(message) }
}

/// Every mapped property present with a type Switchboard can read (and write); one sentence naming each that
/// is not.
fn check(
    properties: &HashMap<String, WireProperty>,
    map: &NotionProperties,
    paid_status: &str,
) -> Result<StatusKind, String> {
    let wanted: [(&str, &str, &[&str]); 11] = [
        ("invoice", &map.invoice, &["title"]),
        ("customer", &map.customer, &["rich_text"]),
        ("customer_email", &map.customer_email, &["email"]),
        ("amount", &map.amount, &["number"]),
        ("currency", &map.currency, &["select", "rich_text"]),
        ("status", &map.status, &["status", "select"]),
        ("issued", &map.issued, &["date"]),
        ("due", &map.due, &["date"]),
        ("paid_at", &map.paid_at, &["date"]),
        ("payment_link", &map.payment_link, &["url"]),
        ("payment_id", &map.payment_id, &["rich_text"]),
    ];
    let mut problems = Vec::new();
    for (key, name, types) in wanted {
        let shown = types.iter().map(|t| type_name(t)).collect::<Vec<_>>().join(" or ");
        match properties.get(name) {
            None => problems.push(format!(
                "property '{name}' is missing (add a {shown} property named '{name}', or map an existing one with \
                 [notion.properties] {key} = \"…\")"
            )),
            Some(p) if !types.contains(&p.kind.as_str()) => {
                problems.push(format!("property '{name}' is a {} property but must be {shown}", type_name(&p.kind)))
            }
            Some(_) => {}
        }
    }
    if !problems.is_empty() {
        return Err(format!("the invoices database does not match the property map: {}.", problems.join("; ")));
    }
    let status = &properties[&map.status];
    if status.kind == "select" {
        // A select option is created by the first write that names it.
        return Ok(StatusKind::Select);
    }
    let options: Vec<&str> = status.status.iter().flat_map(|s| s.options.iter().map(|o| o.name.as_str())).collect();
    if !options.contains(&paid_status) {
        return Err(format!(
            "the status property '{}' has no option '{paid_status}' to mark an invoice paid (it has: {}); add it in \
             Notion or set [notion] paid_status to one of them",
            map.status,
            options.join(", ")
        ));
    }
    Ok(StatusKind::Status)
}

/// A Notion property type as its menu names it.
fn type_name(kind: &str) -> &str {
    match kind {
        "title" => "Title",
        "rich_text" => "Text",
        "email" => "Email",
        "number" => "Number",
        "select" => "Select",
        "status" => "Status",
        "date" => "Date",
        "url" => "URL",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn properties(value: serde_json::Value) -> HashMap<String, WireProperty> {
        serde_json::from_value(value).unwrap()
    }

    fn full() -> serde_json::Value {
        json!({
            "Invoice": {"id": "title", "name": "Invoice", "type": "title", "title": {}},
            "Customer": {"id": "a", "name": "Customer", "type": "rich_text", "rich_text": {}},
            "Customer Email": {"id": "b", "name": "Customer Email", "type": "email", "email": {}},
            "Amount": {"id": "c", "name": "Amount", "type": "number", "number": {"format": "rupee"}},
            "Currency": {"id": "d", "name": "Currency", "type": "select", "select": {"options": []}},
            "Status": {"id": "e", "name": "Status", "type": "status", "status": {"options": [{"id": "1", "name": "Issued", "color": "blue"}, {"id": "2", "name": "Paid", "color": "green"}], "groups": []}},
            "Issued": {"id": "f", "name": "Issued", "type": "date", "date": {}},
            "Due": {"id": "g", "name": "Due", "type": "date", "date": {}},
            "Paid At": {"id": "h", "name": "Paid At", "type": "date", "date": {}},
            "Payment Link": {"id": "i", "name": "Payment Link", "type": "url", "url": {}},
            "Payment ID": {"id": "j", "name": "Payment ID", "type": "rich_text", "rich_text": {}}
        })
    }

    #[test]
    fn a_matching_schema_passes_and_reports_how_status_is_written() {
        let map = NotionProperties::default();
        assert_eq!(check(&properties(full()), &map, "Paid"), Ok(StatusKind::Status));
    }

    #[test]
    fn a_missing_or_wrongly_typed_property_is_named_with_what_to_do() {
        let map = NotionProperties::default();
        let mut schema = full();
        schema.as_object_mut().unwrap().remove("Amount");
        schema["Due"]["type"] = json!("rich_text");
        let err = check(&properties(schema), &map, "Paid").unwrap_err();
        assert!(err.contains("property 'Amount' is missing (add a Number property named 'Amount'"), "{err}");
        assert!(err.contains("[notion.properties] amount"), "{err}");
        assert!(err.contains("property 'Due' is a Text property but must be Date"), "{err}");
        assert!(!err.contains("'Invoice'"), "only the broken properties are named: {err}");
    }

    #[test]
    fn a_status_property_must_have_the_paid_option() {
        let err = check(&properties(full()), &NotionProperties::default(), "Settled").unwrap_err();
        assert!(err.contains("no option 'Settled'") && err.contains("Issued, Paid"), "{err}");
    }
}
