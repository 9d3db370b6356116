//! TAXII 1.x Inbox (taxii1-checklist.md §4.7, §2.1 of opentaxii-compat.md): destination
//! rules, inbox- and collection-level binding checks (unsupported blocks dropped silently),
//! modify permission, each block stored once and linked to every accepting destination,
//! volumes, the raw message saved (or not), Timestamp_Label as sent or now, payload bytes
//! kept, and TAXII 1.0 pushes.

mod common;

use common::taxii1::*;
use serde_json::{Value, json};
use taxiid::taxii1::messages::*;

/// (message_id, content_block_count, destination_collections JSON, service_id) of every
/// `inbox_messages` row, by id.
fn inbox_rows(db: &mut postgres::Client) -> Vec<(String, i32, Option<Value>, String)> {
    db.query("SELECT message_id, content_block_count, destination_collections, service_id FROM inbox_messages ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| {
            let dest: Option<String> = r.get(2);
            (r.get(0), r.get(1), dest.map(|d| serde_json::from_str(&d).unwrap()), r.get(3))
        })
        .collect()
}

fn stored_names(db: &mut postgres::Client, collection: &str) -> Vec<String> {
    blocks_in(db, collection)
        .iter()
        .map(|b| {
            let text = String::from_utf8_lossy(&b.content).into_owned();
            text.split(" id=\"").nth(1).map_or(text.clone(), |s| s.split('"').next().unwrap().to_string())
        })
        .collect()
}

#[test]
fn s4_7_a_block_is_stored_once_and_linked_to_each_destination() {
    let w = World::new();
    let c = w.anon();
    let label = "2024-03-01T12:00:00.250000Z";
    let msg =
        inbox_message(&["feed-a", "stix12-feed"], vec![block_with(STIX12, None, &stix("p1"), Some(label))]);
    let r = c.send(INBOX_STRICT, &msg);
    let s = r.expect(StatusType::Success);
    assert_eq!(s.in_response_to, msg.message_id());
    let mut db = w.db();
    assert_eq!(count(&mut db, "SELECT count(*) FROM content_blocks"), 1);
    assert_eq!(count(&mut db, "SELECT count(*) FROM collection_to_content_block"), 2);
    let a = blocks_in(&mut db, "feed-a");
    assert_eq!(a, blocks_in(&mut db, "stix12-feed"));
    let b = &a[0];
    assert_eq!((b.binding.as_str(), b.subtype.as_deref()), (STIX12, None));
    assert_eq!(String::from_utf8_lossy(&b.content), stix("p1"), "payload bytes kept");
    assert_eq!(b.timestamp_label, ts(label));
    assert_eq!(
        (volume(&mut db, "feed-a"), volume(&mut db, "stix12-feed"), volume(&mut db, "set-b")),
        (1, 1, 0)
    );
    // The raw message is saved and the block points at it.
    let rows = inbox_rows(&mut db);
    assert_eq!(
        rows,
        [(
            msg.message_id().to_string(),
            1,
            Some(json!(["feed-a", "stix12-feed"])),
            "inbox_strict".to_string()
        )]
    );
    let (raw_id, original): (i32, Vec<u8>) = {
        let row = db.query_one("SELECT id, original_message FROM inbox_messages", &[]).unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(b.inbox_message_id, Some(raw_id));
    let (v, saved) = parse(&original).unwrap_or_else(|e| panic!("saved message does not parse ({e})"));
    assert_eq!((v, saved.message_id()), (Version::V11, msg.message_id()));
    // Polled back as sent.
    let r = w.anon().poll(POLL, poll_request("stix12-feed"));
    let p = r.poll();
    assert_eq!(p.content_blocks.len(), 1);
    assert_eq!(p.content_blocks[0].content, Content::xml(stix("p1")));
    assert_eq!(p.content_blocks[0].timestamp_label, Some(ts(label)));
}

#[test]
fn s4_7_the_full_sample_keeps_its_source_subscription_and_counts() {
    let w = World::new();
    let sample = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/reference/taxii1-messages/taxii11/Inbox_Message_full.xml"
    ))
    .unwrap();
    // Destinations feed-a and set-b; a STIX 1.1.1 block and a urn:example:text block.
    let r = w.anon().send_raw(INBOX_STRICT, &sample, Version::V11);
    assert_eq!(r.expect(StatusType::Success).in_response_to, "1009");
    let mut db = w.db();
    let row = db
        .query_one(
            "SELECT message_id, result_id, record_count, partial_count, subscription_collection_name, subscription_id, \
             exclusive_begin_timestamp_label, inclusive_end_timestamp_label, content_block_count, destination_collections, service_id \
             FROM inbox_messages",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "1009");
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("rs-1"));
    assert_eq!(row.get::<_, Option<i32>>(2), Some(2));
    assert_eq!(row.get::<_, Option<bool>>(3), Some(false));
    assert_eq!(row.get::<_, Option<String>>(4).as_deref(), Some("feed-a"));
    assert_eq!(row.get::<_, Option<String>>(5).as_deref(), Some("sub-1"));
    assert_eq!(row.get::<_, Option<time::OffsetDateTime>>(6), Some(ts("2024-01-01T00:00:00Z")));
    assert_eq!(row.get::<_, Option<time::OffsetDateTime>>(7), Some(ts("2024-01-31T23:59:59.123456Z")));
    assert_eq!(row.get::<_, Option<i32>>(8), Some(2), "blocks in the message, dropped ones included");
    assert_eq!(serde_json::from_str::<Value>(&row.get::<_, String>(9)).unwrap(), json!(["feed-a", "set-b"]));
    assert_eq!(row.get::<_, String>(10), "inbox_strict");
    // Only the STIX block passes the strict inbox; it goes to both destinations.
    assert_eq!(count(&mut db, "SELECT count(*) FROM content_blocks"), 1);
    assert_eq!(stored_names(&mut db, "feed-a"), ["example:Package-1"]);
    assert_eq!(stored_names(&mut db, "set-b"), ["example:Package-1"]);
}

