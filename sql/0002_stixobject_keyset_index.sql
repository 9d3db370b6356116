-- 0002: an index for keyset paging of TAXII 2.1 objects within one collection
-- (WHERE collection_id = $1 AND (date_added, id) > ($2, $3) ORDER BY date_added, id).
-- Additive and taxiid_-prefixed. Skipped when an equivalent plain btree index already exists,
-- e.g. ix_opentaxii_stixobject_col_date_added_id on a database created by OpenTAXII master.
-- On a large table this builds the index once, blocking writes to the table meanwhile.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1
        FROM pg_catalog.pg_index i
        JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_catalog.pg_am am ON am.oid = ic.relam
        WHERE i.indrelid = 'public.opentaxii_stixobject'::regclass
          AND am.amname = 'btree'
          AND i.indpred IS NULL
          AND i.indexprs IS NULL
          AND i.indkey::text = (
              SELECT string_agg(a.attnum::text, ' ' ORDER BY k.ord)
              FROM unnest(ARRAY['collection_id', 'date_added', 'id']) WITH ORDINALITY AS k(name, ord)
              JOIN pg_catalog.pg_attribute a
                ON a.attrelid = 'public.opentaxii_stixobject'::regclass AND a.attname = k.name
          )
    ) THEN
        CREATE INDEX IF NOT EXISTS taxiid_stixobject_col_date_added_id
            ON public.opentaxii_stixobject USING btree (collection_id, date_added, id);
    END IF;
END
$$;
