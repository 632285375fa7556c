//! Money: integer minor units plus an ISO 4217 currency. Never `f64`.
//!
//! Providers speak minor units (paise, cents); people speak major units ("45000", "299.95").
//! [`Currency`] knows each code's exponent, so conversions are exact, and [`Money::format`] renders
//! what a person expects to read ("₹45,000.00", "$1,299.00", "¥5,000").

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An ISO 4217 currency with its minor-unit exponent (INR 2, JPY 0, KWD 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

/// Currencies whose minor unit is not 1/100 of the major unit.
const ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF",
    "XPF",
];
const THREE_DECIMAL: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
/// Every other active ISO 4217 code (exponent 2).
const TWO_DECIMAL: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BMD", "BND",
    "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CNY", "COP", "CRC", "CUP", "CVE", "CZK",
    "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD",
    "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK",
    "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
    "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON",
    "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
    "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "UZS", "VES", "WST", "XCD",
    "YER", "ZAR", "ZMW", "ZWL",
];

impl Currency {
    /// Parse an ISO 4217 code, case-insensitively ("inr", "INR").
    pub fn parse(code: &str) -> Result<Self, String> {
        let upper = code.trim().to_ascii_uppercase();
        let lookup = |table: &[&'static str], exponent| {
            table.iter().find(|c| **c == upper).map(|c| Currency { code: c, exponent })
        };
        lookup(TWO_DECIMAL, 2).or_else(|| lookup(ZERO_DECIMAL, 0)).or_else(|| lookup(THREE_DECIMAL, 3)).ok_or_else(
            || format!("'{code}' is not an ISO 4217 currency code; use a three-letter code such as INR, USD or EUR"),
        )
    }

    /// The upper-case ISO 4217 code, e.g. `INR`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Digits after the decimal point in the major unit (INR 2, JPY 0, KWD 3).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }

    fn symbol(&self) -> Option<&'static str> {
        Some(match self.code {
            "INR" => "₹",
            "USD" => "$",
            "EUR" => "€",
            "GBP" => "£",
            "JPY" => "¥",
            "AUD" => "A$",
            "CAD" => "CA$",
            "SGD" => "S$",
            "NZD" => "NZ$",
            "HKD" => "HK$",
            _ => return None,
        })
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

/// An amount of money in integer minor units of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    minor_units: i64,
    currency: Currency,
}

/// The largest amount accepted from a person: 10^12 major units is beyond any single payment.
const MAX_MAJOR_UNITS: i64 = 1_000_000_000_000;

impl Money {
    pub fn from_minor(minor_units: i64, currency: Currency) -> Self {
        Money { minor_units, currency }
    }

    /// Parse a decimal string in major units ("45000", "299.95") exactly into minor units.
    ///
    /// Rejects signs, exponents, separators, zero, more fraction digits than the currency has, and
    /// absurdly large amounts, each with a sentence that says what to send instead.
    pub fn parse_major(text: &str, currency: Currency) -> Result<Self, String> {
        let s = text.trim();
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits_only = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits_only(whole) || !digits_only(frac) || s.ends_with('.') {
            return Err(format!(
                "'{text}' is not a plain decimal amount; send major units as digits with an optional '.', e.g. \"45000\" or \"299.95\" (no signs, commas or symbols)"
            ));
        }
        let exp = usize::from(currency.exponent);
        if frac.len() > exp {
            return Err(match exp {
                0 => format!("{} has no minor unit; send a whole number, not '{text}'", currency.code),
                _ => format!(
                    "{} allows at most {exp} digits after the decimal point; '{text}' has {}",
                    currency.code,
                    frac.len()
                ),
            });
        }
        let too_large = || format!("'{text}' {} is larger than any payment Switchboard will handle", currency.code);
        let whole: i64 = whole.parse().map_err(|_| too_large())?;
        if whole >= MAX_MAJOR_UNITS {
            return Err(too_large());
        }
        let scale = 10_i64.pow(u32::from(currency.exponent));
        let frac_padded = format!("{frac:0<exp$}");
        let frac: i64 = if exp == 0 { 0 } else { frac_padded.parse().map_err(|_| too_large())? };
        let minor = whole.checked_mul(scale).and_then(|m| m.checked_add(frac)).ok_or_else(too_large)?;
        if minor == 0 {
            return Err("the amount must be greater than zero".to_string());
        }
        Ok(Money::from_minor(minor, currency))
    }

