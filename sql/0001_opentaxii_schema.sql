-- 0001: the schema OpenTAXII 0.9.3 creates (auth, TAXII 1.x and TAXII 2.1 tables in one
-- database), object for object as in its `pg_dump --schema-only`: same tables, column order,
-- types, enums, sequences, defaults, constraint and index names, foreign keys.
--
-- Every object is created only if missing, so a database OpenTAXII already created is
-- adopted untouched and OpenTAXII can keep running on it. Sequence ownership and column
-- defaults are set only together with a sequence created here: on an existing table they
-- would need its ownership and an exclusive lock for no change.
--
-- Runs inside the migration transaction (src/db/migrate.rs). Names are schema-qualified.

-- Enum types (TAXII 2.1 jobs).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type t
                   JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
                   WHERE n.nspname = 'public' AND t.typname = 'job_detail_status_enum') THEN
        CREATE TYPE public.job_detail_status_enum AS ENUM (
            'success',
            'failure',
            'pending'
        );
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type t
                   JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
                   WHERE n.nspname = 'public' AND t.typname = 'job_status_enum') THEN
        CREATE TYPE public.job_status_enum AS ENUM (
            'pending',
            'complete'
        );
    END IF;
END
$$;

-- Tables.
CREATE TABLE IF NOT EXISTS public.accounts (
    id integer NOT NULL,
    username character varying(256),
    password_hash character varying(256),
    is_admin boolean,
    _permissions text NOT NULL
);

CREATE TABLE IF NOT EXISTS public.collection_to_content_block (
    collection_id integer NOT NULL,
    content_block_id integer NOT NULL
);

CREATE TABLE IF NOT EXISTS public.content_blocks (
    date_created timestamp with time zone,
    id integer NOT NULL,
    message text,
    timestamp_label timestamp with time zone,
    inbox_message_id integer,
    content bytea NOT NULL,
    binding_id character varying(300),
    binding_subtype character varying(300)
);

CREATE TABLE IF NOT EXISTS public.data_collections (
    date_created timestamp with time zone,
    id integer NOT NULL,
    name character varying(300),
    type character varying(150),
    description text,
    accept_all_content boolean,
    bindings text,
    available boolean,
    volume integer
);

CREATE TABLE IF NOT EXISTS public.inbox_messages (
    date_created timestamp with time zone,
    id integer NOT NULL,
    message_id text,
    result_id text,
    record_count integer,
    partial_count boolean,
    subscription_collection_name text,
    subscription_id text,
    exclusive_begin_timestamp_label timestamp with time zone,
    inclusive_end_timestamp_label timestamp with time zone,
    original_message bytea NOT NULL,
    content_block_count integer,
    destination_collections text,
    service_id character varying(150)
);

CREATE TABLE IF NOT EXISTS public.opentaxii_api_root (
    id uuid NOT NULL,
    "default" boolean NOT NULL,
    title character varying(100) NOT NULL,
    description text,
    is_public boolean NOT NULL
);

CREATE TABLE IF NOT EXISTS public.opentaxii_collection (
    id uuid NOT NULL,
    api_root_id uuid,
    title character varying(100) NOT NULL,
    description text,
    alias character varying(100),
    is_public boolean NOT NULL,
    is_public_write boolean NOT NULL
);

CREATE TABLE IF NOT EXISTS public.opentaxii_job (
    id uuid NOT NULL,
    api_root_id uuid,
    status public.job_status_enum,
    request_timestamp timestamp without time zone,
    completed_timestamp timestamp without time zone,
    total_count integer,
    success_count integer,
    failure_count integer,
    pending_count integer
);

CREATE TABLE IF NOT EXISTS public.opentaxii_job_detail (
    id uuid NOT NULL,
    job_id uuid,
    stix_id character varying(100),
    version timestamp without time zone,
    message text,
    status public.job_detail_status_enum
);

CREATE TABLE IF NOT EXISTS public.opentaxii_stixobject (
    pk uuid NOT NULL,
    id character varying(100),
    collection_id uuid,
    type character varying(50),
    spec_version character varying(10),
    date_added timestamp without time zone,
    version timestamp without time zone,
    serialized_data json
);

CREATE TABLE IF NOT EXISTS public.result_sets (
    date_created timestamp with time zone,
    id character varying(150) NOT NULL,
    collection_id integer,
    bindings text,
    begin_time timestamp with time zone,
    end_time timestamp with time zone
);

CREATE TABLE IF NOT EXISTS public.service_to_collection (
    service_id character varying(150) NOT NULL,
    collection_id integer NOT NULL
);

CREATE TABLE IF NOT EXISTS public.services (
    date_created timestamp with time zone,
    id character varying(150) NOT NULL,
    type character varying(150),
    _properties text NOT NULL,
    date_updated timestamp with time zone
);

CREATE TABLE IF NOT EXISTS public.subscriptions (
    date_created timestamp with time zone,
    id character varying(150) NOT NULL,
    collection_id integer,
    params text,
    status character varying(150),
    service_id character varying(150)
);

