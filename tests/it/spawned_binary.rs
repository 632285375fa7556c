//! The built binary, spawned as a client would: over stdio (as Claude Desktop does) and over HTTP.

use crate::helpers::{RZ_KEY_ID, RZ_SECRET, fixture};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod jsonrpc_edges;

/// A Razorpay stub that creates payment links (always the fixture's link).
async fn razorpay_creating() -> MockServer {
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

async fn razorpay_stub() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/v1/invoices/inv_SBk3vL9qTm2XaP"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("razorpay/invoice_issued.json"), "application/json"),
        )
        .mount(&server)
        .await;
    server
}

fn switchboard(args: &[&str], razorpay_url: &str) -> Child {
    switchboard_in(args, razorpay_url, &tempfile::tempdir().unwrap().keep())
}

/// An operator who turned approval off (`confirm = "never"`): these tests are about other things.
fn switchboard_in(args: &[&str], razorpay_url: &str, data_dir: &std::path::Path) -> Child {
    switchboard_with(args, razorpay_url, data_dir, &[("SWITCHBOARD_CONFIRM", "never")])
}

fn switchboard_with(args: &[&str], razorpay_url: &str, data_dir: &std::path::Path, env: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .env("SWITCHBOARD_DATA_DIR", data_dir)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RAZORPAY_KEY_ID", RZ_KEY_ID)
        .env("RAZORPAY_KEY_SECRET", RZ_SECRET)
        .env("RAZORPAY_BASE_URL", razorpay_url)
        .env("RAZORPAY_WEBHOOK_SECRET", crate::webhooks::RZ_WEBHOOK_SECRET)
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn stdio_serves_initialize_list_and_call_with_only_json_rpc_on_stdout() {
    let upstream = razorpay_stub().await;
    let mut child = switchboard(&["serve"], &upstream.uri());
    let mut stdin = child.stdin.take().unwrap();
    // Drain stderr while the server runs: a full pipe would block its (debug) logging.
    let mut err_pipe = child.stderr.take().unwrap();
    let logs = tokio::spawn(async move {
        let mut text = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut err_pipe, &mut text).await.unwrap();
        text
    });
    let requests = [
        json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"spawn-test","version":"0"}}}),
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}),
        json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_invoice","arguments":{"invoice_id":"inv_SBk3vL9qTm2XaP"}}}),
        json!({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_invoice","arguments":{"invoice_id":"nope"}}}),
    ];
    for r in &requests {
        stdin.write_all(format!("{r}\n").as_bytes()).await.unwrap();
    }
    stdin.flush().await.unwrap();

    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut answers = std::collections::HashMap::new();
    while answers.len() < 4 {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.unwrap().unwrap().unwrap();
        let msg: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("non-JSON on stdout ({e}): {line}"));
        assert_eq!(msg["jsonrpc"], "2.0", "{line}");
        if let Some(id) = msg["id"].as_i64() {
            answers.insert(id, msg);
        }
    }
    let init = &answers[&1]["result"];
    assert_eq!(init["serverInfo"]["name"], "switchboard");
    assert_eq!(init["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(init["instructions"].as_str().unwrap().contains("list_invoices"));
    let names: Vec<&str> =
        answers[&2]["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"get_invoice") && names.contains(&"list_invoices"), "{names:?}");
    assert_eq!(answers[&3]["result"]["structuredContent"]["total"]["formatted"], "₹45,000.00");
    assert_eq!(answers[&4]["result"]["isError"], true);

    drop(stdin); // EOF: the server exits cleanly
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status:?}");
    let stderr = logs.await.unwrap();
    assert!(stderr.contains("serving MCP on stdio"), "logs belong on stderr: {stderr}");
    assert!(!stderr.contains(RZ_SECRET), "the secret leaked into logs");
}

#[tokio::test]
async fn http_serves_a_real_mcp_client_and_shuts_down_on_sigterm() {
    let upstream = razorpay_stub().await;
    let mut child = switchboard(&["serve", "--http", "127.0.0.1:0"], &upstream.uri());
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(20), stderr.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("server exited");
        if let Some(rest) = line.split("serving MCP on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });

    let client = ().serve(StreamableHttpClientTransport::from_uri(url)).await.unwrap();
    let info = client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "switchboard");
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), switchboard::server::Switchboard::catalog().len());
    let args = json!({"invoice_id": "inv_SBk3vL9qTm2XaP"}).as_object().unwrap().clone();
    let result = client.call_tool(CallToolRequestParams::new("get_invoice").with_arguments(args)).await.unwrap();
    assert_eq!(result.structured_content.unwrap()["customer"]["name"], "Ananya Sharma");

    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "graceful shutdown should exit 0: {status:?}");
}

