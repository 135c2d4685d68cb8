-- Changes of a municipality's bank details (account and SEPA creditor id) proposed in the office.
-- They take effect only when a second person confirms them; until then the profile keeps the old
-- details. One change at a time may wait per municipality. Times are milliseconds since the epoch.
CREATE TABLE bank_changes (
    id          TEXT PRIMARY KEY,
    tenant_key  TEXT NOT NULL REFERENCES tenants (key),
    proposed_by TEXT NOT NULL REFERENCES staff_users (id),
    proposed_at BIGINT NOT NULL,
    details     TEXT NOT NULL,               -- JSON: {"bank": {...} or null, "creditor_id": ... or null}
    status      TEXT NOT NULL,               -- pending, confirmed, rejected
    decided_by  TEXT REFERENCES staff_users (id),
    decided_at  BIGINT
);
CREATE UNIQUE INDEX bank_changes_one_pending ON bank_changes (tenant_key) WHERE status = 'pending';
