//! JSON-RPC 2.0 edges over Streamable HTTP: a body that is not a JSON-RPC message is answered with a JSON-RPC
//! error (not rmcp's plain-text 415), params that do not fit their method get -32602 with the request's id, and
//! an unknown method name comes back clipped.

use crate::helpers::config;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use switchboard::state::AppState;
use switchboard::transport::http;
use tokio_util::sync::CancellationToken;

/// No error answer needs more than this, SSE framing included.
const MAX_ERROR_BODY: usize = 512;

struct Server {
    url: String,
    session: String,
    shutdown: CancellationToken,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// What came back: the status, the JSON-RPC message in the body (plain JSON or the first SSE `data:` that holds
/// one), and the body's length.
struct Answer {
    status: StatusCode,
    message: Option<Value>,
    len: usize,
}

impl Server {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        tokio::spawn(http::serve(listener, Arc::new(AppState::new(config(None, None))), shutdown.clone()));
        let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",
            "capabilities":{},"clientInfo":{"name":"jsonrpc-test","version":"0"}}});
        let response = Self::request(&url, None).body(init.to_string()).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let session = response.headers()["mcp-session-id"].to_str().unwrap().to_string();
        let server = Server { url, session, shutdown };
        let initialized = server.post(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).await;
        assert_eq!(initialized.status, StatusCode::ACCEPTED);
        server
    }

    fn request(url: &str, session: Option<&str>) -> reqwest::RequestBuilder {
        let request = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        match session {
            Some(id) => request.header("mcp-session-id", id).header("mcp-protocol-version", "2025-11-25"),
            None => request,
        }
    }

    async fn post(&self, body: impl Into<reqwest::Body>) -> Answer {
        let response = Self::request(&self.url, Some(&self.session)).body(body).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let message = serde_json::from_str::<Value>(&text).ok().or_else(|| {
            text.lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .filter_map(|d| serde_json::from_str::<Value>(d).ok())
                .find(|m| m.get("jsonrpc").is_some())
        });
        Answer { status, message, len: text.len() }
    }

    /// POST `body`, expect one JSON-RPC error with `code` and `id` (`None`: no id), short; return its message.
    async fn error(&self, body: &str, status: StatusCode, code: i64, id: impl Into<Option<Value>>) -> String {
        let answer = self.post(body.to_string()).await;
        let shown: String = body.chars().take(100).collect();
        assert_eq!(answer.status, status, "sent {shown}");
        assert!(answer.len <= MAX_ERROR_BODY, "sent {shown}: a {}-byte answer", answer.len);
        let message = answer.message.unwrap_or_else(|| panic!("sent {shown}: no JSON-RPC message in the answer"));
        assert_eq!(message["jsonrpc"], "2.0", "{message}");
        assert_eq!(message["error"]["code"], code, "sent {shown}: {message}");
        assert_eq!(message.get("id").cloned(), id.into(), "sent {shown}: {message}");
        message["error"]["message"].as_str().unwrap().to_string()
    }
}

#[tokio::test]
async fn http_bodies_that_are_not_messages_get_json_rpc_errors() {
    let server = Server::start().await;
    let parse = server.error("hello", StatusCode::BAD_REQUEST, -32700, None).await;
    assert!(parse.starts_with("Parse error"), "{parse}");
    server.error("[]", StatusCode::BAD_REQUEST, -32600, None).await;
    let not_object = r#"{"jsonrpc":"2.0","id":10,"method":"tools/call","params":"nope"}"#;
    server.error(not_object, StatusCode::BAD_REQUEST, -32602, json!(10)).await;
    // A malformed notification gets an HTTP error, and no JSON-RPC answer (notifications are never answered).
    let notification = server.post(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":"x"}"#).await;
    assert_eq!((notification.status, notification.message), (StatusCode::BAD_REQUEST, None));
    // The session goes on.
    let listed = server.post(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(listed.message.unwrap()["result"]["tools"].as_array().is_some_and(|t| !t.is_empty()));
}

#[tokio::test]
async fn http_misfit_params_and_unknown_methods_are_answered_briefly_with_their_id() {
    let server = Server::start().await;
    let wrong_type = r#"{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":5}}"#;
    let message = server.error(wrong_type, StatusCode::OK, -32602, json!(13)).await;
    assert!(message.starts_with("Invalid params for tools/call"), "{message}");
    let long = format!(r#"{{"jsonrpc":"2.0","id":15,"method":"{}"}}"#, "y".repeat(1024 * 1024));
    let message = server.error(&long, StatusCode::OK, -32601, json!(15)).await;
    assert!(message.starts_with("Method not found") && message.len() <= 100, "{message}");
    let too_big = format!(r#"{{"jsonrpc":"2.0","id":16,"method":"{}"}}"#, "z".repeat(5 * 1024 * 1024));
    assert_eq!(server.post(too_big).await.status, StatusCode::PAYLOAD_TOO_LARGE);
}
