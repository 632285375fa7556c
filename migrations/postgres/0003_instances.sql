-- Live instances. Each renews its row every few seconds (src/store/postgres/instances.rs); times are the
-- database's clock, so instances with skewed clocks agree. A claim whose owner stopped renewing is abandoned at
-- once: the next identical call reconciles it with the provider instead of waiting out the claim's lease.
CREATE TABLE instances (
    id          TEXT PRIMARY KEY,
    started_at  BIGINT NOT NULL,
    alive_until BIGINT NOT NULL
);

-- The instance holding an in-progress claim (NULL for claims made before instances were tracked).
ALTER TABLE idempotency ADD COLUMN owner TEXT;
