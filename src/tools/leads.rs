//! Adding a lead to the CRM (a HubSpot contact): searched first, so a retry or a person already in the CRM never
//! makes a duplicate; created once through the ledger, after a person approves.

use crate::approvals::{self, ApprovedVia, Proposal, Verdict};
use crate::catalog::Committed;
use crate::domain::approval::{Approval, Summary};
use crate::domain::lead::{AddedLead, LeadQuery, NewLead};
use crate::domain::payment_link::Phone;
use crate::domain::{Email, ProviderId, text};
use crate::error::ToolError;
use crate::providers::hubspot::HubSpotClient;
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

pub(crate) const CREATE_LEAD_TOOL: &str = "create_lead";

/// Arguments for `create_lead`: an e-mail or a phone, and what else is known.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = super::portable_args)]
pub struct CreateLeadArgs {
    /// E-mail address, e.g. "sheena@example.com".
    #[serde(default)]
    pub email: Option<String>,
    /// Phone with country code, e.g. "+16505551234" (a WhatsApp sender's number).
    #[serde(default)]
    pub phone: Option<String>,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Company name.
    #[serde(default)]
    pub company: Option<String>,
}

/// The result of `create_lead`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CreatedLead {
    #[serde(flatten)]
    pub added: AddedLead,
    /// How a person approved the write; absent when nothing was written (the contact already existed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_via: Option<ApprovedVia>,
}

/// Why creating stopped short.
#[derive(Debug, thiserror::Error)]
pub enum LeadRefusal {
    #[error("An identical create_lead call is in progress. Wait {0} s and call again with the same arguments.")]
    InProgress(i64),
    #[error(
        "{0} The contact may or may not exist now. Call create_lead again with the same arguments: Switchboard searches HubSpot for it first (by e-mail, then by phone as stored) before creating anything."
    )]
    OutcomeUnknown(String),
}

impl From<LeadRefusal> for ToolError {
    fn from(refusal: LeadRefusal) -> Self {
        ToolError::Refused(Box::new(refusal))
    }
}

