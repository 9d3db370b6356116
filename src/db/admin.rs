//! Administration queries behind the CLI: accounts, TAXII 2.1 API roots and collections,
//! retention (TAXII 2 objects and jobs, TAXII 1 content blocks). Bulk deletes run in batches
//! so a serving taxiid is never blocked behind one long transaction.

use postgres::GenericClient;

use super::DbError;
use super::accounts::AccountRow;

pub fn accounts(c: &mut impl GenericClient) -> Result<Vec<AccountRow>, DbError> {
    Ok(c
        .query(
            "SELECT id, coalesce(username, ''), coalesce(password_hash, ''), coalesce(is_admin, false), _permissions
             FROM public.accounts ORDER BY username",
            &[],
        )?
        .iter()
        .filter_map(|r| AccountRow::at(r, 0))
        .collect())
}

pub fn add_account(
    c: &mut impl GenericClient,
    username: &str,
    hash: &str,
    admin: bool,
    permissions: &str,
) -> Result<i32, DbError> {
    Ok(c.query_one(
        "INSERT INTO public.accounts (username, password_hash, is_admin, _permissions) VALUES ($1, $2, $3, $4) RETURNING id",
        &[&username, &hash, &admin, &permissions],
    )?
    .get(0))
}

/// Updates the given fields of an account; `false` when there is no such account.
pub fn update_account(
    c: &mut impl GenericClient,
    username: &str,
    hash: Option<&str>,
    admin: Option<bool>,
    permissions: Option<&str>,
) -> Result<bool, DbError> {
    let n = c.execute(
        "UPDATE public.accounts SET password_hash = coalesce($2, password_hash),
                is_admin = coalesce($3, is_admin), _permissions = coalesce($4, _permissions)
         WHERE username = $1",
        &[&username, &hash, &admin, &permissions],
    )?;
    Ok(n > 0)
}

pub fn delete_account(c: &mut impl GenericClient, username: &str) -> Result<bool, DbError> {
    Ok(c.execute("DELETE FROM public.accounts WHERE username = $1", &[&username])? > 0)
}

pub struct RootFields<'a> {
    pub title: Option<&'a str>,
    pub description: Option<Option<&'a str>>,
    pub default: Option<bool>,
    pub public: Option<bool>,
}

/// Serialises commands that make an API root the default (an arbitrary, fixed advisory-lock
/// key: "taxiid" + 2). Without it two concurrent `--default` commands could both clear the
/// others under read committed and leave two defaults; OpenTAXII's schema has no constraint
/// to stop that, and adding one would refuse databases that already break it.
const DEFAULT_ROOT_LOCK: i64 = 0x7461_7869_6964_0002;

fn clear_default(tx: &mut postgres::Transaction<'_>, except: Option<&str>) -> Result<(), DbError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DEFAULT_ROOT_LOCK])?;
    tx.execute(
        r#"UPDATE public.opentaxii_api_root SET "default" = false
           WHERE "default" AND ($1::text IS NULL OR id <> $1::text::uuid)"#,
        &[&except],
    )?;
    Ok(())
}

/// Creates an API root (id chosen or generated); `--default` clears the others in the same
/// transaction, so there is never more than one default.
pub fn add_api_root(c: &mut impl GenericClient, id: Option<&str>, f: &RootFields) -> Result<String, DbError> {
    let mut tx = c.transaction()?;
    if f.default == Some(true) {
        clear_default(&mut tx, None)?;
    }
    let id: String = tx
        .query_one(
            r#"INSERT INTO public.opentaxii_api_root (id, "default", title, description, is_public)
               VALUES (coalesce($1::text::uuid, gen_random_uuid()), $2, $3, $4, $5) RETURNING id::text"#,
            &[
                &id,
                &f.default.unwrap_or(false),
                &f.title.unwrap_or(""),
                &f.description.flatten(),
                &f.public.unwrap_or(false),
            ],
        )?
        .get(0);
    tx.commit()?;
    Ok(id)
}

