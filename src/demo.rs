//! `switchboard demo`: the whole product on one local port with no provider account — MCP over Streamable HTTP
//! at `/mcp`, the webhook receiver, the invoice book's write-back worker, and the sandbox (Razorpay, HubSpot,
//! WhatsApp and Notion wire formats, pay pages, customers' phones, the Notion invoice pages). The real provider
//! clients are pointed at the sandbox by base URL; real credentials in the environment are ignored.

use crate::app::{RunError, start_background_work};
use crate::config::{Config, ConfigError, env};
use crate::domain::Provider;
use crate::sandbox::{DeliveryOptions, Sandbox, WEBHOOK_SOURCE, whatsapp};
use crate::state::AppState;
use crate::transport;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub addr: SocketAddr,
    /// Forget earlier links, payments and events; start from the seeded data.
    pub reset: bool,
    pub webhook_delay: Duration,
    pub duplicate_webhooks: bool,
    /// Serve on a non-loopback address (the MCP endpoint then also needs SWITCHBOARD_HTTP_TOKEN).
    pub allow_remote: bool,
    /// Sandbox state directory; default `<data dir>/sandbox`.
    pub data_dir: Option<PathBuf>,
}

/// The configuration the demo runs with: Switchboard's own settings from the environment (data directory,
/// HTTP token, approval settings, read-only mode), never provider credentials, so a demo cannot reach a real
/// account.
pub fn demo_config(options: &DemoOptions) -> Result<Config, ConfigError> {
    const ALLOWED: [&str; 7] = [
        env::DATA_DIR,
        env::HTTP_TOKEN,
        env::CONFIRM,
        env::READ_ONLY,
        env::APPROVAL_TTL_SECS,
        env::APPROVAL_WAIT_SECS,
        env::PUBLIC_URL,
    ];
    let mut config = Config::load_with(None, &|key| {
        if ALLOWED.contains(&key) { std::env::var(key).ok() } else { None }
    })?;
    config.data_dir = options.data_dir.clone().unwrap_or_else(|| config.data_dir.join("sandbox"));
    Ok(config)
}

/// Refuse to put the sandbox on the network unless asked to: its pay pages take no credentials.
pub fn check_demo_bind(addr: SocketAddr, allow_remote: bool) -> Result<(), String> {
    if addr.ip().is_loopback() || allow_remote {
        Ok(())
    } else {
        Err(format!(
            "refusing to run the sandbox on {addr}: its pay pages and demo data would be reachable from other \
             machines. Use 127.0.0.1, or pass --allow-remote (MCP then also needs SWITCHBOARD_HTTP_TOKEN)."
        ))
    }
}

/// The demo, wired: the app to serve (MCP, webhooks, sandbox) and what it runs on.
pub struct Demo {
    pub app: axum::Router,
    pub state: Arc<AppState>,
    pub sandbox: Arc<Sandbox>,
}

/// Open the sandbox in `config.data_dir` and wire it to the server that will listen on `local`.
pub fn build(
    mut config: Config,
    options: &DemoOptions,
    local: SocketAddr,
    shutdown: CancellationToken,
) -> Result<Demo, RunError> {
    // The sandbox calls itself (API base URLs, webhook target) on loopback when bound to every interface.
    let reachable = if local.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), local.port())
    } else {
        local
    };
    let deliveries = DeliveryOptions { delay: options.webhook_delay, duplicate: options.duplicate_webhooks };
    let sandbox = Arc::new(
        Sandbox::open(&config.data_dir, options.reset, format!("http://{reachable}"), deliveries)?
            .allow_remote(options.allow_remote),
    );
    tokio::spawn({
        let sandbox = sandbox.clone();
        async move { sandbox.resume_deliveries().await }
    });
    config.razorpay = Some(sandbox.razorpay_config());
    config.hubspot = Some(sandbox.hubspot_config());
    config.whatsapp = Some(sandbox.whatsapp_config());
    // The Notion "Invoices" database is the invoice book: list_invoices / get_invoice read it by default.
    config.notion = Some(sandbox.notion_config());
    config.stripe = None;
    config.default_provider = Some(Provider::Razorpay);
    config.webhooks.sources = [
        (WEBHOOK_SOURCE.to_string(), sandbox.webhook_source()),
        (whatsapp::WEBHOOK_SOURCE.to_string(), sandbox.whatsapp_webhook_source()),
    ]
    .into_iter()
    .collect();
    config.sandbox = true;
    let state = Arc::new(AppState::new(config));
    state.serve_approvals_at(local);
    let app = transport::http::router(state.clone(), shutdown).merge(sandbox.routes());
    Ok(Demo { app, state, sandbox })
}

