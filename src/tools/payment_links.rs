//! Payment link tools: create (exactly once, after a person approves), check, cancel (after a person approves).

use super::once;
use crate::approvals::{self, ApprovedVia, Proposal, Verdict};
use crate::catalog::Committed;
use crate::domain::approval::{Approval, Summary};
use crate::domain::payment_link::{LinkCustomerInput, PaymentLink, PaymentLinkRequest, PaymentLinkStatus, Phone};
use crate::domain::time::{DayEdge, parse_instant};
use crate::domain::writeback::WriteBackKind;
use crate::domain::{Currency, Email, Invoice, InvoiceStatus, Money, Provider, ProviderId, text};
use crate::error::ToolError;
use crate::providers::{IdKind, PaymentLinks, ProviderError};
use crate::server::Switchboard;
use crate::state::AppState;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::{InputResponses, RequestState, schema_for_output};
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{CallToolResponse, CallToolResult};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The tool that cancels a link (creating is [`once::CREATE_TOOL`]).
pub(crate) const CANCEL_TOOL: &str = "cancel_payment_link";

/// Arguments for `create_payment_link`. Serialised as they were parsed when the call waits on the approval page,
/// and parsed again the same way to perform it.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = super::portable_args)]
pub struct CreatePaymentLinkArgs {
    /// Amount in MAJOR units as a decimal string: "45000" for ₹45,000, "299.95" for $299.95. Not paise/cents.
    #[serde(deserialize_with = "super::decimal_text")]
    pub amount: String,
    /// ISO 4217 currency code, e.g. "INR" or "USD".
    pub currency: String,
    /// What the payment is for, shown to the customer, e.g. "Invoice SW-2026-0142" (max 2048 characters).
    #[serde(default)]
    pub description: Option<String>,
    /// Who should pay. All fields optional.
    #[serde(default)]
    pub customer: Option<CustomerArgs>,
    /// Your own reference, e.g. the invoice number. The same reference, amount, currency, customer and
    /// description always return the same link, so retrying this call never creates a second one.
    #[serde(default)]
    pub reference_id: Option<String>,
    /// The invoice this link collects: a Notion invoice's page id or URL, or a Razorpay / Stripe invoice id. The
    /// link then carries the invoice number as its reference (unless reference_id is given) and its description
    /// (unless description is given); the amount may not exceed what the invoice still owes, in its currency.
    /// For a Notion invoice, the link's URL is written to the invoice page, and the page is marked paid when the
    /// link is paid.
    #[serde(default)]
    pub invoice_id: Option<String>,
    /// When the link stops accepting payment: RFC 3339 or YYYY-MM-DD (end of that day, UTC). Razorpay only
    /// (15 minutes to 180 days ahead); Stripe links do not expire.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Have the provider e-mail the link to the customer (Razorpay only). Default false.
    #[serde(default)]
    pub notify_email: bool,
    /// Have the provider text the link to the customer (Razorpay only). Default false.
    #[serde(default)]
    pub notify_sms: bool,
    /// https URL the customer is sent to after paying.
    #[serde(default)]
    pub callback_url: Option<String>,
    /// "razorpay" or "stripe" (Notion holds invoices, not links). Optional when one is configured or a default is
    /// set.
    #[serde(default, deserialize_with = "super::provider_arg")]
    pub provider: Option<Provider>,
    /// Optional retry key, 8–64 of A-Z a-z 0-9 - _. Calls with the same key return the first result even if
    /// other wording changes; reuse it only for a retry of the very same request.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Customer details for a payment link.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = super::portable_args)]
pub struct CustomerArgs {
    /// Full name, e.g. "Ananya Sharma".
    #[serde(default)]
    pub name: Option<String>,
    /// E-mail address, e.g. "ananya@example.com".
    #[serde(default)]
    pub email: Option<String>,
    /// Phone with country code, e.g. "+919820012345".
    #[serde(default)]
    pub phone: Option<String>,
}

/// Arguments for `get_payment_link` and `cancel_payment_link`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = super::portable_args)]
pub struct PaymentLinkIdArgs {
    /// The payment link id returned by create_payment_link, e.g. "plink_Jo13NauazdANzM".
    pub payment_link_id: String,
    /// "razorpay" or "stripe". Optional: inferred from the id when possible.
    #[serde(default, deserialize_with = "super::provider_arg")]
    pub provider: Option<Provider>,
}

/// The result of `create_payment_link`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CreatedPaymentLink {
    #[serde(flatten)]
    pub link: PaymentLink,
    /// True when an earlier identical call already created this link: it is returned again, nothing new was created.
    pub replayed: bool,
    /// The idempotency key this call used. Pass it as idempotency_key to retry safely.
    pub idempotency_key: String,
    /// True when a person approved this link (in their client or on the approval page) before it was created.
    pub confirmed_by_user: bool,
    /// How it was approved; absent on a replay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_via: Option<ApprovedVia>,
    /// The invoice the link collects, when invoice_id was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<String>,
    /// What happens to that invoice's record, e.g. that the Notion page gets the link now and "paid" when it is
    /// paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_note: Option<String>,
}

