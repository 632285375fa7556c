//! The invoice book (Notion) at the tool edge: what Switchboard still owes an invoice's page, shown on the
//! invoice; a payment link made for an invoice, recorded so the page is kept true; and `set_invoice_status`, a
//! change a person approves (an invoice paid in cash, one cancelled).

use crate::approvals::{self, ApprovedVia, Proposal, Verdict};
use crate::catalog::Committed;
use crate::config::notion_id;
use crate::domain::approval::{Approval, Summary};
use crate::domain::event::{Correlation, EventFilter, EventKind};
use crate::domain::payment_link::PaymentLink;
use crate::domain::writeback::{LinkForInvoice, PendingUpdate, WriteBackKind, WriteBackState};
use crate::domain::{Currency, Invoice, InvoiceStatus, Money, ProviderId, text, time};
use crate::error::ToolError;
use crate::providers::notion::Update;
use crate::server::Switchboard;
use crate::state::AppState;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::{InputResponses, RequestState, schema_for_output};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResponse, CallToolResult};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The tool that sets a book invoice's status.
pub(crate) const SET_STATUS_TOOL: &str = "set_invoice_status";

/// Arguments for `set_invoice_status`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = super::portable_args)]
pub struct SetInvoiceStatusArgs {
    /// The Notion invoice: its page id (32 hex digits, dashes optional) or its page URL.
    pub invoice_id: String,
    /// The status to set, as the invoice book names it, e.g. "Paid" or "Cancelled" (case-insensitive). Setting
    /// the book's paid status also records today's date as the paid date.
    pub status: String,
    /// Why, for the record, e.g. "paid in cash to Priya on 28 Nov". Written to the invoice's Payment ID when it
    /// is marked paid (max 200 characters).
    #[serde(default)]
    pub note: Option<String>,
}

#[tool_router(router = book_router, vis = "pub(crate)")]
impl Switchboard {
    /// Set a Notion invoice's status yourself, e.g. mark it paid when the customer paid in cash or by bank
    /// transfer, or cancelled. A person approves first. Marking it paid records the date and, as its payment,
    /// that it was recorded by an agent (with your note). Invoices paid through a Switchboard payment link are
    /// marked paid automatically: do not use this for them.
    #[tool(
        output_schema = schema_for_output::<Invoice>(),
        annotations(title = "Set invoice status", read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    async fn set_invoice_status(
        &self,
        Parameters(args): Parameters<SetInvoiceStatusArgs>,
        ctx: RequestContext<RoleServer>,
        InputResponses(responses): InputResponses,
        RequestState(request_state): RequestState,
    ) -> Result<CallToolResponse, ToolError> {
        let arguments = serde_json::to_value(&args).map_err(|e| ToolError::internal("keeping the arguments", e))?;
        let change = StatusChange::parse(self.state(), args).await?;
        let current = self.state().providers.book()?.get_invoice_now(&change.page_id).await?;
        let proposal = Proposal {
            tool: SET_STATUS_TOOL,
            key: change.key.clone(),
            binding: change.key.clone(),
            summary: change.summary(&current),
            arguments,
        };
        match approvals::require(self.state(), &ctx, proposal, responses, request_state).await? {
            Verdict::Ask(input_required) => Ok(input_required.into()),
            Verdict::Performed(result) => Ok(CallToolResult::structured(result).into()),
            Verdict::Proceed(via) => Ok(CallToolResult::structured(change.perform(self.state(), via).await?).into()),
        }
    }
}

impl Switchboard {
    /// The invoice book's tools as served, described by the committed catalog.
    pub(crate) fn committed_book_routes(catalog: &mut Committed) -> Option<ToolRouter<Self>> {
        Some(ToolRouter::new().with_route((catalog.take(SET_STATUS_TOOL)?, Self::set_invoice_status)))
    }
}

/// A status change, parsed and keyed.
struct StatusChange {
    page_id: String,
    word: String,
    paid: bool,
    note: Option<String>,
    key: String,
}

impl StatusChange {
    async fn parse(state: &AppState, args: SetInvoiceStatusArgs) -> Result<Self, ToolError> {
        let book = state.providers.book()?;
        let page_id = notion_id(&args.invoice_id).ok_or_else(|| {
            ToolError::invalid(format!(
                "invoice_id '{}' is not a Notion page id or page URL; pass the id get_invoice or list_invoices returned",
                text::clip(&args.invoice_id, 80)
            ))
        })?;
        let word = match book.status_word(&args.status).await? {
            Ok(word) => word,
            Err(options) => {
                return Err(ToolError::invalid(format!(
                    "status '{}' is not one the invoice book has; use one of: {}",
                    text::clip(&args.status, 40),
                    options.join(", ")
                )));
            }
        };
        let note = args.note.map(|n| text::strip_hidden(n.trim())).filter(|n| !n.is_empty());
        if note.as_ref().is_some_and(|n| n.chars().count() > 200) {
            return Err(ToolError::invalid("note is longer than 200 characters; shorten it"));
        }
        let paid = word.eq_ignore_ascii_case(book.paid_status());
        let identity = serde_json::json!([page_id, word, note]).to_string();
        let key = format!("sb_status_{}", &hex::encode(Sha256::digest(identity))[..24]);
        Ok(StatusChange { page_id, word, paid, note, key })
    }

