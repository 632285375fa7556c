//! A person approves every payment link create and cancel, on every client: a client without elicitation gets a
//! pending approval and a link to the approval page; Approve performs exactly what was shown, once; Decline and
//! expiry perform nothing; a tampered or cross-site decision is refused; a restart loses nothing.

use crate::helpers::{config, error_text, fixture, structured};
use crate::webhooks::{Receiver, start};
use reqwest::StatusCode;
use reqwest::header::{HOST, ORIGIN};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation, NumberOrString,
    ProgressNotificationParam, ProgressToken, RequestMetaObject,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use std::time::Duration;
use switchboard::config::{ApprovalConfig, Config, ConfirmMode};
use tokio::sync::mpsc;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn ananya_link_args() -> Value {
    json!({
        "amount": "45000",
        "currency": "INR",
        "description": "Invoice SW-2026-0142",
        "customer": {"name": "Ananya Sharma", "email": "ananya.sharma@kavyatextiles.in"},
        "reference_id": "SW-2026-0142"
    })
}

async fn razorpay() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_links"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("razorpay/payment_link_created.json"), "application/json"),
        )
        .mount(&server)
        .await;
    server
}

async fn posts(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap().into_iter().filter(|r| r.method.as_str() == "POST").collect()
}

/// Approval by elicitation when the client can (the default), with a call waiting `wait` for the page.
fn approving(razorpay: &MockServer, wait: Duration, ttl: Duration) -> Config {
    Config {
        confirm: ConfirmMode::Elicit,
        approvals: ApprovalConfig { ttl, wait, public_url: None },
        ..config(Some(&razorpay.uri()), None)
    }
}

/// A legacy (2025-11-25) client over Streamable HTTP with no elicitation, like several desktop clients.
pub async fn plain_client(rx: &Receiver) -> RunningService<RoleClient, ()> {
    ().serve(StreamableHttpClientTransport::from_uri(format!("http://{}/mcp", rx.addr))).await.unwrap()
}

pub async fn call(client: &RunningService<RoleClient, ()>, tool: &str, args: Value) -> CallToolResult {
    let params = CallToolRequestParams::new(tool.to_string()).with_arguments(args.as_object().unwrap().clone());
    client.call_tool(params).await.unwrap()
}

