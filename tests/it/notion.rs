//! Notion as the invoice book, against a wiremock Notion that speaks its real wire format (2025-09-03 data
//! sources): exact requests, errors mapped, and the write-back of payment links and payments.

use crate::helpers::{call, config, connect, connect_with, error_text, fixture, structured};
use crate::webhooks::{deliver_razorpay, start, with_webhooks};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::config::{Config, NotionConfig, NotionProperties};
use switchboard::state::AppState;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub const NOTION_TOKEN: &str = "ntn_CANARY_notion_token_5150";
pub const DB: &str = "9b1c0f3e-2d4a-4f5b-8c6d-7e8f9a0b1c2d";
pub const DS: &str = "d7e8f9a0-1b2c-4d3e-9f40-5a6b7c8d9e0f";
pub const PAGE: &str = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
const PAGE_URL: &str = "https://www.notion.so/acme/INV-2026-0142-1a2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d?pvs=4";

pub fn with_notion(mut cfg: Config, url: &str) -> Config {
    cfg.notion = Some(NotionConfig {
        token: SecretString::from(NOTION_TOKEN),
        database_id: DB.to_string(),
        base_url: url.parse().unwrap(),
        properties: NotionProperties::default(),
        paid_status: "Paid".into(),
        default_currency: None,
    });
    cfg
}

fn json_fixture(name: &str) -> Value {
    serde_json::from_str(&fixture(&format!("notion/{name}"))).unwrap()
}

fn notion_error(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json_fixture(name))
}

/// Notion with the invoices database, its data source and one invoice page; every route insists on the pinned
/// version and the integration's token.
pub async fn notion_stub() -> MockServer {
    let server = MockServer::start().await;
    let get = |p: String| {
        Mock::given(method("GET"))
            .and(path(p))
            .and(header("Notion-Version", "2025-09-03"))
            .and(header("Authorization", format!("Bearer {NOTION_TOKEN}").as_str()))
    };
    get(format!("/v1/databases/{DB}"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json_fixture("database.json")))
        .mount(&server)
        .await;
    get(format!("/v1/data_sources/{DS}"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json_fixture("data_source.json")))
        .mount(&server)
        .await;
    get(format!("/v1/pages/{PAGE}"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json_fixture("page_overdue.json")))
        .mount(&server)
        .await;
    server
}

/// Writes to a page answer with the page as it then reads.
async fn accept_patches(server: &MockServer) {
    Mock::given(method("PATCH"))
        .and(path(format!("/v1/pages/{PAGE}")))
        .and(header("Notion-Version", "2025-09-03"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json_fixture("page_paid.json")))
        .mount(server)
        .await;
}

async fn requests(server: &MockServer, verb: &str, route: &str) -> Vec<Request> {
    let all = server.received_requests().await.unwrap();
    all.into_iter().filter(|r| r.method.as_str() == verb && r.url.path() == route).collect()
}

fn body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

#[tokio::test]
async fn get_invoice_reads_a_page_by_id_dashless_id_or_url_with_exact_amounts() {
    let notion = notion_stub().await;
    let client = connect(with_notion(config(None, None), &notion.uri())).await;
    for id in [PAGE, &PAGE.replace('-', ""), PAGE_URL] {
        let invoice = structured(&call(&client, "get_invoice", json!({"invoice_id": id})).await);
        assert_eq!(invoice["id"], PAGE);
        assert_eq!(invoice["provider"], "notion");
        assert_eq!(invoice["number"], "INV-2026-0142");
        assert_eq!(invoice["total"]["minor_units"], 4_500_000, "45000 typed in Notion is ₹45,000.00 exactly");
        assert_eq!(invoice["amount_due"]["minor_units"], 4_500_000);
        assert_eq!(invoice["currency"], "INR");
        assert_eq!(
            (invoice["status"].as_str(), invoice["provider_status"].as_str()),
            (Some("overdue"), Some("Issued"))
        );
        assert_eq!(invoice["due_at"], "2026-11-15T23:59:59Z");
        assert_eq!(invoice["issued_at"], "2026-11-01T00:00:00Z");
        assert_eq!(invoice["customer"]["email"], "ananya.sharma@kavyatextiles.in");
        assert_eq!(invoice["customer"]["name"], "Kavya Textiles");
        assert_eq!(invoice["record_url"], "https://www.notion.so/INV-2026-0142-1a2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d");
    }
    // The database is resolved to its data source and the schema checked once, not per call.
    assert_eq!(requests(&notion, "GET", &format!("/v1/databases/{DB}")).await.len(), 1);
    assert_eq!(requests(&notion, "GET", &format!("/v1/data_sources/{DS}")).await.len(), 1);
    assert_eq!(requests(&notion, "GET", &format!("/v1/pages/{PAGE}")).await.len(), 3);
}

