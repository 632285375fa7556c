//! Every environment variable Switchboard reads, and which of them hold secrets. `switchboard setup` copies the
//! ones that are set into a client's config (secrets only by reference), and the bundle's manifest and
//! `server.json` offer the same names (a test keeps all three and `config::env` in step).

use crate::config::env;

/// One environment variable Switchboard reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var {
    pub name: &'static str,
    /// A credential, token or webhook secret: never printed or written by value.
    pub secret: bool,
    /// What it holds, for a prompt that asks for it (VS Code's `inputs`).
    pub about: &'static str,
}

const fn secret(name: &'static str, about: &'static str) -> Var {
    Var { name, secret: true, about }
}

const fn plain(name: &'static str, about: &'static str) -> Var {
    Var { name, secret: false, about }
}

/// Every variable, providers first, in the order a config block lists them.
pub const VARS: &[Var] = &[
    plain(env::RAZORPAY_KEY_ID, "Razorpay key id"),
    secret(env::RAZORPAY_KEY_SECRET, "Razorpay key secret"),
    secret(env::RAZORPAY_WEBHOOK_SECRET, "Razorpay webhook secret"),
    plain(env::RAZORPAY_BASE_URL, "Razorpay API base URL"),
    secret(env::STRIPE_API_KEY, "Stripe API key (restricted rk_… or secret sk_…)"),
    secret(env::STRIPE_WEBHOOK_SECRET, "Stripe webhook signing secret (whsec_…)"),
    plain(env::STRIPE_BASE_URL, "Stripe API base URL"),
    secret(env::HUBSPOT_ACCESS_TOKEN, "HubSpot private app access token"),
    plain(env::HUBSPOT_BASE_URL, "HubSpot API base URL"),
    secret(env::WHATSAPP_ACCESS_TOKEN, "WhatsApp Cloud API access token"),
    plain(env::WHATSAPP_PHONE_NUMBER_ID, "WhatsApp sending phone number id"),
    secret(env::WHATSAPP_APP_SECRET, "Meta App Secret that signs WhatsApp webhooks"),
    secret(env::WHATSAPP_VERIFY_TOKEN, "WhatsApp webhook verify token"),
    plain(env::WHATSAPP_API_VERSION, "Graph API version for WhatsApp"),
    plain(env::WHATSAPP_BASE_URL, "Graph API base URL for WhatsApp"),
    secret(env::NOTION_TOKEN, "Notion integration token"),
    plain(env::NOTION_INVOICES_DATABASE_ID, "Notion invoices database id"),
    plain(env::NOTION_BASE_URL, "Notion API base URL"),
    plain(env::DEFAULT_PROVIDER, "Default payment provider (razorpay or stripe)"),
    plain(env::READ_ONLY, "Serve only read-only tools"),
    plain(env::CONFIRM, "How a person approves actions (elicit, page or never)"),
    plain(env::WEBHOOK_LISTEN, "Address for webhooks and the approval page"),
    plain(env::DATA_DIR, "Data directory"),
    plain(env::CONFIG, "TOML config file"),
    plain(env::PUBLIC_URL, "Public URL of the approval page"),
    plain(env::APPROVAL_TTL_SECS, "Seconds an approval stays open"),
    plain(env::APPROVAL_WAIT_SECS, "Seconds a call waits for its approval"),
    secret(env::HTTP_TOKEN, "Bearer token for the HTTP transport"),
    plain(env::HTTP_MAX_CONNECTIONS, "HTTP connection cap"),
    plain(env::HTTP_MAX_SESSIONS, "MCP session cap"),
    plain(env::HTTP_SESSION_IDLE_SECS, "Idle MCP session timeout"),
    plain(env::HTTP_HEADER_READ_TIMEOUT_SECS, "HTTP request head timeout"),
    plain(env::HTTP_BODY_TIMEOUT_SECS, "HTTP request body timeout"),
    plain(env::HTTP_MAX_HEADER_BYTES, "HTTP request head size limit"),
    plain(env::HTTP_MAX_BODY_BYTES, "MCP request body size limit"),
];

/// The variable called `name`, if Switchboard reads one.
pub fn find(name: &str) -> Option<&'static Var> {
    VARS.iter().find(|v| v.name == name)
}

/// The variables set in `env` with their values, in [`VARS`] order. Empty values and unexpanded placeholders
/// (`${…}`) count as unset, as they do when Switchboard loads its configuration.
pub fn set_in(env: &dyn Fn(&str) -> Option<String>) -> Vec<(&'static Var, String)> {
    VARS.iter()
        .filter_map(|var| {
            let value = env(var.name)?.trim().to_string();
            let placeholder = value.starts_with("${") && value.ends_with('}');
            (!value.is_empty() && !placeholder).then_some((var, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_credential_is_secret() {
        for (i, var) in VARS.iter().enumerate() {
            assert!(VARS[i + 1..].iter().all(|other| other.name != var.name), "{} twice", var.name);
            let credential = ["SECRET", "TOKEN", "API_KEY"].iter().any(|word| var.name.contains(word));
            assert_eq!(var.secret, credential, "{}", var.name);
        }
    }

    #[test]
    fn empty_and_placeholder_values_are_not_set() {
        let env = |name: &str| match name {
            "STRIPE_API_KEY" => Some("${STRIPE_API_KEY}".to_string()),
            "RAZORPAY_KEY_ID" => Some(" rzp_test_1 ".to_string()),
            "HUBSPOT_ACCESS_TOKEN" => Some(String::new()),
            _ => None,
        };
        let set = set_in(&env);
        assert_eq!(set.len(), 1);
        assert_eq!((set[0].0.name, set[0].1.as_str()), ("RAZORPAY_KEY_ID", "rzp_test_1"));
    }
}
