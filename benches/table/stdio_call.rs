//! What Switchboard adds to a provider call: `tools/call get_invoice` over stdio against the local stub,
//! interleaved with a direct HTTP GET of the same stub URL (same client library, same keep-alive), so both
//! see the same machine at the same moment. Overhead = median(tool call) − median(direct GET).

use crate::server::{self, RZ_KEY_ID, RZ_SECRET, Setup, StdioServer};
use crate::stats::Summary;
use crate::stub::{INVOICE_ID, Stub};
use serde_json::json;
use std::time::{Duration, Instant};

pub struct CallOverhead {
    pub pairs: usize,
    pub tool_call: Summary,
    pub direct: Summary,
    /// median(tool call) − median(direct GET), seconds.
    pub overhead_p50: f64,
    /// The same difference in each of the batches the pairs were split into (spread of the estimate).
    pub batch_overheads: Vec<f64>,
}

async fn direct(client: &reqwest::Client, url: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let response = client.get(url).basic_auth(RZ_KEY_ID, Some(RZ_SECRET)).send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    let took = started.elapsed();
    anyhow::ensure!(status.is_success() && !body.is_empty(), "direct GET answered {status}");
    Ok(took)
}

async fn tool(s: &mut StdioServer, id: u64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    s.send(&[server::tool_call(id, "get_invoice", json!({"invoice_id": INVOICE_ID}))]).await?;
    let answer = s.answer(id).await?;
    let took = started.elapsed();
    anyhow::ensure!(
        answer.contains("structuredContent") && !answer.contains("\"isError\":true"),
        "get_invoice failed: {answer:.300}"
    );
    Ok(took)
}

pub async fn measure(
    stub: &Stub,
    setup: &Setup,
    warmup: usize,
    batches: usize,
    per_batch: usize,
) -> anyhow::Result<CallOverhead> {
    let mut s = StdioServer::spawn(setup)?;
    s.send(&[server::initialize(1), server::initialized()]).await?;
    s.answer(1).await?;
    // The server's own client: HTTP/1.1 keep-alive, no redirects, same library; ours matches it.
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let url = stub.invoice_url();
    let mut id = 10;
    for _ in 0..warmup {
        id += 1;
        tool(&mut s, id).await?;
        direct(&client, &url).await?;
    }
    let (mut tools, mut directs, mut batch_overheads) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..batches {
        let (mut bt, mut bd) = (Vec::with_capacity(per_batch), Vec::with_capacity(per_batch));
        for i in 0..per_batch {
            id += 1;
            // Alternate which goes first, so neither always runs on a just-warmed path.
            if i % 2 == 0 {
                bt.push(tool(&mut s, id).await?);
                bd.push(direct(&client, &url).await?);
            } else {
                bd.push(direct(&client, &url).await?);
                bt.push(tool(&mut s, id).await?);
            }
        }
        batch_overheads.push(Summary::of_durations(&bt).p50 - Summary::of_durations(&bd).p50);
        tools.extend(bt);
        directs.extend(bd);
    }
    s.finish().await?;
    let tool_call = Summary::of_durations(&tools);
    let direct = Summary::of_durations(&directs);
    Ok(CallOverhead {
        pairs: tools.len(),
        tool_call,
        direct,
        overhead_p50: tool_call.p50 - direct.p50,
        batch_overheads,
    })
}
