use super::*;
use crate::config::Config;
use crate::domain::event::{Correlation, EventKind};

const SECRET: &str = "whsec_CANARYinspectorsecret42";

fn inspector() -> Inspector {
    let env = |key: &str| match key {
        "STRIPE_WEBHOOK_SECRET" => Some(SECRET.to_string()),
        "SWITCHBOARD_DATA_DIR" => Some("/nonexistent/switchboard-inspector-tests".to_string()),
        _ => None,
    };
    let config = Config::load_with(None, &env).unwrap();
    Inspector::new(Arc::new(Redactor::from_config(&config)))
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
    map
}

fn forged(inspector: &Inspector, body: &str) {
    let h = headers(&[("x-razorpay-signature", &"ab".repeat(32)), ("content-type", "application/json")]);
    let why = Rejection::BadSignature("no signature matched any configured secret".into());
    inspector.record(
        "razorpay",
        &h,
        StatusCode::UNAUTHORIZED,
        Received::rejected(why, Some(Bytes::from(body.to_string()))),
    );
}

fn stored(inspector: &Inspector, link: &str) {
    let event = EventSeen {
        seq: Some(7),
        stored: EventStored::New,
        kind: EventKind::PaymentLinkPaid,
        event_type: "payment_link.paid".into(),
        provider_event_id: "evt_1".into(),
        correlation: Correlation { payment_link_id: Some(link.into()), ..Default::default() },
    };
    let received = Received {
        outcome: Outcome::Stored,
        body: Some(Bytes::from_static(b"{\"event\":\"payment_link.paid\"}")),
        events: vec![event],
    };
    inspector.record("razorpay", &HeaderMap::new(), StatusCode::OK, received);
}

#[test]
fn signature_and_credential_headers_are_kept_redacted_and_secrets_masked_everywhere() {
    let inspector = inspector();
    let h = headers(&[
        ("stripe-signature", "t=1,v1=deadbeef"),
        ("x-hub-signature-256", "sha256=deadbeef"),
        ("webhook-signature", "v1,abc"),
        ("x-hubspot-signature-v3", "abc"),
        ("authorization", "Basic dXNlcjpwYXNz"),
        ("cookie", "session=abc"),
        ("x-forwarded-note", &format!("secret is {SECRET}")),
        ("user-agent", "Stripe/1.0"),
    ]);
    let body = format!("{{\"note\":\"{SECRET}\"}}");
    let why = Rejection::BadSignature("no signature matched any configured secret".into());
    inspector.record("stripe", &h, StatusCode::UNAUTHORIZED, Received::rejected(why, Some(Bytes::from(body))));
    let kept = inspector.get(1).unwrap();
    let value = |name: &str| kept.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap();
    for name in [
        "stripe-signature",
        "x-hub-signature-256",
        "webhook-signature",
        "x-hubspot-signature-v3",
        "authorization",
        "cookie",
    ] {
        assert_eq!(value(name), REDACTED, "{name}");
    }
    assert_eq!(value("x-forwarded-note"), "secret is [REDACTED]");
    assert_eq!(value("user-agent"), "Stripe/1.0");
    assert_eq!(kept.payload, "{\"note\":\"[REDACTED]\"}");
    assert!(!format!("{kept:?}").contains(SECRET));
    assert!(!format!("{kept:?}").contains("deadbeef"));
}

#[test]
fn a_secret_split_by_the_payload_cut_is_not_shown_in_part() {
    let inspector = inspector();
    // The secret starts a few bytes before the cut: cutting first and masking after would keep its start.
    let body = format!("{}{SECRET}{}", "x".repeat(REJECTED_PAYLOAD_BYTES - 6), "y".repeat(100));
    forged(&inspector, &body);
    let kept = inspector.get(1).unwrap();
    assert!(kept.payload_cut);
    assert!(kept.payload.len() <= REJECTED_PAYLOAD_BYTES);
    assert!(!kept.payload.contains(&SECRET[..6]), "{}", &kept.payload[kept.payload.len() - 20..]);
}

