//! Untrusted text from providers (customer names, descriptions, notes) goes to the model.
//! It is attacker-controlled: strip control and bidi-override characters and cap its length.

/// The longest free-text field returned to the model, in characters.
pub const MAX_UNTRUSTED_CHARS: usize = 2_000;

/// Clean provider-supplied free text: drop control and bidi formatting characters, trim, cap length.
/// Returns `None` for empty text so "no value" and "empty value" read the same.
pub fn untrusted(text: &str) -> Option<String> {
    let trimmed = text.trim();
    // Most provider text is clean: copy it once instead of rebuilding it character by character.
    if !trimmed.chars().any(is_hidden) {
        return (!trimmed.is_empty()).then(|| clip(trimmed, MAX_UNTRUSTED_CHARS));
    }
    let cleaned = strip_hidden(text);
    let cleaned = cleaned.trim();
    (!cleaned.is_empty()).then(|| clip(cleaned, MAX_UNTRUSTED_CHARS))
}

/// Drop control (except newline and tab) and bidi formatting characters, keeping everything else.
pub fn strip_hidden(text: &str) -> String {
    text.chars().filter(|c| !is_hidden(*c)).collect()
}

/// Same as [`untrusted`] for an optional value.
pub fn untrusted_opt(text: Option<&str>) -> Option<String> {
    text.and_then(untrusted)
}

/// Cut `text` to at most `max` characters, marking the cut with "…".
pub fn clip(text: &str, max: usize) -> String {
    // A string of at most `max` bytes has at most `max` characters.
    if text.len() <= max || text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn is_hidden(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_removed_and_length_capped() {
        assert_eq!(untrusted("  Acme\u{202E}Corp\u{0007} ").as_deref(), Some("AcmeCorp"));
        assert_eq!(untrusted("line1\nline2").as_deref(), Some("line1\nline2"));
        assert_eq!(untrusted(" \u{200B} "), None);
        let long = "x".repeat(MAX_UNTRUSTED_CHARS + 10);
        let cut = untrusted(&long).unwrap();
        assert_eq!(cut.chars().count(), MAX_UNTRUSTED_CHARS);
        assert!(cut.ends_with('…'));
    }
}
