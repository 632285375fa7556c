//! Which instances are alive. Each process registers a random id in `instances` when its store opens and renews
//! it every [`RENEW`], on a connection of its own (a saturated pool cannot starve it). An instance that stops
//! renewing (killed, frozen, cut off from the database) is gone once its liveness window ([`LIVENESS_SECS`]) and
//! then its own provider call deadline have passed: any call it started has ended by then, so taking its claims
//! over cannot race a call still in flight. The idempotency claims it held are then abandoned: the next identical
//! call, on any instance, reconciles them with the provider instead of waiting out the claim's three-minute lease.
//! An owner renews its liveness again just before each provider call (`touch`), so the window always covers the
//! call it is about to make.
//!
//! Times are the database's clock (`clock_timestamp()`), so instances whose clocks disagree still agree on who is
//! alive. A stalled instance whose claim is taken over is fenced as before (see [`super::ledger`]).

use crate::store::StoreError;
use sqlx::PgPool;
use std::sync::Weak;
use std::time::Duration;

/// How long an instance counts as alive after its last renewal.
pub const LIVENESS_SECS: i64 = 10;
/// How often an instance renews its row: several renewals fit in [`LIVENESS_SECS`], so one slow query is no death.
const RENEW: Duration = Duration::from_secs(2);
/// Rows of instances gone this long are deleted.
const FORGET_AFTER_SECS: i64 = 3_600;

/// SQL true when the claim row in `idempotency` belongs to an instance that is no longer alive.
macro_rules! owner_gone {
    () => {
        "(idempotency.owner IS NOT NULL AND NOT EXISTS (SELECT 1 FROM instances WHERE instances.id = \
         idempotency.owner AND instances.gone_after >= extract(epoch FROM clock_timestamp())::bigint))"
    };
}
pub(super) use owner_gone;

/// A fresh id for this process.
pub(super) fn new_id() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

/// Mark `id` alive for the next [`LIVENESS_SECS`], then gone `grace_secs` (its call deadline) later.
pub(super) async fn renew<'c, E>(executor: E, id: &str, grace_secs: i64) -> Result<(), StoreError>
where
    E: sqlx::PgExecutor<'c>,
{
    sqlx::query(
        "INSERT INTO instances (id, started_at, gone_after) \
         SELECT $1, now, now + $2 FROM (SELECT extract(epoch FROM clock_timestamp())::bigint AS now) AS t \
         ON CONFLICT (id) DO UPDATE SET gone_after = excluded.gone_after",
    )
    .bind(id)
    .bind(LIVENESS_SECS + grace_secs)
    .execute(executor)
    .await?;
    Ok(())
}

/// Renew `id` for as long as `alive` can be upgraded (the store exists), and forget long-gone instances. `pool`
/// is the renewals' own.
pub(super) fn spawn<T: Send + Sync + 'static>(pool: PgPool, id: String, grace_secs: i64, alive: Weak<T>) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(RENEW);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if alive.upgrade().is_none() {
                return;
            }
            if let Err(e) = renew(&pool, &id, grace_secs).await {
                tracing::warn!(error = %e, "could not renew this instance's liveness in the store");
                continue;
            }
            let forgotten = sqlx::query(
                "DELETE FROM instances WHERE gone_after < extract(epoch FROM clock_timestamp())::bigint - $1",
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
