//! The poll service: Poll_Request (1.0 and 1.1) and Poll_Fulfillment (1.1) over a
//! collection's blocks in `(timestamp_label, id)` order.
//!
//! Paging (1.1): a part holds at most `max_result_size` blocks (and at most [`PART_BYTES`] of
//! content, so a part always fits in memory); `more` is exact (one block past the part is
//! looked at). A result set is created only when there is more: OpenTAXII's `result_sets`
//! row (collection, effective bindings, window) plus taxiid's frozen upper block id, part
//! size, response type and subscription, and the key each later part starts after. Parts
//! therefore never shift or repeat while content arrives.
//!
//! Deviations from OpenTAXII: a Data Feed poll without an end is answered as of now (end =
//! now, reported as Inclusive_End_Timestamp, so a client continuing from it misses nothing
//! and sees nothing twice; OpenTAXII reports no end); COUNT_ONLY answers carry no parts;
//! Poll_Fulfillment keeps the poll's subscription; a part more than one past the last is
//! INVALID_RESPONSE_PART; TAXII 1.0 answers are never cut silently (see [`poll_10`]);
//! polls by an UNSUBSCRIBED subscription are DENIED; a Query is UNSUPPORTED_QUERY.

use time::OffsetDateTime;

use super::bindings::{filter_pairs, matching, pairs_json, parse_pairs, parse_subscription_params};
use super::collections::{collection_type, configured};
use super::messages::*;
use super::subscriptions::may_use;
use super::xmlscan;
use super::{Ctx, Error, not_found, refuse, refuse_with};
use crate::db::taxii1::{self as q, CollectionRow};
use crate::db::taxii1_content::{self as content, BlockFilter, Key, Paging, ResultSet};

/// Content bytes beyond which a part ends early (it always holds at least one block).
const PART_BYTES: i64 = 64 << 20;
/// Keys are read in batches of this many, so a huge `max_result_size` costs no memory.
const KEY_BATCH: i64 = 1000;

/// The collection `name` as the poll and collection-management services see it: attached
/// to this service and readable (else NOT_FOUND), and available (else FAILURE).
pub(crate) fn visible_collection(ctx: &mut Ctx, name: &str) -> Result<CollectionRow, Error> {
    let c = q::collection_of(ctx.db, &ctx.service.id, name)?
        .filter(|c| ctx.caller.rights(&c.name).read)
        .ok_or_else(|| not_found(name, "Requested collection was not found"))?;
    if !c.available {
        let details = StatusDetails { item: Some(name.to_string()), ..StatusDetails::default() };
        return Err(refuse_with(StatusType::Failure, details, "The collection is not available"));
    }
    Ok(c)
}

pub(crate) fn unsupported_content(configured: &[ContentBinding]) -> Error {
    let details = StatusDetails { supported_content: configured.to_vec(), ..StatusDetails::default() };
    refuse_with(
        StatusType::UnsupportedContent,
        details,
        "None of the requested content bindings is supported",
    )
}

pub(crate) fn unsupported_query() -> Error {
    refuse(StatusType::UnsupportedQuery, "Queries are not supported")
}

/// Now, at the microsecond precision the database keeps, so a reported end equals the bound
/// the query used.
fn now() -> OffsetDateTime {
    let t = crate::timefmt::now();
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000).unwrap_or(t)
}

