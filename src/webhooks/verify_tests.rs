//! Official test vectors for every scheme, then a table of forgeries each scheme must refuse.

use super::*;

fn verifier(scheme: Scheme, secrets: &[&str]) -> Verifier {
    Verifier {
        scheme,
        secrets: secrets.iter().map(|s| SecretString::from(s.to_string())).collect(),
        tolerance_secs: DEFAULT_TOLERANCE_SECS,
    }
}

fn delivery(headers: &[(&str, &str)], body: &[u8]) -> Delivery<Unverified> {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
    }
    Delivery::new("test", map, Bytes::copy_from_slice(body))
}

/// Standard Webhooks spec test vectors (libraries/python and libraries/rust tests).
#[test]
fn standard_webhooks_official_vectors_verify() {
    let cases = [
        (
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            r#"{"test": 2432232314}"#,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
        (
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            "1649367553",
            r#"{"email":"test@example.com","username":"test_user"}"#,
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
        ),
    ];
    for (secret, id, ts, body, signature) in cases {
        let t: i64 = ts.parse().unwrap();
        let d = delivery(
            &[("webhook-id", id), ("webhook-timestamp", ts), ("webhook-signature", signature)],
            body.as_bytes(),
        );
        let verified = d.verify(&verifier(Scheme::StandardWebhooks, &[secret]), t + 10).unwrap();
        assert_eq!(verified.event_id(), Some(id));
        assert_eq!(sign(Scheme::StandardWebhooks, secret, body.as_bytes(), t, id)[2].1, signature);
    }
    // Several signatures (rotation): unknown versions and wrong ones are skipped, any valid v1 passes.
    let multi = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= \
                 v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    let d = delivery(
        &[
            ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", multi),
        ],
        br#"{"test": 2432232314}"#,
    );
    assert!(
        d.verify(&verifier(Scheme::StandardWebhooks, &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]), 1614265330).is_ok()
    );
}

/// stripe-dotnet EventUtilityTest fixed vector (payload file with its trailing newline).
const STRIPE_PAYLOAD: &str = "{\n  \"id\": \"evt_123\",\n  \"object\": \"event\",\n  \"account\": \"acct_123\",\n  \"api_version\": \"2017-05-25\",\n  \"created\": 1533204620,\n  \"data\": {\n    \"object\": {\n      \"id\": \"cus_123\",\n      \"object\": \"customer\",\n      \"created\": 123456789,\n      \"email\": \"test@stripe.com\",\n      \"livemode\": false,\n      \"metadata\": {}\n    }\n  },\n  \"livemode\": false,\n  \"pending_webhooks\": 1,\n  \"request\": {\n    \"id\": \"req_123\",\n    \"idempotency_key\": \"idempotency-key-123\"\n  },\n  \"type\": \"customer.created\"\n}\n";
const STRIPE_HEADER: &str = "t=1533204620,v1=2220f87ef101a04665f11cdf770523143f875572008577fa0f20882ddb9cc3c7,v0=63f3a72374a733066c4be69ed7f8e5ac85c22c9f0a6a612ab9a025a9e4ee7eef";

#[test]
fn stripe_official_vector_verifies_within_tolerance_only() {
    let v = verifier(Scheme::Stripe, &["webhook_secret"]);
    let ok = delivery(&[("stripe-signature", STRIPE_HEADER)], STRIPE_PAYLOAD.as_bytes()).verify(&v, 1533204620 + 100);
    assert_eq!(ok.unwrap().event_id(), Some("evt_123"));
    let late = delivery(&[("stripe-signature", STRIPE_HEADER)], STRIPE_PAYLOAD.as_bytes()).verify(&v, 1533204620 + 400);
    assert_eq!(late.unwrap_err(), VerifyError::StaleTimestamp);
    // An extra bogus v1 alongside the valid one (a secret roll) still passes.
    let rolled = format!("{STRIPE_HEADER},v1=deadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef");
    assert!(delivery(&[("stripe-signature", &rolled)], STRIPE_PAYLOAD.as_bytes()).verify(&v, 1533204620).is_ok());
    // v0 alone is not accepted.
    let v0_only = "t=1533204620,v0=63f3a72374a733066c4be69ed7f8e5ac85c22c9f0a6a612ab9a025a9e4ee7eef";
    assert!(delivery(&[("stripe-signature", v0_only)], STRIPE_PAYLOAD.as_bytes()).verify(&v, 1533204620).is_err());
    for malformed in ["t=,v1=abc", "t,v1=,v0=", "t,v1=,v0", "t,v1=,", "t,,", ",,", "t"] {
        let d = delivery(&[("stripe-signature", malformed)], STRIPE_PAYLOAD.as_bytes());
        assert!(d.verify(&v, 1533204620).is_err(), "{malformed}");
    }
}

