-- The treasury's export ledger: every run of the dog-tax export for a due date, and which claim
-- of which household went into it, so that a second export for the same due date never hands the
-- bank the same direct debits again without saying so. Plain columns only: ids, dates, counts and
-- file names; the amounts and bank details stay in the sealed notices and households.
CREATE TABLE dogtax_export_runs (
    tenant_key    TEXT NOT NULL REFERENCES tenants (key),
    due_on        TEXT NOT NULL,                 -- YYYY-MM-DD, the collection date
    run           INTEGER NOT NULL,              -- 1 for the first export of the due date, then 2, ...
    exported_at   INTEGER NOT NULL,
    actor         TEXT NOT NULL,
    again         INTEGER NOT NULL,              -- 1: an explicit re-export of what was exported before
    debit_file    TEXT,                          -- the pain.008 file written, if any
    message_id    TEXT,                          -- its MsgId, as the bank reports it back
    transfer_file TEXT,                          -- the CSV of expected transfers, if any
    refused_file  TEXT,                          -- the list of direct debits refused, if any
    refused       INTEGER NOT NULL,              -- how many direct debits were refused
    PRIMARY KEY (tenant_key, due_on, run)
);

-- One claim exported in a run: a household's tax installment of a year, or its fees (claim G).
CREATE TABLE dogtax_export_items (
    tenant_key   TEXT NOT NULL,
    due_on       TEXT NOT NULL,
    run          INTEGER NOT NULL,
    household_id TEXT NOT NULL REFERENCES dogtax_households (id),
    claim        TEXT NOT NULL,                  -- the tax year, or G for fees
    kind         TEXT NOT NULL,                  -- debit or transfer
    PRIMARY KEY (tenant_key, due_on, run, household_id, claim),
    FOREIGN KEY (tenant_key, due_on, run) REFERENCES dogtax_export_runs (tenant_key, due_on, run)
);