/// Why `create_payment_link` stopped short of returning a link, and what to do next.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The same idempotency key was used with different arguments.
    #[error(
        "Conflict: an earlier create_payment_link call with the same reference, amount, currency and customer had different arguments, so nothing was created. To repeat the earlier call, send exactly the same arguments; to create a different link on purpose, use a new reference_id or idempotency_key."
    )]
    Conflict,
    /// An identical call is being processed right now (another client or process).
    #[error(
        "An identical create_payment_link call is still in progress. Wait {0} s and call again with the same arguments: you will get its result, not a second link."
    )]
    InProgress(i64),
    /// A create whose outcome at the provider is unknown; the next identical call reconciles it.
    #[error(
        "{0} The link may or may not exist. Call create_payment_link again with exactly the same arguments: Switchboard looks it up first and never creates a second one."
    )]
    OutcomeUnknown(ProviderError),
    /// The create stopped inside Switchboard (its task failed) before its outcome was recorded.
    #[error(
        "Switchboard's create task stopped unexpectedly (a fault in the server, logged for its operator), so the link may or may not exist. Call create_payment_link again with exactly the same arguments: Switchboard looks it up first and never creates a second one."
    )]
    Interrupted,
    /// A lost create older than the provider's memory of idempotency keys: only a person can tell whether it exists.
    #[error(
        "An earlier attempt to create this {provider} payment link, more than a day ago, ended without an answer, and {provider} no longer guarantees to recognise its idempotency key. Switchboard will not risk a duplicate: ask the user to check the {provider} dashboard for the link, or create a new one with a different reference_id."
    )]
    StaleUnknown { provider: ProviderId },
}

impl From<Refusal> for ToolError {
    fn from(refusal: Refusal) -> Self {
        ToolError::Refused(Box::new(refusal))
    }
}

