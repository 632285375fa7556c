//! The invoice tools through the real MCP protocol (in-process client), against wiremock upstreams.

use crate::helpers::{call, config, connect, error_text, fixture, structured};
use serde_json::json;
use switchboard::domain::Provider;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn json_body(status: u16, body: String) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body, "application/json")
}

#[tokio::test]
async fn get_invoice_infers_the_provider_from_the_id_and_returns_structured_output() {
    let rz = MockServer::start().await;
    let st = MockServer::start().await;
    Mock::given(path("/v1/invoices/inv_SBk3vL9qTm2XaP"))
        .respond_with(json_body(200, fixture("razorpay/invoice_issued.json")))
        .expect(1)
        .mount(&rz)
        .await;
    Mock::given(path("/v1/invoices/in_1SzK8dq8LwT2kP5dHq3Vb7Ne"))
        .respond_with(json_body(200, fixture("stripe/invoice_open.json")))
        .expect(1)
        .mount(&st)
        .await;
    let client = connect(config(Some(&rz.uri()), Some(&st.uri()))).await;

    let rz_invoice = structured(&call(&client, "get_invoice", json!({"invoice_id": "inv_SBk3vL9qTm2XaP"})).await);
    assert_eq!(rz_invoice["provider"], "razorpay");
    assert_eq!(rz_invoice["amount_due"]["formatted"], "₹45,000.00");
    assert_eq!(rz_invoice["status"], "overdue");

    let st_invoice =
        structured(&call(&client, "get_invoice", json!({"invoice_id": "in_1SzK8dq8LwT2kP5dHq3Vb7Ne"})).await);
    assert_eq!(st_invoice["provider"], "stripe");
    assert_eq!(st_invoice["total"], json!({"minor_units": 129900, "currency": "USD", "formatted": "$1,299.00"}));
}

#[tokio::test]
async fn an_unconfigured_provider_says_which_variables_to_set() {
    let client = connect(config(None, None)).await;
    let text = error_text(&call(&client, "get_invoice", json!({"invoice_id": "in_1SzK8dq8LwT2kP5dHq3Vb7Ne"})).await);
    assert!(text.contains("Stripe is not configured") && text.contains("STRIPE_API_KEY"), "{text}");
    let text = error_text(&call(&client, "list_invoices", json!({})).await);
    assert!(text.contains("RAZORPAY_KEY_ID") && text.contains("No payments provider is configured"), "{text}");
}

#[tokio::test]
async fn bad_arguments_name_the_field_and_reach_no_upstream() {
    let rz = MockServer::start().await;
    let client = connect(config(Some(&rz.uri()), None)).await;
    let cases = [
        ("get_invoice", json!({"invoice_id": "inv_../../v1/payments"}), "invoice_id"),
        ("get_invoice", json!({"invoice_id": "INV-2026-001"}), "invoice_id"),
        ("get_invoice", json!({"invoice_id": "in_123", "provider": "razorpay"}), "provider"),
        ("list_invoices", json!({"customer": "asha@"}), "customer"),
        ("list_invoices", json!({"customer": "Asha Rao"}), "customer"),
        ("list_invoices", json!({"created_from": "last week"}), "created_from"),
        ("list_invoices", json!({"created_from": "2026-11-02", "created_to": "2026-11-01"}), "created_from"),
        ("list_invoices", json!({"limit": 0}), "limit"),
        ("list_invoices", json!({"limit": 500}), "limit"),
        ("list_invoices", json!({"cursor": "garbage"}), "cursor"),
        ("list_invoices", json!({"status": "unpaid"}), "status"),
        ("list_invoices", json!({"custommer": "a@b.co"}), "custommer"),
    ];
    for (tool, args, field) in cases {
        let text = error_text(&call(&client, tool, args.clone()).await);
        assert!(text.contains(field), "{tool} {args}: error should name {field}: {text}");
    }
    assert!(rz.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn list_invoices_pages_with_a_cursor_until_nothing_is_left() {
    let rz = MockServer::start().await;
    let list: serde_json::Value = serde_json::from_str(&fixture("razorpay/invoices_list.json")).unwrap();
    Mock::given(method("GET"))
        .and(path("/v1/invoices"))
        .and(query_param("skip", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&list))
        .mount(&rz)
        .await;
    let second = json!({"entity": "collection", "count": 1, "items": [list["items"][1].clone()]});
    Mock::given(method("GET"))
        .and(path("/v1/invoices"))
        .and(query_param("skip", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&second))
        .mount(&rz)
        .await;
    let client = connect(config(Some(&rz.uri()), None)).await;

    let page1 = structured(&call(&client, "list_invoices", json!({"limit": 1})).await);
    assert_eq!(page1["invoices"].as_array().unwrap().len(), 1);
    assert_eq!(page1["has_more"], true);
    let cursor = page1["next_cursor"].as_str().unwrap().to_string();

    let page2 = structured(&call(&client, "list_invoices", json!({"limit": 1, "cursor": cursor})).await);
    assert_eq!(page2["invoices"][0]["id"], "inv_SAd91XkWq3LmTe");
    assert_eq!(page2["has_more"], false);
    assert!(page2["next_cursor"].is_null());
}

#[tokio::test]
async fn with_two_providers_the_caller_must_choose_unless_a_default_is_set() {
    let rz = MockServer::start().await;
    let st = MockServer::start().await;
    Mock::given(path("/v1/invoices"))
        .respond_with(json_body(200, fixture("stripe/invoices_list.json")))
        .mount(&st)
        .await;
    let client = connect(config(Some(&rz.uri()), Some(&st.uri()))).await;
    let text = error_text(&call(&client, "list_invoices", json!({})).await);
    assert!(text.contains("pass provider"), "{text}");
    let page = structured(&call(&client, "list_invoices", json!({"provider": "stripe"})).await);
    assert_eq!(page["provider"], "stripe");

    let mut cfg = config(Some(&rz.uri()), Some(&st.uri()));
    cfg.default_provider = Some(Provider::Stripe);
    let client = connect(cfg).await;
    let page = structured(&call(&client, "list_invoices", json!({"customer": "cus_SwQ4nT7bKx2LmP"})).await);
    assert_eq!(page["provider"], "stripe");
}

#[tokio::test]
async fn upstream_failures_come_back_as_tool_errors_with_the_provider_message() {
    let rz = MockServer::start().await;
    Mock::given(path("/v1/invoices/inv_DoesNotExist01"))
        .respond_with(json_body(400, fixture("razorpay/error_not_found.json")))
        .mount(&rz)
        .await;
    Mock::given(path("/v1/invoices/inv_SBk3vL9qTm2XaP"))
        .respond_with(json_body(401, fixture("razorpay/error_auth.json")))
        .mount(&rz)
        .await;
    let client = connect(config(Some(&rz.uri()), None)).await;
    let text = error_text(&call(&client, "get_invoice", json!({"invoice_id": "inv_DoesNotExist01"})).await);
    assert!(text.contains("no invoice with id 'inv_DoesNotExist01'"), "{text}");
    let text = error_text(&call(&client, "get_invoice", json!({"invoice_id": "inv_SBk3vL9qTm2XaP"})).await);
    assert!(text.contains("rejected Switchboard's API credentials"), "{text}");
}
