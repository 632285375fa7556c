//! Human confirmation before money moves, through MCP elicitation.
//!
//! Legacy sessions (≤ 2025-11-25) get an `elicitation/create` request mid-call. On 2026-07-28 servers may not
//! send requests to the client, so the first call returns an `InputRequiredResult` carrying the question plus a
//! sealed `requestState`; the client asks the user and calls again with the answer. The sealed state binds the
//! answer to this exact request, so an answer cannot be supplied without the question having been asked.

use super::payment_links::Refusal;
use crate::config::ConfirmMode;
use crate::error::ToolError;
use crate::state::AppState;
use rmcp::model::{
    ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema, InputRequest,
    InputRequests, InputRequiredResult, SealOptions,
};
use rmcp::service::{ElicitationError, RequestContext};
use rmcp::{RoleServer, elicit_safe};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What the user is shown next to the question.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ConfirmPayment {
    /// Tick to create this payment link.
    pub confirm: bool,
}
elicit_safe!(ConfirmPayment);

/// The input request id used in `inputRequests` / `inputResponses`.
const INPUT_ID: &str = "confirm_payment_link";

/// The outcome of asking.
pub enum Confirmation {
    /// Go ahead. `asked` says whether a person actually confirmed (false when the client cannot ask).
    Proceed { asked: bool },
    /// Return this to the client and wait for its retry (2026-07-28 only).
    Ask(InputRequiredResult),
}

/// Ask the user to confirm `question`, bound to `binding` (the call's idempotency key).
pub async fn confirm(
    state: &AppState,
    ctx: &RequestContext<RoleServer>,
    question: &str,
    binding: &str,
    responses: Option<rmcp::model::InputResponses>,
    request_state: Option<String>,
) -> Result<Confirmation, ToolError> {
    let mode = state.config.confirm;
    if mode == ConfirmMode::Never {
        return Ok(Confirmation::Proceed { asked: false });
    }
    let can_ask = ctx.client_capabilities().is_some_and(|c| c.elicitation.is_some());
    if !can_ask {
        return match mode {
            ConfirmMode::Require => Err(Refusal::ConfirmationUnavailable.into()),
            _ => Ok(Confirmation::Proceed { asked: false }),
        };
    }
    let stateless = ctx.protocol_version().is_some_and(|v| !v.has_initialize());
    if stateless {
        return round_trip(state, question, binding, responses, request_state);
    }
    match ctx.peer.elicit::<ConfirmPayment>(question).await {
        Ok(Some(ConfirmPayment { confirm: true })) => Ok(Confirmation::Proceed { asked: true }),
        Ok(_) | Err(ElicitationError::UserDeclined | ElicitationError::UserCancelled | ElicitationError::NoContent) => {
            Err(Refusal::Declined.into())
        }
        Err(ElicitationError::CapabilityNotSupported) if mode == ConfirmMode::Elicit => {
            Ok(Confirmation::Proceed { asked: false })
        }
        Err(ElicitationError::CapabilityNotSupported) => Err(Refusal::ConfirmationUnavailable.into()),
        Err(e) => {
            tracing::warn!(error = %e, "asking the user to confirm failed");
            Err(Refusal::Declined.into())
        }
    }
}

/// The 2026-07-28 multi-round-trip form: ask on the first call, read the answer on the retry.
fn round_trip(
    state: &AppState,
    question: &str,
    binding: &str,
    responses: Option<rmcp::model::InputResponses>,
    request_state: Option<String>,
) -> Result<Confirmation, ToolError> {
    let answer = responses.as_ref().and_then(|r| r.get(INPUT_ID));
    let sealed_ok =
        request_state.as_deref().is_some_and(|s| state.request_state.open_with(s, binding.as_bytes()).is_ok());
    match answer {
        Some(answer) if sealed_ok => {
            let result: ElicitResult = serde_json::from_value(answer.clone())
                .map_err(|_| ToolError::invalid("inputResponses.confirm_payment_link is not an elicitation result"))?;
            let confirmed = result.action == ElicitationAction::Accept
                && result.content.as_ref().and_then(|c| c.get("confirm")).and_then(|v| v.as_bool()) == Some(true);
            if confirmed { Ok(Confirmation::Proceed { asked: true }) } else { Err(Refusal::Declined.into()) }
        }
        // No answer yet, or an answer not tied to a question we asked: ask now.
        _ => {
            let schema = ElicitationSchema::from_type::<ConfirmPayment>()
                .map_err(|e| ToolError::internal("building the confirmation form", e))?;
            let mut requests = InputRequests::new();
            requests.insert(
                INPUT_ID.into(),
                InputRequest::Elicitation(ElicitRequest::new(ElicitRequestParams::FormElicitationParams {
                    meta: None,
                    message: question.into(),
                    requested_schema: schema,
                })),
            );
            let options = SealOptions::new().associated_data(binding.as_bytes()).ttl(Duration::from_secs(600));
            let sealed = state.request_state.seal_with(b"confirm", &options);
            Ok(Confirmation::Ask(InputRequiredResult::new(Some(requests), Some(sealed))))
        }
    }
}
