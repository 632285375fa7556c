//! Micro benchmarks (criterion): webhook signature verification per scheme, on the raw bytes of a real-sized
//! delivery (the Razorpay `payment_link.paid` fixture, 1.8 KB). `benches/table` reads the results back into
//! the performance table, so this target runs first (`cargo bench` runs bench targets in name order).

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderName, HeaderValue};
use secrecy::SecretString;
use std::hint::black_box;
use std::time::Duration;
use switchboard::webhooks::verify::{DEFAULT_TOLERANCE_SECS, sign};
use switchboard::webhooks::{Delivery, Format, Scheme, Verifier};

/// The schemes and the directory name criterion stores each under (`target/criterion/verify/<name>`).
pub const SCHEMES: [(Scheme, &str, &str); 4] = [
    (Scheme::Razorpay, "razorpay", "bench-razorpay-webhook-secret"),
    (Scheme::Stripe, "stripe", "whsec_benchstripewebhooksecret"),
    (Scheme::StandardWebhooks, "standard_webhooks", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    (Scheme::HubSignature256, "hub_signature_256", "bench-hub-secret"),
];

const NOW: i64 = 1_795_425_610;

fn body() -> Bytes {
    Bytes::from_static(include_bytes!("../tests/fixtures/razorpay/webhook_payment_link_paid.json"))
}

fn signed_headers(scheme: Scheme, secret: &str, body: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in sign(scheme, secret, body, NOW, "evt_bench_0001") {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    headers
}

fn verify(c: &mut Criterion) {
    let body = body();
    let mut group = c.benchmark_group("verify");
    for (scheme, name, secret) in SCHEMES {
        let verifier = Verifier {
            scheme,
            secrets: vec![SecretString::from(secret.to_string())],
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
        };
        let headers = signed_headers(scheme, secret, &body);
        // Sanity: a benchmark of a refusal would measure the wrong thing.
        if Delivery::new(name, headers.clone(), body.clone()).verify(&verifier, NOW).is_err() {
            eprintln!("verify/{name}: the signed fixture does not verify; skipping");
            continue;
        }
        group.bench_function(name, |b| {
            b.iter_batched(
                || Delivery::new(name, headers.clone(), body.clone()),
                |delivery| black_box(delivery.verify(&verifier, black_box(NOW)).is_ok()),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();

    // What the receiver does next with a verified delivery: parse it for the event log's correlation keys.
    let (scheme, name, secret) = SCHEMES[0];
    let verifier = Verifier {
        scheme,
        secrets: vec![SecretString::from(secret.to_string())],
        tolerance_secs: DEFAULT_TOLERANCE_SECS,
    };
    if let Ok(verified) =
        Delivery::new(name, signed_headers(scheme, secret, &body), body.clone()).verify(&verifier, NOW)
    {
        let mut group = c.benchmark_group("extract");
        group.bench_function("razorpay", |b| {
            b.iter(|| black_box(switchboard::webhooks::sources::extract(black_box(&verified), Format::Razorpay)))
        });
        group.finish();
    }
}

fn config() -> Criterion {
    // Short windows: the whole `cargo bench` (compile included) must fit in 10 minutes on 2 cores.
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

criterion_group! { name = benches; config = config(); targets = verify }
criterion_main!(benches);
