//! TAXII 1 content in OpenTAXII's tables: storing an inbox message with its blocks
//! (`inbox_messages`, `content_blocks`, `collection_to_content_block`, the collections'
//! `volume`) in one transaction, the keyset-ordered block reads polls are made of, and poll
//! result sets (`result_sets` plus taxiid's paging tables from migration 0004).
//!
//! Blocks are ordered by `(timestamp_label, id)`; a part of a result set starts strictly after
//! the key of the previous part's last block, so parts never shift while content arrives.

use postgres::GenericClient;
use time::OffsetDateTime;

use super::DbError;
use super::pool::{Conn, prepared};

/// The raw inbox message row (`taxii1.save_raw_inbox_messages`).
pub struct NewInboxMessage<'a> {
    pub message_id: &'a str,
    pub result_id: Option<&'a str>,
    pub record_count: Option<i32>,
    pub partial_count: bool,
    pub subscription_collection_name: Option<&'a str>,
    pub subscription_id: Option<&'a str>,
    /// 1.1 exclusive begin; OpenTAXII puts 1.0's inclusive begin here too.
    pub begin: Option<OffsetDateTime>,
    pub end: Option<OffsetDateTime>,
    pub original: &'a [u8],
    pub block_count: i32,
    /// JSON list of the requested destination names; None when none were named.
    pub destinations: Option<String>,
    pub service_id: &'a str,
}

/// An accepted block and the collections it goes to.
pub struct NewBlock<'a> {
    pub content: &'a [u8],
    pub binding_id: &'a str,
    pub subtype: Option<&'a str>,
    pub message: Option<&'a str>,
    pub timestamp_label: OffsetDateTime,
    pub collections: Vec<i32>,
}

