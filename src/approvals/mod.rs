//! A person approves every tool call that moves money, messages a customer or writes to a CRM, on every client.
//!
//! A tool describes what it is about to do as a [`Proposal`] (a summary a person reads, sealed to the call's
//! idempotency key and a hash of all its arguments) and asks [`require`]:
//! - `confirm = "never"`: it proceeds (the operator opted out; logged at start-up).
//! - The client has elicitation and `confirm = "elicit"` (the default): the person is asked in the client
//!   ([`elicit`]), in either protocol era.
//! - Otherwise the approval page ([`page`]): the proposal is stored durably, the call waits a while for the
//!   decision (with progress), then answers "pending" with the page's link. Approving on the page performs the
//!   stored action once (through a [`Performer`]); the agent's waiting call, or its next identical call,
//!   returns the result. Declined or expired, nothing is done and the agent is told so.
//! - No elicitation and no page to show (stdio without a listener): refused, with how to enable approvals.

pub mod elicit;
pub mod page;

use crate::audit;
use crate::config::ConfirmMode;
use crate::domain::approval::{Approval, ApprovalStatus, Outcome, Summary, random_token};
use crate::domain::time;
use crate::error::ToolError;
use crate::state::AppState;
use rmcp::RoleServer;
use rmcp::model::{InputRequiredResult, InputResponses, ProgressNotificationParam};
use rmcp::service::RequestContext;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// At most this many approvals wait for a person at once: each is a row and a line on the page.
pub const MAX_OPEN: i64 = 100;

/// What a tool is about to do, for a person to approve.
pub struct Proposal {
    /// The tool's name, e.g. "create_payment_link".
    pub tool: &'static str,
    /// The call's idempotency key.
    pub key: String,
    /// A hash of every argument: the approval holds only for exactly these.
    pub binding: String,
    pub summary: Summary,
    /// The call's arguments, from which the tool performs it once approved on the page.
    pub arguments: serde_json::Value,
}

/// How a call came to be approved (reported in results and, later, the audit trail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovedVia {
    /// The person approved in their MCP client.
    Elicitation,
    /// The person approved on Switchboard's approval page.
    ApprovalPage,
    /// The operator set `confirm = "never"`: nobody was asked.
    NotRequired,
}

/// What [`require`] decided.
pub enum Verdict {
    /// Approved: perform it now, in this call.
    Proceed(ApprovedVia),
    /// 2026-07-28 elicitation: return this to the client and read the answer from its retry.
    Ask(InputRequiredResult),
    /// Approved on the page and already performed: this is the tool's result.
    Performed(serde_json::Value),
}

/// Why a call did nothing, and what to do next.
#[derive(Debug, thiserror::Error)]
pub enum Unapproved {
    #[error(
        "The user declined this {tool} call, so nothing was done. Ask the user what to change before calling again (a new call asks them again)."
    )]
    Declined { tool: &'static str },
    #[error(
        "Waiting for the user's approval: nothing has been done yet.{earlier} Show the user this link and ask them to approve or decline there: {url} (it expires at {expires}). Then call {tool} again with exactly the same arguments: it returns the result once approved, waiting up to {wait} s for the decision."
    )]
    Pending { tool: &'static str, url: String, expires: String, wait: u64, earlier: &'static str },
    #[error(
        "The user approved this {tool} call and it is being performed now. Call {tool} again with exactly the same arguments in a few seconds to get its result; it will not be performed twice."
    )]
    Performing { tool: &'static str },
    #[error(
        "Nobody approved this {tool} call before its approval expired at {expires}, so nothing was done. Call {tool} again with the same arguments to ask the user again."
    )]
    Expired { tool: &'static str, expires: String },
    #[error(
        "A {tool} call with the same idempotency key but different arguments is already waiting for approval or was decided, so nothing was done. Repeat that call exactly, or use a new idempotency_key for a different action."
    )]
    Conflict { tool: &'static str },
    #[error(
        "The user approved this {tool} call, but performing it failed: {reason} Calling again with the same arguments asks the user again."
    )]
    Failed { tool: &'static str, reason: String },
    #[error(
        "{0} approvals are already waiting for the user, the most Switchboard keeps open, so this {tool} call was not added and nothing was done. Ask the user to approve or decline the waiting ones on the approval page (/approvals), or wait for them to expire, then call again.",
        MAX_OPEN
    )]
    TooManyOpen { tool: &'static str },
    #[error(
        "This action needs a person's approval, but it cannot be asked in this MCP client (it has no elicitation, or the server is set to approve on its page) and this Switchboard has no approval page to show: it runs on stdio without a listener. Nothing was done. Tell the user to start Switchboard with `serve --webhooks 127.0.0.1:8787` (or set SWITCHBOARD_WEBHOOK_LISTEN=127.0.0.1:8787) so approvals get a page, or to use a client with elicitation; the operator can also turn approval off with confirm = \"never\"."
    )]
    NoWayToAsk,
    #[error(
        "This action needs a person's approval, but this Switchboard could not open its approval page on {addr} (another program, perhaps a second Switchboard, holds that port), and this client cannot ask in the chat. Nothing was done. Tell the user to free that port or give this server another one (--webhooks / SWITCHBOARD_WEBHOOK_LISTEN), then restart it."
    )]
    PageUnavailable { addr: std::net::SocketAddr },
}

