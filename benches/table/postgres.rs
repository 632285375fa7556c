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
use sqlx::postgres::{PgPool, PgPoolOptions};
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

/// The database alone: `INSERT … ON CONFLICT DO NOTHING RETURNING` of a 1.5 KB JSON body with a unique key,
/// committed durably, from this process (the server shares the machine's cores with it, as Switchboard would).
pub struct Ceiling {
    pub clients: usize,
    pub single_per_second: f64,
    pub single: Summary,
    pub batch_clients: usize,
    pub rows_per_batch: usize,
    pub batched_rows_per_second: f64,
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
    let url = db.url.clone();
    let ceiling = db.run(ceiling(&url)).await?;
    let mut instances = Vec::new();
    for n in [1, 2] {
        eprintln!("postgres: ingest through {n} instance(s) on one database…");
        let db = Scratch::create(admin, admin_url, &format!("ingest{n}")).await?;
        let url = db.url.clone();
        instances.push(db.run(ingest(&url, stub, n)).await?);
    }
    eprintln!("postgres: webhook to instance A → wait_for_event on instance B…");
    let db = Scratch::create(admin, admin_url, "wake").await?;
    let url = db.url.clone();
    let wake = db
        .run(async {
            let setup = Setup::with_database(stub, &url)?;
            let (a, b) = (HttpServer::spawn(&setup).await?, HttpServer::spawn(&setup).await?);
            let wake = webhook::wait_latency(&b, &a, 20, 300, Duration::from_millis(10)).await;
            a.stop().await?;
            b.stop().await?;
            wake
        })
        .await?;
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

/// A body like a real delivery's (the Razorpay fixture, ~1.5 KB).
const BODY: &str = include_str!("../../tests/fixtures/razorpay/webhook_payment_link_paid.json");

/// Single-row durable commits from 8 clients, then 16 rows per commit from 2 clients (reference §3's cells).
async fn ceiling(url: &str) -> anyhow::Result<Ceiling> {
    let pool = PgPoolOptions::new().max_connections(8).connect(url).await?;
    sqlx::query(
        "CREATE TABLE ceiling (id bigserial PRIMARY KEY, source text NOT NULL, provider_event_id text NOT NULL, \
         received_at timestamptz NOT NULL DEFAULT now(), body jsonb NOT NULL, UNIQUE (source, provider_event_id))",
    )
    .execute(&pool)
    .await?;
    let window = Duration::from_secs(4);
    let (singles, single) = hammer(&pool, 8, window, 1).await?;
    let (batches, _) = hammer(&pool, 2, window, 16).await?;
    pool.close().await;
    Ok(Ceiling {
        clients: 8,
        single_per_second: singles as f64 / window.as_secs_f64(),
        single,
        batch_clients: 2,
        rows_per_batch: 16,
        batched_rows_per_second: (batches * 16) as f64 / window.as_secs_f64(),
    })
}

/// `clients` loops inserting `rows` new rows per statement (each its own transaction, `synchronous_commit=on`)
/// for `window` after a 1 s warm-up: how many commits completed in the window, and their latency.
async fn hammer(pool: &PgPool, clients: usize, window: Duration, rows: i64) -> anyhow::Result<(u64, Summary)> {
    let insert = "INSERT INTO ceiling (source, provider_event_id, body) \
                  SELECT 'razorpay', $1 || '-' || g, $2::jsonb FROM generate_series(1, $3) AS g \
                  ON CONFLICT (source, provider_event_id) DO NOTHING RETURNING id";
    let start = Instant::now();
    let (from, end) = (start + Duration::from_secs(1), start + Duration::from_secs(1) + window);
    let committed = Arc::new(AtomicU64::new(0));
    let mut set = JoinSet::new();
    for c in 0..clients {
        let (pool, committed) = (pool.clone(), committed.clone());
        set.spawn(async move {
            let mut latencies = Vec::new();
            let mut seq = 0u64;
            while Instant::now() < end {
                seq += 1;
                let sent = Instant::now();
                let ids: Vec<i64> = sqlx::query_scalar(insert)
                    .bind(format!("c{c}r{rows}s{seq}"))
                    .bind(BODY.trim())
                    .bind(rows)
                    .fetch_all(&pool)
                    .await?;
                anyhow::ensure!(ids.len() as i64 == rows, "a new key was taken for a duplicate");
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
    Ok((committed.load(Ordering::Relaxed), Summary::of_durations(&latencies)))
}

/// A database made for one configuration, dropped after it (whatever the outcome).
struct Scratch<'a> {
    admin: &'a PgPool,
    name: String,
    url: String,
}

impl<'a> Scratch<'a> {
    async fn create(admin: &'a PgPool, admin_url: &str, tag: &str) -> anyhow::Result<Scratch<'a>> {
        // Made of this process's id and a fixed tag: nothing from outside reaches the statement.
        let name = format!("switchboard_bench_{}_{tag}", std::process::id());
        sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(admin).await?;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(admin)
            .await
            .context("creating a bench database")?;
        let mut url = reqwest::Url::parse(admin_url).with_context(|| format!("{DATABASE_URL} is not a URL"))?;
        url.set_path(&format!("/{name}"));
        Ok(Scratch { admin, name, url: url.to_string() })
    }

    /// Run `work`, then drop the database.
    async fn run<T>(self, work: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
        let outcome = work.await;
        let dropped = sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)))
            .execute(self.admin);
        if let Err(e) = dropped.await {
            eprintln!("postgres: could not drop {}: {e}", self.name);
        }
        outcome
    }
}
