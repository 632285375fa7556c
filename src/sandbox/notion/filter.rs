//! A data source query's `filter` and `sorts`, checked against the schema first (as Notion refuses a filter on a
//! property that does not exist, or with the wrong type's key, before it reads a row) and then applied to pages.
//!
//! Filters: `and` / `or` (nested), property filters keyed by the property's type (`rich_text` also serves title,
//! e-mail, URL and phone properties, as in Notion) and `timestamp` filters on `created_time` /
//! `last_edited_time`. Text conditions compare ignoring case. Date conditions with a bare date compare whole
//! days; with a date-time, instants. An empty value matches only `is_empty` and the negative conditions
//! (`does_not_equal`, `does_not_contain`). Sorts: by property or timestamp, ascending or descending, empty
//! values last.

use crate::domain::time::{DayEdge, parse_instant};
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// A checked filter.
#[derive(Debug)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    /// One condition on a property (by name) or a timestamp (`created_time` / `last_edited_time`).
    Condition {
        target: Target,
        family: Family,
        op: String,
        operand: Value,
    },
}

#[derive(Debug)]
pub enum Target {
    Property(String),
    Timestamp(String),
}

/// How a value is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Text,
    Option,
    Date,
    Number,
}

impl Family {
    /// The conditions Notion offers for this family.
    fn ops(self) -> &'static [&'static str] {
        match self {
            Family::Text => &[
                "equals",
                "does_not_equal",
                "contains",
                "does_not_contain",
                "starts_with",
                "ends_with",
                "is_empty",
                "is_not_empty",
            ],
            Family::Option => &["equals", "does_not_equal", "is_empty", "is_not_empty"],
            Family::Date => &["equals", "before", "after", "on_or_before", "on_or_after", "is_empty", "is_not_empty"],
            Family::Number => &[
                "equals",
                "does_not_equal",
                "greater_than",
                "less_than",
                "greater_than_or_equal_to",
                "less_than_or_equal_to",
                "is_empty",
                "is_not_empty",
            ],
        }
    }
}

/// The family of a property type, if the sandbox can filter on it.
fn family(kind: &str) -> Option<Family> {
    match kind {
        "title" | "rich_text" | "email" | "url" | "phone_number" => Some(Family::Text),
        "select" | "status" => Some(Family::Option),
        "date" => Some(Family::Date),
        "number" => Some(Family::Number),
        _ => None,
    }
}

/// Check a filter object against the schema (`properties` by name).
pub fn parse(filter: &Value, schema: &Map<String, Value>) -> Result<Filter, String> {
    let object = filter.as_object().ok_or("body failed validation: body.filter should be an object.")?;
    for (compound, make) in [("and", Filter::And as fn(Vec<Filter>) -> Filter), ("or", Filter::Or)] {
        if let Some(list) = object.get(compound) {
            let list =
                list.as_array().ok_or(format!("body failed validation: body.filter.{compound} should be an array."))?;
            return list.iter().map(|f| parse(f, schema)).collect::<Result<Vec<_>, _>>().map(make);
        }
    }
    if let Some(which) = object.get("timestamp") {
        let which = which.as_str().unwrap_or_default();
        if !matches!(which, "created_time" | "last_edited_time") {
            return Err(format!(
                "body failed validation: body.filter.timestamp should be `\"created_time\"` or `\"last_edited_time\"`, instead was `{which}`."
            ));
        }
        let (op, operand) = condition(object, which, Family::Date)?;
        return Ok(Filter::Condition { target: Target::Timestamp(which.into()), family: Family::Date, op, operand });
    }
    let name = object
        .get("property")
        .and_then(Value::as_str)
        .ok_or("body failed validation: body.filter should have `and`, `or`, `property` or `timestamp`.")?;
    let property = schema
        .get(name)
        .or_else(|| schema.values().find(|p| p["id"].as_str() == Some(name)))
        .ok_or(format!("Could not find property with name or id: {name}"))?;
    let kind = property["type"].as_str().unwrap_or_default();
    let family = family(kind).ok_or(format!("The sandbox cannot filter on {kind} properties such as {name}."))?;
    let key = object
        .keys()
        .find(|k| k.as_str() != "property" && k.as_str() != "type")
        .ok_or(format!("body failed validation: body.filter.{kind} should be defined, instead was `undefined`."))?;
    let key_fits = key == kind || (key == "rich_text" && family == Family::Text);
    if !key_fits {
        return Err(format!("{name} is a {kind} property: filter it with `{kind}`, not `{key}`."));
    }
    let (op, operand) = condition(object, key, family)?;
    let name = property["name"].as_str().unwrap_or(name).to_string();
    Ok(Filter::Condition { target: Target::Property(name), family, op, operand })
}

