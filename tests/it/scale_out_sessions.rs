//! MCP protocol sessions (2025-11-25, `Mcp-Session-Id`) across instances that share one PostgreSQL database, over
//! raw Streamable HTTP: a session opened on instance A is served by instance B (restored from the shared store), a
//! DELETE on one instance ends it on every instance, and a session idle past `[http] session_idle_secs` everywhere
//! is not restored. Runs when `SWITCHBOARD_TEST_DATABASE_URL` is set (see [`crate::scale_out`]).

use crate::helpers::{config, fixture};
use crate::scale_out::TestDb;
use crate::webhooks::{Receiver, deliver_razorpay, start, with_webhooks};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use switchboard::config::HttpLimits;

/// An instance on `db` with these HTTP limits.
async fn instance(db: &TestDb, limits: HttpLimits) -> Receiver {
    let mut cfg = with_webhooks(config(None, None));
    cfg.store.url = Some(SecretString::from(db.url.clone()));
    cfg.http.limits = limits;
    start(cfg).await
}

fn idle_after(idle: Duration) -> HttpLimits {
    HttpLimits { session_idle: idle, ..HttpLimits::default() }
}

fn request(method: reqwest::Method, addr: SocketAddr, session: Option<&str>) -> reqwest::RequestBuilder {
    let request = reqwest::Client::new()
        .request(method, format!("http://{addr}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    match session {
        Some(id) => request.header("mcp-session-id", id).header("mcp-protocol-version", "2025-11-25"),
        None => request,
    }
}

/// Open a 2025-11-25 session on `addr` (initialize, then the initialized notification); its id.
async fn open_session(addr: SocketAddr) -> String {
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",
        "capabilities":{},"clientInfo":{"name":"scale-out-test","version":"1.0"}}});
    let response = request(reqwest::Method::POST, addr, None).body(init.to_string()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let session = response.headers()["mcp-session-id"].to_str().unwrap().to_string();
    let initialized = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
    let response = request(reqwest::Method::POST, addr, Some(&session)).body(initialized.to_string()).send().await;
    assert_eq!(response.unwrap().status(), StatusCode::ACCEPTED);
    session
}

/// What came back: the status, a `Retry-After` header, and the JSON-RPC message in the (SSE) body.
struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    message: Option<Value>,
}

async fn post(addr: SocketAddr, session: &str, message: Value) -> Answer {
    let response = request(reqwest::Method::POST, addr, Some(session)).body(message.to_string()).send().await.unwrap();
    let status = response.status();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    let text = response.text().await.unwrap();
    let message = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .find(|m| m.get("jsonrpc").is_some());
    Answer { status, retry_after, message }
}

async fn list_tools(addr: SocketAddr, session: &str) -> Answer {
    post(addr, session, json!({"jsonrpc":"2.0","id":2,"method":"tools/list"})).await
}

