//! The event log: verified webhook deliveries, deduplicated on (source, provider event id), committed durably
//! before the sender is acknowledged.

use super::{SqliteStore, commit};
use crate::domain::event::{Correlation, Event, EventFilter, NewEvent, event_id};
use crate::domain::time;
use crate::store::group_commit::chunk_len;
use crate::store::{EventLog, Recorded, StoreError, decode};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::HashMap;

const COLUMNS: &str = "seq, source, kind, event_type, provider_event_id, received_at, occurred_at, amount_minor, currency, \
                       payload, payment_link_id, payment_id, order_id, invoice_id, reference_id, customer_email, \
                       customer_phone, message_id, reply_to";

impl SqliteStore {
    async fn select(
        &self,
        filter: &EventFilter,
        limit: i64,
        order: &'static str,
    ) -> Result<Vec<(i64, Event)>, StoreError> {
        let pool = self.pool().await?;
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!("SELECT {COLUMNS} FROM events WHERE 1 = 1"));
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
impl EventLog for SqliteStore {
    /// One commit for the events of a delivery when they fit in one batch (see [`super::commit`]).
    async fn record_all(&self, events: &[NewEvent]) -> Vec<Result<Recorded, StoreError>> {
        let pool = match self.pool().await {
            Ok(pool) => pool,
            Err(e) => {
                let message = e.to_string();
                return events.iter().map(|_| Err(StoreError::Unavailable(message.clone()))).collect();
            }
        };
        self.writer.record(&commit::SqliteBatches(pool.clone(), self.checkpoints.clone()), events.iter().cloned()).await
    }

    /// Hears of every event stored after this call. Subscribe first, then read the log: nothing stored in
    /// between is missed.
    fn subscribe(&self) -> tokio::sync::watch::Receiver<i64> {
        self.writer.subscribe()
    }

    fn listeners(&self) -> usize {
        self.writer.listeners()
    }

    /// Events matching `filter`, oldest first (by arrival), at most `limit`.
    async fn list(&self, filter: &EventFilter, limit: i64) -> Result<Vec<(i64, Event)>, StoreError> {
        self.select(filter, limit, "ASC").await
    }

    /// Events matching `filter`, newest first, at most `limit`.
    async fn recent(&self, filter: &EventFilter, limit: i64) -> Result<Vec<(i64, Event)>, StoreError> {
        self.select(filter, limit, "DESC").await
    }

    /// One event by sequence number.
    async fn get(&self, seq: i64) -> Result<Option<Event>, StoreError> {
        let pool = self.pool().await?;
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM events WHERE seq = ?")))
            .bind(seq)
            .fetch_optional(pool)
            .await?;
        row.as_ref().map(to_event).transpose()
    }

    /// The verified body of event `seq`, byte for byte as it was signed (replayable against its signature).
    async fn body(&self, seq: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let pool = self.pool().await?;
        let row = sqlx::query("SELECT payload FROM events WHERE seq = ?").bind(seq).fetch_optional(pool).await?;
        Ok(row.map(|r| r.try_get("payload")).transpose()?)
    }

