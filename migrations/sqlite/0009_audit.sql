-- The audit trail: one record per world-changing tool call and per approval decision, append-only and
-- tamper-evident. `record` is the JSON text as written; `hash` = SHA-256(prev_hash || record), so editing a
-- record, or removing or reordering one, breaks the chain from there on (`switchboard audit verify`).
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    record TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