impl From<Unapproved> for ToolError {
    fn from(refusal: Unapproved) -> Self {
        ToolError::Refused(Box::new(refusal))
    }
}

/// Performs an approved action from its stored arguments, exactly as its tool would have: the tools implement
/// it (this module cannot depend on them), and the page and start-up recovery call it.
#[async_trait::async_trait]
pub trait Performer: Send + Sync {
    /// Perform `approval` once. The arguments must hash to its binding, or nothing is done.
    async fn perform(&self, state: Arc<AppState>, approval: &Approval) -> Outcome;
}

/// Ask a person to approve `proposal`, however this client and server can.
pub async fn require(
    state: &AppState,
    ctx: &RequestContext<RoleServer>,
    proposal: Proposal,
    responses: Option<InputResponses>,
    request_state: Option<String>,
) -> Result<Verdict, ToolError> {
    let mode = state.config.confirm;
    if mode == ConfirmMode::Never {
        audit::note_approval(audit::Approved::Now { via: "not_required", approval_id: None });
        return Ok(Verdict::Proceed(ApprovedVia::NotRequired));
    }
    // Form elicitation: declared as `form`, or as an empty object (the 2025-06-18 form, before URL mode).
    let can_elicit =
        ctx.client_capabilities().and_then(|c| c.elicitation).is_some_and(|e| e.form.is_some() || e.url.is_none());
    if mode == ConfirmMode::Elicit && can_elicit {
        match elicit::ask(state, ctx, &proposal, responses, request_state).await? {
            elicit::Answer::Approved => {
                audit::decision(state, proposal.tool, proposal.arguments.clone(), "elicitation", None, true).await;
                audit::note_approval(audit::Approved::Now { via: "elicitation", approval_id: None });
                return Ok(Verdict::Proceed(ApprovedVia::Elicitation));
            }
            elicit::Answer::Ask(input_required) => return Ok(Verdict::Ask(input_required)),
            elicit::Answer::Declined => {
                audit::decision(state, proposal.tool, proposal.arguments.clone(), "elicitation", None, false).await;
                return Err(Unapproved::Declined { tool: proposal.tool }.into());
            }
            // The client advertised elicitation but cannot do it after all: the page it is.
            elicit::Answer::Unsupported => {}
        }
    }
    on_page(state, ctx, proposal).await
}

