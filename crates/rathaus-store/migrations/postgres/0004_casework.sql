-- Case work in the office: search tokens (blind index), access log, decisions, documents.

-- The status-page secret, sealed, so the office can send the link with later news.
ALTER TABLE cases ADD COLUMN status_token_sealed BYTEA;

-- Keyed hashes of the applicant's name parts: searchable by exact word, unreadable without the key.
CREATE TABLE case_search (
    case_id    TEXT NOT NULL REFERENCES cases (id),
    tenant_key TEXT NOT NULL,
    token      BYTEA NOT NULL,
    PRIMARY KEY (case_id, token)
);
CREATE INDEX case_search_token ON case_search (tenant_key, token);

-- Which office read or changed a case, when: shown to the citizen (no clerk names).
CREATE TABLE case_access (
    case_id       TEXT NOT NULL REFERENCES cases (id),
    at            BIGINT NOT NULL,
    office_tenant TEXT NOT NULL,
    kind          TEXT NOT NULL
);
CREATE INDEX case_access_case ON case_access (case_id, at);

CREATE TABLE case_decisions (
    case_id      TEXT NOT NULL REFERENCES cases (id),
    seq          BIGINT NOT NULL,
    outcome      TEXT NOT NULL,
    reasons      BYTEA NOT NULL,                 -- sealed
    proposed_by  TEXT NOT NULL,
    proposed_at  BIGINT NOT NULL,
    confirmed_by TEXT,
    confirmed_at BIGINT,
    state        TEXT NOT NULL,                 -- proposed, final, withdrawn
    PRIMARY KEY (case_id, seq)
);

-- Documents issued for a case (notices), content sealed in the blob store.
CREATE TABLE case_documents (
    id         TEXT PRIMARY KEY,
    case_id    TEXT NOT NULL REFERENCES cases (id),
    tenant_key TEXT NOT NULL,
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    blob_key   TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX case_documents_case ON case_documents (case_id);

ALTER TABLE tenant_services ADD COLUMN four_eyes BOOLEAN NOT NULL DEFAULT FALSE;
