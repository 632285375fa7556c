-- Live instances. Each renews its row every few seconds (src/store/postgres/instances.rs), on the database's
-- clock, so instances with skewed clocks agree. `gone_after` is when the instance may be taken for dead: its
-- liveness window plus the longest provider call it may still be making (its own call deadline), so by then any
-- call it started has ended. A claim whose owner is past `gone_after` is abandoned at once: the next identical
-- call reconciles it with the provider instead of waiting out the claim's lease.
CREATE TABLE instances (
    id          TEXT PRIMARY KEY,
    started_at  BIGINT NOT NULL,
    gone_after  BIGINT NOT NULL
);

-- The instance holding an in-progress claim (NULL for claims made before instances were tracked).
ALTER TABLE idempotency ADD COLUMN owner TEXT;