/// The page's way: store the proposal (or find the one that stands for this key), then wait for its fate.
async fn on_page(state: &AppState, ctx: &RequestContext<RoleServer>, proposal: Proposal) -> Result<Verdict, ToolError> {
    let Some(base) = state.approval_base.get() else {
        return Err(match state.config.webhooks.listen {
            Some(addr) => Unapproved::PageUnavailable { addr },
            None => Unapproved::NoWayToAsk,
        }
        .into());
    };
    let approvals = state.store.approvals();
    let now = time::now();
    let ttl = i64::try_from(state.config.approvals.ttl.as_secs()).unwrap_or(i64::MAX);
    let candidate = Approval {
        id: random_token("apv_"),
        tool: proposal.tool.to_string(),
        key: proposal.key,
        binding: proposal.binding,
        summary: proposal.summary,
        arguments: proposal.arguments,
        form_token: random_token(""),
        status: ApprovalStatus::Pending,
        created_at: now,
        expires_at: now.saturating_add(ttl),
        decided_at: None,
        reported: false,
        outcome: None,
    };
    // Subscribe before reading, so a decision made in between still wakes this call.
    let mut changes = approvals.changes();
    let standing = approvals.find(proposal.tool, &candidate.key).await?;
    let earlier = match &standing {
        Some(a) if a.status_at(now) == ApprovalStatus::Expired => {
            " An earlier request for this expired unanswered; this is a new one."
        }
        _ => "",
    };
    if standing.is_none_or(|a| a.gives_way(now)) && approvals.open_count(now).await? >= MAX_OPEN {
        return Err(Unapproved::TooManyOpen { tool: proposal.tool }.into());
    }
    let stands = approvals.propose(&candidate, now).await?;
    // Our own proposal is not news.
    changes.borrow_and_update();
    if stands.binding != candidate.binding {
        return Err(Unapproved::Conflict { tool: proposal.tool }.into());
    }
    let url = format!("{base}/approvals/{}", stands.id);
    if stands.id == candidate.id {
        tracing::info!(target: "switchboard::notify", tool = proposal.tool, approval = %stands.id, "waiting for a person to approve on the page");
    }
    let wait = state.config.approvals.wait;
    let deadline = Instant::now() + wait;
    let progress = ctx.meta.get_progress_token();
    let mut ticks = 0u32;
    loop {
        let current = approvals.get(&stands.id).await?.unwrap_or_else(|| stands.clone());
        match current.status_at(time::now()) {
            ApprovalStatus::Pending | ApprovalStatus::Approved => {}
            ApprovalStatus::Done => match current.outcome {
                Some(Outcome::Ok(result)) => {
                    reported(state, &current.id).await;
                    audit::note_approval(audit::Approved::Reported);
                    return Ok(Verdict::Performed(result));
                }
                _ => return Err(ToolError::internal("reading an approval's result", "done without a result")),
            },
            ApprovalStatus::Failed => {
                reported(state, &current.id).await;
                let reason = match current.outcome {
                    Some(Outcome::Error(reason)) => reason,
                    _ => "no reason was recorded.".into(),
                };
                return Err(Unapproved::Failed { tool: proposal.tool, reason }.into());
            }
            ApprovalStatus::Declined => {
                reported(state, &current.id).await;
                return Err(Unapproved::Declined { tool: proposal.tool }.into());
            }
            ApprovalStatus::Expired => {
                let expires = when(current.expires_at);
                return Err(Unapproved::Expired { tool: proposal.tool, expires }.into());
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            if current.status == ApprovalStatus::Approved {
                return Err(Unapproved::Performing { tool: proposal.tool }.into());
            }
            let expires = when(current.expires_at);
            return Err(Unapproved::Pending { tool: proposal.tool, url, expires, wait: wait.as_secs(), earlier }.into());
        }
        if let Some(token) = &progress {
            ticks += 1;
            let message = if current.status == ApprovalStatus::Approved {
                "The user approved; performing it now".to_string()
            } else {
                format!("Waiting for the user to approve at {url}")
            };
            let note = ProgressNotificationParam::new(token.clone(), f64::from(ticks)).with_message(message);
            let _ = ctx.peer.notify_progress(note).await;
        }
        // Woken by a change made here; a change made by another process is seen on the next tick.
        let until_expiry = Duration::from_secs(u64::try_from(current.expires_at - time::now()).unwrap_or(0));
        tokio::select! {
            _ = changes.changed() => {}
            _ = tokio::time::sleep(left.min(Duration::from_secs(5)).min(until_expiry.max(Duration::from_millis(200)))) => {}
        }
    }
}

/// The result of a call a person approved on the page, the first time the agent asks for it after the
/// fact (its waiting call had already answered "pending"): the result exactly as performing it gave it. Later
/// calls get the tool's ordinary replay.
pub async fn first_sight(state: &AppState, tool: &str, key: &str) -> Result<Option<serde_json::Value>, ToolError> {
    let approvals = state.store.approvals();
    match approvals.find(tool, key).await? {
        Some(Approval {
            id,
            status: ApprovalStatus::Done,
            reported: false,
            outcome: Some(Outcome::Ok(result)),
            ..
        }) => {
            reported(state, &id).await;
            Ok(Some(result))
        }
        _ => Ok(None),
    }
}

/// Note that the agent was told how an approval ended. The answer it is about to get is true either way, so a
/// failure here is logged, not returned (the worst case: it is told once more).
async fn reported(state: &AppState, id: &str) {
    if let Err(e) = state.store.approvals().mark_reported(id).await {
        tracing::warn!(approval = %id, error = %e, "could not note that the agent was told an approval's outcome");
    }
}

/// Perform an approval a person just approved, in its own task (a browser that goes away cannot stop it
/// half-way), and record the outcome.
pub async fn perform(state: Arc<AppState>, performer: Arc<dyn Performer>, approval: Approval) -> Outcome {
    let task = tokio::spawn(async move {
        let outcome = performer.perform(state.clone(), &approval).await;
        let result = match &outcome {
            Outcome::Ok(value) => Ok(value.clone()),
            Outcome::Error(text) => Err(text.clone()),
        };
        audit::performed(&state, &approval.tool, approval.arguments.clone(), &approval.id, result).await;
        if let Err(e) = state.store.approvals().settle(&approval.id, &outcome).await {
            tracing::error!(approval = %approval.id, error = %e, "performed an approval but could not record it");
        }
        tracing::info!(target: "switchboard::notify", approval = %approval.id, tool = %approval.tool, ok = matches!(outcome, Outcome::Ok(_)), "performed an approved action");
        outcome
    });
    task.await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "performing an approval failed");
        Outcome::Error("Switchboard stopped while performing it (a fault in the server, logged).".into())
    })
}

