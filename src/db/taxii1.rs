//! Queries on OpenTAXII's TAXII 1 configuration tables (`services`, `data_collections`,
//! `service_to_collection`) and subscriptions (`subscriptions` plus taxiid's owner table).
//! Content, inbox messages and result sets are in `taxii1_content`.
//!
//! Every statement is fixed text with parameters. JSON columns (`_properties`, `bindings`,
//! `params`) are returned as the text OpenTAXII stores; the TAXII 1 handlers interpret them.
//! Timestamp columns are `timestamp with time zone`, read and written as `OffsetDateTime`.

use postgres::GenericClient;
use time::OffsetDateTime;

use super::DbError;
use super::accounts::AccountRow;
use super::pool::{Conn, prepared};

/// A `services` row.
#[derive(Clone, Debug)]
pub struct ServiceRow {
    pub id: String,
    /// `inbox`, `discovery`, `collection_management` or `poll`.
    pub kind: String,
    /// `_properties`: JSON of the data-config keys.
    pub properties: String,
}

/// Every service, in creation order (OpenTAXII lists them in table order).
pub fn services(c: &mut Conn) -> Result<Vec<ServiceRow>, DbError> {
    // Every TAXII 1 request reads this.
    let statement = prepared(
        c,
        "SELECT id, coalesce(type, ''), _properties FROM public.services
         ORDER BY date_created NULLS LAST, id",
    )?;
    let rows = c.query(&statement, &[])?;
    Ok(rows.iter().map(|r| ServiceRow { id: r.get(0), kind: r.get(1), properties: r.get(2) }).collect())
}

/// [`services`] and the account a request claims (by id for a token, by username for Basic;
/// neither for an anonymous one), in one round trip: a TAXII 1 request needs both first.
pub fn services_and_account(
    c: &mut Conn,
    account_id: Option<i32>,
    username: Option<&str>,
) -> Result<(Vec<ServiceRow>, Option<AccountRow>), DbError> {
    let statement = prepared(
        c,
        "SELECT s.id, coalesce(s.type, ''), s._properties,
                a.id, coalesce(a.username, ''), coalesce(a.password_hash, ''), coalesce(a.is_admin, false),
                a._permissions
         FROM (VALUES (1)) AS one (x)
         LEFT JOIN LATERAL (
             SELECT * FROM public.accounts WHERE id = $1::int OR username = $2::text
         ) a ON true
         LEFT JOIN public.services s ON true
         ORDER BY s.date_created NULLS LAST, s.id",
    )?;
    let rows = c.query(&statement, &[&account_id, &username])?;
    let account = rows.first().and_then(|r| AccountRow::at(r, 3));
    let services = rows
        .iter()
        .filter_map(|r| {
            let id = r.get::<_, Option<String>>(0)?;
            Some(ServiceRow { id, kind: r.get(1), properties: r.get(2) })
        })
        .collect();
    Ok((services, account))
}

/// A `data_collections` row; OpenTAXII's client-side defaults fill NULL columns.
#[derive(Clone, Debug)]
pub struct CollectionRow {
    pub id: i32,
    pub name: String,
    /// `DATA_FEED` or `DATA_SET`.
    pub kind: String,
    pub description: Option<String>,
    pub accept_all_content: bool,
    /// JSON `[[binding_id, [subtype, …]], …]`.
    pub bindings: String,
    pub available: bool,
    pub volume: i64,
}

macro_rules! collection_columns {
    () => {
        "c.id, coalesce(c.name, ''), coalesce(c.type, 'DATA_FEED'), c.description,
         coalesce(c.accept_all_content, false), coalesce(c.bindings, '[]'), coalesce(c.available, true),
         coalesce(c.volume, 0)::bigint"
    };
}

fn collection(r: &postgres::Row) -> CollectionRow {
    CollectionRow {
        id: r.get(0),
        name: r.get(1),
        kind: r.get(2),
        description: r.get(3),
        accept_all_content: r.get(4),
        bindings: r.get(5),
        available: r.get(6),
        volume: r.get(7),
    }
}

/// The collections attached to a service, by id.
pub fn collections_of(c: &mut Conn, service: &str) -> Result<Vec<CollectionRow>, DbError> {
    const SQL: &str = concat!(
        "SELECT ",
        collection_columns!(),
        " FROM public.data_collections c
          JOIN public.service_to_collection s ON s.collection_id = c.id
          WHERE s.service_id = $1::varchar ORDER BY c.id"
    );
    let statement = prepared(c, SQL)?;
    Ok(c.query(&statement, &[&service])?.iter().map(collection).collect())
}

