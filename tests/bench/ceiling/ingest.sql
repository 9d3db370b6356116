-- (e) one envelope of :per new ~1 KB indicators (the object text comes from the
-- bench_template table, so no client has to send it): what taxiid's Add Objects commits —
-- the collection's writer lock, the next date_added, the objects, a complete status with
-- one success detail per object, and the status owner.
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('taxiid.stixobject.' || :coll::text));
SELECT greatest(clock_timestamp() AT TIME ZONE 'UTC', max(date_added) + interval '1 microsecond')
FROM public.opentaxii_stixobject WHERE collection_id = :coll::uuid;
WITH new AS (
    SELECT 'indicator--' || gen_random_uuid() AS id, g FROM generate_series(1, :per) g
), stored AS (
    INSERT INTO public.opentaxii_stixobject
        (pk, id, collection_id, type, spec_version, date_added, version, serialized_data)
    SELECT gen_random_uuid(), new.id, :coll::uuid, 'indicator', '2.1',
           (clock_timestamp() AT TIME ZONE 'UTC') + g * interval '1 microsecond',
           '2024-06-01 12:00:00', replace(t.data, 'NNN', g::text)::json
    FROM new, bench_template t
    ON CONFLICT (collection_id, id, version) DO NOTHING
), job AS (
    INSERT INTO public.opentaxii_job
        (id, api_root_id, status, request_timestamp, completed_timestamp,
         total_count, success_count, failure_count, pending_count)
    VALUES (gen_random_uuid(), :root::uuid, 'complete', clock_timestamp() AT TIME ZONE 'UTC',
            clock_timestamp() AT TIME ZONE 'UTC', :per, :per, 0, 0)
    RETURNING id
), details AS (
    INSERT INTO public.opentaxii_job_detail (id, job_id, stix_id, version, message, status)
    SELECT gen_random_uuid(), job.id, new.id, '2024-06-01 12:00:00', '', 'success' FROM job, new
)
INSERT INTO public.taxiid_job_owner (job_id, account_id) SELECT id, NULL FROM job;
COMMIT;
