-- Idempotency keys of the submission API: a request retried with the same `Idempotency-Key` is
-- answered with the case made the first time instead of making another. One key per tenant and
-- service; the primary key lets exactly one of two concurrent requests with the same key in.
-- The client's key is kept only as its hash; the hash of the body and the case's status-page
-- secret are sealed. The housekeeping deletes keys after 24 hours.
CREATE TABLE submission_keys (
    tenant_key TEXT NOT NULL REFERENCES tenants (key),
    service_id TEXT NOT NULL,
    key_hash   BLOB NOT NULL,                -- SHA-256 of the client's Idempotency-Key
    case_id    TEXT NOT NULL,
    reference  TEXT NOT NULL,
    receipt    BLOB NOT NULL,                -- sealed JSON: hash of the body, status token
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_key, service_id, key_hash)
);
CREATE INDEX submission_keys_age ON submission_keys (created_at);
