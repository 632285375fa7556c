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

#[test]
fn a_whatsapp_batch_is_one_event_per_message_and_status_with_its_keys() {
    let body = fixture("whatsapp/v4_batch.json");
    let events = extract(&verified(Scheme::HubSignature256, &body, ""), Format::WhatsApp);
    let seen: Vec<_> = events
        .iter()
        .map(|e| (e.kind(), e.event_type(), e.provider_event_id(), e.correlation().reply_to.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            (EventKind::MessageReceived, "message.text", "wamid.TEST4A", None),
            (EventKind::MessageReceived, "message.text", "wamid.TEST4B", Some("wamid.TEST4OUT")),
            (EventKind::MessageRead, "status.read", "wamid.TEST4OUT:read", None),
        ]
    );
    for e in &events {
        assert_eq!(e.correlation().customer_phone.as_deref(), Some("+16505551234"));
    }
    assert_eq!(events[0].occurred_at(), Some(1_749_416_500));
    assert_eq!(events[2].correlation().message_id.as_deref(), Some("wamid.TEST4OUT"), "our message, for its status");
}

#[test]
fn whatsapp_statuses_map_to_kinds_and_other_fields_are_kept_as_other() {
    let failed =
        extract(&verified(Scheme::HubSignature256, &fixture("whatsapp/v2_failed_status.json"), ""), Format::WhatsApp);
    assert_eq!(
        (failed[0].kind(), failed[0].provider_event_id()),
        (EventKind::MessageFailed, "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA:failed")
    );
    for (status, kind) in [
        ("sent", EventKind::MessageSent),
        ("delivered", EventKind::MessageDelivered),
        ("read", EventKind::MessageRead),
        ("played", EventKind::MessageRead),
        ("deleted", EventKind::Other),
    ] {
        let body = format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"changes":[{{"field":"messages","value":{{"statuses":[{{"id":"wamid.X","status":"{status}","timestamp":"1","recipient_id":"919820012345","biz_opaque_callback_data":"sb_wa_1"}}]}}}}]}}]}}"#
        );
        let events = extract(&verified(Scheme::HubSignature256, &body, ""), Format::WhatsApp);
        assert_eq!(events[0].kind(), kind, "{status}");
        assert_eq!(events[0].correlation().reference_id.as_deref(), Some("sb_wa_1"), "our send's ledger key");
    }
    let template_update = r#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"message_template_status_update","value":{"event":"APPROVED"}}]}]}"#;
    let events = extract(&verified(Scheme::HubSignature256, template_update, ""), Format::WhatsApp);
    assert_eq!(
        (events.len(), events[0].kind(), events[0].event_type()),
        (1, EventKind::Other, "whatsapp.message_template_status_update")
    );
    let not_json = extract(&verified(Scheme::HubSignature256, "not json", ""), Format::WhatsApp);
    assert_eq!((not_json.len(), not_json[0].kind()), (1, EventKind::Other), "never a failure");
}
