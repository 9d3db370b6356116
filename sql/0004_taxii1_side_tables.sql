-- 0004: what OpenTAXII's TAXII 1 tables have no column for, in taxiid_ tables that follow
-- OpenTAXII's rows (ON DELETE CASCADE), so OpenTAXII can keep writing and deleting them.

-- How taxiid pages a poll result set (OpenTAXII's `result_sets` holds only the query).
-- Blocks above max_block_id arrived after the first part and never join the result set; the
-- part size, response type and subscription are the original poll's. Result sets without a
-- row here were written by OpenTAXII and are paged its way.
CREATE TABLE IF NOT EXISTS public.taxiid_result_set (
    result_set_id character varying(150) PRIMARY KEY
        REFERENCES public.result_sets (id) ON UPDATE CASCADE ON DELETE CASCADE,
    max_block_id integer NOT NULL,
    part_size integer NOT NULL,
    response_type character varying(20) NOT NULL,
    subscription_id character varying(150),
    -- The number of the last part, once a part has been served with more="false".
    last_part integer
);

-- Where part `part_number` (2, 3, …) starts: strictly after this (timestamp_label, id) key,
-- the last block of the part before it. Keys, not offsets, so parts never shift.
CREATE TABLE IF NOT EXISTS public.taxiid_result_set_part (
    result_set_id character varying(150) NOT NULL
        REFERENCES public.result_sets (id) ON UPDATE CASCADE ON DELETE CASCADE,
    part_number integer NOT NULL,
    after_label timestamp with time zone NOT NULL,
    after_block_id integer NOT NULL,
    PRIMARY KEY (result_set_id, part_number)
);

-- Who created a subscription: STATUS without an id lists a caller's own subscriptions only.
-- NULL = anonymous; subscriptions without a row here were created by OpenTAXII.
CREATE TABLE IF NOT EXISTS public.taxiid_subscription_owner (
    subscription_id character varying(150) PRIMARY KEY
        REFERENCES public.subscriptions (id) ON UPDATE CASCADE ON DELETE CASCADE,
    account_id integer
);

-- Poll order and part keys: (timestamp_label, id).
CREATE INDEX IF NOT EXISTS taxiid_content_blocks_label_id
    ON public.content_blocks USING btree (timestamp_label, id);
