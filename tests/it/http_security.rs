//! Streamable HTTP transport security: Host and Origin validation (DNS rebinding), bearer token.

use crate::helpers::config;
use reqwest::StatusCode;
use secrecy::SecretString;
use std::net::SocketAddr;
use std::sync::Arc;
use switchboard::config::Config;
use switchboard::state::AppState;
use switchboard::transport::http;
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

#[test]
fn binding_beyond_loopback_requires_a_token() {
    let token = SecretString::from("t");
    assert!(http::check_bind("127.0.0.1:8080".parse().unwrap(), None).is_ok());
    assert!(http::check_bind("[::1]:8080".parse().unwrap(), None).is_ok());
    let err = http::check_bind("0.0.0.0:8080".parse().unwrap(), None).unwrap_err();
    assert!(err.contains("SWITCHBOARD_HTTP_TOKEN"), "{err}");
    assert!(http::check_bind("0.0.0.0:8080".parse().unwrap(), Some(&token)).is_ok());
}