/// Write JSON-RPC lines to a child's stdin.
async fn send(stdin: &mut tokio::process::ChildStdin, messages: &[Value]) {
    for m in messages {
        stdin.write_all(format!("{m}\n").as_bytes()).await.unwrap();
    }
    stdin.flush().await.unwrap();
}

fn handshake() -> [Value; 2] {
    [
        json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"crash-test","version":"0"}}}),
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
    ]
}

fn create_call(id: i64) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"create_payment_link","arguments":
        {"amount":"45000","currency":"INR","description":"Invoice SW-2026-0142","reference_id":"SW-2026-0142",
         "customer":{"name":"Ananya Sharma","email":"ananya.sharma@kavyatextiles.in"}}}})
}

/// Poll the stub until `pred` holds for its received requests (no sleeps to synchronise).
async fn until_received(server: &MockServer, pred: impl Fn(&[wiremock::Request]) -> bool) -> Vec<wiremock::Request> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let received = server.received_requests().await.unwrap();
        if pred(&received) {
            return received;
        }
        assert!(tokio::time::Instant::now() < deadline, "the stub never saw the expected request: {received:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_create_cut_off_by_a_crash_is_reconciled_on_restart_without_a_second_post() {
    let rz = MockServer::start().await;
    // Razorpay takes the create but the process dies before the answer arrives.
    Mock::given(method("POST"))
        .and(path("/v1/payment_links"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("razorpay/payment_link_created.json"), "application/json")
                .set_delay(Duration::from_secs(60)),
        )
        .mount(&rz)
        .await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut first = switchboard_in(&["serve"], &rz.uri(), data_dir.path());
    let mut stdin = first.stdin.take().unwrap();
    send(&mut stdin, &handshake()).await;
    send(&mut stdin, &[create_call(2)]).await;
    let received = until_received(&rz, |r| r.iter().any(|r| r.method.as_str() == "POST")).await;
    first.start_kill().unwrap(); // SIGKILL: no chance to record anything
    first.wait().await.unwrap();
    let key = serde_json::from_slice::<Value>(&received[0].body).unwrap()["reference_id"].as_str().unwrap().to_string();

    let mut link: Value = serde_json::from_str(&fixture("razorpay/payment_link_created.json")).unwrap();
    link["reference_id"] = json!(key);
    Mock::given(method("GET"))
        .and(path("/v1/payment_links"))
        .and(query_param("reference_id", key.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"payment_links": [link]})))
        .mount(&rz)
        .await;

    // Restart on the same data directory: start-up reconciles the interrupted create by lookup.
    let mut second = switchboard_in(&["serve"], &rz.uri(), data_dir.path());
    let mut stdin = second.stdin.take().unwrap();
    send(&mut stdin, &handshake()).await;
    until_received(&rz, |r| r.iter().any(|r| r.method.as_str() == "GET")).await;
    send(&mut stdin, &[create_call(2)]).await;
    let mut lines = BufReader::new(second.stdout.take().unwrap()).lines();
    let answer = loop {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.unwrap().unwrap().unwrap();
        let msg: Value = serde_json::from_str(&line).unwrap();
        if msg["id"] == 2 {
            break msg;
        }
    };
    let result = &answer["result"]["structuredContent"];
    assert_eq!(result["id"], "plink_SCx4Lm8QwErT2y", "{answer}");
    assert_eq!(result["replayed"], true);
    let posts = rz.received_requests().await.unwrap().iter().filter(|r| r.method.as_str() == "POST").count();
    assert_eq!(posts, 1, "the crash must not lead to a second create");
}

/// Read stdout lines until the answer with `id` arrives.
async fn answer(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>, id: i64) -> Value {
    loop {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.unwrap().unwrap().unwrap();
        let msg: Value = serde_json::from_str(&line).unwrap();
        if msg["id"] == id {
            return msg;
        }
    }
}

