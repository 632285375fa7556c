//! Approval in the person's own MCP client, through elicitation.
//!
//! Legacy sessions (≤ 2025-11-25) get an `elicitation/create` request mid-call. On 2026-07-28 servers may not
//! send requests to the client, so the first call returns an `InputRequiredResult` carrying the question plus a
//! sealed `requestState`; the client asks the person and calls again with the answer. The sealed state binds the
//! answer to this exact call (its key and the hash of every argument), so a yes to ₹100 cannot create
//! ₹1,00,000, and an answer cannot be supplied without the question having been asked.

use super::Proposal;
use crate::error::ToolError;
use crate::state::AppState;
use rmcp::model::{
    ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema, InputRequest,
    InputRequests, InputRequiredResult, InputResponses, SealOptions,
};
use rmcp::service::{ElicitationError, RequestContext};
use rmcp::{RoleServer, elicit_safe};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What the person is shown next to the question.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Approve {
    /// Tick to approve exactly this action.
    pub approve: bool,
}
elicit_safe!(Approve);

/// The input request id used in `inputRequests` / `inputResponses`.
const INPUT_ID: &str = "approve";

/// What the client's person said.
pub enum Answer {
    Approved,
    Declined,
    /// Return this to the client and read the answer from its retry (2026-07-28 only).
    Ask(InputRequiredResult),
    /// The client advertised elicitation but could not ask (unsupported, an error, a timeout).
    Unsupported,
}

/// Ask the person in their client to approve `proposal`.
pub async fn ask(
    state: &AppState,
    ctx: &RequestContext<RoleServer>,
    proposal: &Proposal,
    responses: Option<InputResponses>,
    request_state: Option<String>,
) -> Result<Answer, ToolError> {
    let question = proposal.summary.as_question();
    let binding = format!("{}:{}:{}", proposal.tool, proposal.key, proposal.binding);
    let stateless = ctx.protocol_version().is_some_and(|v| !v.has_initialize());
    if stateless {
        return round_trip(state, &question, &binding, responses, request_state);
    }
    match ctx.peer.elicit::<Approve>(question).await {
        Ok(Some(Approve { approve: true })) => Ok(Answer::Approved),
        Ok(_) | Err(ElicitationError::UserDeclined | ElicitationError::UserCancelled | ElicitationError::NoContent) => {
            Ok(Answer::Declined)
        }
        // The client could not ask after all (unsupported, an error, no answer in time): nobody said no, so the
        // approval page asks instead.
        Err(e) => {
            tracing::warn!(error = %e, "asking the user to approve in the client failed; using the approval page");
            Ok(Answer::Unsupported)
        }
    }
}

/// The 2026-07-28 multi-round-trip form: ask on the first call, read the answer on the retry.
fn round_trip(
    state: &AppState,
    question: &str,
    binding: &str,
    responses: Option<InputResponses>,
    request_state: Option<String>,
) -> Result<Answer, ToolError> {
    let answer = responses.as_ref().and_then(|r| r.get(INPUT_ID));
    let sealed_ok =
        request_state.as_deref().is_some_and(|s| state.request_state.open_with(s, binding.as_bytes()).is_ok());
    match answer {
        Some(answer) if sealed_ok => {
            let result: ElicitResult = serde_json::from_value(answer.clone())
                .map_err(|_| ToolError::invalid(format!("inputResponses.{INPUT_ID} is not an elicitation result")))?;
            let approved = result.action == ElicitationAction::Accept
                && result.content.as_ref().and_then(|c| c.get("approve")).and_then(|v| v.as_bool()) == Some(true);
            Ok(if approved { Answer::Approved } else { Answer::Declined })
        }
        // No answer yet, or an answer not tied to a question we asked: ask now.
        _ => {
            let schema = ElicitationSchema::from_type::<Approve>()
                .map_err(|e| ToolError::internal("building the approval form", e))?;
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
            let sealed = state.request_state.seal_with(b"approve", &options);
            Ok(Answer::Ask(InputRequiredResult::new(Some(requests), Some(sealed))))
        }
    }
}
