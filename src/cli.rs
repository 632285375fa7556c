//! Command line: `switchboard serve` (stdio, or `--http ADDR`), `switchboard demo` (the sandbox),
//! `switchboard tools` (the tool catalog), `switchboard setup <client>` (an MCP client's config for this binary),
//! `switchboard audit verify` (the audit trail's chain), `switchboard doctor` (check the configuration).

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Switchboard: one MCP server that lets AI agents act on your business systems —
/// look up invoices and create payment links (exactly once, after the user confirms) on Razorpay and Stripe,
/// look up CRM leads on HubSpot, and receive provider webhooks the agent can wait on.
///
/// Provider credentials come from the environment (RAZORPAY_KEY_ID + RAZORPAY_KEY_SECRET, STRIPE_API_KEY,
/// HUBSPOT_ACCESS_TOKEN)
/// or a TOML config file. Logs go to stderr; set RUST_LOG=debug for more.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about, long_about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP. Without --http it speaks over stdin/stdout, which is how Claude Desktop,
    /// Claude Code and Cursor launch servers.
    #[command(after_long_help = SERVE_EXAMPLES)]
    Serve(ServeArgs),
    /// Try Switchboard without any provider account: MCP over HTTP against a local sandbox that speaks
    /// Razorpay's and HubSpot's APIs, with demo customers, invoices and CRM contacts, a pay page for every
    /// payment link, and signed webhooks when one is paid. No real money moves.
    #[command(after_long_help = DEMO_EXAMPLES)]
    Demo(DemoArgs),
    /// Print the tool catalog (what tools/list returns) as JSON, or write it to a directory.
    #[command(after_long_help = TOOLS_EXAMPLES)]
    Tools(ToolsArgs),
    /// Check the configuration: each configured provider's credentials with one harmless read, the webhook
    /// secrets, the data directory, the listener addresses. Prints a table of what works and what to fix
    /// (never a secret) and exits non-zero when something needs fixing.
    #[command(after_long_help = DOCTOR_EXAMPLES)]
    Doctor(DoctorArgs),
    /// Print the config block that makes an MCP client launch this binary (its absolute path, `serve`, and the
    /// Switchboard variables set in this shell), or merge it into the client's config file with --write.
    /// Secret values are never printed or written: the block refers to them the client's own way.
    #[command(after_long_help = SETUP_EXAMPLES)]
    Setup(SetupArgs),
    /// The audit trail of what agents did (each payment link, message, lead and invoice change, and each
    /// approval): `verify` checks that no record was changed, removed or reordered since it was written.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the audit trail's hash chain (each record carries the hash of the one before) and name the first
    /// record that no longer matches. Exits 1 when the chain is broken.
    Verify(AuditArgs),
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// TOML config file, for its data directory (SWITCHBOARD_DATA_DIR overrides it, as for `serve`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

const SERVE_EXAMPLES: &str = "Examples:
  switchboard serve                            # stdio (what Claude Desktop launches)
  switchboard serve --http 127.0.0.1:8080      # Streamable HTTP at http://127.0.0.1:8080/mcp
  SWITCHBOARD_HTTP_TOKEN=… switchboard serve --http 0.0.0.0:8080   # reachable from other machines
  switchboard serve --webhooks 127.0.0.1:8787  # stdio, and receive provider webhooks on :8787
  switchboard serve --read-only                # only tools that change nothing";

const DEMO_EXAMPLES: &str = "Examples:
  switchboard demo                               # everything on http://127.0.0.1:8080
  switchboard demo --reset                       # start again from the demo data
  switchboard demo --duplicate-webhooks          # send every webhook twice (they are stored once)
  switchboard demo --http 127.0.0.1:0 --webhook-delay-ms 0";

const SETUP_EXAMPLES: &str = "Examples:
  switchboard setup claude-desktop        # print the block for claude_desktop_config.json
  switchboard setup claude-code --write   # merge into ./.mcp.json (copied to .mcp.json.bak first)
  switchboard setup cursor --write        # merge into ~/.cursor/mcp.json
  switchboard setup vscode --write --file ~/project/.vscode/mcp.json

