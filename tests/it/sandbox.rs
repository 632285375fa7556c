//! `switchboard demo`: the sandbox speaks Razorpay's and HubSpot's wire formats to the real clients, its pay
//! page settles a link and sends signed webhooks to the real receiver, and the agent's whole flow works.

use crate::helpers::{call, config, connect_with, error_text, structured};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use switchboard::config::ConfirmMode;
use switchboard::demo::{self, Demo, DemoOptions};
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

fn options(dir: &Path, reset: bool, duplicate: bool) -> DemoOptions {
    DemoOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        reset,
        webhook_delay: Duration::ZERO,
        duplicate_webhooks: duplicate,
        allow_remote: false,
        data_dir: Some(dir.to_path_buf()),
    }
}

/// The demo wired as `switchboard demo` wires it, served on a free loopback port.
async fn start_demo(dir: &Path, reset: bool) -> RunningDemo {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut cfg = config(None, None);
    cfg.data_dir = dir.to_path_buf();
    cfg.confirm = ConfirmMode::Never;
    let shutdown = CancellationToken::new();
    let demo = demo::build(cfg, &options(dir, reset, false), addr, shutdown.clone()).unwrap();
    let app = demo.app.clone();
    let limits = demo.state.config.http.limits.clone();
    let serving = shutdown.clone();
    tokio::spawn(async move { switchboard::transport::http::serve_app(listener, app, &limits, serving).await });
    RunningDemo { demo, base: format!("http://{addr}"), shutdown }
}

async fn wait_until(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_agent_finds_the_overdue_invoice_sends_a_link_and_hears_it_was_paid_once() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_demo(dir.path(), false).await;
    let client = connect_with(running.demo.state.clone(), ()).await;

    let listed = structured(&call(&client, "list_invoices", json!({"customer": ASHA, "status": "overdue"})).await);
    assert_eq!(listed["mode"], "sandbox");
    let invoices = listed["invoices"].as_array().unwrap();
    assert_eq!(invoices.len(), 1, "{listed}");
    assert_eq!(invoices[0]["amount_due"]["formatted"], "₹45,000.00");
    assert_eq!(invoices[0]["status"], "overdue");

    let args = json!({"amount": "45000", "currency": "INR", "reference_id": invoices[0]["number"],
        "description": "Invoice INV-2026-0087", "customer": {"email": ASHA, "name": "Asha Rao"}});
    let created = structured(&call(&client, "create_payment_link", args.clone()).await);
    assert_eq!(created["mode"], "sandbox");
    let link = &created;
    let (id, url) = (link["id"].as_str().unwrap(), link["url"].as_str().unwrap());
    assert_eq!(url, format!("{}/sandbox/pay/{id}", running.base));
    let replayed = structured(&call(&client, "create_payment_link", args).await);
    assert_eq!(replayed["id"], id, "a retried create returns the first link");

    let http = reqwest::Client::new();
    let page = http.get(url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("₹45,000.00") && page.contains(ASHA) && page.contains("id=\"pay\""), "{page}");
    let paid = http.post(url).form(&[("duplicate", "on"), ("delay_ms", "0")]).send().await.unwrap();
    assert_eq!(paid.status(), 200, "the form redirects back to the page");
    assert!(paid.text().await.unwrap().contains("id=\"paid\""));

    let waited =
        structured(&call(&client, "wait_for_payment", json!({"payment_link_id": id, "timeout_secs": 20})).await);
    assert_eq!(waited["paid"], true, "{waited}");
    assert_eq!(waited["amount"]["minor_units"], 4_500_000);
    let payment_id = waited["payment_id"].as_str().unwrap().to_string();

    let fetched = structured(&call(&client, "get_payment_link", json!({"payment_link_id": id})).await);
    assert_eq!(fetched["status"], "paid");
    assert_eq!(fetched["payments"][0]["id"], payment_id.as_str());

    // Two events, each delivered twice: once all four deliveries are acknowledged, the log holds two events.
    let sandbox = running.demo.sandbox.clone();
    wait_until("four acknowledged deliveries", async || sandbox.delivered() == 4).await;
    let events = structured(&call(&client, "list_events", json!({"source": "razorpay"})).await);
    let mut kinds: Vec<&str> =
        events["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(kinds, ["payment.captured", "payment_link.paid"]);

    let home = http.get(format!("{}/sandbox", running.base)).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("INV-2026-0087") && home.contains(&format!("/sandbox/pay/{id}")), "{home}");

    // Paying again is refused and sends nothing.
    let again = http.post(url).form(&[("delay_ms", "0")]).send().await.unwrap();
    assert_eq!(again.status(), 409);
    assert!(again.text().await.unwrap().contains("is paid"));
    assert_eq!(sandbox.pending_deliveries().await, 0, "acknowledged deliveries are forgotten");
    assert_eq!(sandbox.delivered(), 4);
    let payment = http
        .get(format!("{}/sandbox/razorpay/v1/payments/{payment_id}", running.base))
        .basic_auth(&running.demo.sandbox.razorpay_config().key_id, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(payment.status(), 401, "the sandbox API wants the sandbox key");
}

#[tokio::test]
async fn the_sandbox_answers_bad_requests_in_razorpay_wire_format_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_demo(dir.path(), false).await;
    let rz = running.demo.sandbox.razorpay_config();
    let secret = secrecy::ExposeSecret::expose_secret(&rz.key_secret).to_string();
    let http = reqwest::Client::new();
    let links = format!("{}/sandbox/razorpay/v1/payment_links", running.base);
    let post = |body: Value, secret: String| http.post(&links).basic_auth(&rz.key_id, Some(secret)).json(&body).send();

    let wrong_key = post(json!({"amount": 1000}), "nope".into()).await.unwrap();
    assert_eq!(wrong_key.status(), 401);
    let body: Value = wrong_key.json().await.unwrap();
    assert_eq!(body["error"]["description"], "The api key provided is invalid");

    for (request, field) in [
        (json!({"currency": "INR"}), "amount"),
        (json!({"amount": 50}), "amount"),
        (json!({"amount": 1000, "colour": "red"}), "colour"),
        (json!({"amount": 1000, "expire_by": 1}), "expire_by"),
        (json!({"amount": i64::MAX}), "amount"),
    ] {
        let answer = post(request.clone(), secret.clone()).await.unwrap();
        assert_eq!(answer.status(), 400, "{request}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["code"], "BAD_REQUEST_ERROR");
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let first = post(json!({"amount": 1000, "reference_id": "ref-1"}), secret.clone()).await.unwrap();
    assert_eq!(first.status(), 200);
    let again = post(json!({"amount": 2000, "reference_id": "ref-1"}), secret.clone()).await.unwrap();
    assert_eq!(again.status(), 400);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"]["description"], "payment link creation with reference ID already attempted");

    let list: Value =
        http.get(&links).basic_auth(&rz.key_id, Some(&secret)).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["payment_links"].as_array().unwrap().len(), 1, "only the valid request made a link");
    // Links without a reference_id never collide with each other.
    for _ in 0..2 {
        assert_eq!(post(json!({"amount": 1000}), secret.clone()).await.unwrap().status(), 200);
    }
    let list: Value = http
        .get(format!("{links}?reference_id=ref-1"))
        .basic_auth(&rz.key_id, Some(&secret))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // A pay form with a bad delay is refused and the link stays unpaid.
    let pay_url = list["payment_links"][0]["short_url"].as_str().unwrap();
    let refused = http.post(pay_url).form(&[("delay_ms", "soon")]).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("delay_ms must be a whole number"));
    let page = http.get(pay_url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<strong id=\"status\">created</strong>"), "{page}");

    // Through the tools, Razorpay's "does not exist" 400 is a clear not-found.
    let client = connect_with(running.demo.state.clone(), ()).await;
    let missing = error_text(&call(&client, "get_invoice", json!({"invoice_id": "inv_Missing0000001"})).await);
    assert!(missing.contains("has no invoice with id 'inv_Missing0000001'"), "{missing}");
}

