//! Wiring: build the shared state, start the chosen transport, stop cleanly on SIGTERM / Ctrl-C.

use crate::config::Config;
use crate::state::AppState;
use crate::transport;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Which transport to serve.
#[derive(Debug, Clone, Copy)]
pub enum Transport {
    Stdio,
    Http(SocketAddr),
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Refused(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Serve until the client leaves (stdio) or a shutdown signal arrives.
pub async fn run(config: Config, transport: Transport) -> Result<(), RunError> {
    // A refused address is refused before anything is touched (the shared database is not even migrated).
    if let Transport::Http(addr) = transport {
        transport::http::check_bind(addr, config.http.token.as_ref()).map_err(RunError::Refused)?;
    }
    // Before any listener: the connection cap is derived from the limit this leaves.
    transport::http::raise_open_file_limit();
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let state = Arc::new(AppState::new(config));
    // A shared database is opened before anything is served: a wrong URL or an unreachable server is a start-up
    // error that names the host and the setting, not a failure mid-conversation.
    if let crate::store::Store::Postgres(_) = &state.store {
        state.store.open().await.map_err(|e| RunError::Refused(e.to_string()))?;
        tracing::info!(store = %state.store.describe(), "using the shared PostgreSQL store");
    }
    warn_about_approvals(&state.config, transport);
    start_background_work(state.clone());
    let providers: Vec<&str> = state.providers.configured().iter().map(|p| p.as_str()).collect();
    match transport {
        Transport::Stdio => {
            if let Some(addr) = state.config.webhooks.listen {
                spawn_webhook_listener(addr, state.clone(), shutdown.clone()).await;
            }
            tracing::info!(?providers, "serving MCP on stdio");
            transport::stdio::serve(state, shutdown).await?;
        }
        Transport::Http(addr) => {
            let listener =
                tokio::net::TcpListener::bind(addr).await.map_err(|source| RunError::Bind { addr, source })?;
            let local = listener.local_addr()?;
            tracing::info!(?providers, "serving MCP on http://{local}/mcp");
            transport::http::serve(listener, state, shutdown).await?;
        }
    }
    Ok(())
}

/// Say at start-up what the operator chose that weakens approvals, or leaves some clients unable to approve.
fn warn_about_approvals(config: &Config, transport: Transport) {
    if config.read_only {
        return;
    }
    match (config.confirm, transport) {
        (crate::config::ConfirmMode::Never, _) => {
            tracing::warn!("confirm = \"never\": payment links are created and cancelled without anyone approving them")
        }
        (_, Transport::Stdio) if config.webhooks.listen.is_none() => tracing::warn!(
            "no listener for the approval page (set SWITCHBOARD_WEBHOOK_LISTEN): clients without elicitation cannot approve actions, so those actions are refused"
        ),
        _ => {}
    }
}

/// The stdio server's webhook receiver. A port already taken (say, a second client launched Switchboard too)
/// must not take MCP down with it: the failure is logged and MCP is served without a receiver.
async fn spawn_webhook_listener(addr: SocketAddr, state: Arc<AppState>, shutdown: CancellationToken) {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(%addr, error = %e, "cannot receive webhooks on this address; serving MCP without a receiver");
            return;
        }
    };
    match listener.local_addr() {
        Ok(local) => {
            tracing::info!(
                "receiving webhooks on http://{local}/webhooks/{{source}}, approvals on http://{local}/approvals, \
                 the webhook inspector on http://{local}/inspector"
            );
            state.serve_approvals_at(local);
        }
        Err(e) => tracing::warn!(error = %e, "webhook listener address unknown"),
    }
    let limits = state.config.http.limits.clone();
    let app = transport::http::listener_routes(state);
    tokio::spawn(async move {
        let served = transport::http::serve_app(listener, app, &limits, shutdown).await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the webhook listener stopped");
        }
    });
}

/// Prune old events, settle interrupted creates, and keep the invoice book true, in the background so start-up
/// never waits.
pub(crate) fn start_background_work(state: Arc<AppState>) {
    // Lives as long as the process.
    crate::writeback::spawn(state.clone(), CancellationToken::new());
    tokio::spawn(check_book(state.clone()));
    tokio::spawn(reconcile(state));
}

/// Check the Notion invoice book's schema at start-up, so a mismatch is in the log before an agent meets it.
async fn check_book(state: Arc<AppState>) {
    let Ok(book) = state.providers.book() else { return };
    match book.book().await {
        Ok(_) => tracing::info!("the Notion invoices database matches the property map"),
        Err(e) => tracing::error!(error = %e, "the Notion invoice book cannot be used yet"),
    }
}

/// Settle payment link creates a crash left in progress, then approved actions a stop left unperformed.
async fn reconcile(state: Arc<AppState>) {
    if !state.store.exists() {
        return;
    }
    let retention = i64::from(state.config.webhooks.retention_days) * 86_400;
    match state.store.events().prune(crate::domain::time::now() - retention).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(pruned = n, "dropped events past their retention"),
        Err(e) => tracing::warn!(error = %e, "could not prune old events"),
    }
    match crate::tools::once::reconcile_abandoned(&state).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(settled = n, "reconciled interrupted payment link creates"),
        Err(e) => tracing::warn!(error = %e, "could not reconcile interrupted payment link creates"),
    }
    match state.store.approvals().prune(crate::domain::time::now() - retention).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(pruned = n, "dropped decided approvals past their retention"),
        Err(e) => tracing::warn!(error = %e, "could not prune old approvals"),
    }
    let performer: Arc<dyn crate::approvals::Performer> = Arc::new(crate::tools::Actions);
    let performed = crate::approvals::settle_interrupted(state.clone(), performer.clone()).await;
    if performed > 0 {
        tracing::info!(performed, "performed approvals a stopped process had not finished");
    }
    crate::approvals::sweep_interrupted(state, performer).await;
}

pub(crate) async fn cancel_on_signal(shutdown: CancellationToken) {
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}
