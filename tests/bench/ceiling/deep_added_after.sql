-- (b) the last page via added_after: only versions added after it count, for the page and
-- for "latest version".
SELECT o.id, o.type, o.spec_version, o.date_added, o.version, o.serialized_data::text,
       a.pk IS NOT NULL
FROM public.opentaxii_stixobject o
LEFT JOIN public.taxiid_stixobject_spec_absent a ON a.pk = o.pk
WHERE o.collection_id = :coll::uuid
  AND o.date_added > :added_after::timestamp
  AND NOT EXISTS (
      SELECT 1 FROM public.opentaxii_stixobject s
      WHERE s.collection_id = o.collection_id AND s.id = o.id AND s.date_added > :added_after::timestamp
        AND (s.spec_version > o.spec_version OR (s.spec_version = o.spec_version AND s.version > o.version)))
ORDER BY o.date_added, o.id, o.version
LIMIT 101;
