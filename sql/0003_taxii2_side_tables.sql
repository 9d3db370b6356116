-- 0003: what OpenTAXII's TAXII 2.1 tables have no column for, in taxiid_ tables that follow
-- OpenTAXII's rows (ON DELETE CASCADE), so OpenTAXII can keep writing and deleting them.

-- Who created a status (job): readable by that account and by admins. NULL = anonymous.
-- Jobs without a row here were written by OpenTAXII.
CREATE TABLE IF NOT EXISTS public.taxiid_job_owner (
    job_id uuid PRIMARY KEY REFERENCES public.opentaxii_job (id) ON DELETE CASCADE,
    account_id integer
);

-- Objects posted without a `spec_version` member (STIX 2.0 objects, say). The column
-- opentaxii_stixobject.spec_version still says which version they are for filtering; this
-- table lets taxiid return them without a member they never had.
CREATE TABLE IF NOT EXISTS public.taxiid_stixobject_spec_absent (
    pk uuid PRIMARY KEY REFERENCES public.opentaxii_stixobject (pk) ON DELETE CASCADE
);