/// razorpay-go / razorpay-node webhook vectors.
#[test]
fn razorpay_official_vectors_verify() {
    let rz1 = r##"{"entity":"event","account_id":"acc_HVFD0PFnHPAzKj","event":"payment.authorized","contains":["payment"],"payload":{"payment":{"entity":{"id":"pay_JUEM4c0pSLpFEW","entity":"payment","amount":12300,"currency":"INR","status":"authorized","order_id":"order_JUELuT6cFaHkvd","invoice_id":null,"international":false,"method":"netbanking","amount_refunded":0,"refund_status":null,"captured":false,"description":"#JUELZ1z1EC0pwi","card_id":null,"bank":"SBIN","wallet":null,"vpa":null,"email":"prathmesh.bijjargi@razorpay.com","contact":"+917411714931","notes":[],"fee":null,"tax":null,"error_code":null,"error_description":null,"error_source":null,"error_step":null,"error_reason":null,"acquirer_data":{"bank_transaction_id":"6416615"},"created_at":1652339804}}},"created_at":1652339806}"##;
    let cases = [
        (rz1, "ea962f3a2a8090aa14ef10fc178306edcb46ee7ccadae8afe2275cda26f3d2a6"),
        (r#"{"a":1,"b":2,"c":{"d":3}}"#, "2fe04e22977002e6c7cb553adab8b460cb9e2a4970d5953cb27a8472752e3bbc"),
    ];
    let v = verifier(Scheme::Razorpay, &["123456"]);
    for (body, signature) in cases {
        let d = delivery(&[("x-razorpay-signature", signature), ("x-razorpay-event-id", "evt_1")], body.as_bytes());
        assert_eq!(d.verify(&v, 0).unwrap().event_id(), Some("evt_1"));
        assert_eq!(sign(Scheme::Razorpay, "123456", body.as_bytes(), 0, "evt_1")[0].1, signature);
    }
    let d = delivery(&[("x-razorpay-signature", "sdfafds")], br#"{"a":1,"b":2,"c":{"d":3}}"#);
    assert!(d.verify(&v, 0).is_err());
}

/// GitHub's documented example for X-Hub-Signature-256.
#[test]
fn hub_signature_official_vector_verifies() {
    let v = verifier(Scheme::HubSignature256, &["It's a Secret to Everybody"]);
    let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert!(delivery(&[("x-hub-signature-256", header)], b"Hello, World!").verify(&v, 0).is_ok());
}

fn whatsapp_vector(name: &str) -> (Vec<u8>, String) {
    let dir = format!("{}/tests/fixtures/whatsapp", env!("CARGO_MANIFEST_DIR"));
    let body = std::fs::read(format!("{dir}/{name}.json")).unwrap();
    (body, std::fs::read_to_string(format!("{dir}/{name}.sig")).unwrap().trim().to_string())
}

const WHATSAPP_APP_SECRET: &str = "switchboard-test-app-secret";

/// The WhatsApp vectors (`whatsapp.md` §10: two of Meta's own samples, escaped unicode, a batch) verify with the
/// App Secret on the bytes as sent; Meta's negative cases and the usual forgeries are refused.
#[test]
fn whatsapp_vectors_verify_and_forgeries_are_refused() {
    let v = verifier(Scheme::HubSignature256, &[WHATSAPP_APP_SECRET]);
    let check = |header: Option<&str>, body: &[u8]| {
        let headers: Vec<(&str, &str)> = header.map(|h| ("x-hub-signature-256", h)).into_iter().collect();
        delivery(&headers, body).verify(&v, 0)
    };
    for name in ["v1_text_message", "v2_failed_status", "v3_escaped_unicode", "v4_batch"] {
        let (body, signature) = whatsapp_vector(name);
        assert!(check(Some(&signature), &body).is_ok(), "{name}");
    }
    let (body, signature) = whatsapp_vector("v1_text_message");
    let (v3, v3_signature) = whatsapp_vector("v3_escaped_unicode");
    // V3 parsed and written back as UTF-8 is other bytes: never re-serialise before verifying.
    let reserialised = serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&v3).unwrap()).unwrap();
    assert_ne!(reserialised, v3);
    let pretty = serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(&body).unwrap()).unwrap();
    let mut tampered = body.clone();
    tampered[200] ^= 1;
    let bare_hex = signature.trim_start_matches("sha256=").to_string();
    let truncated = &signature[..signature.len() - 2];
    // Signed with the verify token instead of the App Secret (whatsapp.md §10's negative vector).
    let with_verify_token = "sha256=a0dea4122f4674f49e2a7a6c7efa97516860ae6b742b0ff497aa5fff5c0e4514";
    let wrong_secret = hex::encode(hmac_sha256(b"another-app-secret", &body));
    let wrong_secret = format!("sha256={wrong_secret}");
    let cases: [(&str, Option<&str>, &[u8]); 8] = [
        ("re-serialised V3", Some(&v3_signature), &reserialised),
        ("pretty-printed body", Some(&signature), &pretty),
        ("tampered body", Some(&signature), &tampered),
        ("wrong secret", Some(&wrong_secret), &body),
        ("verify token as the key", Some(with_verify_token), &body),
        ("missing header", None, &body),
        ("bare hex without sha256=", Some(&bare_hex), &body),
        ("truncated digest", Some(truncated), &body),
    ];
    for (case, header, body) in cases {
        assert!(check(header, body).is_err(), "{case} must be refused");
    }
}