-- The four serial ids (SQLAlchemy `Integer, primary_key=True`): sequence, owner, default.
DO $$
BEGIN
    IF to_regclass('public.accounts_id_seq') IS NULL THEN
        CREATE SEQUENCE public.accounts_id_seq
            AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
        ALTER SEQUENCE public.accounts_id_seq OWNED BY public.accounts.id;
        ALTER TABLE ONLY public.accounts
            ALTER COLUMN id SET DEFAULT nextval('public.accounts_id_seq'::regclass);
    END IF;
    IF to_regclass('public.content_blocks_id_seq') IS NULL THEN
        CREATE SEQUENCE public.content_blocks_id_seq
            AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
        ALTER SEQUENCE public.content_blocks_id_seq OWNED BY public.content_blocks.id;
        ALTER TABLE ONLY public.content_blocks
            ALTER COLUMN id SET DEFAULT nextval('public.content_blocks_id_seq'::regclass);
    END IF;
    IF to_regclass('public.data_collections_id_seq') IS NULL THEN
        CREATE SEQUENCE public.data_collections_id_seq
            AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
        ALTER SEQUENCE public.data_collections_id_seq OWNED BY public.data_collections.id;
        ALTER TABLE ONLY public.data_collections
            ALTER COLUMN id SET DEFAULT nextval('public.data_collections_id_seq'::regclass);
    END IF;
    IF to_regclass('public.inbox_messages_id_seq') IS NULL THEN
        CREATE SEQUENCE public.inbox_messages_id_seq
            AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
        ALTER SEQUENCE public.inbox_messages_id_seq OWNED BY public.inbox_messages.id;
        ALTER TABLE ONLY public.inbox_messages
            ALTER COLUMN id SET DEFAULT nextval('public.inbox_messages_id_seq'::regclass);
    END IF;
END
$$;

-- Primary keys and unique constraints, before the foreign keys that reference them.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('public.accounts', 'accounts_pkey', 'PRIMARY KEY (id)'),
        ('public.accounts', 'accounts_username_key', 'UNIQUE (username)'),
        ('public.collection_to_content_block', 'collection_to_content_block_pkey',
            'PRIMARY KEY (collection_id, content_block_id)'),
        ('public.content_blocks', 'content_blocks_pkey', 'PRIMARY KEY (id)'),
        ('public.data_collections', 'data_collections_pkey', 'PRIMARY KEY (id)'),
        ('public.inbox_messages', 'inbox_messages_pkey', 'PRIMARY KEY (id)'),
        ('public.opentaxii_api_root', 'opentaxii_api_root_pkey', 'PRIMARY KEY (id)'),
        ('public.opentaxii_collection', 'opentaxii_collection_api_root_id_alias_key',
            'UNIQUE (api_root_id, alias)'),
        ('public.opentaxii_collection', 'opentaxii_collection_pkey', 'PRIMARY KEY (id)'),
        ('public.opentaxii_job_detail', 'opentaxii_job_detail_pkey', 'PRIMARY KEY (id)'),
        ('public.opentaxii_job', 'opentaxii_job_pkey', 'PRIMARY KEY (id)'),
        ('public.opentaxii_stixobject', 'opentaxii_stixobject_collection_id_id_version_key',
            'UNIQUE (collection_id, id, version)'),
        ('public.opentaxii_stixobject', 'opentaxii_stixobject_pkey', 'PRIMARY KEY (pk)'),
        ('public.result_sets', 'result_sets_pkey', 'PRIMARY KEY (id)'),
        ('public.service_to_collection', 'service_to_collection_pkey',
            'PRIMARY KEY (service_id, collection_id)'),
        ('public.services', 'services_pkey', 'PRIMARY KEY (id)'),
        ('public.subscriptions', 'subscriptions_pkey', 'PRIMARY KEY (id)'),
        -- Foreign keys.
        ('public.collection_to_content_block', 'collection_to_content_block_collection_id_fkey',
            'FOREIGN KEY (collection_id) REFERENCES public.data_collections(id) ON DELETE CASCADE'),
        ('public.collection_to_content_block', 'collection_to_content_block_content_block_id_fkey',
            'FOREIGN KEY (content_block_id) REFERENCES public.content_blocks(id) ON DELETE CASCADE'),
        ('public.content_blocks', 'content_blocks_inbox_message_id_fkey',
            'FOREIGN KEY (inbox_message_id) REFERENCES public.inbox_messages(id) ON UPDATE CASCADE ON DELETE CASCADE'),
        ('public.inbox_messages', 'inbox_messages_service_id_fkey',
            'FOREIGN KEY (service_id) REFERENCES public.services(id) ON UPDATE CASCADE ON DELETE CASCADE'),
        ('public.opentaxii_collection', 'opentaxii_collection_api_root_id_fkey',
            'FOREIGN KEY (api_root_id) REFERENCES public.opentaxii_api_root(id) ON DELETE CASCADE'),
        ('public.opentaxii_job', 'opentaxii_job_api_root_id_fkey',
            'FOREIGN KEY (api_root_id) REFERENCES public.opentaxii_api_root(id) ON DELETE CASCADE'),
        ('public.opentaxii_job_detail', 'opentaxii_job_detail_job_id_fkey',
            'FOREIGN KEY (job_id) REFERENCES public.opentaxii_job(id) ON DELETE CASCADE'),
        ('public.opentaxii_stixobject', 'opentaxii_stixobject_collection_id_fkey',
            'FOREIGN KEY (collection_id) REFERENCES public.opentaxii_collection(id) ON DELETE CASCADE'),
        ('public.result_sets', 'result_sets_collection_id_fkey',
            'FOREIGN KEY (collection_id) REFERENCES public.data_collections(id) ON UPDATE CASCADE ON DELETE CASCADE'),
        ('public.service_to_collection', 'service_to_collection_collection_id_fkey',
            'FOREIGN KEY (collection_id) REFERENCES public.data_collections(id) ON DELETE CASCADE'),
        ('public.service_to_collection', 'service_to_collection_service_id_fkey',
            'FOREIGN KEY (service_id) REFERENCES public.services(id) ON DELETE CASCADE'),
        ('public.subscriptions', 'subscriptions_collection_id_fkey',
            'FOREIGN KEY (collection_id) REFERENCES public.data_collections(id) ON UPDATE CASCADE ON DELETE CASCADE'),
        ('public.subscriptions', 'subscriptions_service_id_fkey',
            'FOREIGN KEY (service_id) REFERENCES public.services(id) ON UPDATE CASCADE ON DELETE CASCADE')
    ) AS t(tbl, name, def)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
                       WHERE conrelid = c.tbl::regclass AND conname = c.name) THEN
            -- Only constants from the list above are spliced in.
            EXECUTE format('ALTER TABLE ONLY %s ADD CONSTRAINT %I %s', c.tbl, c.name, c.def);
        END IF;
    END LOOP;
