//! Razorpay sends integers as numbers, sometimes as strings, and `null` for unset.

use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum IntOrString {
    Int(i64),
    Float(f64),
    Text(String),
}

pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<IntOrString>::deserialize(d)? {
        Some(IntOrString::Int(i)) => Some(i),
        // Whole numbers only: a fractional paise value would be a wire bug, so it is not rounded.
        Some(IntOrString::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
        Some(IntOrString::Float(_)) => {
            return Err(serde::de::Error::custom("expected an integer amount"));
        }
        Some(IntOrString::Text(s)) if s.trim().is_empty() => None,
        Some(IntOrString::Text(s)) => Some(s.trim().parse().map_err(serde::de::Error::custom)?),
        None => None,
    })
}
