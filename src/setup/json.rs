//! A JSON value that keeps its objects' key order, so merging our block into someone's config file leaves the
//! rest of the file in the order they wrote it. (`serde_json::Value` sorts keys unless its `preserve_order`
//! feature is on, and turning that on crate-wide would reorder the committed tool catalog.)

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// An object with these members, in this order.
    pub fn object<K: Into<String>>(members: impl IntoIterator<Item = (K, Json)>) -> Json {
        Json::Object(members.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn string(text: impl Into<String>) -> Json {
        Json::String(text.into())
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Set `key` on an object: in place if it is there (returning true), else appended.
    pub fn set(members: &mut Vec<(String, Json)>, key: &str, value: Json) -> bool {
        match members.iter_mut().find(|(k, _)| k == key) {
            Some((_, slot)) => {
                *slot = value;
                true
            }
            None => {
                members.push((key.to_string(), value));
                false
            }
        }
    }

    /// Two-space indented text with a final newline, as editors write these files.
    pub fn to_pretty(&self) -> String {
        // Serializing an in-memory tree of strings, numbers and containers into a String cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            Json::Number(n) => n.serialize(serializer),
            Json::String(s) => serializer.serialize_str(s),
            Json::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (key, value) in members {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(n).map(Json::Number).ok_or_else(|| E::custom("a number JSON cannot hold"))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Json, E> {
        Ok(Json::String(s.to_string()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Json, E> {
        Ok(Json::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members: Vec<(String, Json)> = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            // A repeated key: the last one wins, as in JSON.parse and serde_json.
            Json::set(&mut members, &key, value);
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_and_printing_keeps_key_order_and_values() {
        let text = "{\n  \"zeta\": [1, -2, 3.5, true, null],\n  \"alpha\": {\"b\": \"x\", \"a\": \"y\"}\n}";
        let json: Json = serde_json::from_str(text).unwrap();
        let printed = json.to_pretty();
        assert!(printed.find("zeta").unwrap() < printed.find("alpha").unwrap(), "{printed}");
        assert!(printed.find("\"b\"").unwrap() < printed.find("\"a\"").unwrap(), "{printed}");
        let reread: serde_json::Value = serde_json::from_str(&printed).unwrap();
        assert_eq!(reread, serde_json::from_str::<serde_json::Value>(text).unwrap());
        assert!(printed.ends_with("}\n"));
    }

    #[test]
    fn set_replaces_in_place_or_appends() {
        let mut members = vec![("a".to_string(), Json::Null), ("b".to_string(), Json::Null)];
        assert!(Json::set(&mut members, "a", Json::Bool(true)));
        assert!(!Json::set(&mut members, "c", Json::Bool(false)));
        let keys: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(members[0].1, Json::Bool(true));
    }
}