/// Run the demo until a shutdown signal.
pub async fn run(config: Config, options: DemoOptions) -> Result<(), RunError> {
    check_demo_bind(options.addr, options.allow_remote).map_err(RunError::Refused)?;
    transport::http::raise_open_file_limit();
    transport::http::check_bind(options.addr, config.http.token.as_ref()).map_err(RunError::Refused)?;
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|source| RunError::Bind { addr: options.addr, source })?;
    let shutdown = CancellationToken::new();
    tokio::spawn(crate::app::cancel_on_signal(shutdown.clone()));
    let data_dir = config.data_dir.clone();
    let demo = build(config, &options, listener.local_addr()?, shutdown.clone())?;
    start_background_work(demo.state.clone());
    tracing::info!("sandbox serving MCP on {}/mcp", demo.sandbox.base());
    let phones = demo.sandbox.whatsapp_customers().await;
    print_banner(demo.sandbox.base(), &data_dir, &phones);
    transport::http::serve_app(listener, demo.app, &demo.state.config.http.limits, shutdown).await?;
    Ok(())
}

/// What a newcomer needs on screen: where to connect, how, and what to ask first.
#[allow(clippy::print_stdout, reason = "the demo's banner is for the person at the terminal; no protocol uses stdout")]
fn print_banner(base: &str, data_dir: &std::path::Path, phones: &[(String, String)]) {
    let mcp = format!("{base}/mcp");
    let first = phones.first().map(|(wa_id, name)| (format!("{base}/sandbox/phone/{wa_id}"), name.as_str()));
    let phone_pages: String =
        phones.iter().map(|(wa_id, name)| format!("\n    {name:<28}  {base}/sandbox/phone/{wa_id}")).collect();
    println!(
        "\nSwitchboard sandbox is running. Razorpay, HubSpot, WhatsApp and Notion are simulated locally: no real money\n\
         moves and no real message is sent.\n\
         \n  MCP endpoint (Streamable HTTP)  {mcp}\
         \n  Sandbox (invoices, links)       {base}/sandbox\
         \n  Notion invoice pages            {base}/sandbox/notion/page/<page id>\
         \n  Pay pages                       {base}/sandbox/pay/<payment link id>\
         \n  Customers' WhatsApp phones      {base}/sandbox/phone{phone_pages}\
         \n  Webhook inspector               {base}/inspector  (every delivery, refused ones too)\
         \n  Sandbox data                    {} (--reset starts fresh)\n\
         \nConnect a client:\
         \n  MCP Inspector   npx @modelcontextprotocol/inspector --cli {mcp} --transport http --method tools/list\
         \n  Claude Code     claude mcp add --transport http switchboard-demo {mcp}\
         \n  mcp.json        {{\"mcpServers\": {{\"switchboard-demo\": {{\"type\": \"http\", \"url\": \"{mcp}\"}}}}}}\
         \n  Claude Desktop  {{\"mcpServers\": {{\"switchboard-demo\": {{\"command\": \"npx\", \"args\": [\"-y\", \"mcp-remote\", \"{mcp}\"]}}}}}}\n\
         \nThen ask your agent:\
         \n  \"Find Asha Rao's overdue invoice (asha.rao@kaveri-foods.example), send her a payment link for that invoice,\
         \n   and tell me when it is paid.\"\
         \nOpen the link it returns, press Pay, and watch the agent hear about it. The invoice's Notion page (linked from\
         \n{base}/sandbox) then reads Paid, with the payment's id and date.\n",
        data_dir.display()
    );
    if let Some((url, name)) = first {
        println!(
            "Or write to the business as {name} on WhatsApp: {url}\
             \nthen ask: \"Reply to my newest WhatsApp message: look the sender up in HubSpot first.\"\
             \nThe reply appears on that phone page, with its ticks as the status webhooks arrive.\n"
        );
    }
}