#[test]
fn s4_7_destination_rules() {
    let w = World::new();
    let c = w.anon();
    let acceptable = |r: &Reply| {
        let mut v = r.status().details.acceptable_destinations.clone();
        v.sort();
        v
    };
    let blocks = || vec![block(STIX111, &stix("x"))];
    // An inbox without destination_collection_required forbids names (OpenTAXII).
    let r = c.inbox(INBOX, &["feed-a"], blocks());
    let s = r.expect(StatusType::DestinationCollectionError);
    assert_eq!(
        s.message.as_deref(),
        Some("Destination_Collection_Names are prohibited for this Inbox Service")
    );
    assert_eq!(acceptable(&r), ["feed-a", "set-b", "stix12-feed"]);
    // One that requires them refuses a message without.
    let r = c.inbox(INBOX_STRICT, &[], blocks());
    let s = r.expect(StatusType::DestinationCollectionError);
    assert_eq!(
        s.message.as_deref(),
        Some("A Destination_Collection_Name is required and none were specified")
    );
    assert_eq!(acceptable(&r), ["feed-a", "set-b", "stix12-feed"]);
    // Unknown names, and collections not attached to this inbox, are not found.
    for name in ["nope", "disabled"] {
        let r = c.inbox(INBOX_STRICT, &["feed-a", name], blocks());
        let s = r.expect(StatusType::NotFound);
        assert_eq!(s.details.item.as_deref(), Some(name), "{}", r.text());
        assert_eq!(s.message.as_deref(), Some(format!("Collection {name} was not found").as_str()));
    }
    // Nothing was stored, not even the raw message.
    let mut db = w.db();
    assert_eq!(count(&mut db, "SELECT count(*) FROM content_blocks"), 0);
    assert_eq!(count(&mut db, "SELECT count(*) FROM inbox_messages"), 0);
}

#[test]
fn s4_7_without_destinations_every_accepting_collection_of_the_inbox() {
    let w = World::new();
    let r = w.anon().inbox(INBOX, &[], vec![block(STIX111, &stix("s111")), block(STIX12, &stix("s12"))]);
    r.expect(StatusType::Success);
    let mut db = w.db();
    assert_eq!(count(&mut db, "SELECT count(*) FROM content_blocks"), 2);
    assert_eq!(stored_names(&mut db, "feed-a").len(), 2);
    assert_eq!(stored_names(&mut db, "set-b"), ["s111"]);
    assert_eq!(stored_names(&mut db, "stix12-feed"), ["s12"]);
    assert_eq!(stored_names(&mut db, "disabled"), Vec::<String>::new());
    assert_eq!(
        (volume(&mut db, "feed-a"), volume(&mut db, "set-b"), volume(&mut db, "stix12-feed")),
        (2, 1, 1)
    );
    assert_eq!(inbox_rows(&mut db)[0].2, None, "no destinations given");
}

