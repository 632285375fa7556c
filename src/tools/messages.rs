//! Messaging tools: reply to a customer on WhatsApp, exactly once, after a person approves.
//!
//! The Cloud API has no idempotency key, so the ledger is the only guard: a send is claimed before Meta is
//! called and its key travels as `biz_opaque_callback_data`. A send whose outcome is unknown (timeout, 5xx, a
//! crash) is never sent again by Switchboard: it is reported as unknown until a status webhook carrying its key
//! settles it.

use crate::approvals::{self, ApprovedVia, Proposal, Verdict};
use crate::catalog::Committed;
use crate::domain::approval::{Approval, Summary};
use crate::domain::event::{Correlation, EventFilter, EventKind};
use crate::domain::message::{Content, MAX_TEXT_CHARS, OutboundMessage, SentMessage};
use crate::domain::payment_link::Phone;
use crate::domain::{ProviderId, text, time};
use crate::error::ToolError;
use crate::providers::whatsapp::WhatsAppClient;
use crate::server::Switchboard;
use crate::state::AppState;
use crate::store::{Claim, Entry};
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

pub(crate) const SEND_TOOL: &str = "send_whatsapp_message";

/// How long after a customer's last message free-form replies are allowed.
const WINDOW_SECS: i64 = 24 * 3600;

/// Arguments for `send_whatsapp_message`: `text`, or a template (`template_name` …) outside the 24-hour window.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = super::portable_args)]
pub struct SendMessageArgs {
    /// The customer's phone with country code, e.g. "+919820012345" (a sender's WhatsApp id with "+" in front).
    pub to: String,
    /// The reply, up to 4096 characters. Allowed only within 24 hours of the customer's last message.
    #[serde(default)]
    pub text: Option<String>,
    /// The customer's message being answered (`wamid.…`, the event's message_id): WhatsApp shows it quoted.
    #[serde(default)]
    pub reply_to_message_id: Option<String>,
    /// Instead of text, outside the 24-hour window: the name of a template approved in WhatsApp Manager.
    #[serde(default)]
    pub template_name: Option<String>,
    /// The template's language code, e.g. "en_US" (the default) or "hi".
    #[serde(default)]
    pub template_language: Option<String>,
    /// The template's body parameters, in order.
    #[serde(default)]
    pub template_parameters: Vec<String>,
    /// Optional retry key, 8–64 of A-Z a-z 0-9 - _. The same message to the same number is one send anyway;
    /// use a new key only to send the very same words again on purpose.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// The result of `send_whatsapp_message`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SentResult {
    #[serde(flatten)]
    pub message: SentMessage,
    /// True when an earlier identical call already sent it: nothing new was sent.
    pub replayed: bool,
    /// The key this send is recorded under (also in its status events' reference_id).
    pub idempotency_key: String,
    /// How a person approved it; absent on a replay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_via: Option<ApprovedVia>,
}

/// Why a send stopped short, and what to do next.
#[derive(Debug, thiserror::Error)]
pub enum SendRefusal {
    #[error(
        "{to} has not written in the last 24 hours (or never), so WhatsApp allows only an approved template, not free text. Nothing was sent: call send_whatsapp_message with template_name (and template_parameters) instead."
    )]
    WindowClosed { to: String },
    #[error(
        "An earlier send with this idempotency key had different words or recipient, so nothing was sent. Repeat it exactly, or use a new idempotency_key for a different message."
    )]
    Conflict,
    #[error("An identical send is in progress. Wait {0} s and call again with the same arguments: you get its result.")]
    InProgress(i64),
    #[error(
        "{0} WhatsApp may or may not have sent this message, and it has no way to ask. Switchboard will not send it again by itself: its status webhook (list_events with reference_id {1}) settles it, after which the same call returns the result. If none arrives, ask the user to check the chat; to send the same words again on purpose, pass a new idempotency_key."
    )]
    OutcomeUnknown(String, String),
    #[error(
        "Switchboard's send task stopped unexpectedly (a fault in the server, logged), so the message may or may not have gone out. Call again with the same arguments: Switchboard settles it from its status webhook and never sends it twice."
    )]
    Interrupted,
    #[error(
        "WhatsApp accepted this message earlier but could not deliver it: {0}. Nothing reached the customer. Calling again asks the user to approve a new send (use a template if the 24-hour window has closed)."
    )]
    FailedAfterAccepted(String),
    #[error("That earlier send was settled meanwhile. Call again with the same arguments to get its result.")]
    Settled,
}