#[tool_router(router = payment_link_router, vis = "pub(crate)")]
impl Switchboard {
    /// Create a payment link the customer can pay (Razorpay or Stripe) and return its URL. A person approves
    /// amount, customer and provider first: in the client when it can ask, otherwise on Switchboard's approval
    /// page (the result then says to show the user a link, and calling again returns the link once approved).
    /// Safe to retry: an identical call returns the first link with replayed=true and never creates a second one.
    #[tool(
        output_schema = schema_for_output::<CreatedPaymentLink>(),
        annotations(title = "Create payment link", read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    async fn create_payment_link(
        &self,
        Parameters(args): Parameters<CreatePaymentLinkArgs>,
        ctx: RequestContext<RoleServer>,
        InputResponses(responses): InputResponses,
        RequestState(request_state): RequestState,
    ) -> Result<CallToolResponse, ToolError> {
        let arguments = serde_json::to_value(&args).map_err(|e| ToolError::internal("keeping the arguments", e))?;
        let create = CreateCall::parse(self.state(), args).await?;
        if let Some(link) = once::replay(self.state(), &create.key, &create.hash).await? {
            // Made earlier (and audited then): nothing new happens now.
            crate::audit::note_approval(crate::audit::Approved::Reported);
            let result = match approvals::first_sight(self.state(), once::CREATE_TOOL, &create.key).await? {
                Some(first) => first,
                None => create.render(self.state(), link, true, None).await?,
            };
            return Ok(CallToolResult::structured(result).into());
        }
        create.payments.check_payment_link(&create.request).map_err(ToolError::invalid)?;
        create.check_invoice(self.state()).await?;
        let proposal = Proposal {
            tool: once::CREATE_TOOL,
            key: create.key.clone(),
            // Approval is bound to every argument, not just the key: a yes to ₹100 cannot create ₹1,00,000.
            binding: create.hash.clone(),
            summary: create_summary(create.payments.provider(), &create.request, create.invoice.as_ref()),
            arguments,
        };
        match approvals::require(self.state(), &ctx, proposal, responses, request_state).await? {
            Verdict::Ask(input_required) => Ok(input_required.into()),
            Verdict::Performed(result) => Ok(CallToolResult::structured(result).into()),
            Verdict::Proceed(via) => Ok(CallToolResult::structured(create.run(self.shared_state(), via).await?).into()),
        }
    }

    /// Check a payment link: status (created, partially_paid, paid, expired, cancelled), amount paid and the
    /// payments made through it.
    #[tool(annotations(
        title = "Get payment link",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn get_payment_link(
        &self,
        Parameters(args): Parameters<PaymentLinkIdArgs>,
    ) -> Result<Json<PaymentLink>, ToolError> {
        let (payments, id) = link_target(self.state(), &args)?;
        let mut link = payments.get_payment_link(&id).await?;
        // A verified payment_link.paid webhook is proof of payment even when the provider's read lags behind.
        if link.status != PaymentLinkStatus::Paid
            && let Some(paid) = super::events::paid_link_event(self.state(), &id).await?
        {
            link.status = PaymentLinkStatus::Paid;
            link.amount_paid = paid.unwrap_or(link.amount.clone());
        }
        Ok(Json(link))
    }

    /// Cancel a payment link so it no longer accepts payment. Cannot be undone; payments already made are not
    /// refunded. A person approves first, like creating one.
    #[tool(
        output_schema = schema_for_output::<PaymentLink>(),
        annotations(title = "Cancel payment link", read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = true)
    )]
    async fn cancel_payment_link(
        &self,
        Parameters(args): Parameters<PaymentLinkIdArgs>,
        ctx: RequestContext<RoleServer>,
        InputResponses(responses): InputResponses,
        RequestState(request_state): RequestState,
    ) -> Result<CallToolResponse, ToolError> {
        let arguments = serde_json::to_value(&args).map_err(|e| ToolError::internal("keeping the arguments", e))?;
        let (payments, id) = link_target(self.state(), &args)?;
        let key = cancel_key(payments.provider(), &id);
        // What the person approves: the link as the provider has it now (or just its id if that read fails).
        let current = payments.get_payment_link(&id).await.ok();
        let proposal = Proposal {
            tool: CANCEL_TOOL,
            key: key.clone(),
            binding: key,
            summary: cancel_summary(payments.provider(), &id, current.as_ref()),
            arguments,
        };
        match approvals::require(self.state(), &ctx, proposal, responses, request_state).await? {
            Verdict::Ask(input_required) => Ok(input_required.into()),
            Verdict::Performed(result) => Ok(CallToolResult::structured(result).into()),
            Verdict::Proceed(_) => {
                let link = payments.cancel_payment_link(&id).await?;
                Ok(CallToolResult::structured(render(&link)?).into())
            }
        }
    }
}

impl Switchboard {
    /// The payment link tools as served: the same handlers as [`Self::payment_link_router`], described by the committed
    /// catalog instead of schemas derived at run time. `None` if the catalog lacks one of them.
    pub(crate) fn committed_payment_link_routes(catalog: &mut Committed) -> Option<ToolRouter<Self>> {
        Some(
            ToolRouter::new()
                .with_route((catalog.take("create_payment_link")?, Self::create_payment_link))
                .with_route((catalog.take("get_payment_link")?, Self::get_payment_link))
                .with_route((catalog.take("cancel_payment_link")?, Self::cancel_payment_link)),
        )
    }
}

