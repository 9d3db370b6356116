-- (a) GET …/objects/?limit=100, first page: the one statement a perfect server runs. The
-- page holds the latest version of each object (default match[version]=last, latest
-- spec_version first), in (date_added, id, version) order, one row more than shown.
SELECT o.id, o.type, o.spec_version, o.date_added, o.version, o.serialized_data::text,
       a.pk IS NOT NULL
FROM public.opentaxii_stixobject o
LEFT JOIN public.taxiid_stixobject_spec_absent a ON a.pk = o.pk
WHERE o.collection_id = :coll::uuid
  AND NOT EXISTS (
      SELECT 1 FROM public.opentaxii_stixobject s
      WHERE s.collection_id = o.collection_id AND s.id = o.id
        AND (s.spec_version > o.spec_version OR (s.spec_version = o.spec_version AND s.version > o.version)))
ORDER BY o.date_added, o.id, o.version
LIMIT 101;
