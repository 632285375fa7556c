-- Events are normalised at ingest: a provider-neutral kind and the amount paid are columns, so nothing past ingest
-- reads a provider's JSON again. Rows stored before this migration get them here, once, from their payloads, by
-- the rules of src/webhooks/sources/{razorpay,stripe}.rs applied by event type (the type names of the two
-- providers do not overlap but for invoice.paid, which means the same to both); anything else stays 'other'.
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
    -- A checkout counts once its payment settled (CASE, not AND, so json_extract never sees a body that is not JSON).
    WHEN event_type IN ('checkout.session.completed', 'checkout.session.async_payment_succeeded') THEN CASE
        WHEN NOT json_valid(payload) THEN 'other'
        WHEN COALESCE(json_extract(payload, '$.data.object.payment_status'), '') NOT IN ('paid', 'no_payment_required')
            THEN 'other'
        WHEN payment_link_id IS NOT NULL THEN 'payment_link_paid'
        ELSE 'payment_succeeded'
    END
    ELSE 'other'
END;

-- The amount paid, from the first entity that states both an integer amount and a currency code, paired as
-- the extractors pair them: Razorpay's payment, then its payment link's running total; Stripe's object.
UPDATE events SET
    amount_minor = CASE
        WHEN json_type(payload, '$.payload.payment.entity.amount') = 'integer'
             AND json_type(payload, '$.payload.payment.entity.currency') = 'text'
            THEN json_extract(payload, '$.payload.payment.entity.amount')
        WHEN json_type(payload, '$.payload.payment_link.entity.amount_paid') = 'integer'
             AND json_type(payload, '$.payload.payment_link.entity.currency') = 'text'
            THEN json_extract(payload, '$.payload.payment_link.entity.amount_paid')
        WHEN json_type(payload, '$.data.object.currency') = 'text' THEN CASE
            WHEN json_type(payload, '$.data.object.amount_total') = 'integer' THEN json_extract(payload, '$.data.object.amount_total')
            WHEN json_type(payload, '$.data.object.amount_paid') = 'integer' THEN json_extract(payload, '$.data.object.amount_paid')
            WHEN json_type(payload, '$.data.object.amount_received') = 'integer' THEN json_extract(payload, '$.data.object.amount_received')
        END
    END,
    currency = CASE
        WHEN json_type(payload, '$.payload.payment.entity.amount') = 'integer'
             AND json_type(payload, '$.payload.payment.entity.currency') = 'text'
            THEN upper(json_extract(payload, '$.payload.payment.entity.currency'))
        WHEN json_type(payload, '$.payload.payment_link.entity.amount_paid') = 'integer'
             AND json_type(payload, '$.payload.payment_link.entity.currency') = 'text'
            THEN upper(json_extract(payload, '$.payload.payment_link.entity.currency'))
        WHEN json_type(payload, '$.data.object.currency') = 'text'
            THEN upper(json_extract(payload, '$.data.object.currency'))
    END
WHERE kind IN ('payment_succeeded', 'payment_link_paid', 'payment_link_partially_paid') AND json_valid(payload);

UPDATE events SET amount_minor = NULL, currency = NULL
WHERE amount_minor IS NULL OR currency IS NULL OR length(currency) != 3;

CREATE INDEX events_kind ON events (kind, seq);
