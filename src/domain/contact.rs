//! Contact details that arrive as tool arguments: validated once, here.

use std::fmt;

/// A syntactically valid e-mail address (lower-cased domain, no spaces, one `@`, a dotted domain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, text: &str) -> Result<Self, String> {
        let s = text.trim();
        let bad = || {
            format!("{field} '{}' is not a valid e-mail address; send it as name@example.com", super::text::clip(s, 80))
        };
        let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        let local_ok = !local.is_empty() && !local.contains('@') && local.bytes().all(|b| b.is_ascii_graphic());
        if s.len() > 254 || !domain_ok || !local_ok {
            return Err(bad());
        }
        Ok(Email(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Case-insensitive comparison with an address a provider returned.
    pub fn matches(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other.trim())
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_validated_and_normalised() {
        assert_eq!(Email::parse("email", " Asha@Example.COM ").unwrap().as_str(), "Asha@example.com");
        for bad in
            ["", "asha", "asha@", "@example.com", "asha@example", "a b@example.com", "asha@@x.com", "asha@x..com"]
        {
            let err = Email::parse("customer_email", bad).unwrap_err();
            assert!(err.starts_with("customer_email"), "{err}");
        }
        assert!(Email::parse("e", "asha@example.com").unwrap().matches("ASHA@example.com"));
    }
}
