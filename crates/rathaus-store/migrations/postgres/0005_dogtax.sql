-- Dog tax (Hundesteuer): each municipality's Satzung versions, its register (Hundesteuerregister)
-- of households and dogs with their tax tags, and the notices (Bescheide) issued from it.
-- Personal data (holder, bank details, every fact about a dog) is sealed under the tenant's data
-- key (BYTEA columns marked "sealed"); plain columns hold only ids, numbers and states.

-- A Satzung version is public law, not personal data, and is kept as the file the municipality
-- maintains. Setting a version again adds a revision; nothing is overwritten.
CREATE TABLE dogtax_statutes (
    tenant_key TEXT NOT NULL REFERENCES tenants (key),
    valid_from TEXT NOT NULL,                    -- YYYY-MM-DD
    revision   BIGINT NOT NULL,
    statute    TEXT NOT NULL,                    -- the statute file (JSON)
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (tenant_key, valid_from, revision)
);

-- A household that keeps dogs (Steuerpflichtige/r), with its payment reference (Kassenzeichen).
CREATE TABLE dogtax_households (
    id             TEXT PRIMARY KEY,
    tenant_key     TEXT NOT NULL REFERENCES tenants (key),
    kassenzeichen  TEXT NOT NULL,
    payment_method TEXT NOT NULL,                -- debit or transfer
    holder         BYTEA NOT NULL,                -- sealed JSON: name and address
    payment        BYTEA NOT NULL,                -- sealed JSON: bank account and mandate
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    version        BIGINT NOT NULL DEFAULT 1,
    UNIQUE (tenant_key, kassenzeichen)
);

-- One dog of a household. An entry is ended, never deleted.
CREATE TABLE dogtax_dogs (
    id           TEXT PRIMARY KEY,
    tenant_key   TEXT NOT NULL REFERENCES tenants (key),
    household_id TEXT NOT NULL REFERENCES dogtax_households (id),
    entry_no     BIGINT NOT NULL,               -- order of entry within the household (ties in the statute's ranking)
    status       TEXT NOT NULL,                  -- active or ended
    facts        BYTEA NOT NULL,                  -- sealed JSON: name, breed, dates, chip, decisions
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX dogtax_dogs_household ON dogtax_dogs (household_id, entry_no);
CREATE INDEX dogtax_dogs_tenant ON dogtax_dogs (tenant_key, status);

-- Tax tags (Steuermarken) from the municipality's own series; a lost tag is invalidated, and its
-- number is never given again.
CREATE TABLE dogtax_tags (
    tenant_key         TEXT NOT NULL REFERENCES tenants (key),
    tag_number         TEXT NOT NULL,
    dog_id             TEXT NOT NULL REFERENCES dogtax_dogs (id),
    issued_at          BIGINT NOT NULL,
    invalidated_at     BIGINT,
    invalidated_reason TEXT,
    PRIMARY KEY (tenant_key, tag_number)
);
CREATE INDEX dogtax_tags_dog ON dogtax_tags (dog_id);
-- A dog wears one valid tag at a time.
CREATE UNIQUE INDEX dogtax_tags_valid ON dogtax_tags (dog_id) WHERE invalidated_at IS NULL;

-- The history of the register: appended, never rewritten. Each event keeps a sealed snapshot of
-- the entry after the change.
CREATE TABLE dogtax_register_events (
    household_id TEXT NOT NULL REFERENCES dogtax_households (id),
    seq          BIGINT NOT NULL,
    tenant_key   TEXT NOT NULL REFERENCES tenants (key),
    dog_id       TEXT,
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    kind         TEXT NOT NULL,
    case_id      TEXT,
    snapshot     BYTEA NOT NULL,                  -- sealed JSON
    PRIMARY KEY (household_id, seq)
);

-- Notices issued: the annual tax notice, change notices and fee notices. The content is what
-- the PDF is rendered from, so a notice can be printed again exactly as issued.
CREATE TABLE dogtax_notices (
    id           TEXT PRIMARY KEY,
    tenant_key   TEXT NOT NULL REFERENCES tenants (key),
    household_id TEXT NOT NULL REFERENCES dogtax_households (id),
    seq          BIGINT NOT NULL,               -- order of issue within the household
    year         BIGINT NOT NULL,
    kind         TEXT NOT NULL,                  -- tax, change or fee
    case_id      TEXT,
    issued_at    BIGINT NOT NULL,
    issued_on    TEXT NOT NULL,                  -- YYYY-MM-DD, the date the notice bears
    content      BYTEA NOT NULL,                  -- sealed JSON
    UNIQUE (household_id, seq)
);
CREATE INDEX dogtax_notices_year ON dogtax_notices (tenant_key, year);