/// Perform approvals a person approved but whose performing a stopped process never recorded. A create or a
/// send goes through the ledger, which replays what was done instead of doing it again.
///
/// On a store of its own (SQLite) that is every approval decided before this process started (those decided
/// since are this process's own page's to perform). On a shared store another live instance may be performing
/// an approval right now, so only approvals left approved for longer than any performing takes
/// ([`performing_grace`]) are settled; every instance sweeps for them periodically ([`sweep_interrupted`]).
pub async fn settle_interrupted(state: Arc<AppState>, performer: Arc<dyn Performer>) -> usize {
    let cutoff = if state.store.is_shared() {
        time::now() - i64::try_from(performing_grace(&state).as_secs()).unwrap_or(i64::MAX)
    } else {
        state.started_at - 1
    };
    let unsettled = match state.store.approvals().unsettled(cutoff).await {
        Ok(unsettled) => unsettled,
        Err(e) => {
            tracing::warn!(error = %e, "could not read approvals left unperformed");
            return 0;
        }
    };
    let mut count = 0;
    for approval in unsettled {
        // Instances sweeping together: one takes it, the others leave it.
        match state.store.approvals().take_unsettled(&approval.id, cutoff, time::now()).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(approval = %approval.id, error = %e, "could not take an unperformed approval");
                continue;
            }
        }
        perform(state.clone(), performer.clone(), approval).await;
        count += 1;
    }
    count
}

/// How long performing an approval can take: the ledger's wait for an identical call, a lookup and the provider
/// call itself (each within the call deadline), and room for the reads and records around them.
pub fn performing_grace(state: &AppState) -> Duration {
    state.config.outbound.call_deadline * 4 + state.store.takeover_after() + Duration::from_secs(60)
}

/// On a shared store, settle interrupted approvals every minute, for as long as the process runs: an instance that
/// died after a person approved leaves the performing to the others.
pub async fn sweep_interrupted(state: Arc<AppState>, performer: Arc<dyn Performer>) {
    if !state.store.is_shared() {
        return;
    }
    let mut ticks = tokio::time::interval(Duration::from_secs(60));
    ticks.tick().await; // the start-up settle just ran
    loop {
        ticks.tick().await;
        let performed = settle_interrupted(state.clone(), performer.clone()).await;
        if performed > 0 {
            tracing::info!(performed, "performed approvals another instance had not finished");
        }
    }
}

/// An instant as RFC 3339 (UTC) for messages.
fn when(unix_seconds: i64) -> String {
    time::rfc3339(unix_seconds).unwrap_or_else(|| unix_seconds.to_string())
}
