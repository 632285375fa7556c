//! The Notion invoice book's edges, each found by a review and failing before its fix: partial links, a second
//! link while the book lags, listings that meet empty or shifting pages, a status set again after the page
//! moved on, a write Notion accepted whose reply does not read as an invoice, an unshared database.

use crate::approvals::{approval_url, call as call_plain, decide, open, plain_client};
use crate::helpers::{call, config, connect_with, error_text, fixture, structured};
use crate::notion::{DS, PAGE, notion_stub, with_notion};
use crate::webhooks::{deliver_razorpay, start, with_webhooks};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use switchboard::config::{ApprovalConfig, Config, ConfirmMode};
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn nj(name: &str) -> Value {
    serde_json::from_str(&fixture(&format!("notion/{name}"))).unwrap()
}

async fn patches(server: &MockServer) -> Vec<Value> {
    let all = server.received_requests().await.unwrap();
    all.into_iter()
        .filter(|r| r.method.as_str() == "PATCH" && r.url.path() == format!("/v1/pages/{PAGE}"))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

async fn razorpay_links() -> MockServer {
    let server = MockServer::start().await;
    let created: Value = serde_json::from_str(&fixture("razorpay/payment_link_created.json")).unwrap();
    Mock::given(method("POST"))
        .and(path("/v1/payment_links"))
        .respond_with(ResponseTemplate::new(200).set_body_json(created))
        .mount(&server)
        .await;
    server
}

/// A ₹10,000 link for a ₹45,000 Notion invoice is refused before anything is created or asked: its payment would
/// mark the whole invoice paid.
#[tokio::test]
async fn a_part_payment_link_for_a_notion_invoice_is_refused_before_anything_is_created() {
    let notion = notion_stub().await;
    let rz = razorpay_links().await;
    let rx = start(with_webhooks(with_notion(config(Some(&rz.uri()), None), &notion.uri()))).await;
    let client = connect_with(rx.state.clone(), ()).await;
    let args = json!({"amount": "10000", "currency": "INR", "invoice_id": PAGE, "customer": {"email": "ananya.sharma@kavyatextiles.in"}});
    let text = error_text(&call(&client, "create_payment_link", args).await);
    assert!(text.contains("must be for exactly \"45000.00\"") && text.contains("without invoice_id"), "{text}");
    assert!(rz.received_requests().await.unwrap().is_empty(), "nothing was created");
    assert!(patches(&notion).await.is_empty());
}

/// Notion accepted the write, but the page it returns has an amount Switchboard refuses to read: the
/// write-back must count as done, not 'failed'.
#[tokio::test]
async fn a_write_notion_accepted_is_not_marked_failed_because_the_reply_has_an_odd_amount() {
    let notion = notion_stub().await;
    let mut reply = nj("page_paid.json");
    reply["properties"]["Amount"]["number"] = json!(45000.125);
    Mock::given(method("PATCH"))
        .and(path(format!("/v1/pages/{PAGE}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(reply))
        .mount(&notion)
        .await;
    let rz = razorpay_links().await;
    let rx = start(with_webhooks(with_notion(config(Some(&rz.uri()), None), &notion.uri()))).await;
    let stop = CancellationToken::new();
    switchboard::writeback::spawn(rx.state.clone(), stop.clone()).unwrap();
    let client = connect_with(rx.state.clone(), ()).await;
    structured(
        &call(
            &client,
            "create_payment_link",
            json!({"amount": "45000", "currency": "INR", "invoice_id": PAGE, "customer": {"email": "ananya.sharma@kavyatextiles.in"}}),
        )
        .await,
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut owed = Vec::new();
    while Instant::now() < deadline {
        owed = rx.state.store.write_backs().for_invoice(PAGE).await.unwrap();
        if owed.iter().all(|w| w.attempts > 0) && !owed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    assert_eq!(patches(&notion).await.len(), 1, "Notion got the link");
    assert_eq!(
        owed[0].state,
        switchboard::domain::writeback::WriteBackState::Done,
        "BUG: the PATCH succeeded but the write-back is {:?} with error {:?}",
        owed[0].state,
        owed[0].last_error
    );
}

/// Notion answers a page with no rows but has_more (it may return fewer rows than page_size): the listing must
/// move on to next_cursor, not re-read the same page for ever.
#[tokio::test]
async fn an_empty_notion_page_with_more_still_advances_the_listing() {
    let notion = notion_stub().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/data_sources/{DS}/query")))
        .respond_with(|r: &Request| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            if body.get("start_cursor").is_some() {
                ResponseTemplate::new(200).set_body_json(nj("query_page2.json"))
            } else {
                ResponseTemplate::new(200).set_body_json(json!({
                    "object": "list", "results": [], "has_more": true,
                    "next_cursor": "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b",
                    "type": "page_or_data_source", "page_or_data_source": {}
                }))
            }
        })
        .mount(&notion)
        .await;
    let client =
        connect_with(Arc::new(switchboard::state::AppState::new(with_notion(config(None, None), &notion.uri()))), ())
            .await;
    let mut cursor = Value::Null;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let mut args = json!({"limit": 5});
        if !cursor.is_null() {
            args["cursor"] = cursor.clone();
        }
        let page = structured(&call(&client, "list_invoices", args).await);
        seen.extend(page["invoices"].as_array().unwrap().iter().map(|i| i["number"].clone()));
        cursor = page["next_cursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    let sent = notion.received_requests().await.unwrap();
    let with_cursor = sent
        .iter()
        .filter(|r| r.url.path().ends_with("/query"))
        .filter(|r| serde_json::from_slice::<Value>(&r.body).unwrap().get("start_cursor").is_some());
    assert!(
        !seen.is_empty(),
        "BUG: three list_invoices calls returned nothing and next_cursor never moved ({} queries, {} with start_cursor; cursor {cursor})",
        sent.iter().filter(|r| r.url.path().ends_with("/query")).count(),
        with_cursor.count()
    );
}

/// A row leaves the query between two list_invoices calls (e.g. listing unpaid invoices while one is paid):
/// the next page must not skip the row after it.
#[tokio::test]
async fn a_row_leaving_the_query_between_pages_does_not_skip_the_next_row() {
    let notion = notion_stub().await;
    let paid = Arc::new(AtomicBool::new(false));
    let mut rows: Vec<Value> = nj("query_page1.json")["results"].as_array().unwrap().clone();
    rows.extend(nj("query_page2.json")["results"].as_array().unwrap().clone());
    let flag = paid.clone();
    Mock::given(method("POST"))
        .and(path(format!("/v1/data_sources/{DS}/query")))
        .respond_with(move |_: &Request| {
            // INV-2026-0150 no longer matches (say, "Status does not equal Paid") once it is paid.
            let results: Vec<Value> = rows
                .iter()
                .filter(|r| !(flag.load(Ordering::SeqCst) && r["id"] == "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"))
                .cloned()
                .collect();
            ResponseTemplate::new(200).set_body_json(json!({
                "object": "list", "results": results, "has_more": false, "next_cursor": null,
                "type": "page_or_data_source", "page_or_data_source": {}
            }))
        })
        .mount(&notion)
        .await;
    let client =
        connect_with(Arc::new(switchboard::state::AppState::new(with_notion(config(None, None), &notion.uri()))), ())
            .await;
    let first = structured(&call(&client, "list_invoices", json!({"limit": 1})).await);
    assert_eq!(first["invoices"][0]["number"], "INV-2026-0150");
    paid.store(true, Ordering::SeqCst);
    let second = structured(&call(&client, "list_invoices", json!({"limit": 1, "cursor": first["next_cursor"]})).await);
    assert_eq!(
        second["invoices"][0]["number"], "INV-2026-0142",
        "BUG: INV-2026-0142 was skipped; got {}",
        second["invoices"][0]["number"]
    );
}

/// On the approval page: Paid (approved, done) → Issued (approved, done) → Paid again with the same note must
/// ask again and write again, not return the first call's stale result.
#[tokio::test]
async fn setting_a_status_again_after_another_change_is_performed_again() {
    let notion = notion_stub().await;
    // A Notion page that keeps what is written to it, with a new last_edited_time per write, as Notion does.
    let page = Arc::new(std::sync::Mutex::new(nj("page_overdue.json")));
    let (read, written) = (page.clone(), page.clone());
    let edits = std::sync::atomic::AtomicUsize::new(0);
    Mock::given(method("GET"))
        .and(path(format!("/v1/pages/{PAGE}")))
        .respond_with(move |_: &Request| ResponseTemplate::new(200).set_body_json(read.lock().unwrap().clone()))
        .with_priority(1)
        .mount(&notion)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("/v1/pages/{PAGE}")))
        .respond_with(move |r: &Request| {
            let sent: Value = serde_json::from_slice(&r.body).unwrap();
            let mut page = written.lock().unwrap();
            let edit = edits.fetch_add(1, Ordering::SeqCst) + 1;
            for (name, value) in sent["properties"].as_object().unwrap() {
                for (kind, v) in value.as_object().unwrap() {
                    page["properties"][name][kind] = v.clone();
                }
            }
            page["last_edited_time"] = json!(format!("2026-11-30T10:{edit:02}:00.000Z"));
            ResponseTemplate::new(200).set_body_json(page.clone())
        })
        .mount(&notion)
        .await;
    let cfg = Config {
        confirm: ConfirmMode::Elicit,
        approvals: ApprovalConfig { ttl: Duration::from_secs(600), wait: Duration::ZERO, public_url: None },
        ..with_notion(config(None, None), &notion.uri())
    };
    let rx = start(cfg).await;
    let client = plain_client(&rx).await;
    async fn approve(client: &rmcp::service::RunningService<rmcp::RoleClient, ()>, args: Value) {
        let pending = error_text(&call_plain(client, "set_invoice_status", args).await);
        let url = approval_url(&pending);
        let (_, token) = open(&url).await;
        decide(&url, "approve", &token).await;
    }
    let paid = json!({"invoice_id": PAGE, "status": "Paid"});
    approve(&client, paid.clone()).await;
    call_plain(&client, "set_invoice_status", paid.clone()).await; // the agent collects the result
    approve(&client, json!({"invoice_id": PAGE, "status": "Issued"})).await;
    call_plain(&client, "set_invoice_status", json!({"invoice_id": PAGE, "status": "Issued"})).await;
    assert_eq!(patches(&notion).await.len(), 2);
    // Paid again (e.g. the cash was found after all).
    let again = call_plain(&client, "set_invoice_status", paid).await;
    let asked_again = again.is_error == Some(true) && error_text(&again).contains("Waiting for the user's approval");
    assert!(
        asked_again || patches(&notion).await.len() == 3,
        "BUG: the page is still Issued, but the call returned the first call's stale result without asking or writing: {:?}",
        again.structured_content.map(|v| v["status"].clone())
    );
}

/// A link was paid (verified webhook stored) but Notion has not been updated yet: get_invoice says "paid,
/// nothing owed", so create_payment_link for that invoice must refuse another link.
#[tokio::test]
async fn no_second_link_for_an_invoice_whose_link_was_paid_while_notion_lags() {
    let notion = notion_stub().await;
    let rz = razorpay_links().await;
    // No worker: the book cannot have been updated (as when Notion is down).
    let rx = start(with_webhooks(with_notion(config(Some(&rz.uri()), None), &notion.uri()))).await;
    let client = connect_with(rx.state.clone(), ()).await;
    let args = json!({"amount": "45000", "currency": "INR", "invoice_id": PAGE, "customer": {"email": "ananya.sharma@kavyatextiles.in"}});
    structured(&call(&client, "create_payment_link", args.clone()).await);
    let webhook = fixture("razorpay/webhook_payment_link_paid.json");
    deliver_razorpay(rx.addr, webhook.trim(), "evt_paid_lag").await;
    let invoice = structured(&call(&client, "get_invoice", json!({"invoice_id": PAGE})).await);
    assert_eq!(invoice["amount_due"]["minor_units"], 0, "get_invoice: nothing owed");
    let mut second = args;
    second["idempotency_key"] = json!("second-link-for-0142");
    let result = call(&client, "create_payment_link", second).await;
    assert!(
        result.is_error == Some(true),
        "BUG: a second ₹45,000 link was created for an invoice get_invoice reports as paid: {:?}",
        result.structured_content
    );
}

/// The invoices database is unshared after start-up: list_invoices should say to share it (Unshared), as
/// get_invoice does.
#[tokio::test]
async fn list_invoices_on_an_unshared_database_says_to_share_it() {
    let notion = notion_stub().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/data_sources/{DS}/query")))
        .respond_with(ResponseTemplate::new(404).set_body_json(nj("error_object_not_found.json")))
        .mount(&notion)
        .await;
    let client =
        connect_with(Arc::new(switchboard::state::AppState::new(with_notion(config(None, None), &notion.uri()))), ())
            .await;
    let text = error_text(&call(&client, "list_invoices", json!({})).await);
    assert!(text.contains("share its database with the integration"), "not mapped to Unshared: {text}");
}
