//! Webhooks from a second process (this one) to the server: signed Razorpay deliveries, each a new event (a
//! unique reference in the body and a unique event id), acknowledged only after the durable commit.

use crate::mcp_http::Session;
use crate::server::{DEADLINE, HttpServer, RZ_WEBHOOK_SECRET, tool_call};
use crate::stats::Summary;
use anyhow::Context;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};
use switchboard::webhooks::Scheme;
use switchboard::webhooks::verify::sign;
use tokio::task::JoinSet;

const TEMPLATE: &str = include_str!("../../tests/fixtures/razorpay/webhook_payment_link_paid.json");
/// The fixture's reference, replaced by a unique one per delivery (Razorpay bodies are also deduplicated by
/// hash, so each delivery must differ in its bytes, not only in its event id).
const FIXTURE_REFERENCE: &str = "SW-2026-0142";

/// A body whose link carries `reference`, and the headers Razorpay would send with it.
pub fn delivery(reference: &str) -> (String, Vec<(&'static str, String)>) {
    let body = TEMPLATE.trim().replace(FIXTURE_REFERENCE, reference);
    let headers = sign(Scheme::Razorpay, RZ_WEBHOOK_SECRET, body.as_bytes(), 0, &format!("evt_{reference}"));
    (body, headers)
}

async fn post(client: &reqwest::Client, url: &str, reference: &str) -> anyhow::Result<reqwest::StatusCode> {
    let (body, headers) = delivery(reference);
    let mut request = client.post(url).body(body);
    for (k, v) in headers {
        request = request.header(k, v);
    }
    Ok(request.send().await?.status())
}

pub struct Paced {
    pub rate: f64,
    pub sent: usize,
    /// 200s, connection warm-up included.
    pub acked: u64,
    /// From the moment each delivery was due to its 200 (includes any lag of the sender: conservative).
    pub ack: Summary,
}

/// Open loop: one delivery every 1/rate s for `duration`, each on its own task, latency from when it was due;
/// delivery `i` goes to `servers[i % len]`.
pub async fn paced(servers: &[&HttpServer], rate: f64, duration: Duration) -> anyhow::Result<Paced> {
    let client = reqwest::Client::builder().timeout(DEADLINE).build()?;
    let urls: Vec<String> = servers.iter().map(|s| s.url("/webhooks/razorpay")).collect();
    // Open the connections the run will use, so it does not time TCP handshakes.
    let mut warm = JoinSet::new();
    for i in 0..16 {
        let (client, url) = (client.clone(), urls[i % urls.len()].clone());
        warm.spawn(async move { post(&client, &url, &format!("PW-{i}")).await });
    }
    while let Some(r) = warm.join_next().await {
        r??;
    }
    let n = (rate * duration.as_secs_f64()) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now() + Duration::from_millis(20);
    let mut set = JoinSet::new();
    for i in 0..n {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let (client, url) = (client.clone(), urls[i % urls.len()].clone());
        set.spawn(async move {
            let status = post(&client, &url, &format!("PR-{i}")).await?;
            anyhow::ensure!(status == reqwest::StatusCode::OK, "webhook answered {status}");
            anyhow::Ok(due.elapsed())
        });
    }
    let mut acks = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        acks.push(r??);
    }
    Ok(Paced { rate, sent: n, acked: 16 + acks.len() as u64, ack: Summary::of_durations(&acks) })
}

pub struct WaitLatency {
    pub runs: usize,
    /// Webhook POST sent → `wait_for_event` answer received.
    pub arrival_to_return: Summary,
    /// Webhook POST sent → 200 received.
    pub ack: Summary,
}

