//! Stripe client against a wiremock stub speaking Stripe's wire format.

use crate::helpers::{STRIPE_KEY, b64, fast_outbound, fixture, serve_binary};
use std::sync::Arc;
use std::time::Duration;
use switchboard::config::StripeConfig;
use switchboard::domain::{CustomerRef, Email, InvoiceQuery, InvoiceStatus};
use switchboard::providers::http::HttpClient;
use switchboard::providers::redact::Redactor;
use switchboard::providers::stripe::{STRIPE_API_VERSION, StripeClient};
use switchboard::providers::{Invoices, ProviderError};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const INVOICE_ID: &str = "in_1SzK8dq8LwT2kP5dHq3Vb7Ne";

fn client(server: &MockServer) -> StripeClient {
    let config = StripeConfig { api_key: STRIPE_KEY.to_string().into(), base_url: server.uri().parse().unwrap() };
    StripeClient::new(config, Arc::new(HttpClient::new(fast_outbound(), Arc::new(Redactor::default()))))
}

fn json(status: u16, body: String) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body, "application/json")
}

fn query(limit: usize) -> InvoiceQuery {
    InvoiceQuery { customer: None, status: None, created_from: None, created_to: None, limit, position: None }
}

#[tokio::test]
async fn get_invoice_sends_bearer_auth_and_the_pinned_version() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/invoices/{INVOICE_ID}")))
        .and(header("authorization", format!("Bearer {STRIPE_KEY}").as_str()))
        .and(header("stripe-version", STRIPE_API_VERSION))
        .respond_with(json(200, fixture("stripe/invoice_open.json")))
        .expect(1)
        .mount(&server)
        .await;

    let invoice = client(&server).get_invoice(INVOICE_ID).await.unwrap();

    assert_eq!(invoice.number.as_deref(), Some("B4C1D2E9-0003"));
    assert_eq!(invoice.provider_status, "open");
    assert_eq!(invoice.status, InvoiceStatus::Overdue, "due 2026-09-19 and unpaid");
    assert_eq!(invoice.currency, "USD");
    assert_eq!(invoice.total.formatted, "$1,299.00");
    assert_eq!(invoice.amount_due.minor_units, 129_900);
    assert_eq!(invoice.customer.email.as_deref(), Some("priya.nair@northwindtraders.com"));
    assert_eq!(invoice.customer.id.as_deref(), Some("cus_SwQ4nT7bKx2LmP"));
    assert_eq!(invoice.issued_at.as_deref(), Some("2026-08-20T17:12:32Z"));
    assert_eq!(invoice.due_at.as_deref(), Some("2026-09-19T17:12:32Z"));
    assert!(invoice.payment_url.as_deref().unwrap().starts_with("https://invoice.stripe.com/"));
    let hours = &invoice.line_items[1];
    assert_eq!((hours.quantity, hours.amount.minor_units), (2, 30_000));
    assert_eq!(hours.unit_amount.as_ref().unwrap().formatted, "$150.00");
}