#[tokio::test]
async fn list_invoices_sends_notion_the_filter_and_sorts_for_each_combination() {
    let notion = notion_stub().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/data_sources/{DS}/query")))
        .and(header("Notion-Version", "2025-09-03"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json_fixture("query_page2.json")))
        .mount(&notion)
        .await;
    let client = connect(with_notion(config(None, None), &notion.uri())).await;
    let today = switchboard::domain::time::rfc3339(switchboard::domain::time::now()).unwrap()[..10].to_string();
    let email = json!({"property": "Customer Email", "email": {"equals": "ananya.sharma@kavyatextiles.in"}});
    let from = json!({"property": "Issued", "date": {"on_or_after": "2026-11-01"}});
    let to = json!({"property": "Issued", "date": {"on_or_before": "2026-11-30"}});
    let not_paid = json!({"property": "Status", "status": {"does_not_equal": "Paid"}});
    let paid = json!({"property": "Status", "status": {"equals": "Paid"}});
    let due_before = json!({"property": "Due", "date": {"before": today}});
    let cases = [
        (json!({}), None),
        (json!({"customer": "ananya.sharma@kavyatextiles.in"}), Some(email.clone())),
        (json!({"status": "paid"}), Some(paid)),
        (json!({"status": "overdue"}), Some(json!({"and": [not_paid.clone(), due_before.clone()]}))),
        (json!({"status": "open"}), Some(not_paid.clone())),
        (
            json!({"created_from": "2026-11-01", "created_to": "2026-11-30"}),
            Some(json!({"and": [from.clone(), to.clone()]})),
        ),
        (
            json!({"customer": "ananya.sharma@kavyatextiles.in", "status": "overdue", "created_from": "2026-11-01", "created_to": "2026-11-30"}),
            Some(json!({"and": [email, from, to, not_paid, due_before]})),
        ),
    ];
    for (args, filter) in cases {
        structured(&call(&client, "list_invoices", args.clone()).await);
        let sent = requests(&notion, "POST", &format!("/v1/data_sources/{DS}/query")).await;
        let mut expected = json!({
            "sorts": [
                {"property": "Issued", "direction": "descending"},
                {"timestamp": "created_time", "direction": "descending"}
            ],
            "page_size": 100
        });
        if let Some(filter) = filter {
            expected["filter"] = filter;
        }
        assert_eq!(body(sent.last().unwrap()), expected, "for {args}");
    }
}

#[tokio::test]
async fn list_invoices_walks_notion_cursors_and_resumes_mid_page() {
    let notion = notion_stub().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/data_sources/{DS}/query")))
        .respond_with(|r: &Request| {
            let page = if body(r).get("start_cursor").is_some() { "query_page2.json" } else { "query_page1.json" };
            ResponseTemplate::new(200).set_body_json(json_fixture(page))
        })
        .mount(&notion)
        .await;
    let client = connect(with_notion(config(None, None), &notion.uri())).await;
    let numbers = |list: &Value| -> Vec<String> {
        list["invoices"].as_array().unwrap().iter().map(|i| i["number"].as_str().unwrap().to_string()).collect()
    };
    // All at once: both Notion pages.
    let all = structured(&call(&client, "list_invoices", json!({"limit": 10})).await);
    assert_eq!(numbers(&all), ["INV-2026-0150", "INV-2026-0142", "INV-2026-0131"]);
    assert_eq!(all["has_more"], false);
    // One at a time: the second resumes inside Notion's first page, the third moves to its second.
    let mut cursor = Value::Null;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let mut args = json!({"limit": 1});
        if !cursor.is_null() {
            args["cursor"] = cursor.clone();
        }
        let page = structured(&call(&client, "list_invoices", args).await);
        seen.extend(numbers(&page));
        cursor = page["next_cursor"].clone();
    }
    assert_eq!(seen, ["INV-2026-0150", "INV-2026-0142", "INV-2026-0131"]);
    assert!(cursor.is_null(), "nothing after the last invoice");
    let sent = requests(&notion, "POST", &format!("/v1/data_sources/{DS}/query")).await;
    let cursors: Vec<Value> = sent.iter().map(|r| body(r)["start_cursor"].clone()).collect();
    let next = json!("e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b");
    assert_eq!(cursors, [Value::Null, next.clone(), Value::Null, Value::Null, next]);
    // The paid row reads paid, with its book word and a fraction-of-a-rupee amount kept exact.
    assert_eq!(all["invoices"][2]["status"], "paid");
    assert_eq!(all["invoices"][0]["total"]["minor_units"], 129_950);
}

