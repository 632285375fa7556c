//! HubSpot CRM v3 client: private-app Bearer token, JSON. Contacts are searched with `filterGroups` (filters in a
//! group AND, groups OR) and read with their company and deal associations.
//!
//! HubSpot's search endpoint is limited to a few requests per second per account, so searches pass a
//! client-side rate limiter (one every 1/`search_per_second` s, no bursts); 429s are retried by the shared
//! HTTP client honouring `Retry-After`.

use super::ProviderError;
use super::api::{Api, Auth, Body, Call, ErrorBody, Object};
use super::http::{HttpClient, Retry};
use super::registry::{self, Capability, Claim, IdKind};
use crate::config::{HubSpotConfig, env};
use crate::domain::lead::{AddedLead, ContactRef, Deal, Lead, LeadCompany, LeadDetail, LeadPage, LeadQuery, NewLead};
use crate::domain::{ProviderId, text, time};
use governor::clock::MonotonicClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

const S: ProviderId = ProviderId::HubSpot;

/// What HubSpot says about itself: how to configure it (a private app and its scopes). Its contact ids are
/// plain digits, which the CRM tools check; none of the payments ids is its.
pub struct HubSpotProfile;
pub static PROFILE: HubSpotProfile = HubSpotProfile;

impl registry::Profile for HubSpotProfile {
    fn id(&self) -> ProviderId {
        S
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[Capability::Crm]
    }

    fn setup(&self) -> String {
        format!(
            "create a HubSpot private app with the scopes crm.objects.contacts.read, crm.objects.companies.read and \
             crm.objects.deals.read (and crm.objects.contacts.write for create_lead), then set {} to its access token (or [hubspot] access_token in the config file)",
            env::HUBSPOT_ACCESS_TOKEN
        )
    }

    fn claim(&self, _kind: IdKind, _id: &str) -> Claim {
        Claim::No
    }

    fn check_id(&self, _kind: IdKind, field: &str, _id: &str) -> Result<(), String> {
        Err(format!("{field}: HubSpot has no invoices, customers or payment links"))
    }

    fn id_shape(&self, _kind: IdKind) -> Option<&'static str> {
        None
    }
}

/// Contact properties every lead carries.
const CONTACT_PROPERTIES: &[&str] = &[
    "firstname",
    "lastname",
    "email",
    "phone",
    "mobilephone",
    "company",
    "lifecyclestage",
    "hs_lead_status",
    "hubspot_owner_id",
    "createdate",
    "notes_last_updated",
];
const COMPANY_PROPERTIES: &[&str] = &["name", "domain", "industry"];
const DEAL_PROPERTIES: &[&str] =
    &["dealname", "dealstage", "amount", "deal_currency_code", "closedate", "hs_is_closed"];

/// The most results one search page returns.
pub const MAX_SEARCH_LIMIT: usize = 100;

pub struct HubSpotClient {
    api: Api<WireError>,
    search_gate: SearchGate,
}

/// A limiter on `Instant`: governor's default clock (quanta) calibrates the TSC when it is created, which
/// took up to 200 ms of start-up on a busy machine, before `initialize` could be answered.
type SearchGate = RateLimiter<NotKeyed, InMemoryState, MonotonicClock, NoOpMiddleware<std::time::Instant>>;

