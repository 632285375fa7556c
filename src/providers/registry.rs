//! Which provider serves a call. [`Registry`] holds the configured clients by capability and answers two
//! questions with what the providers say about themselves ([`Profile`]): which provider owns this id, and
//! which one serves this call. When none can, [`Unserved`] is the sentence the model gets.
//!
//! The choice, in order: the provider the call names; the one its id belongs to; for invoices, the Notion
//! invoice book when one is configured; the configured default; the only one configured. An id a provider only *likely* owns (a `plink_…` id of Razorpay's length) decides
//! only between configured providers; an id it *certainly* owns (`inv_…`) decides even when that provider is
//! not configured, so the model learns which one to ask the user to set up.

use super::http::HttpClient;
use super::hubspot::{self, HubSpotClient};
use super::notion::{self, NotionClient};
use super::razorpay::{self, RazorpayClient};
use super::stripe::{self, StripeClient};
use super::whatsapp::{self, WhatsAppClient};
use super::{Invoices, PaymentLinks};
use crate::config::Config;
use crate::domain::ProviderId;
use std::sync::Arc;

/// What a provider can be asked to do. Each is a trait (or, with one implementation, a concrete client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    Invoices,
    PaymentLinks,
    Crm,
    Messaging,
}

impl Capability {
    /// What one provider of this capability is called in a sentence.
    fn noun(self) -> &'static str {
        match self {
            Capability::Invoices | Capability::PaymentLinks => "payments provider",
            Capability::Crm => "CRM",
            Capability::Messaging => "messaging provider",
        }
    }

    /// What it deals in, plural: "payment links".
    fn things(self) -> &'static str {
        match self {
            Capability::Invoices => "invoices",
            Capability::PaymentLinks => "payment links",
            Capability::Crm => "CRM",
            Capability::Messaging => "messaging",
        }
    }
}

/// The kinds of id a tool argument may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Invoice,
    Customer,
    PaymentLink,
}

/// A provider's answer to "is this id yours?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The format is this provider's alone (`inv_…` is Razorpay's).
    Certain,
    /// It has this provider's shape, but another provider's ids could look the same.
    Likely,
    No,
}

/// What a provider says about itself without credentials: who it is, what it serves, how to set it up, and
/// which ids are its own. One per provider module, listed in the registry's `KNOWN`.
pub trait Profile: Sync {
    fn id(&self) -> ProviderId;

    fn capabilities(&self) -> &'static [Capability];

    /// What the user does to configure it, completing "Ask the user to …": the environment variables (and
    /// config file section) it reads, plus anything to create first.
    fn setup(&self) -> String;

    fn claim(&self, kind: IdKind, id: &str) -> Claim;

    /// Whether `id` is a well-formed id of `kind` for this provider; else a sentence starting with `field`.
    fn check_id(&self, kind: IdKind, field: &str, id: &str) -> Result<(), String>;

    /// What its ids of `kind` look like, for sentences ("cust_…"); `None` if it has none.
    fn id_shape(&self, kind: IdKind) -> Option<&'static str>;
}

/// Every provider Switchboard knows, configured or not, in the order sentences list them.
static KNOWN: &[&dyn Profile] =
    &[&razorpay::PROFILE, &stripe::PROFILE, &notion::PROFILE, &hubspot::PROFILE, &whatsapp::PROFILE];

fn profile(id: ProviderId) -> Option<&'static dyn Profile> {
    KNOWN.iter().copied().find(|p| p.id() == id)
}

/// Why no configured provider serves a call. Its text is what the model reads: what to set, or what to pass.
#[derive(Debug, thiserror::Error)]
pub enum Unserved {
    /// The provider the call needs has no credentials in this server.
    #[error("{provider} is not configured on this Switchboard server. Ask the user to {setup} and restart it.{others}")]
    NotConfigured { provider: ProviderId, setup: String, others: String },
    /// Several could serve it and nothing chooses between them.
    #[error("{} are configured and no default is set: pass provider ({}).", both(.candidates), choices(.candidates))]
    Ambiguous { candidates: Vec<ProviderId> },
    /// The call names a provider that does not do this at all: an argument to fix.
    #[error("{named} has no {what}: {}", hint(.serving))]
    Incapable { named: ProviderId, what: &'static str, serving: Vec<ProviderId> },
    /// The call names one provider and passes an id that is certainly another's: an argument to fix.
    #[error("provider is '{}' but the id belongs to {owner}; drop provider or use a {named} id", .named.as_str())]
    Mismatch { named: ProviderId, owner: ProviderId },
}

fn hint(serving: &[ProviderId]) -> String {
    match serving {
        [] => "omit provider".to_string(),
        list => format!("pass provider {} or omit it", choices(list)),
    }
}

fn both(candidates: &[ProviderId]) -> String {
    match candidates {
        [a, b] => format!("Both {a} and {b}"),
        _ => names(candidates, |p| p.name().to_string()),
    }
}

fn choices(candidates: &[ProviderId]) -> String {
    names(candidates, |p| format!("\"{}\"", p.as_str())).replace(" and ", " or ")
}

/// "a, b and c".
fn names(list: &[ProviderId], show: impl Fn(ProviderId) -> String) -> String {
    let shown: Vec<String> = list.iter().map(|p| show(*p)).collect();
    match shown.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => shown.concat(),
    }
}