    /// The newest sequence number stored (0 when empty).
    async fn latest_seq(&self) -> Result<i64, StoreError> {
        let pool = self.pool().await?;
        Ok(sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM events").fetch_one(pool).await?.try_get("seq")?)
    }

    /// Delete events (and with them their dedupe keys) received before `cutoff` (unix seconds).
    async fn prune(&self, cutoff: i64) -> Result<u64, StoreError> {
        let pool = self.pool().await?;
        Ok(sqlx::query("DELETE FROM events WHERE received_at < ?").bind(cutoff).execute(pool).await?.rows_affected())
    }
}

fn to_event(r: &SqliteRow) -> Result<Event, StoreError> {
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

/// Insert `events` inside the caller's transaction, in order; one that conflicts on a dedupe key (with a stored
/// event or an earlier one in the same call) is left out and reported as a duplicate.
///
/// One statement per chunk instead of one per event: each statement is a round trip to SQLite's worker thread,
/// and the single writer holds the write lock for all of them.
pub(super) async fn insert_all(tx: &mut SqliteConnection, events: &[&NewEvent]) -> Result<Vec<Recorded>, StoreError> {
    let mut recorded = Vec::with_capacity(events.len());
    let mut rest = events;
    while !rest.is_empty() {
        let rows = chunk_len(rest.len());
        let (chunk, tail) = rest.split_at(rows);
        recorded.extend(insert_chunk(tx, chunk).await?);
        rest = tail;
    }
    Ok(recorded)
}

async fn insert_chunk(tx: &mut SqliteConnection, events: &[&NewEvent]) -> Result<Vec<Recorded>, StoreError> {
    let now = time::now();
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
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
    // RETURNING lists only the rows inserted, in no promised order: match them back by their dedupe key. Rows are
    // inserted in VALUES order, so of several events with one key the first is the stored one.
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

#[cfg(test)]
mod tests {
    use crate::domain::event::{EventFilter, EventKind};
    use crate::store::Store;

    /// A database written before events had kinds (migrations 1–3) is upgraded in place: its stored payments
    /// get their kind and amount, so an upgraded server still finds a payment that arrived before the upgrade.
    #[tokio::test]
    async fn events_stored_before_kinds_existed_get_them_on_upgrade() {
        let old = tempfile::tempdir().unwrap();
        for name in ["0001_idempotency.sql", "0002_events.sql", "0003_event_body_hash.sql"] {
            let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite").join(name);
            std::fs::copy(from, old.path().join(name)).unwrap();
        }
        let data = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", data.path().join("switchboard.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::migrate::Migrator::new(old.path()).await.unwrap().run(&pool).await.unwrap();
        let insert = "INSERT INTO events (source, event_type, provider_event_id, received_at, payload, payment_link_id) \
                      VALUES (?, ?, ?, 0, ?, ?)";
        let razorpay = include_str!("../../../tests/fixtures/razorpay/webhook_payment_link_paid.json");
        let unpaid = r#"{"type":"checkout.session.completed","data":{"object":{"payment_status":"unpaid","amount_total":500,"currency":"usd"}}}"#;
        let paid = r#"{"type":"checkout.session.completed","data":{"object":{"payment_status":"paid","amount_total":29995,"currency":"usd"}}}"#;
        // Not an integer amount and not a currency code: no amount, rather than a row that breaks every read.
        let odd = r#"{"type":"payment_intent.succeeded","data":{"object":{"amount_total":12.5,"currency":356}}}"#;
        for (source, kind, id, body, link) in [
            ("razorpay", "payment_link.paid", "evt_1", razorpay.trim(), Some("plink_SCx4Lm8QwErT2y")),
            ("stripe", "checkout.session.completed", "evt_2", unpaid, None),
            ("stripe", "checkout.session.completed", "evt_3", paid, None),
            ("github", "push", "gh_1", "not json", None),
            ("stripe", "payment_intent.succeeded", "evt_4", odd, None),
        ] {
            sqlx::query(insert).bind(source).bind(kind).bind(id).bind(body).bind(link).execute(&pool).await.unwrap();
        }
        pool.close().await;

        let store = Store::new(data.path().to_path_buf());
        let all = store.events().list(&EventFilter::default(), 10).await.unwrap();
        assert_eq!(all.len(), 5);
        let seen: Vec<_> =
            all.iter().map(|(_, e)| (e.kind, e.amount.as_ref().map(|a| (a.minor_units, a.currency.clone())))).collect();
        assert_eq!(
            seen,
            [
                (EventKind::PaymentLinkPaid, Some((4500000, "INR".to_string()))),
                (EventKind::Other, None),
                (EventKind::PaymentSucceeded, Some((29995, "USD".to_string()))),
                (EventKind::Other, None),
                (EventKind::PaymentSucceeded, None),
            ]
        );
    }

    /// A row this build cannot fully read (a kind from a newer build, a currency code it does not know) is read
    /// as "other" without an amount: it must not make every read of the log fail.
    #[tokio::test]
    async fn a_row_of_an_unknown_kind_or_currency_is_read_leniently() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = super::super::SqliteStore::new(dir.path().to_path_buf());
        let pool = sqlite.pool().await.unwrap();
        sqlx::query(
            "INSERT INTO events (source, kind, event_type, provider_event_id, received_at, payload, amount_minor, currency) \
             VALUES ('stripe', 'refund_succeeded', 'refund.created', 'evt_1', 0, '{}', 500, 'XQZ')",
        )
        .execute(pool)
        .await
        .unwrap();
        let events = crate::store::EventLog::list(&sqlite, &EventFilter::default(), 10).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].1.kind, events[0].1.amount.is_none()), (EventKind::Other, true));
    }
}
