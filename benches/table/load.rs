//! Closed-loop load: N workers each send, wait for the answer, send again. Only answers that complete inside
//! the measuring window (after a warm-up) count; the server's CPU time over the window is read from /proc.

use crate::mcp_http::Session;
use crate::server::{self, HttpServer, RZ_KEY_ID, RZ_SECRET, tool_call};
use crate::stats::Summary;
use crate::stub::{INVOICE_ID, Stub};
use crate::webhook::{delivery, whatsapp_delivery};
use serde_json::json;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

pub struct Load {
    pub workers: usize,
    pub window: Duration,
    /// Answers completed inside the window.
    pub completed: usize,
    pub per_second: f64,
    pub latency: Summary,
    /// Server CPU time per completed request (user + system, all instances), when servers are child processes.
    pub server_cpu_per_op: Option<Duration>,
}

/// Run `op` in `workers` closed loops for `warmup + window`; `op(worker, seq)` returns once its answer is in.
/// `server_pids` are the processes whose CPU time is charged to the requests (none: not measured).
pub async fn closed_loop<F, Fut>(
    workers: usize,
    warmup: Duration,
    window: Duration,
    server_pids: &[u32],
    op: F,
) -> anyhow::Result<Load>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + window;
    let mut set = JoinSet::new();
    for w in 0..workers {
        let op = op.clone();
        set.spawn(async move {
            let mut done: Vec<(Instant, Duration)> = Vec::new();
            let mut seq = 0u64;
            while Instant::now() < end {
                seq += 1;
                let sent = Instant::now();
                op(w, seq).await?;
                let now = Instant::now();
                if sent >= measure_from && now <= end {
                    done.push((now, now - sent));
                }
            }
            anyhow::Ok(done)
        });
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu = || -> anyhow::Result<Option<Duration>> {
        if server_pids.is_empty() {
            return Ok(None);
        }
        server_pids.iter().map(|&pid| server::cpu_time(pid)).sum::<anyhow::Result<Duration>>().map(Some)
    };
    let cpu_before = cpu()?;
    tokio::time::sleep_until(end.into()).await;
    let cpu_after = cpu()?;
    let mut latencies = Vec::new();
    while let Some(joined) = set.join_next().await {
        latencies.extend(joined??.into_iter().map(|(_, d)| d));
    }
    let completed = latencies.len();
    let server_cpu_per_op = match (cpu_before, cpu_after) {
        (Some(a), Some(b)) if completed > 0 => Some((b.saturating_sub(a)) / completed as u32),
        _ => None,
    };
    Ok(Load {
        workers,
        window,
        completed,
        per_second: completed as f64 / window.as_secs_f64(),
        latency: Summary::of_durations(&latencies),
        server_cpu_per_op,
    })
}

/// `tools/call get_invoice` over Streamable HTTP, one session per worker.
pub async fn tool_calls(
    server: &HttpServer,
    workers: usize,
    warmup: Duration,
    window: Duration,
) -> anyhow::Result<Load> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(workers * 2).build()?;
    let url = server.url("/mcp");
    let mut sessions = Vec::with_capacity(workers);
    for _ in 0..workers {
        sessions.push(Session::open(&client, &url).await?);
    }
    let sessions = Arc::new(sessions);
    let failures = Arc::new(AtomicU64::new(0));
    let failed = failures.clone();
    let load = closed_loop(workers, warmup, window, &[server.pid], move |w, seq| {
        let sessions = sessions.clone();
        let failed = failed.clone();
        async move {
            let call = tool_call(seq + 10, "get_invoice", json!({"invoice_id": INVOICE_ID}));
            let answer = sessions[w].request(&call).await?;
            if !answer.contains("structuredContent") || answer.contains("\"isError\":true") {
                failed.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }
    })
    .await?;
    let failures = failures.load(Ordering::Relaxed);
    anyhow::ensure!(failures == 0, "{failures} tool calls failed under load");
    Ok(load)
}

/// The stub alone, with the same concurrency: the ceiling this machine puts on the figure above.
pub async fn direct_gets(stub: &Stub, workers: usize, warmup: Duration, window: Duration) -> anyhow::Result<Load> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(workers * 2).build()?;
    let url = Arc::new(stub.invoice_url());
    closed_loop(workers, warmup, window, &[], move |_, _| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let response = client.get(url.as_str()).basic_auth(RZ_KEY_ID, Some(RZ_SECRET)).send().await?;
            anyhow::ensure!(response.status().is_success(), "stub answered {}", response.status());
            response.bytes().await?;
            Ok(())
        }
    })
    .await
}

/// Razorpay deliveries to `/webhooks/razorpay` in `workers` closed loops, worker `w` sending to
/// `servers[w % len]`; each must be acknowledged (200).
pub async fn webhooks(
    servers: &[&HttpServer],
    workers: usize,
    warmup: Duration,
    window: Duration,
) -> anyhow::Result<(Load, u64)> {
    signed_posts(servers, "/webhooks/razorpay", workers, warmup, window, |w, seq| delivery(&format!("TP-{w}-{seq}")))
        .await
}

/// WhatsApp batch deliveries to `/webhooks/whatsapp` in `workers` closed loops; each must be acknowledged (200).
pub async fn whatsapp_batches(
    server: &HttpServer,
    workers: usize,
    warmup: Duration,
    window: Duration,
) -> anyhow::Result<(Load, u64)> {
    signed_posts(&[server], "/webhooks/whatsapp", workers, warmup, window, |w, seq| {
        whatsapp_delivery(&format!("W{w}S{seq}"))
    })
    .await
}

/// A delivery's body and the headers that sign it.
type Signed = (String, Vec<(&'static str, String)>);

/// Signed deliveries (`make(worker, seq)` gives the body and headers) POSTed to `path` of `servers` (worker `w`
/// to `servers[w % len]`) in closed loops; returns the load and how many were acknowledged with 200 (anything
/// else fails the run).
async fn signed_posts(
    servers: &[&HttpServer],
    path: &str,
    workers: usize,
    warmup: Duration,
    window: Duration,
    make: fn(usize, u64) -> Signed,
) -> anyhow::Result<(Load, u64)> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(workers * 2).build()?;
    let urls: Arc<Vec<String>> = Arc::new(servers.iter().map(|s| s.url(path)).collect());
    let pids: Vec<u32> = servers.iter().map(|s| s.pid).collect();
    let acked = Arc::new(AtomicU64::new(0));
    let counter = acked.clone();
    let load = closed_loop(workers, warmup, window, &pids, move |w, seq| {
        let (client, urls, counter) = (client.clone(), urls.clone(), counter.clone());
        async move {
            let (body, headers) = make(w, seq);
            let mut request = client.post(urls[w % urls.len()].as_str()).body(body);
            for (k, v) in headers {
                request = request.header(k, v);
            }
            let status = request.send().await?.status();
            anyhow::ensure!(status == reqwest::StatusCode::OK, "webhook answered {status}");
            counter.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    })
    .await?;
    Ok((load, acked.load(Ordering::Relaxed)))
}
