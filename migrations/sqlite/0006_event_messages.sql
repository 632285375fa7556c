-- Messaging events (WhatsApp): the message id an event concerns (the customer's, or ours for a status) and the
-- message a customer replied to, so conversations and statuses are found without reading payloads.
ALTER TABLE events ADD COLUMN message_id TEXT;
ALTER TABLE events ADD COLUMN reply_to TEXT;

CREATE INDEX events_message ON events (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX events_phone ON events (customer_phone, seq) WHERE customer_phone IS NOT NULL;
