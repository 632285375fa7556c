//! Event tools: read the webhook event log and wait for the next matching event without polling a provider.
//! Waiting subscribes to new-event notifications before it reads the store, so an event that lands between
//! "check" and "wait" is never missed.

use crate::catalog::Committed;
use crate::domain::event::{Correlation, Event, EventFilter, EventKind};
use crate::domain::event::{event_id, parse_event_id};
use crate::domain::payment_link::Phone;
use crate::domain::time::{DayEdge, parse_instant};
use crate::domain::{Amount, Email};
use crate::error::ToolError;
use crate::server::Switchboard;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::ProgressNotificationParam;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often a wait reports progress (when the client asked for progress).
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Filters shared by the event tools. All given fields must match.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = super::portable_args)]
pub struct EventMatch {
    /// Webhook source, e.g. "razorpay" or "stripe".
    #[serde(default)]
    pub source: Option<String>,
    /// What happened, whichever provider sent it: "payment_succeeded", "payment_link_paid",
    /// "payment_link_partially_paid", "payment_link_expired", "payment_link_cancelled", "payment_failed",
    /// "message_received" (a customer's WhatsApp message), "message_sent", "message_delivered", "message_read",
    /// "message_failed" (our message's status), "other".
    #[serde(default)]
    pub kind: Option<EventKind>,
    /// Provider event type, e.g. "payment_link.paid" or "checkout.session.completed".
    #[serde(default)]
    pub event_type: Option<String>,
    /// Payment link id (`plink_…`).
    #[serde(default)]
    pub payment_link_id: Option<String>,
    /// Payment id (`pay_…`, `pi_…`).
    #[serde(default)]
    pub payment_id: Option<String>,
    /// The reference given when the link was created (e.g. an invoice number), or a WhatsApp send's
    /// idempotency_key (its status events carry it).
    #[serde(default)]
    pub reference_id: Option<String>,
    /// Customer e-mail address.
    #[serde(default)]
    pub customer_email: Option<String>,
    /// Customer phone with country code, e.g. "+919820012345" (a WhatsApp sender or recipient).
    #[serde(default)]
    pub customer_phone: Option<String>,
    /// A WhatsApp message id (`wamid.…`): the customer's message, or ours for its statuses.
    #[serde(default)]
    pub message_id: Option<String>,
}

/// Arguments for `list_events`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = super::portable_args)]
pub struct ListEventsArgs {
    #[serde(flatten)]
    pub filter: EventMatch,
    /// Only events received on or after this date ("2026-11-01" or RFC 3339).
    #[serde(default)]
    pub since: Option<String>,
    /// How many events, 1–100. Default 20.
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// Arguments for `get_event`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetEventArgs {
    /// Event id from list_events or a wait tool, e.g. "ev_42".
    pub event_id: String,
}

/// Arguments for `wait_for_event`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = super::portable_args)]
pub struct WaitForEventArgs {
    #[serde(flatten)]
    pub filter: EventMatch,
    /// Only events newer than this event id (e.g. the last one you saw). Omit to accept a matching event
    /// that already arrived.
    #[serde(default)]
    pub after_event_id: Option<String>,
    /// How long to wait, in seconds (default 60, at most the server's limit, 300 unless configured).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

/// Arguments for `wait_for_payment`: a payment link id or the reference it was created with.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = super::portable_args)]
pub struct WaitForPaymentArgs {
    /// Payment link id from create_payment_link (`plink_…`).
    #[serde(default)]
    pub payment_link_id: Option<String>,
    /// Or the reference_id the link was created with (e.g. the invoice number).
    #[serde(default)]
    pub reference_id: Option<String>,
    /// How long to wait, in seconds (default 120, at most the server's limit).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

/// A page of events.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EventList {
    /// Matching events, oldest first.
    pub events: Vec<Event>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

/// What a wait ended with.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WaitOutcome {
    /// The matching event, when one arrived (or had already arrived).
    pub event: Option<Event>,
    /// True when the timeout passed with no matching event. Nothing failed: call again to keep waiting.
    pub timed_out: bool,
    /// How long the call waited, in milliseconds.
    pub waited_ms: u64,
}

/// What `wait_for_payment` found.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PaymentOutcome {
    /// True when a payment event for the link arrived.
    pub paid: bool,
    /// True when the timeout passed first. Call again to keep waiting; nothing was charged or changed.
    pub timed_out: bool,
    /// The payment id, when the event carries one.
    pub payment_id: Option<String>,
    /// The amount paid, when the event states it.
    pub amount: Option<Amount>,
    /// The event that proves it.
    pub event: Option<Event>,
    pub waited_ms: u64,
}

