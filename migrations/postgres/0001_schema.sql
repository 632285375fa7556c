-- The PostgreSQL store: the same tables, keys and meanings as the SQLite migrations 0001–0009 (see
-- migrations/sqlite/), written as one schema. Times are unix seconds (bigint), as in SQLite, so both backends
-- answer alike.

-- Idempotency ledger for money-moving tool calls. `claim_token` fences a claim: it changes on every take-over,
-- and only its holder's touch / release / mark_unknown apply.
CREATE TABLE idempotency (
    key           TEXT PRIMARY KEY,
    tool          TEXT NOT NULL,
    provider      TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
    response      TEXT,
    locked_until  BIGINT NOT NULL,
    claim_token   TEXT,
    claimed_order BIGSERIAL NOT NULL,         -- the order keys were claimed in (SQLite's rowid), for ties
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX idempotency_in_progress ON idempotency (locked_until) WHERE state = 'in_progress';
CREATE INDEX idempotency_results ON idempotency (tool, created_at) WHERE state = 'done';

-- The event log. Every insert takes the advisory transaction lock of src/store/postgres/events.rs first, so `seq`
-- is assigned and committed in one order across every instance: a cursor never skips a late commit.
CREATE TABLE events (
    seq               BIGSERIAL PRIMARY KEY,
    source            TEXT NOT NULL,
    kind              TEXT NOT NULL DEFAULT 'other',
    event_type        TEXT NOT NULL,
    provider_event_id TEXT NOT NULL,
    received_at       BIGINT NOT NULL,
    occurred_at       BIGINT,
    amount_minor      BIGINT,
    currency          TEXT,
    payload           BYTEA NOT NULL,        -- the verified body, byte for byte
    body_sha256       TEXT,
    payment_link_id   TEXT,
    payment_id        TEXT,
    order_id          TEXT,
    invoice_id        TEXT,
    reference_id      TEXT,
    customer_email    TEXT,
    customer_phone    TEXT,
    message_id        TEXT,
    reply_to          TEXT,
    UNIQUE (source, provider_event_id)
);
CREATE UNIQUE INDEX events_body ON events (source, body_sha256) WHERE body_sha256 IS NOT NULL;
CREATE INDEX events_type ON events (event_type, seq);
CREATE INDEX events_kind ON events (kind, seq);
CREATE INDEX events_payment_link ON events (payment_link_id) WHERE payment_link_id IS NOT NULL;
CREATE INDEX events_reference ON events (reference_id) WHERE reference_id IS NOT NULL;
CREATE INDEX events_payment ON events (payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX events_email ON events (customer_email) WHERE customer_email IS NOT NULL;
CREATE INDEX events_message ON events (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX events_phone ON events (customer_phone, seq) WHERE customer_phone IS NOT NULL;
CREATE INDEX events_received ON events (received_at);

-- Actions waiting for a person's approval, one per (tool, idempotency key).
CREATE TABLE approvals (
    id           TEXT PRIMARY KEY,
    tool         TEXT NOT NULL,
    key          TEXT NOT NULL,
    binding      TEXT NOT NULL,
    summary      TEXT NOT NULL,
    arguments    TEXT NOT NULL,
    form_token   TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'declined', 'expired', 'done', 'failed')),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    decided_at   BIGINT,
    reported     BOOLEAN NOT NULL DEFAULT FALSE,
    outcome      TEXT,
    UNIQUE (tool, key)
);
CREATE INDEX approvals_open ON approvals (status) WHERE status IN ('pending', 'approved');

-- Changes owed to the invoice book, one per (link, kind).
CREATE TABLE book_writebacks (
    id BIGSERIAL PRIMARY KEY,
    invoice_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    link_provider TEXT NOT NULL,
    link_id TEXT NOT NULL,
    link_url TEXT,
    payment_id TEXT,
    paid_on TEXT,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (link_provider, link_id, kind)
);
CREATE INDEX book_writebacks_due ON book_writebacks (next_attempt_at) WHERE state = 'pending';
CREATE INDEX book_writebacks_invoice ON book_writebacks (invoice_id);

-- How far the write-back worker has read the event log (one row).
CREATE TABLE book_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);

-- The audit trail, hash-chained; appends serialise on an advisory transaction lock (src/store/postgres/audit.rs).
CREATE TABLE audit (
    seq BIGSERIAL PRIMARY KEY,
    record TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
-- The newest record ever appended (set in the append's transaction): removing the newest records shows.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
