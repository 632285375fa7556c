//! Spawn → `initialize` answered, spawn → `tools/list` answered, and resident memory at each, over stdio:
//! initialize, initialized and tools/list written at once (as clients do), timed from just before spawn, with
//! blocking I/O on the calling thread (an async runtime between child and clock added rare 200 ms stalls).

use crate::server::{self, Rss, Setup, StdioServer};
use crate::stats::Summary;
use anyhow::Context;
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

/// One start-up, timed with plain blocking I/O on this thread (no async runtime between the child and the
/// clock). A watchdog thread kills the child if it has not finished within the deadline.
fn once(setup: &Setup) -> anyhow::Result<Sample> {
    use std::io::{BufRead, Write};
    let batch = [server::initialize(1), server::initialized(), json!({"jsonrpc":"2.0","id":2,"method":"tools/list"})];
    let text: String = batch.iter().map(|m| format!("{m}\n")).collect();
    let started = Instant::now();
    let mut child = setup.std_command().spawn()?;
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if finished.recv_timeout(server::DEADLINE).is_err() {
            let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
    });
    let result = (|| {
        let mut stdin = child.stdin.take().context("no stdin")?;
        stdin.write_all(text.as_bytes())?;
        stdin.flush()?;
        let mut stdout = std::io::BufReader::new(child.stdout.take().context("no stdout")?);
        let mut line = String::new();
        let mut next = |line: &mut String| -> anyhow::Result<()> {
            line.clear();
            anyhow::ensure!(stdout.read_line(line)? > 0, "switchboard closed stdout");
            Ok(())
        };
        next(&mut line)?;
        anyhow::ensure!(line.contains("\"id\":1"), "expected the initialize answer first: {line:.200}");
        let initialize = started.elapsed();
        let rss_initialize = server::rss(pid)?;
        next(&mut line)?;
        let tools_list = started.elapsed();
        let rss_tools_list = server::rss(pid)?;
        anyhow::ensure!(line.contains("get_invoice"), "tools/list did not list get_invoice: {line:.200}");
        drop(stdin); // EOF: the server exits
        let status = child.wait()?;
        anyhow::ensure!(status.success(), "switchboard exited with {status}");
        Ok(Sample { initialize, tools_list, rss_initialize, rss_tools_list })
    })();
    if result.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = done.send(());
    let _ = watchdog.join();
    result
}

/// `runs` measured start-ups after `warmup` unmeasured ones (which page the binary into the cache).
pub fn measure(setup: &Setup, warmup: usize, runs: usize) -> anyhow::Result<Startup> {
    for _ in 0..warmup {
        once(setup)?;
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        samples.push(once(setup)?);
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