#[tool_router(router = events_router, vis = "pub(crate)")]
impl Switchboard {
    /// List received webhook events (payments captured, links paid, messages…), filtered by source, type,
    /// payment link, payment, reference, customer e-mail or date; oldest first with a cursor.
    #[tool(annotations(
        title = "List events",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn list_events(&self, Parameters(args): Parameters<ListEventsArgs>) -> Result<Json<EventList>, ToolError> {
        let mut filter = to_filter(args.filter)?;
        filter.received_from = args
            .since
            .as_deref()
            .map(|s| parse_instant("since", s, DayEdge::Start))
            .transpose()
            .map_err(ToolError::invalid)?;
        filter.after_seq = args.cursor.as_deref().map(|c| seq_of("cursor", c)).transpose()?;
        let limit = super::page_limit(args.limit, 20)? as i64;
        let mut rows = self.state().store.events().list(&filter, limit + 1).await?;
        let has_more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = has_more.then(|| rows.last().map(|(seq, _)| event_id(*seq))).flatten();
        Ok(Json(EventList { events: rows.into_iter().map(|(_, e)| e).collect(), has_more, next_cursor }))
    }

    /// Read one stored webhook event, with its verified payload.
    #[tool(annotations(
        title = "Get event",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn get_event(&self, Parameters(args): Parameters<GetEventArgs>) -> Result<Json<Event>, ToolError> {
        let seq = seq_of("event_id", &args.event_id)?;
        let event = self.state().store.events().get(seq).await?;
        event.map(Json).ok_or_else(|| {
            ToolError::invalid(format!(
                "event_id '{}' does not exist; list_events shows the stored ones",
                args.event_id
            ))
        })
    }

    /// Wait until a matching webhook event arrives and return it, instead of polling. Returns at once when one
    /// already arrived (use after_event_id to wait for a newer one). Sends progress while waiting.
    #[tool(annotations(
        title = "Wait for event",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn wait_for_event(
        &self,
        Parameters(args): Parameters<WaitForEventArgs>,
        ctx: RequestContext<RoleServer>,
        ct: CancellationToken,
    ) -> Result<Json<WaitOutcome>, ToolError> {
        let mut filter = to_filter(args.filter)?;
        filter.after_seq = args.after_event_id.as_deref().map(|c| seq_of("after_event_id", c)).transpose()?;
        let timeout = self.wait_limit(args.timeout_secs, 60)?;
        let (event, waited) = self.wait(&filter, timeout, &ctx, &ct).await?;
        Ok(Json(WaitOutcome { timed_out: event.is_none(), event, waited_ms: waited }))
    }

    /// Wait until a payment link is paid (the provider's webhook arrives) and return the payment: "tell me
    /// when it is paid" without polling. Returns at once if the payment already arrived.
    #[tool(annotations(
        title = "Wait for payment",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn wait_for_payment(
        &self,
        Parameters(args): Parameters<WaitForPaymentArgs>,
        ctx: RequestContext<RoleServer>,
        ct: CancellationToken,
    ) -> Result<Json<PaymentOutcome>, ToolError> {
        let correlation = match (args.payment_link_id, args.reference_id) {
            (Some(id), None) => Correlation { payment_link_id: Some(id.trim().to_string()), ..Default::default() },
            (None, Some(r)) => Correlation { reference_id: Some(r.trim().to_string()), ..Default::default() },
            _ => return Err(ToolError::invalid("pass exactly one of payment_link_id or reference_id")),
        };
        // Paid in full only: partial payments and unpaid checkouts are other kinds.
        let filter = EventFilter { kinds: EventKind::PAID.to_vec(), correlation, ..Default::default() };
        let timeout = self.wait_limit(args.timeout_secs, 120)?;
        let (event, waited_ms) = self.wait(&filter, timeout, &ctx, &ct).await?;
        let amount = event.as_ref().and_then(|e| e.amount.clone());
        Ok(Json(PaymentOutcome {
            paid: event.is_some(),
            timed_out: event.is_none(),
            payment_id: event.as_ref().and_then(|e| e.correlation.payment_id.clone()),
            amount,
            event,
            waited_ms,
        }))
    }
}

impl Switchboard {
    /// The event tools as served: the same handlers as [`Self::events_router`], described by the committed
    /// catalog instead of schemas derived at run time. `None` if the catalog lacks one of them.
    pub(crate) fn committed_events_routes(catalog: &mut Committed) -> Option<ToolRouter<Self>> {
        Some(
            ToolRouter::new()
                .with_route((catalog.take("list_events")?, Self::list_events))
                .with_route((catalog.take("get_event")?, Self::get_event))
                .with_route((catalog.take("wait_for_event")?, Self::wait_for_event))
                .with_route((catalog.take("wait_for_payment")?, Self::wait_for_payment)),
        )
    }
}

