-- The event log: one row per verified webhook delivery. UNIQUE(source, provider_event_id) is the dedupe key,
-- kept for the retention period (≥ 30 days).
CREATE TABLE events (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,  -- monotonically increasing: the cursor and the public id
    source            TEXT NOT NULL,                      -- e.g. "razorpay", "stripe"
    event_type        TEXT NOT NULL,                      -- e.g. "payment_link.paid"
    provider_event_id TEXT NOT NULL,
    received_at       INTEGER NOT NULL,                   -- unix seconds
    occurred_at       INTEGER,                            -- unix seconds, as the provider reports it
    payload           TEXT NOT NULL,                      -- the verified body, verbatim
    payment_link_id   TEXT,
    payment_id        TEXT,
    order_id          TEXT,
    invoice_id        TEXT,
    reference_id      TEXT,
    customer_email    TEXT,
    customer_phone    TEXT,
    UNIQUE (source, provider_event_id)
);

CREATE INDEX events_type ON events (event_type, seq);
CREATE INDEX events_payment_link ON events (payment_link_id) WHERE payment_link_id IS NOT NULL;
CREATE INDEX events_reference ON events (reference_id) WHERE reference_id IS NOT NULL;
CREATE INDEX events_payment ON events (payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX events_email ON events (customer_email) WHERE customer_email IS NOT NULL;
CREATE INDEX events_received ON events (received_at);