fn hmac_sha256(key: &[u8], body: &[u8]) -> Vec<u8> {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Every scheme refuses: a tampered body, a wrong secret, a missing header, a malformed header and (where a
/// timestamp is signed) a stale or future one; and accepts a delivery signed by an older rotated secret.
#[test]
fn forgeries_are_refused_by_every_scheme() {
    let now = 1_800_000_000;
    let body = br#"{"event":"payment.captured","id":"evt_9"}"#;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    for scheme in [Scheme::Razorpay, Scheme::Stripe, Scheme::StandardWebhooks, Scheme::HubSignature256] {
        let signed = |body: &[u8], secret: &str, t: i64| sign(scheme, secret, body, t, "msg_1");
        let check = |headers: Vec<(&'static str, String)>, body: &[u8]| {
            let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            delivery(&pairs, body).verify(&verifier(scheme, &["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", secret]), now)
        };
        assert!(check(signed(body, secret, now), body).is_ok(), "{scheme:?}: valid (rotated secret)");
        assert_eq!(
            check(signed(body, secret, now), b"{\"event\":\"payment.captured\",\"id\":\"evt_X\"}").unwrap_err(),
            VerifyError::NoMatch,
            "{scheme:?}: tampered"
        );
        assert_eq!(
            check(signed(body, "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", now), body).unwrap_err(),
            VerifyError::NoMatch,
            "{scheme:?}: wrong secret"
        );
        let mut missing = signed(body, secret, now);
        let signature_header = missing.iter().position(|(k, _)| k.contains("signature")).unwrap();
        missing.remove(signature_header);
        assert!(matches!(check(missing, body).unwrap_err(), VerifyError::MissingHeader(_)), "{scheme:?}: missing");
        let mut malformed = signed(body, secret, now);
        malformed[signature_header].1 = "zz-not-a-signature".into();
        assert!(check(malformed, body).is_err(), "{scheme:?}: malformed");
        if matches!(scheme, Scheme::Stripe | Scheme::StandardWebhooks) {
            for skew in [-(DEFAULT_TOLERANCE_SECS + 1), DEFAULT_TOLERANCE_SECS + 1] {
                let err = check(signed(body, secret, now + skew), body).unwrap_err();
                assert_eq!(err, VerifyError::StaleTimestamp, "{scheme:?}: skew {skew}");
            }
            for skew in [-DEFAULT_TOLERANCE_SECS, DEFAULT_TOLERANCE_SECS] {
                assert!(check(signed(body, secret, now + skew), body).is_ok(), "{scheme:?}: boundary {skew}");
            }
        }
    }
}

#[test]
fn no_secret_configured_refuses_everything() {
    let d = delivery(&[("x-razorpay-signature", "00")], b"{}");
    assert_eq!(d.verify(&verifier(Scheme::Razorpay, &[]), 0).unwrap_err(), VerifyError::NoSecret);
}

/// A 1 MiB body and a signature header of 10,000 entries: `(scheme, header name, header value)`.
fn amplification_attempts(now: i64) -> Vec<(Scheme, &'static str, String)> {
    vec![
        (Scheme::Stripe, "stripe-signature", format!("t={now}{}", ",v1=".repeat(10_000))),
        (Scheme::Stripe, "stripe-signature", format!("t={now}{}", format!(",v1={}", "ab".repeat(32)).repeat(10_000))),
        (Scheme::StandardWebhooks, "webhook-signature", "v1, ".repeat(10_000)),
        (Scheme::StandardWebhooks, "webhook-signature", format!("v1,{} ", BASE64.encode([7u8; 32])).repeat(10_000)),
    ]
}

/// One HMAC-SHA256 of `body`, the cost of checking one signature entry (the fastest of three, to be fair to a
/// loaded machine).
fn one_mac(body: &[u8]) -> std::time::Duration {
    use hmac::{Hmac, Mac};
    (0..3)
        .map(|_| {
            let started = std::time::Instant::now();
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"whsec_key").unwrap();
            mac.update(body);
            std::hint::black_box(mac.finalize());
            started.elapsed()
        })
        .min()
        .unwrap()
}

