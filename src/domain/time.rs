//! Timestamps: providers send unix seconds, tools speak RFC 3339.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// Unix seconds → RFC 3339 in UTC ("2026-11-23T10:00:00Z"). Zero and out-of-range values are "unset".
pub fn rfc3339(unix_seconds: i64) -> Option<String> {
    (unix_seconds > 0)
        .then(|| DateTime::<Utc>::from_timestamp(unix_seconds, 0))
        .flatten()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// Which end of a day a bare date stands for.
#[derive(Debug, Clone, Copy)]
pub enum DayEdge {
    Start,
    End,
}

/// Parse "2026-11-01" or an RFC 3339 timestamp into unix seconds. A bare date means the start or the end
/// of that day in UTC, so a range "2026-11-01".."2026-11-30" covers both whole days.
pub fn parse_instant(field: &str, text: &str, edge: DayEdge) -> Result<i64, String> {
    let s = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        format!(
            "{field} '{}' is not a date; use YYYY-MM-DD (e.g. 2026-11-01) or RFC 3339 (2026-11-01T09:30:00+05:30)",
            super::text::clip(s, 40)
        )
    })?;
    let time = match edge {
        DayEdge::Start => date.and_hms_opt(0, 0, 0),
        DayEdge::End => date.and_hms_opt(23, 59, 59),
    };
    time.map(|t| t.and_utc().timestamp()).ok_or_else(|| format!("{field} '{s}' is out of range"))
}

/// Any RFC 3339 timestamp (e.g. HubSpot's "2026-08-18T05:00:12.123Z") → UTC, whole seconds, "Z".
/// A bare date ("2026-09-30") is kept as is.
pub fn normalize(text: &str) -> Option<String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Some(t.with_timezone(&Utc).to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok().map(|d| d.to_string())
}

/// The current time in unix seconds.
pub fn now() -> i64 {
    Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_timestamps_parse_to_unix_seconds() {
        assert_eq!(parse_instant("f", "2026-11-01", DayEdge::Start).unwrap(), 1_793_491_200);
        assert_eq!(parse_instant("f", "2026-11-01", DayEdge::End).unwrap(), 1_793_491_200 + 86_399);
        assert_eq!(parse_instant("f", "2026-11-01T05:30:00+05:30", DayEdge::Start).unwrap(), 1_793_491_200);
        assert!(parse_instant("created_from", "last week", DayEdge::Start).unwrap_err().starts_with("created_from"));
        assert_eq!(rfc3339(1_793_491_200).as_deref(), Some("2026-11-01T00:00:00Z"));
        assert_eq!(rfc3339(0), None);
    }
}
