//! `PATCH /v1/pages/{id}` `{"properties": {…}}`: each write checked against the schema and turned into the value
//! the page then carries, as Notion does — a property named by name or id, the value keyed by the property's type,
//! a status naming one of its options, a select adding a new option, text and URLs within Notion's size limits.
//! A refusal names the property and changes nothing (the whole write is applied to a copy).

use super::wire;
use crate::domain::time::{DayEdge, parse_instant};
use serde_json::{Map, Value, json};

/// Notion's limits: characters in one rich text `content`, in a URL, in an e-mail; items in an array.
const MAX_TEXT: usize = 2000;
const MAX_URL: usize = 2000;
const MAX_EMAIL: usize = 200;
const MAX_ITEMS: usize = 100;

/// Apply `writes` (the body's `properties`) to `page`; a select may add options to `schema`.
pub fn apply(page: &mut Value, schema: &mut Map<String, Value>, writes: &Map<String, Value>) -> Result<(), String> {
    for (key, write) in writes {
        let name = schema
            .iter()
            .find(|(name, p)| *name == key || p["id"].as_str() == Some(key))
            .map(|(name, _)| name.clone())
            .ok_or(format!("Could not find property with name or id: {key}"))?;
        let property = schema.get_mut(&name).ok_or(format!("Could not find property with name or id: {key}"))?;
        let inner = new_value(&name, property, write)?;
        page["properties"][&name] = wire::value(property, inner);
    }
    Ok(())
}

/// The value a write gives the property (its inner part, under the type's key).
fn new_value(name: &str, property: &mut Value, write: &Value) -> Result<Value, String> {
    let kind = property["type"].as_str().unwrap_or_default().to_string();
    let given = write.as_object().and_then(|w| w.get(&kind)).filter(|_| {
        write.as_object().is_some_and(|w| w.keys().all(|k| k == &kind || (k == "type" && w["type"] == kind.as_str())))
    });
    let Some(given) = given else {
        return Err(format!("{name} is expected to be {kind}."));
    };
    let invalid = |what: &str| format!("body failed validation: body.properties.{name}.{kind} {what}");
    match kind.as_str() {
        "title" | "rich_text" => {
            let parts = given.as_array().ok_or(invalid("should be an array."))?;
            if parts.len() > MAX_ITEMS {
                return Err(invalid(&format!("should have at most {MAX_ITEMS} items, instead has {}.", parts.len())));
            }
            parts
                .iter()
                .map(|part| text_part(part).map_err(|problem| invalid(&problem)))
                .collect::<Result<_, _>>()
                .map(Value::Array)
        }
        "number" => match given {
            Value::Null | Value::Number(_) => Ok(given.clone()),
            _ => Err(invalid("should be a number or `null`.")),
        },
        "url" => short_text(given, MAX_URL).map_err(|p| invalid(&p)),
        "email" | "phone_number" => short_text(given, MAX_EMAIL).map_err(|p| invalid(&p)),
        "date" => match given {
            Value::Null => Ok(Value::Null),
            Value::Object(date) => {
                let start = date.get("start").and_then(Value::as_str).ok_or(invalid("should have a `start`."))?;
                let end = date.get("end").cloned().unwrap_or(Value::Null);
                for when in [Some(start), end.as_str()].into_iter().flatten() {
                    parse_instant("date", when, DayEdge::Start).map_err(|_| {
                        invalid(&format!("should be an ISO 8601 date or date-time, instead was `{when}`."))
                    })?;
                }
                let zone = date.get("time_zone").cloned().unwrap_or(Value::Null);
                Ok(json!({"start": start, "end": end, "time_zone": zone}))
            }
            _ => Err(invalid("should be an object or `null`.")),
        },
        "status" => {
            let wanted = option_name(property, given).map_err(|p| invalid(&p))?;
            match wanted {
                None => Ok(Value::Null),
                Some(option) => wire::option(property, &option)
                    .ok_or(format!("Invalid status option. Status option \"{option}\" does not exist.")),
            }
        }
        "select" => match option_name(property, given).map_err(|p| invalid(&p))? {
            None => Ok(Value::Null),
            Some(option) => {
                if wire::option(property, &option).is_none() {
                    // Notion adds a select option the first time a write names it.
                    let options = property["select"]["options"].as_array().map_or(0, Vec::len);
                    let new = json!({"id": format!("n{}", options + 1), "name": option, "color": "default", "description": null});
                    if let Some(list) = property["select"]["options"].as_array_mut() {
                        list.push(new);
                    }
                }
                wire::option(property, &option).ok_or(invalid("could not be added as an option."))
            }
        },
        other => Err(format!("The sandbox cannot write {other} properties such as {name}.")),
    }
}