/// The approval page link in a "pending" answer.
pub fn approval_url(text: &str) -> String {
    let start = text.find("http://").unwrap_or_else(|| panic!("no link in: {text}"));
    text[start..].split_whitespace().next().unwrap().to_string()
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The page's HTML and its form token.
pub async fn open(url: &str) -> (String, String) {
    let response = browser().get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    let html = response.text().await.unwrap();
    let token = html
        .split("name=\"form_token\" value=\"")
        .nth(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .unwrap_or_default();
    (html, token)
}

/// POST a decision as the page's own form does (same origin).
pub async fn decide(url: &str, decision: &str, token: &str) -> StatusCode {
    let origin = url.split("/approvals").next().unwrap().to_string();
    browser()
        .post(url)
        .header(ORIGIN, origin)
        .header("sec-fetch-site", "same-origin")
        .form(&[("decision", decision), ("form_token", token)])
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn over_http_a_client_without_elicitation_gets_a_page_and_approving_creates_exactly_the_link_shown_once() {
    let rz = razorpay().await;
    let rx = start(approving(&rz, Duration::ZERO, Duration::from_secs(600))).await;
    let client = plain_client(&rx).await;

    let pending = error_text(&call(&client, "create_payment_link", ananya_link_args()).await);
    assert!(
        pending.contains("Waiting for the user's approval") && pending.contains("nothing has been done"),
        "{pending}"
    );
    let url = approval_url(&pending);
    assert!(url.starts_with(&format!("http://{}/approvals/apv_", rx.addr)), "{url}");
    assert!(posts(&rz).await.is_empty(), "nothing is created before a person approves");

    // The person sees exactly what will happen, and the list shows it waiting.
    let (html, token) = open(&url).await;
    for part in
        ["₹45,000.00", "INR", "Ananya Sharma", "ananya.sharma@kavyatextiles.in", "Invoice SW-2026-0142", "Razorpay"]
    {
        assert!(html.contains(part), "the page should show {part}");
    }
    let list = browser().get(format!("http://{}/approvals", rx.addr)).send().await.unwrap().text().await.unwrap();
    assert!(list.contains("1 waiting") && list.contains("Create a Razorpay payment link for ₹45,000.00"), "{list}");

    // Asking again before anyone decides keeps the one approval (no second page, nothing created).
    let again = error_text(&call(&client, "create_payment_link", ananya_link_args()).await);
    assert_eq!(approval_url(&again), url);

    assert_eq!(decide(&url, "approve", &token).await, StatusCode::SEE_OTHER);
    assert_eq!(posts(&rz).await.len(), 1, "approving creates the link once");
    let sent: Value = serde_json::from_slice(&posts(&rz).await[0].body).unwrap();
    assert_eq!((sent["amount"].as_i64(), sent["currency"].as_str()), (Some(4_500_000), Some("INR")));
    let (done, _) = open(&url).await;
    assert!(done.contains("approved and done") && done.contains("https://rzp.io/i/k2Ht8Zq"), "{done}");

    // The agent's next identical call returns the link; later ones replay it. Still one POST.
    let created = structured(&call(&client, "create_payment_link", ananya_link_args()).await);
    assert_eq!(created["approved_via"], "approval_page", "{created}");
    assert_eq!(created["confirmed_by_user"], true);
    assert_eq!(created["url"], "https://rzp.io/i/k2Ht8Zq");
    assert_eq!(sent["reference_id"], created["idempotency_key"], "the key the provider saw is the one reported");
    let replay = structured(&call(&client, "create_payment_link", ananya_link_args()).await);
    assert_eq!((replay["replayed"].as_bool(), replay["id"].clone()), (Some(true), created["id"].clone()));
    // Passing the reported key back, as its description says, retries this very call: a replay, not a new approval.
    let mut with_key = ananya_link_args();
    with_key["idempotency_key"] = created["idempotency_key"].clone();
    let replay = structured(&call(&client, "create_payment_link", with_key).await);
    assert_eq!((replay["replayed"].as_bool(), replay["id"].clone()), (Some(true), created["id"].clone()));
    // A second Approve on the same page changes nothing.
    assert_eq!(decide(&url, "approve", &token).await, StatusCode::CONFLICT);
    assert_eq!(posts(&rz).await.len(), 1);
}

/// A client without elicitation that hands every progress notification to the test.
#[derive(Clone)]
struct Watching(mpsc::UnboundedSender<ProgressNotificationParam>);

impl ClientHandler for Watching {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(ClientCapabilities::default(), Implementation::new("watching", "0"))
    }

    async fn on_progress(&self, params: ProgressNotificationParam, _: NotificationContext<RoleClient>) {
        let _ = self.0.send(params);
    }
}

#[tokio::test]
async fn a_waiting_call_reports_the_page_in_its_progress_and_returns_the_link_when_the_person_approves() {
    let rz = razorpay().await;
    let rx = start(approving(&rz, Duration::from_secs(30), Duration::from_secs(600))).await;
    let (progress_tx, mut progress) = mpsc::unbounded_channel();
    let transport = StreamableHttpClientTransport::from_uri(format!("http://{}/mcp", rx.addr));
    let client = Watching(progress_tx).serve(transport).await.unwrap();
    let waiting = {
        let peer = client.peer().clone();
        tokio::spawn(async move {
            let mut params = CallToolRequestParams::new("create_payment_link")
                .with_arguments(ananya_link_args().as_object().unwrap().clone());
            params.meta =
                Some(RequestMetaObject::with_progress_token(ProgressToken(NumberOrString::String("approve".into()))));
            peer.call_tool(params).await.unwrap()
        })
    };
    // While it waits, its progress carries the page's link (a client can show it to the person at once).
    let note = tokio::time::timeout(Duration::from_secs(10), progress.recv()).await.unwrap().unwrap();
    let url = approval_url(note.message.as_deref().unwrap());
    let (_, token) = open(&url).await;
    let started = std::time::Instant::now();
    assert_eq!(decide(&url, "approve", &token).await, StatusCode::SEE_OTHER);
    let result = tokio::time::timeout(Duration::from_secs(10), waiting).await.unwrap().unwrap();
    let created = structured(&result);
    assert_eq!(created["url"], "https://rzp.io/i/k2Ht8Zq");
    assert_eq!((created["approved_via"].as_str(), created["replayed"].as_bool()), (Some("approval_page"), Some(false)));
    assert!(started.elapsed() < Duration::from_secs(5), "the waiting call is woken, not left to its timeout");
    assert_eq!(posts(&rz).await.len(), 1);
}

#[tokio::test]
async fn declining_creates_nothing_and_says_so_and_a_later_call_asks_again() {
    let rz = razorpay().await;
    let rx = start(approving(&rz, Duration::ZERO, Duration::from_secs(600))).await;
    let client = plain_client(&rx).await;
    let url = approval_url(&error_text(&call(&client, "create_payment_link", ananya_link_args()).await));
    let (_, token) = open(&url).await;
    assert_eq!(decide(&url, "decline", &token).await, StatusCode::SEE_OTHER);
    let (page, _) = open(&url).await;
    assert!(page.contains("Declined. Nothing was done."), "{page}");
    let told = error_text(&call(&client, "create_payment_link", ananya_link_args()).await);
    assert!(told.contains("declined") && told.contains("nothing was done"), "{told}");
    // Told once; the next call is a new question for the person, on a new page.
    let asked_again = error_text(&call(&client, "create_payment_link", ananya_link_args()).await);
    assert_ne!(approval_url(&asked_again), url, "{asked_again}");
    assert!(posts(&rz).await.is_empty());
}

#[tokio::test]
async fn an_approval_nobody_decides_expires_and_nothing_is_created() {
    let rz = razorpay().await;
    let rx = start(approving(&rz, Duration::from_secs(5), Duration::from_secs(1))).await;
    let client = plain_client(&rx).await;
    // The call waits past the expiry and reports it.
    let expired = error_text(&call(&client, "create_payment_link", ananya_link_args()).await);
    assert!(expired.contains("expired") && expired.contains("nothing was done"), "{expired}");
    let list = browser().get(format!("http://{}/approvals", rx.addr)).send().await.unwrap().text().await.unwrap();
    let url = format!(
        "http://{}/approvals/{}",
        rx.addr,
        list.split("href=\"/approvals/").nth(1).unwrap().split('"').next().unwrap()
    );
    let (page, token) = open(&url).await;
    assert!(page.contains("Expired unanswered") && token.is_empty(), "an expired approval has no form");

    // A decision posted to it anyway (with its real token, read from the store) changes nothing.
    let stored = rx.state.store.approvals().get(url.rsplit('/').next().unwrap()).await.unwrap().unwrap();
    assert_eq!(decide(&url, "approve", &stored.form_token).await, StatusCode::CONFLICT);
    assert!(posts(&rz).await.is_empty());
}

#[tokio::test]
async fn tampered_and_cross_site_decisions_are_refused() {
    let rz = razorpay().await;
    let rx = start(approving(&rz, Duration::ZERO, Duration::from_secs(600))).await;
    let client = plain_client(&rx).await;
    let keyed = |amount: &str| {
        let mut args = ananya_link_args();
        args["amount"] = json!(amount);
        args["idempotency_key"] = json!("invoice-0142-link");
        args
    };
    let url = approval_url(&error_text(&call(&client, "create_payment_link", keyed("45000")).await));
    let (_, token) = open(&url).await;

    // The same key with another amount is not the approved action.
    let other_amount = error_text(&call(&client, "create_payment_link", keyed("4500000")).await);
    assert!(other_amount.contains("different arguments"), "{other_amount}");

    // Without the page's form token, or with another approval's.
    assert_eq!(decide(&url, "approve", "not-the-token").await, StatusCode::FORBIDDEN);
    let other = approval_url(&error_text(&call(&client, "create_payment_link", ananya_link_args()).await));
    let (_, other_token) = open(&other).await;
    assert_eq!(decide(&url, "approve", &other_token).await, StatusCode::FORBIDDEN);

    // A cross-site form POST, even one that somehow knew the token.
    let cross_site = |origin: &'static str, site: &'static str| {
        browser()
            .post(&url)
            .header(ORIGIN, origin)
            .header("sec-fetch-site", site)
            .form(&[("decision", "approve"), ("form_token", token.as_str())])
            .send()
    };
    assert_eq!(cross_site("http://evil.example", "cross-site").await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(cross_site("null", "cross-site").await.unwrap().status(), StatusCode::FORBIDDEN);
    // A DNS-rebinding page reaches this server under its own name: refused by Host.
    let rebound = browser().get(&url).header(HOST, "evil.example").send().await.unwrap();
    assert_eq!(rebound.status(), StatusCode::FORBIDDEN);
    assert!(posts(&rz).await.is_empty(), "nothing was created");

    // The real page still works.
    assert_eq!(decide(&url, "approve", &token).await, StatusCode::SEE_OTHER);
    let sent: Value = serde_json::from_slice(&posts(&rz).await[0].body).unwrap();
    assert_eq!(sent["amount"], 4_500_000, "the approved amount, not the tampered one");
    assert_eq!(posts(&rz).await.len(), 1);
}

#[tokio::test]
async fn on_2026_07_28_a_client_without_elicitation_gets_the_page_too() {
    let rz = razorpay().await;
    let rx = start(approving(&rz, Duration::ZERO, Duration::from_secs(600))).await;
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "modern-plain", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let call = |id: i64| {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "create_payment_link", "arguments": ananya_link_args(), "_meta": meta}});
        let addr = rx.addr;
        async move {
            let response = reqwest::Client::new()
                .post(format!("http://{addr}/mcp"))
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/call")
                .header("mcp-name", "create_payment_link")
                .json(&body)
                .send()
                .await
                .unwrap();
            let text = response.text().await.unwrap();
            let json = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or(&text).to_string();
            serde_json::from_str::<Value>(&json).unwrap_or_else(|e| panic!("{e}: {text}"))
        }
    };
    let first = call(1).await["result"].clone();
    assert_eq!(first["isError"], true, "{first}");
    let url = approval_url(first["content"][0]["text"].as_str().unwrap());
    assert!(posts(&rz).await.is_empty());
    let (_, token) = open(&url).await;
    assert_eq!(decide(&url, "approve", &token).await, StatusCode::SEE_OTHER);
    let second = call(2).await["result"].clone();
    assert_eq!(second["structuredContent"]["approved_via"], "approval_page", "{second}");
    assert_eq!(posts(&rz).await.len(), 1);
}