/// The configured provider clients, by capability, and the default.
pub struct Registry {
    invoices: Vec<Arc<dyn Invoices>>,
    payment_links: Vec<Arc<dyn PaymentLinks>>,
    crm: Option<Arc<HubSpotClient>>,
    book: Option<Arc<NotionClient>>,
    messaging: Option<Arc<WhatsAppClient>>,
    default: Option<ProviderId>,
}

impl Registry {
    /// Clients for every provider with credentials in `config`. Cheap: nothing connects until first use.
    pub fn from_config(config: &Config, http: Arc<HttpClient>) -> Self {
        let mut registry = Registry {
            invoices: Vec::new(),
            payment_links: Vec::new(),
            crm: config.hubspot.clone().map(|c| Arc::new(HubSpotClient::new(c, http.clone()))),
            book: None,
            messaging: config.whatsapp.clone().map(|c| Arc::new(WhatsAppClient::new(c, http.clone()))),
            default: config.default_provider.map(ProviderId::from),
        };
        if let Some(c) = config.razorpay.clone() {
            let client = Arc::new(RazorpayClient::new(c, http.clone()));
            registry.invoices.push(client.clone());
            registry.payment_links.push(client);
        }
        if let Some(c) = config.stripe.clone() {
            let client = Arc::new(StripeClient::new(c, http.clone()));
            registry.invoices.push(client.clone());
            registry.payment_links.push(client);
        }
        if let Some(c) = config.notion.clone() {
            let client = Arc::new(NotionClient::new(c, http));
            registry.invoices.push(client.clone());
            registry.book = Some(client);
        }
        registry
    }

    /// Every configured provider, once each, in [`KNOWN`] order.
    pub fn configured(&self) -> Vec<ProviderId> {
        let mut ids: Vec<ProviderId> = self.invoices.iter().map(|c| c.provider()).collect();
        ids.extend(self.payment_links.iter().map(|c| c.provider()));
        ids.extend(self.crm.as_ref().map(|_| ProviderId::HubSpot));
        ids.extend(self.messaging.as_ref().map(|_| ProviderId::WhatsApp));
        KNOWN.iter().map(|p| p.id()).filter(|id| ids.contains(id)).collect()
    }

    /// The invoice book for a call that names `named` (if any) and passes `id` (if any).
    pub fn invoices(
        &self,
        named: Option<ProviderId>,
        id: Option<(IdKind, &str)>,
    ) -> Result<Arc<dyn Invoices>, Unserved> {
        let configured: Vec<ProviderId> = self.invoices.iter().map(|c| c.provider()).collect();
        let chosen = self.choose(Capability::Invoices, &configured, named, id)?;
        self.invoices
            .iter()
            .find(|c| c.provider() == chosen)
            .cloned()
            .ok_or_else(|| self.not_configured(Capability::Invoices, chosen))
    }

    /// The payment link provider for a call that names `named` (if any) and passes `id` (if any).
    pub fn payment_links(
        &self,
        named: Option<ProviderId>,
        id: Option<(IdKind, &str)>,
    ) -> Result<Arc<dyn PaymentLinks>, Unserved> {
        let configured: Vec<ProviderId> = self.payment_links.iter().map(|c| c.provider()).collect();
        let chosen = self.choose(Capability::PaymentLinks, &configured, named, id)?;
        self.payment_links_of(chosen).ok_or_else(|| self.not_configured(Capability::PaymentLinks, chosen))
    }

    /// The payment link client of exactly this provider, if configured (for work recorded earlier).
    pub fn payment_links_of(&self, provider: ProviderId) -> Option<Arc<dyn PaymentLinks>> {
        self.payment_links.iter().find(|c| c.provider() == provider).cloned()
    }

    /// The CRM.
    pub fn crm(&self) -> Result<&HubSpotClient, Unserved> {
        self.crm.as_deref().ok_or_else(|| self.not_configured(Capability::Crm, ProviderId::HubSpot))
    }

