//! Queries on OpenTAXII's TAXII 2.1 tables (`opentaxii_api_root`, `opentaxii_collection`,
//! `opentaxii_stixobject`, `opentaxii_job`, `opentaxii_job_detail`) and taxiid's side tables.
//! Every statement is fixed text with parameters; filters that a request may omit are
//! switched off by NULL parameters, never by building SQL from input.
//!
//! Timestamp columns are naive UTC (`timestamp without time zone`), read and written as
//! `time::PrimitiveDateTime`.

use postgres::GenericClient;
use time::PrimitiveDateTime;

use super::DbError;

#[derive(Clone, Debug)]
pub struct ApiRoot {
    pub id: String,
    pub default: bool,
    pub title: String,
    pub description: Option<String>,
    pub is_public: bool,
}

#[derive(Clone, Debug)]
pub struct Collection {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub alias: Option<String>,
    pub is_public: bool,
    pub is_public_write: bool,
}

const ROOT_COLUMNS: &str = r#"id::text, "default", title, description, is_public"#;

fn api_root(r: &postgres::Row) -> ApiRoot {
    ApiRoot { id: r.get(0), default: r.get(1), title: r.get(2), description: r.get(3), is_public: r.get(4) }
}

/// All API roots, ordered by title (then id, for a stable order).
pub fn api_roots(c: &mut impl GenericClient) -> Result<Vec<ApiRoot>, DbError> {
    let sql = format!("SELECT {ROOT_COLUMNS} FROM public.opentaxii_api_root ORDER BY title, id");
    Ok(c.query(&sql, &[])?.iter().map(api_root).collect())
}

/// An API root by UUID, or the default root for `default`. A non-UUID is simply not found.
pub fn find_api_root(c: &mut impl GenericClient, key: &str) -> Result<Option<ApiRoot>, DbError> {
    let row = if key == "default" {
        let sql = format!(
            r#"SELECT {ROOT_COLUMNS} FROM public.opentaxii_api_root WHERE "default" ORDER BY title LIMIT 1"#
        );
        c.query_opt(&sql, &[])?
    } else if is_uuid(key) {
        let sql = format!("SELECT {ROOT_COLUMNS} FROM public.opentaxii_api_root WHERE id = $1::text::uuid");
        c.query_opt(&sql, &[&key])?
    } else {
        None
    };
    Ok(row.as_ref().map(api_root))
}

const COLLECTION_COLUMNS: &str = "id::text, title, description, alias, is_public, is_public_write";

fn collection(r: &postgres::Row) -> Collection {
    Collection {
        id: r.get(0),
        title: r.get(1),
        description: r.get(2),
        alias: r.get(3),
        is_public: r.get(4),
        is_public_write: r.get(5),
    }
}

pub fn collections(c: &mut impl GenericClient, root: &str) -> Result<Vec<Collection>, DbError> {
    let sql = format!(
        "SELECT {COLLECTION_COLUMNS} FROM public.opentaxii_collection
         WHERE api_root_id = $1::text::uuid ORDER BY title, id"
    );
    Ok(c.query(&sql, &[&root])?.iter().map(collection).collect())
}

/// A collection of `root` by UUID or alias.
pub fn find_collection(
    c: &mut impl GenericClient,
    root: &str,
    key: &str,
) -> Result<Option<Collection>, DbError> {
    // The uuid cast must only ever see a UUID, so the two lookups are separate statements.
    let row = if is_uuid(key) {
        let sql = format!(
            "SELECT {COLLECTION_COLUMNS} FROM public.opentaxii_collection
             WHERE api_root_id = $1::text::uuid AND (alias = $2 OR id = $2::text::uuid)
             ORDER BY (alias IS NOT DISTINCT FROM $2) DESC LIMIT 1"
        );
        c.query_opt(&sql, &[&root, &key])?
    } else {
        let sql = format!(
            "SELECT {COLLECTION_COLUMNS} FROM public.opentaxii_collection
             WHERE api_root_id = $1::text::uuid AND alias = $2"
        );
        c.query_opt(&sql, &[&root, &key])?
    };
    Ok(row.as_ref().map(collection))
}

/// Whether the collection holds STIX 2.0 objects (for its `media_types`).
pub fn holds_spec_20(c: &mut impl GenericClient, collection: &str) -> Result<bool, DbError> {
    let row = c.query_one(
        "SELECT EXISTS (SELECT 1 FROM public.opentaxii_stixobject
                        WHERE collection_id = $1::text::uuid AND spec_version = '2.0')",
        &[&collection],
    )?;
    Ok(row.get(0))
}

/// `match[version]`: which versions of each object qualify (OR-ed).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Versions {
    pub all: bool,
    pub first: bool,
    pub last: bool,
    pub at: Vec<PrimitiveDateTime>,
}

/// A filtered, keyset-paged read of one collection's object versions.
#[derive(Clone, Debug, Default)]
pub struct ObjectQuery {
    pub collection: String,
    pub added_after: Option<PrimitiveDateTime>,
    pub ids: Option<Vec<String>>,
    pub types: Option<Vec<String>>,
    /// Explicit `match[spec_version]`; `None` applies the "latest spec version" default.
    pub spec_versions: Option<Vec<String>>,
    pub versions: Versions,
    /// Rows strictly after this (date_added, id, version) key.
    pub after: Option<(PrimitiveDateTime, String, PrimitiveDateTime)>,
    pub limit: i64,
}

