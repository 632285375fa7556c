//! Opaque pagination cursors: the model passes back `next_cursor` verbatim to continue a listing.

use crate::domain::ProviderId;
use crate::error::ToolError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Cursor {
    /// Which provider's listing this continues.
    p: ProviderId,
    /// The provider's own position (an offset or the last object id).
    at: String,
}

/// Wrap a provider position into a cursor string.
pub fn encode(provider: ProviderId, position: &str) -> String {
    let json = serde_json::json!({ "p": provider, "at": position });
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// Unwrap a cursor, checking it belongs to `provider`.
pub fn decode(provider: ProviderId, cursor: &str) -> Result<String, ToolError> {
    let bad = || {
        ToolError::invalid(
            "cursor is not one Switchboard returned; pass next_cursor exactly as given, or omit it to start over",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if cursor.p != provider {
        return Err(ToolError::invalid(format!(
            "cursor continues a {} listing but this call is for {}; use the same provider as the first call",
            cursor.p, provider
        )));
    }
    Ok(cursor.at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_tampering() {
        let c = encode(ProviderId::Stripe, "position_123");
        assert_eq!(decode(ProviderId::Stripe, &c).unwrap(), "position_123");
        assert!(decode(ProviderId::Razorpay, &c).is_err());
        assert!(decode(ProviderId::Stripe, "not-a-cursor").is_err());
    }
}
