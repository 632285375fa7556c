//! Two Switchboard instances on one PostgreSQL database, in-process, through the real receiver and tools: an
//! agent waiting on instance B hears a webhook that instance A received. Runs when
//! `SWITCHBOARD_TEST_DATABASE_URL` names a server where databases may be created (`.ci/run` sets it).

use crate::helpers::{config, fixture, structured};
use crate::webhooks::{Receiver, deliver_razorpay, start, with_webhooks};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::json;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::time::{Duration, Instant};
use switchboard::domain::event::EventFilter;

/// A fresh database on the test server, dropped when the test ends.
pub(crate) struct TestDb {
    server: String,
    name: String,
    pub(crate) url: String,
}

impl TestDb {
    pub(crate) async fn create() -> Option<TestDb> {
        let server = std::env::var("SWITCHBOARD_TEST_DATABASE_URL").ok().filter(|v| !v.trim().is_empty())?;
        let name = format!("sb_it_{}", hex::encode(rand::random::<[u8; 6]>()));
        let mut admin = PgConnection::connect(&server).await.unwrap();
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
        let mut url = url::Url::parse(&server).unwrap();
        url.set_path(&name);
        Some(TestDb { server, name, url: url.to_string() })
    }
}

impl TestDb {
    /// From now on the database answers reads and refuses writes, as a standby does: new transactions are
    /// read-only, and every connection to it is ended so that instances reconnect and get the setting.
    pub(crate) async fn refuse_writes(&self) {
        let mut admin = PgConnection::connect(&self.server).await.unwrap();
        let read_only = format!("ALTER DATABASE {} SET default_transaction_read_only = on", self.name);
        sqlx::raw_sql(AssertSqlSafe(read_only)).execute(&mut admin).await.unwrap();
        let kill = format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
            self.name
        );
        sqlx::raw_sql(AssertSqlSafe(kill)).execute(&mut admin).await.unwrap();
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&server).await.unwrap();
                let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::raw_sql(AssertSqlSafe(drop)).execute(&mut admin).await.unwrap();
            })
        })
        .join();
    }
}

/// Two servers (MCP and webhooks) on one database.
async fn two_instances(db: &TestDb) -> (Receiver, Receiver) {
    let instance = || {
        let mut cfg = with_webhooks(config(None, None));
        cfg.store.url = Some(SecretString::from(db.url.clone()));
        cfg
    };
    (start(instance()).await, start(instance()).await)
}

