//! Queries behind `taxiid sync`: read and write OpenTAXII's TAXII 1 `services`,
//! `data_collections` and `service_to_collection` rows (accounts go through `db::admin`). Rows
//! are written in the shapes `opentaxii-sync-data` writes; the caller runs everything in one
//! transaction and takes `lock` first. Deciding what to write is the CLI's job (`cli::sync`).

use postgres::GenericClient;

use super::DbError;

/// Serialises concurrent syncs (an arbitrary, fixed advisory-lock key: "taxiid" + 1).
const SYNC_LOCK: i64 = 0x7461_7869_6964_0001;

pub fn lock(c: &mut impl GenericClient) -> Result<(), DbError> {
    c.execute("SELECT pg_advisory_xact_lock($1)", &[&SYNC_LOCK])?;
    Ok(())
}

pub struct ServiceRow {
    pub id: String,
    pub type_: String,
    /// `_properties`, JSON text.
    pub properties: String,
}

pub fn services(c: &mut impl GenericClient) -> Result<Vec<ServiceRow>, DbError> {
    Ok(c.query(
        "SELECT id, coalesce(type, ''), _properties FROM public.services ORDER BY date_created, id",
        &[],
    )?
    .iter()
    .map(|r| ServiceRow { id: r.get(0), type_: r.get(1), properties: r.get(2) })
    .collect())
}

pub fn insert_service(c: &mut impl GenericClient, id: &str, type_: &str, props: &str) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO public.services (id, type, _properties, date_created, date_updated)
         VALUES ($1, $2, $3, now(), now())",
        &[&id, &type_, &props],
    )?;
    Ok(())
}

/// OpenTAXII never touches `date_updated` after the insert; we keep it meaningful.
pub fn update_service(c: &mut impl GenericClient, id: &str, type_: &str, props: &str) -> Result<(), DbError> {
    c.execute(
        "UPDATE public.services SET type = $2, _properties = $3, date_updated = now() WHERE id = $1",
        &[&id, &type_, &props],
    )?;
    Ok(())
}

/// Deletes a service. The schema cascades to its inbox messages, the content blocks those
/// delivered, and its subscriptions; `service_cascade` counts them beforehand.
pub fn delete_service(c: &mut impl GenericClient, id: &str) -> Result<(), DbError> {
    c.execute("DELETE FROM public.services WHERE id = $1", &[&id])?;
    Ok(())
}

/// (inbox messages, content blocks) that deleting the service would remove with it.
pub fn service_cascade(c: &mut impl GenericClient, id: &str) -> Result<(i64, i64), DbError> {
    let r = c.query_one(
        "SELECT (SELECT count(*) FROM public.inbox_messages WHERE service_id = $1),
                (SELECT count(*) FROM public.content_blocks b
                   JOIN public.inbox_messages m ON m.id = b.inbox_message_id WHERE m.service_id = $1)",
        &[&id],
    )?;
    Ok((r.get(0), r.get(1)))
}

pub struct CollectionRow {
    pub id: i32,
    pub name: String,
    pub type_: Option<String>,
    pub description: Option<String>,
    pub accept_all_content: Option<bool>,
    /// JSON text, `[["binding", [subtypes]], …]`.
    pub bindings: Option<String>,
    pub available: Option<bool>,
    pub volume: i32,
}

pub fn collections(c: &mut impl GenericClient) -> Result<Vec<CollectionRow>, DbError> {
    Ok(c.query(
        "SELECT id, coalesce(name, ''), type, description, accept_all_content, bindings, available,
                    coalesce(volume, 0)
             FROM public.data_collections ORDER BY id",
        &[],
    )?
    .iter()
    .map(|r| CollectionRow {
        id: r.get(0),
        name: r.get(1),
        type_: r.get(2),
        description: r.get(3),
        accept_all_content: r.get(4),
        bindings: r.get(5),
        available: r.get(6),
        volume: r.get(7),
    })
    .collect())
}

/// The fields `opentaxii-sync-data` sets on a collection.
pub struct CollectionFields<'a> {
    pub name: &'a str,
    pub type_: &'a str,
    pub description: Option<&'a str>,
    pub accept_all_content: bool,
    pub bindings: &'a str,
    pub available: bool,
}

pub fn insert_collection(c: &mut impl GenericClient, f: &CollectionFields) -> Result<i32, DbError> {
    Ok(c.query_one(
        "INSERT INTO public.data_collections
             (name, type, description, accept_all_content, bindings, available, volume, date_created)
         VALUES ($1, $2, $3, $4, $5, $6, 0, now()) RETURNING id",
        &[&f.name, &f.type_, &f.description, &f.accept_all_content, &f.bindings, &f.available],
    )?
    .get(0))
}

pub fn update_collection(c: &mut impl GenericClient, id: i32, f: &CollectionFields) -> Result<(), DbError> {
    c.execute(
        "UPDATE public.data_collections SET name = $2, type = $3, description = $4,
             accept_all_content = $5, bindings = $6, available = $7
         WHERE id = $1",
        &[&id, &f.name, &f.type_, &f.description, &f.accept_all_content, &f.bindings, &f.available],
    )?;
    Ok(())
}

/// Deletes a collection; its links to services and content blocks go with it (the blocks
/// themselves stay, as with OpenTAXII).
pub fn delete_collection(c: &mut impl GenericClient, id: i32) -> Result<(), DbError> {
    c.execute("DELETE FROM public.data_collections WHERE id = $1", &[&id])?;
    Ok(())
}

/// `(service_id, collection_id)` pairs of `service_to_collection`.
pub fn links(c: &mut impl GenericClient) -> Result<Vec<(String, i32)>, DbError> {
    Ok(c.query("SELECT service_id, collection_id FROM public.service_to_collection", &[])?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Makes `services` exactly the services linked to the collection.
pub fn set_links(c: &mut impl GenericClient, collection: i32, services: &[String]) -> Result<(), DbError> {
    c.execute(
        "DELETE FROM public.service_to_collection WHERE collection_id = $1 AND service_id <> ALL($2)",
        &[&collection, &services],
    )?;
    c.execute(
        "INSERT INTO public.service_to_collection (service_id, collection_id)
         SELECT s, $1 FROM unnest($2::varchar[]) AS s ON CONFLICT DO NOTHING",
        &[&collection, &services],
    )?;
    Ok(())
}

/// Sets `volume` to the number of linked blocks wherever it differs (after cascades removed
/// blocks); returns how many collections changed.
pub fn recount_all_volumes(c: &mut impl GenericClient) -> Result<u64, DbError> {
    Ok(c.execute(
        "UPDATE public.data_collections d SET volume = n.count
         FROM (SELECT d2.id, count(l.content_block_id) AS count FROM public.data_collections d2
               LEFT JOIN public.collection_to_content_block l ON l.collection_id = d2.id GROUP BY d2.id) n
         WHERE d.id = n.id AND d.volume IS DISTINCT FROM n.count::int",
        &[],
    )?)
}
