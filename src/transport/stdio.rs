//! MCP over stdin/stdout. stdout carries only JSON-RPC; logs go to stderr.

use super::lines::LineTransport;
use crate::server::Switchboard;
use crate::state::AppState;
use rmcp::ServiceExt;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Serve one MCP client on stdio until stdin closes or `shutdown` fires.
///
/// When stdin and stdout are pipes (how MCP clients launch servers) they are driven by the reactor, not by a
/// hand-off to the blocking thread pool per read and write; a terminal or a file falls back to the blocking handles.
/// Messages are read as bounded lines and what does not parse is answered by the JSON-RPC rules (see
/// [`super::lines`]).
pub async fn serve(state: Arc<AppState>, shutdown: CancellationToken) -> Result<(), std::io::Error> {
    let (read, write) = rmcp::transport::stdio_pipes();
    let service = match Switchboard::new(state).serve_with_ct(LineTransport::new(read, write), shutdown).await {
        Ok(service) => service,
        // The client went away (or we were told to stop) before saying anything: nothing to serve.
        Err(e) => {
            tracing::info!(reason = %e, "stdio session ended before initialisation");
            return Ok(());
        }
    };
    let reason = service.waiting().await.map_err(std::io::Error::other)?;
    tracing::info!(?reason, "stdio session ended");
    Ok(())
}
