-- Actions waiting for a person's approval (the approval page), durable so a restart neither loses a pending
-- approval nor performs an approved one twice. One row per (tool, idempotency key).
CREATE TABLE approvals (
    id           TEXT PRIMARY KEY,               -- unguessable: the capability in the approval link
    tool         TEXT NOT NULL,
    key          TEXT NOT NULL,                  -- the call's idempotency key
    binding      TEXT NOT NULL,                  -- hash of every argument; what is performed must match
    summary      TEXT NOT NULL,                  -- JSON: what the person is shown
    arguments    TEXT NOT NULL,                  -- JSON: the call's arguments, to perform it once approved
    form_token   TEXT NOT NULL,                  -- only in the page's form: refuses cross-site POSTs
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'declined', 'expired', 'done', 'failed')),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    decided_at   INTEGER,
    reported     INTEGER NOT NULL DEFAULT 0,     -- the agent has been told the final outcome
    outcome      TEXT,                           -- JSON: {"ok": result} or {"error": sentence}
    UNIQUE (tool, key)
);

CREATE INDEX approvals_open ON approvals (status) WHERE status IN ('pending', 'approved');