impl HubSpotClient {
    pub fn new(config: HubSpotConfig, http: Arc<HttpClient>) -> Self {
        let per_second = config.search_per_second.max(1);
        let period = Duration::from_nanos(1_000_000_000 / u64::from(per_second));
        // `with_period` is None only for a zero period, which a rate ≤ 1e9/s cannot produce.
        let quota = Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN));
        let api = Api::new(S, config.base_url, Auth::Bearer(config.access_token), http);
        HubSpotClient { api, search_gate: RateLimiter::direct_with_clock(quota, MonotonicClock) }
    }

    /// One harmless read (a page of one contact) to learn whether the token works and may read contacts: for
    /// `switchboard doctor`. A plain list, not a search, so it does not spend the search rate limit.
    pub async fn check(&self) -> Result<(), ProviderError> {
        let query = [("limit", "1".to_string())];
        let _: serde_json::Value = self.api.call(Call::get("/crm/v3/objects/contacts").query(&query)).await?;
        Ok(())
    }

    /// Search contacts; no match is an empty page.
    pub async fn find_leads(&self, query: &LeadQuery) -> Result<LeadPage, ProviderError> {
        let body = search_body(query);
        self.search_gate.until_ready().await;
        // A search changes nothing, so it may be retried.
        let call = Call::post("/crm/v3/objects/contacts/search", Body::Json(&body)).retry(Retry::Safe);
        let page: SearchPage = self.api.call(call).await?;
        Ok(LeadPage {
            leads: page.results.into_iter().map(WireObject::into_lead).collect(),
            total: page.total,
            next_after: page.paging.and_then(|p| p.next).map(|n| n.after),
        })
    }

    /// Create a contact. HubSpot's 409 "Contact already exists. Existing ID: N" (its e-mail is taken) answers with
    /// that contact instead, `created: false`. Sent once: a POST without an idempotency key is never retried.
    pub async fn create_contact(&self, new: &NewLead) -> Result<AddedLead, ProviderError> {
        let mut properties = serde_json::Map::new();
        let mut put = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                properties.insert(name.to_string(), value.into());
            }
        };
        put("email", new.email.as_ref().map(|e| e.as_str().to_string()));
        put("phone", new.phone.as_ref().map(|p| p.as_str().to_string()));
        put("firstname", new.first_name.clone());
        put("lastname", new.last_name.clone());
        put("company", new.company.clone());
        let body = serde_json::json!({"properties": properties});
        match self.api.call::<WireObject, _>(Call::post("/crm/v3/objects/contacts", Body::Json(&body))).await {
            Ok(wire) => Ok(AddedLead { lead: wire.into_lead(), created: true }),
            Err(ProviderError::Conflict { message, .. }) if existing_id(message.as_str()).is_some() => {
                let id = existing_id(message.as_str()).unwrap_or_default();
                let detail = self.get_lead(&ContactRef::Id(id)).await?;
                Ok(AddedLead { lead: detail.lead, created: false })
            }
            Err(e) => Err(e),
        }
    }

    /// One contact with its first associated company and its open deals.
    pub async fn get_lead(&self, contact: &ContactRef) -> Result<LeadDetail, ProviderError> {
        let mut query = vec![("properties", CONTACT_PROPERTIES.join(",")), ("associations", "companies,deals".into())];
        let (path_id, shown) = match contact {
            ContactRef::Id(id) => (id.clone(), id.clone()),
            ContactRef::Email(email) => {
                query.push(("idProperty", "email".into()));
                (encode_path(email.as_str()), email.to_string())
            }
        };
        let path = format!("/crm/v3/objects/contacts/{path_id}");
        let wire: WireObject =
            self.api.call(Call::get(&path).query(&query).about(Object::new("contact", &shown))).await?;
        let company_id = wire.associated("companies").into_iter().next();
        let deal_ids = wire.associated("deals");
        let company = match company_id {
            Some(id) => Some(self.company(&id).await?),
            None => None,
        };
        let open_deals = self.open_deals(&deal_ids).await?;
        Ok(LeadDetail { lead: wire.into_lead(), company, open_deals })
    }

    async fn company(&self, id: &str) -> Result<LeadCompany, ProviderError> {
        let query = [("properties", COMPANY_PROPERTIES.join(","))];
        let path = format!("/crm/v3/objects/companies/{id}");
        let wire: WireObject = self.api.call(Call::get(&path).query(&query).about(Object::new("company", id))).await?;
        let p = |k: &str| wire.text(k);
        Ok(LeadCompany { name: p("name"), domain: p("domain"), industry: p("industry"), id: wire.id.clone() })
    }

    async fn open_deals(&self, ids: &[String]) -> Result<Vec<Deal>, ProviderError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let body = BatchRead {
            properties: DEAL_PROPERTIES,
            properties_with_history: &[],
            inputs: ids.iter().take(100).map(|id| BatchInput { id }).collect(),
        };
        // A batch read changes nothing, so it may be retried.
        let call = Call::post("/crm/v3/objects/deals/batch/read", Body::Json(&body)).retry(Retry::Safe);
        let batch: Batch = self.api.call(call).await?;
        Ok(batch
            .results
            .into_iter()
            .filter(|d| d.raw("hs_is_closed") != Some("true"))
            .map(|d| Deal {
                name: d.text("dealname"),
                stage: d.raw("dealstage").map(str::to_string),
                amount: d.raw("amount").filter(|a| !a.is_empty()).map(str::to_string),
                currency: d.raw("deal_currency_code").map(str::to_string),
                close_date: d.raw("closedate").and_then(time::normalize),
                id: d.id,
            })
            .collect())
    }
}

/// The search request body, as HubSpot documents it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest<'a> {
    filter_groups: Vec<FilterGroup<'a>>,
    properties: &'static [&'static str],
    sorts: [Sort; 1],
    limit: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct FilterGroup<'a> {
    filters: Vec<Filter<'a>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Filter<'a> {
    property_name: &'static str,
    operator: &'static str,
    value: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Sort {
    property_name: &'static str,
    direction: &'static str,
}

/// The deals batch read body.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BatchRead<'a> {
    properties: &'static [&'static str],
    properties_with_history: &'static [&'static str],
    inputs: Vec<BatchInput<'a>>,
}

#[derive(Serialize)]
struct BatchInput<'a> {
    id: &'a str,
}

/// The search request: filters that must all hold, times the alternatives (phone or mobile phone; a single
/// name word as first or last name), as OR-ed filter groups.
/// The contact id in HubSpot's 409 message "Contact already exists. Existing ID: 12345".
fn existing_id(message: &str) -> Option<String> {
    let digits: String =
        message.split("Existing ID:").nth(1)?.trim().chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty()).then_some(digits)
}

