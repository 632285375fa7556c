//! Streamable HTTP transport security: Host and Origin validation (DNS rebinding), bearer token, and the limits
//! on what strangers can make the server hold (sessions, connections, slow or idle sockets, oversized bodies).

use crate::helpers::config;
use reqwest::StatusCode;
use secrecy::SecretString;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use switchboard::config::Config;
use switchboard::state::AppState;
use switchboard::transport::http;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"security-test","version":"0"}}}"#;

struct Running {
    addr: SocketAddr,
    shutdown: CancellationToken,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn start(config: Config) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(http::serve(listener, Arc::new(AppState::new(config)), shutdown.clone()));
    Running { addr, shutdown }
}

async fn initialize(addr: SocketAddr, headers: &[(&str, &str)]) -> StatusCode {
    let mut request = reqwest::Client::new()
        .post(format!("http://{addr}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(INITIALIZE);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.unwrap().status()
}

#[tokio::test]
async fn foreign_origins_are_forbidden_and_local_ones_allowed() {
    let server = start(config(None, None)).await;
    for origin in ["http://evil.example", "https://localhost.evil.example", "http://127.0.0.1.nip.io:8080", "null"] {
        assert_eq!(initialize(server.addr, &[("origin", origin)]).await, StatusCode::FORBIDDEN, "{origin}");
    }
    for origin in ["http://localhost:6274", "http://127.0.0.1:5173"] {
        assert_eq!(initialize(server.addr, &[("origin", origin)]).await, StatusCode::OK, "{origin}");
    }
    // Non-browser clients send no Origin at all.
    assert_eq!(initialize(server.addr, &[]).await, StatusCode::OK);
}

#[tokio::test]
async fn configured_origins_are_allowed() {
    let mut cfg = config(None, None);
    cfg.http.allowed_origins = vec!["https://app.example.com".into()];
    let server = start(cfg).await;
    assert_eq!(initialize(server.addr, &[("origin", "https://app.example.com")]).await, StatusCode::OK);
    assert_eq!(initialize(server.addr, &[("origin", "https://evil.example.com")]).await, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn foreign_host_headers_are_rejected() {
    let server = start(config(None, None)).await;
    let port = server.addr.port();
    let evil = format!("evil.example:{port}");
    assert_eq!(initialize(server.addr, &[("host", &evil)]).await, StatusCode::FORBIDDEN);
    let local = format!("localhost:{port}");
    assert_eq!(initialize(server.addr, &[("host", &local)]).await, StatusCode::OK);
}

#[tokio::test]
async fn a_configured_token_is_required_on_every_mcp_request() {
    let mut cfg = config(None, None);
    cfg.http.token = Some(SecretString::from("s3cret-token"));
    let server = start(cfg).await;
    assert_eq!(initialize(server.addr, &[]).await, StatusCode::UNAUTHORIZED);
    assert_eq!(initialize(server.addr, &[("authorization", "Bearer wrong")]).await, StatusCode::UNAUTHORIZED);
    assert_eq!(initialize(server.addr, &[("authorization", "Basic czNjcmV0LXRva2Vu")]).await, StatusCode::UNAUTHORIZED);
    assert_eq!(initialize(server.addr, &[("authorization", "Bearer s3cret-token")]).await, StatusCode::OK);
    // Remote clients reach a token-protected server under names it cannot know; a foreign Origin still fails.
    let remote = [("authorization", "Bearer s3cret-token"), ("host", "mcp.example.com")];
    assert_eq!(initialize(server.addr, &remote).await, StatusCode::OK);
    let cross_site = [("authorization", "Bearer s3cret-token"), ("origin", "https://evil.example")];
    assert_eq!(initialize(server.addr, &cross_site).await, StatusCode::FORBIDDEN);
    // The health check stays open.
    let health = reqwest::get(format!("http://{}/healthz", server.addr)).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

/// The authentication scheme is case-insensitive (RFC 9110 §11.1): a client that writes "bearer" is let in; the
/// token itself is compared exactly.
#[tokio::test]
async fn the_bearer_scheme_is_matched_in_any_case_and_the_token_exactly() {
    let mut cfg = config(None, None);
    cfg.http.token = Some(SecretString::from("s3cret-token"));
    let server = start(cfg).await;
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        let header = format!("{scheme} s3cret-token");
        assert_eq!(initialize(server.addr, &[("authorization", header.as_str())]).await, StatusCode::OK, "{scheme}");
    }
    assert_eq!(initialize(server.addr, &[("authorization", "bearer S3CRET-TOKEN")]).await, StatusCode::UNAUTHORIZED);
    assert_eq!(initialize(server.addr, &[("authorization", "Bearers3cret-token")]).await, StatusCode::UNAUTHORIZED);
}

#[test]
fn binding_beyond_loopback_requires_a_token() {
    let token = SecretString::from("t");
    assert!(http::check_bind("127.0.0.1:8080".parse().unwrap(), None).is_ok());
    assert!(http::check_bind("[::1]:8080".parse().unwrap(), None).is_ok());
    let err = http::check_bind("0.0.0.0:8080".parse().unwrap(), None).unwrap_err();
    assert!(err.contains("SWITCHBOARD_HTTP_TOKEN"), "{err}");
    assert!(http::check_bind("0.0.0.0:8080".parse().unwrap(), Some(&token)).is_ok());
}

// ---- limits ----

/// A POST to `/mcp`, inside a session when `session` is given.
async fn mcp_post(addr: SocketAddr, session: Option<&str>, body: &str) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("http://{addr}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(id) = session {
        request = request.header("mcp-session-id", id).header("mcp-protocol-version", "2025-11-25");
    }
    request.send().await.unwrap()
}

/// Initialize a session and finish the handshake; its id.
async fn open_session(addr: SocketAddr) -> String {
    let response = mcp_post(addr, None, INITIALIZE).await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = response.headers()["mcp-session-id"].to_str().unwrap().to_string();
    response.text().await.unwrap();
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    assert_eq!(mcp_post(addr, Some(&id), initialized).await.status(), StatusCode::ACCEPTED);
    id
}

const TOOLS_LIST: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;

/// Read until the server closes the connection (EOF or reset) and return what it sent; fail if it is still open
/// after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let read_to_close = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    };
    let closed = tokio::time::timeout(within, read_to_close).await.is_ok();
    let seen = String::from_utf8_lossy(&seen).into_owned();
    assert!(closed, "the server still holds the connection after {within:?}; it sent {seen:?}");
    seen
}

/// Read one response (head and `Content-Length` body) from a raw connection, or `None` if none arrives in time.
async fn response_within(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let read_one = async {
        loop {
            let text = String::from_utf8_lossy(&seen).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                if seen.len() >= end + 4 + length {
                    return Some(text);
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(within, read_one).await.ok().flatten()
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

#[tokio::test]
async fn one_initialize_past_the_session_cap_gets_503_and_existing_sessions_keep_working() {
    let mut cfg = config(None, None);
    cfg.http.limits.max_sessions = 2;
    let server = start(cfg).await;
    let first = open_session(server.addr).await;
    open_session(server.addr).await;

    let refused = mcp_post(server.addr, None, INITIALIZE).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=120).contains(&retry_after), "Retry-After: {retry_after}");
    let text = refused.text().await.unwrap();
    assert!(text.contains("2 MCP sessions"), "{text}");

    let listed = mcp_post(server.addr, Some(&first), TOOLS_LIST).await;
    assert_eq!(listed.status(), StatusCode::OK);
    assert!(listed.text().await.unwrap().contains("get_invoice"));
}

#[tokio::test]
async fn an_idle_session_is_closed_and_frees_its_slot() {
    let mut cfg = config(None, None);
    cfg.http.limits.max_sessions = 1;
    cfg.http.limits.session_idle = Duration::from_millis(300);
    let server = start(cfg).await;
    let first = open_session(server.addr).await;
    assert_eq!(mcp_post(server.addr, None, INITIALIZE).await.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Once the idle session is reaped, a new one fits.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let response = mcp_post(server.addr, None, INITIALIZE).await;
        if response.status() == StatusCode::OK {
            break;
        }
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(tokio::time::Instant::now() < deadline, "the idle session was never closed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(mcp_post(server.addr, Some(&first), TOOLS_LIST).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_session_waiting_on_a_tool_call_is_not_idle() {
    let mut cfg = config(None, None);
    cfg.http.limits.session_idle = Duration::from_millis(200);
    let server = start(cfg).await;
    let id = open_session(server.addr).await;
    // No progress token: nothing moves on the session while the call waits five idle periods.
    let wait = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"wait_for_event","arguments":{"source":"nobody","timeout_secs":1}}}"#;
    let response = mcp_post(server.addr, Some(&id), wait).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(text.contains(r#""id":3"#) && text.contains(r#""result""#), "{text}");
    assert_eq!(mcp_post(server.addr, Some(&id), TOOLS_LIST).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed_after_the_header_read_timeout() {
    let mut cfg = config(None, None);
    cfg.http.limits.header_read_timeout = Duration::from_millis(300);
    let server = start(cfg).await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"POST /webhooks/razorpay HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1").await.unwrap();
    closed_within(&mut slow, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let mut cfg = config(None, None);
    cfg.http.limits.header_read_timeout = Duration::from_millis(300);
    let server = start(cfg).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(HEALTH).await.unwrap();
    let seen = closed_within(&mut idle, Duration::from_secs(5)).await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
}

#[tokio::test]
async fn past_the_connection_cap_a_new_connection_waits_until_one_closes() {
    let mut cfg = config(None, None);
    cfg.http.limits.max_connections = Some(2);
    let server = start(cfg).await;
    // Two keep-alive connections, each proven served, are held open.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(HEALTH).await.unwrap();
        assert!(response_within(&mut stream, Duration::from_secs(5)).await.is_some());
        held.push(stream);
    }
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    third.write_all(HEALTH).await.unwrap();
    let early = response_within(&mut third, Duration::from_millis(500)).await;
    assert!(early.is_none(), "a third connection was served past a cap of 2: {early:?}");
    drop(held.pop());
    let served = response_within(&mut third, Duration::from_secs(5)).await;
    assert!(served.is_some_and(|r| r.starts_with("HTTP/1.1 200")), "the waiting connection was not served");
}

#[tokio::test]
async fn a_declared_body_over_the_limit_gets_413_without_sending_it() {
    let server = start(crate::webhooks::with_webhooks(config(None, None))).await;
    for path in ["/webhooks/razorpay", "/mcp"] {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\nContent-Length: 100000000\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let response = response_within(&mut stream, Duration::from_secs(5)).await;
        assert!(response.as_deref().is_some_and(|r| r.starts_with("HTTP/1.1 413")), "{path}: {response:?}");
    }
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_refused_after_the_body_timeout() {
    let mut cfg = crate::webhooks::with_webhooks(config(None, None));
    cfg.http.limits.body_timeout = Duration::from_millis(300);
    let server = start(cfg).await;
    for (path, status) in [("/webhooks/razorpay", "HTTP/1.1 400"), ("/mcp", "HTTP/1.1 408")] {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\nContent-Length: 100\r\n\r\n{{\"partial"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let seen = closed_within(&mut stream, Duration::from_secs(5)).await;
        assert!(seen.starts_with(status), "{path}: {seen}");
    }
}

#[tokio::test]
async fn shutdown_ends_open_streams_and_the_server_returns() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let served = tokio::spawn(http::serve(listener, Arc::new(AppState::new(config(None, None))), shutdown.clone()));
    let id = open_session(addr).await;
    let stream = reqwest::Client::new()
        .get(format!("http://{addr}/mcp"))
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &id)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    shutdown.cancel();
    let ended = tokio::time::timeout(Duration::from_secs(5), stream.text()).await;
    assert!(ended.is_ok(), "the SSE stream outlived shutdown");
    let returned = tokio::time::timeout(Duration::from_secs(5), served).await;
    assert!(matches!(returned, Ok(Ok(Ok(())))), "serve did not return after shutdown: {returned:?}");
}
