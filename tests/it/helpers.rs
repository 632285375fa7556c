//! Shared test scaffolding: configs pointing at wiremock stubs, fixtures, an in-process MCP client.

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use secrecy::SecretString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use switchboard::config::{Config, ConfirmMode, HttpConfig, OutboundConfig, RazorpayConfig, StripeConfig};
use switchboard::server::Switchboard;
use switchboard::state::AppState;

pub const RZ_KEY_ID: &str = "rzp_test_1DP5mmOlF5G5ag";
pub const RZ_SECRET: &str = "CANARY_rz_secret_9f8e7d";
pub const STRIPE_KEY: &str = "sk_test_CANARY4242";

/// A fixture file's text, e.g. `fixture("razorpay/invoice_issued.json")`.
pub fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Fast retry policy so error-path tests finish quickly.
pub fn fast_outbound() -> OutboundConfig {
    OutboundConfig {
        attempt_timeout: Duration::from_millis(500),
        call_deadline: Duration::from_secs(5),
        max_retries: 3,
        min_backoff: Duration::from_millis(10),
    }
}

/// A config with Razorpay and/or Stripe pointed at local stubs.
pub fn config(razorpay: Option<&str>, stripe: Option<&str>) -> Config {
    Config {
        razorpay: razorpay.map(|url| RazorpayConfig {
            key_id: RZ_KEY_ID.to_string(),
            key_secret: SecretString::from(RZ_SECRET),
            base_url: url.parse().unwrap(),
        }),
        stripe: stripe
            .map(|url| StripeConfig { api_key: SecretString::from(STRIPE_KEY), base_url: url.parse().unwrap() }),
        hubspot: None,
        whatsapp: None,
        notion: None,
        webhooks: Default::default(),
        default_provider: None,
        http: HttpConfig::default(),
        outbound: fast_outbound(),
        // A fresh directory per server: each test gets its own ledger.
        data_dir: tempfile::tempdir().unwrap().keep(),
        store: Default::default(),
        // Tests about approval set their mode; the rest act as an operator who turned it off.
        confirm: ConfirmMode::Never,
        approvals: Default::default(),
        read_only: false,
        sandbox: false,
    }
}

/// An MCP client connected in-process (over a duplex pipe) to a Switchboard server.
pub async fn connect(config: Config) -> RunningService<RoleClient, ()> {
    connect_with(Arc::new(AppState::new(config)), ()).await
}

/// Same, with a given client handler (e.g. one that answers elicitation) and shared server state.
pub async fn connect_with<H: ClientHandler>(state: Arc<AppState>, handler: H) -> RunningService<RoleClient, H> {
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    let server = Switchboard::new(state);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    handler.serve(client_io).await.unwrap()
}

/// Call a tool with JSON arguments.
pub async fn call<H: ClientHandler>(
    client: &RunningService<RoleClient, H>,
    tool: &str,
    args: serde_json::Value,
) -> CallToolResult {
    let params = CallToolRequestParams::new(tool.to_string()).with_arguments(args.as_object().unwrap().clone());
    client.call_tool(params).await.unwrap()
}

/// The text of a tool result's first content block.
pub fn text(result: &CallToolResult) -> String {
    result.content.first().and_then(|c| c.as_text()).map(|t| t.text.clone()).unwrap_or_default()
}

/// Assert a result is an in-band tool error and return its text.
pub fn error_text(result: &CallToolResult) -> String {
    assert_eq!(result.is_error, Some(true), "expected isError, got {result:?}");
    let text = text(result);
    assert!(!text.contains("CANARY"), "a secret leaked into a tool error: {text}");
    text
}

/// Assert a result succeeded and return its structured content.
pub fn structured(result: &CallToolResult) -> serde_json::Value {
    assert_ne!(result.is_error, Some(true), "tool failed: {}", text(result));
    result.structured_content.clone().expect("structuredContent")
}

/// `switchboard serve` launched the way an MCP client launches it (stdio), configured only by `env`, with an
/// rmcp client on its stdio and its stderr (the INFO log) collected until it exits.
pub struct Served {
    pub client: RunningService<RoleClient, ()>,
    log: tokio::task::JoinHandle<String>,
}

pub async fn serve_binary(env: &[(&str, &str)]) -> Served {
    use tokio::io::AsyncReadExt;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SWITCHBOARD_DATA_DIR", tempfile::tempdir().unwrap().keep())
        // Approval off unless a test asks for it: these tests are about what reaches the provider.
        .env("SWITCHBOARD_CONFIRM", "never")
        .env("RUST_LOG", "info");
    for (key, value) in env {
        command.env(key, value);
    }
    let (transport, stderr) =
        rmcp::transport::TokioChildProcess::builder(command).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let mut stderr = stderr.unwrap();
    let log = tokio::spawn(async move {
        let mut text = String::new();
        stderr.read_to_string(&mut text).await.unwrap();
        text
    });
    Served { client: ().serve(transport).await.unwrap(), log }
}

impl Served {
    /// Close the server's stdin, wait for it to exit, and return everything it logged.
    pub async fn log(self) -> String {
        self.client.cancel().await.unwrap();
        tokio::time::timeout(Duration::from_secs(20), self.log).await.expect("the server did not exit").unwrap()
    }

    /// Call `tool` with `args`, require a failure whose result shows a mask, and keep what it showed as `case`.
    pub async fn masked_failure(
        &self,
        seen: &mut Vec<(String, String)>,
        case: &str,
        tool: &str,
        args: serde_json::Value,
    ) {
        let result = call(&self.client, tool, args).await;
        assert_eq!(result.is_error, Some(true), "{case}: {result:?}");
        assert!(shown(&result).contains("[REDACTED]"), "{case}: {result:?}");
        seen.push((format!("tool result ({case})"), shown(&result)));
    }

    /// Stop the server, require each of `seen`'s failures in its log, and check that neither the results nor the
    /// log show any of `secrets`.
    pub async fn assert_nothing_leaked(self, mut seen: Vec<(String, String)>, secrets: &[String]) {
        let failures = seen.len();
        let log = self.log().await;
        assert_eq!(log.matches("tool call failed upstream").count(), failures, "every failure is logged: {log}");
        seen.push(("log".to_string(), log));
        assert_nothing_leaked(&seen, secrets);
    }
}

/// Standard base64 without padding (a padded copy contains it): how a credential looks in a Basic header.
pub fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(text)
}

/// Everything a tool result shows the model: its text blocks and its structured content.
pub fn shown(result: &CallToolResult) -> String {
    let texts: Vec<String> = result.content.iter().filter_map(|c| c.as_text()).map(|t| t.text.clone()).collect();
    format!("{} {}", texts.join(" "), result.structured_content.clone().unwrap_or_default())
}

/// Fail listing every line of every place (a tool result, the log) that shows a secret or an encoding of it.
pub fn assert_nothing_leaked(places: &[(String, String)], secrets: &[String]) {
    let leaks: Vec<String> = places
        .iter()
        .flat_map(|(place, text)| text.lines().map(move |line| (place, line)))
        .filter(|(_, line)| secrets.iter().any(|s| line.contains(s.as_str())))
        .map(|(place, line)| format!("{place}: {line}"))
        .collect();
    assert!(leaks.is_empty(), "{} leak(s):\n{}", leaks.len(), leaks.join("\n"));
}
