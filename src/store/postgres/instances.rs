//! Which instances are alive. Each process registers a random id in `instances` when its store opens and renews
//! it every [`RENEW`]; an instance that stops renewing for [`LIVENESS_SECS`] (killed, frozen, cut off from the
//! database) is gone, and the idempotency claims it held are abandoned at once: the next identical call, on any
//! instance, reconciles them with the provider instead of waiting out the claim's three-minute lease.
//!
//! Times are the database's clock (`clock_timestamp()`), so instances whose clocks disagree still agree on who is
//! alive. A live but stalled instance whose claim is taken over is fenced as before (see [`super::ledger`]).

use crate::store::StoreError;
use sqlx::PgPool;
use std::sync::Weak;
use std::time::Duration;

/// How long an instance counts as alive after its last renewal.
pub(super) const LIVENESS_SECS: i64 = 10;
/// How often an instance renews its row: several renewals fit in [`LIVENESS_SECS`], so one slow query is no death.
const RENEW: Duration = Duration::from_secs(2);
/// Rows of instances gone this long are deleted.
const FORGET_AFTER_SECS: i64 = 3_600;

/// SQL true when the claim row in `idempotency` belongs to an instance that is no longer alive.
macro_rules! owner_gone {
    () => {
        "(idempotency.owner IS NOT NULL AND NOT EXISTS (SELECT 1 FROM instances WHERE instances.id = \
         idempotency.owner AND instances.alive_until >= extract(epoch FROM clock_timestamp())::bigint))"
    };
}
pub(super) use owner_gone;

/// A fresh id for this process.
pub(super) fn new_id() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

/// Mark `id` alive for the next [`LIVENESS_SECS`].
pub(super) async fn renew(pool: &PgPool, id: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO instances (id, started_at, alive_until) \
         SELECT $1, now, now + $2 FROM (SELECT extract(epoch FROM clock_timestamp())::bigint AS now) AS t \
         ON CONFLICT (id) DO UPDATE SET alive_until = excluded.alive_until",
    )
    .bind(id)
    .bind(LIVENESS_SECS)
    .execute(pool)
    .await?;
    Ok(())
}

/// Renew `id` for as long as `alive` can be upgraded (the store exists), and forget long-gone instances.
pub(super) fn spawn<T: Send + Sync + 'static>(pool: PgPool, id: String, alive: Weak<T>) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(RENEW);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if alive.upgrade().is_none() {
                return;
            }
            if let Err(e) = renew(&pool, &id).await {
                tracing::warn!(error = %e, "could not renew this instance's liveness in the store");
                continue;
            }
            let forgotten = sqlx::query(
                "DELETE FROM instances WHERE alive_until < extract(epoch FROM clock_timestamp())::bigint - $1",
            )
            .bind(FORGET_AFTER_SECS)
            .execute(&pool)
            .await;
            if let Err(e) = forgotten {
                tracing::debug!(error = %e, "could not forget long-gone instances");
            }
        }
    });
}