#[tool_router(router = lead_router, vis = "pub(crate)")]
impl Switchboard {
    /// Add a person to the CRM as a new lead (a HubSpot contact) with e-mail and/or phone, name and company.
    /// HubSpot is searched first (by e-mail, then by phone as stored): someone found is returned with
    /// created=false and nothing is written. Prefer passing the e-mail when known: HubSpot itself refuses a second
    /// contact with the same e-mail, but not with the same phone.
    /// Otherwise a person approves first (in the client or on the approval page), and the contact is created
    /// exactly once. Needs the crm.objects.contacts.write scope.
    #[tool(
        output_schema = schema_for_output::<CreatedLead>(),
        annotations(title = "Create lead", read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    async fn create_lead(
        &self,
        Parameters(args): Parameters<CreateLeadArgs>,
        ctx: RequestContext<RoleServer>,
        InputResponses(responses): InputResponses,
        RequestState(request_state): RequestState,
    ) -> Result<CallToolResponse, ToolError> {
        let arguments = serde_json::to_value(&args).map_err(|e| ToolError::internal("keeping the arguments", e))?;
        let create = LeadCall::parse(self.state(), args)?;
        if let Some(existing) = create.existing().await? {
            // Already in the CRM: nothing is written.
            crate::audit::note_approval(crate::audit::Approved::Reported);
            return Ok(CallToolResult::structured(rendered(existing, None)?).into());
        }
        let proposal = Proposal {
            tool: CREATE_LEAD_TOOL,
            key: create.key.clone(),
            binding: create.key.clone(),
            summary: summary(&create.lead),
            arguments,
        };
        match approvals::require(self.state(), &ctx, proposal, responses, request_state).await? {
            Verdict::Ask(input_required) => Ok(input_required.into()),
            Verdict::Performed(result) => Ok(CallToolResult::structured(result).into()),
            Verdict::Proceed(via) => Ok(CallToolResult::structured(create.run(self.shared_state(), via).await?).into()),
        }
    }
}

impl Switchboard {
    /// The lead-writing tools as served, described by the committed catalog.
    pub(crate) fn committed_lead_routes(catalog: &mut Committed) -> Option<ToolRouter<Self>> {
        Some(ToolRouter::new().with_route((catalog.take(CREATE_LEAD_TOOL)?, Self::create_lead)))
    }
}

struct LeadCall {
    crm: Arc<HubSpotClient>,
    lead: NewLead,
    key: String,
}

impl LeadCall {
    fn parse(state: &AppState, args: CreateLeadArgs) -> Result<Self, ToolError> {
        let crm = state.providers.crm_shared()?;
        let email = args.email.as_deref().map(|e| Email::parse("email", e)).transpose().map_err(ToolError::invalid)?;
        let phone = args.phone.as_deref().map(|p| Phone::parse("phone", p)).transpose().map_err(ToolError::invalid)?;
        let phone = phone
            .map(|p| Phone::parse("phone", &format!("+{}", p.as_str().trim_start_matches('+'))))
            .transpose()
            .map_err(ToolError::invalid)?;
        if email.is_none() && phone.is_none() {
            return Err(ToolError::invalid("pass email or phone (or both): the CRM finds people by them"));
        }
        let lead = NewLead {
            email,
            phone,
            first_name: name_part("first_name", args.first_name)?,
            last_name: name_part("last_name", args.last_name)?,
            company: name_part("company", args.company)?,
        };
        let identity = serde_json::json!({
            "tool": CREATE_LEAD_TOOL,
            "email": lead.email.as_ref().map(|e| e.as_str().to_ascii_lowercase()),
            "phone": lead.phone.as_ref().map(|p| p.as_str()),
            "first": lead.first_name, "last": lead.last_name, "company": lead.company,
        });
        let key = format!("sb_lead_{}", &hex::encode(Sha256::digest(identity.to_string()))[..32]);
        Ok(LeadCall { crm, lead, key })
    }

    /// A contact with this e-mail, or else this phone, already in the CRM.
    async fn existing(&self) -> Result<Option<AddedLead>, ToolError> {
        let by = |email, phone| LeadQuery { email, phone, name: None, company: None, limit: 1, after: None };
        let queries =
            [self.lead.email.clone().map(|e| by(Some(e), None)), self.lead.phone.clone().map(|p| by(None, Some(p)))];
        for query in queries.into_iter().flatten() {
            if let Some(lead) = self.crm.find_leads(&query).await?.leads.into_iter().next() {
                return Ok(Some(AddedLead { lead, created: false }));
            }
        }
        Ok(None)
    }

    /// Create it at most once for its key: a repeat replays the first result, an interrupted attempt is settled
    /// by searching HubSpot before anything is created again.
    async fn run(self, state: Arc<AppState>, via: ApprovedVia) -> Result<serde_json::Value, ToolError> {
        let deadline = super::once::patience_from_now(&state);
        let task = tokio::spawn(async move {
            let entry = Entry {
                key: self.key.clone(),
                tool: CREATE_LEAD_TOOL.into(),
                provider: ProviderId::HubSpot.as_str().into(),
                request_hash: self.key.clone(),
            };
            let (_serialised, claim) = super::once::claim_serialised(&state, &entry, deadline).await?;
            let ledger = state.store.ledger();
            match claim {
                Claim::Replay(stored) => return rendered(decode(stored)?, None),
                Claim::Busy { retry_after_secs } => return Err(LeadRefusal::InProgress(retry_after_secs.max(1)).into()),
                Claim::Abandoned { .. } => {
                    if let Some(found) = self.existing().await? {
                        record(&state, &entry, &found).await;
                        return rendered(found, None);
                    }
                }
                // The key is the whole request, so a conflict cannot happen; treat it as a fresh claim's loss.
                Claim::Conflict => return Err(LeadRefusal::InProgress(1).into()),
                Claim::Acquired => {}
            }
            ledger.touch(&entry.key).await?;
            match self.crm.create_contact(&self.lead).await {
                Ok(added) => {
                    record(&state, &entry, &added).await;
                    let via = added.created.then_some(via);
                    rendered(added, via)
                }
                Err(e) if e.outcome_unknown() => {
                    super::once::noted(ledger.mark_unknown(&entry.key).await, &entry.key);
                    Err(LeadRefusal::OutcomeUnknown(e.to_string()).into())
                }
                Err(e) => {
                    super::once::noted(ledger.release(&entry.key).await, &entry.key);
                    Err(e.into())
                }
            }
        });
        task.await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "the create_lead task failed");
            Err(LeadRefusal::OutcomeUnknown("Switchboard's task stopped unexpectedly.".into()).into())
        })
    }
}

