-- Keys of the keyed indexes over sealed data: the blind index of applicants' names, the dog-tax
-- holder index and the lookup hash of staff e-mail addresses. One random key per scope (a tenant,
-- or 'installation') and purpose, wrapped by the master key like the data keys and re-wrapped with
-- them on rotation, so that stored index values stay valid when the master key is rotated.
CREATE TABLE index_keys (
    scope         TEXT NOT NULL,                  -- a tenant's key, or 'installation'
    purpose       TEXT NOT NULL,                  -- case-names, dogtax-holders, staff-email
    wrapped       BLOB NOT NULL,                  -- the index key, AES-256-GCM under the master key
    master_key_id TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (scope, purpose)
);

-- An installation with data keyed its indexes with secrets derived from the master key and hashed
-- staff e-mail addresses (staff_users.email_hash) without a key. The first process that unlocks it
-- adopts those secrets as the first index keys and rehashes the addresses with a keyed hash; this
-- marker tells it to (a new installation has no master key recorded yet and needs nothing).
INSERT INTO installation (key, value)
    SELECT 'index_keys_pending', 'adopt the derived index secrets'
    WHERE EXISTS (SELECT 1 FROM installation WHERE key = 'master_key_id');