impl From<SendRefusal> for ToolError {
    fn from(refusal: SendRefusal) -> Self {
        ToolError::Refused(Box::new(refusal))
    }
}

#[tool_router(router = message_router, vis = "pub(crate)")]
impl Switchboard {
    /// Send a WhatsApp message to a customer: free text within 24 hours of their last message (optionally as a
    /// reply to one of theirs), else an approved template. A person approves the exact text and recipient first
    /// (in the client, or on Switchboard's approval page, whose link the result then gives). Sent exactly once: an
    /// identical call returns the first result; an unknown outcome is reported, never re-sent. Delivery and
    /// read ticks arrive as message_delivered / message_read events (wait_for_event with message_id).
    #[tool(
        output_schema = schema_for_output::<SentResult>(),
        annotations(title = "Send WhatsApp message", read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    async fn send_whatsapp_message(
        &self,
        Parameters(args): Parameters<SendMessageArgs>,
        ctx: RequestContext<RoleServer>,
        InputResponses(responses): InputResponses,
        RequestState(request_state): RequestState,
    ) -> Result<CallToolResponse, ToolError> {
        let arguments = serde_json::to_value(&args).map_err(|e| ToolError::internal("keeping the arguments", e))?;
        let send = SendCall::parse(self.state(), args)?.current(self.state()).await?;
        if let Some(sent) = send.replay(self.state()).await? {
            // Sent earlier (and audited then): nothing new happens now.
            crate::audit::note_approval(crate::audit::Approved::Reported);
            let result = match approvals::first_sight(self.state(), SEND_TOOL, &send.key).await? {
                Some(first) => first,
                None => rendered(sent, true, send.key.clone(), None)?,
            };
            return Ok(CallToolResult::structured(result).into());
        }
        // An earlier identical send whose outcome is unknown: settle it (from its status webhook), never send
        // again, so neither the window nor a person's approval applies.
        if self.state().store.ledger().pending(&send.key).await? {
            // Settling an earlier send from its status: nothing is sent now.
            crate::audit::note_approval(crate::audit::Approved::Reported);
            let via = ApprovedVia::NotRequired;
            return Ok(
                CallToolResult::structured(send.run(self.shared_state(), via, Sending::SettleOnly).await?).into()
            );
        }
        send.check_window(self.state()).await?;
        let proposal = Proposal {
            tool: SEND_TOOL,
            key: send.key.clone(),
            binding: send.hash.clone(),
            summary: summary(&send.message),
            arguments,
        };
        match approvals::require(self.state(), &ctx, proposal, responses, request_state).await? {
            Verdict::Ask(input_required) => Ok(input_required.into()),
            Verdict::Performed(result) => Ok(CallToolResult::structured(result).into()),
            Verdict::Proceed(via) => {
                Ok(CallToolResult::structured(send.run(self.shared_state(), via, Sending::Send).await?).into())
            }
        }
    }
}

impl Switchboard {
    /// The messaging tools as served, described by the committed catalog.
    pub(crate) fn committed_message_routes(catalog: &mut Committed) -> Option<ToolRouter<Self>> {
        Some(ToolRouter::new().with_route((catalog.take(SEND_TOOL)?, Self::send_whatsapp_message)))
    }
}

/// A send, parsed and keyed: what the tool and the approval page both perform.
struct SendCall {
    client: Arc<WhatsAppClient>,
    message: OutboundMessage,
    key: String,
    hash: String,
    /// Whether the key was derived from the message (not given by the caller).
    derived: bool,
}

/// Whether a send may reach Meta, or may only settle an earlier attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sending {
    Send,
    SettleOnly,
}

