-- Idempotency ledger for money-moving tool calls (create_payment_link).
-- One row per logical call; a finished row replays its stored result forever (retention is pruned
-- separately, never below 30 days).
CREATE TABLE idempotency (
    key           TEXT PRIMARY KEY,           -- what the provider sees: Stripe Idempotency-Key / Razorpay reference_id
    tool          TEXT NOT NULL,
    provider      TEXT NOT NULL,
    request_hash  TEXT NOT NULL,              -- SHA-256 of the canonical request; a different hash is a conflict
    state         TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
    response      TEXT,                       -- the first result, as JSON, once done
    locked_until  INTEGER NOT NULL,           -- unix seconds; an in-progress row past this is abandoned
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE INDEX idempotency_in_progress ON idempotency (state) WHERE state = 'in_progress';