/// An agent waits (`wait_for_event` on a reference) over Streamable HTTP on `waiter`; the delivery arrives at
/// `receiver` (the same server, or another instance on the same database) `settle` later.
pub async fn wait_latency(
    waiter: &HttpServer,
    receiver: &HttpServer,
    warmup: usize,
    runs: usize,
    settle: Duration,
) -> anyhow::Result<WaitLatency> {
    let client = reqwest::Client::builder().timeout(DEADLINE).build()?;
    let session = Session::open(&client, &waiter.url("/mcp")).await?;
    let url = receiver.url("/webhooks/razorpay");
    let (mut returns, mut acks) = (Vec::new(), Vec::new());
    for i in 0..warmup + runs {
        let reference = format!("WAIT-{i}");
        let call = tool_call(100 + i as u64, "wait_for_event", json!({"reference_id": reference, "timeout_secs": 15}));
        let waiter = session.clone();
        let waiting = tokio::spawn(async move {
            let answer = waiter.request(&call).await;
            (Instant::now(), answer)
        });
        // Give the call time to reach the server and subscribe. If it had not, the wait would still find the
        // event in the store (subscribe-then-check), only later: the figure can only come out worse.
        tokio::time::sleep(settle).await;
        let posted = Instant::now();
        let status = post(&client, &url, &reference).await?;
        let acked = posted.elapsed();
        anyhow::ensure!(status == reqwest::StatusCode::OK, "webhook answered {status}");
        let (returned, answer) =
            tokio::time::timeout(DEADLINE, waiting).await.context("wait_for_event never returned")??;
        let answer = answer?;
        anyhow::ensure!(answer.contains("\"timed_out\":false"), "wait_for_event did not see the event: {answer:.300}");
        if i >= warmup {
            returns.push(returned.saturating_duration_since(posted));
            acks.push(acked);
        }
    }
    Ok(WaitLatency { runs, arrival_to_return: Summary::of_durations(&returns), ack: Summary::of_durations(&acks) })
}

/// Events in the server's database: every 200 must be a committed row.
pub async fn stored_events(data_dir: &Path) -> anyhow::Result<i64> {
    stored_events_where(data_dir, "SELECT COUNT(*) AS n FROM events").await
}

/// Events of the WhatsApp source in the server's database.
pub async fn stored_whatsapp_events(data_dir: &Path) -> anyhow::Result<i64> {
    stored_events_where(data_dir, "SELECT COUNT(*) AS n FROM events WHERE source = 'whatsapp'").await
}

async fn stored_events_where(data_dir: &Path, count: &'static str) -> anyhow::Result<i64> {
    use sqlx::Row;
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(data_dir.join("switchboard.db")).read_only(true);
    let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
    let n: i64 = sqlx::query(count).fetch_one(&pool).await?.get("n");
    pool.close().await;
    Ok(n)
}

/// Inbound messages and statuses in one WhatsApp delivery, as Meta batches them.
pub const WHATSAPP_BATCH: (usize, usize) = (10, 10);

/// A signed WhatsApp delivery of [`WHATSAPP_BATCH`] messages and statuses, every id unique to `tag`.
pub fn whatsapp_delivery(tag: &str) -> (String, Vec<(&'static str, String)>) {
    let (messages, statuses) = WHATSAPP_BATCH;
    let messages: Vec<String> = (0..messages)
        .map(|i| {
            format!(r#"{{"from":"91982001{i:04}","id":"wamid.{tag}.IN{i}","timestamp":"1764400000","type":"text","text":{{"body":"Is invoice {i} paid?"}}}}"#)
        })
        .collect();
    let statuses: Vec<String> = (0..statuses)
        .map(|i| format!(r#"{{"id":"wamid.{tag}.OUT{i}","status":"delivered","timestamp":"1764400001","recipient_id":"91982002{i:04}"}}"#))
        .collect();
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550783881","phone_number_id":"106540352242922"}},"messages":[{}],"statuses":[{}]}}}}]}}]}}"#,
        messages.join(","),
        statuses.join(",")
    );
    let headers = sign(Scheme::HubSignature256, crate::server::WA_APP_SECRET, body.as_bytes(), 0, "");
    (body, headers)
}
