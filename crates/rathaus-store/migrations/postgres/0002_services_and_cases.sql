-- Services, drafts, submitted cases, attachments, the outbox and reference numbers.
-- Every row holding personal data names its tenant and its case or draft (for retention and
-- erasure); the personal data itself is sealed (BLOB columns marked "sealed").

CREATE TABLE service_definitions (
    service_id  TEXT NOT NULL,
    version     BIGINT NOT NULL,
    definition  TEXT NOT NULL,
    checksum    TEXT NOT NULL,
    imported_at BIGINT NOT NULL,
    PRIMARY KEY (service_id, version)
);

-- Which services a municipality offers, with its parameters.
CREATE TABLE tenant_services (
    tenant_key TEXT NOT NULL REFERENCES tenants (key),
    service_id TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL,
    params     TEXT NOT NULL DEFAULT '{}',
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_key, service_id)
);

CREATE TABLE drafts (
    id              TEXT PRIMARY KEY,
    tenant_key      TEXT NOT NULL REFERENCES tenants (key),
    service_id      TEXT NOT NULL,
    service_version BIGINT NOT NULL,
    token_hash      BYTEA NOT NULL UNIQUE,        -- SHA-256 of the secret in the citizen's cookie / link
    data            BYTEA NOT NULL,               -- sealed JSON
    position        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    submitted_case  TEXT                         -- set once submitted; the data is then emptied
);
CREATE INDEX drafts_expiry ON drafts (expires_at);

CREATE TABLE cases (
    id                TEXT PRIMARY KEY,
    tenant_key        TEXT NOT NULL REFERENCES tenants (key),
    service_id        TEXT NOT NULL,
    service_version   BIGINT NOT NULL,
    reference         TEXT NOT NULL,
    status            TEXT NOT NULL,
    status_token_hash BYTEA NOT NULL UNIQUE,
    data              BYTEA NOT NULL,             -- sealed JSON
    lang              TEXT NOT NULL,
    draft_id          TEXT UNIQUE,               -- one case per draft, however often it is submitted
    submitted_at      BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    closed_at         BIGINT,
    retention_days    BIGINT NOT NULL,
    assignee          TEXT,
    version           BIGINT NOT NULL DEFAULT 1,
    UNIQUE (tenant_key, reference)
);
CREATE INDEX cases_inbox ON cases (tenant_key, status, submitted_at);

-- The history of a case: appended, never rewritten.
CREATE TABLE case_events (
    case_id TEXT NOT NULL REFERENCES cases (id),
    seq     BIGINT NOT NULL,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    kind    TEXT NOT NULL,
    status  TEXT,
    note    BYTEA,                                -- sealed
    PRIMARY KEY (case_id, seq)
);

CREATE TABLE attachments (
    id         TEXT PRIMARY KEY,
    tenant_key TEXT NOT NULL REFERENCES tenants (key),
    draft_id   TEXT,
    case_id    TEXT,
    field      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    size       BIGINT NOT NULL,
    name       BYTEA NOT NULL,                    -- sealed display name
    blob_key   TEXT NOT NULL,                    -- where the sealed content lies in the blob store
    created_at BIGINT NOT NULL
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
    payload         BYTEA NOT NULL,               -- sealed JSON
    status          TEXT NOT NULL,               -- pending, sent, failed
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    done_at         BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE reference_counters (
    tenant_key TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    year       BIGINT NOT NULL,
    last       BIGINT NOT NULL,
    PRIMARY KEY (tenant_key, prefix, year)
);
