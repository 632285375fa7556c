//! The event log: verified webhook deliveries, deduplicated on (source, provider event id), committed durably
//! before the sender is acknowledged.

use super::{Store, StoreError};
use crate::domain::event::{Correlation, Event, EventFilter};
use crate::domain::time;
use crate::webhooks::NewEvent;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, QueryBuilder, Row, Sqlite, SqliteConnection};

/// What recording a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Stored as a new event with this sequence number.
    New(i64),
    /// Already stored earlier (a retry or replay by the provider): nothing changed.
    Duplicate,
}

/// Typed access to the `events` table.
pub struct Events<'a> {
    store: &'a Store,
}

impl Store {
    pub fn events(&self) -> Events<'_> {
        Events { store: self }
    }
}

const COLUMNS: &str = "seq, source, event_type, provider_event_id, received_at, occurred_at, payload, payment_link_id, \
                       payment_id, order_id, invoice_id, reference_id, customer_email, customer_phone";

impl Events<'_> {
    /// Store a verified delivery once; returns after the commit is durable (WAL, synchronous=FULL). Deliveries
    /// arriving together share one commit (see [`super::commit`]).
    pub async fn record(&self, event: &NewEvent) -> Result<Recorded, StoreError> {
        let pool = self.store.pool().await?;
        self.store.writer.record(pool, event.clone()).await
    }

    /// Events matching `filter`, oldest first (by arrival), at most `limit`.
    pub async fn list(&self, filter: &EventFilter, limit: i64) -> Result<Vec<(i64, Event)>, StoreError> {
        self.select(filter, limit, "ASC").await
    }

    /// The most recent event matching `filter`.
    pub async fn newest(&self, filter: &EventFilter) -> Result<Option<(i64, Event)>, StoreError> {
        Ok(self.recent(filter, 1).await?.into_iter().next())
    }

    /// Events matching `filter`, newest first, at most `limit`.
    pub async fn recent(&self, filter: &EventFilter, limit: i64) -> Result<Vec<(i64, Event)>, StoreError> {
        self.select(filter, limit, "DESC").await
    }

    async fn select(
        &self,
        filter: &EventFilter,
        limit: i64,
        order: &'static str,
    ) -> Result<Vec<(i64, Event)>, StoreError> {
        let pool = self.store.pool().await?;
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!("SELECT {COLUMNS} FROM events WHERE 1 = 1"));
        if let Some(source) = &filter.source {
            q.push(" AND source = ").push_bind(source.clone());
        }
        if !filter.types.is_empty() {
            q.push(" AND event_type IN (");
            let mut list = q.separated(", ");
            for t in &filter.types {
                list.push_bind(t.clone());
            }
            q.push(")");
        }
        let c = &filter.correlation;
        let keys = [
            ("payment_link_id", &c.payment_link_id),
            ("payment_id", &c.payment_id),
            ("order_id", &c.order_id),
            ("invoice_id", &c.invoice_id),
            ("reference_id", &c.reference_id),
            ("customer_email", &c.customer_email),
            ("customer_phone", &c.customer_phone),
        ];
        for (column, value) in keys {
            if let Some(v) = value {
                q.push(format!(" AND {column} = ")).push_bind(v.clone());
            }
        }
        if let Some(from) = filter.received_from {
            q.push(" AND received_at >= ").push_bind(from);
        }
        if let Some(after) = filter.after_seq {
            q.push(" AND seq > ").push_bind(after);
        }
        q.push(format!(" ORDER BY seq {order} LIMIT ")).push_bind(limit);
        let rows = q.build().fetch_all(pool).await?;
        rows.iter().map(|r| Ok((r.get::<i64, _>("seq"), to_event(r)?))).collect()
    }

    /// One event by sequence number.
    pub async fn get(&self, seq: i64) -> Result<Option<Event>, StoreError> {
        let pool = self.store.pool().await?;
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM events WHERE seq = ?")))
            .bind(seq)
            .fetch_optional(pool)
            .await?;
        row.as_ref().map(to_event).transpose()
    }

    /// The newest sequence number stored (0 when empty).
    pub async fn latest_seq(&self) -> Result<i64, StoreError> {
        let pool = self.store.pool().await?;
        Ok(sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM events").fetch_one(pool).await?.get("seq"))
    }

    /// Delete events (and with them their dedupe keys) received before `cutoff` (unix seconds).
    pub async fn prune(&self, cutoff: i64) -> Result<u64, StoreError> {
        let pool = self.store.pool().await?;
        Ok(sqlx::query("DELETE FROM events WHERE received_at < ?").bind(cutoff).execute(pool).await?.rows_affected())
    }
}

/// The public id of event `seq`.
pub fn event_id(seq: i64) -> String {
    format!("ev_{seq}")
}

/// Parse "ev_42" back to 42.
pub fn parse_event_id(id: &str) -> Option<i64> {
    id.strip_prefix("ev_").and_then(|n| n.parse().ok()).filter(|n| *n > 0)
}

fn to_event(r: &SqliteRow) -> Result<Event, StoreError> {
    let payload: String = r.get("payload");
    Ok(Event {
        id: event_id(r.get("seq")),
        source: r.get("source"),
        event_type: r.get("event_type"),
        provider_event_id: r.get("provider_event_id"),
        received_at: time::rfc3339(r.get("received_at")).unwrap_or_default(),
        occurred_at: r.get::<Option<i64>, _>("occurred_at").and_then(time::rfc3339),
        correlation: Correlation {
            payment_link_id: r.get("payment_link_id"),
            payment_id: r.get("payment_id"),
            order_id: r.get("order_id"),
            invoice_id: r.get("invoice_id"),
            reference_id: r.get("reference_id"),
            customer_email: r.get("customer_email"),
            customer_phone: r.get("customer_phone"),
        },
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::String(payload)),
    })
}

/// Insert one event inside the caller's transaction; a conflict on a dedupe key leaves it out.
pub(super) async fn insert(tx: &mut SqliteConnection, event: &NewEvent) -> Result<Recorded, StoreError> {
    let c = &event.correlation;
    let inserted = sqlx::query(
        "INSERT INTO events (source, event_type, provider_event_id, received_at, occurred_at, payload, payment_link_id, \
         payment_id, order_id, invoice_id, reference_id, customer_email, customer_phone, body_sha256) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(&event.source)
    .bind(&event.event_type)
    .bind(&event.provider_event_id)
    .bind(time::now())
    .bind(event.occurred_at)
    .bind(&event.payload)
    .bind(&c.payment_link_id)
    .bind(&c.payment_id)
    .bind(&c.order_id)
    .bind(&c.invoice_id)
    .bind(&c.reference_id)
    .bind(&c.customer_email)
    .bind(&c.customer_phone)
    .bind(&event.body_sha256)
    .execute(&mut *tx)
    .await?;
    Ok(if inserted.rows_affected() == 1 { Recorded::New(inserted.last_insert_rowid()) } else { Recorded::Duplicate })
}