#[tokio::test]
async fn cancelling_a_link_waits_for_approval_and_shows_what_will_be_cancelled() {
    let rz = MockServer::start().await;
    let link: Value = serde_json::from_str(&fixture("razorpay/payment_link_created.json")).unwrap();
    let mut cancelled = link.clone();
    cancelled["status"] = json!("cancelled");
    Mock::given(method("GET"))
        .and(path("/v1/payment_links/plink_SCx4Lm8QwErT2y"))
        .respond_with(ResponseTemplate::new(200).set_body_json(link))
        .mount(&rz)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_links/plink_SCx4Lm8QwErT2y/cancel"))
        .respond_with(ResponseTemplate::new(200).set_body_json(cancelled))
        .mount(&rz)
        .await;
    let rx = start(approving(&rz, Duration::ZERO, Duration::from_secs(600))).await;
    let client = plain_client(&rx).await;
    let args = json!({"payment_link_id": "plink_SCx4Lm8QwErT2y"});
    let url = approval_url(&error_text(&call(&client, "cancel_payment_link", args.clone()).await));
    assert!(posts(&rz).await.is_empty());
    let (html, token) = open(&url).await;
    assert!(
        html.contains("Cancel Razorpay payment link plink_SCx4Lm8QwErT2y") && html.contains("₹45,000.00"),
        "{html}"
    );
    assert_eq!(decide(&url, "approve", &token).await, StatusCode::SEE_OTHER);
    assert_eq!(posts(&rz).await.len(), 1);
    let result = structured(&call(&client, "cancel_payment_link", args).await);
    assert_eq!(result["status"], "cancelled");
    assert_eq!(posts(&rz).await.len(), 1, "cancelled once");
}

