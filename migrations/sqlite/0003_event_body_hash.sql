-- Senders whose event id is not signed (Razorpay's X-Razorpay-Event-Id, X-GitHub-Delivery) and whose signature
-- carries no timestamp could have a captured delivery replayed under a fresh id header. For those sources the
-- signed bytes themselves are a second dedupe key.
ALTER TABLE events ADD COLUMN body_sha256 TEXT;
CREATE UNIQUE INDEX events_body ON events (source, body_sha256) WHERE body_sha256 IS NOT NULL;
