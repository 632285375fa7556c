//! The event log in `events`: deduplicated on (source, provider event id) and, for senders whose id is not
//! signed, on the signed bytes; written by the group-commit writer in [`super::commit`], whose advisory lock
//! makes `seq` commit-ordered across instances.

use super::{PgStore, commit};
use crate::domain::event::{Correlation, Event, EventFilter, NewEvent, event_id};
use crate::domain::time;
use crate::store::group_commit::chunk_len;
use crate::store::{EventLog, Recorded, StoreError, decode};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Postgres, QueryBuilder, Row};
use std::collections::HashMap;

const COLUMNS: &str = "seq, source, kind, event_type, provider_event_id, received_at, occurred_at, amount_minor, currency, \
                       payload, payment_link_id, payment_id, order_id, invoice_id, reference_id, customer_email, \
                       customer_phone, message_id, reply_to";

impl PgStore {
    async fn select(
        &self,
        filter: &EventFilter,
        limit: i64,
        order: &'static str,
    ) -> Result<Vec<(i64, Event)>, StoreError> {
        let pool = self.pool().await?;
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!("SELECT {COLUMNS} FROM events WHERE TRUE"));
        if let Some(source) = &filter.source {
            q.push(" AND source = ").push_bind(source.clone());
        }
        if !filter.kinds.is_empty() {
            q.push(" AND kind IN (");
            let mut list = q.separated(", ");
            for k in &filter.kinds {
                list.push_bind(k.as_str());
            }
            q.push(")");
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
            ("message_id", &c.message_id),
            ("reply_to", &c.reply_to),
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
        rows.iter().map(|r| Ok((r.try_get::<i64, _>("seq")?, to_event(r)?))).collect()
    }
}

#[async_trait::async_trait]
impl EventLog for PgStore {
    /// One commit for the events of a delivery when they fit in one batch (see [`super::commit`]).
    async fn record_all(&self, events: &[NewEvent]) -> Vec<Result<Recorded, StoreError>> {
        let pool = match self.pool().await {
            Ok(pool) => pool,
            Err(e) => {
                let message = e.to_string();
                return events.iter().map(|_| Err(StoreError::Unavailable(message.clone()))).collect();
            }
        };
        self.signals.writer.record(&commit::PgBatches(pool.clone()), events.iter().cloned()).await
    }

    /// Hears of every event stored after this call, by this instance or (through the database) by another.
    /// Subscribe first, then read the log: nothing stored in between is missed.
    fn subscribe(&self) -> tokio::sync::watch::Receiver<i64> {
        self.signals.writer.subscribe()
    }

    fn listeners(&self) -> usize {
        self.signals.writer.listeners()
    }

    async fn list(&self, filter: &EventFilter, limit: i64) -> Result<Vec<(i64, Event)>, StoreError> {
        self.select(filter, limit, "ASC").await
    }

    async fn recent(&self, filter: &EventFilter, limit: i64) -> Result<Vec<(i64, Event)>, StoreError> {
        self.select(filter, limit, "DESC").await
    }

    async fn get(&self, seq: i64) -> Result<Option<Event>, StoreError> {
        let pool = self.pool().await?;
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM events WHERE seq = $1")))
            .bind(seq)
            .fetch_optional(pool)
            .await?;
        row.as_ref().map(to_event).transpose()
    }

    async fn body(&self, seq: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let pool = self.pool().await?;
        let row = sqlx::query("SELECT payload FROM events WHERE seq = $1").bind(seq).fetch_optional(pool).await?;
        Ok(row.map(|r| r.try_get("payload")).transpose()?)
    }

    async fn latest_seq(&self) -> Result<i64, StoreError> {
        latest_seq(self.pool().await?).await
    }

    async fn prune(&self, cutoff: i64) -> Result<u64, StoreError> {
        let pool = self.pool().await?;
        Ok(sqlx::query("DELETE FROM events WHERE received_at < $1").bind(cutoff).execute(pool).await?.rows_affected())
    }
}

/// The newest sequence number committed (0 when empty); every lower one that will ever exist is visible too.
pub(super) async fn latest_seq(pool: &sqlx::PgPool) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events").fetch_one(pool).await?)
}

