//! `ToolError`: the one error type at the MCP edge. Every variant becomes an `isError: true` tool result
//! whose text tells the model what to change; JSON-RPC errors are left to protocol faults.

use crate::config::provider_env_vars;
use crate::domain::Provider;
use crate::providers::ProviderError;
use rmcp::model::{ContentBlock, IntoContents};

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// A bad argument. The message starts with the field name and says what to send instead.
    #[error("Invalid argument: {0}")]
    InvalidArgument(String),
    /// The provider the call needs has no credentials in this server.
    #[error("{} is not configured on this Switchboard server. Ask the user to set {} in the server's environment (or the [{}] section of its config file) and restart it.{}", .provider, provider_env_vars(*.provider).join(" and "), .provider.as_str(), configured_hint(.configured))]
    NotConfigured { provider: Provider, configured: Vec<Provider> },
    /// The CRM tools need HubSpot credentials.
    #[error(
        "HubSpot is not configured on this Switchboard server. Ask the user to create a HubSpot private app with the scopes crm.objects.contacts.read, crm.objects.companies.read and crm.objects.deals.read, then set HUBSPOT_ACCESS_TOKEN to its access token (or [hubspot] access_token in the config file) and restart Switchboard."
    )]
    CrmNotConfigured,
    /// No provider was named and none could be inferred.
    #[error("{0}")]
    AmbiguousProvider(String),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The same idempotency key was used with different arguments.
    #[error(
        "Conflict: an earlier create_payment_link call with the same {0} had different arguments, so nothing was created. To repeat the earlier call, send exactly the same arguments; to create a different link on purpose, use a new reference_id or idempotency_key."
    )]
    IdempotencyConflict(&'static str),
    /// An identical call is being processed right now (another client or process).
    #[error(
        "An identical create_payment_link call is still in progress. Wait {0} s and call again with the same arguments: you will get its result, not a second link."
    )]
    InProgress(i64),
    /// A write whose outcome at the provider is unknown; the next identical call reconciles it.
    #[error(
        "{0} The link may or may not exist. Call create_payment_link again with exactly the same arguments: Switchboard looks it up first and never creates a second one."
    )]
    OutcomeUnknown(ProviderError),
    /// A lost Stripe create older than Stripe's idempotency window: only a person can tell whether it exists.
    #[error(
        "An earlier attempt to create this Stripe payment link, more than a day ago, ended without an answer, and Stripe no longer guarantees to recognise its idempotency key. Switchboard will not risk a duplicate: ask the user to check the Stripe dashboard for the link, or create a new one with a different reference_id."
    )]
    StaleUnknown,
    /// The user said no (or dismissed the question).
    #[error(
        "The user did not confirm, so no payment link was created. Ask the user what to change before trying again."
    )]
    Declined,
    /// Confirmation is required but this client cannot ask the user.
    #[error(
        "This Switchboard server requires the user to confirm every payment link, but this MCP client cannot show a confirmation (no elicitation support), so nothing was created. Use a client that supports elicitation, or ask the server's operator to set confirm = \"elicit\"."
    )]
    ConfirmationUnavailable,
    /// Durable state could not be read or written; nothing was sent upstream.
    #[error(
        "Switchboard could not use its local database ({0}); nothing was sent to the provider. Try again; if it persists the server's data directory needs attention."
    )]
    Store(#[from] crate::store::StoreError),
}

fn configured_hint(configured: &[Provider]) -> String {
    match configured {
        [] => " No payments provider is configured at all.".to_string(),
        list => format!(" Configured now: {}.", list.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")),
    }
}

impl ToolError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ToolError::InvalidArgument(message.into())
    }
}

impl IntoContents for ToolError {
    fn into_contents(self) -> Vec<ContentBlock> {
        match &self {
            ToolError::Provider(e) => tracing::info!(error = %e, "tool call failed upstream"),
            other => tracing::debug!(error = %other, "tool call rejected"),
        }
        vec![ContentBlock::text(self.to_string())]
    }
}
