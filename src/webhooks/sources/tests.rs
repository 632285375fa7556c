//! Each format: the kind, amount and keys it reads from a real delivery, and the dedupe keys it assigns.

use super::*;
use crate::domain::event::EventKind;
use crate::webhooks::verify::{DEFAULT_TOLERANCE_SECS, Delivery, Verifier, sign};
use crate::webhooks::{Format, Scheme};
use bytes::Bytes;
use secrecy::SecretString;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW: i64 = 1_800_000_000;

fn verified(scheme: Scheme, body: &str, id: &str) -> Delivery<Verified> {
    let mut headers = http::HeaderMap::new();
    for (k, v) in sign(scheme, SECRET, body.as_bytes(), NOW, id) {
        headers.insert(k, v.parse().unwrap());
    }
    let verifier = Verifier {
        scheme,
        secrets: vec![SecretString::from(SECRET.to_string())],
        tolerance_secs: DEFAULT_TOLERANCE_SECS,
    };
    Delivery::new("src", headers, Bytes::from(body.to_string())).verify(&verifier, NOW).unwrap()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn a_razorpay_link_payment_is_a_paid_link_with_its_payment_amount() {
    let body = fixture("razorpay/webhook_payment_link_paid.json");
    let events = extract(&verified(Scheme::Razorpay, &body, "evt_1"), Format::Razorpay);
    let [e] = events.as_slice() else { panic!("one event expected, got {events:?}") };
    assert_eq!(
        (e.kind(), e.event_type(), e.provider_event_id()),
        (EventKind::PaymentLinkPaid, "payment_link.paid", "evt_1")
    );
    let amount = e.amount().unwrap();
    assert_eq!((amount.minor_units(), amount.currency().code()), (4500000, "INR"));
    assert_eq!(e.correlation().payment_link_id.as_deref(), Some("plink_SCx4Lm8QwErT2y"));
    // Razorpay's event id header is not signed: the body's hash is a second dedupe key.
    assert_eq!(e.body_key().map(str::len), Some(64));
}

#[test]
fn razorpay_event_names_map_to_kinds() {
    for (name, kind) in [
        ("payment.captured", EventKind::PaymentSucceeded),
        ("order.paid", EventKind::PaymentSucceeded),
        ("payment.failed", EventKind::PaymentFailed),
        ("payment_link.partially_paid", EventKind::PaymentLinkPartiallyPaid),
        ("payment_link.expired", EventKind::PaymentLinkExpired),
        ("payment_link.cancelled", EventKind::PaymentLinkCancelled),
        ("refund.created", EventKind::Other),
    ] {
        let body = format!(r#"{{"event":"{name}","payload":{{}}}}"#);
        let events = extract(&verified(Scheme::Razorpay, &body, "evt_1"), Format::Razorpay);
        assert_eq!(events[0].kind(), kind, "{name}");
    }
}

#[test]
fn a_stripe_checkout_counts_as_paid_only_once_its_payment_settled() {
    let session = |status: &str, link: &str| {
        format!(
            r#"{{"id":"evt_9","type":"checkout.session.completed","created":1795426810,"data":{{"object":{{"object":"checkout.session","payment_status":"{status}","payment_link":{link},"amount_total":29995,"currency":"usd","payment_intent":"pi_1"}}}}}}"#
        )
    };
    let kind_of = |body: String| {
        let events = extract(&verified(Scheme::Stripe, &body, ""), Format::Stripe);
        (events[0].kind(), events[0].amount().map(|m| m.minor_units()), events[0].provider_event_id().to_string())
    };
    assert_eq!(kind_of(session("unpaid", "null")), (EventKind::Other, None, "evt_9".into()));
    assert_eq!(kind_of(session("paid", "null")), (EventKind::PaymentSucceeded, Some(29995), "evt_9".into()));
    assert_eq!(kind_of(session("paid", r#""plink_1""#)), (EventKind::PaymentLinkPaid, Some(29995), "evt_9".into()));
}

#[test]
fn a_generic_source_stores_anything_as_other_without_a_body_key_when_its_id_is_signed() {
    let events = extract(&verified(Scheme::StandardWebhooks, r#"{"type":"user.created"}"#, "msg_1"), Format::Generic);
    let [e] = events.as_slice() else { panic!("one event expected") };
    assert_eq!((e.kind(), e.event_type(), e.provider_event_id()), (EventKind::Other, "user.created", "msg_1"));
    assert_eq!(e.body_key(), None);
    let not_json = extract(&verified(Scheme::HubSignature256, "not json", "gh_1"), Format::Generic);
    assert_eq!((not_json[0].event_type(), not_json[0].body_key().is_some()), ("unknown", true));
}
