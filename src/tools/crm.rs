//! CRM tools: find and read leads (HubSpot contacts) with their company and open deals. Read-only.

use crate::catalog::Committed;
use crate::domain::lead::{ContactRef, Lead, LeadDetail, LeadQuery};
use crate::domain::payment_link::Phone;
use crate::domain::{Email, text};
use crate::error::ToolError;
use crate::providers::hubspot::{HubSpotClient, MAX_SEARCH_LIMIT};
use crate::server::Switchboard;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Arguments for `find_leads`. Filters combine with AND; omit all to list the newest contacts.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = super::portable_args)]
pub struct FindLeadsArgs {
    /// Exact e-mail address, e.g. "ananya.sharma@kavyatextiles.in".
    #[serde(default)]
    pub email: Option<String>,
    /// Phone number with country code, e.g. "+919820012345"; matches the contact's phone or mobile phone as stored.
    #[serde(default)]
    pub phone: Option<String>,
    /// Person's name: one word matches first or last name, two or more match first and last name.
    #[serde(default)]
    pub name: Option<String>,
    /// Company name (or words of it) as typed on the contact, e.g. "Kavya Textiles".
    #[serde(default)]
    pub company: Option<String>,
    /// How many leads to return, 1–100. Default 10.
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page, to continue the same search.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// Arguments for `get_lead`: exactly one of `lead_id` or `email`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = super::portable_args)]
pub struct GetLeadArgs {
    /// The CRM contact id from `find_leads`, e.g. "98213450011".
    #[serde(default)]
    pub lead_id: Option<String>,
    /// Or the contact's exact e-mail address.
    #[serde(default)]
    pub email: Option<String>,
}

/// A page of leads.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LeadList {
    /// Matching contacts, newest first. Empty when nobody matches.
    pub leads: Vec<Lead>,
    /// How many contacts match in all.
    pub total: Option<u64>,
    /// True when more matches exist: call again with `cursor` = `next_cursor`.
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

#[tool_router(router = crm_router, vis = "pub(crate)")]
impl Switchboard {
    /// Find people in the CRM (HubSpot contacts) by e-mail, phone, name and/or company: who is this customer,
    /// which company, lifecycle stage, lead status, owner. Returns a page plus `next_cursor` when more exist.
    #[tool(annotations(
        title = "Find leads",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn find_leads(&self, Parameters(args): Parameters<FindLeadsArgs>) -> Result<Json<LeadList>, ToolError> {
        let crm = self.crm()?;
        let limit = super::page_limit(args.limit, 10)?.min(MAX_SEARCH_LIMIT);
        let query = LeadQuery {
            email: args.email.as_deref().map(|e| Email::parse("email", e)).transpose().map_err(ToolError::invalid)?,
            phone: args.phone.as_deref().map(|p| Phone::parse("phone", p)).transpose().map_err(ToolError::invalid)?,
            name: words("name", args.name)?,
            company: words("company", args.company)?,
            limit,
            after: args.cursor.as_deref().map(parse_cursor).transpose()?,
        };
        let page = crm.find_leads(&query).await?;
        Ok(Json(LeadList {
            leads: page.leads,
            total: page.total,
            has_more: page.next_after.is_some(),
            next_cursor: page.next_after,
        }))
    }

    /// Read one lead by CRM id or e-mail, with the company it belongs to and its open deals (name, stage,
    /// amount, close date).
    #[tool(annotations(
        title = "Get lead",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn get_lead(&self, Parameters(args): Parameters<GetLeadArgs>) -> Result<Json<LeadDetail>, ToolError> {
        let crm = self.crm()?;
        let contact = match (args.lead_id.as_deref().map(str::trim), args.email.as_deref()) {
            (Some(id), None) if !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_digit()) => {
                ContactRef::Id(id.to_string())
            }
            (Some(id), None) => {
                return Err(ToolError::invalid(format!(
                    "lead_id '{}' is not a CRM contact id; ids are digits, e.g. \"98213450011\" (use email to look up by address)",
                    text::clip(id, 40)
                )));
            }
            (None, Some(email)) => ContactRef::Email(Email::parse("email", email).map_err(ToolError::invalid)?),
            _ => return Err(ToolError::invalid("pass exactly one of lead_id or email")),
        };
        Ok(Json(crm.get_lead(&contact).await?))
    }
}

impl Switchboard {
    /// The CRM tools as served: the same handlers as [`Self::crm_router`], described by the committed
    /// catalog instead of schemas derived at run time. `None` if the catalog lacks one of them.
    pub(crate) fn committed_crm_routes(catalog: &mut Committed) -> Option<ToolRouter<Self>> {
        Some(
            ToolRouter::new()
                .with_route((catalog.take("find_leads")?, Self::find_leads))
                .with_route((catalog.take("get_lead")?, Self::get_lead)),
        )
    }
}

impl Switchboard {
    fn crm(&self) -> Result<&HubSpotClient, ToolError> {
        Ok(self.providers().crm()?)
    }
}

/// A free-text search term: trimmed, 1–100 characters, no control characters.
fn words(field: &str, value: Option<String>) -> Result<Option<String>, ToolError> {
    let Some(value) = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) else { return Ok(None) };
    if value.chars().count() > 100 || value.chars().any(char::is_control) {
        return Err(ToolError::invalid(format!("{field} must be plain text of at most 100 characters")));
    }
    Ok(Some(value))
}

/// HubSpot's paging token is an opaque decimal offset.
fn parse_cursor(cursor: &str) -> Result<String, ToolError> {
    let c = cursor.trim();
    if !c.is_empty() && c.len() <= 20 && c.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(c.to_string())
    } else {
        Err(ToolError::invalid("cursor is not one find_leads returned; pass next_cursor exactly, or omit it"))
    }
}
