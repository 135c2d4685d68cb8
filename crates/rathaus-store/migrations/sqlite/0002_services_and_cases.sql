-- Services, drafts, submitted cases, attachments, the outbox and reference numbers.
-- Every row holding personal data names its tenant and its case or draft (for retention and
-- erasure); the personal data itself is sealed (BLOB columns marked "sealed").

CREATE TABLE service_definitions (
    service_id  TEXT NOT NULL,
    version     INTEGER NOT NULL,
    definition  TEXT NOT NULL,
    checksum    TEXT NOT NULL,
    imported_at INTEGER NOT NULL,
    PRIMARY KEY (service_id, version)
);

-- Which services a municipality offers, with its parameters.
CREATE TABLE tenant_services (
    tenant_key TEXT NOT NULL REFERENCES tenants (key),
    service_id TEXT NOT NULL,
    enabled    INTEGER NOT NULL,
    params     TEXT NOT NULL DEFAULT '{}',
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_key, service_id)
);

CREATE TABLE drafts (
    id              TEXT PRIMARY KEY,
    tenant_key      TEXT NOT NULL REFERENCES tenants (key),
    service_id      TEXT NOT NULL,
    service_version INTEGER NOT NULL,
    token_hash      BLOB NOT NULL UNIQUE,        -- SHA-256 of the secret in the citizen's cookie / link
    data            BLOB NOT NULL,               -- sealed JSON
    position        TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    submitted_case  TEXT                         -- set once submitted; the data is then emptied
);
CREATE INDEX drafts_expiry ON drafts (expires_at);

CREATE TABLE cases (
    id                TEXT PRIMARY KEY,
    tenant_key        TEXT NOT NULL REFERENCES tenants (key),
    service_id        TEXT NOT NULL,
    service_version   INTEGER NOT NULL,
    reference         TEXT NOT NULL,
    status            TEXT NOT NULL,
    status_token_hash BLOB NOT NULL UNIQUE,
    data              BLOB NOT NULL,             -- sealed JSON
    lang              TEXT NOT NULL,
    draft_id          TEXT UNIQUE,               -- one case per draft, however often it is submitted
    submitted_at      INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    closed_at         INTEGER,
    retention_days    INTEGER NOT NULL,
    assignee          TEXT,
    version           INTEGER NOT NULL DEFAULT 1,
    UNIQUE (tenant_key, reference)
);
CREATE INDEX cases_inbox ON cases (tenant_key, status, submitted_at);

-- The history of a case: appended, never rewritten.
CREATE TABLE case_events (
    case_id TEXT NOT NULL REFERENCES cases (id),
    seq     INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    kind    TEXT NOT NULL,
    status  TEXT,
    note    BLOB,                                -- sealed
    PRIMARY KEY (case_id, seq)
);

CREATE TABLE attachments (
    id         TEXT PRIMARY KEY,
    tenant_key TEXT NOT NULL REFERENCES tenants (key),
    draft_id   TEXT,
    case_id    TEXT,
    field      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    name       BLOB NOT NULL,                    -- sealed display name
    blob_key   TEXT NOT NULL,                    -- where the sealed content lies in the blob store
    created_at INTEGER NOT NULL
);
CREATE INDEX attachments_draft ON attachments (draft_id);
CREATE INDEX attachments_case ON attachments (case_id);

-- Work to be done after a commit (e-mails, later webhooks), written in the same transaction as
-- the change that causes it.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    tenant_key      TEXT NOT NULL REFERENCES tenants (key),
    case_id         TEXT,
    kind            TEXT NOT NULL,
    payload         BLOB NOT NULL,               -- sealed JSON
    status          TEXT NOT NULL,               -- pending, sent, failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    done_at         INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE reference_counters (
    tenant_key TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    year       INTEGER NOT NULL,
    last       INTEGER NOT NULL,
    PRIMARY KEY (tenant_key, prefix, year)
);
