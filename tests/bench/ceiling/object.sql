-- (c) GET …/objects/{id}/ of a random existing object: its latest version. The id is
-- gen.py's object_id(k).
\set k random(0, :objects - 1)
\set t :k % 10
SELECT o.id, o.type, o.spec_version, o.date_added, o.version, o.serialized_data::text,
       a.pk IS NOT NULL
FROM public.opentaxii_stixobject o
LEFT JOIN public.taxiid_stixobject_spec_absent a ON a.pk = o.pk
WHERE o.collection_id = :coll::uuid
  AND o.id = (CASE WHEN :t::int < 6 THEN 'indicator' WHEN :t::int < 8 THEN 'malware' ELSE 'relationship' END)
             || '--' || lpad(to_hex(:k::bigint), 8, '0') || '-0000-4000-8000-'
             || lpad(to_hex((:k::bigint * 2654435761) % 281474976710656), 12, '0')
  AND NOT EXISTS (
      SELECT 1 FROM public.opentaxii_stixobject s
      WHERE s.collection_id = o.collection_id AND s.id = o.id
        AND (s.spec_version > o.spec_version OR (s.spec_version = o.spec_version AND s.version > o.version)))
ORDER BY o.date_added, o.id, o.version
LIMIT 101;