pub struct ObjectRow {
    pub id: String,
    pub type_: String,
    pub spec_version: String,
    pub spec_absent: bool,
    pub date_added: PrimitiveDateTime,
    pub version: PrimitiveDateTime,
    /// `serialized_data` as stored: the object minus id, type and spec_version.
    pub data: String,
}

// The filter shared by reads and deletes. $1 collection, $2 added_after, $3 ids, $4 types,
// $5 explicit spec versions, $6 all, $7 version timestamps, $8 last, $9 first.
// Defaults follow the checklist's order: explicit filters, then the spec_version default,
// then the version default. Each NOT EXISTS probes the (collection_id, id, version) index.
const FILTER: &str = "
    o.collection_id = $1::text::uuid
    AND ($2::timestamp IS NULL OR o.date_added > $2)
    AND ($3::varchar[] IS NULL OR o.id = ANY($3))
    AND ($4::varchar[] IS NULL OR o.type = ANY($4))
    AND ($5::varchar[] IS NULL OR o.spec_version = ANY($5))
    AND ($5::varchar[] IS NOT NULL OR NOT EXISTS (
        SELECT 1 FROM public.opentaxii_stixobject s
        WHERE s.collection_id = o.collection_id AND s.id = o.id AND s.spec_version > o.spec_version
          AND ($2::timestamp IS NULL OR s.date_added > $2)))
    AND ($6
        OR o.version = ANY($7::timestamp[])
        OR ($8 AND NOT EXISTS (
            SELECT 1 FROM public.opentaxii_stixobject s
            WHERE s.collection_id = o.collection_id AND s.id = o.id AND s.version > o.version
              AND ($2::timestamp IS NULL OR s.date_added > $2)
              AND (($5::varchar[] IS NULL AND s.spec_version = o.spec_version) OR s.spec_version = ANY($5))))
        OR ($9 AND NOT EXISTS (
            SELECT 1 FROM public.opentaxii_stixobject s
            WHERE s.collection_id = o.collection_id AND s.id = o.id AND s.version < o.version
              AND ($2::timestamp IS NULL OR s.date_added > $2)
              AND (($5::varchar[] IS NULL AND s.spec_version = o.spec_version) OR s.spec_version = ANY($5)))))";

/// One page of matching object versions, ascending by (date_added, id, version), at most
/// `limit` rows (callers ask for one more than they show to learn whether there is more).
pub fn objects(c: &mut impl GenericClient, q: &ObjectQuery) -> Result<Vec<ObjectRow>, DbError> {
    let sql = format!(
        "SELECT o.id, coalesce(o.type, split_part(o.id, '--', 1)), coalesce(o.spec_version, '2.1'),
                EXISTS (SELECT 1 FROM public.taxiid_stixobject_spec_absent a WHERE a.pk = o.pk),
                o.date_added, o.version, coalesce(o.serialized_data::text, '{{}}')
         FROM public.opentaxii_stixobject o
         WHERE {FILTER}
           AND ($10::timestamp IS NULL OR (o.date_added, o.id, o.version) > ($10, $11, $12))
         ORDER BY o.date_added, o.id, o.version
         LIMIT $13"
    );
    let (ad, ai, av) = match &q.after {
        Some((d, i, v)) => (Some(*d), Some(i.clone()), Some(*v)),
        None => (None, None, None),
    };
    let v = &q.versions;
    let rows = c.query(
        &sql,
        &[
            &q.collection,
            &q.added_after,
            &q.ids,
            &q.types,
            &q.spec_versions,
            &v.all,
            &v.at,
            &v.last,
            &v.first,
            &ad,
            &ai,
            &av,
            &q.limit,
        ],
    )?;
    Ok(rows
        .iter()
        .map(|r| ObjectRow {
            id: r.get(0),
            type_: r.get(1),
            spec_version: r.get(2),
            spec_absent: r.get(3),
            date_added: r.get(4),
            version: r.get(5),
            data: r.get(6),
        })
        .collect())
}

/// Whether any version of `id` is in the collection (404 versus an empty page).
pub fn object_exists(c: &mut impl GenericClient, collection: &str, id: &str) -> Result<bool, DbError> {
    let row = c.query_one(
        "SELECT EXISTS (SELECT 1 FROM public.opentaxii_stixobject
                        WHERE collection_id = $1::text::uuid AND id = $2)",
        &[&collection, &id],
    )?;
    Ok(row.get(0))
}

/// Deletes the versions of one object the query matches; returns how many.
pub fn delete_objects(c: &mut impl GenericClient, q: &ObjectQuery) -> Result<u64, DbError> {
    let sql = format!("DELETE FROM public.opentaxii_stixobject o WHERE {FILTER}");
    let v = &q.versions;
    Ok(c.execute(
        &sql,
        &[
            &q.collection,
            &q.added_after,
            &q.ids,
            &q.types,
            &q.spec_versions,
            &v.all,
            &v.at,
            &v.last,
            &v.first,
        ],
    )?)
}

pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices()
            .all(|(i, ch)| if [8, 13, 18, 23].contains(&i) { ch == '-' } else { ch.is_ascii_hexdigit() })
}
