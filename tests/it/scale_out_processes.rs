//! Two real `switchboard serve --http` processes on one PostgreSQL database, as an operator runs them behind a
//! load balancer: a wait on one hears a webhook received by the other, identical creates split between them reach
//! the provider once, a create cut off by `kill -9` on one is reconciled by the other, and webhooks streamed while
//! the instances are killed and restarted are each stored exactly once. Runs when `SWITCHBOARD_TEST_DATABASE_URL`
//! names a server where databases may be created (`.ci/run` sets it).

use crate::helpers::{RZ_KEY_ID, RZ_SECRET, fixture};
use crate::scale_out::TestDb;
use crate::webhooks::RZ_WEBHOOK_SECRET;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard::webhooks::Scheme;
use switchboard::webhooks::verify::sign;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The instances' `[outbound] deadline_secs`.
const CALL_DEADLINE_SECS: u64 = 4;

/// One `switchboard serve --http` process on the shared database, on a port of its own that survives restarts.
struct Instance {
    child: Child,
    port: u16,
    base: String,
    db_url: String,
    razorpay: String,
    /// What it logged, for failure messages.
    log: Arc<Mutex<Vec<String>>>,
}

impl Instance {
    async fn start(db: &TestDb, razorpay: &str) -> Instance {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Self::start_on(port, &db.url, razorpay).await
    }