pub fn update_api_root(c: &mut impl GenericClient, id: &str, f: &RootFields) -> Result<bool, DbError> {
    let mut tx = c.transaction()?;
    if f.default == Some(true) {
        clear_default(&mut tx, Some(id))?;
    }
    let n = tx.execute(
        r#"UPDATE public.opentaxii_api_root SET title = coalesce($2, title),
               description = CASE WHEN $3 THEN $4 ELSE description END,
               "default" = coalesce($5, "default"), is_public = coalesce($6, is_public)
           WHERE id = $1::text::uuid"#,
        &[&id, &f.title, &f.description.is_some(), &f.description.flatten(), &f.default, &f.public],
    )?;
    tx.commit()?;
    Ok(n > 0)
}

pub fn delete_api_root(c: &mut impl GenericClient, id: &str) -> Result<bool, DbError> {
    Ok(c.execute("DELETE FROM public.opentaxii_api_root WHERE id = $1::text::uuid", &[&id])? > 0)
}

pub struct CollectionFields<'a> {
    pub title: Option<&'a str>,
    pub description: Option<Option<&'a str>>,
    pub alias: Option<Option<&'a str>>,
    pub public: Option<bool>,
    pub public_write: Option<bool>,
}

pub fn add_collection(
    c: &mut impl GenericClient,
    root: &str,
    id: Option<&str>,
    f: &CollectionFields,
) -> Result<String, DbError> {
    Ok(c.query_one(
        "INSERT INTO public.opentaxii_collection (id, api_root_id, title, description, alias, is_public, is_public_write)
         VALUES (coalesce($1::text::uuid, gen_random_uuid()), $2::text::uuid, $3, $4, $5, $6, $7) RETURNING id::text",
        &[
            &id,
            &root,
            &f.title.unwrap_or(""),
            &f.description.flatten(),
            &f.alias.flatten(),
            &f.public.unwrap_or(false),
            &f.public_write.unwrap_or(false),
        ],
    )?
    .get(0))
}

pub fn update_collection(
    c: &mut impl GenericClient,
    id: &str,
    f: &CollectionFields,
) -> Result<bool, DbError> {
    let n = c.execute(
        "UPDATE public.opentaxii_collection SET title = coalesce($2, title),
             description = CASE WHEN $3 THEN $4 ELSE description END,
             alias = CASE WHEN $5 THEN $6 ELSE alias END,
             is_public = coalesce($7, is_public), is_public_write = coalesce($8, is_public_write)
         WHERE id = $1::text::uuid",
        &[
            &id,
            &f.title,
            &f.description.is_some(),
            &f.description.flatten(),
            &f.alias.is_some(),
            &f.alias.flatten(),
            &f.public,
            &f.public_write,
        ],
    )?;
    Ok(n > 0)
}

pub fn delete_collection(c: &mut impl GenericClient, id: &str) -> Result<bool, DbError> {
    Ok(c.execute("DELETE FROM public.opentaxii_collection WHERE id = $1::text::uuid", &[&id])? > 0)
}

/// Object counts per collection of a root, for `collection list`.
pub fn object_counts(c: &mut impl GenericClient, root: &str) -> Result<Vec<(String, i64)>, DbError> {
    Ok(c.query(
        "SELECT c.id::text, count(o.pk) FROM public.opentaxii_collection c
             LEFT JOIN public.opentaxii_stixobject o ON o.collection_id = c.id
             WHERE c.api_root_id = $1::text::uuid GROUP BY c.id",
        &[&root],
    )?
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect())
}

const BATCH: i64 = 5000;

/// Deletes one batch of a collection's object versions added before `before` and/or of
/// `type`; returns how many (0: done).
pub fn delete_objects_batch(
    c: &mut impl GenericClient,
    collection: &str,
    before: Option<time::PrimitiveDateTime>,
    type_: Option<&str>,
) -> Result<u64, DbError> {
    Ok(c.execute(
        "DELETE FROM public.opentaxii_stixobject WHERE pk IN (
             SELECT pk FROM public.opentaxii_stixobject
             WHERE collection_id = $1::text::uuid AND ($2::timestamp IS NULL OR date_added < $2)
               AND ($3::varchar IS NULL OR type = $3)
             LIMIT $4)",
        &[&collection, &before, &type_, &BATCH],
    )?)
}

