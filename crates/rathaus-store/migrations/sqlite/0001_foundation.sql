-- Foundation: installation settings, tenants, their data keys and the audit log.
-- Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE installation (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE tenants (
    key           TEXT PRIMARY KEY,              -- AGS (8 digits) or administration key (9 digits)
    ars           TEXT,
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    official_name TEXT NOT NULL,
    slug          TEXT NOT NULL UNIQUE,
    district      TEXT NOT NULL,
    parent_key    TEXT REFERENCES tenants (key),
    population    INTEGER,
    enabled       INTEGER NOT NULL DEFAULT 0,
    profile       TEXT NOT NULL DEFAULT '{}',     -- JSON, public data of the municipality
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX tenants_parent ON tenants (parent_key);
CREATE INDEX tenants_enabled ON tenants (enabled, name);

CREATE TABLE tenant_keys (
    tenant_key    TEXT NOT NULL REFERENCES tenants (key),
    key_id        TEXT NOT NULL,
    wrapped       BLOB NOT NULL,                  -- the data key, AES-256-GCM under the master key
    master_key_id TEXT NOT NULL,
    active        INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_key, key_id)
);
CREATE UNIQUE INDEX tenant_keys_one_active ON tenant_keys (tenant_key) WHERE active = 1;

CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at_ms     INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    tenant    TEXT,
    action    TEXT NOT NULL,
    object    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant, seq);
CREATE INDEX audit_log_object ON audit_log (object, seq);

-- The newest entry, locked by every append so that concurrent writers form one chain.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

-- Append-only: the application never updates or deletes audit entries. The hash chain detects
-- what someone with direct database access does anyway.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
