//! Keeping credentials out of everything that leaves the process: tool results and logs.
//!
//! A provider's error text may quote what it was sent: the key secret after `key_id:`, the Basic header, the
//! Bearer token, or (through serde) a wrongly typed field that happens to hold one. [`Redactor`] is built once
//! from the [`Config`] and knows every configured secret value and how it travels on the wire (Basic and
//! Bearer encodings); [`Redactor::redact`] masks those, in any letter case, plus anything that merely looks
//! like a credential (`sk_live_…`, `bearer …`). Its output is [`Redacted`], the only text a
//! [`ProviderError`](super::ProviderError) can carry, so no provider client, present or future, can put
//! upstream text into an error without passing it through here (the shared HTTP client hands every
//! [`Reply`](super::http::Reply) the redactor for that). As a last net, the server masks the configured values
//! in every tool result and event resource ([`Redactor::mask_values`]).

use crate::config::{
    Config, HttpConfig, HubSpotConfig, NotionConfig, RazorpayConfig, StripeConfig, WebhookConfig, WebhookSource,
    WhatsAppConfig,
};
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use secrecy::ExposeSecret;
use std::sync::OnceLock;

/// What a masked value becomes.
const MASK: &str = "[REDACTED]";

/// Values shorter than this are not matched. Shorter ones would mask ordinary words and numbers in provider
/// messages ("test", "1234", "INR"), while every credential Switchboard is given is far longer (a Razorpay key
/// secret has 24 characters, Stripe keys and HubSpot tokens dozens, the HTTP token at least 16). Only webhook
/// secrets are chosen by hand, and one under 8 characters is guessable whether or not it is echoed.
pub const MIN_SECRET_LEN: usize = 8;

/// Prefixes of credentials Switchboard may not know the value of (another key pasted into a message): the
/// run of token characters after them is masked. Matched in any letter case.
const PREFIXES: &[&str] =
    &["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_", "rzp_live_", "rzp_test_", "bearer ", "basic "];

/// Text on its way out of the process with every known credential masked. Only a [`Redactor`] makes one from
/// upstream text; [`Redacted::own`] wraps Switchboard's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted(String);

impl Redacted {
    /// Switchboard's own words. Must never be given upstream text: that goes through [`Redactor::redact`].
    pub fn own(text: impl Into<String>) -> Self {
        Redacted(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The configured secrets (and their wire encodings), and the one function that masks them.
#[derive(Default)]
pub struct Redactor {
    /// Every value to mask, at least [`MIN_SECRET_LEN`] long, sorted and unique.
    needles: Vec<String>,
    /// Their matcher, built on first use: start-up (`initialize`) never waits for it.
    values: OnceLock<Values>,
}

#[derive(Default)]
enum Values {
    /// Nothing configured (or everything too short): only the prefix rules apply.
    #[default]
    None,
    Known {
        matcher: AhoCorasick,
    },
    /// The matcher could not be built (it cannot fail for a few short patterns, but if it did): withhold all
    /// upstream text rather than risk a leak.
    Unbuildable,
}

/// Never prints a secret, only how many values are known.
impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor").field("values", &self.needles.len()).finish()
    }
}

impl Redactor {
    /// Every credential in the configuration: provider keys and tokens, the HTTP token and the webhook secrets.
    pub fn from_config(config: &Config) -> Self {
        // Field by field, without `..`: a setting added to the configuration does not compile here until someone
        // decides whether it is a secret.
        let Config {
            razorpay,
            stripe,
            hubspot,
            whatsapp,
            notion,
            default_provider: _,
            http,
            webhooks,
            outbound: _,
            data_dir: _,
            store,
            confirm: _,
            approvals: _,
            read_only: _,
            sandbox: _,
        } = config;
        let mut secrets = Secrets::default();
        if let Some(RazorpayConfig { key_id, key_secret, base_url: _ }) = razorpay {
            secrets.basic_pair(key_id, key_secret.expose_secret());
        }
        if let Some(StripeConfig { api_key, base_url: _ }) = stripe {
            secrets.token(api_key.expose_secret());
        }
        if let Some(HubSpotConfig { access_token, base_url: _, search_per_second: _ }) = hubspot {
            secrets.token(access_token.expose_secret());
        }
        if let Some(WhatsAppConfig { access_token, phone_number_id: _, api_version: _, base_url: _ }) = whatsapp {
            secrets.token(access_token.expose_secret());
        }
        if let Some(NotionConfig {
            token,
            database_id: _,
            base_url: _,
            properties: _,
            paid_status: _,
            default_currency: _,
        }) = notion
        {
            secrets.token(token.expose_secret());
        }
        let HttpConfig { token, allowed_hosts: _, allowed_origins: _, limits: _ } = http;
        if let Some(token) = token {
            secrets.token(token.expose_secret());
        }
        let WebhookConfig { sources, listen: _, max_body_bytes: _, retention_days: _, max_wait_secs: _ } = webhooks;
        for WebhookSource { scheme: _, format: _, secrets: values, verify_token, max_body_bytes: _ } in sources.values()
        {
            for value in values.iter().chain(verify_token) {
                secrets.token(value.expose_secret());
            }
        }
        if let Some(password) = store.url.as_ref().and_then(|url| url_password(url.expose_secret())) {
            secrets.token(password);
        }
        Redactor::new(secrets)
    }

