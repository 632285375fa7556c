//! Hearing other instances: one `LISTEN` connection per process turns their `NOTIFY` hints into this process's
//! signals (the event log's newest sequence number, the approvals' change counter).
//!
//! A notification is only a hint; the table is the truth. Notifications sent while the connection is down are
//! lost, and a half-open connection can stay silent for minutes, so the event log is re-read on every hint, after
//! every reconnect and on a [`BACKSTOP`] timer, and the connection is checked with a query every [`HEARTBEAT`].
//! Approvals have no cursor: a hint or a reconnect bumps their counter, and their waiters also re-read on a timer.

use super::Signals;
use super::events::latest_seq;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::sync::Weak;
use std::time::Duration;
use tokio::time::{Instant, timeout};

/// Where an instance announces new events (payload: the newest sequence number).
pub(super) const EVENTS_CHANNEL: &str = "switchboard_events";
/// Where an instance announces a change to an approval.
pub(super) const APPROVALS_CHANNEL: &str = "switchboard_approvals";

/// How often the event log is re-read when nothing was heard: the worst-case delay of a lost hint.
const BACKSTOP: Duration = Duration::from_secs(1);
/// How often the listening connection is proven alive, and how long the proof may take.
const HEARTBEAT: Duration = Duration::from_secs(10);
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);

/// Listen for as long as the store lives.
pub(super) fn spawn(pool: PgPool, signals: Weak<Signals>) {
    tokio::spawn(listen(pool, signals));
}

/// What woke the loop.
enum Heard {
    /// Another instance stored events up to this number.
    Events(Option<i64>),
    /// Another instance changed an approval.
    Approvals,
    /// The connection was lost (and re-established, or dropped to be): anything may have been missed.
    Lost,
    /// Nothing within the backstop interval.
    Quiet,
}

async fn listen(pool: PgPool, signals: Weak<Signals>) {
    let mut listener: Option<PgListener> = None;
    let mut proven = Instant::now();
    loop {
        if listener.is_none() {
            listener = connect(&pool).await;
            proven = Instant::now();
            // Whatever was sent before the LISTEN took effect was missed: read the tables once now.
            if listener.is_some() {
                let Some(signals) = signals.upgrade() else { return };
                reread(&pool, &signals).await;
                signals.approvals_changed.send_modify(|n| *n += 1);
            }
        }
        let heard = match listener.as_mut() {
            None => {
                tokio::time::sleep(BACKSTOP).await;
                Heard::Lost
            }
            // `try_recv` is cancel-safe: a timeout never leaves half a message read.
            Some(l) => match timeout(BACKSTOP, l.try_recv()).await {
                Ok(Ok(Some(n))) if n.channel() == APPROVALS_CHANNEL => Heard::Approvals,
                Ok(Ok(Some(n))) => Heard::Events(n.payload().parse().ok()),
                Ok(Ok(None)) => Heard::Lost,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "the store's LISTEN connection failed; reconnecting");
                    listener = None;
                    Heard::Lost
                }
                Err(_) => Heard::Quiet,
            },
        };
        if proven.elapsed() >= HEARTBEAT
            && let Some(l) = listener.as_mut()
        {
            let alive = timeout(HEARTBEAT_TIMEOUT, sqlx::query("SELECT pg_listening_channels()").fetch_all(&mut *l));
            if matches!(alive.await, Ok(Ok(_))) {
                proven = Instant::now();
            } else {
                tracing::warn!("the store's LISTEN connection did not answer; reconnecting");
                listener = None;
            }
        }
        let Some(signals) = signals.upgrade() else { return };
        match heard {
            Heard::Events(Some(seq)) => signals.writer.announce(seq),
            Heard::Approvals => signals.approvals_changed.send_modify(|n| *n += 1),
            Heard::Lost => {
                reread(&pool, &signals).await;
                signals.approvals_changed.send_modify(|n| *n += 1);
            }
            Heard::Events(None) | Heard::Quiet => reread(&pool, &signals).await,
        }
    }
}

async fn connect(pool: &PgPool) -> Option<PgListener> {
    let mut listener = match PgListener::connect_with(pool).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(error = %e, "cannot open the store's LISTEN connection; polling until it opens");
            return None;
        }
    };
    match listener.listen_all([EVENTS_CHANNEL, APPROVALS_CHANNEL]).await {
        Ok(()) => Some(listener),
        Err(e) => {
            tracing::warn!(error = %e, "cannot LISTEN on the store; polling until it can");
            None
        }
    }
}

/// Announce the newest committed event (safe as a cursor: see [`super::commit`]).
async fn reread(pool: &PgPool, signals: &Signals) {
    match latest_seq(pool).await {
        Ok(seq) => signals.writer.announce(seq),
        Err(e) => tracing::debug!(error = %e, "could not re-read the event log's newest number"),
    }
}

/// Tell the other instances an approval changed: after the change committed, in a transaction of its own.
pub(super) fn approvals_changed(pool: &PgPool) {
    let pool = pool.clone();
    tokio::spawn(async move {
        let sent = sqlx::query("SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, '')")
            .bind(APPROVALS_CHANNEL)
            .execute(&pool)
            .await;
        if let Err(e) = sent {
            tracing::debug!(error = %e, "could not notify other instances of an approval change");
        }
    });
}