pub fn search_body(q: &LeadQuery) -> SearchRequest<'_> {
    let filter = |property_name, operator, value| Filter { property_name, operator, value };
    let mut all = Vec::new();
    if let Some(email) = &q.email {
        all.push(filter("email", "EQ", email.as_str()));
    }
    if let Some(company) = &q.company {
        all.extend(company.split_whitespace().take(3).map(|w| filter("company", "CONTAINS_TOKEN", w)));
    }
    let words: Vec<&str> = q.name.as_deref().map(|n| n.split_whitespace().collect()).unwrap_or_default();
    let name_choices: Vec<Vec<Filter<'_>>> = match words.as_slice() {
        [] => vec![vec![]],
        [one] => {
            vec![vec![filter("firstname", "CONTAINS_TOKEN", one)], vec![filter("lastname", "CONTAINS_TOKEN", one)]]
        }
        [first, .., last] => {
            vec![vec![filter("firstname", "CONTAINS_TOKEN", first), filter("lastname", "CONTAINS_TOKEN", last)]]
        }
    };
    let phone_choices: Vec<Vec<Filter<'_>>> = match &q.phone {
        None => vec![vec![]],
        Some(p) => vec![vec![filter("phone", "EQ", p.as_str())], vec![filter("mobilephone", "EQ", p.as_str())]],
    };
    let mut filter_groups = Vec::new();
    for name in &name_choices {
        for phone in &phone_choices {
            let filters: Vec<Filter<'_>> = all.iter().chain(name).chain(phone).cloned().collect();
            if !filters.is_empty() {
                filter_groups.push(FilterGroup { filters });
            }
        }
    }
    SearchRequest {
        filter_groups,
        properties: CONTACT_PROPERTIES,
        sorts: [Sort { property_name: "createdate", direction: "DESCENDING" }],
        limit: q.limit.min(MAX_SEARCH_LIMIT),
        after: q.after.as_deref(),
    }
}

/// Percent-encode a path segment (an e-mail used as the contact id).
fn encode_path(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---- wire format ----

#[derive(Deserialize)]
struct WireError {
    message: Option<String>,
    #[serde(default)]
    errors: Vec<WireErrorDetail>,
}

#[derive(Deserialize)]
struct WireErrorDetail {
    #[serde(default)]
    context: HashMap<String, Vec<String>>,
}

impl ErrorBody for WireError {
    /// HubSpot's message, plus the scopes a 403 says are missing (so the fix is in the error).
    fn into_message(self) -> Option<String> {
        let scopes: Vec<String> = self
            .errors
            .into_iter()
            .flat_map(|e| e.context.get("requiredGranularScopes").cloned().unwrap_or_default())
            .collect();
        match (self.message, scopes.is_empty()) {
            (Some(m), true) => Some(m),
            (Some(m), false) => Some(format!("{m} Required scopes (one of): {}", scopes.join(", "))),
            (None, _) => None,
        }
    }
}

#[derive(Deserialize)]
struct SearchPage {
    total: Option<u64>,
    #[serde(default)]
    results: Vec<WireObject>,
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    next: Option<NextPage>,
}

#[derive(Deserialize)]
struct NextPage {
    after: String,
}

#[derive(Deserialize)]
struct Batch {
    #[serde(default)]
    results: Vec<WireObject>,
}

/// A CRM object: an id and string-or-null properties, plus associations when asked for.
#[derive(Deserialize)]
struct WireObject {
    id: String,
    #[serde(default)]
    properties: HashMap<String, Option<String>>,
    #[serde(default)]
    associations: HashMap<String, AssociationList>,
}

#[derive(Deserialize)]
struct AssociationList {
    #[serde(default)]
    results: Vec<AssociationRef>,
}

#[derive(Deserialize)]
struct AssociationRef {
    id: String,
}

impl WireObject {
    fn raw(&self, key: &str) -> Option<&str> {
        self.properties.get(key).and_then(|v| v.as_deref()).map(str::trim).filter(|v| !v.is_empty())
    }

    fn text(&self, key: &str) -> Option<String> {
        self.raw(key).and_then(text::untrusted)
    }

    /// Ids of associated objects of a type, in order, without duplicates (HubSpot lists one per association type).
    fn associated(&self, kind: &str) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for r in self.associations.get(kind).map(|a| a.results.as_slice()).unwrap_or_default() {
            if !ids.contains(&r.id) {
                ids.push(r.id.clone());
            }
        }
        ids
    }

    fn into_lead(self) -> Lead {
        let name = [self.raw("firstname"), self.raw("lastname")].into_iter().flatten().collect::<Vec<_>>().join(" ");
        Lead {
            name: text::untrusted(&name),
            email: self.text("email"),
            phone: self.text("phone").or_else(|| self.text("mobilephone")),
            company_name: self.text("company"),
            lifecycle_stage: self.raw("lifecyclestage").map(str::to_string),
            lead_status: self.raw("hs_lead_status").map(str::to_string),
            owner_id: self.raw("hubspot_owner_id").map(str::to_string),
            created_at: self.raw("createdate").and_then(time::normalize),
            last_activity_at: self.raw("notes_last_updated").and_then(time::normalize),
            id: self.id,
        }
    }
}