/// The collection `name` if it is attached to `service`.
pub fn collection_of(c: &mut Conn, service: &str, name: &str) -> Result<Option<CollectionRow>, DbError> {
    const SQL: &str = concat!(
        "SELECT ",
        collection_columns!(),
        " FROM public.data_collections c
          JOIN public.service_to_collection s ON s.collection_id = c.id
          WHERE s.service_id = $1::varchar AND c.name = $2::varchar"
    );
    let statement = prepared(c, SQL)?;
    Ok(c.query_opt(&statement, &[&service, &name])?.as_ref().map(collection))
}

/// A collection by id (result sets and subscriptions refer to collections by id).
pub fn collection_by_id(c: &mut impl GenericClient, id: i32) -> Result<Option<CollectionRow>, DbError> {
    let sql = concat!("SELECT ", collection_columns!(), " FROM public.data_collections c WHERE c.id = $1");
    Ok(c.query_opt(sql, &[&id])?.as_ref().map(collection))
}

/// `(collection id, service id)` links of the given collections.
pub fn links(c: &mut Conn, collections: &[i32]) -> Result<Vec<(i32, String)>, DbError> {
    let rows = c.query(
        "SELECT collection_id, service_id FROM public.service_to_collection
         WHERE collection_id = ANY($1) ORDER BY collection_id, service_id",
        &[&collections],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// A `subscriptions` row with its owner.
#[derive(Clone, Debug)]
pub struct SubscriptionRow {
    pub id: String,
    pub collection_id: Option<i32>,
    /// `params` JSON as OpenTAXII writes it (`content_bindings` double-encoded).
    pub params: String,
    pub status: String,
    pub service_id: Option<String>,
    /// `Some(Some(id))` created by an account, `Some(None)` anonymously, `None` by OpenTAXII.
    pub owner: Option<Option<i32>>,
}

const SUBSCRIPTION_COLUMNS: &str = "s.id, s.collection_id, coalesce(s.params, '{}'),
    coalesce(s.status, 'ACTIVE'), s.service_id, o.subscription_id IS NOT NULL, o.account_id";

fn subscription(r: &postgres::Row) -> SubscriptionRow {
    let owned: bool = r.get(5);
    SubscriptionRow {
        id: r.get(0),
        collection_id: r.get(1),
        params: r.get(2),
        status: r.get(3),
        service_id: r.get(4),
        owner: if owned { Some(r.get(6)) } else { None },
    }
}

pub fn subscription_by_id(c: &mut Conn, id: &str) -> Result<Option<SubscriptionRow>, DbError> {
    let sql = format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM public.subscriptions s
         LEFT JOIN public.taxiid_subscription_owner o ON o.subscription_id = s.id
         WHERE s.id = $1"
    );
    Ok(c.query_opt(&sql, &[&id])?.as_ref().map(subscription))
}

/// The subscriptions to `collection` made through `service`, oldest first.
pub fn subscriptions_of(
    c: &mut Conn,
    service: &str,
    collection: i32,
) -> Result<Vec<SubscriptionRow>, DbError> {
    let sql = format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM public.subscriptions s
         LEFT JOIN public.taxiid_subscription_owner o ON o.subscription_id = s.id
         WHERE s.service_id = $1 AND s.collection_id = $2
         ORDER BY s.date_created NULLS LAST, s.id"
    );
    Ok(c.query(&sql, &[&service, &collection])?.iter().map(subscription).collect())
}

/// Creates an ACTIVE subscription and records its owner, in one transaction.
pub fn create_subscription(
    c: &mut Conn,
    id: &str,
    collection: i32,
    params: &str,
    service: &str,
    owner: Option<i32>,
    now: OffsetDateTime,
) -> Result<(), DbError> {
    let mut tx = c.transaction()?;
    tx.execute(
        "INSERT INTO public.subscriptions (date_created, id, collection_id, params, status, service_id)
         VALUES ($1, $2, $3, $4, 'ACTIVE', $5)",
        &[&now, &id, &collection, &params, &service],
    )?;
    tx.execute(
        "INSERT INTO public.taxiid_subscription_owner (subscription_id, account_id) VALUES ($1, $2)",
        &[&id, &owner],
    )?;
    tx.commit()?;
    Ok(())
}

pub fn set_subscription_status(c: &mut Conn, id: &str, status: &str) -> Result<(), DbError> {
    c.execute("UPDATE public.subscriptions SET status = $2 WHERE id = $1", &[&id, &status])?;
    Ok(())
}