/// The one condition under `key`, checked: a known operator with an operand of the right type.
fn condition(object: &Map<String, Value>, key: &str, family: Family) -> Result<(String, Value), String> {
    let inner =
        object[key].as_object().ok_or(format!("body failed validation: body.filter.{key} should be an object."))?;
    let [(op, operand)] = inner.iter().collect::<Vec<_>>()[..] else {
        return Err(format!("body failed validation: body.filter.{key} should have exactly one condition."));
    };
    if !family.ops().contains(&op.as_str()) {
        let allowed = family.ops().join("`, `");
        return Err(format!(
            "body failed validation: body.filter.{key}.{op} is not a condition; use one of `{allowed}`."
        ));
    }
    let fits = match (op.as_str(), family) {
        ("is_empty" | "is_not_empty", _) => operand == &Value::Bool(true),
        (_, Family::Number) => operand.is_number(),
        (_, Family::Date) => operand.as_str().is_some_and(|d| parse_instant("date", d, DayEdge::Start).is_ok()),
        _ => operand.is_string(),
    };
    if !fits {
        return Err(format!("body failed validation: body.filter.{key}.{op} has the wrong type or form: `{operand}`."));
    }
    Ok((op.clone(), operand.clone()))
}

/// What a page holds for a target, as text (dates: their start), number, or nothing.
fn read(page: &Value, target: &Target) -> Option<Value> {
    let value = match target {
        Target::Timestamp(which) => return page[which].as_str().map(|s| Value::String(s.into())),
        Target::Property(name) => &page["properties"][name],
    };
    let kind = value["type"].as_str().unwrap_or_default();
    let inner = &value[kind];
    let found = match kind {
        "title" | "rich_text" => {
            let text: String = inner.as_array()?.iter().filter_map(|t| t["plain_text"].as_str()).collect();
            Value::String(text)
        }
        "select" | "status" => inner["name"].clone(),
        "date" => inner["start"].clone(),
        _ => inner.clone(),
    };
    match &found {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        _ => Some(found),
    }
}

impl Filter {
    /// Whether `page` passes.
    pub fn matches(&self, page: &Value) -> bool {
        match self {
            Filter::And(all) => all.iter().all(|f| f.matches(page)),
            Filter::Or(any) => any.iter().any(|f| f.matches(page)),
            Filter::Condition { target, family, op, operand } => test(*family, op, operand, read(page, target)),
        }
    }
}

fn test(family: Family, op: &str, operand: &Value, value: Option<Value>) -> bool {
    let Some(value) = value else {
        return matches!(op, "is_empty" | "does_not_equal" | "does_not_contain");
    };
    match (family, op) {
        (_, "is_empty") => false,
        (_, "is_not_empty") => true,
        (Family::Number, _) => {
            let (v, o) = (value.as_f64().unwrap_or(f64::NAN), operand.as_f64().unwrap_or(f64::NAN));
            match op {
                "equals" => v == o,
                "does_not_equal" => v != o,
                "greater_than" => v > o,
                "less_than" => v < o,
                "greater_than_or_equal_to" => v >= o,
                _ => v <= o,
            }
        }
        (Family::Date, _) => {
            let order = compare_dates(value.as_str().unwrap_or_default(), operand.as_str().unwrap_or_default());
            match op {
                "equals" => order == Some(Ordering::Equal),
                "before" => order == Some(Ordering::Less),
                "after" => order == Some(Ordering::Greater),
                "on_or_before" => order.is_some_and(Ordering::is_le),
                _ => order.is_some_and(Ordering::is_ge),
            }
        }
        (Family::Text | Family::Option, _) => {
            let v = value.as_str().unwrap_or_default().to_lowercase();
            let o = operand.as_str().unwrap_or_default().to_lowercase();
            match op {
                "equals" => v == o,
                "does_not_equal" => v != o,
                "contains" => v.contains(&o),
                "does_not_contain" => !v.contains(&o),
                "starts_with" => v.starts_with(&o),
                _ => v.ends_with(&o),
            }
        }
    }
}

