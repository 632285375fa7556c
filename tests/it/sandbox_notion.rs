//! `switchboard demo` as a Notion invoice book: the sandbox speaks Notion's API (2025-09-03 data sources) to the
//! real Notion client — schema, filtered and sorted queries with cursors, page reads and property writes, errors
//! in Notion's envelope — and a link paid for a Notion invoice turns its sandbox page Paid.

use crate::helpers::{call, config, connect_with, fast_outbound, structured};
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use switchboard::config::ConfirmMode;
use switchboard::demo::{self, Demo, DemoOptions};
use switchboard::domain::{CustomerRef, Email, InvoiceQuery, InvoiceStatus};
use switchboard::providers::Invoices;
use switchboard::providers::notion::{NotionClient, Update};
use tokio_util::sync::CancellationToken;

const ASHA: &str = "asha.rao@kaveri-foods.example";

struct RunningDemo {
    demo: Demo,
    base: String,
    shutdown: CancellationToken,
}

impl Drop for RunningDemo {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The demo wired as `switchboard demo` wires it, with the invoice book's write-back worker running.
async fn start_demo(dir: &Path) -> RunningDemo {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut cfg = config(None, None);
    cfg.data_dir = dir.to_path_buf();
    cfg.confirm = ConfirmMode::Never;
    let options = DemoOptions {
        addr,
        reset: false,
        webhook_delay: Duration::ZERO,
        duplicate_webhooks: false,
        allow_remote: false,
        data_dir: Some(dir.to_path_buf()),
    };
    let shutdown = CancellationToken::new();
    let demo = demo::build(cfg, &options, addr, shutdown.clone()).unwrap();
    switchboard::writeback::spawn(demo.state.clone(), shutdown.clone()).expect("the demo has an invoice book");
    let app = demo.app.clone();
    let limits = demo.state.config.http.limits.clone();
    let serving = shutdown.clone();
    tokio::spawn(async move { switchboard::transport::http::serve_app(listener, app, &limits, serving).await });
    RunningDemo { demo, base: format!("http://{addr}"), shutdown }
}

impl RunningDemo {
    fn book(&self) -> Arc<NotionClient> {
        self.demo.state.providers.book().unwrap()
    }

    fn api(&self, path: &str) -> String {
        format!("{}/sandbox/notion{path}", self.base)
    }

    /// The data source's query URL, as the real client resolved it from the database.
    async fn data_source_query(&self) -> String {
        let source = self.book().book().await.unwrap().data_source_id.clone();
        self.api(&format!("/v1/data_sources/{source}/query"))
    }

    /// An authenticated Notion API request with the pinned version.
    fn notion(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let token = self.demo.sandbox.notion_config().token.expose_secret().to_string();
        reqwest::Client::new().request(method, url).bearer_auth(token).header("Notion-Version", "2025-09-03")
    }

    async fn query(&self, body: Value) -> (StatusCode, Value) {
        let answer =
            self.notion(reqwest::Method::POST, &self.data_source_query().await).json(&body).send().await.unwrap();
        (answer.status(), answer.json().await.unwrap())
    }
}

fn numbers(list: &Value) -> Vec<String> {
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["properties"]["Invoice"]["title"][0]["plain_text"].as_str().unwrap().to_string())
        .collect()
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn the_real_notion_client_reads_the_sandbox_book_through_the_tools() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_demo(dir.path()).await;
    let book = running.book();
    let checked = book.book().await.expect("the sandbox's schema matches Switchboard's default property map");
    assert_eq!(checked.database_id.as_deref(), Some(running.demo.sandbox.notion_config().database_id.as_str()));
    assert_eq!(checked.status_options, ["Draft", "Issued", "Paid", "Cancelled"]);