    fn new(secrets: Secrets) -> Self {
        let mut needles = secrets.0;
        needles.retain(|n| n.len() >= MIN_SECRET_LEN);
        needles.sort();
        needles.dedup();
        Redactor { needles, values: OnceLock::new() }
    }

    fn values(&self) -> &Values {
        self.values.get_or_init(|| {
            if self.needles.is_empty() {
                return Values::None;
            }
            // A non-contiguous NFA: built in microseconds, where the DFA the builder picks for a few dozen
            // patterns took ~1.5 million instructions (~0.5 ms); the texts searched are short.
            let built = AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::NoncontiguousNFA))
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(&self.needles);
            match built {
                Ok(matcher) => Values::Known { matcher },
                Err(_) => Values::Unbuildable,
            }
        })
    }

    /// The longest value masked, in bytes. Text cut at least this far past the point where it will be shown to
    /// end, then masked, then cut there, cannot show the start of a value the first cut split.
    pub fn longest_value(&self) -> usize {
        self.needles.iter().map(String::len).max().unwrap_or(0)
    }

    /// `text` (from a provider, or anything that might quote one) with every credential masked.
    pub fn redact(&self, text: &str) -> Redacted {
        match self.mask_values(text) {
            Some(masked) => Redacted(mask_prefixed(&masked)),
            None => Redacted(mask_prefixed(text)),
        }
    }

    /// `text` with the configured values masked, or `None` when it holds none. Only the values, not the prefix
    /// rules: for data that is not an error message (a successful result), where "bearer bonds" must survive.
    pub fn mask_values(&self, text: &str) -> Option<String> {
        let matcher = match self.values() {
            Values::None => return None,
            Values::Known { matcher, .. } => matcher,
            Values::Unbuildable => return Some(MASK.to_string()),
        };
        let mut out = String::with_capacity(text.len());
        let mut kept = 0;
        for found in matcher.find_iter(text) {
            out.push_str(&text[kept..found.start()]);
            out.push_str(MASK);
            kept = found.end();
        }
        if kept == 0 {
            return None;
        }
        out.push_str(&text[kept..]);
        Some(out)
    }

    /// [`Redactor::mask_values`] on every string in `value`.
    pub fn mask_json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(text) => {
                if let Some(masked) = self.mask_values(text) {
                    *text = masked;
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.mask_json(v)),
            serde_json::Value::Object(fields) => fields.values_mut().for_each(|v| self.mask_json(v)),
            _ => {}
        }
    }
}

/// The values a [`Redactor`] looks for, with the encodings each travels in.
#[derive(Default)]
struct Secrets(Vec<String>);