/// Stores the message row (when given), each block once, its links to every destination and
/// the destinations' volume, all in one transaction: committed or not at all.
pub fn store_inbox(
    c: &mut Conn,
    raw: Option<&NewInboxMessage<'_>>,
    blocks: &[NewBlock<'_>],
    now: OffsetDateTime,
) -> Result<(), DbError> {
    // Prepared before the transaction borrows the connection.
    let message_st = prepared(
        c,
        "INSERT INTO public.inbox_messages
             (date_created, message_id, result_id, record_count, partial_count,
              subscription_collection_name, subscription_id, exclusive_begin_timestamp_label,
              inclusive_end_timestamp_label, original_message, content_block_count,
              destination_collections, service_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )?;
    let block_st = prepared(
        c,
        "INSERT INTO public.content_blocks
             (date_created, message, timestamp_label, inbox_message_id, content, binding_id, binding_subtype)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )?;
    // As OpenTAXII does: `volume` counts the linked blocks, incremented in place.
    let links_st = prepared(
        c,
        "WITH linked AS (
             INSERT INTO public.collection_to_content_block (collection_id, content_block_id)
             SELECT u.c, u.b FROM unnest($1::int[], $2::int[]) AS u(c, b)
         )
         UPDATE public.data_collections d SET volume = coalesce(d.volume, 0) + n.k
         FROM (SELECT c, count(*)::int AS k FROM unnest($1::int[]) AS u(c) GROUP BY c) n
         WHERE d.id = n.c",
    )?;
    let mut tx = c.transaction()?;
    let message_row: Option<i32> = match raw {
        None => None,
        Some(m) => Some(
            tx.query_one(
                &message_st,
                &[
                    &now,
                    &m.message_id,
                    &m.result_id,
                    &m.record_count,
                    &m.partial_count,
                    &m.subscription_collection_name,
                    &m.subscription_id,
                    &m.begin,
                    &m.end,
                    &m.original,
                    &m.block_count,
                    &m.destinations,
                    &m.service_id,
                ],
            )?
            .get(0),
        ),
    };
    let (mut link_blocks, mut link_collections) = (Vec::new(), Vec::new());
    for b in blocks.iter().filter(|b| !b.collections.is_empty()) {
        let id: i32 = tx
            .query_one(
                &block_st,
                &[&now, &b.message, &b.timestamp_label, &message_row, &b.content, &b.binding_id, &b.subtype],
            )?
            .get(0);
        for col in &b.collections {
            link_blocks.push(id);
            link_collections.push(*col);
        }
    }
    if !link_blocks.is_empty() {
        tx.execute(&links_st, &[&link_collections, &link_blocks])?;
    }
    tx.commit()?;
    Ok(())
}

/// Which blocks of a collection a poll selects.
#[derive(Clone, Debug, Default)]
pub struct BlockFilter {
    pub collection_id: i32,
    /// Exclusive.
    pub begin: Option<OffsetDateTime>,
    /// Inclusive.
    pub end: Option<OffsetDateTime>,
    /// `None`: any binding. Otherwise `(binding id, subtype)` pairs, OR-ed; a NULL subtype
    /// matches any subtype of that binding.
    pub bindings: Option<(Vec<String>, Vec<Option<String>>)>,
    /// Frozen result sets: blocks stored later have higher ids and stay out.
    pub max_block_id: Option<i32>,
}

/// Poll order key: `(timestamp_label, id)`.
pub type Key = (OffsetDateTime, i32);

// $1 collection, $2 begin, $3 end, $4 max id, $5 any binding, $6 binding ids, $7 subtypes.
// Bounds are coalesced rather than switched off by NULL, so a generic plan (see
// `pool::prepared`) still scans the (timestamp_label, id) index range. Blocks without a
// Timestamp_Label (neither OpenTAXII nor taxiid writes them) have no key.
macro_rules! filter {
    ($lower:literal) => {
        concat!(
            "
    FROM public.collection_to_content_block l
    JOIN public.content_blocks b ON b.id = l.content_block_id
    WHERE l.collection_id = $1::int
      AND ",
            $lower,
            "
      AND b.timestamp_label <= coalesce($3::timestamptz, 'infinity')
      AND b.id <= coalesce($4::int, 2147483647)
      AND ($5::boolean OR EXISTS (
          SELECT 1 FROM unnest($6::text[], $7::text[]) AS f(id, sub)
          WHERE b.binding_id = f.id AND (f.sub IS NULL OR b.binding_subtype = f.sub)))"
        )
    };
}

fn filter_params(f: &BlockFilter) -> (bool, Vec<String>, Vec<Option<String>>) {
    match &f.bindings {
        None => (true, Vec::new(), Vec::new()),
        Some((ids, subs)) => (false, ids.clone(), subs.clone()),
    }
}

/// Up to `limit` block keys with their content sizes, strictly after `after`.
pub fn block_keys(
    c: &mut Conn,
    f: &BlockFilter,
    after: Option<Key>,
    limit: i64,
) -> Result<Vec<(Key, i64)>, DbError> {
    // One lower bound, the later of `begin` and `after`: given two, the index scan would
    // start at whichever it takes first and filter its way to the other.
    const SQL: &str = concat!(
        "SELECT b.timestamp_label, b.id, octet_length(b.content)::bigint",
        filter!("(b.timestamp_label, b.id) > (coalesce($2::timestamptz, '-infinity'), $8::int)"),
        "
         ORDER BY b.timestamp_label, b.id LIMIT $9::bigint"
    );
    let (label, id) = lower_key(f, after);
    let (any, ids, subs) = filter_params(f);
    let statement = prepared(c, SQL)?;
    let rows = c.query(
        &statement,
        &[&f.collection_id, &label, &f.end, &f.max_block_id, &any, &ids, &subs, &id, &limit],
    )?;
    Ok(rows.iter().map(|r| ((r.get(0), r.get(1)), r.get(2))).collect())
}

/// The key a part starts after: the later of `begin` (as the key after every block labelled
/// `begin`) and `after`; a NULL label stands for -infinity.
fn lower_key(f: &BlockFilter, after: Option<Key>) -> (Option<OffsetDateTime>, i32) {
    let begin = f.begin.map(|t| (t, i32::MAX));
    match (begin, after) {
        (Some(b), Some(a)) => Some(b.max(a)),
        (b, a) => b.or(a),
    }
    .map_or((None, i32::MIN), |(l, i)| (Some(l), i))
}

/// A row of [`part`]: a block's key and content size, and the block when it fits the part.
pub struct PartRow {
    pub key: Key,
    pub len: i64,
    pub block: Option<BlockRow>,
}

/// Up to `limit` blocks after `after` in poll order, each with its content while the running
/// total of content stays within `max_bytes` (the first always): a part in one statement,
/// content read only for the blocks it holds. Also (unless empty) the highest block id in the
/// same snapshot, which bounds a result set made from it (no block it saw is above it).
pub fn part(
    c: &mut Conn,
    f: &BlockFilter,
    after: Option<Key>,
    limit: i64,
    max_bytes: i64,
) -> Result<(Vec<PartRow>, Option<i32>), DbError> {
    const SQL: &str = concat!(
        "SELECT k.timestamp_label, k.id, k.len, coalesce(k.binding_id, ''), k.binding_subtype, k.message,
                CASE WHEN row_number() OVER w = 1 OR sum(k.len) OVER w <= $10::bigint THEN k.content END,
                (SELECT coalesce(max(id), 0) FROM public.content_blocks)
         FROM (SELECT b.timestamp_label, b.id, octet_length(b.content)::bigint AS len, b.binding_id,
                      b.binding_subtype, b.message, b.content",
        filter!("(b.timestamp_label, b.id) > (coalesce($2::timestamptz, '-infinity'), $8::int)"),
        "
               ORDER BY b.timestamp_label, b.id LIMIT $9::bigint) k
         WINDOW w AS (ORDER BY k.timestamp_label, k.id)
         ORDER BY k.timestamp_label, k.id"
    );
    let (label, id) = lower_key(f, after);
    let (any, ids, subs) = filter_params(f);
    let statement = prepared(c, SQL)?;
    let rows = c.query(
        &statement,
        &[&f.collection_id, &label, &f.end, &f.max_block_id, &any, &ids, &subs, &id, &limit, &max_bytes],
    )?;
    let max_id = rows.first().map(|r| r.get(7));
    let part = rows
        .iter()
        .map(|r| {
            let key: Key = (r.get(0), r.get(1));
            let block = r.get::<_, Option<Vec<u8>>>(6).map(|content| BlockRow {
                id: key.1,
                timestamp_label: key.0,
                binding_id: r.get(3),
                subtype: r.get(4),
                message: r.get(5),
                content,
            });
            PartRow { key, len: r.get(2), block }
        })
        .collect();
    Ok((part, max_id))
}

/// Block keys by position, for result sets OpenTAXII created (it pages with OFFSET).
pub fn block_keys_at(
    c: &mut Conn,
    f: &BlockFilter,
    offset: i64,
    limit: i64,
) -> Result<Vec<(Key, i64)>, DbError> {
    const SQL: &str = concat!(
        "SELECT b.timestamp_label, b.id, octet_length(b.content)::bigint",
        filter!("b.timestamp_label > coalesce($2::timestamptz, '-infinity')"),
        "
         ORDER BY b.timestamp_label, b.id OFFSET $8::bigint LIMIT $9::bigint"
    );
    let (any, ids, subs) = filter_params(f);
    let statement = prepared(c, SQL)?;
    let rows = c.query(
        &statement,
        &[&f.collection_id, &f.begin, &f.end, &f.max_block_id, &any, &ids, &subs, &offset, &limit],
    )?;
    Ok(rows.iter().map(|r| ((r.get(0), r.get(1)), r.get(2))).collect())
}

pub fn count_blocks(c: &mut Conn, f: &BlockFilter) -> Result<i64, DbError> {
    const SQL: &str =
        concat!("SELECT count(*)", filter!("b.timestamp_label > coalesce($2::timestamptz, '-infinity')"));
    let (any, ids, subs) = filter_params(f);
    let statement = prepared(c, SQL)?;
    Ok(c.query_one(&statement, &[&f.collection_id, &f.begin, &f.end, &f.max_block_id, &any, &ids, &subs])?
        .get(0))
}

/// The highest block id so far: the frozen upper bound of a new result set.
pub fn max_block_id(c: &mut Conn) -> Result<i32, DbError> {
    let statement = prepared(c, "SELECT coalesce(max(id), 0) FROM public.content_blocks")?;
    Ok(c.query_one(&statement, &[])?.get(0))
}

/// A stored block as a poll returns it.
pub struct BlockRow {
    pub id: i32,
    pub timestamp_label: OffsetDateTime,
    pub binding_id: String,
    pub subtype: Option<String>,
    pub message: Option<String>,
    pub content: Vec<u8>,
}

/// The blocks with these ids, in poll order.
pub fn blocks(c: &mut Conn, ids: &[i32]) -> Result<Vec<BlockRow>, DbError> {
    let statement = prepared(
        c,
        "SELECT id, timestamp_label, coalesce(binding_id, ''), binding_subtype, message, content
         FROM public.content_blocks WHERE id = ANY($1::int[]) AND timestamp_label IS NOT NULL
         ORDER BY timestamp_label, id",
    )?;
    let rows = c.query(&statement, &[&ids])?;
    Ok(rows
        .iter()
        .map(|r| BlockRow {
            id: r.get(0),
            timestamp_label: r.get(1),
            binding_id: r.get(2),
            subtype: r.get(3),
            message: r.get(4),
            content: r.get(5),
        })
        .collect())
}

/// taxiid's paging of a result set.
#[derive(Clone, Debug)]
pub struct Paging {
    pub max_block_id: i32,
    pub part_size: i32,
    pub response_type: String,
    pub subscription_id: Option<String>,
    pub last_part: Option<i32>,
}

/// A `result_sets` row, with taxiid's paging when taxiid created it.
#[derive(Clone, Debug)]
pub struct ResultSet {
    pub id: String,
    pub collection_id: Option<i32>,
    /// JSON `[[binding_id, [subtypes]], …]` of the effective filter, `[]` = any.
    pub bindings: String,
    pub begin: Option<OffsetDateTime>,
    pub end: Option<OffsetDateTime>,
    pub paging: Option<Paging>,
}

/// Creates a result set with its paging and the start of part 2, in one transaction.
pub fn create_result_set(
    c: &mut Conn,
    rs: &ResultSet,
    part2_after: Key,
    now: OffsetDateTime,
) -> Result<(), DbError> {
    let p = rs.paging.as_ref().ok_or_else(|| DbError::Query("a new result set needs its paging".into()))?;
    let mut tx = c.transaction()?;
    tx.execute(
        "INSERT INTO public.result_sets (date_created, id, collection_id, bindings, begin_time, end_time)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[&now, &rs.id, &rs.collection_id, &rs.bindings, &rs.begin, &rs.end],
    )?;
    tx.execute(
        "INSERT INTO public.taxiid_result_set
             (result_set_id, max_block_id, part_size, response_type, subscription_id, last_part)
         VALUES ($1, $2, $3, $4, $5, NULL)",
        &[&rs.id, &p.max_block_id, &p.part_size, &p.response_type, &p.subscription_id],
    )?;
    insert_part_start(&mut tx, &rs.id, 2, part2_after)?;
    tx.commit()?;
    Ok(())
}

pub fn result_set(c: &mut Conn, id: &str) -> Result<Option<ResultSet>, DbError> {
    let Some(r) = c.query_opt(
        "SELECT r.id, r.collection_id, coalesce(r.bindings, '[]'), r.begin_time, r.end_time,
                t.result_set_id IS NOT NULL, t.max_block_id, t.part_size, t.response_type,
                t.subscription_id, t.last_part
         FROM public.result_sets r LEFT JOIN public.taxiid_result_set t ON t.result_set_id = r.id
         WHERE r.id = $1",
        &[&id],
    )?
    else {
        return Ok(None);
    };
    let paging = if r.get::<_, bool>(5) {
        Some(Paging {
            max_block_id: r.get(6),
            part_size: r.get(7),
            response_type: r.get(8),
            subscription_id: r.get(9),
            last_part: r.get(10),
        })
    } else {
        None
    };
    Ok(Some(ResultSet {
        id: r.get(0),
        collection_id: r.get(1),
        bindings: r.get(2),
        begin: r.get(3),
        end: r.get(4),
        paging,
    }))
}

/// The highest part whose start is known, with that start.
pub fn last_known_part(c: &mut Conn, id: &str) -> Result<Option<(i32, Key)>, DbError> {
    let row = c.query_opt(
        "SELECT part_number, after_label, after_block_id FROM public.taxiid_result_set_part
         WHERE result_set_id = $1 ORDER BY part_number DESC LIMIT 1",
        &[&id],
    )?;
    Ok(row.map(|r| (r.get(0), (r.get(1), r.get(2)))))
}

pub fn part_start(c: &mut Conn, id: &str, part: i32) -> Result<Option<Key>, DbError> {
    let row = c.query_opt(
        "SELECT after_label, after_block_id FROM public.taxiid_result_set_part
         WHERE result_set_id = $1 AND part_number = $2",
        &[&id, &part],
    )?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// Records where `part` starts. Parts are deterministic, so a concurrent writer of the same
/// part wrote the same key.
pub fn save_part_start(c: &mut Conn, id: &str, part: i32, after: Key) -> Result<(), DbError> {
    insert_part_start(&mut **c, id, part, after)
}

fn insert_part_start(c: &mut impl GenericClient, id: &str, part: i32, after: Key) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO public.taxiid_result_set_part (result_set_id, part_number, after_label, after_block_id)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        &[&id, &part, &after.0, &after.1],
    )?;
    Ok(())
}

pub fn set_last_part(c: &mut Conn, id: &str, part: i32) -> Result<(), DbError> {
    c.execute("UPDATE public.taxiid_result_set SET last_part = $2 WHERE result_set_id = $1", &[&id, &part])?;
    Ok(())
}