#[tokio::test]
async fn page_mode_uses_the_page_even_for_a_client_with_elicitation_and_never_mode_asks_no_one() {
    let rz = razorpay().await;
    let rx =
        start(Config { confirm: ConfirmMode::Page, ..approving(&rz, Duration::ZERO, Duration::from_secs(600)) }).await;
    let transport = StreamableHttpClientTransport::from_uri(format!("http://{}/mcp", rx.addr));
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let eliciting = crate::payment_links::Confirming { accept: true, asked: asked.clone() };
    let client = eliciting.serve(transport).await.unwrap();
    let params = CallToolRequestParams::new("create_payment_link")
        .with_arguments(ananya_link_args().as_object().unwrap().clone());
    let pending = error_text(&client.call_tool(params).await.unwrap());
    assert!(pending.contains("/approvals/apv_"), "{pending}");
    assert!(asked.lock().unwrap().is_empty(), "page mode does not elicit");
    assert!(posts(&rz).await.is_empty());

    let rz = razorpay().await;
    let rx =
        start(Config { confirm: ConfirmMode::Never, ..approving(&rz, Duration::ZERO, Duration::from_secs(600)) }).await;
    let created = structured(&call(&plain_client(&rx).await, "create_payment_link", ananya_link_args()).await);
    assert_eq!(
        (created["approved_via"].as_str(), created["confirmed_by_user"].as_bool()),
        (Some("not_required"), Some(false))
    );
    assert_eq!(posts(&rz).await.len(), 1);
}