    let client = connect_with(running.demo.state.clone(), ()).await;
    let all = structured(&call(&client, "list_invoices", json!({})).await);
    let listed: Vec<(&str, &str, &str)> = all["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["number"].as_str().unwrap(), i["status"].as_str().unwrap(), i["provider"].as_str().unwrap()))
        .collect();
    // Newest issued first; the draft has no issue date, so it comes last.
    assert_eq!(
        listed,
        [
            ("INV-2026-0118", "open", "notion"),
            ("INV-2026-0112", "overdue", "notion"),
            ("INV-2026-0097", "paid", "notion"),
            ("INV-2026-0121", "draft", "notion")
        ]
    );
    let overdue = structured(&call(&client, "list_invoices", json!({"customer": ASHA, "status": "overdue"})).await);
    let invoice = &overdue["invoices"][0];
    assert_eq!(overdue["invoices"].as_array().unwrap().len(), 1, "{overdue}");
    assert_eq!(invoice["amount_due"]["formatted"], "₹45,000.00");
    assert_eq!(invoice["provider_status"], "Issued");
    let id = invoice["id"].as_str().unwrap();
    let fetched = structured(&call(&client, "get_invoice", json!({"invoice_id": id.replace('-', "")})).await);
    assert_eq!(fetched["customer"]["name"], "Kaveri Foods Pvt Ltd");
    assert_eq!(fetched["record_url"], format!("{}/sandbox/notion/page/{}", running.base, id.replace('-', "")));
    let draft = structured(&call(&client, "list_invoices", json!({"status": "draft"})).await);
    assert_eq!(draft["invoices"][0]["total"]["minor_units"], 825_050, "8250.5 in Notion is ₹8,250.50 exactly");

    // The client's own query: Notion filters by e-mail and status; the sandbox applied them.
    let query = InvoiceQuery {
        customer: Some(CustomerRef::Email(Email::parse("customer", ASHA).unwrap())),
        status: Some(InvoiceStatus::Paid),
        created_from: None,
        created_to: None,
        limit: 10,
        position: None,
    };
    assert!(book.list_invoices(&query).await.unwrap().invoices.is_empty(), "Asha has no paid invoice");
}

#[tokio::test]
async fn the_sandbox_evaluates_notion_filters_sorts_and_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_demo(dir.path()).await;
    let today = switchboard::domain::time::rfc3339(switchboard::domain::time::now()).unwrap()[..10].to_string();
    let status = |op: &str, name: &str| json!({"property": "Status", "status": {op: name}});
    let cases = [
        (
            json!({"property": "Customer Email", "email": {"equals": "ASHA.RAO@kaveri-foods.example"}}),
            vec!["INV-2026-0112"],
        ),
        (json!({"property": "Invoice", "title": {"contains": "011"}}), vec!["INV-2026-0118", "INV-2026-0112"]),
        (
            json!({"property": "Customer", "rich_text": {"starts_with": "lotus"}}),
            vec!["INV-2026-0121", "INV-2026-0097"],
        ),
        (json!({"or": [status("equals", "Paid"), status("equals", "Draft")]}), vec!["INV-2026-0121", "INV-2026-0097"]),
        (
            json!({"and": [status("does_not_equal", "Paid"), {"property": "Due", "date": {"before": today}}]}),
            vec!["INV-2026-0112"],
        ),
        (json!({"property": "Issued", "date": {"on_or_after": today}}), vec![]),
        (json!({"property": "Issued", "date": {"is_empty": true}}), vec!["INV-2026-0121"]),
        (
            json!({"property": "Amount", "number": {"greater_than_or_equal_to": 24000}}),
            vec!["INV-2026-0112", "INV-2026-0097"],
        ),
    ];
    for (filter, expected) in cases {
        let (status, list) = running.query(json!({"filter": filter})).await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(numbers(&list), expected, "for {filter}");
        assert_eq!((list["object"].as_str(), list["has_more"].as_bool()), (Some("list"), Some(false)));
    }

    // Sorted by amount, one row per page: the cursors walk every row once, in order.
    let sorts = json!([{"property": "Amount", "direction": "ascending"}]);
    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let mut body = json!({"sorts": sorts, "page_size": 1});
        if !cursor.is_null() {
            body["start_cursor"] = cursor.clone();
        }
        let (status, page) = running.query(body).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(numbers(&page));
        if !page["has_more"].as_bool().unwrap() {
            assert!(page["next_cursor"].is_null());
            break;
        }
        cursor = page["next_cursor"].clone();
    }
    assert_eq!(seen, ["INV-2026-0121", "INV-2026-0118", "INV-2026-0097", "INV-2026-0112"]);
    let (_, by_created) =
        running.query(json!({"sorts": [{"timestamp": "created_time", "direction": "ascending"}]})).await;
    assert_eq!(numbers(&by_created), ["INV-2026-0097", "INV-2026-0112", "INV-2026-0118", "INV-2026-0121"]);

    // What Notion refuses, the sandbox refuses in Notion's envelope.
    for (body, says) in [
        (json!({"page_size": 101}), "page_size"),
        (
            json!({"filter": {"property": "Colour", "select": {"equals": "red"}}}),
            "Could not find property with name or id: Colour",
        ),
        (json!({"filter": {"property": "Status", "select": {"equals": "Paid"}}}), "filter it with `status`"),
        (json!({"start_cursor": "not-a-cursor"}), "start_cursor"),
        (json!({"sorts": [{"property": "Amount", "direction": "sideways"}]}), "direction"),
    ] {
        let (status, error) = running.query(body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!((error["object"].as_str(), error["status"].as_u64()), (Some("error"), Some(400)));
        assert_eq!(error["code"], "validation_error", "{body}");
        assert!(error["message"].as_str().unwrap().contains(says), "{error}");
        assert!(error["request_id"].is_string());
    }
}