    async fn start_on(port: u16, db_url: &str, razorpay: &str) -> Instance {
        let deadline = Instant::now() + Duration::from_secs(30);
        // A short provider call deadline, so a dead instance's claims are taken over sooner (the grace after
        // its liveness lapses is its call deadline and a margin).
        let config = tempfile::NamedTempFile::new().unwrap().into_temp_path().keep().unwrap();
        std::fs::write(&config, format!("[outbound]\ndeadline_secs = {CALL_DEADLINE_SECS}\n")).unwrap();
        loop {
            let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
                .args(["serve", "--http", &format!("127.0.0.1:{port}")])
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("DATABASE_URL", db_url)
                .env("SWITCHBOARD_DATA_DIR", tempfile::tempdir().unwrap().keep())
                .env("SWITCHBOARD_CONFIRM", "never")
                .env("SWITCHBOARD_CONFIG", &config)
                .env("RAZORPAY_KEY_ID", RZ_KEY_ID)
                .env("RAZORPAY_KEY_SECRET", RZ_SECRET)
                .env("RAZORPAY_BASE_URL", razorpay)
                .env("RAZORPAY_WEBHOOK_SECRET", RZ_WEBHOOK_SECRET)
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let log = Arc::new(Mutex::new(Vec::new()));
            let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
            let mut serving = false;
            while let Ok(Ok(Some(line))) = tokio::time::timeout(Duration::from_secs(30), stderr.next_line()).await {
                log.lock().unwrap().push(line.clone());
                if line.contains("serving MCP on ") {
                    serving = true;
                    break;
                }
            }
            if serving {
                let kept = log.clone();
                tokio::spawn(async move {
                    while let Ok(Some(line)) = stderr.next_line().await {
                        kept.lock().unwrap().push(line);
                    }
                });
                let base = format!("http://127.0.0.1:{port}");
                return Instance { child, port, base, db_url: db_url.into(), razorpay: razorpay.into(), log };
            }
            // A restart can race the old socket's release; anything else is a failure.
            let log = log.lock().unwrap().join("\n");
            assert!(log.contains("in use") && Instant::now() < deadline, "the instance did not start:\n{log}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `kill -9`: no chance to finish anything.
    async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    /// Killed, then started again on the same port and database.
    async fn restart(&mut self) {
        self.kill().await;
        *self = Self::start_on(self.port, &self.db_url.clone(), &self.razorpay.clone()).await;
    }

    /// Two instances on `db`, started together.
    async fn pair(db: &TestDb, razorpay: &str) -> (Instance, Instance) {
        tokio::join!(Self::start(db, razorpay), Self::start(db, razorpay))
    }

    async fn client(&self) -> RunningService<RoleClient, ()> {
        ().serve(StreamableHttpClientTransport::from_uri(format!("{}/mcp", self.base))).await.unwrap()
    }

    fn logged(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The `switchboard_active_waits` gauge on its `/metrics`.
    async fn active_waits(&self) -> f64 {
        let text = reqwest::get(format!("{}/metrics", self.base)).await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("switchboard_active_waits "))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }

    async fn until_waiting(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.active_waits().await < 1.0 {
            assert!(Instant::now() < deadline, "the wait never started:\n{}", self.logged());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn call(client: &RunningService<RoleClient, ()>, tool: &'static str, args: Value) -> CallToolResult {
    let args = args.as_object().unwrap().clone();
    client.call_tool(CallToolRequestParams::new(tool).with_arguments(args)).await.unwrap()
}

fn structured(result: &CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "the tool failed: {result:?}");
    result.structured_content.clone().unwrap()
}

/// POST a Razorpay-signed delivery to an instance; `None` when the instance could not be reached.
async fn deliver(http: &reqwest::Client, base: &str, body: &str, event_id: &str) -> Option<reqwest::StatusCode> {
    let mut request = http.post(format!("{base}/webhooks/razorpay")).body(body.to_string());
    for (k, v) in sign(Scheme::Razorpay, RZ_WEBHOOK_SECRET, body.as_bytes(), 0, event_id) {
        request = request.header(k, v);
    }
    request.send().await.ok().map(|r| r.status())
}

/// Razorpay's `payment_link.paid` for `link`, made unique by `payment` (Razorpay dedupes by body too).
fn paid(link: &str, payment: &str) -> String {
    fixture("razorpay/webhook_payment_link_paid.json")
        .trim()
        .replace("plink_SCx4Lm8QwErT2y", link)
        .replace("pay_SCx9RtYu3IoP4a", payment)
}

/// Kill every connection the instances hold to the database (their `LISTEN` connections among them: a listener
/// cannot be picked out by its last query, which its heartbeat replaces); how many were killed.
async fn kill_connections(db_url: &str) -> i32 {
    let mut admin = PgConnection::connect(db_url).await.unwrap();
    let listening: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    let mut killed = 0;
    for pid in listening {
        let ended: bool =
            sqlx::query_scalar("SELECT pg_terminate_backend($1)").bind(pid).fetch_one(&mut admin).await.unwrap();
        killed += i32::from(ended);
    }
    killed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_for_payment_on_one_process_returns_soon_after_another_process_accepts_the_webhook() {
    let Some(db) = TestDb::create().await else { return };
    let (a, b) = Instance::pair(&db, "http://127.0.0.1:9").await;
    let agent = Arc::new(b.client().await);
    let http = reqwest::Client::new();

    for (round, link) in ["plink_ScaleOutOne", "plink_ScaleOutTwo"].into_iter().enumerate() {
        let waiting = {
            let agent = agent.clone();
            tokio::spawn(async move {
                let answer = call(&agent, "wait_for_payment", json!({"payment_link_id": link, "timeout_secs": 20}));
                let answer = structured(&answer.await);
                (answer, Instant::now())
            })
        };
        b.until_waiting().await;
        // The second time, every connection to the database (B's LISTEN connection included) is killed while the agent waits.
        if round == 1 {
            // Each instance holds at least its LISTEN connection and its liveness connection.
            assert!(kill_connections(&db.url).await >= 4, "the instances' connections were not all there");
        }
        let body = paid(link, &format!("pay_ScaleOut{round}"));
        let status = deliver(&http, &a.base, &body, &format!("evt_so_{round}")).await;
        assert_eq!(status, Some(reqwest::StatusCode::OK), "{}", a.logged());
        let accepted = Instant::now();
        let (answer, answered) = waiting.await.unwrap();
        assert_eq!(answer["paid"], true, "{answer}");
        let took = answered - accepted;
        eprintln!("round {round}: B answered {took:?} after A accepted the webhook");
        if round == 0 {
            assert!(took < Duration::from_millis(500), "the issue's bound is 500 ms: {took:?}");
        } else {
            // The reconnect re-reads at once; failing that, the one-second backstop.
            assert!(took < Duration::from_millis(1500), "the backstop is one second: {took:?}\n{}", b.logged());
        }
    }
}

/// Razorpay, slow to create (so the ten calls overlap), and able to find a link by its reference.
async fn razorpay_slow_create(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_links"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("razorpay/payment_link_created.json"), "application/json")
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    server
}

fn create_args() -> Value {
    json!({"amount": "45000", "currency": "INR", "description": "Invoice SW-2026-0142",
           "reference_id": "SW-2026-0142",
           "customer": {"name": "Ananya Sharma", "email": "ananya.sharma@kavyatextiles.in"}})
}

fn posts(received: &[wiremock::Request]) -> usize {
    received.iter().filter(|r| r.method.as_str() == "POST").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_identical_creates_split_across_two_processes_reach_the_provider_once() {
    let Some(db) = TestDb::create().await else { return };
    let razorpay = razorpay_slow_create(Duration::from_millis(800)).await;
    let (a, b) = Instance::pair(&db, &razorpay.uri()).await;
    let (agent_a, agent_b) = tokio::join!(a.client(), b.client());
    let calls = (0..10).map(|i| {
        let agent = if i % 2 == 0 { &agent_a } else { &agent_b };
        call(agent, "create_payment_link", create_args())
    });
    let results = futures::future::join_all(calls).await;
    let ids: Vec<Value> = results.iter().map(|r| structured(r)["id"].clone()).collect();
    assert!(ids.iter().all(|id| id == "plink_SCx4Lm8QwErT2y"), "{ids:?}");
    let firsts = results.iter().filter(|r| structured(r)["replayed"] == false).count();
    assert_eq!(firsts, 1, "one call created it, nine replayed it");
    assert_eq!(posts(&razorpay.received_requests().await.unwrap()), 1, "exactly one upstream POST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_cut_off_by_kill_9_on_one_process_is_reconciled_by_the_other_without_a_second_post() {
    let Some(db) = TestDb::create().await else { return };
    // Razorpay takes the create but answers too late: A is killed first.
    let razorpay = razorpay_slow_create(Duration::from_secs(120)).await;
    let (mut a, b) = Instance::pair(&db, &razorpay.uri()).await;
    let agent_a = a.client().await;
    let cut_off = tokio::spawn(async move { agent_a.call_tool(create_request()).await });
    let deadline = Instant::now() + Duration::from_secs(20);
    let key = loop {
        let received = razorpay.received_requests().await.unwrap();
        if let Some(post) = received.iter().find(|r| r.method.as_str() == "POST") {
            break serde_json::from_slice::<Value>(&post.body).unwrap()["reference_id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "A never called Razorpay:\n{}", a.logged());
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    a.kill().await;
    cut_off.abort();

    // The link exists at Razorpay under the key.
    let mut link: Value = serde_json::from_str(&fixture("razorpay/payment_link_created.json")).unwrap();
    link["reference_id"] = json!(key);
    Mock::given(method("GET"))
        .and(path("/v1/payment_links"))
        .and(query_param("reference_id", key.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"payment_links": [link]})))
        .mount(&razorpay)
        .await;

    let started = Instant::now();
    let answer = call(&b.client().await, "create_payment_link", create_args()).await;
    let answer = structured(&answer);
    eprintln!("B settled A's cut-off create {:?} after the call", started.elapsed());
    assert_eq!(answer["id"], "plink_SCx4Lm8QwErT2y", "{answer}");
    assert_eq!(answer["replayed"], true);
    let received = razorpay.received_requests().await.unwrap();
    assert_eq!(posts(&received), 1, "no second create");
    assert!(received.iter().any(|r| r.method.as_str() == "GET"), "B looked the link up");
}

fn create_request() -> CallToolRequestParams {
    CallToolRequestParams::new("create_payment_link").with_arguments(create_args().as_object().unwrap().clone())
}

/// Deliveries streamed at two instances while each is killed with SIGKILL and restarted in turn. Like a provider,
/// the streamer retries a delivery (at the other instance) until it gets a 2xx. Afterwards every delivery is
/// stored exactly once. `SWITCHBOARD_KILL_ROUNDS` sets how many kills (default 6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_streamed_while_two_processes_are_killed_and_restarted_are_each_stored_exactly_once() {
    let Some(db) = TestDb::create().await else { return };
    let rounds: usize = std::env::var("SWITCHBOARD_KILL_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(6);
    let (a, b) = Instance::pair(&db, "http://127.0.0.1:9").await;
    let bases = [a.base.clone(), b.base.clone()];
    let mut instances = [a, b];
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));

    // Eight streams, each delivering one event at a time and retrying it until acknowledged.
    let streams: Vec<_> = (0..8)
        .map(|stream| {
            let (bases, done, acked) = (bases.clone(), done.clone(), acked.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
                let mut n = 0;
                let mut target = stream % 2;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let id = format!("evt_kill_{stream}_{n}");
                    let body = paid(&format!("plink_K{stream}x{n}"), &format!("pay_K{stream}x{n}"));
                    loop {
                        match deliver(&http, &bases[target], &body, &id).await {
                            Some(s) if s.is_success() => break,
                            _ => target = 1 - target,
                        }
                    }
                    acked.lock().unwrap().push(id);
                    n += 1;
                }
            })
        })
        .collect();

    for round in 0..rounds {
        tokio::time::sleep(Duration::from_millis(300)).await;
        instances[round % 2].restart().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for s in streams {
        s.await.unwrap();
    }

    let acked = acked.lock().unwrap().clone();
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let stored: Vec<(String, i64)> =
        sqlx::query_as("SELECT provider_event_id, COUNT(*) FROM events GROUP BY provider_event_id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let stored: std::collections::HashMap<String, i64> = stored.into_iter().collect();
    eprintln!("{} deliveries acknowledged across {rounds} kills; {} events stored", acked.len(), stored.len());
    assert!(acked.len() > 50, "too few deliveries to mean anything: {}", acked.len());
    let missing: Vec<&String> = acked.iter().filter(|id| !stored.contains_key(*id)).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    assert!(stored.values().all(|&n| n == 1), "stored twice");
    assert_eq!(stored.len(), acked.len(), "every stored event was acknowledged in the end");
}
