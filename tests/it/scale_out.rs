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

/// The notifications are only hints: with every instance's LISTEN connection killed mid-wait
/// (`pg_terminate_backend`), the waiting agent on B still hears A's webhook, through the reconnect's re-read or the
/// one-second backstop, well within the wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_survives_its_instances_listen_connection_being_killed() {
    let Some(db) = TestDb::create().await else { return };
    let (a, b) = two_instances(&db).await;
    let waiting = agent_waits_on(&b);
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.state.store.events().listeners() == 0 {
        assert!(Instant::now() < deadline, "the wait never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Both instances have a LISTEN connection open by now (each opened its store to serve the calls).
    let mut admin = PgConnection::connect(&db.url).await.unwrap();
    let mut killed = 0;
    while killed == 0 {
        assert!(Instant::now() < deadline, "no LISTEN connection to kill");
        let listening: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%' \
             AND pid <> pg_backend_pid()",
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
    eprintln!("with {killed} LISTEN connection(s) killed, B answered {took:?} after A acknowledged the webhook");
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
