//! An action waiting for a person's approval: what will happen, in words a person checks (amount and currency,
//! recipient, the full text, the provider), sealed to the exact call that asked (its tool, idempotency key and a
//! hash of all its arguments), and its fate.

use serde::{Deserialize, Serialize};

/// Where an approval stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for a person. Past `expires_at` it counts as [`ApprovalStatus::Expired`].
    Pending,
    /// A person approved; the action is being performed.
    Approved,
    /// A person declined: nothing was done.
    Declined,
    /// Nobody decided in time: nothing was done.
    Expired,
    /// Approved and performed; `outcome` holds the tool's result.
    Done,
    /// Approved, but performing it failed; `outcome` holds the reason.
    Failed,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Declined => "declined",
            ApprovalStatus::Expired => "expired",
            ApprovalStatus::Done => "done",
            ApprovalStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Declined, Self::Expired, Self::Done, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    /// Whether a person has yet to decide.
    pub fn is_open(self) -> bool {
        self == ApprovalStatus::Pending
    }
}

/// What the person is shown: a one-line headline and labelled details, all plain text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// E.g. "Create a Razorpay payment link for ₹45,000.00 (INR)".
    pub headline: String,
    /// E.g. ("Customer", "Ananya Sharma, ananya@example.com"), in display order.
    pub details: Vec<(String, String)>,
}

impl Summary {
    /// The summary as one plain-text question (for elicitation forms and logs), one line per detail: a line
    /// break inside a value (a description, a name) is shown as a space, so it cannot fake a line of its own.
    pub fn as_question(&self) -> String {
        let flat = |text: &str| text.replace(['\r', '\n'], " ");
        let mut text = format!("{}?", flat(&self.headline));
        for (label, value) in &self.details {
            text.push_str(&format!("\n{}: {}", flat(label), flat(value)));
        }
        text
    }
}

/// The result of performing an approved action, as the tool would have returned it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The tool's structured result.
    Ok(serde_json::Value),
    /// A sentence saying why it failed and what to do.
    Error(String),
}

/// One approval, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    /// Unguessable (128 random bits): it is the capability in the approval link.
    pub id: String,
    /// The tool that asked, e.g. "create_payment_link".
    pub tool: String,
    /// The call's idempotency key: one approval per (tool, key).
    pub key: String,
    /// A hash of every argument of the call: what is performed must hash the same.
    pub binding: String,
    pub summary: Summary,
    /// The call's arguments, as the tool parses them, to perform it once approved.
    pub arguments: serde_json::Value,
    /// Unguessable, only ever in the approval page's form: a cross-site POST cannot know it.
    pub form_token: String,
    pub status: ApprovalStatus,
    /// Unix seconds.
    pub created_at: i64,
    pub expires_at: i64,
    pub decided_at: Option<i64>,
    /// Set once the agent has been told a final outcome (a failure or an expiry); a later call may then ask again.
    pub reported: bool,
    pub outcome: Option<Outcome>,
}

impl Approval {
    /// The status as of `now`: a pending approval past its expiry is expired, whatever the row says.
    pub fn status_at(&self, now: i64) -> ApprovalStatus {
        if self.status == ApprovalStatus::Pending && now >= self.expires_at {
            ApprovalStatus::Expired
        } else {
            self.status
        }
    }
}

impl Approval {
    /// Whether a new proposal for the same (tool, key) may take this approval's place at `now`: nothing was
    /// performed and the agent already knows how it ended (an expiry needs no telling: asking again is the
    /// answer).
    pub fn gives_way(&self, now: i64) -> bool {
        match self.status_at(now) {
            ApprovalStatus::Expired => true,
            ApprovalStatus::Failed | ApprovalStatus::Declined => self.reported,
            _ => false,
        }
    }
}

/// A person's answer on the approval page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Decline,
}

/// A new random identifier: `prefix` then 26 characters of lowercase base32 (130 bits, from the OS's RNG).
pub fn random_token(prefix: &str) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let bytes: [u8; 26] = rand::random();
    let tail: String = bytes.iter().map(|b| ALPHABET[usize::from(b & 31)] as char).collect();
    format!("{prefix}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for s in [
            ApprovalStatus::Pending,
            ApprovalStatus::Approved,
            ApprovalStatus::Declined,
            ApprovalStatus::Expired,
            ApprovalStatus::Done,
            ApprovalStatus::Failed,
        ] {
            assert_eq!(ApprovalStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ApprovalStatus::parse("maybe"), None);
    }

    #[test]
    fn a_value_cannot_add_lines_of_its_own_to_the_question() {
        let summary = Summary {
            headline: "Create a Razorpay payment link for ₹1.00 (INR)".into(),
            details: vec![("For".into(), "rent\nAmount: ₹1.00 (INR)".into())],
        };
        assert_eq!(
            summary.as_question(),
            "Create a Razorpay payment link for ₹1.00 (INR)?\nFor: rent Amount: ₹1.00 (INR)"
        );
    }

    #[test]
    fn tokens_are_distinct_and_url_safe() {
        let (a, b) = (random_token("apv_"), random_token("apv_"));
        assert_ne!(a, b);
        assert_eq!(a.len(), 30);
        assert!(a[4..].bytes().all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c)));
    }
}
