-- Changes owed to the invoice book (Notion): a payment link's URL written to its invoice's page, and the invoice
-- marked paid when a verified webhook says the link was paid. One row per (link, kind): a repeated webhook or a
-- second worker finds the row and adds nothing. Pending rows are retried with backoff until done.
CREATE TABLE book_writebacks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    invoice_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    link_provider TEXT NOT NULL,
    link_id TEXT NOT NULL,
    link_url TEXT,
    payment_id TEXT,
    paid_on TEXT,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (link_provider, link_id, kind)
);
CREATE INDEX book_writebacks_due ON book_writebacks (next_attempt_at) WHERE state = 'pending';
CREATE INDEX book_writebacks_invoice ON book_writebacks (invoice_id);

-- How far the write-back worker has read the event log (one row).
CREATE TABLE book_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
