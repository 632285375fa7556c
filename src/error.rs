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
    /// No provider was named and none could be inferred.
    #[error("{0}")]
    AmbiguousProvider(String),
    #[error(transparent)]
    Provider(#[from] ProviderError),
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