#[tokio::test]
async fn notion_errors_become_sentences_the_model_can_act_on() {
    let notion = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/databases/{DB}")))
        .respond_with(notion_error(401, "error_unauthorized.json"))
        .mount(&notion)
        .await;
    let client = connect(with_notion(config(None, None), &notion.uri())).await;
    let text = error_text(&call(&client, "get_invoice", json!({"invoice_id": PAGE})).await);
    assert!(text.contains("Notion rejected Switchboard's API credentials"), "{text}");

    // A page the integration cannot see: share the database.
    let notion = notion_stub().await;
    let missing = "0f0e0d0c-0b0a-4908-8706-050403020100";
    Mock::given(method("GET"))
        .and(path(format!("/v1/pages/{missing}")))
        .respond_with(notion_error(404, "error_object_not_found.json"))
        .mount(&notion)
        .await;
    let client = connect(with_notion(config(None, None), &notion.uri())).await;
    let text = error_text(&call(&client, "get_invoice", json!({"invoice_id": missing})).await);
    assert!(text.contains("share its database with the integration"), "{text}");
    assert!(text.contains(missing), "{text}");

    // Not a Notion id at all, with provider notion: which shape to send.
    let text = error_text(&call(&client, "get_invoice", json!({"invoice_id": "INV-0142", "provider": "notion"})).await);
    assert!(text.contains("page id (32 hex digits"), "{text}");
    // Notion makes no payment links.
    let text = error_text(
        &call(&client, "create_payment_link", json!({"amount": "10", "currency": "INR", "provider": "notion"})).await,
    );
    assert!(text.contains("Notion has no payment links"), "{text}");
}

#[tokio::test]
async fn rate_limits_and_overload_are_retried_after_the_time_notion_asks() {
    for (status, fixture_name) in [(429, "error_rate_limited.json"), (529, "error_service_overload.json")] {
        let notion = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(format!("/v1/pages/{PAGE}")))
            .respond_with(notion_error(status, fixture_name).insert_header("Retry-After", "1"))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&notion)
            .await;
        for mock in ["database.json", "data_source.json", "page_overdue.json"] {
            let route = match mock {
                "database.json" => format!("/v1/databases/{DB}"),
                "data_source.json" => format!("/v1/data_sources/{DS}"),
                _ => format!("/v1/pages/{PAGE}"),
            };
            Mock::given(method("GET"))
                .and(path(route))
                .respond_with(ResponseTemplate::new(200).set_body_json(json_fixture(mock)))
                .with_priority(2)
                .mount(&notion)
                .await;
        }
        let client = connect(with_notion(config(None, None), &notion.uri())).await;
        let started = Instant::now();
        let invoice = structured(&call(&client, "get_invoice", json!({"invoice_id": PAGE})).await);
        assert_eq!(invoice["number"], "INV-2026-0142", "HTTP {status}");
        assert!(started.elapsed() >= Duration::from_millis(950), "HTTP {status}: Retry-After 1 s was honoured");
        assert_eq!(requests(&notion, "GET", &format!("/v1/pages/{PAGE}")).await.len(), 2, "HTTP {status}");
    }
    // Rate limited for good: the model is told, with the wait Notion asked for.
    let notion = notion_stub().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/data_sources/{DS}/query")))
        .respond_with(notion_error(429, "error_rate_limited.json").insert_header("Retry-After", "0"))
        .mount(&notion)
        .await;
    let client = connect(with_notion(config(None, None), &notion.uri())).await;
    let text = error_text(&call(&client, "list_invoices", json!({})).await);
    assert!(text.contains("Notion is rate limiting requests"), "{text}");
}