/// A page's date against a condition's: by whole days when the condition names a day, else by instant.
fn compare_dates(value: &str, operand: &str) -> Option<Ordering> {
    if operand.len() == 10 {
        return Some(value.get(..10)?.cmp(operand));
    }
    let v = parse_instant("date", value, DayEdge::Start).ok()?;
    let o = parse_instant("date", operand, DayEdge::Start).ok()?;
    Some(v.cmp(&o))
}

/// A checked sort key.
#[derive(Debug)]
pub struct Sort {
    target: Target,
    descending: bool,
}

/// Check `sorts` against the schema.
pub fn parse_sorts(sorts: &Value, schema: &Map<String, Value>) -> Result<Vec<Sort>, String> {
    let list = sorts.as_array().ok_or("body failed validation: body.sorts should be an array.")?;
    list.iter()
        .map(|sort| {
            let descending = match sort["direction"].as_str() {
                Some("ascending") => false,
                Some("descending") => true,
                _ => return Err("body failed validation: body.sorts[].direction should be `\"ascending\"` or `\"descending\"`.".to_string()),
            };
            let target = match (sort["property"].as_str(), sort["timestamp"].as_str()) {
                (Some(name), None) => {
                    let property = schema
                        .get(name)
                        .or_else(|| schema.values().find(|p| p["id"].as_str() == Some(name)))
                        .ok_or(format!("Could not find sort property with name or id: {name}"))?;
                    Target::Property(property["name"].as_str().unwrap_or(name).to_string())
                }
                (None, Some(which @ ("created_time" | "last_edited_time"))) => Target::Timestamp(which.into()),
                _ => {
                    return Err("body failed validation: each of body.sorts should name a `property` or a `timestamp` (`created_time` or `last_edited_time`).".into());
                }
            };
            Ok(Sort { target, descending })
        })
        .collect()
}