pub(crate) fn poll(ctx: &mut Ctx, req: &PollRequest) -> Result<Message, Error> {
    if ctx.service.subscription_required && req.subscription_id.is_none() {
        return Err(refuse(StatusType::Denied, "Subscription id is required"));
    }
    let c = visible_collection(ctx, &req.collection_name)?;
    let feed = collection_type(&c) == CollectionType::DataFeed;
    if ctx.version == Version::V10 && !feed {
        return Err(not_found(&c.name, "Only Data Feeds can be polled in TAXII 1.0"));
    }
    let conf = configured(&c)?;
    let (response_type, requested) = match &req.subscription_id {
        Some(id) => {
            let sub = q::subscription_by_id(ctx.db, id)?
                .filter(|s| may_use(ctx.caller, s))
                .ok_or_else(|| not_found(id, "Requested subscription was not found"))?;
            if sub.collection_id != Some(c.id) {
                return Err(not_found(&c.name, "The subscription is for another collection"));
            }
            if sub.status == SubscriptionStatus::Unsubscribed.wire() {
                return Err(refuse(StatusType::Denied, format!("Subscription {id} was unsubscribed")));
            }
            let (rt, bindings) = parse_subscription_params(&sub.params)
                .map_err(|e| Error::Internal(format!("subscription {id}: {e}")))?;
            // A 1.0 poll may narrow a subscription's bindings with its own.
            if req.content_bindings.is_empty() { (rt, bindings) } else { (rt, req.content_bindings.clone()) }
        }
        None => match &req.poll_parameters {
            Some(p) if p.query.is_some() => return Err(unsupported_query()),
            Some(p) => (p.response_type, p.content_bindings.clone()),
            None => (ResponseType::Full, req.content_bindings.clone()),
        },
    };
    let filter = matching(c.accept_all_content, &conf, &requested).map_err(|_| unsupported_content(&conf))?;
    if let (Some(b), Some(e)) = (req.exclusive_begin, req.inclusive_end)
        && b > e
    {
        return Err(refuse(
            StatusType::Failure,
            "Exclusive begin timestamp label is later than inclusive end timestamp label",
        ));
    }
    let end = match req.inclusive_end {
        Some(e) => Some(e),
        None if feed => Some(now()),
        None => None,
    };
    let mut f = BlockFilter {
        collection_id: c.id,
        begin: req.exclusive_begin,
        end,
        bindings: (!filter.is_empty()).then(|| filter_pairs(&filter)),
        max_block_id: None,
    };
    if ctx.version == Version::V10 {
        return poll_10(ctx, req, &f);
    }
    let base = PollResponse {
        message_id: new_message_id(),
        in_response_to: req.message_id.clone(),
        collection_name: c.name.clone(),
        subscription_id: req.subscription_id.clone(),
        exclusive_begin: req.exclusive_begin,
        inclusive_end: end,
        ..PollResponse::default()
    };
    if response_type == ResponseType::CountOnly {
        let record_count = record_count(ctx, &f)?;
        return Ok(Message::PollResponse(PollResponse { record_count, ..base }));
    }
    let size = ctx.service.max_result_size;
    // The part and the result set's bound come from one snapshot: the bound is the highest
    // block id then, and no block the part saw is above it.
    let (content_blocks, keys, more, max_id) = part(ctx, &f, None, size)?;
    f.max_block_id = max_id;
    let record_count = record_count(ctx, &f)?;
    let mut result_id = None;
    if let (true, Some(last)) = (more, keys.last()) {
        let rs = ResultSet {
            id: new_message_id(),
            collection_id: Some(c.id),
            bindings: pairs_json(&filter),
            begin: f.begin,
            end: f.end,
            paging: Some(Paging {
                max_block_id: f.max_block_id.unwrap_or(0),
                part_size: size.min(i32::MAX as i64) as i32,
                response_type: response_type.wire().to_string(),
                subscription_id: req.subscription_id.clone(),
                last_part: None,
            }),
        };
        content::create_result_set(ctx.db, &rs, *last, crate::timefmt::now())?;
        result_id = Some(rs.id);
    }
    Ok(Message::PollResponse(PollResponse { more, result_id, content_blocks, record_count, ..base }))
}

/// TAXII 1.0 has no parts. Deviation: OpenTAXII silently drops everything past
/// `max_result_size`; taxiid ends such an answer at a Timestamp_Label boundary, reports the
/// last label it includes as Inclusive_End_Timestamp and says so in the Message, so a client
/// polling on from Inclusive_End_Timestamp (as 1.0 clients do) gets the rest next time.
fn poll_10(ctx: &mut Ctx, req: &PollRequest, f: &BlockFilter) -> Result<Message, Error> {
    let (mut keys, more) = part_keys(ctx, f, None, ctx.service.max_result_size)?;
    let mut end = f.end.unwrap_or_else(now);
    let mut message = None;
    if let (true, Some(&(last, last_id))) = (more, keys.last()) {
        // Blocks sharing the last label with the first one left out would be skipped by a
        // poll continuing after that label: they wait for the next answer instead.
        let next = content::block_keys(ctx.db, f, Some((last, last_id)), 1)?;
        let mut split_label = false;
        if next.first().is_some_and(|((label, _), _)| *label == last) {
            let before: Vec<Key> = keys.iter().copied().filter(|k| k.0 < last).collect();
            split_label = before.is_empty();
            if !split_label {
                keys = before;
            }
        }
        end = keys.last().map_or(end, |k| k.0);
        message = Some(if split_label {
            format!(
                "Partial answer: more content blocks than this service returns at once share the \
                 Timestamp_Label {}; the rest of them cannot be polled in TAXII 1.0",
                format_timestamp(end)
            )
        } else {
            "Partial answer: poll again with Exclusive_Begin_Timestamp set to this \
             Inclusive_End_Timestamp for the rest"
                .to_string()
        });
    }
    let content_blocks = fetch(ctx, &keys)?;
    Ok(Message::PollResponse(PollResponse {
        message_id: new_message_id(),
        in_response_to: req.message_id.clone(),
        collection_name: req.collection_name.clone(),
        subscription_id: req.subscription_id.clone(),
        // As OpenTAXII: 1.0 has an inclusive begin only; the request's (exclusive) one is echoed.
        inclusive_begin: req.exclusive_begin,
        inclusive_end: Some(end),
        message,
        content_blocks,
        ..PollResponse::default()
    }))
}