#[tokio::test]
async fn on_2026_07_28_approval_in_the_client_is_an_input_required_round_trip() {
    let rz = razorpay_creating().await;
    let mut child = switchboard_with(
        &["serve"],
        &rz.uri(),
        &tempfile::tempdir().unwrap().keep(),
        &[("SWITCHBOARD_CONFIRM", "elicit")],
    );
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "modern-test", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}}
    });
    let args = json!({"amount": "45000", "currency": "INR", "reference_id": "SW-2026-0142", "idempotency_key": "invoice-0142-link"});
    let call = |id: i64, extra: Value| {
        let mut params = json!({"name": "create_payment_link", "arguments": args, "_meta": meta});
        params.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
    };
    send(&mut stdin, &[json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta}})])
        .await;
    answer(&mut lines, 1).await;

    // Round 1: the server asks instead of creating.
    send(&mut stdin, &[call(2, json!({}))]).await;
    let asked = answer(&mut lines, 2).await["result"].clone();
    assert_eq!(asked["resultType"], "input_required", "{asked}");
    let question = &asked["inputRequests"]["approve"];
    assert_eq!(question["method"], "elicitation/create", "{asked}");
    assert!(question["params"]["message"].as_str().unwrap().contains("₹45,000.00"));
    let state = asked["requestState"].as_str().unwrap().to_string();
    assert!(rz.received_requests().await.unwrap().is_empty());

    // An answer without the sealed state (never asked) is not accepted: the server asks again.
    let yes = json!({"approve": {"action": "accept", "content": {"approve": true}}});
    send(&mut stdin, &[call(3, json!({"inputResponses": yes}))]).await;
    assert_eq!(answer(&mut lines, 3).await["result"]["resultType"], "input_required");
    assert!(rz.received_requests().await.unwrap().is_empty());

    // A decline with the state creates nothing.
    let no = json!({"approve": {"action": "decline"}});
    send(&mut stdin, &[call(4, json!({"inputResponses": no, "requestState": state}))]).await;
    let declined = answer(&mut lines, 4).await["result"].clone();
    assert_eq!(declined["isError"], true, "{declined}");
    assert!(rz.received_requests().await.unwrap().is_empty());

    // The yes cannot be carried over to different arguments (here: a bigger amount under the same key).
    let mut bigger = call(6, json!({"inputResponses": yes, "requestState": state}));
    bigger["params"]["arguments"]["amount"] = json!("4500000");
    send(&mut stdin, &[bigger]).await;
    assert_eq!(answer(&mut lines, 6).await["result"]["resultType"], "input_required");
    assert!(rz.received_requests().await.unwrap().is_empty());

    // Round 2 with the user's yes: created, and marked as confirmed.
    send(&mut stdin, &[call(5, json!({"inputResponses": yes, "requestState": state}))]).await;
    let created = answer(&mut lines, 5).await["result"].clone();
    assert_eq!(created["structuredContent"]["confirmed_by_user"], true, "{created}");
    assert_eq!(rz.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_stdio_server_receives_webhooks_and_tells_a_2026_listener() {
    let mut child = switchboard(&["serve", "--webhooks", "127.0.0.1:0"], "http://127.0.0.1:9");
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let webhooks = loop {
        let line =
            tokio::time::timeout(Duration::from_secs(20), stderr.next_line()).await.unwrap().unwrap().expect("exited");
        if let Some(rest) = line.split("receiving webhooks on http://").nth(1) {
            break rest.split('/').next().unwrap().parse::<std::net::SocketAddr>().unwrap();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "listener", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    send(&mut stdin, &[json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta}})])
        .await;
    answer(&mut lines, 1).await;
    let listen = json!({"jsonrpc": "2.0", "id": 2, "method": "subscriptions/listen",
                        "params": {"_meta": meta, "notifications": {"resourceSubscriptions": ["events://recent"]}}});
    send(&mut stdin, &[listen]).await;
    notification(&mut lines, "notifications/subscriptions/acknowledged").await;

    let status = crate::webhooks::deliver_razorpay(
        webhooks,
        fixture("razorpay/webhook_payment_link_paid.json").trim(),
        "evt_STDIO",
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK);
    let updated = notification(&mut lines, "notifications/resources/updated").await;
    assert_eq!(updated["params"]["uri"], "events://recent", "{updated}");
}

/// Read stdout until a notification with `method` arrives.
async fn notification(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>, method: &str) -> Value {
    loop {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.unwrap().unwrap().unwrap();
        let msg: Value = serde_json::from_str(&line).unwrap();
        if msg["method"] == method {
            return msg;
        }
    }
}

/// The approval link in a "pending" answer.
fn approval_link(answer: &Value) -> String {
    let text = answer["result"]["content"][0]["text"].as_str().unwrap_or_else(|| panic!("{answer}"));
    let start = text.find("http://").unwrap_or_else(|| panic!("no link: {text}"));
    text[start..].split_whitespace().next().unwrap().to_string()
}

