//! MCP over Streamable HTTP at `/mcp` (POST for requests, GET for the SSE stream, DELETE to end a session).
//!
//! Security, per the MCP spec's transport MUSTs: `Host` and `Origin` are validated (loopback plus what the
//! config allows; a foreign Origin gets 403), and an optional bearer token guards every route. Binding a
//! non-loopback address without a token is refused at start-up.
//!
//! A POST body that is not a JSON-RPC message is answered as JSON-RPC (see [`super::jsonrpc`]): rmcp's own
//! answer is a plain-text `415 Unsupported Media Type`.

use super::jsonrpc;
use crate::server::Switchboard;
use crate::state::AppState;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use http_body::Frame;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Hosts always accepted in `Host` (any port).
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// Browser origins always accepted (MCP Inspector's UI, local tools), any port.
const LOOPBACK_ORIGINS: [&str; 6] = [
    "http://localhost:*",
    "http://127.0.0.1:*",
    "http://[::1]:*",
    "https://localhost:*",
    "https://127.0.0.1:*",
    "https://[::1]:*",
];

/// The axum app: `/mcp` (behind the bearer-token guard when a token is configured) and `/healthz`.
pub fn router(state: Arc<AppState>, shutdown: CancellationToken) -> Router {
    let http = &state.config.http;
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(LOOPBACK_HOSTS.iter().map(|h| h.to_string()).chain(http.allowed_hosts.iter().cloned()))
        .with_allowed_origins(
            LOOPBACK_ORIGINS.iter().map(|o| o.to_string()).chain(http.allowed_origins.iter().cloned()),
        )
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .with_cancellation_token(shutdown.child_token());
    // Host checks stop DNS rebinding against an unauthenticated local server. With a bearer token a rebinding
    // page cannot authenticate, and remote clients use names we cannot know: accept any Host unless the
    // operator listed them. Origin is still validated.
    let config =
        if http.token.is_some() && http.allowed_hosts.is_empty() { config.disable_allowed_hosts() } else { config };
    let token = http.token.clone();
    let service_state = state.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(Switchboard::new(service_state.clone())),
        LocalSessionManager::default().into(),
        config,
    );
    let mcp = Router::new().nest_service("/mcp", mcp).layer(middleware::from_fn(answer_unparsable_bodies));
    let mcp = match token {
        Some(token) => mcp.layer(middleware::from_fn_with_state(Arc::new(token), require_bearer)),
        None => mcp,
    };
    // Webhooks arrive from providers (often through a tunnel, under any Host): signatures guard them, not the
    // MCP token or the Host/Origin lists.
    mcp.route("/healthz", axum::routing::get(|| async { "ok" })).merge(crate::webhooks::receiver::routes(state))
}

/// Serve on an already-bound listener until `shutdown` fires, then drain.
pub async fn serve(listener: TcpListener, state: Arc<AppState>, shutdown: CancellationToken) -> std::io::Result<()> {
    serve_app(listener, router(state, shutdown.clone()), shutdown).await
}

/// Serve an app built on [`router`] (plus extra routes, such as the sandbox's) until `shutdown` fires.
pub async fn serve_app(listener: TcpListener, app: Router, shutdown: CancellationToken) -> std::io::Result<()> {
    // Small JSON answers must not wait for Nagle's algorithm (≈40 ms stalls against delayed ACKs).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.cancelled().await }).await
}

/// Refuse to expose the server beyond this machine without a token.
pub fn check_bind(addr: SocketAddr, token: Option<&SecretString>) -> Result<(), String> {
    if addr.ip().is_loopback() || token.is_some() {
        Ok(())
    } else {
        Err(format!(
            "refusing to serve MCP on {addr} without a token: anyone who can reach it could use your provider keys. \
             Set SWITCHBOARD_HTTP_TOKEN (clients then send 'Authorization: Bearer <token>'), or bind 127.0.0.1."
        ))
    }
}

/// When rmcp turns a JSON POST body down as not a JSON-RPC message (its plain-text 415), answer by the JSON-RPC
/// rules instead: `400` with a `-32700`/`-32600`/`-32602`/`-32601` error, carrying the request's id when it can be
/// read, or a bare `400` for a malformed notification or response (the Streamable HTTP spec's "cannot accept the
/// input"). The body reaches rmcp as it came (its Host/Origin checks and size cap run first, as before); the chunks
/// rmcp reads are kept by reference to be looked at only in that case.
async fn answer_unparsable_bodies(request: Request, next: Next) -> Response {
    if request.method() != Method::POST || !is_json(request.headers()) {
        return next.run(request).await;
    }
    let read = Arc::new(std::sync::Mutex::new(Vec::new()));
    let request = request.map(|body| Body::new(Recorded { body, read: read.clone() }));
    let response = next.run(request).await;
    // The Content-Type is JSON (checked above), so rmcp's 415 means the body did not parse as a message.
    if response.status() != StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return response;
    }
    let body = match read.lock() {
        Ok(chunks) => chunks.concat(),
        Err(_) => return response,
    };
    match jsonrpc::answer_unparsed(&body) {
        Some(answer) => (StatusCode::BAD_REQUEST, Json(answer)).into_response(),
        None => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// A request body that keeps (reference-counted, not copied) each chunk read from it.
struct Recorded {
    body: Body,
    read: Arc<std::sync::Mutex<Vec<Bytes>>>,
}

impl HttpBody for Recorded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let frame = std::task::ready!(Pin::new(&mut self.body).poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
            && let Ok(mut read) = self.read.lock()
        {
            read.push(data.clone());
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Whether the Content-Type is `application/json` (parameters such as `charset` allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

async fn require_bearer(State(token): State<Arc<SecretString>>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let expected = token.expose_secret().as_bytes();
    match presented {
        Some(p) if bool::from(p.as_bytes().ct_eq(expected)) => next.run(request).await,
        _ => {
            tracing::warn!(path = %request.uri().path(), "rejected HTTP request without a valid bearer token");
            let mut response = (StatusCode::UNAUTHORIZED, "missing or invalid bearer token").into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"switchboard\""));
            response
        }
    }
}