#[test]
fn s4_7_blocks_nobody_accepts_are_dropped_silently() {
    let w = World::new();
    let c = w.anon();
    // Not accepted by the strict inbox: SUCCESS, nothing stored.
    let r = c.inbox(INBOX_STRICT, &["feed-a"], vec![block("urn:example:x", "plain text")]);
    r.expect(StatusType::Success);
    let mut db = w.db();
    assert_eq!(count(&mut db, "SELECT count(*) FROM content_blocks"), 0);
    assert_eq!(inbox_rows(&mut db)[0].1, 1, "the raw message still counts the block");
    // Accepted by the inbox, but only by some destinations.
    let r = c.inbox(
        INBOX_STRICT,
        &["set-b", "stix12-feed"],
        vec![block(STIX111, &stix("only-set-b")), block("urn:example:x", "dropped")],
    );
    r.expect(StatusType::Success);
    assert_eq!(stored_names(&mut db, "set-b"), ["only-set-b"]);
    assert_eq!(stored_names(&mut db, "stix12-feed"), Vec::<String>::new());
    // Accepted by the inbox, by no destination: not stored at all.
    let r = c.inbox(INBOX_STRICT, &["stix12-feed"], vec![block(STIX111, &stix("nowhere"))]);
    r.expect(StatusType::Success);
    assert_eq!(count(&mut db, "SELECT count(*) FROM content_blocks"), 1);
    assert_eq!(count(&mut db, "SELECT count(*) FROM collection_to_content_block"), 1);
    assert_eq!(count(&mut db, "SELECT count(*) FROM inbox_messages"), 3);
}