    fn summary(&self, current: &Invoice) -> Summary {
        let number = current.number.clone().unwrap_or_else(|| "(no number)".into());
        let mut details = vec![
            ("Invoice".to_string(), format!("{number} ({} {})", current.total.formatted, current.currency)),
            ("Customer".to_string(), current.customer.name.clone().unwrap_or_else(|| "not named".into())),
            ("Status now".to_string(), current.provider_status.clone()),
            ("New status".to_string(), self.word.clone()),
        ];
        if let Some(note) = &self.note {
            details.push(("Note".into(), note.clone()));
        }
        if self.paid {
            details
                .push(("Also recorded".into(), "today as the paid date; the payment as recorded by an agent".into()));
        }
        Summary { headline: format!("Set Notion invoice {number} to \"{}\"", self.word), details }
    }

    async fn perform(self, state: &AppState, via: ApprovedVia) -> Result<serde_json::Value, ToolError> {
        let book = state.providers.book()?;
        let update = if self.paid {
            let today = time::rfc3339(time::now()).unwrap_or_default()[..10].to_string();
            let approved = match via {
                ApprovedVia::Elicitation => "approved by a person in their client",
                ApprovedVia::ApprovalPage => "approved by a person on the approval page",
                ApprovedVia::NotRequired => "no approval required by the operator",
            };
            let note = self.note.as_deref().unwrap_or("no note");
            Update::Paid {
                paid_on: today.clone(),
                payment_id: format!("Recorded by an AI agent via Switchboard on {today} ({approved}): {note}"),
            }
        } else {
            Update::Status { word: self.word.clone() }
        };
        let mut invoice = book.update(&self.page_id, &update).await?;
        annotate(state, &mut invoice).await?;
        tracing::info!(invoice = %self.page_id, status = %self.word, "set a Notion invoice's status");
        serde_json::to_value(invoice).map_err(|e| ToolError::internal("rendering the invoice", e))
    }
}

/// Perform a status change a person approved on the page.
pub(crate) async fn perform_set_status(
    state: Arc<AppState>,
    approval: &Approval,
) -> Result<serde_json::Value, ToolError> {
    let args: SetInvoiceStatusArgs = serde_json::from_value(approval.arguments.clone())
        .map_err(|e| ToolError::internal("reading the approved arguments", e))?;
    let change = StatusChange::parse(&state, args).await?;
    if change.key != approval.key {
        return Err(ToolError::internal("checking the approved action", "its arguments no longer match the approval"));
    }
    change.perform(&state, ApprovedVia::ApprovalPage).await
}

/// Show what Switchboard still owes a Notion invoice's page; while "paid" is owed, the invoice reads paid (a
/// verified webhook is proof of payment even before the book has it).
pub(crate) async fn annotate(state: &AppState, invoice: &mut Invoice) -> Result<(), ToolError> {
    if invoice.provider != ProviderId::Notion || !state.store.exists() {
        return Ok(());
    }
    let owed = state.store.write_backs().for_invoice(&invoice.id).await?;
    let paid_owed = owed.iter().find(|w| w.kind == WriteBackKind::Paid && w.state != WriteBackState::Done);
    let mut paid_on = paid_owed.map(|w| w.paid_on.clone());
    if paid_on.is_none() && invoice.status != InvoiceStatus::Paid {
        // A paid webhook the worker has not queued yet (it reads the log a moment after the waiting agent woke).
        for link in owed.iter().filter(|w| w.kind == WriteBackKind::PaymentLink) {
            if owed.iter().any(|w| w.kind == WriteBackKind::Paid && w.link_id == link.link_id) {
                continue;
            }
            if let Some(event) = paid_event(state, &link.link_id).await? {
                let when = event.occurred_at.as_deref().unwrap_or(&event.received_at);
                paid_on = Some(when.get(..10).map(str::to_string));
                break;
            }
        }
    }
    if let (Some(paid_on), Ok(currency)) = (paid_on, Currency::parse(&invoice.currency))
        && invoice.status != InvoiceStatus::Paid
    {
        invoice.status = InvoiceStatus::Paid;
        invoice.amount_paid = invoice.total.clone();
        invoice.amount_due = Money::from_minor(0, currency).to_amount();
        invoice.paid_at = paid_on.as_deref().and_then(time::normalize).map(|d| format!("{d}T00:00:00Z"));
    }
    invoice.pending_updates =
        owed.iter().filter(|w| w.state != WriteBackState::Done).map(PendingUpdate::from).collect();
    Ok(())
}

/// A payment link was made for the Notion invoice `page_id`: owe its URL to the page and watch it for payment.
pub(crate) async fn link_created(state: &AppState, page_id: &str, link: &PaymentLink) -> Result<(), ToolError> {
    let queue = state.store.write_backs();
    let now = time::now();
    let watched = LinkForInvoice {
        invoice_id: page_id.to_string(),
        link_provider: link.provider,
        link_id: link.id.clone(),
        link_url: link.url.clone(),
    };
    queue.link_created(&watched, now).await?;
    // Paid before the watch began (a very quick customer): the worker's cursor may be past that event already.
    if let Some(event) = paid_event(state, &link.id).await? {
        let when = event.occurred_at.as_deref().unwrap_or(&event.received_at);
        queue.link_paid(&link.id, event.correlation.payment_id.as_deref(), when.get(..10).unwrap_or(when), now).await?;
    }
    state.book_wake.notify_one();
    Ok(())
}

/// The newest verified "payment link paid" event for `link_id`.
async fn paid_event(state: &AppState, link_id: &str) -> Result<Option<crate::domain::event::Event>, ToolError> {
    let filter = EventFilter {
        kinds: vec![EventKind::PaymentLinkPaid],
        correlation: Correlation { payment_link_id: Some(link_id.to_string()), ..Default::default() },
        ..Default::default()
    };
    Ok(state.store.events().newest(&filter).await?.map(|(_, event)| event))
}