async fn end_session(addr: SocketAddr, session: &str) -> StatusCode {
    request(reqwest::Method::DELETE, addr, Some(session)).send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_opened_on_one_instance_is_served_by_another_until_it_is_deleted() {
    let Some(db) = TestDb::create().await else { return };
    let a = instance(&db, HttpLimits::default()).await;
    let b = instance(&db, HttpLimits::default()).await;
    let body = fixture("razorpay/webhook_payment_link_paid.json");
    assert_eq!(deliver_razorpay(a.addr, body.trim(), "evt_RZ_sessions_1").await, StatusCode::OK);
    let session = open_session(a.addr).await;

    let listed = list_tools(b.addr, &session).await;
    assert_eq!(listed.status, StatusCode::OK, "B serves the session A opened");
    let tools = listed.message.unwrap()["result"]["tools"].as_array().unwrap().len();
    assert!(tools > 10, "{tools} tools");
    let call = json!({"jsonrpc":"2.0","id":3,"method":"tools/call",
        "params":{"name":"list_events","arguments":{}}});
    let called = post(b.addr, &session, call).await;
    assert_eq!(called.status, StatusCode::OK);
    let result = &called.message.unwrap()["result"];
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(result["structuredContent"]["events"].as_array().unwrap().len(), 1, "{result}");
    // And A still serves it too.
    assert_eq!(list_tools(a.addr, &session).await.status, StatusCode::OK);

    // Ended on A: B's restored copy is closed on its next request, and nobody restores it again.
    assert_eq!(end_session(a.addr, &session).await, StatusCode::ACCEPTED);
    assert_eq!(list_tools(b.addr, &session).await.status, StatusCode::NOT_FOUND);
    assert_eq!(list_tools(a.addr, &session).await.status, StatusCode::NOT_FOUND);
    let c = instance(&db, HttpLimits::default()).await;
    assert_eq!(list_tools(c.addr, &session).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_on_an_instance_that_never_served_it_ends_everywhere() {
    let Some(db) = TestDb::create().await else { return };
    let a = instance(&db, HttpLimits::default()).await;
    let b = instance(&db, HttpLimits::default()).await;
    let session = open_session(a.addr).await;
    assert_eq!(end_session(b.addr, &session).await, StatusCode::ACCEPTED);
    assert_eq!(list_tools(a.addr, &session).await.status, StatusCode::NOT_FOUND);
    assert_eq!(list_tools(b.addr, &session).await.status, StatusCode::NOT_FOUND);
}

/// Idle means idle everywhere: no instance saw the session for `session_idle_secs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_idle_past_its_time_on_every_instance_is_not_restored() {
    let Some(db) = TestDb::create().await else { return };
    let idle = Duration::from_secs(1);
    let a = instance(&db, idle_after(idle)).await;
    let b = instance(&db, idle_after(idle)).await;
    let session = open_session(a.addr).await;
    assert_eq!(list_tools(b.addr, &session).await.status, StatusCode::OK);
    // Not a synchronisation: the time passing is what is under test.
    tokio::time::sleep(idle * 5 / 2).await;
    let c = instance(&db, idle_after(idle)).await;
    assert_eq!(list_tools(c.addr, &session).await.status, StatusCode::NOT_FOUND);
    assert_eq!(list_tools(b.addr, &session).await.status, StatusCode::NOT_FOUND);
    assert_eq!(list_tools(a.addr, &session).await.status, StatusCode::NOT_FOUND);
}

/// A's copy is closed by A's reaper after a second with nothing from the client, but B kept the session in use, so
/// A restores it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_in_use_on_one_instance_outlives_its_idle_time_on_another() {
    let Some(db) = TestDb::create().await else { return };
    let idle = Duration::from_secs(1);
    let a = instance(&db, idle_after(idle)).await;
    let b = instance(&db, idle_after(idle)).await;
    let session = open_session(a.addr).await;
    // The client's pace, not a synchronisation: a request to B every quarter second for 2.5 idle periods.
    for _ in 0..10 {
        assert_eq!(list_tools(b.addr, &session).await.status, StatusCode::OK);
        tokio::time::sleep(idle / 4).await;
    }
    assert_eq!(list_tools(a.addr, &session).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_instance_refuses_to_restore_a_session_with_503_until_a_slot_frees() {
    let Some(db) = TestDb::create().await else { return };
    let a = instance(&db, HttpLimits::default()).await;
    let b = instance(&db, HttpLimits { max_sessions: 1, ..HttpLimits::default() }).await;
    let own = open_session(b.addr).await;
    let visiting = open_session(a.addr).await;
    let refused = list_tools(b.addr, &visiting).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.retry_after.is_some_and(|s| s.parse::<u64>().unwrap() >= 1));
    // An unknown session is still 404 at a full instance, not 503.
    assert_eq!(list_tools(b.addr, "no-such-session").await.status, StatusCode::NOT_FOUND);
    assert_eq!(end_session(b.addr, &own).await, StatusCode::ACCEPTED);
    assert_eq!(list_tools(b.addr, &visiting).await.status, StatusCode::OK);
}
