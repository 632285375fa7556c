//! End-to-end benchmarks of the release binary: start-up and memory, tool call overhead over stdio,
//! Streamable HTTP throughput, webhook ingest and webhook → `wait_for_event` latency. Prints one table (with
//! the criterion figures from `benches/micro.rs`) and writes it to `target/bench/report.md`.
//!
//! `cargo bench` runs everything; `cargo bench --bench table -- startup` runs only sections whose name
//! contains "startup" (sections: startup, stdio_call, http, webhooks, wait, postgres). The PostgreSQL figures need
//! `SWITCHBOARD_BENCH_DATABASE_URL` (see `postgres.rs`); without it the table says why they are missing. The
//! `postgres` section also measures SQLite's ingest, so the two stand side by side from one run.

mod criterion_results;
mod load;
mod mcp_http;
mod postgres;
mod report;
mod server;
mod startup;
mod stats;
mod stdio_call;
mod stub;
mod webhook;

use report::Report;
use server::{HttpServer, Setup};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Concurrent clients for the HTTP figures.
const CLIENTS: usize = 32;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        // `cargo test --benches` runs bench targets without --bench: nothing to check here.
        eprintln!("benches/table: run it with `cargo bench` (skipped in test mode)");
        return Ok(());
    }
    let only: Vec<&str> = args.iter().filter(|a| !a.starts_with('-')).map(String::as_str).collect();
    let wanted = |section: &str| only.is_empty() || only.iter().any(|o| section.contains(o));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(run(&wanted))
}

async fn run(wanted: &dyn Fn(&str) -> bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let target = target_dir();
    let mut report = Report::new(&server::bin());
    let stub = stub::Stub::start()?;

    if wanted("startup") {
        eprintln!("startup: spawn → initialize / tools/list over stdio…");
        let fresh = Setup::new(stub.addr)?;
        report.startup_fresh = Some(startup::measure(&fresh, 20, 300)?);
        let existing = Setup::new(stub.addr)?;
        startup::create_database(&existing).await?;
        report.startup_existing_db = Some(startup::measure(&existing, 10, 150)?);
    }
    if wanted("stdio_call") {
        eprintln!("stdio_call: get_invoice over stdio vs a direct GET of the stub…");
        let setup = Setup::new(stub.addr)?;
        report.call_overhead = Some(stdio_call::measure(&stub, &setup, 300, 5, 600).await?);
    }
    if wanted("http") {
        eprintln!("http: {CLIENTS} Streamable HTTP clients calling get_invoice…");
        let setup = Setup::new(stub.addr)?;
        let server = HttpServer::spawn(&setup).await?;
        let calls = load::tool_calls(&server, CLIENTS, Duration::from_secs(1), Duration::from_secs(5)).await?;
        report.http_rss = Some(server::rss(server.pid)?);
        server.stop().await?;
        let direct = load::direct_gets(&stub, CLIENTS, Duration::from_millis(500), Duration::from_secs(2)).await?;
        report.http = Some((calls, direct));
    }
    if wanted("webhooks") || wanted("postgres") {
        eprintln!("webhooks: ingest throughput, then ack latency at 1,000/s…");
        let setup = Setup::new(stub.addr)?;
        let server = HttpServer::spawn(&setup).await?;
        let (load, acked) = load::webhooks(&[&server], CLIENTS, Duration::from_secs(1), Duration::from_secs(5)).await?;
        let paced = webhook::paced(&[&server], 1000.0, Duration::from_secs(5)).await?;
        let whatsapp = load::whatsapp_batches(&server, CLIENTS, Duration::from_secs(1), Duration::from_secs(5)).await;
        server.stop().await?;
        let stored = webhook::stored_events(&setup.data_dir()).await?;
        let stored_whatsapp = webhook::stored_whatsapp_events(&setup.data_dir()).await?;
        report.webhooks = Some(report::Webhooks { load, acked: acked + paced.acked, paced, stored });
        // A binary from before WhatsApp answers 404: the row says so instead of failing the run.
        report.whatsapp =
            Some(whatsapp.map(|(load, acked)| report::WhatsAppIngest { load, acked, stored: stored_whatsapp }));
    }
    if wanted("wait") {
        eprintln!("wait: webhook arrival → wait_for_event returns…");
        let setup = Setup::new(stub.addr)?;
        let server = HttpServer::spawn(&setup).await?;
        report.wait = Some(webhook::wait_latency(&server, &server, 20, 300, Duration::from_millis(10)).await?);
        server.stop().await?;
    }
    if wanted("postgres") {
        report.postgres = Some(match std::env::var(postgres::DATABASE_URL) {
            Ok(url) => postgres::measure(&url, stub.addr).await.map_err(|e| format!("{e:#}")),
            Err(_) => Err(format!(
                "skipped: set {}=postgres://user@host/db (a server where that user may create databases; each \
                 configuration gets a fresh database, dropped afterwards)",
                postgres::DATABASE_URL
            )),
        });
        if let Some(Err(why)) = &report.postgres {
            eprintln!("postgres: {why}");
        }
    }
    report.micro = criterion_results::load(
        &criterion_dir(&target),
        "verify",
        &["razorpay", "stripe", "standard_webhooks", "hub_signature_256"],
    );
    report.micro.extend(criterion_results::load(&criterion_dir(&target), "extract", &["razorpay"]));
    report.elapsed = started.elapsed();

    let text = report.render();
    writeln!(std::io::stdout(), "{text}")?;
    let out = target.join("bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("report.md"), &text)?;
    eprintln!("wrote {}", out.join("report.md").display());
    Ok(())
}

/// The cargo target directory this bench was built in (`<target>/release/deps/table-…`).
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// Where criterion stored its results (the same rule criterion uses).
fn criterion_dir(target: &std::path::Path) -> PathBuf {
    std::env::var_os("CRITERION_HOME").map(PathBuf::from).unwrap_or_else(|| target.join("criterion"))
}
