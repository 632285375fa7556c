//! `switchboard doctor`, the built binary against stub providers: one that accepts the credentials, one that
//! rejects them, one that cannot be reached; the table says which, exits non-zero, and prints no secret.

use crate::helpers::{RZ_KEY_ID, RZ_SECRET, STRIPE_KEY, fixture};
use std::process::Output;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const HUBSPOT_TOKEN: &str = "pat-na1-CANARY-hubspot-token-0000";
const WHATSAPP_TOKEN: &str = "EAACANARYwhatsapptoken0000";
const RZ_WEBHOOK_SECRET: &str = "CANARY-rz-webhook-secret-1234";

async fn doctor(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command.arg("doctor").args(args).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().await.unwrap()
}

/// The table row for `check`, split into its result and detail.
fn row<'a>(stdout: &'a str, check: &str) -> (&'a str, &'a str) {
    let line = stdout.lines().find(|l| l.starts_with(check)).unwrap_or_else(|| panic!("no {check} row:\n{stdout}"));
    let rest = line[check.len()..].trim_start();
    rest.split_once("  ").map(|(result, detail)| (result.trim(), detail.trim())).unwrap()
}

#[tokio::test]
async fn one_good_one_rejected_one_unreachable_provider_make_the_right_rows() {
    let razorpay = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_links"))
        .and(query_param("count", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"payment_links": []})))
        .expect(1)
        .mount(&razorpay)
        .await;
    let stripe = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_links"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(fixture("stripe/error_auth.json"), "application/json"))
        .mount(&stripe)
        .await;
    let whatsapp = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v26.0/106540352242922"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"verified_name": "Kaveri Foods", "display_phone_number": "15550783881", "id": "106540352242922"}),
        ))
        .expect(1)
        .mount(&whatsapp)
        .await;
    // A port nothing listens on: HubSpot is unreachable.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    // The webhook listener's address is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    let data_dir = tempfile::tempdir().unwrap();
    let (rz_url, st_url, wa_url) = (razorpay.uri(), stripe.uri(), whatsapp.uri());
    let hs_url = format!("http://{closed}");
    let out = doctor(
        &["--http", "0.0.0.0:8080"],
        &[
            ("RAZORPAY_KEY_ID", RZ_KEY_ID),
            ("RAZORPAY_KEY_SECRET", RZ_SECRET),
            ("RAZORPAY_BASE_URL", &rz_url),
            ("RAZORPAY_WEBHOOK_SECRET", RZ_WEBHOOK_SECRET),
            ("STRIPE_API_KEY", STRIPE_KEY),
            ("STRIPE_BASE_URL", &st_url),
            ("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN),
            ("HUBSPOT_BASE_URL", &hs_url),
            ("WHATSAPP_ACCESS_TOKEN", WHATSAPP_TOKEN),
            ("WHATSAPP_PHONE_NUMBER_ID", "106540352242922"),
            ("WHATSAPP_BASE_URL", &wa_url),
            ("SWITCHBOARD_DATA_DIR", data_dir.path().to_str().unwrap()),
            ("SWITCHBOARD_WEBHOOK_LISTEN", &taken_addr),
        ],
    )
    .await;
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    println!("{stdout}");
    assert_eq!(out.status.code(), Some(1), "something needs fixing: {stdout}\n{stderr}");
    assert!(stdout.starts_with("CHECK"), "{stdout}");

    let (result, detail) = row(&stdout, "Razorpay API");
    assert_eq!(result, "ok", "{detail}");
    assert!(detail.contains("a test-mode key"), "{detail}");
    let (result, detail) = row(&stdout, "Stripe API");
    assert_eq!(result, "FIX", "{detail}");
    assert!(detail.contains("rejected the credentials") && detail.contains("STRIPE_API_KEY"), "{detail}");
    let (result, detail) = row(&stdout, "HubSpot API");
    assert_eq!(result, "FIX", "{detail}");
    assert!(detail.contains(&format!("could not connect to http://{closed}")), "{detail}");
    assert!(detail.contains("HUBSPOT_BASE_URL"), "{detail}");
    assert_eq!(row(&stdout, "WhatsApp API").0, "ok");
    let (result, detail) = row(&stdout, "Webhooks: razorpay");
    assert_eq!(result, "ok", "{detail}");
    assert!(detail.contains("1 secret for Razorpay signatures"), "{detail}");
    let (result, detail) = row(&stdout, "Webhooks: stripe");
    assert_eq!(result, "warn", "{detail}");
    assert!(detail.contains("STRIPE_WEBHOOK_SECRET"), "{detail}");
    assert_eq!(row(&stdout, "Webhooks: whatsapp").0, "warn", "no app secret");
    assert_eq!(row(&stdout, "Data directory").0, "ok");
    let (result, detail) = row(&stdout, "Webhook listener");
    assert_eq!(result, "FIX", "{detail}");
    assert!(detail.contains(&format!("{taken_addr} is in use")), "{detail}");
    let (result, detail) = row(&stdout, "HTTP address");
    assert_eq!(result, "FIX", "{detail}");
    assert!(detail.contains("SWITCHBOARD_HTTP_TOKEN"), "{detail}");
    assert!(stdout.trim_end().ends_with("4 problems to fix before Switchboard works as configured."), "{stdout}");

    for secret in [RZ_SECRET, STRIPE_KEY, HUBSPOT_TOKEN, WHATSAPP_TOKEN, RZ_WEBHOOK_SECRET, "CANARY"] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "{secret} printed:\n{stdout}\n{stderr}");
    }
    // Reads only: nothing was created anywhere.
    for stub in [&razorpay, &stripe, &whatsapp] {
        assert!(stub.received_requests().await.unwrap().iter().all(|r| r.method.as_str() == "GET"));
    }
    drop(taken);
}

#[tokio::test]
async fn a_configuration_that_does_not_load_is_one_row_to_fix() {
    let out = doctor(&[], &[("RAZORPAY_KEY_ID", RZ_KEY_ID)]).await;
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let (result, detail) = row(&stdout, "Configuration");
    assert_eq!(result, "FIX");
    assert!(detail.contains("RAZORPAY_KEY_SECRET"), "{detail}");
}

#[tokio::test]
async fn a_working_configuration_exits_zero() {
    let razorpay = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_links"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"payment_links": []})))
        .mount(&razorpay)
        .await;
    let data_dir = tempfile::tempdir().unwrap();
    let rz_url = razorpay.uri();
    let out = doctor(
        &[],
        &[
            ("RAZORPAY_KEY_ID", RZ_KEY_ID),
            ("RAZORPAY_KEY_SECRET", RZ_SECRET),
            ("RAZORPAY_BASE_URL", &rz_url),
            ("RAZORPAY_WEBHOOK_SECRET", RZ_WEBHOOK_SECRET),
            ("SWITCHBOARD_DATA_DIR", data_dir.path().to_str().unwrap()),
        ],
    )
    .await;
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.trim_end().ends_with("Everything checked works."), "{stdout}");
}
