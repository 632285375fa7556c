//! The PostgreSQL store under the same measurements as SQLite (section `postgres`): verified + durable ingest with
//! one instance and with two on one database, the ack latency at 1,000 deliveries/s offered, and webhook → waiter
//! across instances; beside them, the server's raw commit ceiling measured from this process in the same run.
//!
//! Needs `SWITCHBOARD_BENCH_DATABASE_URL`, a server where that user may create databases. Every configuration
//! gets a database of its own, created for it and dropped afterwards; the database the URL names is never
//! written.

use crate::load::{self, Load};
use crate::server::{HttpServer, Setup};
use crate::stats::Summary;
use crate::webhook::{self, Paced, WaitLatency};
use anyhow::Context;
use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// The server to create the benchmark's databases on.
pub const DATABASE_URL: &str = "SWITCHBOARD_BENCH_DATABASE_URL";

/// Senders for the closed-loop ingest, split evenly between instances (the SQLite row uses as many).
const SENDERS: usize = crate::CLIENTS;

pub struct Postgres {
    pub ceiling: Ceiling,
    pub instances: Vec<Ingest>,
    pub wake: WaitLatency,
}

/// Ingest through `instances` servers sharing one database.
pub struct Ingest {
    pub instances: usize,
    pub load: Load,
    pub paced: Paced,
    /// 200s received (warm-ups included), and rows found in the database afterwards.
    pub acked: u64,
    pub stored: i64,
}

/// The database alone: `INSERT … ON CONFLICT DO NOTHING RETURNING` of the Razorpay fixture (1.9 KB) under a random
/// unique key into a table shaped like reference §3's (5 secondary indexes), `synchronous_commit=on`, from this
/// process (which shares the machine's cores with the server, as Switchboard would).
pub struct Ceiling {
    /// `server_version`, `fsync`, `synchronous_commit` as the server reports them.
    pub server: String,
    /// Single-row commits from 8 clients (reference §3's cell: 4,540 / 5,079 / 5,079 per second).
    pub single: Hammered,
    /// 16 rows per commit from 2 clients (reference: 19,456 / 24,112 / 28,016 rows per second).
    pub batched: Hammered,
    /// 16 rows per commit from 1 client: Switchboard's own shape, one event transaction at a time across every
    /// instance (an advisory lock keeps sequence numbers in commit order).
    pub serial: Hammered,
}

pub struct Hammered {
    pub clients: usize,
    pub rows_per_commit: i64,
    pub rows_per_second: f64,
    pub commit: Summary,
}

pub async fn measure(admin_url: &str, stub: SocketAddr) -> anyhow::Result<Postgres> {
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(admin_url)
        .await
        .with_context(|| format!("connecting to {DATABASE_URL}"))?;
    let outcome = measure_on(&admin, admin_url, stub).await;
    admin.close().await;
    outcome
}

async fn measure_on(admin: &PgPool, admin_url: &str, stub: SocketAddr) -> anyhow::Result<Postgres> {
    eprintln!("postgres: the server's raw commit ceiling…");
    let db = Scratch::create(admin, admin_url, "ceiling").await?;
    let ceiling = ceiling(&db.url).await?;
    drop(db);
    let mut instances = Vec::new();
    for n in [1, 2] {
        eprintln!("postgres: ingest through {n} instance(s) on one database…");
        let db = Scratch::create(admin, admin_url, &format!("ingest{n}")).await?;
        instances.push(ingest(&db.url, stub, n).await?);
    }
    eprintln!("postgres: webhook to instance A → wait_for_event on instance B…");
    let db = Scratch::create(admin, admin_url, "wake").await?;
    let setup = Setup::with_database(stub, &db.url)?;
    let (a, b) = (HttpServer::spawn(&setup).await?, HttpServer::spawn(&setup).await?);
    let wake = webhook::wait_latency(&b, &a, 20, 300, Duration::from_millis(10)).await?;
    a.stop().await?;
    b.stop().await?;
    Ok(Postgres { ceiling, instances, wake })
}

/// Closed-loop ingest, then 1,000/s offered, through `n` instances; every 200 must be a row afterwards.
async fn ingest(url: &str, stub: SocketAddr, n: usize) -> anyhow::Result<Ingest> {
    let setup = Setup::with_database(stub, url)?;
    let mut servers = Vec::new();
    for _ in 0..n {
        servers.push(HttpServer::spawn(&setup).await?);
    }
    let refs: Vec<&HttpServer> = servers.iter().collect();
    let (load, acked) = load::webhooks(&refs, SENDERS, Duration::from_secs(1), Duration::from_secs(5)).await?;
    let paced = webhook::paced(&refs, 1000.0, Duration::from_secs(5)).await?;
    for server in servers {
        server.stop().await?;
    }
    let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&pool).await?;
    pool.close().await;
    Ok(Ingest { instances: n, acked: acked + paced.acked, load, paced, stored })
}

/// A body like a real delivery's.
const BODY: &str = include_str!("../../tests/fixtures/razorpay/webhook_payment_link_paid.json");
const WINDOW: Duration = Duration::from_secs(4);

