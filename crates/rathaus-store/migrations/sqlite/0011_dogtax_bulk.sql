-- The bulk steps of the dog-tax year (assessment, notices, the treasury's export) read a
-- municipality's register page by page, in register order, so that their memory does not grow
-- with the municipality.
CREATE INDEX dogtax_households_order ON dogtax_households (tenant_key, created_at, kassenzeichen);

-- The annual run's notices (tax notices issued without a case): one per household and year, so
-- that a run resumed after an interruption, or two runs at once, never issue a second one.
CREATE UNIQUE INDEX dogtax_notices_annual ON dogtax_notices (household_id, year)
    WHERE kind = 'tax' AND case_id IS NULL;
-- The same notices in a stable order, for printing them page by page.
CREATE INDEX dogtax_notices_annual_order ON dogtax_notices (tenant_key, year, id)
    WHERE kind = 'tax' AND case_id IS NULL;

-- The export ledger looked up for one page of households.
CREATE INDEX dogtax_export_items_household ON dogtax_export_items (household_id, due_on);