#[tokio::test]
async fn errors_map_from_stripe_s_error_shape() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/invoices/in_missing"))
        .respond_with(json(404, fixture("stripe/error_not_found.json")))
        .mount(&server)
        .await;
    Mock::given(path("/v1/invoices/in_badkey"))
        .respond_with(json(401, fixture("stripe/error_auth.json")))
        .mount(&server)
        .await;
    Mock::given(path("/v1/invoices/in_forbidden"))
        .respond_with(json(403, r#"{"error":{"message":"The provided key 'rk_test_abc***xyz' does not have the required permissions for this endpoint.","type":"invalid_request_error"}}"#.into()))
        .mount(&server)
        .await;
    Mock::given(path("/v1/invoices/in_bad"))
        .respond_with(json(
            400,
            r#"{"error":{"type":"invalid_request_error","message":"Invalid integer: abc","param":"limit"}}"#.into(),
        ))
        .mount(&server)
        .await;
    let c = client(&server);

    let err = c.get_invoice("in_missing").await.unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
    let err = c.get_invoice("in_badkey").await.unwrap_err();
    assert!(matches!(err, ProviderError::Unauthorized { .. }), "{err:?}");
    assert!(!err.to_string().contains("sk_test"), "{err}");
    let err = c.get_invoice("in_forbidden").await.unwrap_err();
    assert!(matches!(err, ProviderError::Forbidden { .. }), "{err:?}");
    assert!(err.to_string().contains("rk_test_[REDACTED]"), "{err}");
    let err = c.get_invoice("in_bad").await.unwrap_err();
    assert!(err.to_string().contains("Invalid integer: abc (parameter: limit)"), "{err}");
    assert_eq!(server.received_requests().await.unwrap().len(), 4, "4xx answers are never retried");
}

#[tokio::test]
async fn a_429_is_retried_then_reported_as_rate_limited() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json(
            429,
            r#"{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests"}}"#.into(),
        ))
        .mount(&server)
        .await;
    let err = client(&server).get_invoice(INVOICE_ID).await.unwrap_err();
    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_slow_upstream_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json(200, fixture("stripe/invoice_open.json")).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let err = client(&server).get_invoice(INVOICE_ID).await.unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn an_email_resolves_to_the_customer_and_filters_server_side() {
    let server = MockServer::start().await;
    // Both fixture invoices, as if they belonged to the one customer with this e-mail.
    let mut list: serde_json::Value = serde_json::from_str(&fixture("stripe/invoices_list.json")).unwrap();
    list["data"][1]["customer"] = "cus_SwQ4nT7bKx2LmP".into();
    Mock::given(method("GET"))
        .and(path("/v1/customers"))
        .and(query_param("email", "priya.nair@northwindtraders.com"))
        .respond_with(json(200, fixture("stripe/customers_list.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/invoices"))
        .and(query_param("customer", "cus_SwQ4nT7bKx2LmP"))
        .and(query_param("status", "paid"))
        .and(query_param("limit", "6"))
        .and(query_param_is_missing("starting_after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&list))
        .expect(1)
        .mount(&server)
        .await;
    let mut q = query(5);
    q.customer = Some(CustomerRef::Email(Email::parse("customer", "priya.nair@northwindtraders.com").unwrap()));
    q.status = Some(InvoiceStatus::Paid);
    // has_more was true on the first page, so the client reads on from its last invoice.
    Mock::given(method("GET"))
        .and(path("/v1/invoices"))
        .and(query_param("starting_after", "in_1SsC2fq8LwT2kP5dKa8Wc1Pd"))
        .respond_with(json(200, r#"{"object":"list","data":[],"has_more":false,"url":"/v1/invoices"}"#.into()))
        .expect(1)
        .mount(&server)
        .await;
    let page = client(&server).list_invoices(&q).await.unwrap();
    // The stub ignores filters; the client still drops what does not match the normalised status.
    assert_eq!(page.invoices.len(), 1);
    assert_eq!(page.invoices[0].status, InvoiceStatus::Paid);
    assert_eq!(page.next_position, None);
}

#[tokio::test]
async fn an_unknown_email_returns_no_invoices_without_listing() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/customers"))
        .respond_with(json(200, r#"{"object":"list","data":[],"has_more":false,"url":"/v1/customers"}"#.into()))
        .mount(&server)
        .await;
    let mut q = query(5);
    q.customer = Some(CustomerRef::Email(Email::parse("customer", "nobody@example.com").unwrap()));
    let page = client(&server).list_invoices(&q).await.unwrap();
    assert!(page.invoices.is_empty() && page.next_position.is_none());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn pagination_resumes_after_the_last_invoice_returned() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/invoices"))
        .and(query_param("starting_after", INVOICE_ID))
        .and(query_param("limit", "2"))
        .respond_with(json(200, fixture("stripe/invoices_list.json")))
        .expect(1)
        .mount(&server)
        .await;
    let mut q = query(1);
    q.position = Some(INVOICE_ID.to_string());
    let page = client(&server).list_invoices(&q).await.unwrap();
    assert_eq!(page.invoices.len(), 1);
    assert_eq!(page.next_position.as_deref(), Some(INVOICE_ID));
}

/// Stripe's error envelope (a 400, so the message reaches the tool result) with `message`.
fn stripe_400(message: &str) -> ResponseTemplate {
    let body = serde_json::json!({"error": {"type": "invalid_request_error", "message": message}});
    ResponseTemplate::new(400).set_body_json(body)
}

#[tokio::test]
async fn the_api_key_echoed_by_stripe_reaches_neither_tool_results_nor_the_log() {
    let server = MockServer::start().await;
    // `curl -u sk_test_…:` sends the key as the Basic user with an empty password.
    let basic_user = format!("{STRIPE_KEY}:");
    let mut wrongly_typed: serde_json::Value = serde_json::from_str(&fixture("stripe/invoice_open.json")).unwrap();
    wrongly_typed["total"] = STRIPE_KEY.into();
    let cases = [
        ("bare", "in_LeakBare", stripe_400(&format!("Invalid API Key provided: {STRIPE_KEY}"))),
        ("basic base64", "in_LeakBasic", stripe_400(&format!("Unsupported authorization basic {}", b64(&basic_user)))),
        ("bearer", "in_LeakBearer", stripe_400(&format!("Unsupported authorization bearer {STRIPE_KEY}"))),
        ("wrongly typed 2xx field", "in_LeakTyped", ResponseTemplate::new(200).set_body_json(wrongly_typed)),
    ];
    for (_, id, answer) in &cases {
        Mock::given(path(format!("/v1/invoices/{id}"))).respond_with(answer.clone()).mount(&server).await;
    }
    let served = serve_binary(&[("STRIPE_API_KEY", STRIPE_KEY), ("STRIPE_BASE_URL", &server.uri())]).await;
    let mut seen = Vec::new();
    for (case, id, _) in &cases {
        served.masked_failure(&mut seen, case, "get_invoice", serde_json::json!({"invoice_id": id})).await;
    }
    served.assert_nothing_leaked(seen, &[STRIPE_KEY.to_string(), b64(&basic_user), b64(STRIPE_KEY)]).await;
}
