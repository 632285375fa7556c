//! MCP over Streamable HTTP at `/mcp` (POST for requests, GET for the SSE stream, DELETE to end a session).
//!
//! Security, per the MCP spec's transport MUSTs: `Host` and `Origin` are validated (loopback plus what the
//! config allows; a foreign Origin gets 403), and an optional bearer token guards every route. Binding a
//! non-loopback address without a token is refused at start-up.
//!
//! Limits (`[http]`, see [`HttpLimits`]): connections are capped below the open-file limit (more wait in the
//! listen backlog), a request head must arrive within the header-read timeout (which also ends idle keep-alive
//! connections), a body within the body timeout, a declared `Content-Length` over the limit gets 413 before the
//! body is read, and MCP sessions are capped and closed when idle (see [`super::sessions`]; on PostgreSQL they are
//! shared with the other instances).
//!
//! A POST body that is not a JSON-RPC message is answered as JSON-RPC (see [`crate::server::jsonrpc`]): rmcp's own
//! answer is a plain-text `415 Unsupported Media Type`.

use super::sessions::{self, LimitedSessions};
use crate::config::{HttpLimits, LOOPBACK_HOSTS};
use crate::server::jsonrpc;
use crate::server::{SharedTools, Switchboard};
use crate::state::AppState;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use http_body::Frame;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rmcp::transport::streamable_http_server::session::SessionId;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::RequestBodyDeadlineLayer;

/// Browser origins always accepted (MCP Inspector's UI, local tools), any port.
const LOOPBACK_ORIGINS: [&str; 6] = [
    "http://localhost:*",
    "http://127.0.0.1:*",
    "http://[::1]:*",
    "https://localhost:*",
    "https://127.0.0.1:*",
    "https://[::1]:*",
];

/// Connections served at once when `[http] max_connections` is unset, however high the open-file limit: each
/// costs memory (hyper's buffers, a task; see README "Limits"), and a Switchboard serves a few agents and
/// webhook senders, not a crowd.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// The axum app: `/mcp` (behind the bearer-token guard when a token is configured), `/healthz`, the webhooks,
/// the approval page and the webhook inspector.
pub fn router(state: Arc<AppState>, shutdown: CancellationToken) -> Router {
    let http = &state.config.http;
    let sessions = Arc::new(LimitedSessions::new(&http.limits, &state.store, shutdown.child_token()));
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(LOOPBACK_HOSTS.iter().map(|h| h.to_string()).chain(http.allowed_hosts.iter().cloned()))
        .with_allowed_origins(
            LOOPBACK_ORIGINS.iter().map(|o| o.to_string()).chain(http.allowed_origins.iter().cloned()),
        )
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .with_max_request_body_bytes(http.limits.max_body_bytes)
        .with_cancellation_token(shutdown.child_token());
    // On a shared (PostgreSQL) store, a 2025-11-25 session opened on another instance is restored here.
    config.session_store = sessions.session_store();
    // Host checks stop DNS rebinding against an unauthenticated local server. With a bearer token a rebinding
    // page cannot authenticate, and remote clients use names we cannot know: accept any Host unless the
    // operator listed them. Origin is still validated.
    let config =
        if http.token.is_some() && http.allowed_hosts.is_empty() { config.disable_allowed_hosts() } else { config };
    let token = http.token.clone();
    let service_state = state.clone();
    let tools = SharedTools::default();
    let mcp = StreamableHttpService::new(
        move || Ok(Switchboard::sharing(service_state.clone(), tools.clone())),
        sessions.clone(),
        config,
    );
    let edge = Arc::new(McpEdge {
        sessions,
        max_body_bytes: http.limits.max_body_bytes,
        body_timeout: http.limits.body_timeout,
    });
    // Outermost first: the edge enforces size, time and the session cap; inside it, bodies rmcp cannot parse are
    // answered as JSON-RPC.
    let mcp = Router::new()
        .nest_service("/mcp", mcp)
        .layer(middleware::from_fn(answer_unparsable_bodies))
        .layer(middleware::from_fn_with_state(edge, mcp_edge));
    let mcp = match token {
        Some(token) => mcp.layer(middleware::from_fn_with_state(Arc::new(token), require_bearer)),
        None => mcp,
    };
    // Webhooks arrive from providers (often through a tunnel, under any Host): signatures guard them, not the
    // MCP token or the Host/Origin lists.
    let health = Router::new()
        .route("/healthz", axum::routing::get(super::health::healthz))
        .with_state(Arc::new(super::health::Checker::new(state.clone())));
    mcp.merge(health).merge(listener_routes(state))
}