#[tokio::test]
async fn a_schema_that_does_not_match_the_property_map_names_each_property() {
    let notion = MockServer::start().await;
    let mut source = json_fixture("data_source.json");
    source["properties"].as_object_mut().unwrap().remove("Amount");
    source["properties"]["Due"]["type"] = json!("rich_text");
    Mock::given(method("GET"))
        .and(path(format!("/v1/databases/{DB}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json_fixture("database.json")))
        .mount(&notion)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/data_sources/{DS}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(source))
        .mount(&notion)
        .await;
    let client = connect(with_notion(config(None, None), &notion.uri())).await;
    let text = error_text(&call(&client, "list_invoices", json!({})).await);
    assert!(text.contains("property 'Amount' is missing (add a Number property named 'Amount'"), "{text}");
    assert!(text.contains("property 'Due' is a Text property but must be Date"), "{text}");
    assert!(requests(&notion, "POST", &format!("/v1/data_sources/{DS}/query")).await.is_empty(), "nothing queried");
}

#[tokio::test]
async fn an_amount_with_more_decimals_than_its_currency_is_refused_not_rounded() {
    let notion = notion_stub().await;
    let odd = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e";
    let mut page = json_fixture("page_overdue.json");
    page["id"] = json!(odd);
    page["properties"]["Amount"]["number"] = json!(45000.125);
    Mock::given(method("GET"))
        .and(path(format!("/v1/pages/{odd}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(page))
        .mount(&notion)
        .await;
    let client = connect(with_notion(config(None, None), &notion.uri())).await;
    let text = error_text(&call(&client, "get_invoice", json!({"invoice_id": odd})).await);
    assert!(text.contains("invoice INV-2026-0142"), "{text}");
    assert!(text.contains("'Amount' is 45000.125") && text.contains("at most 2 digits"), "{text}");
}

/// The server's receiver, an in-process MCP client on the same state, and the write-back worker.
struct Book {
    rx: crate::webhooks::Receiver,
    worker: CancellationToken,
}

impl Drop for Book {
    fn drop(&mut self) {
        self.worker.cancel();
    }
}

async fn serve_book(cfg: Config) -> Book {
    let rx = start(cfg).await;
    let worker = CancellationToken::new();
    switchboard::writeback::spawn(rx.state.clone(), worker.clone()).expect("a book is configured");
    Book { rx, worker }
}

async fn razorpay_links() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_links"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json_fixture_rz("payment_link_created.json")))
        .mount(&server)
        .await;
    server
}

fn json_fixture_rz(name: &str) -> Value {
    serde_json::from_str(&fixture(&format!("razorpay/{name}"))).unwrap()
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn link_args() -> Value {
    json!({"amount": "45000", "currency": "INR", "invoice_id": PAGE_URL, "customer": {"email": "ananya.sharma@kavyatextiles.in"}})
}

fn expected_paid_patch(paid_on: &str) -> Value {
    json!({"properties": {
        "Status": {"status": {"name": "Paid"}},
        "Paid At": {"date": {"start": paid_on}},
        "Payment ID": {"rich_text": [{"text": {"content": "pay_SCx9RtYu3IoP4a"}}]}
    }})
}

#[tokio::test]
async fn a_link_for_a_notion_invoice_is_written_to_its_page_and_the_paid_webhook_marks_it_paid_once() {
    let notion = notion_stub().await;
    accept_patches(&notion).await;
    let razorpay = razorpay_links().await;
    let book = serve_book(with_webhooks(with_notion(config(Some(&razorpay.uri()), None), &notion.uri()))).await;
    let client = connect_with(book.rx.state.clone(), ()).await;
    let patches = format!("/v1/pages/{PAGE}");

    let created = structured(&call(&client, "create_payment_link", link_args()).await);
    assert_eq!(created["invoice_id"], PAGE);
    let sent = body(&requests(&razorpay, "POST", "/v1/payment_links").await[0]);
    assert_eq!(sent["description"], "Invoice INV-2026-0142", "the invoice number describes the link");
    assert_eq!(sent["notes"]["reference_id"], "INV-2026-0142", "and is its reference");
    until("the link's URL in Notion", async || requests(&notion, "PATCH", &patches).await.len() == 1).await;
    assert_eq!(
        body(&requests(&notion, "PATCH", &patches).await[0]),
        json!({"properties": {"Payment Link": {"url": "https://rzp.io/i/k2Ht8Zq"}}})
    );

    let webhook = fixture("razorpay/webhook_payment_link_paid.json");
    for _ in 0..5 {
        assert_eq!(deliver_razorpay(book.rx.addr, webhook.trim(), "evt_RZ_paid_0142").await, StatusCode::OK);
    }
    until("the paid update in Notion", async || requests(&notion, "PATCH", &patches).await.len() >= 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let writes = requests(&notion, "PATCH", &patches).await;
    assert_eq!(writes.len(), 2, "one link write and one paid write, however often the webhook came");
    assert_eq!(body(&writes[1]), expected_paid_patch("2026-11-23"));
    let invoice = structured(&call(&client, "get_invoice", json!({"invoice_id": PAGE})).await);
    assert!(invoice.get("pending_updates").is_none(), "nothing owed: {invoice}");
}

#[tokio::test]
async fn when_notion_is_down_the_paid_update_lands_after_it_returns_even_across_a_restart() {
    let notion = notion_stub().await;
    Mock::given(method("PATCH"))
        .and(path(format!("/v1/pages/{PAGE}")))
        .respond_with(notion_error(503, "error_service_unavailable.json"))
        .mount(&notion)
        .await;
    let razorpay = razorpay_links().await;
    let cfg = with_webhooks(with_notion(config(Some(&razorpay.uri()), None), &notion.uri()));
    let book = serve_book(cfg.clone()).await;
    let client = connect_with(book.rx.state.clone(), ()).await;
    structured(&call(&client, "create_payment_link", link_args()).await);
    let webhook = fixture("razorpay/webhook_payment_link_paid.json");
    assert_eq!(deliver_razorpay(book.rx.addr, webhook.trim(), "evt_RZ_paid_0142").await, StatusCode::OK);

    // The agent sees the payment, and that the book does not have it yet, and why.
    let state = book.rx.state.clone();
    until("both updates attempted", async || {
        let owed = state.store.write_backs().for_invoice(PAGE).await.unwrap();
        owed.len() == 2 && owed.iter().all(|w| w.attempts > 0)
    })
    .await;
    let invoice = structured(&call(&client, "get_invoice", json!({"invoice_id": PAGE})).await);
    assert_eq!((invoice["status"].as_str(), invoice["provider_status"].as_str()), (Some("paid"), Some("Issued")));
    let pending = invoice["pending_updates"].as_array().unwrap();
    assert_eq!(pending.len(), 2, "{invoice}");
    assert_eq!(pending[1]["update"], "paid");
    assert!(pending[1]["error"].as_str().unwrap().contains("HTTP 503"), "{invoice}");

    // Stop the server while Notion is down; start again once it is back.
    drop(client);
    drop(book);
    tokio::time::sleep(Duration::from_millis(200)).await;
    notion.reset().await;
    for (route, name) in [
        (format!("/v1/databases/{DB}"), "database.json"),
        (format!("/v1/data_sources/{DS}"), "data_source.json"),
        (format!("/v1/pages/{PAGE}"), "page_overdue.json"),
    ] {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(ResponseTemplate::new(200).set_body_json(json_fixture(name)))
            .mount(&notion)
            .await;
    }
    accept_patches(&notion).await;
    let restarted = serve_book(cfg).await;
    let patches = format!("/v1/pages/{PAGE}");
    until("both updates after the restart", async || requests(&notion, "PATCH", &patches).await.len() >= 2).await;
    let writes: Vec<Value> = requests(&notion, "PATCH", &patches).await.iter().map(body).collect();
    assert!(writes.contains(&expected_paid_patch("2026-11-23")), "{writes:?}");
    assert!(writes.contains(&json!({"properties": {"Payment Link": {"url": "https://rzp.io/i/k2Ht8Zq"}}})));
    let state: Arc<AppState> = restarted.rx.state.clone();
    until("the queue to empty", async || {
        let owed = state.store.write_backs().for_invoice(PAGE).await.unwrap();
        owed.iter().all(|w| w.state == switchboard::domain::writeback::WriteBackState::Done)
    })
    .await;
}

#[tokio::test]
async fn set_invoice_status_marks_an_invoice_paid_in_cash_after_a_person_approves_and_says_so_on_the_page() {
    use crate::payment_links::Confirming;
    use std::sync::Mutex;
    use switchboard::config::ConfirmMode;
    let notion = notion_stub().await;
    accept_patches(&notion).await;
    let asked = Arc::new(Mutex::new(Vec::new()));
    let user = Confirming { accept: true, asked: asked.clone() };
    let cfg = Config { confirm: ConfirmMode::Elicit, ..with_notion(config(None, None), &notion.uri()) };
    let client = connect_with(Arc::new(AppState::new(cfg)), user).await;
    let patches = format!("/v1/pages/{PAGE}");

    // A word the book's Status does not have: the options are listed, nothing is asked or written.
    let text = error_text(&call(&client, "set_invoice_status", json!({"invoice_id": PAGE, "status": "Settled"})).await);
    assert!(text.contains("status 'Settled'") && text.contains("Draft, Issued, Paid, Cancelled"), "{text}");
    assert!(asked.lock().unwrap().is_empty() && requests(&notion, "PATCH", &patches).await.is_empty());

    let args = json!({"invoice_id": PAGE_URL, "status": "paid", "note": "cash, received by Priya"});
    let invoice = structured(&call(&client, "set_invoice_status", args).await);
    assert_eq!(invoice["status"], "paid");
    let question = asked.lock().unwrap().pop().expect("the person was asked");
    for part in ["INV-2026-0142", "Issued", "Paid", "cash, received by Priya"] {
        assert!(question.contains(part), "the question shows {part}: {question}");
    }
    let writes = requests(&notion, "PATCH", &patches).await;
    assert_eq!(writes.len(), 1);
    let sent = body(&writes[0]);
    assert_eq!(sent["properties"]["Status"], json!({"status": {"name": "Paid"}}));
    let today = switchboard::domain::time::rfc3339(switchboard::domain::time::now()).unwrap()[..10].to_string();
    assert_eq!(sent["properties"]["Paid At"], json!({"date": {"start": today}}));
    let record = sent["properties"]["Payment ID"]["rich_text"][0]["text"]["content"].as_str().unwrap();
    assert!(
        record.contains("Recorded by an AI agent via Switchboard")
            && record.contains("approved by a person in their client")
            && record.contains("cash, received by Priya"),
        "{record}"
    );

    // Cancelled: only the status changes.
    structured(&call(&client, "set_invoice_status", json!({"invoice_id": PAGE, "status": "cancelled"})).await);
    let writes = requests(&notion, "PATCH", &patches).await;
    assert_eq!(body(&writes[1]), json!({"properties": {"Status": {"status": {"name": "Cancelled"}}}}));
}

#[tokio::test]
async fn an_invoice_reads_paid_as_soon_as_its_links_paid_webhook_is_stored_before_the_book_is_updated() {
    let notion = notion_stub().await;
    let razorpay = razorpay_links().await;
    // No write-back worker runs: the book cannot have been updated.
    let rx = start(with_webhooks(with_notion(config(Some(&razorpay.uri()), None), &notion.uri()))).await;
    let client = connect_with(rx.state.clone(), ()).await;
    structured(&call(&client, "create_payment_link", link_args()).await);
    let before = structured(&call(&client, "get_invoice", json!({"invoice_id": PAGE})).await);
    assert_eq!(before["status"], "overdue");
    let webhook = fixture("razorpay/webhook_payment_link_paid.json");
    assert_eq!(deliver_razorpay(rx.addr, webhook.trim(), "evt_RZ_paid_early").await, StatusCode::OK);
    let after = structured(&call(&client, "get_invoice", json!({"invoice_id": PAGE})).await);
    assert_eq!((after["status"].as_str(), after["provider_status"].as_str()), (Some("paid"), Some("Issued")));
    assert_eq!(after["amount_due"]["minor_units"], 0);
    assert_eq!(after["paid_at"], "2026-11-23T00:00:00Z");
    assert!(requests(&notion, "PATCH", &format!("/v1/pages/{PAGE}")).await.is_empty());
}