/// Order pages by the sort keys in turn; empty values last whatever the direction. Stable.
pub fn sort(pages: &mut [Value], sorts: &[Sort]) {
    pages.sort_by(|a, b| {
        for key in sorts {
            let order = match (read(a, &key.target), read(b, &key.target)) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => {
                    let order = match (x.as_f64(), y.as_f64()) {
                        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
                        _ => x
                            .as_str()
                            .unwrap_or_default()
                            .to_lowercase()
                            .cmp(&y.as_str().unwrap_or_default().to_lowercase()),
                    };
                    if key.descending { order.reverse() } else { order }
                }
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    });
}

#[cfg(test)]
mod tests {
    use super::super::wire;
    use super::*;
    use serde_json::json;

    fn schema() -> Map<String, Value> {
        wire::schema().as_object().unwrap().clone()
    }

    fn row(email: &str, status: &str, due: Option<&str>, amount: f64) -> Value {
        let schema = schema();
        let mut values = Map::new();
        values.insert("Customer Email".into(), json!(email));
        values.insert("Status".into(), wire::option(&schema["Status"], status).unwrap());
        values.insert("Amount".into(), json!(amount));
        values.insert("Invoice".into(), json!([wire::rich_text(&format!("INV {email}"), None)]));
        if let Some(due) = due {
            values.insert("Due".into(), json!({"start": due, "end": null, "time_zone": null}));
        }
        let place = wire::Place { database_id: "d", data_source_id: "s", parent_page_id: "p", created: 1_793_491_200 };
        wire::page("x", &place, &schema, values)
    }

    fn passes(filter: Value, page: &Value) -> bool {
        parse(&filter, &schema()).unwrap().matches(page)
    }

    #[test]
    fn conditions_compare_as_notion_does() {
        let overdue = row("Asha@Example.com", "Issued", Some("2026-11-15"), 45000.0);
        let undated = row("b@example.com", "Draft", None, 10.0);
        assert!(passes(json!({"property": "Customer Email", "email": {"equals": "asha@example.com"}}), &overdue));
        assert!(passes(json!({"property": "Invoice", "rich_text": {"contains": "asha"}}), &overdue));
        assert!(passes(json!({"property": "Invoice", "title": {"starts_with": "INV"}}), &overdue));
        assert!(passes(json!({"property": "Status", "status": {"does_not_equal": "Paid"}}), &overdue));
        assert!(!passes(json!({"property": "Status", "status": {"equals": "Paid"}}), &overdue));
        assert!(passes(json!({"property": "Due", "date": {"before": "2026-11-16"}}), &overdue));
        assert!(!passes(json!({"property": "Due", "date": {"before": "2026-11-15"}}), &overdue));
        assert!(passes(json!({"property": "Due", "date": {"on_or_before": "2026-11-15"}}), &overdue));
        assert!(passes(json!({"property": "Due", "date": {"on_or_after": "2026-11-15"}}), &overdue));
        assert!(!passes(json!({"property": "Due", "date": {"after": "2026-11-15"}}), &overdue));
        assert!(!passes(json!({"property": "Due", "date": {"before": "2099-01-01"}}), &undated), "empty: no date");
        assert!(passes(json!({"property": "Due", "date": {"is_empty": true}}), &undated));
        assert!(passes(json!({"property": "Amount", "number": {"greater_than": 100}}), &overdue));
        assert!(passes(json!({"timestamp": "created_time", "created_time": {"on_or_after": "2026-11-01"}}), &overdue));
        let both = json!({"and": [
            {"property": "Status", "status": {"does_not_equal": "Paid"}},
            {"or": [{"property": "Due", "date": {"before": "2026-12-01"}}, {"property": "Amount", "number": {"equals": 10}}]}
        ]});
        assert!(passes(both.clone(), &overdue) && passes(both, &undated));
    }

    #[test]
    fn a_filter_that_does_not_fit_the_schema_is_refused_with_the_reason() {
        let refused = |filter: Value| parse(&filter, &schema()).unwrap_err();
        assert_eq!(
            refused(json!({"property": "Colour", "select": {"equals": "red"}})),
            "Could not find property with name or id: Colour"
        );
        assert!(
            refused(json!({"property": "Status", "select": {"equals": "Paid"}})).contains("filter it with `status`")
        );
        assert!(refused(json!({"property": "Due", "date": {"before": "soon"}})).contains("wrong type or form"));
        assert!(refused(json!({"property": "Due", "date": {"sometime": "2026-01-01"}})).contains("is not a condition"));
        assert!(refused(json!({"property": "Amount", "number": {"equals": "5"}})).contains("wrong type"));
    }

    #[test]
    fn sorts_order_by_each_key_in_turn_with_empty_values_last() {
        let mut pages = vec![
            row("a", "Issued", Some("2026-11-01"), 1.0),
            row("b", "Issued", None, 2.0),
            row("c", "Issued", Some("2026-12-01"), 3.0),
            row("d", "Issued", Some("2026-12-01"), 4.0),
        ];
        let sorts = parse_sorts(
            &json!([{"property": "Due", "direction": "descending"}, {"property": "Amount", "direction": "ascending"}]),
            &schema(),
        )
        .unwrap();
        sort(&mut pages, &sorts);
        let order: Vec<f64> = pages.iter().map(|p| p["properties"]["Amount"]["number"].as_f64().unwrap()).collect();
        assert_eq!(order, [3.0, 4.0, 1.0, 2.0]);
        assert!(parse_sorts(&json!([{"property": "Nope", "direction": "ascending"}]), &schema()).is_err());
        assert!(parse_sorts(&json!([{"timestamp": "created_time", "direction": "up"}]), &schema()).is_err());
    }
}