#[tokio::test]
async fn page_writes_land_and_bad_ones_are_refused_in_notions_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_demo(dir.path()).await;
    let book = running.book();
    let (_, list) =
        running.query(json!({"filter": {"property": "Invoice", "title": {"equals": "INV-2026-0118"}}})).await;
    let id = list["results"][0]["id"].as_str().unwrap().to_string();
    let page_url = running.api(&format!("/v1/pages/{id}"));

    // The real client's writes: the link, then paid.
    let url = format!("{}/sandbox/pay/plink_Manual0000001", running.base);
    let linked = book.update(&id, &Update::PaymentLink { url: url.clone() }).await.unwrap();
    assert_eq!(linked.payment_url.as_deref(), Some(url.as_str()));
    let paid = Update::Paid { paid_on: "2026-11-29".into(), payment_id: "pay_SandboxPaid0001".into() };
    let invoice = book.update(&id, &paid).await.unwrap();
    assert_eq!((invoice.status, invoice.provider_status.as_str()), (InvoiceStatus::Paid, "Paid"));
    let read = book.get_invoice_now(&id).await.unwrap();
    assert_eq!(read.paid_at.as_deref(), Some("2026-11-29T00:00:00Z"));
    let page: Value = running.notion(reqwest::Method::GET, &page_url).send().await.unwrap().json().await.unwrap();
    assert_eq!(page["properties"]["Payment ID"]["rich_text"][0]["plain_text"], "pay_SandboxPaid0001");
    assert_eq!(page["properties"]["Status"]["status"]["color"], "green");
    assert_eq!(page["parent"]["type"], "data_source_id");

    // Refused writes change nothing.
    for (properties, says) in [
        (json!({"Colour": {"select": {"name": "red"}}}), "Could not find property with name or id: Colour"),
        (
            json!({"Status": {"status": {"name": "Settled"}}}),
            "Invalid status option. Status option \"Settled\" does not exist.",
        ),
        (json!({"Status": {"status": {"name": "Cancelled"}}, "Amount": {"number": "lots"}}), "should be a number"),
    ] {
        let answer = running.notion(reqwest::Method::PATCH, &page_url).json(&json!({"properties": properties})).send();
        let answer = answer.await.unwrap();
        assert_eq!(answer.status(), 400);
        let error: Value = answer.json().await.unwrap();
        assert_eq!(error["code"], "validation_error");
        assert!(error["message"].as_str().unwrap().contains(says), "{error}");
    }
    assert_eq!(book.get_invoice_now(&id).await.unwrap().provider_status, "Paid", "the refused writes changed nothing");

    // Credentials, version, unknown and malformed ids: Notion's codes.
    let http = reqwest::Client::new();
    let no_token =
        http.get(&page_url).header("Notion-Version", "2025-09-03").bearer_auth("ntn_wrong").send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    let error: Value = no_token.json().await.unwrap();
    assert_eq!(
        (error["code"].as_str(), error["message"].as_str()),
        (Some("unauthorized"), Some("API token is invalid."))
    );
    let token = running.demo.sandbox.notion_config().token.expose_secret().to_string();
    let unversioned: Value = http.get(&page_url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!((unversioned["status"].as_u64(), unversioned["code"].as_str()), (Some(400), Some("missing_version")));
    let missing =
        running.notion(reqwest::Method::GET, &running.api("/v1/pages/0f0e0d0c0b0a49088706050403020100")).send();
    let missing: Value = missing.await.unwrap().json().await.unwrap();
    assert_eq!(missing["code"], "object_not_found");
    assert!(missing["message"].as_str().unwrap().contains("0f0e0d0c-0b0a-4908-8706-050403020100"), "{missing}");
    let malformed = running.notion(reqwest::Method::GET, &running.api("/v1/pages/INV-2026-0118")).send().await.unwrap();
    assert_eq!(malformed.status(), 400);

    // The real client with a wrong token hears Notion's 401 as a credentials problem.
    let mut wrong = running.demo.sandbox.notion_config();
    wrong.token = secrecy::SecretString::from("ntn_NotTheSandboxToken");
    let http =
        Arc::new(switchboard::providers::http::HttpClient::new(fast_outbound(), running.demo.state.redactor.clone()));
    let refused = NotionClient::new(wrong, http).get_invoice_now(&id).await.unwrap_err().to_string();
    assert!(refused.contains("Notion rejected Switchboard's API credentials"), "{refused}");
}