/// An agent on `instance` waits for a paid link; the task returns the answer and when it came.
fn agent_waits_on(instance: &Receiver) -> tokio::task::JoinHandle<(serde_json::Value, Instant)> {
    let state = instance.state.clone();
    tokio::spawn(async move {
        let agent = crate::helpers::connect_with(state, ()).await;
        let args = json!({"event_type": "payment_link.paid", "timeout_secs": 20});
        let answer = structured(&crate::helpers::call(&agent, "wait_for_event", args).await);
        (answer, Instant::now())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_waiting_on_one_instance_hears_a_webhook_received_by_another() {
    let Some(db) = TestDb::create().await else { return };
    let (a, b) = two_instances(&db).await;
    let waiting = agent_waits_on(&b);
    // The agent is waiting on B (subscribed) before anything arrives.
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.state.store.events().listeners() == 0 {
        assert!(Instant::now() < deadline, "the wait never started");
        tokio::task::yield_now().await;
    }

    let body = fixture("razorpay/webhook_payment_link_paid.json");
    assert_eq!(deliver_razorpay(a.addr, body.trim(), "evt_RZ_scale_1").await, StatusCode::OK);
    let acked = Instant::now();
    let (answer, answered) = waiting.await.unwrap();
    assert_eq!(answer["timed_out"], false, "{answer}");
    assert_eq!(answer["event"]["correlation"]["payment_link_id"], "plink_SCx4Lm8QwErT2y");
    eprintln!("B answered the waiting agent {:?} after A acknowledged the webhook", answered - acked);

    // The provider retries to the other instance: acknowledged, stored once.
    assert_eq!(deliver_razorpay(b.addr, body.trim(), "evt_RZ_scale_1").await, StatusCode::OK);
    assert_eq!(a.state.store.events().list(&EventFilter::default(), 10).await.unwrap().len(), 1);
}

/// The notifications are only hints: with every connection of every instance killed mid-wait (LISTEN included)
/// (`pg_terminate_backend`), the waiting agent on B still hears A's webhook, through the reconnect's re-read or the
/// one-second backstop, well within the wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_survives_its_instances_listen_connection_being_killed() {
    let Some(db) = TestDb::create().await else { return };
    let (a, b) = two_instances(&db).await;
    // Both stores open (migrated, listening) before anything is killed, as in a running deployment.
    a.state.store.open().await.unwrap();
    b.state.store.open().await.unwrap();
    let waiting = agent_waits_on(&b);
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.state.store.events().listeners() == 0 {
        assert!(Instant::now() < deadline, "the wait never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut admin = PgConnection::connect(&db.url).await.unwrap();
    let mut killed = 0;
    while killed == 0 {
        assert!(Instant::now() < deadline, "no LISTEN connection to kill");
        let listening: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        for pid in &listening {
            let ended: bool =
                sqlx::query_scalar("SELECT pg_terminate_backend($1)").bind(pid).fetch_one(&mut admin).await.unwrap();
            killed += i32::from(ended);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let body = fixture("razorpay/webhook_payment_link_paid.json");
    assert_eq!(deliver_razorpay(a.addr, body.trim(), "evt_RZ_scale_killed").await, StatusCode::OK);
    let acked = Instant::now();
    let (answer, answered) = waiting.await.unwrap();
    assert_eq!(answer["timed_out"], false, "{answer}");
    let took = answered - acked;
    eprintln!("with {killed} connection(s) killed, B answered {took:?} after A acknowledged the webhook");
    assert!(took < Duration::from_secs(3), "the backstop is one second: {took:?}");
}

/// A server that refuses its address (a public one without the token) refuses before touching the shared
/// database: nothing is migrated into it.
#[tokio::test]
async fn a_refused_start_leaves_the_shared_database_untouched() {
    let Some(db) = TestDb::create().await else { return };
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--http", "0.0.0.0:0"])
        .env_clear()
        .env("DATABASE_URL", &db.url)
        .env("SWITCHBOARD_DATA_DIR", tempfile::tempdir().unwrap().keep())
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("without a token"));
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(tables, 0, "nothing migrated");
}

/// A TCP relay in front of the database that can be cut (every connection dropped, new ones refused) and
/// restored on the same port: a database restart or a network cut, as an instance sees it.
struct Relay {
    port: u16,
    target: String,
    cut: tokio_util::sync::CancellationToken,
}

impl Relay {
    async fn to(server_url: &str) -> Relay {
        let url = url::Url::parse(server_url).unwrap();
        let target = format!("{}:{}", url.host_str().unwrap_or("127.0.0.1"), url.port().unwrap_or(5432));
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut relay = Relay { port, target, cut: tokio_util::sync::CancellationToken::new() };
        relay.restore().await;
        relay
    }

    /// `url` with its host and port replaced by the relay's.
    fn url_for(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(self.port)).unwrap();
        url.to_string()
    }

    async fn restore(&mut self) {
        self.cut = tokio_util::sync::CancellationToken::new();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        let (cut, target) = (self.cut.clone(), self.target.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = cut.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((mut client, _)) = accepted else { continue };
                let (cut, target) = (cut.clone(), target.clone());
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else { return };
                    tokio::select! {
                        _ = cut.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
    }

    fn cut(&self) {
        self.cut.cancel();
    }
}

async fn health(addr: std::net::SocketAddr) -> (StatusCode, serde_json::Value) {
    let answer = reqwest::get(format!("http://{addr}/healthz")).await.unwrap();
    (answer.status(), answer.json().await.unwrap())
}

/// `/healthz` polled until it stops answering 200 (or 20 s pass): the last answer.
async fn health_once_not_ok(addr: std::net::SocketAddr) -> (StatusCode, serde_json::Value) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, answer) = health(addr).await;
        if status != StatusCode::OK || Instant::now() > deadline {
            return (status, answer);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The database goes away under a running instance and comes back: `/healthz` says so (503, then 200),
/// deliveries are refused with 503 while it is gone (the provider retries) and stored once it is back, all
/// without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_recovers_when_its_database_comes_back_without_a_restart() {
    let Some(db) = TestDb::create().await else { return };
    let mut relay = Relay::to(&db.server).await;
    let mut cfg = with_webhooks(config(None, None));
    cfg.store.url = Some(SecretString::from(relay.url_for(&db.url)));
    let rx = start(cfg).await;
    let body = fixture("razorpay/webhook_payment_link_paid.json");
    assert_eq!(deliver_razorpay(rx.addr, body.trim(), "evt_RZ_before").await, StatusCode::OK);
    let (status, answer) = health(rx.addr).await;
    assert_eq!((status, &answer["store"]), (StatusCode::OK, &json!({"backend": "postgres", "ok": true})));

    relay.cut();
    let (status, answer) = health_once_not_ok(rx.addr).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["store"]["ok"], false);
    assert!(!answer.to_string().contains("127.0.0.1"), "where the database is stays private: {answer}");
    let other = body.trim().replace("pay_SCx9RtYu3IoP4a", "pay_SCx9During");
    assert_eq!(deliver_razorpay(rx.addr, &other, "evt_RZ_during").await, StatusCode::SERVICE_UNAVAILABLE);

    relay.restore().await;
    let restored = Instant::now();
    loop {
        let status = deliver_razorpay(rx.addr, &other, "evt_RZ_during").await;
        if status == StatusCode::OK {
            break;
        }
        assert!(restored.elapsed() < Duration::from_secs(30), "still {status} after the database came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("deliveries stored again {:?} after the database came back", restored.elapsed());
    assert_eq!(health(rx.addr).await.0, StatusCode::OK);
    assert_eq!(rx.state.store.events().list(&EventFilter::default(), 10).await.unwrap().len(), 2);
}

/// A database that answers reads but refuses writes (a standby promoted badly, a failover that left the
/// instance on the old primary made read-only) cannot store a webhook: `/healthz` answers 503, so a balancer
/// sends traffic elsewhere, and says why without saying where the database is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_refuses_writes_is_unhealthy() {
    let Some(db) = TestDb::create().await else { return };
    let mut cfg = with_webhooks(config(None, None));
    cfg.store.url = Some(SecretString::from(db.url.clone()));
    let rx = start(cfg).await;
    assert_eq!(health(rx.addr).await.0, StatusCode::OK);

    db.refuse_writes().await;
    let body = fixture("razorpay/webhook_payment_link_paid.json");
    let (status, answer) = health_once_not_ok(rx.addr).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["store"]["problem"], "the store refuses writes (read-only)", "{answer}");
    assert!(!answer.to_string().contains(&db.name), "where the database is stays private: {answer}");
    assert_eq!(deliver_razorpay(rx.addr, body.trim(), "evt_RZ_ro").await, StatusCode::SERVICE_UNAVAILABLE);
}

/// Razorpay refuses a create while the database stops taking writes: the claim cannot be released, but the model
/// still gets Razorpay's answer (what to fix), not "nothing was sent to the provider", which would be false. The
/// claim stays in progress, so an identical call waits or reconciles; it never sends blindly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_answer_is_reported_even_when_the_ledger_cannot_record_it() {
    // Long enough for the slow refusal to arrive.
    let Some(text) = create_while_the_database_turns_read_only(Duration::from_secs(4)).await else { return };
    assert!(text.contains("amount exceeds maximum amount allowed"), "the model was not told Razorpay's answer: {text}");
    assert!(!text.contains("nothing was sent"), "{text}");
}

/// The same when the answer never comes in time: the model hears the outcome is unknown and how to settle it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_is_reported_even_when_the_ledger_cannot_record_it() {
    // Shorter than the 2 s Razorpay takes, long enough for the database to be read-only when it gives up.
    let Some(text) = create_while_the_database_turns_read_only(Duration::from_millis(1500)).await else { return };
    assert!(text.contains("may or may not exist"), "the model was not told the outcome is unknown: {text}");
    assert!(!text.contains("nothing was sent"), "{text}");
}

/// `create_payment_link` against a Razorpay that refuses after 2 s; while it is answering, the database is set
/// read-only and every connection to it ended. The tool's error text, or none without a test database. Checks
/// that noting the answer did fail: the claim is still in progress.
async fn create_while_the_database_turns_read_only(attempt_timeout: Duration) -> Option<String> {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let db = TestDb::create().await?;
    let razorpay = MockServer::start().await;
    let refusal = json!({"error": {"code": "BAD_REQUEST_ERROR", "description": "amount exceeds maximum amount allowed.",
                                   "metadata": [], "reason": null, "source": null, "step": null}});
    Mock::given(method("POST"))
        .and(path("/v1/payment_links"))
        .respond_with(ResponseTemplate::new(400).set_body_json(refusal).set_delay(Duration::from_secs(2)))
        .mount(&razorpay)
        .await;
    let mut cfg = with_webhooks(config(Some(&razorpay.uri()), None));
    cfg.store.url = Some(SecretString::from(db.url.clone()));
    cfg.outbound.attempt_timeout = attempt_timeout;
    cfg.outbound.call_deadline = Duration::from_secs(8);
    let a = start(cfg).await;
    let args = json!({"amount": "45000000", "currency": "INR", "description": "Invoice SW-2026-0142",
                      "reference_id": "SW-2026-0142", "customer": {"name": "Ananya Sharma"}});
    let call = {
        let state = a.state.clone();
        tokio::spawn(async move {
            let agent = crate::helpers::connect_with(state, ()).await;
            crate::helpers::error_text(&crate::helpers::call(&agent, "create_payment_link", args).await)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while razorpay.received_requests().await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "Razorpay was never called");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    db.refuse_writes().await;
    let text = call.await.unwrap();
    let mut reader = PgConnection::connect(&db.url).await.unwrap();
    // Released, the row would be gone; marked unknown, its lock would be 0.
    let claims: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, locked_until FROM idempotency").fetch_all(&mut reader).await.unwrap();
    assert!(
        matches!(claims.as_slice(), [(state, locked)] if state == "in_progress" && *locked > 0),
        "the answer was noted after all, so the test did not test a failed note: {claims:?}"
    );
    Some(text)
}

/// Counts what it is asked to perform.
#[derive(Default)]
struct Counting(std::sync::Mutex<Vec<String>>);

#[async_trait::async_trait]
impl switchboard::approvals::Performer for Counting {
    async fn perform(
        &self,
        _state: std::sync::Arc<switchboard::state::AppState>,
        approval: &switchboard::domain::approval::Approval,
    ) -> switchboard::domain::approval::Outcome {
        self.0.lock().unwrap().push(approval.key.clone());
        // Performing takes a while: long enough for another instance's sweep to overlap it.
        tokio::time::sleep(Duration::from_millis(500)).await;
        switchboard::domain::approval::Outcome::Ok(json!({"performed": approval.key}))
    }
}

/// An approval a person approved, decided `ago` seconds before now.
async fn approved(state: &switchboard::state::AppState, key: &str, ago: i64) {
    use switchboard::domain::approval::{Approval, ApprovalStatus, Decision, Summary, random_token};
    let now = switchboard::domain::time::now();
    let approval = Approval {
        id: random_token("apv_"),
        tool: "create_payment_link".into(),
        key: key.into(),
        binding: "b".into(),
        summary: Summary { headline: "Create a link".into(), details: vec![] },
        arguments: json!({}),
        form_token: random_token(""),
        status: ApprovalStatus::Pending,
        created_at: now - ago,
        expires_at: now + 600,
        decided_at: None,
        reported: false,
        outcome: None,
    };
    let approvals = state.store.approvals();
    let id = approvals.propose(&approval, now - ago).await.unwrap().id;
    approvals.decide(&id, Decision::Approve, now - ago).await.unwrap().unwrap();
}

/// With instances sharing the store, an instance settles only approvals left approved longer than performing
/// takes (their instance died); one approved a moment ago is another live instance's to perform.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_shared_store_only_approvals_abandoned_by_their_instance_are_performed_by_another() {
    let Some(db) = TestDb::create().await else { return };
    let (a, b) = two_instances(&db).await;
    let grace = switchboard::approvals::performing_grace(&a.state).as_secs() as i64;
    approved(&a.state, "left_by_a_dead_instance", grace + 5).await;
    approved(&a.state, "being_performed_by_a", 1).await;
    let performer = std::sync::Arc::new(Counting::default());
    let performed = switchboard::approvals::settle_interrupted(b.state.clone(), performer.clone()).await;
    assert_eq!(performed, 1);
    assert_eq!(*performer.0.lock().unwrap(), ["left_by_a_dead_instance"]);
    // Settled: the next sweep finds nothing.
    assert_eq!(switchboard::approvals::settle_interrupted(b.state.clone(), performer.clone()).await, 0);

    // Both instances sweeping at the same moment: one performs it.
    approved(&a.state, "swept_by_both", grace + 5).await;
    let (by_a, by_b) = tokio::join!(
        switchboard::approvals::settle_interrupted(a.state.clone(), performer.clone()),
        switchboard::approvals::settle_interrupted(b.state.clone(), performer.clone())
    );
    assert_eq!(by_a + by_b, 1, "performed by A {by_a} times, by B {by_b} times");
    assert_eq!(performer.0.lock().unwrap().len(), 2);
}

/// A live instance cut off from the database for longer than its liveness window, while its create is still
/// at the provider, keeps its claim: the other instance does not take it for dead before the call's deadline has
/// passed too, so it waits, and replays the first result instead of sending a second create.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_instance_briefly_cut_off_from_the_database_keeps_its_claim() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let Some(db) = TestDb::create().await else { return };
    let razorpay = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_links"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("razorpay/payment_link_created.json"), "application/json")
                .set_delay(Duration::from_secs(13)),
        )
        .mount(&razorpay)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_links"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"payment_links": []})))
        .mount(&razorpay)
        .await;
    let mut relay = Relay::to(&db.server).await;
    let instance = |url: String| {
        let mut cfg = with_webhooks(config(Some(&razorpay.uri()), None));
        cfg.store.url = Some(SecretString::from(url));
        // The shipped deadlines (15 s per attempt, 30 s per call): Razorpay's 13 s answer fits inside them.
        cfg.outbound = switchboard::config::OutboundConfig::default();
        cfg
    };
    let a = start(instance(relay.url_for(&db.url))).await;
    let b = start(instance(db.url.clone())).await;
    let args = json!({"amount": "45000", "currency": "INR", "description": "Invoice SW-2026-0142",
                      "reference_id": "SW-2026-0142", "customer": {"name": "Ananya Sharma"}});
    let first = {
        let (state, args) = (a.state.clone(), args.clone());
        tokio::spawn(async move {
            let agent = crate::helpers::connect_with(state, ()).await;
            structured(&crate::helpers::call(&agent, "create_payment_link", args).await)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while razorpay.received_requests().await.unwrap().iter().all(|r| r.method.as_str() != "POST") {
        assert!(Instant::now() < deadline, "A never called Razorpay");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    relay.cut();
    tokio::time::sleep(Duration::from_secs(11)).await; // past the 10 s liveness window
    let agent_b = crate::helpers::connect_with(b.state.clone(), ()).await;
    let second =
        tokio::spawn(async move { structured(&crate::helpers::call(&agent_b, "create_payment_link", args).await) });
    tokio::time::sleep(Duration::from_millis(500)).await;
    relay.restore().await;
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!((first["replayed"].clone(), second["replayed"].clone()), (json!(false), json!(true)));
    assert_eq!(first["id"], second["id"]);
    let posts = razorpay.received_requests().await.unwrap().iter().filter(|r| r.method.as_str() == "POST").count();
    assert_eq!(posts, 1, "a second create was sent while the first was still in flight");
}