/// How long the same words to the same number count as one message.
const REPLAY_SECS: i64 = 24 * 3600;

impl SendCall {
    fn parse(state: &AppState, args: SendMessageArgs) -> Result<Self, ToolError> {
        let client = state.providers.messaging()?;
        if !args.to.trim().starts_with('+') {
            return Err(ToolError::invalid(
                "to must start with + and the country code, e.g. \"+919820012345\" (WhatsApp reads a number without + as one in the business's own country)",
            ));
        }
        let to = Phone::parse("to", &args.to).map_err(ToolError::invalid)?;
        let to =
            Phone::parse("to", &format!("+{}", to.as_str().trim_start_matches('+'))).map_err(ToolError::invalid)?;
        let reply_to = args.reply_to_message_id.map(|id| id.trim().to_string()).filter(|id| !id.is_empty());
        if let Some(id) = &reply_to
            && (id.len() > 256 || !id.starts_with("wamid."))
        {
            return Err(ToolError::invalid("reply_to_message_id must be a WhatsApp message id (\"wamid.…\")"));
        }
        let content = match (args.text, args.template_name) {
            (Some(body), None) => {
                let body = body.trim().to_string();
                if body.is_empty() || body.chars().count() > MAX_TEXT_CHARS {
                    return Err(ToolError::invalid(format!("text must be 1–{MAX_TEXT_CHARS} characters")));
                }
                Content::Text { body: text::strip_hidden(&body), reply_to }
            }
            (None, Some(name)) => {
                let name = name.trim().to_string();
                let name_ok = !name.is_empty()
                    && name.len() <= 512
                    && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                if !name_ok {
                    return Err(ToolError::invalid(
                        "template_name must be a template's name as in WhatsApp Manager (lower case, digits, _)",
                    ));
                }
                let language = args.template_language.unwrap_or_else(|| "en_US".into()).trim().to_string();
                if language.is_empty() || language.len() > 16 {
                    return Err(ToolError::invalid("template_language must be a code such as \"en_US\" or \"hi\""));
                }
                let bad =
                    |p: &String| p.chars().count() > 1024 || p.chars().any(char::is_control) || p.trim().is_empty();
                if args.template_parameters.len() > 32 || args.template_parameters.iter().any(bad) {
                    return Err(ToolError::invalid(
                        "template_parameters: at most 32, each 1–1024 characters of plain text on one line",
                    ));
                }
                let parameters = args.template_parameters.iter().map(|p| text::strip_hidden(p.trim())).collect();
                Content::Template { name, language, parameters }
            }
            (Some(_), Some(_)) => {
                return Err(ToolError::invalid("send either text or template_name, not both"));
            }
            (None, None) => {
                return Err(ToolError::invalid(
                    "send text (within 24 hours of the customer's message) or template_name",
                ));
            }
        };
        let message = OutboundMessage { to, content };
        let explicit = args.idempotency_key.map(super::payment_links::parse_idempotency_key).transpose()?;
        let hash = fingerprint(&message);
        let derived = explicit.is_none();
        let key = match explicit {
            Some(key) if is_send_key(&key) => key,
            Some(key) => format!("sb_wa_{}", &hex::encode(Sha256::digest(format!("{SEND_TOOL}:key:{key}")))[..32]),
            None => format!("sb_wa_{}", &hash[..32]),
        };
        Ok(SendCall { client, message, key, hash, derived })
    }

    /// The key this send goes under now. The same words to the same number are one message for a day: once a
    /// send under a derived key has finished and is a day old, the same words are a new message (a reminder,
    /// another "thank you") under the next key of the chain. An explicit key is taken as it is.
    async fn current(mut self, state: &AppState) -> Result<Self, ToolError> {
        if !self.derived {
            return Ok(self);
        }
        let ledger = state.store.ledger();
        for _ in 0..1000 {
            match ledger.finished_at(&self.key).await? {
                Some(at) if at + REPLAY_SECS <= time::now() => {
                    self.key = format!("sb_wa_{}", &hex::encode(Sha256::digest(format!("{}:next", self.key)))[..32]);
                }
                _ => break,
            }
        }
        Ok(self)
    }

