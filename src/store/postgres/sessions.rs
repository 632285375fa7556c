//! MCP sessions every instance may serve, in `mcp_sessions` (see [`SharedSessions`]). "Now" is the database's
//! clock, in milliseconds: instances' own clocks may disagree by more than a short idle period, the database's is
//! the one they share.

use super::PgStore;
use crate::store::{SharedSessions, StoreError};
use std::time::Duration;

/// The database's clock in milliseconds since the epoch, as SQL (sqlx takes only static SQL, hence a macro).
macro_rules! now_ms {
    () => {
        "(extract(epoch FROM now()) * 1000)::bigint"
    };
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[async_trait::async_trait]
impl SharedSessions for PgStore {
    async fn save(&self, id: &str, initialize: &serde_json::Value, ttl: Duration) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO mcp_sessions (id, initialize, created_ms, expires_ms) VALUES ($1, $2, ",
            now_ms!(),
            ", ",
            now_ms!(),
            " + $3) ON CONFLICT (id) DO UPDATE SET initialize = excluded.initialize, expires_ms = excluded.expires_ms"
        ))
        .bind(id)
        .bind(initialize.to_string())
        .bind(millis(ttl))
        .execute(self.pool().await?)
        .await?;
        Ok(())
    }

    async fn load(&self, id: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let text: Option<String> = sqlx::query_scalar(concat!(
            "SELECT initialize FROM mcp_sessions WHERE id = $1 AND expires_ms > ",
            now_ms!()
        ))
        .bind(id)
        .fetch_optional(self.pool().await?)
        .await?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("session {id}: {e}"))))
            .transpose()
    }

    async fn kept(&self, id: &str) -> Result<bool, StoreError> {
        let kept = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM mcp_sessions WHERE id = $1)")
            .bind(id)
            .fetch_one(self.pool().await?)
            .await?;
        Ok(kept)
    }

    async fn extend(&self, sessions: &[(String, Duration)]) -> Result<Vec<String>, StoreError> {
        if sessions.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = sessions.iter().map(|(id, _)| id.as_str()).collect();
        let ttls: Vec<i64> = sessions.iter().map(|(_, ttl)| millis(*ttl)).collect();
        // Never shortens: another instance may be keeping the session for longer.
        let kept = sqlx::query_scalar(concat!(
            "UPDATE mcp_sessions s SET expires_ms = GREATEST(s.expires_ms, ",
            now_ms!(),
            " + v.ttl) FROM unnest($1::text[], $2::bigint[]) AS v(id, ttl) WHERE s.id = v.id RETURNING s.id"
        ))
        .bind(&ids)
        .bind(&ttls)
        .fetch_all(self.pool().await?)
        .await?;
        Ok(kept)
    }

    async fn end(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM mcp_sessions WHERE id = $1").bind(id).execute(self.pool().await?).await?;
        Ok(())
    }

    async fn prune(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(concat!("DELETE FROM mcp_sessions WHERE expires_ms <= ", now_ms!()))
            .execute(self.pool().await?)
            .await?;
        Ok(done.rows_affected())
    }
}