/// The provider and id a `get_payment_link` / `cancel_payment_link` call is about.
fn link_target(state: &AppState, args: &PaymentLinkIdArgs) -> Result<(Arc<dyn PaymentLinks>, String), ToolError> {
    let id = args.payment_link_id.trim();
    let links = state.providers.payment_links(super::named(args.provider), Some((IdKind::PaymentLink, id)))?;
    state
        .providers
        .check_id(links.provider(), IdKind::PaymentLink, "payment_link_id", id)
        .map_err(ToolError::invalid)?;
    Ok((links, id.to_string()))
}

/// One cancel per link: the approval's key.
fn cancel_key(provider: ProviderId, id: &str) -> String {
    format!("sb_cancel_{}", &hex::encode(Sha256::digest(format!("{provider}:{id}")))[..24])
}

/// A create, parsed and keyed: what the tool and the approval page both perform.
struct CreateCall {
    payments: Arc<dyn PaymentLinks>,
    request: PaymentLinkRequest,
    /// The invoice the link collects.
    invoice: Option<Invoice>,
    key: String,
    hash: String,
}

impl CreateCall {
    async fn parse(state: &AppState, args: CreatePaymentLinkArgs) -> Result<Self, ToolError> {
        let payments = state.providers.payment_links(super::named(args.provider), None)?;
        let provider = payments.provider();
        let explicit_key = args.idempotency_key.clone().map(parse_idempotency_key).transpose()?;
        let invoice = match args.invoice_id.as_deref().map(str::trim) {
            Some(id) => Some(invoice_for_link(state, id).await?),
            None => None,
        };
        let mut request = parse_request(args)?;
        if let Some(invoice) = &invoice {
            defaults_from_invoice(&mut request, invoice);
        }
        let key = once::idempotency_key(provider, explicit_key.as_deref(), &request);
        let mut hash = once::request_hash(provider, &request);
        if let Some(invoice) = &invoice {
            // Approval and replay are bound to the invoice too: a link for one invoice is never another's.
            hash = hex::encode(Sha256::digest(format!("{hash}:{}:{}", invoice.provider, invoice.id)));
        }
        Ok(CreateCall { payments, request, invoice, key, hash })
    }

    /// Refuse a link its invoice does not owe, or a second open one for a Notion invoice (after the replay check:
    /// an identical retry gets its link back even once the invoice is paid).
    async fn check_invoice(&self, state: &AppState) -> Result<(), ToolError> {
        let Some(invoice) = &self.invoice else { return Ok(()) };
        check_against_invoice(&self.request, invoice)?;
        check_no_open_link(state, invoice).await
    }

    /// Create it (at most once for its key) and render the result.
    async fn run(self, state: Arc<AppState>, via: ApprovedVia) -> Result<serde_json::Value, ToolError> {
        let book_invoice = self.invoice.as_ref().filter(|i| i.provider == ProviderId::Notion).map(|i| i.id.clone());
        let outcome = once::create(
            state.clone(),
            self.payments.clone(),
            self.request.clone(),
            self.key.clone(),
            self.hash.clone(),
            book_invoice,
        )
        .await?;
        self.render(&state, outcome.link, outcome.replayed, Some(via)).await
    }

    /// The result, after recording the link against its Notion invoice (again on a replay: recording is
    /// idempotent, and a replay after a crash may be the first to get here).
    async fn render(
        &self,
        state: &AppState,
        link: PaymentLink,
        replayed: bool,
        via: Option<ApprovedVia>,
    ) -> Result<serde_json::Value, ToolError> {
        let note = match &self.invoice {
            Some(invoice) if invoice.provider == ProviderId::Notion => {
                match super::book::link_created(state, &invoice.id, &link).await {
                    Ok(()) => Some(
                        "The link is being written to the Notion invoice page, and the page is marked paid (with the payment id and date) when a verified webhook says the link was paid."
                            .to_string(),
                    ),
                    Err(e) => {
                        tracing::error!(link = %link.id, invoice = %invoice.id, error = %e, "could not record a payment link for its Notion invoice");
                        Some(format!(
                            "The link exists, but Switchboard could not record it for the Notion invoice ({e}); call create_payment_link again with the same arguments to retry the recording."
                        ))
                    }
                }
            }
            _ => None,
        };
        let confirmed_by_user = matches!(via, Some(ApprovedVia::Elicitation | ApprovedVia::ApprovalPage));
        let result = CreatedPaymentLink {
            link,
            replayed,
            idempotency_key: self.key.clone(),
            confirmed_by_user,
            approved_via: via,
            invoice_id: self.invoice.as_ref().map(|i| i.id.clone()),
            invoice_note: note,
        };
        serde_json::to_value(result)
            .map_err(|e| ToolError::internal("rendering the created link (it exists; an identical call returns it)", e))
    }
}