#[test]
fn s4_7_subtypes_labels_and_payload_forms() {
    let w = World::new();
    let c = w.anon();
    let before = now();
    let r = c.inbox(
        INBOX_STRICT,
        &["stix12-feed"],
        vec![
            block_with(
                STIX12,
                Some("urn:example:subtype"),
                &stix("with-subtype"),
                Some("2024-01-01T00:00:00Z"),
            ),
            block_with(STIX12, None, &stix("unlabelled"), None),
            block_with(STIX12, None, "plain <text> & more", Some("2024-01-02T00:00:00+05:00")),
        ],
    );
    r.expect(StatusType::Success);
    let after = now();
    let mut db = w.db();
    let stored = blocks_in(&mut db, "stix12-feed");
    assert_eq!(stored.len(), 3);
    let with_subtype =
        stored.iter().find(|b| String::from_utf8_lossy(&b.content).contains("with-subtype")).unwrap();
    assert_eq!(with_subtype.subtype.as_deref(), Some("urn:example:subtype"));
    assert_eq!(with_subtype.timestamp_label, ts("2024-01-01T00:00:00Z"));
    let unlabelled =
        stored.iter().find(|b| String::from_utf8_lossy(&b.content).contains("unlabelled")).unwrap();
    assert!(
        unlabelled.timestamp_label >= before - time::Duration::seconds(1)
            && unlabelled.timestamp_label <= after + time::Duration::seconds(1),
        "no Timestamp_Label: stamped now, got {}",
        unlabelled.timestamp_label
    );
    let text =
        stored.iter().find(|b| b.content == b"plain <text> & more").expect("text payload stored as its text");
    assert_eq!(text.timestamp_label, ts("2024-01-01T19:00:00Z"));
    // Polled back (first part: the two 2024 blocks): the subtype and the payload forms.
    let r = c.poll(POLL, poll_request("stix12-feed"));
    let p = r.poll();
    let cb: Vec<(Vec<String>, bool)> =
        p.content_blocks.iter().map(|b| (b.content_binding.subtypes.clone(), b.content.is_xml)).collect();
    assert_eq!(cb, [(vec!["urn:example:subtype".to_string()], true), (vec![], false)], "{}", r.text());
    assert_eq!(p.content_blocks[1].content, Content::text("plain <text> & more"));
    assert!(r.text().contains(r#"subtype_id="urn:example:subtype""#), "{}", r.text());
}

#[test]
fn s4_7_payload_namespaces_declared_on_the_envelope_travel_with_it() {
    let w = World::new();
    let body = format!(
        r#"<t:Inbox_Message xmlns:t="{NS_TAXII_11}" xmlns:stix="http://stix.mitre.org/stix-1" message_id="5">
<t:Destination_Collection_Name>feed-a</t:Destination_Collection_Name>
<t:Content_Block><t:Content_Binding binding_id="{STIX111}"/><t:Content><stix:STIX_Package id="ns-test"/></t:Content>
<t:Timestamp_Label>2024-01-01T00:00:00Z</t:Timestamp_Label></t:Content_Block></t:Inbox_Message>"#
    );
    let r = w.anon().send_raw(INBOX_AUTH, body.as_bytes(), Version::V11);
    r.expect(StatusType::Unauthorized);
    let r = w.basic("writer").send_raw(INBOX_AUTH, body.as_bytes(), Version::V11);
    r.expect(StatusType::Success);
    let stored = blocks_in(&mut w.db(), "feed-a");
    let text = String::from_utf8(stored[0].content.clone()).unwrap();
    assert!(text.starts_with("<stix:STIX_Package"), "{text}");
    assert!(
        text.contains(r#"xmlns:stix="http://stix.mitre.org/stix-1""#),
        "the payload is self-contained: {text}"
    );
    let r = w.anon().poll(POLL, poll_request("feed-a"));
    let c = &r.poll().content_blocks[0].content;
    assert!(c.is_xml);
    assert_eq!(String::from_utf8_lossy(&c.bytes), text);
}

#[test]
fn s4_7_writing_needs_modify_permission() {
    let w = World::new();
    let blocks = || vec![block(STIX12, &stix("x"))];
    // reader: feed-a read only, stix12-feed modify.
    let r = w.basic("reader").inbox(INBOX_AUTH, &["feed-a"], blocks());
    let s = r.expect(StatusType::Unauthorized);
    assert_eq!(s.message.as_deref(), Some("User can not write to collection feed-a"));
    let r = w.basic("reader").inbox(INBOX_AUTH, &["stix12-feed", "feed-a"], blocks());
    r.expect(StatusType::Unauthorized);
    let mut db = w.db();
    assert_eq!(count(&mut db, "SELECT count(*) FROM content_blocks"), 0);
    assert_eq!(count(&mut db, "SELECT count(*) FROM inbox_messages"), 0);
    let r = w.bearer("reader").inbox(INBOX_AUTH, &["stix12-feed"], blocks());
    r.expect(StatusType::Success);
    assert_eq!(stored_names(&mut db, "stix12-feed"), ["x"]);
    // Unreadable collections do not exist for the caller.
    let r = w.basic("nobody").inbox(INBOX_AUTH, &["feed-a"], blocks());
    assert_eq!(r.expect(StatusType::NotFound).details.item.as_deref(), Some("feed-a"));
    // Acceptable destinations are the ones the caller can see.
    let r = w.basic("reader").inbox(INBOX_AUTH, &[], blocks());
    let mut acceptable =
        r.expect(StatusType::DestinationCollectionError).details.acceptable_destinations.clone();
    acceptable.sort();
    assert_eq!(acceptable, ["feed-a", "stix12-feed"]);
    let r = w.basic("admin").inbox(INBOX_AUTH, &["feed-a", "stix12-feed"], blocks());
    r.expect(StatusType::Success);
    assert_eq!(stored_names(&mut db, "feed-a"), ["x"]);
}

#[test]
fn s4_7_raw_messages_can_be_left_unsaved() {
    let w = World::with("taxii1.save_raw_inbox_messages = no\n");
    let r = w.anon().inbox(INBOX_STRICT, &["feed-a"], vec![block(STIX111, &stix("x"))]);
    r.expect(StatusType::Success);
    let mut db = w.db();
    assert_eq!(count(&mut db, "SELECT count(*) FROM inbox_messages"), 0);
    let stored = blocks_in(&mut db, "feed-a");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].inbox_message_id, None);
}

#[test]
fn s4_7_inbox_10() {
    let w = World::new();
    let sample = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/reference/taxii1-messages/taxii10/Inbox_Message.xml"
    ))
    .unwrap();
    // 1.0 has no destinations: every collection of the inbox that accepts the block.
    let r = w.anon().v10().send_raw(INBOX, &sample, Version::V10);
    assert_eq!(r.expect(StatusType::Success).in_response_to, "1007");
    let mut db = w.db();
    assert_eq!(count(&mut db, "SELECT count(*) FROM content_blocks"), 1);
    assert_eq!(stored_names(&mut db, "feed-a"), ["example:Package-1"]);
    assert_eq!(stored_names(&mut db, "set-b"), ["example:Package-1"]);
    // Per-collection bindings apply in 1.0 too (OpenTAXII skips that check, Q15).
    assert_eq!(stored_names(&mut db, "stix12-feed"), Vec::<String>::new());
    let rows = inbox_rows(&mut db);
    assert_eq!(rows, [("1007".to_string(), 1, None, "inbox".to_string())]);
    let row = db.query_one("SELECT subscription_collection_name, subscription_id, exclusive_begin_timestamp_label FROM inbox_messages", &[]).unwrap();
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some("feed-a"));
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("sub-1"));
    assert_eq!(
        row.get::<_, Option<time::OffsetDateTime>>(2),
        Some(ts("2024-01-01T00:00:00Z")),
        "1.0's inclusive begin"
    );

    // Built with the codec, to an authenticated inbox: only what the caller may modify,
    // unwritable collections skipped silently (OpenTAXII).
    let msg = inbox_message(&[], vec![block(STIX12, &stix("ten"))]);
    let r = w.basic("reader").v10().send(INBOX_AUTH, &msg);
    r.expect(StatusType::Success);
    assert_eq!(stored_names(&mut db, "stix12-feed"), ["ten"]);
    assert_eq!(stored_names(&mut db, "feed-a"), ["example:Package-1"]);
    // The strict inbox's own binding list applies to 1.0 as well.
    let msg = inbox_message(&[], vec![block("urn:example:x", "dropped")]);
    w.anon().v10().send(INBOX_STRICT, &msg).expect(StatusType::Success);
    assert_eq!(count(&mut db, "SELECT count(*) FROM content_blocks"), 2);
}