    fn entry(&self) -> Entry {
        Entry {
            key: self.key.clone(),
            tool: SEND_TOOL.into(),
            provider: ProviderId::WhatsApp.as_str().into(),
            request_hash: self.hash.clone(),
        }
    }

    /// The first result of an identical send that finished.
    async fn replay(&self, state: &AppState) -> Result<Option<SentMessage>, ToolError> {
        match state.store.ledger().finished(&self.key, &self.hash).await? {
            Some(stored) => Ok(Some(decode(stored)?)),
            None => Ok(None),
        }
    }

    /// Free text only within 24 hours of the customer's last message (WhatsApp's error 131047 otherwise, often
    /// only later as a failed status): refused here, before anything is asked or sent.
    async fn check_window(&self, state: &AppState) -> Result<(), ToolError> {
        if !matches!(self.message.content, Content::Text { .. }) {
            return Ok(());
        }
        let to = self.message.to.as_str();
        match last_message_from(state, to).await? {
            Some((_, at)) if at + WINDOW_SECS > time::now() => Ok(()),
            _ => Err(SendRefusal::WindowClosed { to: to.to_string() }.into()),
        }
    }

    /// Send it (at most once for its key) and render the result.
    async fn run(
        self,
        state: Arc<AppState>,
        via: ApprovedVia,
        sending: Sending,
    ) -> Result<serde_json::Value, ToolError> {
        let key = self.key.clone();
        let (sent, replayed) = send_once(state, self, sending).await?;
        rendered(sent, replayed, key, (!replayed).then_some(via))
    }
}

/// The ledger around one send. Detached, so a client that goes away mid-send cannot leave it unrecorded.
async fn send_once(state: Arc<AppState>, send: SendCall, sending: Sending) -> Result<(SentMessage, bool), ToolError> {
    let deadline = super::once::patience_from_now(&state);
    let task = tokio::spawn(async move {
        let entry = send.entry();
        let (_serialised, claim) = super::once::claim_serialised(&state, &entry, deadline).await?;
        let ledger = state.store.ledger();
        match claim {
            Claim::Replay(stored) => return Ok((decode(stored)?, true)),
            Claim::Conflict => return Err(SendRefusal::Conflict.into()),
            Claim::Busy { retry_after_secs } => return Err(SendRefusal::InProgress(retry_after_secs.max(1)).into()),
            // An earlier attempt's outcome is unknown: settle it from its status webhook, never by sending again.
            Claim::Abandoned { .. } => {
                return match settled_by_status(&state, &send).await? {
                    Some(Ok(sent)) => {
                        record(&state, &entry, &sent).await;
                        Ok((sent, true))
                    }
                    // It reached WhatsApp and failed there: nothing was delivered, and a new send needs approval.
                    Some(Err(reason)) => {
                        super::once::noted(ledger.release(&entry.key).await, &entry.key);
                        Err(SendRefusal::FailedAfterAccepted(reason).into())
                    }
                    None => {
                        super::once::noted(ledger.mark_unknown(&entry.key).await, &entry.key);
                        let why = "An earlier attempt at this send ended without an answer.".to_string();
                        Err(SendRefusal::OutcomeUnknown(why, entry.key.clone()).into())
                    }
                };
            }
            // Only settling was asked for, and there is nothing to settle any more: this call sends nothing.
            Claim::Acquired if sending == Sending::SettleOnly => {
                ledger.release(&entry.key).await?;
                return Err(SendRefusal::Settled.into());
            }
            Claim::Acquired => {}
        }
        ledger.touch(&entry.key).await?;
        match send.client.send(&send.message, &entry.key).await {
            Ok(accepted) => {
                let sent = sent_message(&send.message, accepted.message_id, accepted.wa_id, time::now());
                record(&state, &entry, &sent).await;
                mark_read(&state, &send).await;
                Ok((sent, false))
            }
            Err(e) if e.outcome_unknown() => {
                super::once::noted(ledger.mark_unknown(&entry.key).await, &entry.key);
                Err(SendRefusal::OutcomeUnknown(e.to_string(), entry.key.clone()).into())
            }
            Err(e) => {
                super::once::noted(ledger.release(&entry.key).await, &entry.key);
                Err(ToolError::from(e))
            }
        }
    });
    task.await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "the send task failed");
        Err(SendRefusal::Interrupted.into())
    })
}