/// `{"name": …}` or `{"id": …}` of a select / status option → its name; `null` clears it.
fn option_name(property: &Value, given: &Value) -> Result<Option<String>, String> {
    if given.is_null() {
        return Ok(None);
    }
    if let Some(name) = given["name"].as_str() {
        if name.contains(',') {
            return Err("name should not contain commas.".into());
        }
        return Ok(Some(name.to_string()));
    }
    let kind = property["type"].as_str().unwrap_or_default();
    let id = given["id"].as_str().ok_or("should name an option by `name` or `id`.")?;
    let option = property[kind]["options"].as_array().and_then(|o| o.iter().find(|o| o["id"].as_str() == Some(id)));
    option.and_then(|o| o["name"].as_str()).map(|n| Some(n.to_string())).ok_or(format!("has no option with id `{id}`."))
}

/// One rich text input (`{"text": {"content", "link"?}}`, `type` optional) → the full object Notion stores.
fn text_part(part: &Value) -> Result<Value, String> {
    if part.get("type").is_some_and(|t| t != "text") {
        return Err("should hold `text` items; the sandbox writes no mentions or equations.".into());
    }
    let content = part["text"]["content"].as_str().ok_or("items should have `text.content`.")?;
    if content.chars().count() > MAX_TEXT {
        return Err(format!(
            "text.content.length should be ≤ `{MAX_TEXT}`, instead was `{}`.",
            content.chars().count()
        ));
    }
    let link = part["text"]["link"]["url"].as_str();
    Ok(wire::rich_text(content, link))
}

fn short_text(given: &Value, max: usize) -> Result<Value, String> {
    match given {
        Value::Null => Ok(Value::Null),
        Value::String(s) if s.chars().count() <= max => Ok(given.clone()),
        Value::String(s) => Err(format!("length should be ≤ `{max}`, instead was `{}`.", s.chars().count())),
        _ => Err("should be a string or `null`.".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> (Value, Map<String, Value>) {
        let schema = wire::schema().as_object().unwrap().clone();
        let place = wire::Place { database_id: "d", data_source_id: "s", parent_page_id: "p", created: 1_793_491_200 };
        (wire::page("x", &place, &schema, Map::new()), schema)
    }

    #[test]
    fn writes_become_the_values_notion_returns() {
        let (mut page, mut schema) = fresh();
        let writes = json!({
            "Status": {"status": {"name": "Paid"}},
            "Paid At": {"date": {"start": "2026-11-29"}},
            "Payment ID": {"rich_text": [{"text": {"content": "pay_SCx9RtYu3IoP4a"}}]},
            "Pl%3Ek": {"url": "http://127.0.0.1:8080/sandbox/pay/plink_X"},
            "Currency": {"select": {"name": "EUR"}}
        });
        apply(&mut page, &mut schema, writes.as_object().unwrap()).unwrap();
        let p = &page["properties"];
        assert_eq!(
            p["Status"],
            json!({"id": "%5EdJi", "type": "status", "status": {"id": "s3", "name": "Paid", "color": "green"}})
        );
        assert_eq!(p["Paid At"]["date"], json!({"start": "2026-11-29", "end": null, "time_zone": null}));
        assert_eq!(p["Payment ID"]["rich_text"][0]["plain_text"], "pay_SCx9RtYu3IoP4a");
        assert_eq!(p["Payment Link"]["url"], "http://127.0.0.1:8080/sandbox/pay/plink_X", "named by its id");
        assert_eq!(p["Currency"]["select"]["name"], "EUR");
        assert!(wire::option(&schema["Currency"], "EUR").is_some(), "a new select option joins the schema");
    }

    #[test]
    fn a_write_that_does_not_fit_is_refused_with_the_reason() {
        let refused = |writes: Value| {
            let (mut page, mut schema) = fresh();
            apply(&mut page, &mut schema, writes.as_object().unwrap()).unwrap_err()
        };
        assert_eq!(
            refused(json!({"Colour": {"select": {"name": "red"}}})),
            "Could not find property with name or id: Colour"
        );
        assert_eq!(
            refused(json!({"Status": {"status": {"name": "Settled"}}})),
            "Invalid status option. Status option \"Settled\" does not exist."
        );
        assert_eq!(refused(json!({"Status": {"select": {"name": "Paid"}}})), "Status is expected to be status.");
        assert!(refused(json!({"Due": {"date": {"start": "tomorrow"}}})).contains("ISO 8601"));
        assert!(refused(json!({"Payment Link": {"url": "x".repeat(2001)}})).contains("≤ `2000`"));
        assert!(refused(json!({"Amount": {"number": "45000"}})).contains("should be a number"));
    }
}
