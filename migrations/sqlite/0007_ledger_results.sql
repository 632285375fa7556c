-- Reading a tool's results back (the WhatsApp messages Switchboard sent, for conversations): by tool, newest first.
CREATE INDEX idempotency_results ON idempotency (tool, created_at) WHERE state = 'done';