    pub fn minor_units(&self) -> i64 {
        self.minor_units
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount as plain major units without grouping, e.g. "45000.00".
    pub fn major_string(&self) -> String {
        let (sign, whole, frac) = self.parts();
        match frac {
            Some(frac) => format!("{sign}{whole}.{frac}"),
            None => format!("{sign}{whole}"),
        }
    }

    /// Human-readable amount: "₹45,000.00", "$1,299.00", "¥5,000", "KWD 1,000.500".
    /// INR uses Indian digit grouping (₹4,50,000.00), as Indian invoices do.
    pub fn format(&self) -> String {
        let (sign, whole, frac) = self.parts();
        let grouped = if self.currency.code == "INR" { group_indian(&whole) } else { group_thousands(&whole) };
        let number = match frac {
            Some(frac) => format!("{grouped}.{frac}"),
            None => grouped,
        };
        match self.currency.symbol() {
            Some(symbol) => format!("{sign}{symbol}{number}"),
            None => format!("{sign}{} {number}", self.currency.code),
        }
    }

    fn parts(&self) -> (&'static str, String, Option<String>) {
        let sign = if self.minor_units < 0 { "-" } else { "" };
        let abs = self.minor_units.unsigned_abs();
        let exp = u32::from(self.currency.exponent);
        let scale = 10_u64.pow(exp);
        let whole = (abs / scale).to_string();
        let frac = (exp > 0).then(|| format!("{:0width$}", abs % scale, width = exp as usize));
        (sign, whole, frac)
    }

    /// The wire form the model reads: minor units, currency and the formatted string.
    pub fn to_amount(self) -> Amount {
        Amount { minor_units: self.minor_units, currency: self.currency.code.to_string(), formatted: self.format() }
    }
}

fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn group_indian(digits: &str) -> String {
    if digits.len() <= 3 {
        return digits.to_string();
    }
    let (head, last3) = digits.split_at(digits.len() - 3);
    let mut out = String::new();
    for (i, c) in head.chars().enumerate() {
        if i > 0 && (head.len() - i).is_multiple_of(2) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out},{last3}")
}

/// An amount as tools return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Amount {
    /// Integer amount in the currency's smallest unit (paise for INR, cents for USD). Use this for arithmetic.
    pub minor_units: i64,
    /// ISO 4217 currency code, upper case, e.g. "INR".
    pub currency: String,
    /// The amount as a person reads it, e.g. "₹45,000.00". For display only.
    pub formatted: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(c: &str) -> Currency {
        Currency::parse(c).unwrap()
    }

    #[test]
    fn currency_codes_are_case_insensitive_and_know_their_exponent() {
        assert_eq!(cur("inr").code(), "INR");
        assert_eq!(cur("INR").exponent(), 2);
        assert_eq!(cur("jpy").exponent(), 0);
        assert_eq!(cur("KWD").exponent(), 3);
        assert!(Currency::parse("rupees").unwrap_err().contains("ISO 4217"));
        assert!(Currency::parse("XXX").is_err());
    }

    #[test]
    fn major_unit_strings_convert_exactly_to_minor_units() {
        let cases = [
            ("45000", "INR", 4_500_000),
            ("299.95", "INR", 29_995),
            ("299.9", "INR", 29_990),
            ("0.01", "USD", 1),
            ("5000", "JPY", 5_000),
            ("1.5", "KWD", 1_500),
            ("99.991", "KWD", 99_991),
        ];
        for (text, c, minor) in cases {
            assert_eq!(Money::parse_major(text, cur(c)).unwrap().minor_units(), minor, "{text} {c}");
        }
    }

    #[test]
    fn bad_amounts_are_rejected_with_a_reason() {
        let inr = cur("INR");
        assert!(Money::parse_major("299.951", inr).unwrap_err().contains("at most 2 digits"));
        assert!(Money::parse_major("10.5", cur("JPY")).unwrap_err().contains("no minor unit"));
        assert!(Money::parse_major("0", inr).unwrap_err().contains("greater than zero"));
        assert!(Money::parse_major("0.00", inr).unwrap_err().contains("greater than zero"));
        for bad in ["-5", "+5", "1e3", "1,000", "", ".5", "5.", "₹5", "NaN", " 5 5"] {
            assert!(Money::parse_major(bad, inr).is_err(), "{bad:?} must be rejected");
        }
        assert!(Money::parse_major("1000000000000", inr).unwrap_err().contains("larger"));
        assert!(Money::parse_major("99999999999999999999999", inr).is_err());
    }

    #[test]
    fn amounts_format_the_way_people_read_them() {
        assert_eq!(Money::from_minor(4_500_000, cur("INR")).format(), "₹45,000.00");
        assert_eq!(Money::from_minor(45_000_000, cur("INR")).format(), "₹4,50,000.00");
        assert_eq!(Money::from_minor(1_234_567_800, cur("INR")).format(), "₹1,23,45,678.00");
        assert_eq!(Money::from_minor(99, cur("INR")).format(), "₹0.99");
        assert_eq!(Money::from_minor(129_900, cur("USD")).format(), "$1,299.00");
        assert_eq!(Money::from_minor(123_456_789, cur("USD")).format(), "$1,234,567.89");
        assert_eq!(Money::from_minor(5_000, cur("JPY")).format(), "¥5,000");
        assert_eq!(Money::from_minor(1_000_500, cur("KWD")).format(), "KWD 1,000.500");
        assert_eq!(Money::from_minor(-250, cur("EUR")).format(), "-€2.50");
        assert_eq!(Money::from_minor(29_995, cur("INR")).major_string(), "299.95");
    }
}