pub(crate) fn fulfillment(ctx: &mut Ctx, m: &PollFulfillment) -> Result<Message, Error> {
    let c = visible_collection(ctx, &m.collection_name)?;
    let rs = content::result_set(ctx.db, &m.result_id)?
        .filter(|rs| rs.collection_id == Some(c.id))
        .ok_or_else(|| not_found(&m.result_id, "Requested result set was not found"))?;
    let filter =
        parse_pairs(&rs.bindings).map_err(|e| Error::Internal(format!("result set {}: {e}", rs.id)))?;
    let f = BlockFilter {
        collection_id: c.id,
        begin: rs.begin,
        end: rs.end,
        bindings: (!filter.is_empty()).then(|| filter_pairs(&filter)),
        max_block_id: rs.paging.as_ref().map(|p| p.max_block_id),
    };
    let part = m.result_part_number.min(i32::MAX as u64) as i32;
    let (content_blocks, more, subscription_id) = match &rs.paging {
        Some(p) => {
            let (blocks, more) = taxiid_part(ctx, &rs.id, p, &f, part)?;
            (blocks, more, p.subscription_id.clone())
        }
        None => {
            // OpenTAXII's own result set: its paging, by position; past the end an empty part.
            let size = ctx.service.max_result_size;
            let offset = (part as i64 - 1).saturating_mul(size);
            let mut rows = content::block_keys_at(ctx.db, &f, offset, size.saturating_add(1))?;
            let more = rows.len() as i64 > size;
            rows.truncate(size as usize);
            let keys: Vec<Key> = rows.into_iter().map(|(k, _)| k).collect();
            (fetch(ctx, &keys)?, more, None)
        }
    };
    let record_count = record_count(ctx, &f)?;
    Ok(Message::PollResponse(PollResponse {
        message_id: new_message_id(),
        in_response_to: m.message_id.clone(),
        collection_name: c.name.clone(),
        more,
        result_id: Some(rs.id.clone()),
        result_part_number: part as u64,
        subscription_id,
        exclusive_begin: rs.begin,
        inclusive_end: rs.end,
        record_count,
        content_blocks,
        ..PollResponse::default()
    }))
}

/// Part `part` of a taxiid result set: from the stored start of that part, computing (and
/// storing) the starts of the parts before it that no one asked for yet.
///
/// cabby looks at `more` on the first part only and then asks for parts until one comes
/// back empty, so the part after the last is an empty part (as OpenTAXII answers); only
/// parts beyond that are INVALID_RESPONSE_PART.
fn taxiid_part(
    ctx: &mut Ctx,
    id: &str,
    p: &Paging,
    f: &BlockFilter,
    part: i32,
) -> Result<(Vec<ContentBlock>, bool), Error> {
    let past_end = |last: i32| {
        if part == last + 1 {
            return Ok((Vec::new(), false));
        }
        let details = StatusDetails { max_part_number: Some(last as u64), ..StatusDetails::default() };
        Err(refuse_with(StatusType::InvalidResponsePart, details, format!("The result set has {last} parts")))
    };
    if let Some(last) = p.last_part.filter(|last| part > *last) {
        return past_end(last);
    }
    let size = p.part_size as i64;
    let start = if part == 1 {
        None
    } else if let Some(k) = content::part_start(ctx.db, id, part)? {
        Some(k)
    } else {
        let (mut n, mut key) = content::last_known_part(ctx.db, id)?
            .ok_or_else(|| Error::Internal(format!("result set {id} has no part starts")))?;
        while n < part {
            let (keys, more) = part_keys(ctx, f, Some(key), size)?;
            match (more, keys.last()) {
                (true, Some(last)) => {
                    key = *last;
                    n += 1;
                    content::save_part_start(ctx.db, id, n, key)?;
                }
                _ => {
                    content::set_last_part(ctx.db, id, n)?;
                    return past_end(n);
                }
            }
        }
        Some(key)
    };
    let (blocks, keys, more, _) = self::part(ctx, f, start, size)?;
    match (more, keys.last()) {
        (true, Some(last)) => content::save_part_start(ctx.db, id, part + 1, *last)?,
        _ => content::set_last_part(ctx.db, id, part)?,
    }
    Ok((blocks, more))
}