/// What every listener serves besides MCP: the webhooks, `/metrics`, the approval page and the webhook inspector (the
/// stdio server's listener serves exactly these).
pub fn listener_routes(state: Arc<AppState>) -> Router {
    let performer: Arc<dyn crate::approvals::Performer> = Arc::new(crate::tools::Actions);
    crate::webhooks::receiver::routes(state.clone())
        .merge(super::metrics::routes(state.clone()))
        .merge(crate::approvals::page::routes(state.clone(), performer))
        .merge(crate::webhooks::inspector::routes(state))
}

/// Serve on an already-bound listener until `shutdown` fires, then drain. Approval links point here.
pub async fn serve(listener: TcpListener, state: Arc<AppState>, shutdown: CancellationToken) -> std::io::Result<()> {
    state.serve_approvals_at(listener.local_addr()?);
    let limits = state.config.http.limits.clone();
    serve_app(listener, router(state, shutdown.clone()), &limits, shutdown).await
}

/// What the edge of `/mcp` enforces before rmcp sees a request.
struct McpEdge {
    sessions: Arc<LimitedSessions>,
    max_body_bytes: usize,
    body_timeout: Duration,
}

/// The edge of `/mcp`. At the session cap, a request that would restore a session opened on another instance gets
/// 503, as an `initialize` does. For POSTs: a declared `Content-Length` over the limit gets 413 at once; the body is
/// read whole (413 past the limit, 408 past the body timeout) before rmcp sees it; and one `initialize` past the
/// session cap gets 503. By hand rather than tower-http's limit layer because rmcp answers any body error,
/// including that layer's, with 500; reading here costs nothing extra, as rmcp buffers the body whole anyway.
async fn mcp_edge(State(edge): State<Arc<McpEdge>>, request: Request, next: Next) -> Response {
    if request.method() != Method::DELETE
        && let Some(id) = request.headers().get("mcp-session-id").and_then(|v| v.to_str().ok())
        && edge.sessions.is_full_for(&SessionId::from(id)).await
    {
        return edge.sessions.refusal();
    }
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > edge.max_body_bytes as u64) {
        return too_large(edge.max_body_bytes);
    }
    let may_open_session = !request.headers().contains_key("mcp-session-id");
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, edge.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(e) => return body_refused(e, &edge),
    };
    if may_open_session && edge.sessions.is_full() && sessions::is_initialize(&bytes) {
        return edge.sessions.refusal();
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

fn too_large(limit: usize) -> Response {
    (StatusCode::PAYLOAD_TOO_LARGE, format!("the request body is larger than {limit} bytes")).into_response()
}

/// 413 past the size limit, 408 past the body deadline (set in [`serve_app`]), 400 for anything else.
fn body_refused(e: axum::Error, edge: &McpEdge) -> Response {
    let cause = e.into_inner();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&*cause);
    while let Some(error) = source {
        if error.is::<http_body_util::LengthLimitError>() {
            return too_large(edge.max_body_bytes);
        }
        if error.is::<tower_http::timeout::TimeoutError>() {
            let text = format!("the request body did not arrive within {:?}", edge.body_timeout);
            return (StatusCode::REQUEST_TIMEOUT, text).into_response();
        }
        source = error.source();
    }
    (StatusCode::BAD_REQUEST, "could not read the request body").into_response()
}