fn to_event(r: &PgRow) -> Result<Event, StoreError> {
    let seq: i64 = r.try_get("seq")?;
    let kind = decode::kind(seq, &r.try_get::<String, _>("kind")?);
    let minor = r.try_get::<Option<i64>, _>("amount_minor").ok().flatten();
    let amount = decode::amount(minor, r.try_get::<Option<String>, _>("currency").ok().flatten());
    Ok(Event {
        id: event_id(seq),
        source: r.try_get("source")?,
        kind,
        event_type: r.try_get("event_type")?,
        amount,
        provider_event_id: r.try_get("provider_event_id")?,
        received_at: time::rfc3339(r.try_get("received_at")?).unwrap_or_default(),
        occurred_at: r.try_get::<Option<i64>, _>("occurred_at")?.and_then(time::rfc3339),
        correlation: Correlation {
            payment_link_id: r.try_get("payment_link_id")?,
            payment_id: r.try_get("payment_id")?,
            order_id: r.try_get("order_id")?,
            invoice_id: r.try_get("invoice_id")?,
            reference_id: r.try_get("reference_id")?,
            customer_email: r.try_get("customer_email")?,
            customer_phone: r.try_get("customer_phone")?,
            message_id: r.try_get("message_id")?,
            reply_to: r.try_get("reply_to")?,
        },
        payload: decode::readable(r.try_get("payload")?),
    })
}

/// Insert `events` inside the caller's transaction (which holds [`commit::EVENTS_LOCK`]), in order; one that
/// conflicts on a dedupe key (with a stored event or an earlier one in the same call) is left out and reported
/// as a duplicate.
pub(super) async fn insert_all(tx: &mut PgConnection, events: &[&NewEvent]) -> Result<Vec<Recorded>, StoreError> {
    let mut recorded = Vec::with_capacity(events.len());
    let mut rest = events;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(chunk_len(rest.len()));
        recorded.extend(insert_chunk(tx, chunk).await?);
        rest = tail;
    }
    Ok(recorded)
}

async fn insert_chunk(tx: &mut PgConnection, events: &[&NewEvent]) -> Result<Vec<Recorded>, StoreError> {
    let now = time::now();
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "INSERT INTO events (source, kind, event_type, provider_event_id, received_at, occurred_at, amount_minor, \
         currency, payload, payment_link_id, payment_id, order_id, invoice_id, reference_id, customer_email, \
         customer_phone, message_id, reply_to, body_sha256) ",
    );
    q.push_values(events, |mut row, event| {
        let c = event.correlation();
        let amount = event.amount();
        row.push_bind(event.source())
            .push_bind(event.kind().as_str())
            .push_bind(event.event_type())
            .push_bind(event.provider_event_id())
            .push_bind(now)
            .push_bind(event.occurred_at())
            .push_bind(amount.map(|m| m.minor_units()))
            .push_bind(amount.map(|m| m.currency().code()))
            .push_bind(event.body())
            .push_bind(&c.payment_link_id)
            .push_bind(&c.payment_id)
            .push_bind(&c.order_id)
            .push_bind(&c.invoice_id)
            .push_bind(&c.reference_id)
            .push_bind(&c.customer_email)
            .push_bind(&c.customer_phone)
            .push_bind(&c.message_id)
            .push_bind(&c.reply_to)
            .push_bind(event.body_key());
    });
    // No conflict target: the table has two unique keys (the id and the body hash) and either makes a duplicate.
    // RETURNING lists only the rows inserted: match them back by their id key. Rows are inserted in VALUES order,
    // so of several events with one key the first is the stored one.
    q.push(" ON CONFLICT DO NOTHING RETURNING seq, source, provider_event_id");
    let rows = q.build().fetch_all(&mut *tx).await?;
    let mut inserted: HashMap<(String, String), i64> = HashMap::with_capacity(rows.len());
    for row in &rows {
        inserted.insert((row.try_get("source")?, row.try_get("provider_event_id")?), row.try_get("seq")?);
    }
    Ok(events
        .iter()
        .map(|e| match inserted.remove(&(e.source().to_string(), e.provider_event_id().to_string())) {
            Some(seq) => Recorded::New(seq),
            None => Recorded::Duplicate,
        })
        .collect())
}