impl Secrets {
    /// A credential sent as a Bearer token, or as a Basic user with an empty password (`curl -u sk_test_…:`).
    fn token(&mut self, value: &str) {
        self.0.push(value.to_string());
        // As it appears inside a JSON string (the text copy of a structured result): `"`, `\` and control
        // characters escaped.
        if let Ok(quoted) = serde_json::to_string(value)
            && let Some(escaped) = quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"'))
            && escaped != value
        {
            self.0.push(escaped.to_string());
        }
        self.encoded(value);
        self.encoded(&format!("{value}:"));
    }

    /// A Basic-auth pair (Razorpay's `key_id:key_secret`). The id is public; the secret is also masked alone.
    fn basic_pair(&mut self, user: &str, password: &str) {
        self.token(password);
        self.encoded(&format!("{user}:{password}"));
    }

    /// Base64 without padding, in both alphabets: a padded copy starts with it, so it is masked too (the
    /// `=` left behind carries nothing).
    fn encoded(&mut self, text: &str) {
        self.0.push(STANDARD_NO_PAD.encode(text));
        self.0.push(URL_SAFE_NO_PAD.encode(text));
    }
}

/// Mask the token after each known prefix, in any letter case. After `bearer ` or `basic ` a word is left alone
/// when it reads as prose: letters only, lower case after the first ("missing bearer token", "a basic Plan").
/// Credentials mix cases and digits (base64 of `user:pass` is `dXNlcjpwYXNz`).
/// The password in a database URL's user info (`scheme://user:password@host/…`), if it has one.
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let (user_info, _host) = authority.rsplit_once('@')?;
    user_info.split_once(':').map(|(_, password)| password).filter(|p| !p.is_empty())
}