#[tokio::test]
async fn crm_tools_read_contacts_companies_and_open_deals_from_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_demo(dir.path(), false).await;
    let client = connect_with(running.demo.state.clone(), ()).await;

    let found = structured(&call(&client, "find_leads", json!({"company": "Kaveri Foods"})).await);
    assert_eq!(found["mode"], "sandbox");
    let leads = found["leads"].as_array().unwrap();
    assert_eq!(leads.len(), 1, "{found}");
    assert_eq!(leads[0]["email"], ASHA);

    let lead = structured(&call(&client, "get_lead", json!({"email": "ASHA.RAO@kaveri-foods.example"})).await);
    assert_eq!(lead["company"]["name"], "Kaveri Foods Pvt Ltd", "{lead}");
    let deals = lead["open_deals"].as_array().unwrap();
    assert_eq!(deals.len(), 1, "the closed-won deal is not open: {lead}");
    assert_eq!(deals[0]["name"], "Kaveri Foods - Cloud hosting renewal FY27");

    let nobody = structured(&call(&client, "find_leads", json!({"email": "nobody@example.com"})).await);
    assert_eq!(nobody["leads"], json!([]));
}

#[tokio::test]
async fn sandbox_state_survives_a_restart_and_reset_starts_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let link_count = |running: &RunningDemo| {
        let sandbox = running.demo.sandbox.clone();
        async move { sandbox.payment_link_count().await }
    };
    let first = start_demo(dir.path(), false).await;
    let client = connect_with(first.demo.state.clone(), ()).await;
    // A JSON number is accepted for the amount too (MCP Inspector's CLI sends 100 for "100").
    let created = structured(&call(&client, "create_payment_link", json!({"amount": 100, "currency": "INR"})).await);
    assert_eq!(created["amount"]["minor_units"], 10_000);
    assert_eq!(link_count(&first).await, 1);
    let key = first.demo.sandbox.razorpay_config().key_id;
    drop(first);

    let restarted = start_demo(dir.path(), false).await;
    assert_eq!(link_count(&restarted).await, 1, "links survive a restart");
    assert_eq!(restarted.demo.sandbox.razorpay_config().key_id, key, "so do the sandbox keys");
    drop(restarted);

    let reset = start_demo(dir.path(), true).await;
    assert_eq!(link_count(&reset).await, 0, "--reset starts from the seed data");
    assert_ne!(reset.demo.sandbox.razorpay_config().key_id, key);
}

