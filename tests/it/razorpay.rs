//! Razorpay client against a wiremock stub speaking Razorpay's wire format.

use crate::helpers::{
    RZ_KEY_ID, RZ_SECRET, assert_nothing_leaked, b64, call, config, connect, fast_outbound, fixture, serve_binary,
    shown, structured,
};
use base64::Engine;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::config::RazorpayConfig;
use switchboard::domain::{CustomerRef, Email, InvoiceQuery, InvoiceStatus};
use switchboard::providers::http::HttpClient;
use switchboard::providers::razorpay::RazorpayClient;
use switchboard::providers::redact::Redactor;
use switchboard::providers::{Invoices, ProviderError};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const INVOICE_ID: &str = "inv_SBk3vL9qTm2XaP";

fn client(server: &MockServer) -> RazorpayClient {
    let config = RazorpayConfig {
        key_id: RZ_KEY_ID.to_string(),
        key_secret: RZ_SECRET.to_string().into(),
        base_url: server.uri().parse().unwrap(),
    };
    RazorpayClient::new(config, Arc::new(HttpClient::new(fast_outbound(), Arc::new(Redactor::default()))))
}

fn basic_auth() -> String {
    let creds = base64::engine::general_purpose::STANDARD.encode(format!("{RZ_KEY_ID}:{RZ_SECRET}"));
    format!("Basic {creds}")
}

fn json(status: u16, body: String) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body, "application/json")
}

fn query(limit: usize) -> InvoiceQuery {
    InvoiceQuery { customer: None, status: None, created_from: None, created_to: None, limit, position: None }
}

#[tokio::test]
async fn get_invoice_sends_basic_auth_and_decodes_the_invoice() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/invoices/{INVOICE_ID}")))
        .and(header("authorization", basic_auth().as_str()))
        .respond_with(json(200, fixture("razorpay/invoice_issued.json")))
        .expect(1)
        .mount(&server)
        .await;

    let invoice = client(&server).get_invoice(INVOICE_ID).await.unwrap();

    assert_eq!(invoice.id, INVOICE_ID);
    assert_eq!(invoice.number.as_deref(), Some("SW-2026-0142"));
    assert_eq!(invoice.provider_status, "issued");
    // expire_by (2026-09-17) is in the past and nothing is paid: overdue.
    assert_eq!(invoice.status, InvoiceStatus::Overdue);
    assert_eq!(invoice.total.minor_units, 4_500_000);
    assert_eq!(invoice.total.formatted, "₹45,000.00");
    assert_eq!(invoice.amount_due.formatted, "₹45,000.00");
    assert_eq!(invoice.customer.name.as_deref(), Some("Ananya Sharma"));
    assert_eq!(invoice.customer.email.as_deref(), Some("ananya.sharma@kavyatextiles.in"));
    assert_eq!(invoice.customer.phone.as_deref(), Some("+919820012345"));
    assert_eq!(invoice.customer.id.as_deref(), Some("cust_SBjw7YfKQe4Rn1"));
    assert_eq!(invoice.issued_at.as_deref(), Some("2026-08-18T05:00:12Z"));
    assert_eq!(invoice.due_at.as_deref(), Some("2026-09-17T18:29:59Z"));
    assert_eq!(invoice.payment_url.as_deref(), Some("https://rzp.io/i/Xb3kQ9w"));
    assert_eq!(invoice.line_items.len(), 2);
    let seo = &invoice.line_items[1];
    assert_eq!((seo.quantity, seo.amount.minor_units), (2, 1_500_000));
    assert_eq!(seo.unit_amount.as_ref().unwrap().formatted, "₹7,500.00");
}

#[tokio::test]
async fn notes_as_object_and_paid_invoices_decode() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/invoices/inv_SAd91XkWq3LmTe"))
        .respond_with(json(200, fixture("razorpay/invoice_paid.json")))
        .mount(&server)
        .await;
    let invoice = client(&server).get_invoice("inv_SAd91XkWq3LmTe").await.unwrap();
    assert_eq!(invoice.status, InvoiceStatus::Paid);
    assert!(invoice.paid_at.is_some());
    assert_eq!(invoice.amount_due.minor_units, 0);
}