#[tokio::test]
async fn at_most_a_hundred_approvals_wait_at_once() {
    let rz = razorpay().await;
    let rx = start(approving(&rz, Duration::ZERO, Duration::from_secs(600))).await;
    let client = plain_client(&rx).await;
    let for_invoice = |n: usize| {
        let mut args = ananya_link_args();
        args["reference_id"] = json!(format!("SW-2026-{n:04}"));
        args
    };
    for n in 0..100 {
        let text = error_text(&call(&client, "create_payment_link", for_invoice(n)).await);
        assert!(text.contains("Waiting for the user's approval"), "{n}: {text}");
    }
    let refused = error_text(&call(&client, "create_payment_link", for_invoice(100)).await);
    assert!(refused.contains("100 approvals are already waiting") && refused.contains("nothing was done"), "{refused}");
    // One already waiting is still answered with its page.
    let again = error_text(&call(&client, "create_payment_link", for_invoice(7)).await);
    assert!(again.contains("/approvals/apv_"), "{again}");
    assert_eq!(rx.state.store.approvals().open_count(i64::MAX / 2).await.unwrap(), 0);
    assert_eq!(rx.state.store.approvals().recent(0, 1000).await.unwrap().len(), 100);
    assert!(posts(&rz).await.is_empty());
}