// ---------------------------------------------------------------------------------------
// §3: payloads and names as others stored them
// ---------------------------------------------------------------------------------------

#[test]
fn s3_stored_payloads_always_go_out_as_well_formed_messages() {
    let w = World::new();
    let mut db = w.db();
    // (stored bytes, what the block's Content must read as; None: anything, as long as the
    // answer is well-formed)
    let cases: Vec<(&[u8], Option<Content>)> = vec![
        (b"<a>unclosed", Some(Content::text("<a>unclosed"))),
        (b"x ]]> y & < > \" '", Some(Content::text("x ]]> y & < > \" '"))),
        (b"<r/><s/>", Some(Content::text("<r/><s/>"))),
        (b"", Some(Content::text(""))),
        (b"{\"json\": [1, 2]}", Some(Content::text("{\"json\": [1, 2]}"))),
        (b"<r xmlns=\"urn:x\"><c>1</c></r>", Some(Content::xml("<r xmlns=\"urn:x\"><c>1</c></r>"))),
        (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<r>declared</r>\n", None),
        (b"<!DOCTYPE r [<!ENTITY e \"x\">]><r>&e;</r>", None),
        (b"control \x01 char", None),
        (b"not utf-8 \xff\xfe", None),
    ];
    for (i, (bytes, _)) in cases.iter().enumerate() {
        let label = format!("2024-01-01T00:00:{i:02}Z");
        insert_block(&mut db, &["feed-a"], "urn:example:raw", None, bytes, &label);
    }
    let admin = w.basic("admin");
    let r = admin.poll(POLL_AUTH, poll_request("feed-a"));
    let blocks = &r.poll().content_blocks;
    assert_eq!(blocks.len(), cases.len(), "{}", r.text());
    for (b, (bytes, want)) in blocks.iter().zip(&cases) {
        if let Some(want) = want {
            assert_eq!(&b.content, want, "stored {:?}", String::from_utf8_lossy(bytes));
        }
    }
    // The declared document goes out as its element.
    let declared = String::from_utf8_lossy(&blocks[6].content.bytes).into_owned();
    assert!(declared.contains("<r>declared</r>"), "{declared}");
    // TAXII 1.0 too.
    let r = admin.v10().poll(POLL_AUTH, poll_request_10("feed-a"));
    assert_eq!(r.poll().content_blocks.len(), cases.len());
}

#[test]
fn s3_names_and_descriptions_are_escaped() {
    let w = World::new();
    let mut db = w.db();
    let name = "q&a \"x\" <y> 'z'";
    let description = "line 1\n<b>bold</b> &amp; more";
    create_collection(
        &mut db,
        &NewCollection {
            name,
            ty: "DATA_FEED",
            description: Some(description),
            accept_all_content: true,
            bindings: &[],
            available: true,
        },
    );
    for s in ["collection_management", "poll", "inbox_strict"] {
        link(&mut db, s, name);
    }
    let r = w.anon().send(CM, &collection_information_request());
    let c = r.collections().collections.iter().find(|c| c.collection_name == name).expect("listed").clone();
    assert_eq!(c.description, description);
    let r = w.anon().inbox(INBOX_STRICT, &[name], vec![block(STIX111, &stix("odd"))]);
    r.expect(StatusType::Success);
    let r = w.anon().poll(POLL, poll_request(name));
    assert_eq!(
        (r.poll().collection_name.as_str(), names(&r.poll().content_blocks)),
        (name, vec!["odd".to_string()])
    );
    let odd = "<&>\"'";
    let r = w.anon().poll(POLL, poll_request(odd));
    assert_eq!(r.expect(StatusType::NotFound).details.item.as_deref(), Some(odd));
}

#[test]
fn s4_2_broken_service_rows_do_not_take_the_others_down() {
    let w = World::new();
    let mut db = w.db();
    db.execute(
        "INSERT INTO services (id, type, _properties, date_created, date_updated) VALUES \
         ('broken_json', 'poll', '{\"address\": \"/services/broken\"', now(), now()), \
         ('unknown_type', 'proxy', '{\"address\": \"/services/proxy\"}', now(), now()), \
         ('no_address', 'poll', '{\"description\": \"nowhere\"}', now(), now())",
        &[],
    )
    .unwrap();
    let mut props = service_properties(&mut db, "discovery");
    for id in ["broken_json", "unknown_type", "no_address", "no_such_service"] {
        props["advertised_services"].as_array_mut().unwrap().push(json!(id));
    }
    set_service_properties(&mut db, "discovery", &props);
    let r = w.anon().send(DISCOVERY, &discovery_request());
    assert_eq!(r.discovery().service_instances.len(), 7, "{}", r.text());
    let raw = write(Version::V11, &discovery_request());
    for path in ["/services/broken", "/services/proxy"] {
        assert_eq!(w.anon().req(path, raw.clone()).send(w.addr()).status, 404, "{path}");
    }
    w.five_blocks();
    assert_eq!(w.anon().poll(POLL, poll_request("feed-a")).poll().content_blocks.len(), 2);
}

#[test]
fn s4_7_concurrent_pushes_keep_volumes_right() {
    let w = World::new();
    let c = w.anon();
    std::thread::scope(|s| {
        for t in 0..8 {
            let c = c.clone();
            s.spawn(move || {
                for i in 0..5 {
                    let blocks = vec![block(STIX12, &stix(&format!("t{t}-{i}")))];
                    c.inbox(INBOX_STRICT, &["feed-a", "stix12-feed"], blocks).expect(StatusType::Success);
                }
            });
        }
    });
    let mut db = w.db();
    assert_eq!((volume(&mut db, "feed-a"), volume(&mut db, "stix12-feed")), (40, 40));
    assert_eq!(count(&mut db, "SELECT count(*) FROM content_blocks"), 40);
    assert_eq!(count(&mut db, "SELECT count(*) FROM inbox_messages"), 40);
    let parts = w.basic("admin").poll_all(POLL_AUTH, poll_request("stix12-feed"));
    assert_eq!(parts.iter().map(|p| p.content_blocks.len()).sum::<usize>(), 40);
}
