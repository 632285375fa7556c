//! The release binary, spawned as a client would: a config naming every provider (pointed at the local stub),
//! both webhook sources, a data directory of its own. Every child is killed on drop, whatever path we leave by.

use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The binary under test: the one cargo built for this bench, unless `SWITCHBOARD_BENCH_BIN` names another
/// (e.g. a `cargo build --release` binary, or an unstripped copy for `perf`).
pub fn bin() -> String {
    std::env::var("SWITCHBOARD_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_switchboard").to_string())
}
pub const RZ_KEY_ID: &str = "rzp_test_BenchKey0001";
pub const RZ_SECRET: &str = "bench-razorpay-key-secret";
pub const RZ_WEBHOOK_SECRET: &str = "bench-razorpay-webhook-secret";
pub const STRIPE_WEBHOOK_SECRET: &str = "whsec_benchstripewebhooksecret";
/// Given in the environment (not the file), so a binary from before WhatsApp still starts with this setup.
pub const WA_APP_SECRET: &str = "bench-whatsapp-app-secret";
/// How long any single wait on a child may take before the benchmark gives up (and kills it).
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A config file and data directory in a temporary directory.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Setup {
    /// Razorpay, Stripe and HubSpot all configured (base URLs on the local stub), two webhook sources.
    pub fn new(stub: SocketAddr) -> anyhow::Result<Setup> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        let config = dir.path().join("switchboard.toml");
        let toml = format!(
            "data_dir = {data:?}\n\
             [razorpay]\nkey_id = \"{RZ_KEY_ID}\"\nkey_secret = \"{RZ_SECRET}\"\nbase_url = \"http://{stub}\"\n\
             [stripe]\napi_key = \"sk_test_BenchStripeKey0001\"\nbase_url = \"http://{stub}\"\n\
             [hubspot]\naccess_token = \"pat-na1-bench-0001\"\nbase_url = \"http://{stub}\"\n\
             [webhooks.sources.razorpay]\nsecrets = [\"{RZ_WEBHOOK_SECRET}\"]\n\
             [webhooks.sources.stripe]\nsecrets = [\"{STRIPE_WEBHOOK_SECRET}\"]\n",
            data = data.display().to_string(),
        );
        std::fs::write(&config, toml)?;
        Ok(Setup { dir, config })
    }

    /// The same, on the PostgreSQL database at `url` (`[store] url`) instead of SQLite in the data directory.
    pub fn with_database(stub: SocketAddr, url: &str) -> anyhow::Result<Setup> {
        let setup = Setup::new(stub)?;
        let mut toml = std::fs::read_to_string(&setup.config)?;
        toml.push_str(&format!("[store]\nurl = {url:?}\n"));
        std::fs::write(&setup.config, toml)?;
        Ok(setup)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The same command for `std::process` (start-up timing), stdout piped, stderr discarded.
    pub fn std_command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(bin());
        cmd.arg("serve")
            .arg("--config")
            .arg(&self.config)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        cmd
    }

    /// `switchboard serve --config …` plus `extra`, with a bare environment (only PATH and HOME), piped stdio.
    pub fn command(&self, extra: &[&str], stderr: Stdio) -> Command {
        let mut cmd = Command::new(bin());
        cmd.arg("serve")
            .arg("--config")
            .arg(&self.config)
            .args(extra)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("WHATSAPP_APP_SECRET", WA_APP_SECRET)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true);
        cmd
    }
}

/// `VmRSS`, `RssAnon`, `RssFile` of a process, in bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rss {
    pub total: f64,
    pub anon: f64,
    pub file: f64,
}

pub fn rss(pid: u32) -> anyhow::Result<Rss> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> f64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb * 1024.0)
    };
    Ok(Rss { total: field("VmRSS:"), anon: field("RssAnon:"), file: field("RssFile:") })
}

/// CPU time (user + system) a process has used so far.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields overall.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).context("unreadable /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // Linux reports clock ticks of 1/100 s (USER_HZ) on every mainstream configuration.
    Ok(Duration::from_millis((ticks(11) + ticks(12)) * 10))
}

/// A stdio MCP server: requests go in as lines, answers come out as lines.
pub struct StdioServer {
    pub child: Child,
    pub stdin: ChildStdin,
    pub stdout: Lines<BufReader<ChildStdout>>,
}

pub fn initialize(id: u64) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"initialize","params":{"protocolVersion":"2025-11-25",
        "capabilities":{},"clientInfo":{"name":"switchboard-bench","version":"0"}}})
}

pub fn initialized() -> Value {
    json!({"jsonrpc":"2.0","method":"notifications/initialized"})
}

pub fn tool_call(id: u64, name: &str, arguments: Value) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":name,"arguments":arguments}})
}

impl StdioServer {
    pub fn spawn(setup: &Setup) -> anyhow::Result<StdioServer> {
        let mut child = setup.command(&[], Stdio::null()).spawn().context("spawning switchboard")?;
        let stdin = child.stdin.take().context("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        Ok(StdioServer { child, stdin, stdout })
    }

    pub async fn send(&mut self, messages: &[Value]) -> anyhow::Result<()> {
        let mut batch = String::new();
        for m in messages {
            batch.push_str(&m.to_string());
            batch.push('\n');
        }
        self.stdin.write_all(batch.as_bytes()).await?;
        self.stdin.flush().await?;
        Ok(())
    }

    /// The next line that answers request `id` (notifications are skipped), as raw text.
    pub async fn answer(&mut self, id: u64) -> anyhow::Result<String> {
        let needle = format!("\"id\":{id}");
        loop {
            let line = tokio::time::timeout(DEADLINE, self.stdout.next_line())
                .await
                .context("no answer within the deadline")??
                .context("the server closed stdout")?;
            if line.contains(&needle) {
                return Ok(line);
            }
        }
    }

    /// Close stdin and wait for a clean exit.
    pub async fn finish(mut self) -> anyhow::Result<()> {
        drop(self.stdin);
        let status = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await.context("no exit")??;
        if !status.success() {
            bail!("switchboard exited with {status}");
        }
        Ok(())
    }
}

/// `switchboard serve --http 127.0.0.1:0`: waits for the address it logs, then keeps draining its stderr.
pub struct HttpServer {
    pub child: Child,
    pub addr: SocketAddr,
    pub pid: u32,
}

impl HttpServer {
    pub async fn spawn(setup: &Setup) -> anyhow::Result<HttpServer> {
        let mut child = setup.command(&["--http", "127.0.0.1:0"], Stdio::piped()).spawn()?;
        let pid = child.id().context("no pid")?;
        let mut stderr = BufReader::new(child.stderr.take().context("no stderr")?).lines();
        let addr = loop {
            let line = tokio::time::timeout(DEADLINE, stderr.next_line())
                .await
                .context("no start-up line within the deadline")??
                .context("switchboard exited during start-up")?;
            if let Some(rest) = line.split("serving MCP on http://").nth(1) {
                let addr = rest.split('/').next().unwrap_or_default();
                break addr.parse::<SocketAddr>().with_context(|| format!("address in {line:?}"))?;
            }
        };
        // A full pipe would block the server's logging: read and drop everything it writes.
        tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
        Ok(HttpServer { child, addr, pid })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// SIGTERM, then wait for the graceful exit (killed on drop if it never comes).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.pid.to_string()]).status();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        Ok(())
    }
}

pub fn path_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}