/// The invoice a link is for, read from whichever book holds it.
async fn invoice_for_link(state: &AppState, id: &str) -> Result<Invoice, ToolError> {
    let invoices = state.providers.invoices(None, Some((IdKind::Invoice, id)))?;
    state.providers.check_id(invoices.provider(), IdKind::Invoice, "invoice_id", id).map_err(ToolError::invalid)?;
    let mut invoice = invoices.get_invoice(id).await?;
    // As the agent sees it: a verified payment the book does not show yet still counts.
    super::book::annotate(state, &mut invoice).await?;
    Ok(invoice)
}

/// Default the reference and description from the invoice.
fn defaults_from_invoice(request: &mut PaymentLinkRequest, invoice: &Invoice) {
    let number = invoice_number(invoice);
    if request.reference_id.is_none() {
        request.reference_id = Some(text::clip(&number, 40));
    }
    if request.description.is_none() {
        request.description = Some(format!("Invoice {number}"));
    }
}

fn invoice_number(invoice: &Invoice) -> String {
    invoice.number.clone().unwrap_or_else(|| invoice.id.replace('-', ""))
}

/// Refuse a link the invoice does not owe: a cancelled or draft invoice, another currency, more than is owed, or
/// — for a Notion invoice, which is marked paid when its link is paid — anything but exactly what is owed.
fn check_against_invoice(request: &PaymentLinkRequest, invoice: &Invoice) -> Result<(), ToolError> {
    let number = invoice_number(invoice);
    if matches!(
        invoice.status,
        InvoiceStatus::Void | InvoiceStatus::Uncollectible | InvoiceStatus::Expired | InvoiceStatus::Draft
    ) {
        return Err(ToolError::invalid(format!(
            "invoice_id: invoice {number} is {} (\"{}\"), so nothing is to be collected on it; issue it first, or make \
             the link without invoice_id",
            serde_json::to_value(invoice.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            invoice.provider_status
        )));
    }
    if request.amount.currency().code() != invoice.currency {
        return Err(ToolError::invalid(format!(
            "currency is {} but invoice {number} is in {}; send currency \"{}\"",
            request.amount.currency().code(),
            invoice.currency,
            invoice.currency
        )));
    }
    let owed = invoice.amount_due.minor_units;
    if owed <= 0 {
        return Err(ToolError::invalid(format!(
            "invoice_id: invoice {number} owes nothing (status {}); no payment link is needed",
            serde_json::to_value(invoice.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
        )));
    }
    let owed_text = Money::from_minor(owed, request.amount.currency()).major_string();
    if invoice.provider == ProviderId::Notion && request.amount.minor_units() != owed {
        return Err(ToolError::invalid(format!(
            "amount {} is not what Notion invoice {number} still owes ({}): a Notion invoice is marked paid when its \
             link is paid, so its link must be for exactly \"{owed_text}\". For a part payment, make the link without \
             invoice_id",
            request.amount.format(),
            invoice.amount_due.formatted
        )));
    }
    if request.amount.minor_units() > owed {
        return Err(ToolError::invalid(format!(
            "amount {} is more than invoice {number} still owes ({}); send at most \"{owed_text}\"",
            request.amount.format(),
            invoice.amount_due.formatted
        )));
    }
    Ok(())
}

/// A Notion invoice gets one open link at a time: refuse while an earlier link made for it can still be paid.
async fn check_no_open_link(state: &AppState, invoice: &Invoice) -> Result<(), ToolError> {
    if invoice.provider != ProviderId::Notion || !state.store.exists() {
        return Ok(());
    }
    let number = invoice_number(invoice);
    let earlier = state.store.write_backs().for_invoice(&invoice.id).await?;
    for watch in earlier.iter().filter(|w| w.kind == WriteBackKind::PaymentLink) {
        let Some(links) =
            watch.link_provider.parse::<ProviderId>().ok().and_then(|p| state.providers.payment_links_of(p))
        else {
            continue;
        };
        let link = links.get_payment_link(&watch.link_id).await.map_err(|e| {
            ToolError::Refused(
                format!(
                    "Switchboard could not check whether invoice {number}'s earlier payment link {} is still open ({e}), \
                     and will not risk a second open link for it; try again shortly.",
                    watch.link_id
                )
                .into(),
            )
        })?;
        if matches!(link.status, PaymentLinkStatus::Created | PaymentLinkStatus::PartiallyPaid) {
            return Err(ToolError::Refused(
                format!(
                    "Invoice {number} already has an open payment link, {} ({}); send that one, or cancel it with \
                     cancel_payment_link before making another.",
                    link.id,
                    link.url.as_deref().unwrap_or("no URL")
                )
                .into(),
            ));
        }
    }
    Ok(())
}

/// Perform a create a person approved on the page: its arguments, parsed again, must be the ones approved.
pub(crate) async fn perform_create(state: Arc<AppState>, approval: &Approval) -> Result<serde_json::Value, ToolError> {
    let args: CreatePaymentLinkArgs = serde_json::from_value(approval.arguments.clone())
        .map_err(|e| ToolError::internal("reading the approved arguments", e))?;
    let create = CreateCall::parse(&state, args).await?;
    if create.key != approval.key || create.hash != approval.binding {
        return Err(ToolError::internal(
            "checking the approved action",
            "its arguments no longer hash to the approval",
        ));
    }
    create.payments.check_payment_link(&create.request).map_err(ToolError::invalid)?;
    create.check_invoice(&state).await?;
    create.run(state, ApprovedVia::ApprovalPage).await
}

/// Perform a cancel a person approved on the page.
pub(crate) async fn perform_cancel(state: Arc<AppState>, approval: &Approval) -> Result<serde_json::Value, ToolError> {
    let args: PaymentLinkIdArgs = serde_json::from_value(approval.arguments.clone())
        .map_err(|e| ToolError::internal("reading the approved arguments", e))?;
    let (payments, id) = link_target(&state, &args)?;
    if cancel_key(payments.provider(), &id) != approval.key {
        return Err(ToolError::internal("checking the approved action", "its link is not the approved one"));
    }
    render(&payments.cancel_payment_link(&id).await?)
}

fn render(link: &PaymentLink) -> Result<serde_json::Value, ToolError> {
    serde_json::to_value(link).map_err(|e| ToolError::internal("rendering the payment link", e))
}

fn customer_line(c: &LinkCustomerInput) -> String {
    let who =
        [c.name.clone(), c.email.as_ref().map(|e| e.to_string()), c.phone.as_ref().map(|p| p.as_str().to_string())]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
    if who.is_empty() { "not specified".to_string() } else { who }
}

/// What a person approves before a link is created: everything the provider will be sent.
fn create_summary(provider: ProviderId, r: &PaymentLinkRequest, invoice: Option<&Invoice>) -> Summary {
    let mut details = Vec::new();
    if let Some(invoice) = invoice {
        let number = invoice.number.as_deref().unwrap_or("(no number)");
        let record = if invoice.provider == ProviderId::Notion { ", marked paid there when paid" } else { "" };
        details.push((
            "Invoice".to_string(),
            format!("{number} in {} (still owed: {}){record}", invoice.provider, invoice.amount_due.formatted),
        ));
    }
    details.extend([
        ("Amount".to_string(), format!("{} ({})", r.amount.format(), r.amount.currency())),
        ("Customer".to_string(), customer_line(&r.customer)),
        ("For".to_string(), r.description.clone().unwrap_or_else(|| "no description".into())),
        ("Provider".to_string(), provider.to_string()),
    ]);
    if let Some(reference) = &r.reference_id {
        details.push(("Reference".into(), reference.clone()));
    }
    if let Some(expires) = r.expires_at.and_then(crate::domain::time::rfc3339) {
        details.push(("Expires".into(), expires));
    }
    let notify: Vec<&str> =
        [(r.notify_email, "e-mail"), (r.notify_sms, "SMS")].into_iter().filter(|(on, _)| *on).map(|(_, w)| w).collect();
    if !notify.is_empty() {
        details.push((format!("{provider} sends the link by"), notify.join(" and ")));
    }
    if let Some(url) = &r.callback_url {
        details.push(("After paying, the customer goes to".into(), url.clone()));
    }
    details.push(("Money".into(), "None moves until the customer pays.".into()));
    Summary {
        headline: format!("Create a {provider} payment link for {} ({})", r.amount.format(), r.amount.currency()),
        details,
    }
}

/// What a person approves before a link is cancelled.
fn cancel_summary(provider: ProviderId, id: &str, link: Option<&PaymentLink>) -> Summary {
    let mut details =
        vec![("Payment link".to_string(), id.to_string()), ("Provider".to_string(), provider.to_string())];
    if let Some(link) = link {
        details.push(("Amount".into(), format!("{} ({})", link.amount.formatted, link.amount.currency)));
        details.push(("Status now".into(), link.provider_status.clone()));
        if let Some(description) = &link.description {
            details.push(("For".into(), description.clone()));
        }
    }
    details.push(("Effect".into(), "The link stops accepting payment. This cannot be undone.".into()));
    Summary { headline: format!("Cancel {provider} payment link {id}"), details }
}

pub(crate) fn parse_idempotency_key(key: String) -> Result<String, ToolError> {
    let ok = (8..=64).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(key).ok_or_else(|| {
        ToolError::invalid("idempotency_key must be 8–64 characters of letters, digits, '-' or '_'; or omit it")
    })
}

fn parse_request(args: CreatePaymentLinkArgs) -> Result<PaymentLinkRequest, ToolError> {
    let currency = Currency::parse(&args.currency).map_err(|e| ToolError::invalid(format!("currency: {e}")))?;
    let amount = Money::parse_major(&args.amount, currency).map_err(|e| ToolError::invalid(format!("amount: {e}")))?;
    let c = args.customer.unwrap_or_default();
    let customer = LinkCustomerInput {
        name: bounded("customer.name", c.name, 200)?,
        email: c.email.as_deref().map(|e| Email::parse("customer.email", e)).transpose().map_err(ToolError::invalid)?,
        phone: c.phone.as_deref().map(|p| Phone::parse("customer.phone", p)).transpose().map_err(ToolError::invalid)?,
    };
    let reference_id = bounded("reference_id", args.reference_id, 40)?;
    let expires_at = args.expires_at.as_deref().map(|t| parse_instant("expires_at", t, DayEdge::End)).transpose();
    let callback_url = args.callback_url.map(|u| parse_callback(&u)).transpose()?;
    Ok(PaymentLinkRequest {
        amount,
        description: bounded("description", args.description, 2048)?,
        customer,
        reference_id,
        expires_at: expires_at.map_err(ToolError::invalid)?,
        notify_email: args.notify_email,
        notify_sms: args.notify_sms,
        callback_url,
    })
}

/// Trimmed, non-empty, at most `max` characters, no control characters.
fn bounded(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, ToolError> {
    let Some(value) = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) else { return Ok(None) };
    if value.chars().count() > max {
        return Err(ToolError::invalid(format!("{field} is longer than {max} characters; shorten it")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ToolError::invalid(format!("{field} contains control characters; send plain text")));
    }
    Ok(Some(text::strip_hidden(&value)))
}

fn parse_callback(url: &str) -> Result<String, ToolError> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|_| {
        ToolError::invalid(format!("callback_url '{}' is not a URL; send an https URL", text::clip(url, 80)))
    })?;
    if parsed.scheme() != "https" {
        return Err(ToolError::invalid("callback_url must use https"));
    }
    Ok(parsed.to_string())
}
