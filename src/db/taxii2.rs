//! Queries on OpenTAXII's TAXII 2.1 tables (`opentaxii_api_root`, `opentaxii_collection`,
//! `opentaxii_stixobject`, `opentaxii_job`, `opentaxii_job_detail`) and taxiid's side tables.
//! Every statement is fixed text with parameters; filters that a request may omit are
//! switched off by NULL parameters, never by building SQL from input.
//!
//! Timestamp columns are naive UTC (`timestamp without time zone`), read and written as
//! `time::PrimitiveDateTime`.
//!
//! The statements of every request (admission, a page, an object) are prepared once per pooled
//! connection. Their generic plans must be good for any parameters, so a filter the request
//! may omit is switched off by a NULL only where it is a plain filter; bounds that position an
//! index scan take `coalesce($n, '-infinity')` instead (still an index condition).

use postgres::GenericClient;
use time::PrimitiveDateTime;

use super::DbError;
use super::accounts::AccountRow;
use super::pool::{Conn, prepared};

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

/// What a TAXII 2.1 request names, looked up together in one round trip.
#[derive(Debug, Default)]
pub struct AdmissionKey<'a> {
    /// The account of a verified bearer token.
    pub account_id: Option<i32>,
    /// The account of HTTP Basic credentials (verified after the lookup).
    pub username: Option<&'a str>,
    /// The API root segment (`default` or a UUID); `None` when the route has none.
    pub root: Option<&'a str>,
    /// The collection segment (UUID or alias) within that root; `None` when the route has none.
    pub collection: Option<&'a str>,
}

#[derive(Default)]
pub struct Admission {
    pub account: Option<AccountRow>,
    pub root: Option<ApiRoot>,
    pub collection: Option<Collection>,
}