#[tokio::test]
async fn over_stdio_a_pending_approval_survives_a_kill_and_approving_after_the_restart_creates_the_link_once() {
    let rz = razorpay_creating().await;
    let data_dir = tempfile::tempdir().unwrap();
    // Claude Desktop's way: stdio, no elicitation; the listener serves the approval page.
    let launch = || {
        let env = [("SWITCHBOARD_APPROVAL_WAIT_SECS", "0")];
        let mut child = switchboard_with(&["serve", "--webhooks", "127.0.0.1:0"], &rz.uri(), data_dir.path(), &env);
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        (child, stdin, lines)
    };

    let (mut first, mut stdin, mut lines) = launch();
    send(&mut stdin, &handshake()).await;
    send(&mut stdin, &[create_call(2)]).await;
    let pending = answer(&mut lines, 2).await;
    assert_eq!(pending["result"]["isError"], true, "{pending}");
    let before = approval_link(&pending);
    first.start_kill().unwrap(); // SIGKILL between "pending" and "approve"
    first.wait().await.unwrap();

    // After the restart the same approval is waiting (on the new listener's port).
    let (mut second, mut stdin, mut lines) = launch();
    send(&mut stdin, &handshake()).await;
    send(&mut stdin, &[create_call(2)]).await;
    let url = approval_link(&answer(&mut lines, 2).await);
    assert_eq!(url.rsplit('/').next(), before.rsplit('/').next(), "the same approval, not a new one");
    assert!(rz.received_requests().await.unwrap().is_empty());
    let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let token = page.split("name=\"form_token\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    let decided = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(&url)
        .form(&[("decision", "approve"), ("form_token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), reqwest::StatusCode::SEE_OTHER);
    send(&mut stdin, &[create_call(3)]).await;
    let created = answer(&mut lines, 3).await;
    assert_eq!(created["result"]["structuredContent"]["approved_via"], "approval_page", "{created}");
    second.start_kill().unwrap();
    second.wait().await.unwrap();

    // Another restart performs nothing again: the next call is a replay.
    let (_third, mut stdin, mut lines) = launch();
    send(&mut stdin, &handshake()).await;
    send(&mut stdin, &[create_call(2)]).await;
    let replay = answer(&mut lines, 2).await;
    assert_eq!(replay["result"]["structuredContent"]["replayed"], true, "{replay}");
    let posts = rz.received_requests().await.unwrap().iter().filter(|r| r.method.as_str() == "POST").count();
    assert_eq!(posts, 1, "one upstream create across three processes");
}

#[tokio::test]
async fn over_stdio_on_2026_07_28_a_client_without_elicitation_is_sent_to_the_page_too() {
    let rz = razorpay_creating().await;
    let env = [("SWITCHBOARD_APPROVAL_WAIT_SECS", "0")];
    let mut child = switchboard_with(
        &["serve", "--webhooks", "127.0.0.1:0"],
        &rz.uri(),
        &tempfile::tempdir().unwrap().keep(),
        &env,
    );
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "modern-plain", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let mut call = create_call(1);
    call["params"]["_meta"] = meta;
    send(&mut stdin, &[call.clone()]).await;
    let pending = answer(&mut lines, 1).await;
    let url = approval_link(&pending);
    assert!(rz.received_requests().await.unwrap().is_empty());
    let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let token = page.split("name=\"form_token\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    let form = [("decision", "approve"), ("form_token", token)];
    assert!(reqwest::Client::new().post(&url).form(&form).send().await.unwrap().status().is_success());
    call["id"] = json!(2);
    send(&mut stdin, &[call]).await;
    let created = answer(&mut lines, 2).await;
    assert_eq!(created["result"]["structuredContent"]["approved_via"], "approval_page", "{created}");
    assert_eq!(rz.received_requests().await.unwrap().len(), 1);
}

/// `serve --http` with WhatsApp configured against `graph`; returns the child and its base URL.
async fn whatsapp_server(graph: &MockServer, data_dir: &std::path::Path) -> (Child, String) {
    let env = [
        ("SWITCHBOARD_CONFIRM", "never"),
        ("WHATSAPP_ACCESS_TOKEN", crate::whatsapp::WA_ACCESS_TOKEN),
        ("WHATSAPP_PHONE_NUMBER_ID", "106540352242922"),
        ("WHATSAPP_BASE_URL", &graph.uri()),
        ("WHATSAPP_APP_SECRET", crate::whatsapp::WA_APP_SECRET),
    ];
    let mut child = switchboard_with(&["serve", "--http", "127.0.0.1:0"], "http://127.0.0.1:9", data_dir, &env);
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(20), stderr.next_line()).await.unwrap().unwrap().unwrap();
        if let Some(rest) = line.split("serving MCP on ").nth(1) {
            break rest.split_whitespace().next().unwrap().trim_end_matches("/mcp").to_string();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    (child, url)
}

async fn post_signed(url: &str, body: String) {
    let signature = crate::whatsapp::signed(body.as_bytes());
    let status = reqwest::Client::new()
        .post(format!("{url}/webhooks/whatsapp"))
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, reqwest::StatusCode::OK);
}

#[tokio::test]
async fn a_send_cut_off_by_kill_9_is_not_resent_after_a_restart_and_its_status_webhook_settles_it() {
    let graph = MockServer::start().await;
    // Meta takes the message but answers too late: the process dies first.
    Mock::given(method("POST"))
        .and(path("/v26.0/106540352242922/messages"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)).set_body_json(json!({
            "messaging_product": "whatsapp", "contacts": [{"input": "+16505551234", "wa_id": "16505551234"}],
            "messages": [{"id": "wamid.CRASH1"}]})))
        .mount(&graph)
        .await;
    let data_dir = tempfile::tempdir().unwrap();
    let (mut first, url) = whatsapp_server(&graph, data_dir.path()).await;
    let now = switchboard::domain::time::now();
    post_signed(&url, format!(r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","contacts":[{{"profile":{{"name":"Sheena Nelson"}},"wa_id":"16505551234"}}],"messages":[{{"from":"16505551234","id":"wamid.IN9","timestamp":"{now}","type":"text","text":{{"body":"Where is my parcel?"}}}}]}}}}]}}]}}"#)).await;
    let args = json!({"to": "+16505551234", "text": "It arrives tomorrow."});
    let client = ().serve(StreamableHttpClientTransport::from_uri(format!("{url}/mcp"))).await.unwrap();
    let call = {
        let args = args.as_object().unwrap().clone();
        tokio::spawn(async move {
            client.call_tool(CallToolRequestParams::new("send_whatsapp_message").with_arguments(args)).await
        })
    };
    let sent = until_received(&graph, |r| !r.is_empty()).await;
    let key = serde_json::from_slice::<Value>(&sent[0].body).unwrap()["biz_opaque_callback_data"]
        .as_str()
        .unwrap()
        .to_string();
    first.start_kill().unwrap(); // SIGKILL mid-send
    first.wait().await.unwrap();
    call.abort();

    let (_second, url) = whatsapp_server(&graph, data_dir.path()).await;
    let client = ().serve(StreamableHttpClientTransport::from_uri(format!("{url}/mcp"))).await.unwrap();
    let send = || {
        client.call_tool(
            CallToolRequestParams::new("send_whatsapp_message").with_arguments(args.as_object().unwrap().clone()),
        )
    };
    let unknown = send().await.unwrap();
    assert_eq!(unknown.is_error, Some(true));
    let text = serde_json::to_string(&unknown.content).unwrap();
    assert!(text.contains("may or may not have sent") && text.contains(&key), "{text}");
    assert_eq!(graph.received_requests().await.unwrap().len(), 1, "not re-sent after the restart");

    // Meta's status webhook for it arrives: the send is settled, still one POST.
    post_signed(&url, format!(r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","statuses":[{{"id":"wamid.CRASH1","status":"delivered","timestamp":"{now}","recipient_id":"16505551234","biz_opaque_callback_data":"{key}"}}]}}}}]}}]}}"#)).await;
    let settled = send().await.unwrap();
    assert_eq!(settled.structured_content.as_ref().unwrap()["message_id"], "wamid.CRASH1", "{settled:?}");
    assert_eq!(graph.received_requests().await.unwrap().len(), 1);
}

/// A shared store that cannot be reached stops start-up with a sentence naming the host and the setting, and
/// never the password in the URL.
#[tokio::test]
async fn an_unreachable_database_stops_start_up_naming_host_and_setting_but_not_the_password() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens there.
    let url = "postgres://switchboard:hunter2-db-secret@127.0.0.1:1/switchboard";
    let child = switchboard_with(
        &["serve", "--http", "127.0.0.1:0"],
        "http://127.0.0.1:9",
        dir.path(),
        &[("DATABASE_URL", url), ("SWITCHBOARD_CONFIRM", "never")],
    );
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await.unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("PostgreSQL at 127.0.0.1:1") && stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(stderr.contains("refused"), "the cause, not a pool timeout: {stderr}");
    assert!(!stderr.contains("hunter2"), "the password leaked: {stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout: {:?}", String::from_utf8_lossy(&out.stdout));
}