/// Serve an app built on [`router`] (plus extra routes, such as the sandbox's) until `shutdown` fires, then
/// drain: in-flight requests finish, SSE streams end on the shutdown token, idle connections close.
///
/// hyper's HTTP/1 connection builder directly rather than `axum::serve`, which sets no header-read timeout
/// and no connection cap.
pub async fn serve_app(
    listener: TcpListener,
    app: Router,
    limits: &HttpLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = app.layer(RequestBodyDeadlineLayer::new(limits.body_timeout));
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        // hyper starts this clock whenever the connection is ready for a request head, so it also closes idle
        // keep-alive connections.
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        // The read buffer bounds a head that never completes; bodies stream through it in chunks.
        .max_buf_size(limits.max_header_bytes.max(8 << 10) + (8 << 10));
    let cap = connection_cap(limits.max_connections);
    tracing::debug!(max_connections = cap, ?limits, "HTTP limits");
    let slots = Arc::new(Semaphore::new(cap));
    let graceful = GracefulShutdown::new();
    loop {
        // At the cap, stop accepting: new connections wait in the kernel's listen backlog until one closes.
        let slot = tokio::select! {
            _ = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => slot,
        };
        let Ok(slot) = slot else { break };
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        // Small JSON answers must not wait for Nagle's algorithm (≈40 ms stalls against delayed ACKs).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        // Handlers that care who is asking (the approval page admits only loopback peers without a token).
        let service =
            tower::ServiceExt::map_request(app.clone(), move |mut request: Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                request
            });
        let connection = graceful.watch(http1.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "HTTP connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// As hyper and axum do: a peer that reset before we accepted is nothing; anything else (say, out of file
/// descriptors) is logged and retried after a pause rather than spinning.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        tracing::error!(error = %e, "accepting a connection failed");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Raise the soft open-file limit to the hard one (many systems start processes at 1,024 while allowing far
/// more), so that the connection cap can sit well above it. Returns the limit now in force.
pub fn raise_open_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            tracing::debug!(limit, "open-file limit");
            limit
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-file limit");
            open_file_limit() as u64
        }
    }
}

/// The connection cap: `[http] max_connections` when set, else the open-file limit less headroom, at most
/// [`DEFAULT_MAX_CONNECTIONS`]. A configured cap above what the file limit allows is lowered to it, with a warning.
pub fn connection_cap(configured: Option<usize>) -> usize {
    let files = open_file_limit();
    let room = files.saturating_sub(open_file_headroom(files)).max(1);
    match configured {
        Some(n) if n > room => {
            tracing::warn!(
                configured = n,
                open_file_limit = files,
                cap = room,
                "[http] max_connections is above what the open-file limit allows; lowering it"
            );
            room
        }
        Some(n) => n,
        None => room.min(DEFAULT_MAX_CONNECTIONS),
    }
}

/// File descriptors kept for everything but inbound connections: the database (with its WAL and shared-memory
/// files, per pooled connection), outbound provider connections, the listeners, stdio, the runtime's own.
fn open_file_headroom(files: usize) -> usize {
    (files / 8).max(128)
}

/// The soft `RLIMIT_NOFILE` (1,024 when it cannot be read).
fn open_file_limit() -> usize {
    #[cfg(unix)]
    let limit = rlimit::Resource::NOFILE.get().ok().map(|(soft, _)| usize::try_from(soft).unwrap_or(usize::MAX));
    #[cfg(not(unix))]
    let limit = None;
    limit.unwrap_or(1024)
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

/// The token of an `Authorization: Bearer <token>` value; the scheme is case-insensitive (RFC 9110 §11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn require_bearer(State(token): State<Arc<SecretString>>, request: Request, next: Next) -> Response {
    let presented = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer_token);
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