/// Thousands of signature entries must not cost an HMAC of the whole body each: such headers are refused on
/// their shape, before any MAC is computed. Bounded against one MAC measured in the same run (10,000 MACs would
/// cost 10,000 of them), so a loaded machine cannot fail it; 50 ms is the floor.
#[test]
fn ten_thousand_signature_entries_on_a_mebibyte_are_refused_at_once() {
    let now = 1_800_000_000;
    let body = vec![b'x'; 1 << 20];
    let bound = (one_mac(&body) * 10).max(std::time::Duration::from_millis(50));
    for (scheme, name, value) in amplification_attempts(now) {
        let mut headers = vec![(name, value.as_str())];
        let ts = now.to_string();
        if scheme == Scheme::StandardWebhooks {
            headers.extend([("webhook-id", "msg_1"), ("webhook-timestamp", ts.as_str())]);
        }
        let started = std::time::Instant::now();
        let result =
            delivery(&headers, &body).verify(&verifier(scheme, &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]), now);
        let took = started.elapsed();
        assert_eq!(result.unwrap_err(), VerifyError::MalformedHeader(name), "{scheme:?}");
        assert!(took < bound, "{scheme:?}: took {took:?}, more than ten MACs of the body ({bound:?})");
    }
}

/// The timestamp is checked before the MAC: a stale delivery costs no hashing, whatever its signature.
#[test]
fn a_stale_timestamp_is_refused_before_the_signature_is_checked() {
    let now = 1_800_000_000;
    let body = br#"{"id":"evt_1"}"#;
    let stale = now - DEFAULT_TOLERANCE_SECS - 1;
    let wrong = "ab".repeat(32);
    let stripe = format!("t={stale},v1={wrong}");
    let d = delivery(&[("stripe-signature", stripe.as_str())], body);
    assert_eq!(d.verify(&verifier(Scheme::Stripe, &["whsec_x"]), now).unwrap_err(), VerifyError::StaleTimestamp);
    let ts = stale.to_string();
    let sig = format!("v1,{}", BASE64.encode([1u8; 32]));
    let d = delivery(&[("webhook-id", "msg_1"), ("webhook-timestamp", &ts), ("webhook-signature", &sig)], body);
    let v = verifier(Scheme::StandardWebhooks, &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]);
    assert_eq!(d.verify(&v, now).unwrap_err(), VerifyError::StaleTimestamp);
}

/// Candidates that are not a well-formed SHA-256 digest (wrong length, not hex) are not compared at all, and a
/// header holding only such candidates is malformed.
#[test]
fn signatures_that_are_not_a_digest_are_malformed() {
    let body = b"Hello, World!";
    let v = verifier(Scheme::HubSignature256, &["It's a Secret to Everybody"]);
    for bad in
        ["sha256=", "sha256=757107ea", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1700"]
    {
        let d = delivery(&[("x-hub-signature-256", bad)], body);
        assert_eq!(d.verify(&v, 0).unwrap_err(), VerifyError::MalformedHeader("x-hub-signature-256"), "{bad}");
    }
    let v = verifier(Scheme::Stripe, &["webhook_secret"]);
    for bad in ["t=1533204620,v1=", "t=1533204620,v1=abcd", "t=1533204620,v1=zz"] {
        let d = delivery(&[("stripe-signature", bad)], STRIPE_PAYLOAD.as_bytes());
        assert_eq!(d.verify(&v, 1533204620).unwrap_err(), VerifyError::MalformedHeader("stripe-signature"), "{bad}");
    }
}

/// A correctly signed timestamp at the far ends of `i64` is stale, not accepted through a wrapped subtraction.
#[test]
fn timestamps_at_the_ends_of_i64_are_stale() {
    let now = 1_800_000_000_i64;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let body = br#"{"id":"evt_1"}"#;
    for t in [now.wrapping_sub(i64::MIN), i64::MIN, i64::MIN + 1, i64::MAX] {
        for scheme in [Scheme::Stripe, Scheme::StandardWebhooks] {
            let headers = sign(scheme, secret, body, t, "msg_1");
            let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let result = delivery(&pairs, body).verify(&verifier(scheme, &[secret]), now);
            assert_eq!(result.unwrap_err(), VerifyError::StaleTimestamp, "{scheme:?} t={t}");
        }
    }
}
