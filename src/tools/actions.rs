//! The approval page's hands: performs an action a person approved, through the same code its tool runs.

use super::{book, leads, messages, once, payment_links};
use crate::approvals::Performer;
use crate::domain::approval::{Approval, Outcome};
use crate::error::ToolError;
use crate::state::AppState;
use std::sync::Arc;

/// Every tool that waits on the approval page, by name.
pub struct Actions;

#[async_trait::async_trait]
impl Performer for Actions {
    async fn perform(&self, state: Arc<AppState>, approval: &Approval) -> Outcome {
        let result = match approval.tool.as_str() {
            once::CREATE_TOOL => payment_links::perform_create(state.clone(), approval).await,
            payment_links::CANCEL_TOOL => payment_links::perform_cancel(state.clone(), approval).await,
            messages::SEND_TOOL => messages::perform_send(state.clone(), approval).await,
            leads::CREATE_LEAD_TOOL => leads::perform_create_lead(state.clone(), approval).await,
            book::SET_STATUS_TOOL => book::perform_set_status(state.clone(), approval).await,
            other => Err(ToolError::internal("performing an approval", format!("no tool named {other}"))),
        };
        match result {
            Ok(mut value) => {
                state.redactor.mask_json(&mut value);
                Outcome::Ok(value)
            }
            Err(e) => {
                if let ToolError::Internal { during, detail } = &e {
                    tracing::error!(during, detail, approval = %approval.id, "performing an approval failed in Switchboard");
                }
                let text = e.to_string();
                Outcome::Error(state.redactor.mask_values(&text).unwrap_or(text))
            }
        }
    }
}