/// What the status webhooks carrying this send's key say: WhatsApp took it (`Ok`, with its message id), or took
/// it and it failed (`Err`, WhatsApp's reason); `None` when none has arrived.
async fn settled_by_status(
    state: &AppState,
    send: &SendCall,
) -> Result<Option<Result<SentMessage, String>>, ToolError> {
    let filter = EventFilter {
        kinds: EventKind::MESSAGE_STATUS.to_vec(),
        correlation: Correlation { reference_id: Some(send.key.clone()), ..Correlation::default() },
        ..EventFilter::default()
    };
    let statuses = state.store.events().list(&filter, 10).await?;
    if let Some((_, event)) = statuses.iter().find(|(_, e)| e.kind != EventKind::MessageFailed) {
        let Some(message_id) = event.correlation.message_id.clone() else { return Ok(None) };
        let at =
            event.occurred_at.as_deref().and_then(|t| time::parse_instant("occurred_at", t, time::DayEdge::Start).ok());
        tracing::info!(key = %send.key, %message_id, "a status webhook settled a send whose outcome was unknown");
        return Ok(Some(Ok(sent_message(&send.message, message_id, None, at.unwrap_or_else(time::now)))));
    }
    Ok(statuses.first().map(|(_, event)| {
        let id = event.correlation.message_id.clone().unwrap_or_default();
        Err(super::conversations::failure_reason(event, &id).unwrap_or_else(|| "no reason was given".into()))
    }))
}

/// Record a send WhatsApp accepted. The message is out whatever happens next, so a failure is logged: the next
/// identical call is settled by the message's status webhook instead of sending again.
async fn record(state: &AppState, entry: &Entry, sent: &SentMessage) {
    let stored = match serde_json::to_value(sent) {
        Ok(stored) => stored,
        Err(e) => return tracing::error!(key = %entry.key, error = %e, "sent a message but could not encode it"),
    };
    if let Err(e) = state.store.ledger().finish(entry, &stored).await {
        tracing::error!(key = %entry.key, message = %sent.message_id, error = %e, "sent a message but could not record it");
    }
}

/// Blue ticks for the customer's message being answered (or their latest): best effort, logged on failure.
async fn mark_read(state: &AppState, send: &SendCall) {
    let target = match &send.message.content {
        Content::Text { reply_to: Some(id), .. } => Some(id.clone()),
        _ => last_message_from(state, send.message.to.as_str()).await.ok().flatten().map(|(id, _)| id),
    };
    if let Some(id) = target
        && let Err(e) = send.client.mark_read(&id).await
    {
        tracing::warn!(message = %id, error = %e, "could not mark the customer's message read");
    }
}

/// The customer's newest message: its id and when it was sent (unix seconds).
async fn last_message_from(state: &AppState, phone: &str) -> Result<Option<(String, i64)>, ToolError> {
    let filter = EventFilter {
        kinds: vec![EventKind::MessageReceived],
        correlation: Correlation { customer_phone: Some(phone.to_string()), ..Correlation::default() },
        ..EventFilter::default()
    };
    let Some((_, event)) = state.store.events().newest(&filter).await? else { return Ok(None) };
    let at = event
        .occurred_at
        .as_deref()
        .or(Some(event.received_at.as_str()))
        .and_then(|t| time::parse_instant("occurred_at", t, time::DayEdge::Start).ok())
        .unwrap_or(0);
    Ok(event.correlation.message_id.map(|id| (id, at)))
}