/// One part starting after `after` (see [`part_keys`]) with its blocks, its keys, whether a
/// block follows, and the highest block id of its snapshot (`None` when it read nothing).
#[allow(clippy::type_complexity)]
fn part(
    ctx: &mut Ctx,
    f: &BlockFilter,
    after: Option<Key>,
    size: i64,
) -> Result<(Vec<ContentBlock>, Vec<Key>, bool, Option<i32>), Error> {
    let size = size.max(1);
    if size >= KEY_BATCH {
        // Huge parts: keys in batches first, so that only the part's content is ever read. The
        // bound is read first: a block committed in between may join the part, never the count.
        let max_id = content::max_block_id(ctx.db)?;
        let (keys, more) = part_keys(ctx, f, after, size)?;
        return Ok((fetch(ctx, &keys)?, keys, more, Some(max_id)));
    }
    // One statement; content only where it fits, so `PART_BYTES` holds as in `part_keys`.
    let (rows, max_id) = content::part(ctx.db, f, after, size + 1, PART_BYTES)?;
    let (mut blocks, mut keys, mut bytes) = (Vec::new(), Vec::new(), 0i64);
    for row in rows {
        let full =
            keys.len() as i64 == size || (!keys.is_empty() && bytes.saturating_add(row.len) > PART_BYTES);
        let Some(block) = row.block.filter(|_| !full) else { return Ok((blocks, keys, true, max_id)) };
        bytes = bytes.saturating_add(row.len);
        keys.push(row.key);
        blocks.push(content_block(block));
    }
    Ok((blocks, keys, false, max_id))
}

/// The keys of one part starting after `after`: at most `size` blocks and [`PART_BYTES`] of
/// content (at least one block), and whether any block follows.
fn part_keys(
    ctx: &mut Ctx,
    f: &BlockFilter,
    after: Option<Key>,
    size: i64,
) -> Result<(Vec<Key>, bool), Error> {
    let size = size.max(1);
    let (mut keys, mut bytes, mut cursor) = (Vec::new(), 0i64, after);
    loop {
        let want = (size - keys.len() as i64 + 1).min(KEY_BATCH);
        let batch = content::block_keys(ctx.db, f, cursor, want)?;
        let fetched = batch.len() as i64;
        for (key, len) in batch {
            if keys.len() as i64 == size || (!keys.is_empty() && bytes.saturating_add(len) > PART_BYTES) {
                return Ok((keys, true));
            }
            bytes = bytes.saturating_add(len);
            keys.push(key);
            cursor = Some(key);
        }
        if fetched < want {
            return Ok((keys, false));
        }
    }
}

/// Record_Count when `taxii1.count_blocks_in_poll_responses` is on: the whole result's
/// size, capped at `max_result_count` (then partial).
fn record_count(ctx: &mut Ctx, f: &BlockFilter) -> Result<Option<RecordCount>, Error> {
    if !ctx.app.config.taxii1.count_blocks_in_poll_responses {
        return Ok(None);
    }
    let total = content::count_blocks(ctx.db, f)?.max(0) as u64;
    let cap = ctx.service.max_result_count.max(0) as u64;
    Ok(Some(RecordCount { count: total.min(cap), partial: total > cap }))
}

fn fetch(ctx: &mut Ctx, keys: &[Key]) -> Result<Vec<ContentBlock>, Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i32> = keys.iter().map(|k| k.1).collect();
    Ok(content::blocks(ctx.db, &ids)?.into_iter().map(content_block).collect())
}

fn content_block(b: content::BlockRow) -> ContentBlock {
    ContentBlock {
        content_binding: ContentBinding {
            binding_id: b.binding_id,
            subtypes: b.subtype.into_iter().collect(),
        },
        // Most stored blocks are plain XML, which the scanner proves at memory speed.
        content: if xmlscan::surely_well_formed(&b.content) {
            Content { bytes: b.content, is_xml: true }
        } else {
            Content::from_stored(b.content)
        },
        timestamp_label: Some(b.timestamp_label),
        message: b.message,
        padding: None,
    }
}