async fn ceiling(url: &str) -> anyhow::Result<Ceiling> {
    let options = url.parse::<PgConnectOptions>()?.options([("synchronous_commit", "on")]);
    let pool = PgPoolOptions::new().max_connections(8).connect_with(options).await?;
    let setting = |name: &'static str| sqlx::query_scalar::<_, String>(name).fetch_one(&pool);
    let server = format!(
        "PostgreSQL {}, fsync={}, synchronous_commit={}",
        setting("SHOW server_version").await?,
        setting("SHOW fsync").await?,
        setting("SHOW synchronous_commit").await?
    );
    sqlx::raw_sql(
        "CREATE TABLE ceiling (id bigserial PRIMARY KEY, source text NOT NULL, provider_event_id text NOT NULL,          event_type text NOT NULL, account_id text, object_id text, received_at timestamptz NOT NULL DEFAULT now(),          status int NOT NULL DEFAULT 0, body jsonb NOT NULL, UNIQUE (source, provider_event_id));          CREATE INDEX ON ceiling (received_at); CREATE INDEX ON ceiling (event_type, id);          CREATE INDEX ON ceiling (object_id); CREATE INDEX ON ceiling (account_id, id);          CREATE INDEX ON ceiling (status) WHERE status = 0;",
    )
    .execute(&pool)
    .await?;
    let single = hammer(&pool, 8, 1).await?;
    let batched = hammer(&pool, 2, 16).await?;
    let serial = hammer(&pool, 1, 16).await?;
    pool.close().await;
    Ok(Ceiling { server, single, batched, serial })
}

/// `clients` loops inserting `rows` new rows per statement (each its own transaction) for [`WINDOW`] after a 1 s
/// warm-up.
async fn hammer(pool: &PgPool, clients: usize, rows: i64) -> anyhow::Result<Hammered> {
    let insert = "INSERT INTO ceiling (source, provider_event_id, event_type, account_id, object_id, body) \
                  SELECT 'razorpay', gen_random_uuid()::text, 'payment_link.paid', 'acc_' || (g % 7), \
                  'plink_' || gen_random_uuid(), $1::jsonb FROM generate_series(1, $2) AS g \
                  ON CONFLICT (source, provider_event_id) DO NOTHING RETURNING id";
    let start = Instant::now();
    let (from, end) = (start + Duration::from_secs(1), start + Duration::from_secs(1) + WINDOW);
    let committed = Arc::new(AtomicU64::new(0));
    let mut set = JoinSet::new();
    for _ in 0..clients {
        let (pool, committed) = (pool.clone(), committed.clone());
        set.spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < end {
                let sent = Instant::now();
                let ids: Vec<i64> = sqlx::query_scalar(insert).bind(BODY.trim()).bind(rows).fetch_all(&pool).await?;
                anyhow::ensure!(ids.len() as i64 == rows, "a random key was taken twice");
                let now = Instant::now();
                if sent >= from && now <= end {
                    committed.fetch_add(1, Ordering::Relaxed);
                    latencies.push(now - sent);
                }
            }
            anyhow::Ok(latencies)
        });
    }
    let mut latencies = Vec::new();
    while let Some(joined) = set.join_next().await {
        latencies.extend(joined??);
    }
    let commits = committed.load(Ordering::Relaxed);
    Ok(Hammered {
        clients,
        rows_per_commit: rows,
        rows_per_second: (commits * rows as u64) as f64 / WINDOW.as_secs_f64(),
        commit: Summary::of_durations(&latencies),
    })
}

/// A database made for one configuration, dropped when this is (a panic included). Its name carries this
/// process's id and the time, so runs sharing a server never meet.
struct Scratch {
    admin_url: String,
    name: String,
    url: String,
}

impl Scratch {
    async fn create(admin: &PgPool, admin_url: &str, tag: &str) -> anyhow::Result<Scratch> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.subsec_nanos();
        // Made of numbers and a fixed tag: nothing from outside reaches the statement.
        let name = format!("switchboard_bench_{}_{nanos:x}_{tag}", std::process::id());
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(admin)
            .await
            .context("creating a bench database")?;
        let mut scratch = Scratch { admin_url: admin_url.to_string(), name: name.clone(), url: String::new() };
        let mut url = reqwest::Url::parse(admin_url).with_context(|| format!("{DATABASE_URL} is not a URL"))?;
        url.set_path(&format!("/{name}"));
        // A `dbname` parameter would override the path: the servers would write the database the URL names.
        let query: Vec<(String, String)> =
            url.query_pairs().filter(|(k, _)| k != "dbname").map(|(k, v)| (k.into(), v.into())).collect();
        url.query_pairs_mut().clear().extend_pairs(query);
        let url = url.to_string().trim_end_matches('?').to_string();
        let pool = PgPoolOptions::new().max_connections(1).connect(&url).await?;
        let current: String = sqlx::query_scalar("SELECT current_database()").fetch_one(&pool).await?;
        pool.close().await;
        anyhow::ensure!(current == name, "the bench database URL leads to {current}, not {name}");
        scratch.url = url;
        Ok(scratch)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Its own thread and runtime: a drop may run inside the bench's runtime, or after it failed.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let admin = PgPoolOptions::new().max_connections(1).connect(&admin_url).await?;
                sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&admin)
                    .await?;
                admin.close().await;
                anyhow::Ok(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("postgres: could not drop the bench database {}", self.name);
        }
    }
}
