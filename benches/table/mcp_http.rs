//! A deliberately thin Streamable HTTP client (2025-11-25 sessions): one POST per request, the answer read as
//! text. The load generator shares two cores with the server, so it does as little as a client can.

use crate::server::{self, DEADLINE};
use anyhow::Context;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::Value;

const PROTOCOL: &str = "2025-11-25";

#[derive(Clone)]
pub struct Session {
    client: reqwest::Client,
    url: String,
    id: String,
}

impl Session {
    /// initialize + notifications/initialized.
    pub async fn open(client: &reqwest::Client, url: &str) -> anyhow::Result<Session> {
        let response = client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream")
            .body(server::initialize(1).to_string())
            .timeout(DEADLINE)
            .send()
            .await?;
        let status = response.status();
        let id = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .with_context(|| format!("initialize answered {status} without a session id"))?;
        let body = response.text().await?;
        anyhow::ensure!(body.contains("\"result\""), "initialize failed: {body:.300}");
        let session = Session { client: client.clone(), url: url.to_string(), id };
        let status = session.post(server::initialized().to_string()).send().await?.status();
        anyhow::ensure!(status.is_success(), "notifications/initialized answered {status}");
        Ok(session)
    }

    fn post(&self, body: String) -> reqwest::RequestBuilder {
        self.client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream")
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", PROTOCOL)
            .body(body)
            .timeout(DEADLINE)
    }

    /// Send one JSON-RPC request; the whole answer (an SSE stream or JSON) as text.
    pub async fn request(&self, message: &Value) -> anyhow::Result<String> {
        let response = self.post(message.to_string()).send().await?;
        let status = response.status();
        let body = response.text().await?;
        anyhow::ensure!(status.is_success(), "MCP request answered {status}: {body:.300}");
        Ok(body)
    }
}