#[tokio::test]
async fn not_found_arrives_as_400_and_maps_to_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json(400, fixture("razorpay/error_not_found.json")))
        .expect(1) // a 400 is final: no retry
        .mount(&server)
        .await;
    let err = client(&server).get_invoice("inv_DoesNotExist01").await.unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("inv_DoesNotExist01"));
}

#[tokio::test]
async fn rejected_credentials_map_to_unauthorized_without_echoing_them() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json(401, fixture("razorpay/error_auth.json")))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).get_invoice(INVOICE_ID).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unauthorized { .. }), "{err:?}");
    let text = err.to_string();
    assert!(!text.contains(RZ_SECRET) && !text.contains(RZ_KEY_ID), "{text}");
}

#[tokio::test]
async fn other_400s_carry_razorpay_s_own_description() {
    let server = MockServer::start().await;
    let body = r#"{"error":{"code":"BAD_REQUEST_ERROR","description":"The from field must be a valid timestamp","field":"from","source":"NA","step":"NA","reason":"NA","metadata":[]}}"#;
    Mock::given(method("GET")).respond_with(json(400, body.to_string())).mount(&server).await;
    let err = client(&server).list_invoices(&query(10)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Rejected { .. }), "{err:?}");
    assert!(err.to_string().contains("The from field must be a valid timestamp (field: from)"), "{err}");
}

#[tokio::test]
async fn rate_limits_are_retried_after_the_retry_after_delay() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(json(200, fixture("razorpay/invoice_issued.json")))
        .with_priority(2)
        .mount(&server)
        .await;
    let started = Instant::now();
    client(&server).get_invoice(INVOICE_ID).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After ignored: {:?}", started.elapsed());
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_fails_fast_with_the_wait() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "120"))
        .mount(&server)
        .await;
    let started = Instant::now();
    let err = client(&server).get_invoice(INVOICE_ID).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(err, ProviderError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(120)),
        "{err:?}"
    );
    assert!(err.to_string().contains("120 s"), "{err}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times() {
    let server = MockServer::start().await;
    let body = r#"{"error":{"code":"SERVER_ERROR","description":"We are facing some trouble completing your request at the moment. Please try again shortly.","source":"NA","step":"NA","reason":"NA","metadata":{}}}"#;
    Mock::given(method("GET")).respond_with(json(502, body.to_string())).mount(&server).await;
    let err = client(&server).get_invoice(INVOICE_ID).await.unwrap_err();
    assert!(matches!(err, ProviderError::Upstream { status: 502, .. }), "{err:?}");
    assert!(err.to_string().contains("Please try again shortly"));
    // first attempt + 3 retries
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_slow_upstream_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json(200, fixture("razorpay/invoice_issued.json")).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let err = client(&server).get_invoice(INVOICE_ID).await.unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn list_invoices_asks_for_one_extra_to_know_whether_more_exist() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/invoices"))
        .and(query_param("type", "invoice"))
        .and(query_param("count", "2"))
        .and(query_param("skip", "0"))
        .and(query_param("customer_id", "cust_SBjw7YfKQe4Rn1"))
        .and(query_param("from", "1793491200"))
        .respond_with(json(200, fixture("razorpay/invoices_list.json")))
        .expect(1)
        .mount(&server)
        .await;
    let mut q = query(1);
    q.customer = Some(CustomerRef::Id("cust_SBjw7YfKQe4Rn1".into()));
    q.created_from = Some(1_793_491_200);
    let page = client(&server).list_invoices(&q).await.unwrap();
    assert_eq!(page.invoices.len(), 1);
    assert_eq!(page.next_position.as_deref(), Some("1"));
}