impl Switchboard {
    fn wait_limit(&self, asked: Option<u64>, default: u64) -> Result<Duration, ToolError> {
        let max = self.state().config.webhooks.max_wait_secs;
        match asked.unwrap_or(default.min(max)) {
            0 => Err(ToolError::invalid("timeout_secs must be at least 1")),
            s if s > max => Err(ToolError::invalid(format!(
                "timeout_secs can be at most {max} on this server; call again to keep waiting"
            ))),
            s => Ok(Duration::from_secs(s)),
        }
    }

    /// Subscribe, then check the store, then sleep until a new event, the deadline or cancellation.
    async fn wait(
        &self,
        filter: &EventFilter,
        timeout: Duration,
        ctx: &RequestContext<RoleServer>,
        ct: &CancellationToken,
    ) -> Result<(Option<Event>, u64), ToolError> {
        let state = self.state();
        let mut notified = state.store.events().subscribe();
        let started = tokio::time::Instant::now();
        let deadline = started + timeout;
        let progress = ctx.meta.get_progress_token();
        let mut ticker = tokio::time::interval(PROGRESS_EVERY);
        ticker.tick().await; // the first tick is immediate
        loop {
            // Without a cursor the newest match counts (it may already have arrived); with one, the oldest newer one.
            let found = match filter.after_seq {
                Some(_) => state.store.events().list(filter, 1).await?.pop(),
                None => state.store.events().newest(filter).await?,
            };
            let elapsed = || started.elapsed().as_millis() as u64;
            if let Some((_, event)) = found {
                return Ok((Some(event), elapsed()));
            }
            tokio::select! {
                changed = notified.changed() => if changed.is_err() { return Ok((None, elapsed())) },
                _ = tokio::time::sleep_until(deadline) => return Ok((None, elapsed())),
                _ = ct.cancelled() => return Ok((None, elapsed())),
                _ = ticker.tick() => {
                    if let Some(token) = &progress {
                        let waited = started.elapsed().as_secs_f64();
                        let note = ProgressNotificationParam::new(token.clone(), waited)
                            .with_total(timeout.as_secs_f64())
                            .with_message(format!("waiting for the webhook ({}s of {}s)", waited as u64, timeout.as_secs()));
                        let _ = ctx.peer.notify_progress(note).await;
                    }
                }
            }
        }
    }
}

/// The amount of the newest `payment_link.paid` event for `link_id`: `Some(None)` when the event states no
/// amount, `None` when there is no such event.
pub(crate) async fn paid_link_event(
    state: &crate::state::AppState,
    link_id: &str,
) -> Result<Option<Option<Amount>>, ToolError> {
    let filter = EventFilter {
        kinds: vec![EventKind::PaymentLinkPaid],
        correlation: Correlation { payment_link_id: Some(link_id.to_string()), ..Default::default() },
        ..Default::default()
    };
    if !state.store.exists() {
        return Ok(None);
    }
    Ok(state.store.events().newest(&filter).await?.map(|(_, e)| e.amount))
}

fn to_filter(m: EventMatch) -> Result<EventFilter, ToolError> {
    let email = m
        .customer_email
        .as_deref()
        .map(|e| Email::parse("customer_email", e))
        .transpose()
        .map_err(ToolError::invalid)?;
    let phone = m
        .customer_phone
        .as_deref()
        .map(|p| Phone::parse("customer_phone", p))
        .transpose()
        .map_err(ToolError::invalid)?;
    Ok(EventFilter {
        source: m.source,
        kinds: m.kind.into_iter().collect(),
        types: m.event_type.into_iter().collect(),
        correlation: Correlation {
            payment_link_id: m.payment_link_id,
            payment_id: m.payment_id,
            reference_id: m.reference_id,
            customer_email: email.map(|e| e.as_str().to_ascii_lowercase()),
            customer_phone: phone.map(|p| format!("+{}", p.as_str().trim_start_matches('+'))),
            message_id: m.message_id.map(|id| id.trim().to_string()),
            ..Default::default()
        },
        ..Default::default()
    })
}

fn seq_of(field: &str, id: &str) -> Result<i64, ToolError> {
    parse_event_id(id.trim()).ok_or_else(|| ToolError::invalid(format!("{field} must be an event id like \"ev_42\"")))
}
