-- Events are normalised at ingest: a provider-neutral kind and the amount paid are columns, so nothing past ingest
-- reads a provider's JSON again. Rows stored before this migration get them here, once, from their payloads, by
-- the rules of src/webhooks/sources/{razorpay,stripe}.rs (anything they do not name stays 'other').
ALTER TABLE events ADD COLUMN kind TEXT NOT NULL DEFAULT 'other';
ALTER TABLE events ADD COLUMN amount_minor INTEGER;   -- the amount paid, in the currency's minor units
ALTER TABLE events ADD COLUMN currency TEXT;          -- ISO 4217, upper case

UPDATE events SET kind = CASE
    WHEN event_type IN ('payment.captured', 'order.paid', 'invoice.paid', 'payment_intent.succeeded') THEN 'payment_succeeded'
    WHEN event_type IN ('payment.failed', 'payment_intent.payment_failed', 'checkout.session.async_payment_failed') THEN 'payment_failed'
    WHEN event_type = 'payment_link.paid' THEN 'payment_link_paid'
    WHEN event_type = 'payment_link.partially_paid' THEN 'payment_link_partially_paid'
    WHEN event_type = 'payment_link.expired' THEN 'payment_link_expired'
    WHEN event_type = 'payment_link.cancelled' THEN 'payment_link_cancelled'
    WHEN event_type IN ('checkout.session.completed', 'checkout.session.async_payment_succeeded')
         AND json_valid(payload)
         AND json_extract(payload, '$.data.object.payment_status') IN ('paid', 'no_payment_required')
        THEN CASE WHEN payment_link_id IS NOT NULL THEN 'payment_link_paid' ELSE 'payment_succeeded' END
    ELSE 'other'
END;

UPDATE events SET
    amount_minor = COALESCE(
        json_extract(payload, '$.payload.payment.entity.amount'),
        json_extract(payload, '$.payload.payment_link.entity.amount_paid'),
        json_extract(payload, '$.data.object.amount_total'),
        json_extract(payload, '$.data.object.amount_paid'),
        json_extract(payload, '$.data.object.amount_received')),
    currency = upper(COALESCE(
        json_extract(payload, '$.payload.payment.entity.currency'),
        json_extract(payload, '$.payload.payment_link.entity.currency'),
        json_extract(payload, '$.data.object.currency')))
WHERE kind IN ('payment_succeeded', 'payment_link_paid', 'payment_link_partially_paid') AND json_valid(payload);

UPDATE events SET amount_minor = NULL, currency = NULL WHERE amount_minor IS NULL OR currency IS NULL;

CREATE INDEX events_kind ON events (kind, seq);
