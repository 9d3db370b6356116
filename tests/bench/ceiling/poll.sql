-- (f) TAXII 1.1 Poll of a random window of 100 blocks (gen.py labels block i at
-- 2024-01-01 + i s): the blocks with their content, in (timestamp_label, id) order.
\set s random(0, :blocks - 100)
SELECT b.id, b.timestamp_label, b.binding_id, b.binding_subtype, b.message, b.content
FROM public.collection_to_content_block l
JOIN public.content_blocks b ON b.id = l.content_block_id
WHERE l.collection_id = :t1coll
  AND b.timestamp_label > timestamptz '2024-01-01 00:00:00+00' + make_interval(secs => :s)
  AND b.timestamp_label <= timestamptz '2024-01-01 00:00:00+00' + make_interval(secs => :s + 100)
ORDER BY b.timestamp_label, b.id
LIMIT 101;
