//! Payment links: what the agent asks for (validated) and what it gets back (provider-neutral).

use super::{Amount, Email, Money, Provider, ProviderId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A validated request to create a payment link.
#[derive(Debug, Clone)]
pub struct PaymentLinkRequest {
    pub amount: Money,
    pub description: Option<String>,
    pub customer: LinkCustomerInput,
    /// The caller's own reference (an invoice number, an order id).
    pub reference_id: Option<String>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    pub notify_email: bool,
    pub notify_sms: bool,
    pub callback_url: Option<String>,
}

/// Customer details for a new link, already validated.
#[derive(Debug, Clone, Default)]
pub struct LinkCustomerInput {
    pub name: Option<String>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
}

/// A phone number as `+` and 8–15 digits (E.164), e.g. "+919876543210".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(field: &str, text: &str) -> Result<Self, String> {
        let compact: String = text.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.')).collect();
        let digits = compact.strip_prefix('+').unwrap_or(&compact);
        if (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Phone(compact))
        } else {
            Err(format!(
                "{field} '{}' is not a phone number; send it with the country code, e.g. \"+919876543210\"",
                super::text::clip(text, 40)
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A payment link as every provider's reads once normalised.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PaymentLink {
    /// The provider's payment link id (`plink_…`). Pass it to `get_payment_link` or `cancel_payment_link`.
    pub id: String,
    /// Which provider holds the link.
    #[schemars(with = "Provider")]
    pub provider: ProviderId,
    /// The URL to send the customer; they pay there.
    pub url: Option<String>,
    /// Normalised status, the same vocabulary for every provider.
    pub status: PaymentLinkStatus,
    /// The provider's own status word.
    pub provider_status: String,
    /// Amount requested.
    pub amount: Amount,
    /// Amount paid so far.
    pub amount_paid: Amount,
    /// What the payment is for (untrusted text).
    pub description: Option<String>,
    /// Who the link is for.
    pub customer: LinkCustomer,
    /// The caller's own reference, if one was given at creation.
    pub reference_id: Option<String>,
    /// When the link stops accepting payment (RFC 3339, UTC).
    pub expires_at: Option<String>,
    /// When the link was created (RFC 3339, UTC).
    pub created_at: Option<String>,
    /// Payments made through the link.
    pub payments: Vec<LinkPayment>,
}

/// Normalised payment link status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentLinkStatus {
    /// Created and awaiting payment.
    Created,
    /// Part of the amount paid.
    PartiallyPaid,
    /// Paid in full.
    Paid,
    /// Expired before full payment.
    Expired,
    /// Cancelled (deactivated); it no longer accepts payment.
    Cancelled,
}

/// Customer details on a link.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct LinkCustomer {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// A payment made through a link.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LinkPayment {
    /// The provider's payment id (`pay_…` Razorpay, `pi_…`/`cs_…` Stripe).
    pub id: String,
    pub amount: Amount,
    /// The provider's payment status, e.g. "captured" or "paid".
    pub status: String,
    /// Payment method, e.g. "upi" or "card", when known.
    pub method: Option<String>,
    /// When it was made (RFC 3339, UTC).
    pub paid_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_need_a_plausible_length_and_only_digits() {
        assert_eq!(Phone::parse("p", "+91 98765-43210").unwrap().as_str(), "+919876543210");
        for bad in ["12345", "+91 98765 4321O", "call me", "+1234567890123456"] {
            assert!(Phone::parse("customer_phone", bad).unwrap_err().starts_with("customer_phone"), "{bad}");
        }
    }
}
