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
    population    BIGINT,
    enabled       BOOLEAN NOT NULL DEFAULT FALSE,
    profile       TEXT NOT NULL DEFAULT '{}',     -- JSON, public data of the municipality
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX tenants_parent ON tenants (parent_key);
CREATE INDEX tenants_enabled ON tenants (enabled, name);

CREATE TABLE tenant_keys (
    tenant_key    TEXT NOT NULL REFERENCES tenants (key),
    key_id        TEXT NOT NULL,
    wrapped       BYTEA NOT NULL,                 -- the data key, AES-256-GCM under the master key
    master_key_id TEXT NOT NULL,
    active        BOOLEAN NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_key, key_id)
);
CREATE UNIQUE INDEX tenant_keys_one_active ON tenant_keys (tenant_key) WHERE active;

CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at_ms     BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    tenant    TEXT,
    action    TEXT NOT NULL,
    object    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash      BYTEA NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant, seq);
CREATE INDEX audit_log_object ON audit_log (object, seq);

-- The newest entry, locked by every append so that concurrent writers form one chain.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

-- Append-only: the application never updates or deletes audit entries. The hash chain detects
-- what someone with direct database access does anyway.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
