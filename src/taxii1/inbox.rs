//! The inbox service: which collections an Inbox_Message may go to (destination rules and
//! `modify` permission), which blocks each accepts (binding rules), and storing the message
//! and its blocks in one transaction — SUCCESS is sent only after the commit.
//!
//! Deviations from OpenTAXII, each harmless to clients: the raw message is the request body
//! as received (OpenTAXII re-serialises it); the block's Message is stored (OpenTAXII drops
//! it); NOT_FOUND names the collection in the ITEM detail (OpenTAXII: an extended header);
//! TAXII 1.0 pushes honour each collection's bindings too (OpenTAXII ignores them there).

use super::bindings::{collection_accepts, inbox_accepts, string_list_json};
use super::collections::configured;
use super::messages::*;
use super::{Ctx, Error, not_found, refuse, refuse_with};
use crate::db::taxii1::{self as q, CollectionRow};
use crate::db::taxii1_content::{self as content, NewBlock, NewInboxMessage};

pub(crate) fn inbox(ctx: &mut Ctx, m: &InboxMessage, raw: &[u8]) -> Result<Message, Error> {
    let service = ctx.service;
    let readable: Vec<CollectionRow> = q::collections_of(ctx.db, &service.id)?
        .into_iter()
        .filter(|c| ctx.caller.rights(&c.name).read)
        .collect();
    let names = &m.destination_collection_names;
    let targets: Vec<&CollectionRow> = if ctx.version == Version::V10 {
        // TAXII 1.0 has no destinations: every collection of the inbox the caller may modify.
        readable.iter().collect()
    } else {
        destinations(ctx, &readable, names)?
    };
    let accepting: Vec<(&CollectionRow, Vec<ContentBinding>)> = targets
        .into_iter()
        .filter(|c| ctx.caller.rights(&c.name).modify)
        .map(|c| Ok((c, configured(c)?)))
        .collect::<Result<_, Error>>()?;
    let now = crate::timefmt::now();
    let mut blocks = Vec::new();
    for b in &m.content_blocks {
        let binding = &b.content_binding;
        // Blocks the inbox or every destination refuses are skipped, not an error (OpenTAXII).
        if !inbox_accepts(service.accept_all_content, &service.supported_content, binding) {
            continue;
        }
        let collections: Vec<i32> = accepting
            .iter()
            .filter(|(c, conf)| collection_accepts(c.accept_all_content, conf, binding))
            .map(|(c, _)| c.id)
            .collect();
        if collections.is_empty() {
            continue;
        }
        blocks.push(NewBlock {
            content: &b.content.bytes,
            binding_id: &binding.binding_id,
            // OpenTAXII keeps the first subtype only.
            subtype: binding.subtypes.first().map(String::as_str),
            message: b.message.as_deref(),
            timestamp_label: b.timestamp_label.unwrap_or(now),
            collections,
        });
    }
    let src = m.source_subscription.as_ref();
    let raw_row = NewInboxMessage {
        message_id: &m.message_id,
        result_id: m.result_id.as_deref(),
        record_count: m.record_count.map(|r| r.count.min(i32::MAX as u64) as i32),
        partial_count: m.record_count.is_some_and(|r| r.partial),
        subscription_collection_name: src.map(|s| s.collection_name.as_str()),
        subscription_id: src.and_then(|s| s.subscription_id.as_deref()),
        // As OpenTAXII: 1.0's inclusive begin goes to the exclusive column.
        begin: src.and_then(|s| s.exclusive_begin.or(s.inclusive_begin)),
        end: src.and_then(|s| s.inclusive_end),
        original: raw,
        block_count: m.content_blocks.len().min(i32::MAX as usize) as i32,
        destinations: (!names.is_empty()).then(|| string_list_json(names)),
        service_id: &service.id,
    };
    let save = ctx.app.config.taxii1.save_raw_inbox_messages;
    content::store_inbox(ctx.db, save.then_some(&raw_row), &blocks, now)?;
    crate::metrics::blocks_ingested(blocks.len() as u64);
    let mut status = StatusMessage::new(m.message_id.clone(), StatusType::Success);
    let (stored, total) = (blocks.len(), m.content_blocks.len());
    if stored < total {
        // Still SUCCESS, as OpenTAXII answers; the message tells the sender what happened.
        status = status.with_message(format!(
            "{stored} of {total} content blocks stored; the others have a content binding \
             that neither the inbox nor a destination the caller may write to accepts"
        ));
    }
    Ok(status.into_message())
}

/// TAXII 1.1 destinations: required or prohibited by the inbox's
/// `destination_collection_required` (OpenTAXII's reading: not required means prohibited),
/// each attached and readable (else NOT_FOUND) and writable (else unauthorized).
fn destinations<'a>(
    ctx: &Ctx,
    readable: &'a [CollectionRow],
    names: &[String],
) -> Result<Vec<&'a CollectionRow>, Error> {
    let required = ctx.service.destination_collection_required;
    if required == names.is_empty() {
        let details = StatusDetails {
            acceptable_destinations: readable
                .iter()
                .filter(|c| c.available)
                .map(|c| c.name.clone())
                .collect(),
            ..StatusDetails::default()
        };
        let message = if required {
            "A Destination_Collection_Name is required and none were specified"
        } else {
            "Destination_Collection_Names are prohibited for this Inbox Service"
        };
        return Err(refuse_with(StatusType::DestinationCollectionError, details, message));
    }
    if names.is_empty() {
        return Ok(readable.iter().collect());
    }
    let mut out: Vec<&CollectionRow> = Vec::new();
    for name in names {
        let Some(c) = readable.iter().find(|c| &c.name == name) else {
            return Err(not_found(name, format!("Collection {name} was not found")));
        };
        if !ctx.caller.rights(name).modify {
            let status = StatusType::from_wire(&ctx.app.config.taxii1.unauthorized_status);
            return Err(refuse(status, format!("User can not write to collection {name}")));
        }
        if !out.iter().any(|o| o.id == c.id) {
            out.push(c);
        }
    }
    Ok(out)
}
