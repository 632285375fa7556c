use super::*;
use crate::config::OutboundConfig;
use crate::providers::redact::Redactor;
use std::collections::HashMap;

const RZ_INVOICE: &str = "inv_NmTq3XfGkZ8vYp";
const ST_INVOICE: &str = "in_1Pgc6tB7WZ01zgkWu9fdqL6I";
const RZ_LINK: &str = "plink_SCx4Lm8QwErT2y";
const ST_LINK: &str = "plink_1SzQ3Rq8LwT2kP5dXb4Ne7Yc";

/// A registry for the providers whose credentials `vars` set.
fn registry(vars: &[(&str, &str)]) -> Registry {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let config = Config::load_with(None, &move |k| map.get(k).cloned()).unwrap();
    let http = Arc::new(HttpClient::new(OutboundConfig::default(), Arc::new(Redactor::from_config(&config))));
    Registry::from_config(&config, http)
}

const RAZORPAY: &[(&str, &str)] = &[("RAZORPAY_KEY_ID", "rzp_test_x"), ("RAZORPAY_KEY_SECRET", "secret-secret")];
const STRIPE: &[(&str, &str)] = &[("STRIPE_API_KEY", "sk_test_x")];

fn both() -> Vec<(&'static str, &'static str)> {
    [RAZORPAY, STRIPE].concat()
}

fn invoices_from(r: &Registry, named: Option<ProviderId>, id: Option<(IdKind, &str)>) -> Result<ProviderId, String> {
    r.invoices(named, id).map(|c| c.provider()).map_err(|e| e.to_string())
}

fn links_from(r: &Registry, named: Option<ProviderId>, id: Option<(IdKind, &str)>) -> Result<ProviderId, String> {
    r.payment_links(named, id).map(|c| c.provider()).map_err(|e| e.to_string())
}

#[test]
fn each_id_belongs_to_the_provider_whose_format_it_has() {
    let owner = |kind, id| -> Vec<(ProviderId, Claim)> {
        KNOWN.iter().map(|p| (p.id(), p.claim(kind, id))).filter(|(_, c)| *c != Claim::No).collect()
    };
    assert_eq!(owner(IdKind::Invoice, RZ_INVOICE), [(ProviderId::Razorpay, Claim::Certain)]);
    assert_eq!(owner(IdKind::Invoice, ST_INVOICE), [(ProviderId::Stripe, Claim::Certain)]);
    assert_eq!(owner(IdKind::Customer, "cust_JQpyvXbT2LbnQ3"), [(ProviderId::Razorpay, Claim::Certain)]);
    assert_eq!(owner(IdKind::Customer, "cus_QkHRp2nX8bE3a1"), [(ProviderId::Stripe, Claim::Certain)]);
    assert_eq!(owner(IdKind::PaymentLink, RZ_LINK), [(ProviderId::Razorpay, Claim::Likely)]);
    assert_eq!(owner(IdKind::PaymentLink, ST_LINK), [(ProviderId::Stripe, Claim::Likely)]);
    assert!(owner(IdKind::Invoice, "INV-2026-0142").is_empty());
    assert!(owner(IdKind::Invoice, RZ_LINK).is_empty(), "a link id is nobody's invoice id");
}

#[test]
fn with_nothing_configured_the_sentence_says_which_variables_to_set() {
    let r = registry(&[]);
    let text = invoices_from(&r, None, None).unwrap_err();
    assert!(text.starts_with("Razorpay is not configured"), "{text}");
    assert!(text.contains("RAZORPAY_KEY_ID and RAZORPAY_KEY_SECRET"), "{text}");
    assert!(text.contains("No payments provider is configured at all."), "{text}");
    let text = invoices_from(&r, None, Some((IdKind::Invoice, ST_INVOICE))).unwrap_err();
    assert!(text.starts_with("Stripe is not configured") && text.contains("STRIPE_API_KEY"), "{text}");
    let text = r.crm().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(text.contains("HUBSPOT_ACCESS_TOKEN") && text.contains("crm.objects.contacts.read"), "{text}");
    assert!(!text.contains("payments provider"), "no other provider could serve the CRM: {text}");
}

#[test]
fn with_two_configured_and_no_default_the_sentence_says_which_to_pass() {
    let r = registry(&both());
    let text = invoices_from(&r, None, None).unwrap_err();
    assert_eq!(
        text,
        "Both Razorpay and Stripe are configured and no default is set: pass provider (\"razorpay\" or \"stripe\")."
    );
    assert_eq!(r.configured(), [ProviderId::Razorpay, ProviderId::Stripe]);
}

#[test]
fn a_named_provider_that_is_not_configured_says_what_to_set_and_what_is() {
    let r = registry(STRIPE);
    let text = links_from(&r, Some(ProviderId::Razorpay), None).unwrap_err();
    assert!(text.starts_with("Razorpay is not configured") && text.contains("RAZORPAY_KEY_SECRET"), "{text}");
    assert!(text.ends_with(" Configured now: stripe."), "{text}");
}

#[test]
fn an_id_chooses_its_provider_and_a_name_contradicting_it_is_an_argument_error() {
    let r = registry(&[both(), vec![("SWITCHBOARD_DEFAULT_PROVIDER", "stripe")]].concat());
    assert_eq!(invoices_from(&r, None, Some((IdKind::Invoice, RZ_INVOICE))), Ok(ProviderId::Razorpay));
    assert_eq!(invoices_from(&r, None, Some((IdKind::Customer, "cust_JQpyvXbT2LbnQ3"))), Ok(ProviderId::Razorpay));
    assert_eq!(invoices_from(&r, None, None), Ok(ProviderId::Stripe), "the default");
    let err = r.invoices(Some(ProviderId::Stripe), Some((IdKind::Invoice, RZ_INVOICE))).err().unwrap();
    assert!(matches!(err, Unserved::Mismatch { named: ProviderId::Stripe, owner: ProviderId::Razorpay }));
    assert_eq!(
        err.to_string(),
        "provider is 'stripe' but the id belongs to Razorpay; drop provider or use a Stripe id"
    );
}

#[test]
fn a_payment_link_id_only_chooses_between_configured_providers() {
    let r = registry(&both());
    assert_eq!(links_from(&r, None, Some((IdKind::PaymentLink, RZ_LINK))), Ok(ProviderId::Razorpay));
    assert_eq!(links_from(&r, None, Some((IdKind::PaymentLink, ST_LINK))), Ok(ProviderId::Stripe));
    assert_eq!(
        links_from(&r, Some(ProviderId::Razorpay), Some((IdKind::PaymentLink, ST_LINK))),
        Ok(ProviderId::Razorpay)
    );
    let only_razorpay = registry(RAZORPAY);
    assert_eq!(links_from(&only_razorpay, None, Some((IdKind::PaymentLink, ST_LINK))), Ok(ProviderId::Razorpay));
}

#[test]
fn customer_ids_are_known_by_shape() {
    let r = registry(&[]);
    assert!(r.is_known_id(IdKind::Customer, "cus_QkHRp2nX8bE3a1"));
    assert!(!r.is_known_id(IdKind::Customer, "cst_123"));
    assert_eq!(r.id_shapes(IdKind::Customer), "cust_… for Razorpay, cus_… for Stripe");
    assert!(r.check_id(ProviderId::Razorpay, IdKind::Invoice, "invoice_id", ST_INVOICE).is_err());
}
