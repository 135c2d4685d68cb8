-- Staff accounts, their sessions, the throttling of failed sign-ins and pending OIDC logins.
-- Names, e-mail addresses and TOTP secrets are sealed: under the tenant's data key, or for the
-- operator's accounts (which belong to no tenant) under the data key of the scope 'installation'.
-- Accounts are found by a hash of the e-mail address. Times are milliseconds since the epoch.

-- The installation scope keeps its data key in tenant_keys, so that rotating the master key
-- re-wraps it with all the others; tenant_keys therefore no longer references tenants.
CREATE TABLE tenant_keys_v3 (
    tenant_key    TEXT NOT NULL,                  -- a tenant's key, or 'installation'
    key_id        TEXT NOT NULL,
    wrapped       BLOB NOT NULL,
    master_key_id TEXT NOT NULL,
    active        INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_key, key_id)
);
INSERT INTO tenant_keys_v3 (tenant_key, key_id, wrapped, master_key_id, active, created_at)
    SELECT tenant_key, key_id, wrapped, master_key_id, active, created_at FROM tenant_keys;
DROP TABLE tenant_keys;
ALTER TABLE tenant_keys_v3 RENAME TO tenant_keys;
CREATE UNIQUE INDEX tenant_keys_one_active ON tenant_keys (tenant_key) WHERE active = 1;

CREATE TABLE staff_users (
    id               TEXT PRIMARY KEY,
    tenant_key       TEXT REFERENCES tenants (key),  -- NULL: an account of the operator
    role             TEXT NOT NULL,
    email_hash       BLOB NOT NULL UNIQUE,           -- SHA-256 of the normalised address
    email            BLOB NOT NULL,                  -- sealed
    name             BLOB NOT NULL,                  -- sealed
    services         TEXT NOT NULL DEFAULT '[]',     -- JSON list of service ids (clerks)
    password_hash    TEXT,                           -- Argon2id PHC string; NULL until enrolled
    totp_secret      BLOB,                           -- sealed
    totp_confirmed   INTEGER NOT NULL DEFAULT 0,
    totp_last_step   INTEGER,                        -- the last time step used: no replay
    oidc_subject     TEXT UNIQUE,                    -- issuer and subject after the first OIDC login
    disabled         INTEGER NOT NULL DEFAULT 0,
    enrol_token_hash BLOB UNIQUE,                    -- SHA-256 of the one-time link's token
    enrol_expires_at INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX staff_users_tenant ON staff_users (tenant_key);

CREATE TABLE staff_sessions (
    token_hash       BLOB PRIMARY KEY,               -- SHA-256 of the cookie's token
    user_id          TEXT NOT NULL REFERENCES staff_users (id),
    stage            TEXT NOT NULL,                  -- totp, enrol, reset (pending) or full
    next_path        TEXT,
    pending_password TEXT,                           -- a new password's hash, applied with the code
    created_at       INTEGER NOT NULL,
    last_seen_at     INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
);
CREATE INDEX staff_sessions_user ON staff_sessions (user_id);
CREATE INDEX staff_sessions_expiry ON staff_sessions (expires_at);

CREATE TABLE staff_throttle (
    key          TEXT PRIMARY KEY,                   -- account:<id> or address:<keyed hash>
    failures     INTEGER NOT NULL,
    last_failure INTEGER NOT NULL
);

CREATE TABLE staff_oidc_logins (
    token_hash BLOB PRIMARY KEY,                     -- SHA-256 of the browser's cookie
    state      TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    verifier   TEXT NOT NULL,                        -- PKCE code verifier
    next_path  TEXT,
    expires_at INTEGER NOT NULL
);