fn mask_prefixed(text: &str) -> String {
    let is_token = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '*' | '+' | '/' | '=' | '.');
    let mut out = text.to_string();
    for prefix in PREFIXES {
        let mut from = 0;
        // ASCII lower-casing keeps every byte offset, so positions found in `lower` hold in `out`.
        let mut lower = out.to_ascii_lowercase();
        while let Some(found) = lower[from..].find(prefix) {
            let start = from + found + prefix.len();
            let end = out[start..].find(|c: char| !is_token(c)).map_or(out.len(), |i| start + i);
            let word = &out[start..end];
            let plain_word = prefix.ends_with(' ')
                && word.chars().all(|c| c.is_ascii_alphabetic())
                && word.chars().skip(1).all(|c| c.is_ascii_lowercase());
            if word.is_empty() || plain_word {
                from = end;
                continue;
            }
            out.replace_range(start..end, MASK);
            lower = out.to_ascii_lowercase();
            from = start + MASK.len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    const KEY_ID: &str = "rzp_test_1DP5mmOlF5G5ag";
    const KEY_SECRET: &str = "Qm9XrT3vLp8sKd2FhW6yZb1N";
    const TOKEN: &str = "pat-na1-0f3c2a9e-7b41-4d8e-9a15-c2e6f80b3d17";

    fn redactor() -> Redactor {
        let mut secrets = Secrets::default();
        secrets.basic_pair(KEY_ID, KEY_SECRET);
        secrets.token(TOKEN);
        Redactor::new(secrets)
    }

    fn redact(text: &str) -> String {
        redactor().redact(text).to_string()
    }

    #[test]
    fn a_configured_secret_is_masked_bare_after_its_key_id_and_in_any_case() {
        assert_eq!(redact(&format!("The api secret {KEY_SECRET} is invalid")), "The api secret [REDACTED] is invalid");
        assert_eq!(
            redact(&format!("Authentication failed for {KEY_ID}:{KEY_SECRET}")),
            "Authentication failed for rzp_test_[REDACTED]:[REDACTED]"
        );
        assert_eq!(redact(&format!("token {} expired", TOKEN.to_uppercase())), "token [REDACTED] expired");
        assert_eq!(
            redact(&format!("invalid type: string \"{TOKEN}\", expected u64")),
            "invalid type: string \"[REDACTED]\", expected u64"
        );
    }

    #[test]
    fn basic_and_bearer_encodings_are_masked_whatever_the_prefix_case() {
        let pair = STANDARD_NO_PAD.encode(format!("{KEY_ID}:{KEY_SECRET}"));
        let alone = base64::engine::general_purpose::STANDARD.encode(KEY_SECRET);
        let token_user = base64::engine::general_purpose::STANDARD.encode(format!("{TOKEN}:"));
        for text in [
            format!("basic {pair}"),
            format!("Basic {pair}=="),
            format!("header was {pair}"),
            format!("BASIC {alone}"),
            format!("basic {token_user}"),
            format!("bearer {TOKEN}"),
            format!("Bearer {KEY_SECRET}"),
        ] {
            let masked = redact(&text);
            assert!(!masked.contains(&pair) && !masked.contains(&alone) && !masked.contains(&token_user), "{masked}");
            assert!(!masked.to_lowercase().contains(&KEY_SECRET.to_lowercase()), "{masked}");
            assert!(!masked.to_lowercase().contains(&TOKEN.to_lowercase()), "{masked}");
            assert!(masked.contains(MASK), "{masked}");
        }
    }

    #[test]
    fn unknown_credentials_are_masked_by_their_prefix_in_any_case() {
        let none = Redactor::default();
        assert_eq!(
            none.redact("Invalid API Key provided: sk_test_abc123").as_str(),
            "Invalid API Key provided: sk_test_[REDACTED]"
        );
        assert_eq!(none.redact("Bearer abc.def and whsec_xyz=").as_str(), "Bearer [REDACTED] and whsec_[REDACTED]");
        assert_eq!(none.redact("bearer eyJhbGci.eyJzdWIi.c2ln").as_str(), "bearer [REDACTED]");
        assert_eq!(none.redact("basic dXNlcjpwYXNz").as_str(), "basic [REDACTED]");
        assert_eq!(none.redact("nothing here").as_str(), "nothing here");
    }

    #[test]
    fn plain_words_after_bearer_or_basic_survive() {
        let none = Redactor::default();
        assert_eq!(none.redact("Missing bearer token").as_str(), "Missing bearer token");
        assert_eq!(none.redact("needs a basic subscription").as_str(), "needs a basic subscription");
        assert_eq!(none.redact("Basic Plan").as_str(), "Basic Plan");
        assert_eq!(none.redact("Bearer ").as_str(), "Bearer ");
    }

    #[test]
    fn secrets_shorter_than_the_minimum_do_not_mask_ordinary_text() {
        let mut secrets = Secrets::default();
        secrets.token("abc");
        let redactor = Redactor::new(secrets);
        assert_eq!(redactor.redact("abc is a fine customer name").as_str(), "abc is a fine customer name");
        // Its Basic encoding as a user ("abc:" → "YWJjOg") is short too; a pair with a long key id is not.
        let mut secrets = Secrets::default();
        secrets.basic_pair(KEY_ID, "abc");
        let pair = STANDARD_NO_PAD.encode(format!("{KEY_ID}:abc"));
        assert_eq!(Redactor::new(secrets).redact(&format!("got {pair}")).as_str(), "got [REDACTED]");
    }

    /// A tool result's text copy is its structured content serialised as JSON: a secret holding a quote or a
    /// backslash appears escaped there and must be masked in that form too.
    #[test]
    fn a_secret_is_masked_as_it_appears_inside_a_json_string() {
        let secret = r#"hook"secret\with-quotes"#;
        let mut secrets = Secrets::default();
        secrets.token(secret);
        let r = Redactor::new(secrets);
        let text = serde_json::json!({ "memo": format!("echo {secret}") }).to_string();
        let masked = r.mask_values(&text).expect("the escaped secret is found");
        assert_eq!(masked, r#"{"memo":"echo [REDACTED]"}"#);
    }

    #[test]
    fn mask_values_leaves_text_without_secrets_alone() {
        let r = redactor();
        assert_eq!(r.mask_values("Bearer bonds, 2026"), None);
        assert_eq!(r.mask_values(&format!("memo: {KEY_SECRET}")).as_deref(), Some("memo: [REDACTED]"));
    }

    #[test]
    fn every_credential_in_the_configuration_is_registered_and_debug_shows_none() {
        let source = |secret: &str| WebhookSource {
            verify_token: Some(SecretString::from(format!("{secret}-verify-token"))),
            ..WebhookSource::new(
                crate::webhooks::Scheme::Razorpay,
                crate::webhooks::Format::Razorpay,
                vec![SecretString::from(secret)],
                1 << 20,
            )
        };
        let config = Config {
            razorpay: Some(RazorpayConfig {
                key_id: KEY_ID.into(),
                key_secret: SecretString::from(KEY_SECRET),
                base_url: "https://api.razorpay.com".parse().unwrap(),
            }),
            stripe: Some(StripeConfig {
                api_key: SecretString::from("sk_test_51Hx9ZqLkP2mN8vB"),
                base_url: "https://api.stripe.com".parse().unwrap(),
            }),
            hubspot: Some(HubSpotConfig {
                access_token: SecretString::from(TOKEN),
                base_url: "https://api.hubapi.com".parse().unwrap(),
                search_per_second: 4,
            }),
            whatsapp: Some(WhatsAppConfig {
                access_token: SecretString::from("EAAGm0PX4ZCpsBAwhatsapptoken"),
                phone_number_id: "106540352242922".into(),
                api_version: "v26.0".into(),
                base_url: "https://graph.facebook.com".parse().unwrap(),
            }),
            notion: Some(crate::config::NotionConfig {
                token: SecretString::from("ntn_4217385096aBcDeFgHiJkLmNoPqRsTuVwXyZ"),
                database_id: "9b1c0f3e-2d4a-4f5b-8c6d-7e8f9a0b1c2d".into(),
                base_url: "https://api.notion.com".parse().unwrap(),
                properties: Default::default(),
                paid_status: "Paid".into(),
                default_currency: None,
            }),
            default_provider: None,
            http: HttpConfig {
                token: Some(SecretString::from("http-token-7d1e6b0c9a")),
                allowed_hosts: vec![],
                allowed_origins: vec![],
                limits: Default::default(),
            },
            webhooks: WebhookConfig {
                sources: [("razorpay".to_string(), source("rz-webhook-secret-42"))].into(),
                ..WebhookConfig::default()
            },
            outbound: crate::config::OutboundConfig::default(),
            data_dir: "/tmp/unused".into(),
            store: crate::config::StoreConfig {
                url: Some(SecretString::from("postgres://sb:db-password-5c2e91@db.internal:5432/sb")),
            },
            confirm: crate::config::ConfirmMode::Never,
            approvals: Default::default(),
            read_only: false,
            sandbox: false,
        };
        let r = Redactor::from_config(&config);
        for secret in [
            KEY_SECRET,
            "ntn_4217385096aBcDeFgHiJkLmNoPqRsTuVwXyZ",
            "sk_test_51Hx9ZqLkP2mN8vB",
            TOKEN,
            "http-token-7d1e6b0c9a",
            "rz-webhook-secret-42",
            "rz-webhook-secret-42-verify-token",
            "EAAGm0PX4ZCpsBAwhatsapptoken",
            "db-password-5c2e91",
        ] {
            let masked = r.redact(&format!("echo {secret}:"));
            assert_eq!(masked.as_str(), "echo [REDACTED]:", "{secret}");
        }
        assert_eq!(super::url_password("postgres://sb@db/sb"), None);
        assert_eq!(super::url_password("postgres://sb:p%40ss@db:5432/sb?sslmode=require"), Some("p%40ss"));
        let debug = format!("{r:?}");
        assert!(!debug.contains(KEY_SECRET) && !debug.contains(TOKEN), "{debug}");
    }
}
