-- A keyed hash of a household's holder (normalised name, street and postcode; never the plain
-- text), so that a registration finds its household without opening every household's sealed data.
-- Households from before this column have none and are still compared by their sealed data.
ALTER TABLE dogtax_households ADD COLUMN holder_index TEXT;
CREATE INDEX dogtax_households_holder ON dogtax_households (tenant_key, holder_index);