#[tokio::test]
async fn with_an_http_token_the_page_still_checks_the_host_and_the_list_needs_the_token() {
    let rz = razorpay().await;
    let token = "s3cret-token-s3cret-token";
    let mut cfg = approving(&rz, Duration::ZERO, Duration::from_secs(600));
    cfg.http.token = Some(secrecy::SecretString::from(token));
    let rx = start(cfg).await;
    let transport = StreamableHttpClientTransport::with_client(
        reqwest::Client::new(),
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(format!(
            "http://{}/mcp",
            rx.addr
        ))
        .auth_header(token),
    );
    let client = ().serve(transport).await.unwrap();
    let url = approval_url(&error_text(&call(&client, "create_payment_link", ananya_link_args()).await));
    let list = format!("http://{}/approvals", rx.addr);

    // A DNS-rebinding page (or anything behind a local tunnel) arrives from loopback under a foreign Host.
    let port = rx.addr.port();
    for target in [&list, &url] {
        let rebound = browser().get(target.as_str()).header(HOST, format!("evil.example:{port}")).send().await.unwrap();
        assert_eq!(rebound.status(), StatusCode::FORBIDDEN, "{target}");
    }
    let (_, form_token) = open(&url).await;
    let forged = browser()
        .post(&url)
        .header(HOST, format!("evil.example:{port}"))
        .header(ORIGIN, format!("http://evil.example:{port}"))
        .form(&[("decision", "approve"), ("form_token", form_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // The list needs the token even from this machine; one approval's own link does not.
    assert_eq!(browser().get(&list).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let with_token = browser().get(&list).bearer_auth(token).send().await.unwrap();
    assert_eq!(with_token.status(), StatusCode::OK);
    assert!(posts(&rz).await.is_empty(), "nothing was approved by the attacker");
    assert_eq!(decide(&url, "approve", &form_token).await, StatusCode::SEE_OTHER);
    assert_eq!(posts(&rz).await.len(), 1);
}

/// A client that declares elicitation but fails to ask (an error instead of an answer).
#[derive(Clone)]
struct Broken;

impl ClientHandler for Broken {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::builder().enable_elicitation().build(),
            Implementation::new("broken", "0"),
        )
    }

    async fn create_elicitation(
        &self,
        _: rmcp::model::ElicitRequestParams,
        _: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<rmcp::model::ElicitResult, rmcp::ErrorData> {
        Err(rmcp::ErrorData::internal_error("the form could not be shown", None))
    }
}

#[tokio::test]
async fn a_client_that_fails_to_ask_is_not_taken_as_a_no_the_page_asks_instead() {
    let rz = razorpay().await;
    let rx = start(approving(&rz, Duration::ZERO, Duration::from_secs(600))).await;
    let client =
        Broken.serve(StreamableHttpClientTransport::from_uri(format!("http://{}/mcp", rx.addr))).await.unwrap();
    let params = CallToolRequestParams::new("create_payment_link")
        .with_arguments(ananya_link_args().as_object().unwrap().clone());
    let text = error_text(&client.call_tool(params).await.unwrap());
    assert!(text.contains("Waiting for the user's approval") && !text.contains("declined"), "{text}");
    assert!(posts(&rz).await.is_empty());
}

#[tokio::test]
async fn the_operator_is_warned_at_start_up_when_approval_is_off_or_has_no_page() {
    let never = crate::helpers::serve_binary(&[]).await.log().await;
    assert!(never.contains("confirm = \"never\"") && never.contains("without anyone approving"), "{never}");
    let no_page = crate::helpers::serve_binary(&[("SWITCHBOARD_CONFIRM", "elicit")]).await.log().await;
    assert!(no_page.contains("no listener for the approval page"), "{no_page}");
    let with_page = crate::helpers::serve_binary(&[
        ("SWITCHBOARD_CONFIRM", "elicit"),
        ("SWITCHBOARD_WEBHOOK_LISTEN", "127.0.0.1:0"),
    ])
    .await
    .log()
    .await;
    assert!(!with_page.contains("WARN") && with_page.contains("approvals on http://127.0.0.1:"), "{with_page}");
}

#[tokio::test]
async fn asking_again_after_an_expiry_says_so_on_a_new_page() {
    let rz = razorpay().await;
    // Two seconds: the clock counts whole seconds, so a one-second approval may already be over when first read.
    let rx = start(approving(&rz, Duration::ZERO, Duration::from_secs(2))).await;
    let client = plain_client(&rx).await;
    let first = approval_url(&error_text(&call(&client, "create_payment_link", ananya_link_args()).await));
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let again = error_text(&call(&client, "create_payment_link", ananya_link_args()).await);
    assert!(again.contains("An earlier request for this expired unanswered"), "{again}");
    assert_ne!(approval_url(&again), first);
    assert!(posts(&rz).await.is_empty());
}