Where --write merges unless --file says otherwise, and how each file refers to a secret:
  claude-desktop  Claude/claude_desktop_config.json in the user's config folder
                  (macOS ~/Library/Application Support, Windows %APPDATA%, Linux ~/.config);
                  no expansion: ${VAR} is a placeholder to replace by hand (read as unset)
  claude-code     ./.mcp.json (project scope); ${VAR}, expanded from Claude Code's environment
  cursor          ~/.cursor/mcp.json; ${env:VAR}, expanded from Cursor's environment
  vscode          ./.vscode/mcp.json; ${input:ID}, asked for once, kept in VS Code's secret store";

const TOOLS_EXAMPLES: &str = "Examples:
  switchboard tools                  # JSON array on stdout
  switchboard tools --write tools/   # one <tool>.json per tool plus README.md";

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Serve Streamable HTTP on this address instead of stdio; the MCP endpoint is /mcp.
    /// Binding anything but loopback requires SWITCHBOARD_HTTP_TOKEN.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// TOML config file (keys: default_provider, data_dir, confirm, read_only, [razorpay], [stripe], [http], [outbound]).
    /// Environment variables override it. Default: SWITCHBOARD_CONFIG, read with the other variables (so an empty
    /// value or an unexpanded ${…} placeholder from a client's config means none).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// In stdio mode, also receive provider webhooks on this address (POST /webhooks/{source}) and serve the
    /// approval page there (/approvals).
    /// The HTTP server always receives them next to /mcp.
    #[arg(long, value_name = "ADDR")]
    pub webhooks: Option<SocketAddr>,
    /// Serve only read-only tools (no payment links created or cancelled). Same as SWITCHBOARD_READ_ONLY=1.
    #[arg(long)]
    pub read_only: bool,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where to serve MCP (/mcp), the webhook receiver and the sandbox (APIs and pay pages).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    /// Forget links, payments and events made earlier and start from the demo data.
    #[arg(long)]
    pub reset: bool,
    /// How long after a payment the sandbox sends its webhooks, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub webhook_delay_ms: u64,
    /// Send every webhook twice, as providers sometimes do; the receiver stores each event once.
    #[arg(long)]
    pub duplicate_webhooks: bool,
    /// Allow a non-loopback --http address (the pay pages take no credentials; MCP then needs SWITCHBOARD_HTTP_TOKEN).
    #[arg(long)]
    pub allow_remote: bool,
    /// Sandbox state directory [default: <data dir>/sandbox, e.g. ~/.local/share/switchboard/sandbox].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

const DOCTOR_EXAMPLES: &str = "Examples:
  switchboard doctor                               # the environment's configuration
  switchboard doctor --config switchboard.toml     # a config file plus the environment
  switchboard doctor --http 0.0.0.0:8080           # also: may serve --http use this address?";

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// TOML config file to check (the same one `serve --config` reads). Environment variables override it.
    #[arg(long, value_name = "FILE", env = "SWITCHBOARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Also check the address `serve --http` will be given: free, and allowed without a token.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
}

#[derive(Debug, clap::Args)]
pub struct ToolsArgs {
    /// Write <tool>.json files and README.md into this directory instead of printing.
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    /// The MCP client to set up.
    #[arg(value_enum)]
    pub client: crate::setup::Client,
    /// Merge the block into the client's config file (copied to <file>.bak first; other servers are kept) instead
    /// of printing it. A file that is not valid JSON is left alone.
    #[arg(long)]
    pub write: bool,
    /// The config file to merge into with --write, instead of the client's usual one (see below).
    #[arg(long, value_name = "FILE", requires = "write")]
    pub file: Option<PathBuf>,
    /// The server's name in the client's config.
    #[arg(long, value_name = "NAME", default_value = "switchboard", value_parser = crate::setup::parse_name)]
    pub name: String,
}
