//! MCP tools, one toolset per file. Each tool: an Args struct (its doc comments are the schema the model
//! reads), a `#[tool]` fn, and a mapping into domain types. Routers are merged in `server.rs`.

pub mod actions;
pub mod book;
pub mod conversations;
pub mod crm;
pub mod cursor;
pub mod events;
pub mod invoices;
pub mod leads;
pub mod messages;
pub mod once;
pub mod payment_links;

use crate::domain::{Provider, ProviderId};
use crate::error::ToolError;
use crate::providers::Registry;
use crate::server::Switchboard;

pub use actions::Actions;

impl Switchboard {
    /// The configured providers, and which one serves a call.
    pub(crate) fn providers(&self) -> &Registry {
        &self.state().providers
    }
}

/// The `limit` argument of a listing tool: 1–100, `default` when absent.
pub(crate) fn page_limit(limit: Option<u32>, default: u32) -> Result<usize, ToolError> {
    match limit.unwrap_or(default) {
        n @ 1..=100 => Ok(n as usize),
        n => Err(ToolError::invalid(format!("limit must be between 1 and 100, got {n}"))),
    }
}

/// Deserialize an optional enum argument so that a bad value names its field and the accepted values
/// (serde alone says "unknown variant `unpaid`" without saying which argument).
pub(crate) fn enum_arg<'de, D, T>(field: &str, d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::Deserialize;
    use serde::de::Error;
    let Some(raw) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    serde_json::from_value(serde_json::Value::String(raw))
        .map(Some)
        .map_err(|e| D::Error::custom(format!("{field}: {e}")))
}

/// `provider` argument: "razorpay" or "stripe".
pub(crate) fn provider_arg<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Provider>, D::Error> {
    enum_arg("provider", d)
}

/// The provider a call names, as the id the registry speaks.
pub(crate) fn named(provider: Option<Provider>) -> Option<ProviderId> {
    provider.map(ProviderId::from)
}

/// Make an argument schema portable to single-`type` dialects (e.g. Gemini's): an optional argument is simply
/// not required, so `"type": ["string", "null"]` becomes `"type": "string"` and `anyOf [X, null]` becomes X.
/// Applied with `#[schemars(transform = super::portable_args)]` on every Args struct.
pub(crate) fn portable_args(schema: &mut schemars::Schema) {
    let Some(properties) = schema.get_mut("properties").and_then(|p| p.as_object_mut()) else { return };
    for property in properties.values_mut() {
        let Some(property) = property.as_object_mut() else { continue };
        if let Some(types) = property.get("type").and_then(|t| t.as_array()) {
            let non_null: Vec<_> = types.iter().filter(|t| *t != "null").cloned().collect();
            if let [only] = non_null.as_slice() {
                property.insert("type".into(), only.clone());
            }
        }
        let any_of = property.get("anyOf").and_then(|a| a.as_array()).cloned();
        if let Some(any_of) = any_of {
            let non_null: Vec<_> = any_of.into_iter().filter(|s| s.get("type").is_none_or(|t| t != "null")).collect();
            if let [serde_json::Value::Object(only)] = non_null.as_slice() {
                property.remove("anyOf");
                for (k, v) in only {
                    property.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
        if property.get("default").is_some_and(|d| d.is_null()) {
            property.remove("default");
        }
    }
}

/// A decimal argument documented as a string, also accepted as a JSON number (some clients, such as MCP
/// Inspector's CLI, send `45000` for `"45000"`). Integers keep their digits; a fraction becomes the shortest
/// text that reads back to the same value ("299.95"), which the money parser then checks like any string.
pub(crate) fn decimal_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct DecimalText;
    impl serde::de::Visitor<'_> for DecimalText {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a decimal amount in major units as a string, e.g. \"45000\" or \"299.95\"")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    deserializer.deserialize_any(DecimalText)
}