#[test]
fn ten_thousand_forged_deliveries_keep_the_ring_bounded_and_the_genuine_one() {
    let inspector = inspector();
    stored(&inspector, "plink_genuine");
    let one_stored = inspector.retained_bytes();
    let body = format!("{{\"event\":\"payment_link.paid\",\"pad\":\"{}\"}}", "z".repeat(4000));
    forged(&inspector, &body);
    let one_forged = inspector.retained_bytes() - one_stored;
    for _ in 0..10_000 {
        forged(&inspector, &body);
    }
    let after = inspector.retained_bytes();
    assert_eq!(inspector.len(), (1, REJECTED_KEPT));
    // Every refused attempt holds what one does: the ring's bytes are its length times that, whatever the flood.
    assert_eq!(after, one_stored + REJECTED_KEPT * one_forged);
    assert!(one_forged <= REJECTED_PAYLOAD_BYTES + HEADER_BYTES + 1024, "{one_forged} bytes per forged attempt");
    println!(
        "inspector ring: 1 stored {one_stored} B; +1 forged {one_forged} B; after 10,001 forged {after} B ({} KiB)",
        after / 1024
    );
    // The genuine delivery was not pushed out by the flood.
    let genuine = inspector.recent(&Filter { key: Some("PLINK_GENUINE".into()), ..Default::default() }, 10);
    assert_eq!(genuine.len(), 1);
    assert_eq!(genuine[0].outcome, Outcome::Stored);
    assert_eq!(inspector.get(10_002).map(|a| a.outcome.as_str()), Some("bad_signature"));
    assert!(inspector.get(2).is_none(), "the oldest forged attempt was pushed out");
}

#[test]
fn filters_match_source_outcome_and_key() {
    let inspector = inspector();
    stored(&inspector, "plink_A");
    forged(&inspector, "{\"payload\":{\"payment_link\":{\"entity\":{\"id\":\"plink_B\"}}}}");
    let find = |source: Option<&str>, outcome: Option<&str>, key: Option<&str>| {
        let filter =
            Filter { source: source.map(String::from), outcome: outcome.map(String::from), key: key.map(String::from) };
        inspector.recent(&filter, 10).iter().map(|a| a.id).collect::<Vec<_>>()
    };
    assert_eq!(find(None, None, None), vec![2, 1], "newest first");
    assert_eq!(find(Some("razorpay"), None, None), vec![2, 1]);
    assert_eq!(find(Some("stripe"), None, None), Vec::<u64>::new());
    assert_eq!(find(None, Some("rejected"), None), vec![2]);
    assert_eq!(find(None, Some("bad_signature"), None), vec![2]);
    assert_eq!(find(None, Some("stale"), None), Vec::<u64>::new());
    assert_eq!(find(None, Some("stored"), None), vec![1]);
    assert_eq!(find(None, None, Some("plink_a")), vec![1], "an event's key, any case");
    assert_eq!(find(None, None, Some("plink_B")), vec![2], "a refused attempt's payload");
    assert_eq!(find(None, None, Some(" ")), vec![2, 1], "a blank key is no filter");
}

#[test]
fn a_verified_delivery_is_stored_duplicate_or_a_storage_failure_by_its_events() {
    let event = |stored| EventSeen {
        seq: (stored == EventStored::New).then_some(3),
        stored,
        kind: EventKind::Other,
        event_type: "x".into(),
        provider_event_id: "evt".into(),
        correlation: Correlation::default(),
    };
    let outcome =
        |stored: &[EventStored]| Received::verified(Bytes::new(), stored.iter().map(|s| event(*s)).collect()).outcome;
    assert_eq!(outcome(&[]), Outcome::Stored, "verified, with no events in it");
    assert_eq!(outcome(&[EventStored::Duplicate, EventStored::New]), Outcome::Stored);
    assert_eq!(outcome(&[EventStored::Duplicate, EventStored::Duplicate]), Outcome::Duplicate);
    let failed = outcome(&[EventStored::New, EventStored::Failed]);
    assert_eq!(failed, Outcome::Rejected(Rejection::StorageFailure));
    assert!(failed.verified(), "a storage failure is kept with the verified attempts");
}