    /// The CRM, for work that outlives the call (a write in its own task).
    pub fn crm_shared(&self) -> Result<Arc<HubSpotClient>, Unserved> {
        self.crm.clone().ok_or_else(|| self.not_configured(Capability::Crm, ProviderId::HubSpot))
    }

    /// The invoice book in Notion, for writes (a payment link recorded, a payment, a status a person set).
    pub fn book(&self) -> Result<Arc<NotionClient>, Unserved> {
        self.book.clone().ok_or_else(|| self.not_configured(Capability::Invoices, ProviderId::Notion))
    }

    /// The WhatsApp business number.
    pub fn messaging(&self) -> Result<Arc<WhatsAppClient>, Unserved> {
        self.messaging.clone().ok_or_else(|| self.not_configured(Capability::Messaging, ProviderId::WhatsApp))
    }

    /// Whether `id` is well-formed for `provider` (a sentence starting with `field` if not).
    pub fn check_id(&self, provider: ProviderId, kind: IdKind, field: &str, id: &str) -> Result<(), String> {
        profile(provider).map_or(Ok(()), |p| p.check_id(kind, field, id))
    }

    /// Whether some provider Switchboard knows would accept `id` as an id of `kind`.
    pub fn is_known_id(&self, kind: IdKind, id: &str) -> bool {
        KNOWN.iter().any(|p| p.check_id(kind, "id", id).is_ok())
    }

    /// What ids of `kind` look like, per provider: "cust_… for Razorpay, cus_… for Stripe".
    pub fn id_shapes(&self, kind: IdKind) -> String {
        let shapes: Vec<String> =
            KNOWN.iter().filter_map(|p| p.id_shape(kind).map(|s| format!("{s} for {}", p.id()))).collect();
        shapes.join(", ")
    }

    fn choose(
        &self,
        capability: Capability,
        configured: &[ProviderId],
        named: Option<ProviderId>,
        id: Option<(IdKind, &str)>,
    ) -> Result<ProviderId, Unserved> {
        let serving = || KNOWN.iter().copied().filter(|p| p.capabilities().contains(&capability));
        let claims: Vec<(ProviderId, Claim)> = match id {
            Some((kind, id)) => serving().map(|p| (p.id(), p.claim(kind, id))).collect(),
            None => Vec::new(),
        };
        let owner = claims.iter().find(|(_, c)| *c == Claim::Certain).map(|(p, _)| *p);
        if let Some(named) = named.filter(|n| profile(*n).is_some_and(|p| !p.capabilities().contains(&capability))) {
            let serving = serving().map(|p| p.id()).collect();
            return Err(Unserved::Incapable { named, what: capability.things(), serving });
        }
        match (named, owner) {
            (Some(named), Some(owner)) if named != owner => return Err(Unserved::Mismatch { named, owner }),
            (Some(p), _) | (None, Some(p)) => return Ok(p),
            (None, None) => {}
        }
        if configured.len() > 1 {
            let likely: Vec<ProviderId> =
                claims.iter().filter(|(p, c)| *c == Claim::Likely && configured.contains(p)).map(|(p, _)| *p).collect();
            if let [only] = likely.as_slice() {
                return Ok(*only);
            }
        }
        // A Notion invoice book was configured to be the book: it answers invoice questions unless the call names
        // another provider or passes another's id.
        if capability == Capability::Invoices && configured.contains(&ProviderId::Notion) {
            return Ok(ProviderId::Notion);
        }
        if let Some(default) = self.default.filter(|d| serving().any(|p| p.id() == *d)) {
            return Ok(default);
        }
        match configured {
            [only] => Ok(*only),
            // Every capability has a provider in KNOWN; Razorpay only stands in for the impossible empty list.
            [] => Err(self.not_configured(capability, serving().next().map_or(ProviderId::Razorpay, |p| p.id()))),
            several => Err(Unserved::Ambiguous { candidates: several.to_vec() }),
        }
    }

    /// "X is not configured", with what to set and, where another provider could serve instead, which are.
    fn not_configured(&self, capability: Capability, provider: ProviderId) -> Unserved {
        let serves = |p: ProviderId| profile(p).is_some_and(|k| k.capabilities().contains(&capability));
        let alternatives = KNOWN.iter().filter(|k| serves(k.id())).count();
        let configured: Vec<ProviderId> = self.configured().into_iter().filter(|c| serves(*c)).collect();
        let others = match (alternatives, configured.as_slice()) {
            (0 | 1, _) => String::new(),
            (_, []) => format!(" No {} is configured at all.", capability.noun()),
            (_, list) => {
                format!(" Configured now: {}.", list.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", "))
            }
        };
        let setup = profile(provider).map(|p| p.setup()).unwrap_or_default();
        Unserved::NotConfigured { provider, setup, others }
    }
}

#[cfg(test)]
mod tests;