END
$$;

-- Indexes.
CREATE INDEX IF NOT EXISTS ix_collection_to_content_block_content_block_id
    ON public.collection_to_content_block USING btree (content_block_id);
CREATE INDEX IF NOT EXISTS ix_content_blocks_binding_id ON public.content_blocks USING btree (binding_id);
CREATE INDEX IF NOT EXISTS ix_content_blocks_binding_subtype ON public.content_blocks USING btree (binding_subtype);
CREATE INDEX IF NOT EXISTS ix_content_blocks_timestamp_label ON public.content_blocks USING btree (timestamp_label);
CREATE UNIQUE INDEX IF NOT EXISTS ix_data_collections_name ON public.data_collections USING btree (name);
CREATE INDEX IF NOT EXISTS ix_opentaxii_api_root_title ON public.opentaxii_api_root USING btree (title);
CREATE INDEX IF NOT EXISTS ix_opentaxii_collection_title ON public.opentaxii_collection USING btree (title);
CREATE INDEX IF NOT EXISTS ix_opentaxii_job_api_root_id_id ON public.opentaxii_job USING btree (api_root_id, id);
CREATE INDEX IF NOT EXISTS ix_opentaxii_job_detail_job_id ON public.opentaxii_job_detail USING btree (job_id);
CREATE INDEX IF NOT EXISTS ix_opentaxii_job_detail_stix_id ON public.opentaxii_job_detail USING btree (stix_id);
CREATE INDEX IF NOT EXISTS ix_opentaxii_stixobject_collection_id
    ON public.opentaxii_stixobject USING btree (collection_id);
CREATE INDEX IF NOT EXISTS ix_opentaxii_stixobject_date_added ON public.opentaxii_stixobject USING btree (date_added);
-- OpenTAXII master (0.10) replaced this index by ix_opentaxii_stixobject_col_date_added_id;
-- a database created by master keeps exactly its own indexes.
DO $$
BEGIN
    IF to_regclass('public.ix_opentaxii_stixobject_col_date_added_id') IS NULL THEN
        CREATE INDEX IF NOT EXISTS ix_opentaxii_stixobject_date_added_id
            ON public.opentaxii_stixobject USING btree (date_added, id);
    END IF;
END
$$;
CREATE INDEX IF NOT EXISTS ix_opentaxii_stixobject_id ON public.opentaxii_stixobject USING btree (id);
CREATE INDEX IF NOT EXISTS ix_opentaxii_stixobject_spec_version
    ON public.opentaxii_stixobject USING btree (spec_version);
CREATE INDEX IF NOT EXISTS ix_opentaxii_stixobject_type ON public.opentaxii_stixobject USING btree (type);
CREATE INDEX IF NOT EXISTS ix_opentaxii_stixobject_version ON public.opentaxii_stixobject USING btree (version);