#[tokio::test]
async fn customer_email_and_status_filter_client_side_across_pages() {
    let server = MockServer::start().await;
    let list: serde_json::Value = serde_json::from_str(&fixture("razorpay/invoices_list.json")).unwrap();
    // Page 1: a full page of 100 invoices for someone else; page 2: the two fixture invoices.
    let other = {
        let mut inv = list["items"][1].clone();
        inv["customer_details"]["email"] = "someone@else.example".into();
        inv
    };
    let page1 = serde_json::json!({"entity": "collection", "count": 100, "items": vec![other; 100]});
    Mock::given(method("GET"))
        .and(query_param("skip", "0"))
        .and(query_param("count", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page1))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("skip", "100"))
        .respond_with(json(200, fixture("razorpay/invoices_list.json")))
        .mount(&server)
        .await;
    let mut q = query(10);
    q.customer = Some(CustomerRef::Email(Email::parse("customer", "Ananya.Sharma@kavyatextiles.in").unwrap()));
    q.status = Some(InvoiceStatus::Overdue);
    let page = client(&server).list_invoices(&q).await.unwrap();
    assert_eq!(page.invoices.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), [INVOICE_ID]);
    assert_eq!(page.next_position, None, "a short page means the end");
}

/// Razorpay's error envelope (a 400, so the description reaches the tool result) with `description`.
fn razorpay_400(description: &str) -> ResponseTemplate {
    let body = serde_json::json!({"error": {"code": "BAD_REQUEST_ERROR", "description": description,
        "source": "NA", "step": "NA", "reason": "NA", "metadata": {}}});
    ResponseTemplate::new(400).set_body_json(body)
}

#[tokio::test]
async fn the_key_secret_echoed_by_razorpay_reaches_neither_tool_results_nor_the_log() {
    let server = MockServer::start().await;
    let pair = format!("{RZ_KEY_ID}:{RZ_SECRET}");
    let mut wrongly_typed: serde_json::Value = serde_json::from_str(&fixture("razorpay/invoice_issued.json")).unwrap();
    wrongly_typed["line_items"] = RZ_SECRET.into();
    let cases = [
        ("bare", "inv_LeakBare000001", razorpay_400(&format!("The api secret {RZ_SECRET} provided is invalid"))),
        ("after key_id:", "inv_LeakPair000002", razorpay_400(&format!("Authentication failed for {pair}"))),
        (
            "basic base64",
            "inv_LeakBasic00003",
            razorpay_400(&format!("Unsupported authorization basic {}", b64(&pair))),
        ),
        ("bearer", "inv_LeakBearer0004", razorpay_400(&format!("Unsupported authorization bearer {RZ_SECRET}"))),
        ("wrongly typed 2xx field", "inv_LeakTyped00005", ResponseTemplate::new(200).set_body_json(wrongly_typed)),
    ];
    for (_, id, answer) in &cases {
        Mock::given(path(format!("/v1/invoices/{id}"))).respond_with(answer.clone()).mount(&server).await;
    }
    let served = serve_binary(&[
        ("RAZORPAY_KEY_ID", RZ_KEY_ID),
        ("RAZORPAY_KEY_SECRET", RZ_SECRET),
        ("RAZORPAY_BASE_URL", &server.uri()),
    ])
    .await;
    let mut seen = Vec::new();
    for (case, id, _) in &cases {
        served.masked_failure(&mut seen, case, "get_invoice", serde_json::json!({"invoice_id": id})).await;
    }
    served.assert_nothing_leaked(seen, &[RZ_SECRET.to_string(), b64(&pair), b64(RZ_SECRET)]).await;
}

#[tokio::test]
async fn a_key_secret_inside_a_successful_answer_is_masked_in_the_tool_result() {
    let server = MockServer::start().await;
    let mut invoice: serde_json::Value = serde_json::from_str(&fixture("razorpay/invoice_issued.json")).unwrap();
    invoice["description"] = format!("Retainer (debug: key {RZ_SECRET})").into();
    Mock::given(path(format!("/v1/invoices/{INVOICE_ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(invoice))
        .mount(&server)
        .await;
    let client = connect(config(Some(&server.uri()), None)).await;
    let result = call(&client, "get_invoice", serde_json::json!({"invoice_id": INVOICE_ID})).await;
    assert_eq!(structured(&result)["description"], "Retainer (debug: key [REDACTED])");
    assert_nothing_leaked(&[("tool result".to_string(), shown(&result))], &[RZ_SECRET.to_string()]);
}