/// Deletes one batch of jobs finished (or, for jobs OpenTAXII left pending forever, requested)
/// before `cutoff`; returns how many.
pub fn delete_jobs_batch(
    c: &mut impl GenericClient,
    cutoff: time::PrimitiveDateTime,
) -> Result<u64, DbError> {
    Ok(c.execute(
        "DELETE FROM public.opentaxii_job WHERE id IN (
             SELECT id FROM public.opentaxii_job
             WHERE coalesce(completed_timestamp, request_timestamp) < $1 LIMIT $2)",
        &[&cutoff, &BATCH],
    )?)
}

/// TAXII 1 collections by name: `(name, id)` for those that exist.
pub fn taxii1_collection_ids(
    c: &mut impl GenericClient,
    names: &[String],
) -> Result<Vec<(String, i32)>, DbError> {
    Ok(c.query("SELECT name, id FROM public.data_collections WHERE name = ANY($1)", &[&names])?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// What one batch of `delete_blocks_batch` removed.
pub struct BlocksDeleted {
    pub blocks: u64,
    pub messages: u64,
    /// Collections that lost links (their `volume` was recounted).
    pub collections: Vec<i32>,
}

/// Deletes one batch of content blocks linked to any of `collections` with `timestamp_label`
/// in (begin, end], from every collection (as OpenTAXII does), in one transaction. The volume
/// of every collection that lost a block is recounted (OpenTAXII recounts only the named one).
/// With `with_messages`, the inbox messages that delivered them go too once none of their
/// blocks remain (OpenTAXII deletes them regardless, and the cascade takes their other blocks).
pub fn delete_blocks_batch(
    c: &mut postgres::Client,
    collections: &[i32],
    begin: Option<time::OffsetDateTime>,
    end: Option<time::OffsetDateTime>,
    with_messages: bool,
) -> Result<BlocksDeleted, DbError> {
    let mut tx = c.transaction()?;
    let ids: Vec<i32> = tx
        .query(
            "SELECT b.id FROM public.content_blocks b
             WHERE EXISTS (SELECT 1 FROM public.collection_to_content_block l
                           WHERE l.content_block_id = b.id AND l.collection_id = ANY($1))
               AND ($2::timestamptz IS NULL OR b.timestamp_label > $2)
               AND ($3::timestamptz IS NULL OR b.timestamp_label <= $3)
             ORDER BY b.id LIMIT $4",
            &[&collections, &begin, &end, &BATCH],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if ids.is_empty() {
        return Ok(BlocksDeleted { blocks: 0, messages: 0, collections: Vec::new() });
    }
    let affected: Vec<i32> = tx
        .query(
            "SELECT DISTINCT collection_id FROM public.collection_to_content_block WHERE content_block_id = ANY($1)",
            &[&ids],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let messages: Vec<i32> = if with_messages {
        tx.query(
            "SELECT DISTINCT inbox_message_id FROM public.content_blocks
             WHERE id = ANY($1) AND inbox_message_id IS NOT NULL",
            &[&ids],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect()
    } else {
        Vec::new()
    };
    let blocks = tx.execute("DELETE FROM public.content_blocks WHERE id = ANY($1)", &[&ids])?;
    let messages = if messages.is_empty() {
        0
    } else {
        tx.execute(
            "DELETE FROM public.inbox_messages m WHERE m.id = ANY($1)
               AND NOT EXISTS (SELECT 1 FROM public.content_blocks b WHERE b.inbox_message_id = m.id)",
            &[&messages],
        )?
    };
    tx.execute(
        "UPDATE public.data_collections d SET volume =
             (SELECT count(*) FROM public.collection_to_content_block l WHERE l.collection_id = d.id)
         WHERE d.id = ANY($1)",
        &[&affected],
    )?;
    tx.commit()?;
    Ok(BlocksDeleted { blocks, messages, collections: affected })
}

/// `(name, volume)` of TAXII 1 collections by id, by name.
pub fn taxii1_volumes(c: &mut impl GenericClient, ids: &[i32]) -> Result<Vec<(String, i32)>, DbError> {
    Ok(c.query(
        "SELECT coalesce(name, ''), coalesce(volume, 0) FROM public.data_collections WHERE id = ANY($1) ORDER BY name",
        &[&ids],
    )?
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect())
}