/// Perform a create a person approved on the page (searching first again: they may have been added since).
pub(crate) async fn perform_create_lead(
    state: Arc<AppState>,
    approval: &Approval,
) -> Result<serde_json::Value, ToolError> {
    let args: CreateLeadArgs = serde_json::from_value(approval.arguments.clone())
        .map_err(|e| ToolError::internal("reading the approved arguments", e))?;
    let create = LeadCall::parse(&state, args)?;
    if create.key != approval.key {
        return Err(ToolError::internal(
            "checking the approved action",
            "its arguments no longer hash to the approval",
        ));
    }
    if let Some(existing) = create.existing().await? {
        return rendered(existing, None);
    }
    create.run(state, ApprovedVia::ApprovalPage).await
}

async fn record(state: &AppState, entry: &Entry, added: &AddedLead) {
    match serde_json::to_value(added) {
        Ok(stored) => {
            if let Err(e) = state.store.ledger().finish(entry, &stored).await {
                tracing::error!(key = %entry.key, lead = %added.lead.id, error = %e, "created a lead but could not record it");
            }
        }
        Err(e) => tracing::error!(key = %entry.key, error = %e, "created a lead but could not encode it"),
    }
}

/// What the person approves: exactly the contact that will be written.
fn summary(lead: &NewLead) -> Summary {
    let name =
        [lead.first_name.as_deref(), lead.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let mut details = Vec::new();
    let mut put = |label: &str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            details.push((label.to_string(), value));
        }
    };
    put("Name", Some(name.clone()));
    put("E-mail", lead.email.as_ref().map(|e| e.as_str().to_string()));
    put("Phone", lead.phone.as_ref().map(|p| p.as_str().to_string()));
    put("Company", lead.company.clone());
    details.push(("CRM".into(), "HubSpot (a new contact)".into()));
    let who = if name.is_empty() {
        lead.email
            .as_ref()
            .map(|e| e.as_str().to_string())
            .or(lead.phone.as_ref().map(|p| p.as_str().to_string()))
            .unwrap_or_default()
    } else {
        name
    };
    Summary { headline: format!("Add {who} to HubSpot as a new lead"), details }
}

fn rendered(added: AddedLead, approved_via: Option<ApprovedVia>) -> Result<serde_json::Value, ToolError> {
    serde_json::to_value(CreatedLead { added, approved_via }).map_err(|e| ToolError::internal("rendering the lead", e))
}

fn decode(stored: serde_json::Value) -> Result<AddedLead, ToolError> {
    serde_json::from_value(stored).map_err(|e| ToolError::Store(crate::store::StoreError::Corrupt(e.to_string())))
}

/// A name part: trimmed, 1–100 characters of plain text.
fn name_part(field: &str, value: Option<String>) -> Result<Option<String>, ToolError> {
    let Some(value) = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) else { return Ok(None) };
    if value.chars().count() > 100 || value.chars().any(char::is_control) {
        return Err(ToolError::invalid(format!("{field} must be plain text of at most 100 characters")));
    }
    Ok(Some(text::strip_hidden(&value)))
}
