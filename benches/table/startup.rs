//! Spawn → `initialize` answered, spawn → `tools/list` answered, and resident memory at each, over stdio:
//! initialize, initialized and tools/list written at once (as clients do), timed from just before spawn.

use crate::server::{self, Rss, Setup, StdioServer};
use crate::stats::Summary;
use serde_json::json;
use std::time::{Duration, Instant};

pub struct Startup {
    pub runs: usize,
    pub initialize: Summary,
    pub tools_list: Summary,
    pub rss_initialize: Summary,
    pub rss_tools_list: Summary,
    pub rss_anon: Summary,
    pub rss_file: Summary,
}

struct Sample {
    initialize: Duration,
    tools_list: Duration,
    rss_initialize: Rss,
    rss_tools_list: Rss,
}

async fn once(setup: &Setup) -> anyhow::Result<Sample> {
    let batch = [server::initialize(1), server::initialized(), json!({"jsonrpc":"2.0","id":2,"method":"tools/list"})];
    let started = Instant::now();
    let mut s = StdioServer::spawn(setup)?;
    let pid = s.child.id().unwrap_or_default();
    s.send(&batch).await?;
    s.answer(1).await?;
    let initialize = started.elapsed();
    let rss_initialize = server::rss(pid)?;
    let list = s.answer(2).await?;
    let tools_list = started.elapsed();
    let rss_tools_list = server::rss(pid)?;
    anyhow::ensure!(list.contains("get_invoice"), "tools/list did not list get_invoice: {list:.200}");
    s.finish().await?;
    Ok(Sample { initialize, tools_list, rss_initialize, rss_tools_list })
}

/// `runs` measured start-ups after `warmup` unmeasured ones (which page the binary into the cache).
pub async fn measure(setup: &Setup, warmup: usize, runs: usize) -> anyhow::Result<Startup> {
    for _ in 0..warmup {
        once(setup).await?;
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        samples.push(once(setup).await?);
    }
    let pick = |f: &dyn Fn(&Sample) -> f64| Summary::of(&samples.iter().map(f).collect::<Vec<_>>());
    Ok(Startup {
        runs,
        initialize: pick(&|s| s.initialize.as_secs_f64()),
        tools_list: pick(&|s| s.tools_list.as_secs_f64()),
        rss_initialize: pick(&|s| s.rss_initialize.total),
        rss_tools_list: pick(&|s| s.rss_tools_list.total),
        rss_anon: pick(&|s| s.rss_tools_list.anon),
        rss_file: pick(&|s| s.rss_tools_list.file),
    })
}

/// Make the data directory hold a database (as it does for anyone who has received a webhook or created a
/// link): one `list_events` call opens and migrates it.
pub async fn create_database(setup: &Setup) -> anyhow::Result<()> {
    let mut s = StdioServer::spawn(setup)?;
    s.send(&[server::initialize(1), server::initialized(), server::tool_call(2, "list_events", json!({}))]).await?;
    let answer = s.answer(2).await?;
    anyhow::ensure!(!answer.contains("\"isError\":true"), "list_events failed: {answer:.300}");
    s.finish().await?;
    anyhow::ensure!(setup.data_dir().join("switchboard.db").exists(), "no database was created");
    Ok(())
}