#[tokio::test]
async fn a_link_paid_for_a_notion_invoice_turns_its_sandbox_page_paid() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_demo(dir.path()).await;
    let client = connect_with(running.demo.state.clone(), ()).await;
    let overdue = structured(&call(&client, "list_invoices", json!({"customer": ASHA, "status": "overdue"})).await);
    let id = overdue["invoices"][0]["id"].as_str().unwrap().to_string();
    let view = format!("{}/sandbox/notion/page/{}", running.base, id.replace('-', ""));
    let http = reqwest::Client::new();
    let before = http.get(&view).send().await.unwrap().text().await.unwrap();
    assert!(before.contains("<strong id=\"status\">Issued</strong>") && before.contains("id=\"overdue\""), "{before}");

    let args = json!({"amount": "45000", "currency": "INR", "invoice_id": id, "customer": {"email": ASHA, "name": "Asha Rao"}});
    let link = structured(&call(&client, "create_payment_link", args).await);
    assert_eq!(link["invoice_id"], id.as_str());
    let note = link["invoice_note"].as_str().unwrap();
    assert!(note.contains("marked paid (with the payment id and date)") && !note.contains("  "), "{note}");
    let pay_url = link["url"].as_str().unwrap().to_string();
    let book = running.book();
    until("the link on the Notion page", async || {
        book.get_invoice_now(&id).await.unwrap().payment_url.as_deref() == Some(pay_url.as_str())
    })
    .await;

    let paid = http.post(&pay_url).form(&[("delay_ms", "0")]).send().await.unwrap();
    assert_eq!(paid.status(), 200);
    let waited = structured(
        &call(&client, "wait_for_payment", json!({"payment_link_id": link["id"], "timeout_secs": 20})).await,
    );
    assert_eq!(waited["paid"], true, "{waited}");
    let client = &client;
    // The page is PATCHed, then the update recorded as done: wait for both.
    until("the Notion page to read Paid with nothing owed", async || {
        let invoice = structured(&call(client, "get_invoice", json!({"invoice_id": id})).await);
        invoice["provider_status"] == "Paid" && invoice.get("pending_updates").is_none()
    })
    .await;
    let invoice = structured(&call(client, "get_invoice", json!({"invoice_id": id})).await);
    assert_eq!((invoice["status"].as_str(), invoice["amount_due"]["minor_units"].as_i64()), (Some("paid"), Some(0)));
    let payment_id = waited["payment_id"].as_str().unwrap();

    let after = http.get(&view).send().await.unwrap().text().await.unwrap();
    assert!(after.contains("<strong id=\"status\" class=\"ok\">Paid</strong>"), "{after}");
    assert!(after.contains(payment_id) && after.contains(&format!("href=\"{pay_url}\"")), "{after}");
    assert!(!after.contains("id=\"overdue\""));
    let home = http.get(format!("{}/sandbox", running.base)).send().await.unwrap().text().await.unwrap();
    let row = home.split("<tr>").find(|r| r.contains("INV-2026-0112")).unwrap();
    assert!(row.contains("class=\"ok\">Paid<"), "{row}");
    let nothing = http.get(format!("{}/sandbox/notion/page/{}", running.base, "0".repeat(32))).send().await.unwrap();
    assert_eq!(nothing.status(), 404);
}

#[tokio::test]
async fn a_sandbox_saved_before_notion_gets_its_book_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let delivery = switchboard::sandbox::DeliveryOptions { delay: Duration::ZERO, duplicate: false };
    let open =
        || switchboard::sandbox::Sandbox::open(dir.path(), false, "http://127.0.0.1:1".into(), delivery).unwrap();
    drop(open());
    let file = dir.path().join("sandbox.json");
    let mut saved: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    saved.as_object_mut().unwrap().remove("notion");
    saved["credentials"].as_object_mut().unwrap().remove("notion_token");
    let razorpay_key = saved["credentials"]["razorpay_key_id"].clone();
    std::fs::write(&file, serde_json::to_vec(&saved).unwrap()).unwrap();

    let migrated = open().notion_config();
    let world: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(world["notion"]["pages"].as_array().unwrap().len(), 4, "the book was seeded");
    assert_eq!(world["credentials"]["razorpay_key_id"], razorpay_key, "the rest is kept");
    let again = open().notion_config();
    assert_eq!(again.database_id, migrated.database_id, "and saved: the same book on the next start");
    assert_eq!(again.token.expose_secret(), migrated.token.expose_secret());
}