// The lookups of `find_api_root`, a collection by UUID or alias within it, and
// `accounts::by_id`/`by_username`, as one statement: admission needs all three first. The
// placeholders are arguments: account id, username, "default" root, root UUID, collection key,
// collection UUID (the uuid casts only ever see a UUID; anything else comes as NULL), and
// more columns.
macro_rules! admission {
    ($id:literal, $user:literal, $default:literal, $root:literal, $key:literal, $coll:literal, $more:literal) => {
        concat!(
            r#"SELECT a.id, a.username, a.password_hash, a.is_admin, a._permissions,
                      r.id::text, r."default", r.title, r.description, r.is_public,
                      c.id::text, c.title, c.description, c.alias, c.is_public, c.is_public_write"#,
            $more,
            "
    FROM (VALUES (1)) AS one (x)
    LEFT JOIN LATERAL (
        SELECT id, coalesce(username, '') AS username, coalesce(password_hash, '') AS password_hash,
               coalesce(is_admin, false) AS is_admin, _permissions
        FROM public.accounts WHERE id = ",
            $id,
            "::int OR username = ",
            $user,
            "::text
    ) a ON true
    LEFT JOIN LATERAL (
        SELECT * FROM public.opentaxii_api_root
        WHERE (",
            $default,
            r#"::boolean AND "default") OR id = "#,
            $root,
            "::text::uuid
        ORDER BY title LIMIT 1
    ) r ON true
    LEFT JOIN LATERAL (
        SELECT * FROM public.opentaxii_collection
        WHERE api_root_id = r.id AND (alias = ",
            $key,
            "::text OR id = ",
            $coll,
            "::text::uuid)
        ORDER BY (alias IS NOT DISTINCT FROM ",
            $key,
            "::text) DESC LIMIT 1
    ) c ON true"
        )
    };
}

const ADMISSION: &str = admission!("$1", "$2", "$3", "$4", "$5", "$6", "");

fn admission_params<'a>(key: &'a AdmissionKey<'a>) -> (bool, Option<&'a str>, Option<&'a str>) {
    (key.root == Some("default"), key.root.filter(|k| is_uuid(k)), key.collection.filter(|k| is_uuid(k)))
}

pub fn admission(c: &mut Conn, key: &AdmissionKey<'_>) -> Result<Admission, DbError> {
    let statement = prepared(c, ADMISSION)?;
    let (root_default, root_uuid, coll_uuid) = admission_params(key);
    let r = c.query_one(
        &statement,
        &[&key.account_id, &key.username, &root_default, &root_uuid, &key.collection, &coll_uuid],
    )?;
    Ok(admission_row(&r))
}

/// Admission together with `objects(q)` for the collection it finds, where `q` has only the
/// default version filters (`LATEST_OF_IDS`): Get an Object in one round trip.
pub fn admission_and_object(
    c: &mut Conn,
    key: &AdmissionKey<'_>,
    q: &ObjectQuery,
) -> Result<(Admission, Vec<ObjectRow>), DbError> {
    let statement = prepared(c, ADMISSION_AND_OBJECT)?;
    let (root_default, root_uuid, coll_uuid) = admission_params(key);
    let (v, (ad, ai, av)) = (&q.versions, lower_key(q));
    let rows = c.query(
        &statement,
        &[
            &key.collection,
            &q.added_after,
            &q.ids,
            &q.types,
            &q.spec_versions,
            &v.all,
            &None::<Vec<PrimitiveDateTime>>,
            &v.last,
            &v.first,
            &ad,
            &ai,
            &av,
            &q.limit,
            &key.account_id,
            &key.username,
            &root_default,
            &root_uuid,
            &coll_uuid,
        ],
    )?;
    let admission = rows.first().map(admission_row).unwrap_or_default();
    let objects = rows.iter().filter(|r| r.get::<_, Option<&str>>(16).is_some()).map(|r| object_row(r, 16));
    Ok((admission, objects.collect()))
}

fn admission_row(r: &postgres::Row) -> Admission {
    let account = AccountRow::at(r, 0);
    let root = r.get::<_, Option<String>>(5).map(|id| ApiRoot {
        id,
        default: r.get(6),
        title: r.get(7),
        description: r.get(8),
        is_public: r.get(9),
    });
    let collection = r.get::<_, Option<String>>(10).map(|id| Collection {
        id,
        title: r.get(11),
        description: r.get(12),
        alias: r.get(13),
        is_public: r.get(14),
        is_public_write: r.get(15),
    });
    Admission { account, root, collection }
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

// What every read and delete applies after the conditions that position its index scan.
// $4 types, $5 explicit spec versions, $6 all, $7 version timestamps, $8 last, $9 first
// ($2 added_after is used too). Defaults follow the checklist's order: explicit filters, then
// the spec_version default, then the version default. Each NOT EXISTS probes the
// (collection_id, id, version) index; inside an OR it stays a per-row probe.
macro_rules! filter {
    () => {
        "
               AND ($4::varchar[] IS NULL OR o.type = ANY($4))
               AND ($5::varchar[] IS NULL OR o.spec_version = ANY($5))
               AND ($5::varchar[] IS NOT NULL OR NOT EXISTS (
                   SELECT 1 FROM public.opentaxii_stixobject s
                   WHERE s.collection_id = o.collection_id AND s.id = o.id AND s.spec_version > o.spec_version
                     AND ($2::timestamp IS NULL OR s.date_added > $2)))
               AND ($6::boolean
                   OR o.version = ANY($7::timestamp[])
                   OR ($8::boolean AND NOT EXISTS (
                       SELECT 1 FROM public.opentaxii_stixobject s
                       WHERE s.collection_id = o.collection_id AND s.id = o.id AND s.version > o.version
                         AND ($2::timestamp IS NULL OR s.date_added > $2)
                         AND (($5::varchar[] IS NULL AND s.spec_version = o.spec_version)
                              OR s.spec_version = ANY($5))))
                   OR ($9::boolean AND NOT EXISTS (
                       SELECT 1 FROM public.opentaxii_stixobject s
                       WHERE s.collection_id = o.collection_id AND s.id = o.id AND s.version < o.version
                         AND ($2::timestamp IS NULL OR s.date_added > $2)
                         AND (($5::varchar[] IS NULL AND s.spec_version = o.spec_version)
                              OR s.spec_version = ANY($5)))))"
    };
}

// The default filters alone, the common case: one probe per row for a version of the id,
// added after $2 when given, of a later spec_version or of the same one and later. OFFSET 0
// keeps it a per-row probe: as an anti join a generic plan might hash the whole collection.
// The version switches ($5-$9) are taken and checked so that all statements share one
// parameter list.
macro_rules! latest {
    () => {
        "
               AND ($4::varchar[] IS NULL OR o.type = ANY($4))
               AND $5::varchar[] IS NULL AND NOT $6::boolean AND $7::timestamp[] IS NULL
               AND $8::boolean AND NOT $9::boolean
               AND NOT EXISTS (
                   SELECT 1 FROM public.opentaxii_stixobject s
                   WHERE s.collection_id = o.collection_id AND s.id = o.id
                     AND s.date_added > coalesce($2::timestamp, '-infinity')
                     AND (s.spec_version, s.version) > (o.spec_version, o.version)
                   OFFSET 0)"
    };
}

// The columns of an `ObjectRow`.
macro_rules! columns {
    () => {
        "o.id, coalesce(o.type, split_part(o.id, '--', 1)), coalesce(o.spec_version, '2.1'),
         EXISTS (SELECT 1 FROM public.taxiid_stixobject_spec_absent a WHERE a.pk = o.pk),
         o.date_added, o.version, coalesce(o.serialized_data::text, '{}')"
    };
}

// A page in (date_added, id, version) order strictly after the key $10-$12 (the later of
// the cursor and added_after $2, see `objects`), $13 rows at most, from `$source` (o) under
// `$cond`. One lower bound only, coalesced rather than switched off by NULL, so that it
// positions the range scan in a generic plan.
macro_rules! page {
    ($source:expr, $cond:literal, $rest:expr) => {
        concat!(
            "SELECT ",
            columns!(),
            "
             FROM ",
            $source,
            "
             WHERE ",
            $cond,
            " (o.date_added, o.id, o.version) > (coalesce($10::timestamp, '-infinity'),
                    coalesce($11::text, ''), coalesce($12::timestamp, '-infinity'))",
            $rest,
            "
             ORDER BY o.date_added, o.id, o.version
             LIMIT $13::bigint"
        )
    };
}

// The versions of the ids $3 in collection `$coll`: probes of (collection_id, id, version).
// OFFSET 0 keeps the page's lower bound out of this scan, where a generic plan would combine
// it with a date_added index (reading all of it) as if it were selective.
macro_rules! of_ids {
    ($coll:literal) => {
        concat!(
            "(SELECT * FROM public.opentaxii_stixobject WHERE collection_id = ",
            $coll,
            " AND id = ANY($3::varchar[]) OFFSET 0) o"
        )
    };
}

/// Get Objects and manifests under the default version filters, the common request: a range
/// scan of a date_added index.
const LATEST_PAGE: &str = page!(
    "public.opentaxii_stixobject o",
    "o.collection_id = $1::text::uuid AND $3::varchar[] IS NULL AND",
    latest!()
);
/// Get an Object, or `match[id]`, under the default version filters.
const LATEST_OF_IDS: &str = page!(of_ids!("$1::text::uuid"), "", latest!());
/// Any other filters.
const FILTERED_PAGE: &str = page!(
    "public.opentaxii_stixobject o",
    "o.collection_id = $1::text::uuid AND $3::varchar[] IS NULL AND",
    filter!()
);
const FILTERED_OF_IDS: &str = page!(of_ids!("$1::text::uuid"), "", filter!());

/// Get an Object (no filters), the commonest lookup: admission and the object in one round
/// trip, the object read with `LATEST_OF_IDS`'s parameters and admission's after them.
const ADMISSION_AND_OBJECT: &str = concat!(
    admission!("$14", "$15", "$16", "$17", "$1", "$18", ", p.*"),
    " LEFT JOIN LATERAL (",
    page!(of_ids!("c.id"), "", latest!()),
    ") p ON true"
);

/// One page of matching object versions, ascending by (date_added, id, version), at most
/// `limit` rows (callers ask for one more than they show to learn whether there is more).
pub fn objects(c: &mut Conn, q: &ObjectQuery) -> Result<Vec<ObjectRow>, DbError> {
    let latest = q.spec_versions.is_none() && q.versions == Versions { last: true, ..Versions::default() };
    let sql = match (latest, q.ids.is_some()) {
        (true, false) => LATEST_PAGE,
        (true, true) => LATEST_OF_IDS,
        (false, false) => FILTERED_PAGE,
        (false, true) => FILTERED_OF_IDS,
    };
    let (ad, ai, av) = lower_key(q);
    let v = &q.versions;
    let at = (!latest).then_some(&v.at);
    let statement = prepared(c, sql)?;
    let rows = c.query(
        &statement,
        &[
            &q.collection,
            &q.added_after,
            &q.ids,
            &q.types,
            &q.spec_versions,
            &v.all,
            &at,
            &v.last,
            &v.first,
            &ad,
            &ai,
            &av,
            &q.limit,
        ],
    )?;
    Ok(rows.iter().map(|r| object_row(r, 0)).collect())
}

/// The key a page starts after: the cursor or added_after, whichever is later. added_after A
/// as a key: (date_added, id, version) > (A + 1 µs, "", -infinity) holds exactly for
/// date_added > A (timestamps have microseconds, ids are never empty).
type LowerKey<'a> = (Option<PrimitiveDateTime>, Option<&'a str>, Option<PrimitiveDateTime>);

fn lower_key(q: &ObjectQuery) -> LowerKey<'_> {
    // 9999-12-31T23:59:59.999999 has no successor in `time`, and `+` panicked (a 500,
    // tests/hostile_queries.rs); nothing is ever added that late, so that bound stays as it is.
    let after_added = q.added_after.map(|a| a.checked_add(time::Duration::microseconds(1)).unwrap_or(a));
    match (&q.after, after_added) {
        (Some((d, i, v)), a) if a.is_none_or(|a| *d >= a) => (Some(*d), Some(i.as_str()), Some(*v)),
        (_, a) => (a, None, None),
    }
}

/// The `columns!()` of a row, from column `at` on.
fn object_row(r: &postgres::Row, at: usize) -> ObjectRow {
    ObjectRow {
        id: r.get(at),
        type_: r.get(at + 1),
        spec_version: r.get(at + 2),
        spec_absent: r.get(at + 3),
        date_added: r.get(at + 4),
        version: r.get(at + 5),
        data: r.get(at + 6),
    }
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

/// Deletes the versions of one object (`ids`) the query matches; returns how many.
pub fn delete_objects(c: &mut Conn, q: &ObjectQuery) -> Result<u64, DbError> {
    const DELETE: &str = concat!(
        "DELETE FROM public.opentaxii_stixobject o
         WHERE o.collection_id = $1::text::uuid AND o.id = ANY($3::varchar[])
           AND ($2::timestamp IS NULL OR o.date_added > $2)",
        filter!()
    );
    let v = &q.versions;
    let statement = prepared(c, DELETE)?;
    Ok(c.execute(
        &statement,
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