#[tokio::test]
async fn owed_webhooks_survive_a_restart_and_are_delivered_then() {
    let dir = tempfile::tempdir().unwrap();
    let first = start_demo(dir.path(), false).await;
    let client = connect_with(first.demo.state.clone(), ()).await;
    let link = structured(&call(&client, "create_payment_link", json!({"amount": "2500", "currency": "INR"})).await);
    let url = link["url"].as_str().unwrap().to_string();
    let paid = reqwest::Client::new().post(&url).form(&[("delay_ms", "60000")]).send().await.unwrap();
    assert_eq!(paid.status(), 200);
    assert_eq!(first.demo.sandbox.pending_deliveries().await, 2, "saved with the payment");
    drop(first); // stopped before the delay ran out: nothing was delivered

    let second = start_demo(dir.path(), false).await;
    let sandbox = second.demo.sandbox.clone();
    wait_until("the owed deliveries", async || sandbox.delivered() == 2).await;
    wait_until("the owed deliveries forgotten", async || sandbox.pending_deliveries().await == 0).await;
    let client = connect_with(second.demo.state.clone(), ()).await;
    let events = structured(&call(&client, "list_events", json!({"payment_link_id": link["id"]})).await);
    assert_eq!(events["events"].as_array().unwrap().len(), 1, "payment_link.paid, once: {events}");
}

#[tokio::test]
async fn the_sandbox_refuses_foreign_hosts_and_cross_site_posts() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_demo(dir.path(), false).await;
    let http = reqwest::Client::new();
    let home = format!("{}/sandbox", running.base);
    let rebound = http.get(&home).header("host", "attacker.example:8080").send().await.unwrap();
    assert_eq!(rebound.status(), 403, "DNS rebinding is refused");
    assert_eq!(http.get(&home).send().await.unwrap().status(), 200);
    let pay = format!("{}/sandbox/pay/plink_Anything00001", running.base);
    let cross_site = http.post(&pay).header("origin", "https://evil.example").form(&[("delay_ms", "0")]).send();
    assert_eq!(cross_site.await.unwrap().status(), 403);
    let same_site = http.post(&pay).header("origin", running.base.as_str()).form(&[("delay_ms", "0")]).send();
    assert_eq!(same_site.await.unwrap().status(), 404, "passes the guard; no such link");
}

#[test]
fn reset_refuses_a_directory_that_is_not_a_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("switchboard.db"), b"precious").unwrap();
    let delivery = switchboard::sandbox::DeliveryOptions { delay: Duration::ZERO, duplicate: false };
    let refused = switchboard::sandbox::Sandbox::open(dir.path(), true, "http://127.0.0.1:1".into(), delivery);
    assert!(refused.err().unwrap().to_string().contains("not a sandbox directory"));
    assert!(dir.path().join("switchboard.db").exists(), "nothing was deleted");
}

fn demo_binary(args: &[&str], dir: &Path, token: Option<&str>) -> std::process::Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command.arg("demo").args(args).arg("--data-dir").arg(dir).env_remove("SWITCHBOARD_HTTP_TOKEN");
    if let Some(token) = token {
        command.env("SWITCHBOARD_HTTP_TOKEN", token);
    }
    command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

#[test]
fn the_demo_refuses_a_non_loopback_address_unless_explicitly_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");

    let refused = demo_binary(&["--http", "0.0.0.0:0"], &state, None).wait_with_output().unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--allow-remote") && stderr.contains("0.0.0.0"), "{stderr}");
    assert!(!state.exists(), "a refused demo creates nothing");

    let no_token = demo_binary(&["--http", "0.0.0.0:0", "--allow-remote"], &state, None).wait_with_output().unwrap();
    assert!(!no_token.status.success());
    assert!(String::from_utf8_lossy(&no_token.stderr).contains("SWITCHBOARD_HTTP_TOKEN"));

    let mut allowed =
        demo_binary(&["--http", "0.0.0.0:0", "--allow-remote"], &state, Some("a-long-enough-demo-token-123"));
    let mut banner = String::new();
    let stdout = allowed.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let line = std::io::BufReader::new(stdout).lines().map_while(Result::ok).find(|l| l.contains("MCP endpoint"));
        let _ = tx.send(line);
    });
    if let Ok(Some(line)) = rx.recv_timeout(Duration::from_secs(30)) {
        banner = line;
    }
    allowed.kill().unwrap();
    allowed.wait().unwrap();
    assert!(banner.contains("http://127.0.0.1:"), "allowed, and self-calls go to loopback: {banner}");
}