/// Perform a send a person approved on the page: its arguments, parsed again, must be the ones approved; the
/// window is checked again (it may have closed while the approval waited).
pub(crate) async fn perform_send(state: Arc<AppState>, approval: &Approval) -> Result<serde_json::Value, ToolError> {
    let args: SendMessageArgs = serde_json::from_value(approval.arguments.clone())
        .map_err(|e| ToolError::internal("reading the approved arguments", e))?;
    let mut send = SendCall::parse(&state, args)?;
    // The words must be the ones approved; the key is the approval's (for a derived key, the chain may have
    // moved on since, for a later message with the same words).
    if send.hash != approval.binding || (!send.derived && send.key != approval.key) {
        return Err(ToolError::internal(
            "checking the approved action",
            "its arguments no longer hash to the approval",
        ));
    }
    send.key = approval.key.clone();
    if !state.store.ledger().pending(&send.key).await? {
        send.check_window(&state).await?;
    }
    send.run(state, ApprovedVia::ApprovalPage, Sending::Send).await
}

/// What the person approves: the recipient and the exact words.
fn summary(message: &OutboundMessage) -> Summary {
    let mut details = vec![("To".to_string(), message.to.as_str().to_string())];
    match &message.content {
        Content::Text { body, reply_to } => {
            details.push(("Message".into(), body.clone()));
            if let Some(id) = reply_to {
                details.push(("In reply to".into(), id.clone()));
            }
        }
        Content::Template { name, language, parameters } => {
            details.push(("Template".into(), format!("{name} ({language})")));
            for (i, parameter) in parameters.iter().enumerate() {
                details.push((format!("Parameter {{{{{}}}}}", i + 1), parameter.clone()));
            }
        }
    }
    details.push(("Provider".into(), "WhatsApp".into()));
    Summary { headline: format!("Send a WhatsApp message to {}", message.to.as_str()), details }
}

fn sent_message(message: &OutboundMessage, message_id: String, wa_id: Option<String>, at: i64) -> SentMessage {
    let reply_to = match &message.content {
        Content::Text { reply_to, .. } => reply_to.clone(),
        Content::Template { .. } => None,
    };
    SentMessage {
        message_id,
        to: message.to.as_str().to_string(),
        wa_id,
        content: message.content.shown(),
        reply_to,
        accepted_at: time::rfc3339(at).unwrap_or_default(),
    }
}

fn rendered(
    message: SentMessage,
    replayed: bool,
    idempotency_key: String,
    approved_via: Option<ApprovedVia>,
) -> Result<serde_json::Value, ToolError> {
    serde_json::to_value(SentResult { message, replayed, idempotency_key, approved_via })
        .map_err(|e| ToolError::internal("rendering the sent message (it was sent; an identical call returns it)", e))
}

/// Every part of the message: the same key with another fingerprint is a conflict.
fn fingerprint(message: &OutboundMessage) -> String {
    let content = match &message.content {
        Content::Text { body, reply_to } => serde_json::json!({"text": body, "reply_to": reply_to}),
        Content::Template { name, language, parameters } => {
            serde_json::json!({"template": name, "language": language, "parameters": parameters})
        }
    };
    let all = serde_json::json!({"tool": SEND_TOOL, "to": message.to.as_str(), "content": content});
    hex::encode(Sha256::digest(all.to_string()))
}

/// A key as results report it (`sb_wa_` and 32 hex digits): passed back, it retries that very send.
fn is_send_key(key: &str) -> bool {
    key.strip_prefix("sb_wa_").is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn decode(stored: serde_json::Value) -> Result<SentMessage, ToolError> {
    serde_json::from_value(stored).map_err(|e| ToolError::Store(crate::store::StoreError::Corrupt(e.to_string())))
}
