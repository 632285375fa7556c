//! `ToolError`: the one error type at the MCP edge. Every variant becomes an `isError: true` tool result
//! whose text tells the model what to change; JSON-RPC errors are left to protocol faults.
//!
//! The variant says whose fault it is: the model's ([`ToolError::InvalidArgument`]), the server's setup
//! ([`ToolError::Unserved`]), the provider's ([`ToolError::Upstream`]), a deliberate stop by the tool
//! ([`ToolError::Refused`], with each toolset's own refusal enum next to its tools), local storage
//! ([`ToolError::Store`]), or Switchboard's own ([`ToolError::Internal`]: logged in full, a generic sentence
//! for the model). Provider- and tool-specific words live with the provider or the tool, not here.

use crate::providers::{ProviderError, Unserved};
use rmcp::model::{ContentBlock, IntoContents};

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// A bad argument. The message starts with the field name and says what to send instead.
    #[error("Invalid argument: {0}")]
    InvalidArgument(String),
    /// No configured provider serves the call: which one to configure, or which one to name.
    #[error(transparent)]
    Unserved(Unserved),
    /// The provider failed or refused.
    #[error(transparent)]
    Upstream(#[from] ProviderError),
    /// The tool stopped on purpose (the user declined, an identical call is in flight, …); the text says why
    /// and what to do next.
    #[error(transparent)]
    Refused(Box<dyn std::error::Error + Send + Sync>),
    /// Durable state could not be read or written; nothing was sent upstream.
    #[error(
        "Switchboard could not use its database ({0}); nothing was sent to the provider. Try again; if it persists, the server's database needs attention."
    )]
    Store(#[from] crate::store::StoreError),
    /// A fault in Switchboard itself. `detail` is logged, never shown: it is nothing the model can act on.
    #[error(
        "Switchboard failed while {during}. This is a fault in the server, not in the arguments; it has been logged for the server's operator."
    )]
    Internal { during: &'static str, detail: String },
}

impl ToolError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ToolError::InvalidArgument(message.into())
    }

    /// A server fault while doing `during` ("rendering the result"); `detail` goes to the log only.
    pub fn internal(during: &'static str, detail: impl std::fmt::Display) -> Self {
        ToolError::Internal { during, detail: detail.to_string() }
    }
}

impl From<Unserved> for ToolError {
    fn from(e: Unserved) -> Self {
        match e {
            // Naming one provider and passing another's id is the model's to fix.
            Unserved::Mismatch { .. } | Unserved::Incapable { .. } => ToolError::InvalidArgument(e.to_string()),
            e => ToolError::Unserved(e),
        }
    }
}

impl IntoContents for ToolError {
    fn into_contents(self) -> Vec<ContentBlock> {
        match &self {
            ToolError::Upstream(e) => tracing::info!(error = %e, "tool call failed upstream"),
            ToolError::Internal { during, detail } => {
                tracing::error!(during, detail, "tool call failed in Switchboard")
            }
            ToolError::Store(e) => tracing::warn!(error = %e, "tool call failed: the store"),
            other => tracing::debug!(error = %other, "tool call rejected"),
        }
        vec![ContentBlock::text(self.to_string())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ProviderId;

    #[test]
    fn a_server_fault_is_not_blamed_on_the_arguments_and_keeps_its_detail_out_of_the_text() {
        let text = ToolError::internal("rendering the result", "key must be a string at line 1").to_string();
        assert!(!text.contains("Invalid argument") && !text.contains("line 1"), "{text}");
        assert!(text.contains("rendering the result") && text.contains("not in the arguments"), "{text}");
    }

    #[test]
    fn a_provider_name_contradicting_the_id_is_an_invalid_argument_and_a_missing_one_is_not() {
        let mismatch = Unserved::Mismatch { named: ProviderId::Stripe, owner: ProviderId::Razorpay };
        assert!(matches!(ToolError::from(mismatch), ToolError::InvalidArgument(_)));
        let ambiguous = Unserved::Ambiguous { candidates: vec![ProviderId::Razorpay, ProviderId::Stripe] };
        assert!(matches!(ToolError::from(ambiguous), ToolError::Unserved(_)));
    }
}
