//! CRM leads: who a person is, their company and their open deals (provider-neutral; HubSpot today).

use super::Email;
use super::payment_link::Phone;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A person in the CRM.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Lead {
    /// The CRM's contact id (HubSpot: a numeric string). Pass it to `get_lead`.
    pub id: String,
    /// Full name (untrusted text).
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Company name as typed on the contact (untrusted text); `get_lead` returns the linked company record.
    pub company_name: Option<String>,
    /// Lifecycle stage, e.g. "lead", "marketingqualifiedlead", "customer".
    pub lifecycle_stage: Option<String>,
    /// Lead status, e.g. "NEW", "OPEN", "IN_PROGRESS", "CONNECTED".
    pub lead_status: Option<String>,
    /// The CRM user who owns the contact (an id).
    pub owner_id: Option<String>,
    /// When the contact was created (RFC 3339).
    pub created_at: Option<String>,
    /// Last sales activity (call, e-mail, meeting, note) on the contact (RFC 3339).
    pub last_activity_at: Option<String>,
}

/// A lead with its company and open deals.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LeadDetail {
    #[serde(flatten)]
    pub lead: Lead,
    /// The company record the contact is associated with (the first, when several).
    pub company: Option<LeadCompany>,
    /// Deals associated with the contact that are not closed (won or lost).
    pub open_deals: Vec<Deal>,
}

/// A company record.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LeadCompany {
    pub id: String,
    pub name: Option<String>,
    /// Web domain, e.g. "kavyatextiles.in".
    pub domain: Option<String>,
    pub industry: Option<String>,
}

/// A deal (sales opportunity).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Deal {
    pub id: String,
    pub name: Option<String>,
    /// Pipeline stage id, e.g. "appointmentscheduled", "contractsent".
    pub stage: Option<String>,
    /// Deal amount exactly as the CRM stores it (a decimal string in major units, e.g. "450000").
    pub amount: Option<String>,
    /// ISO 4217 currency of the amount, when the CRM records one.
    pub currency: Option<String>,
    /// Expected close date (RFC 3339).
    pub close_date: Option<String>,
}

/// A validated `find_leads` query. Filters combine with AND.
#[derive(Debug, Clone, Default)]
pub struct LeadQuery {
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub name: Option<String>,
    pub company: Option<String>,
    pub limit: usize,
    /// The CRM's paging token from the previous page.
    pub after: Option<String>,
}

/// One page of leads.
#[derive(Debug, Clone)]
pub struct LeadPage {
    pub leads: Vec<Lead>,
    /// How many contacts match in all.
    pub total: Option<u64>,
    pub next_after: Option<String>,
}

/// Which contact `get_lead` reads.
#[derive(Debug, Clone)]
pub enum ContactRef {
    Id(String),
    Email(Email),
}

/// A contact to add to the CRM, validated at the tool edge. At least an e-mail or a phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLead {
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
}

/// What adding a contact did.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AddedLead {
    #[serde(flatten)]
    pub lead: Lead,
    /// True when this call created the contact; false when one with that e-mail or phone already existed (it is
    /// returned instead, nothing was written).
    pub created: bool,
}
