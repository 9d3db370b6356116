//! TAXII 1.x Poll and Poll_Fulfillment (taxii1-checklist.md §4.5, §4.6, §6): collection
//! lookup and availability, read permission, the (exclusive begin, inclusive end] window,
//! binding filters and UNSUPPORTED_CONTENT, FULL/COUNT_ONLY and Record_Count, paging into
//! result sets that stay stable while new blocks arrive (keyed on timestamp label and id),
//! fulfillment errors, subscriptions as stored poll parameters, 1.0 polls that are never
//! truncated, Data Sets, queries.

mod common;

use common::taxii1::*;
use serde_json::json;
use taxiid::taxii1::messages::*;

fn all_names(parts: &[PollResponse]) -> Vec<String> {
    parts.iter().flat_map(|p| names(&p.content_blocks)).collect()
}

fn part_names(parts: &[PollResponse]) -> Vec<Vec<String>> {
    parts.iter().map(|p| names(&p.content_blocks)).collect()
}

fn window(collection: &str, begin: Option<&str>, end: Option<&str>) -> PollRequest {
    let mut p = poll_request(collection);
    p.exclusive_begin = begin.map(ts);
    p.inclusive_end = end.map(ts);
    p
}

fn window_10(feed: &str, begin: Option<&str>, end: Option<&str>) -> PollRequest {
    let mut p = poll_request_10(feed);
    p.exclusive_begin = begin.map(ts);
    p.inclusive_end = end.map(ts);
    p
}

fn count_only(collection: &str) -> PollRequest {
    let mut p = poll_request(collection);
    p.poll_parameters.as_mut().unwrap().response_type = ResponseType::CountOnly;
    p
}

fn subscribe(w: &World, collection: &str, params: Option<SubscriptionParameters>) -> String {
    let mut req = subscription_request(SubscriptionAction::Subscribe, collection, None);
    req.subscription_parameters = params;
    let r = w.anon().subscription(CM, req);
    r.subscriptions().subscriptions[0].subscription_id.clone()
}

// ---------------------------------------------------------------------------------------
// §4.5 / §4.6: paging
// ---------------------------------------------------------------------------------------

#[test]
fn s4_5_paging_into_result_sets_with_poll_fulfillment() {
    let w = World::new();
    w.five_blocks();
    let parts = w.anon().poll_all(POLL, poll_request("feed-a"));
    assert_eq!(part_names(&parts), [vec!["b1", "b2"], vec!["b3", "b4"], vec!["b5"]]);
    let more: Vec<bool> = parts.iter().map(|p| p.more).collect();
    assert_eq!(more, [true, true, false]);
    let rid = parts[0].result_id.clone().unwrap();
    assert!(is_digits_id(&rid), "result ids are digits: {rid}");
    for p in &parts {
        assert_eq!(p.collection_name, "feed-a");
        assert_eq!(p.record_count, None, "no Record_Count while counting is off");
        assert_eq!(p.subscription_id, None);
    }
    // The result set is an OpenTAXII row.
    let mut db = w.db();
    let row = db.query_one("SELECT c.name, r.bindings, r.begin_time, r.end_time IS NULL FROM result_sets r JOIN data_collections c ON c.id = r.collection_id WHERE r.id = $1", &[&rid]).unwrap();
    assert_eq!(row.get::<_, String>(0), "feed-a");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&row.get::<_, String>(1)).unwrap(), json!([]));
    assert_eq!(row.get::<_, Option<time::OffsetDateTime>>(2), None);
    // A fresh poll makes a fresh result set.
    let again = w.anon().poll(POLL, poll_request("feed-a"));
    assert_ne!(again.poll().result_id.as_deref(), Some(rid.as_str()));
}

#[test]
fn s4_5_more_is_exact() {
    let w = World::new();
    let ids = w.five_blocks();
    w.db().execute("DELETE FROM content_blocks WHERE id = $1", &[&ids[4]]).unwrap();
    // Four blocks, two per part: no spurious empty third part.
    let parts = w.anon().poll_all(POLL, poll_request("feed-a"));
    assert_eq!(part_names(&parts), [vec!["b1", "b2"], vec!["b3", "b4"]]);
    assert!(!parts[1].more);
    // Exactly one part's worth: no result set at all.
    let r = w.anon().poll(POLL, window("feed-a", Some("2024-01-02T00:00:00Z"), None));
    let p = r.poll();
    assert_eq!(
        (names(&p.content_blocks), p.more, p.result_id.clone()),
        (vec!["b3".to_string(), "b4".to_string()], false, None)
    );
    assert_eq!(p.result_part_number, 1);
    let r = w.anon().poll(POLL, poll_request("stix12-feed"));
    let p = r.poll();
    assert_eq!(
        (p.content_blocks.len(), p.more, p.result_id.clone(), p.result_part_number),
        (0, false, None, 1)
    );
    assert_eq!(count(&mut w.db(), "SELECT count(*) FROM result_sets"), 1);
}

#[test]
fn s4_6_parts_stay_stable_while_new_blocks_arrive() {
    let w = World::new();
    w.five_blocks();
    let c = w.anon();
    let first = c.poll(POLL, poll_request("feed-a")).poll().clone();
    assert_eq!(names(&first.content_blocks), ["b1", "b2"]);
    let rid = first.result_id.clone().unwrap();
    // Older than everything: OFFSET paging would shift b2 into part 2.
    w.add_blocks(&["feed-a"], &[("old", STIX111, None, "2023-06-01T00:00:00Z")]);
    let r = c.send(POLL, &fulfillment("feed-a", &rid, 2));
    assert_eq!(names(&r.poll().content_blocks), ["b3", "b4"], "{}", r.text());
    assert!(r.poll().more);
    // The same part again is the same.
    let r = c.send(POLL, &fulfillment("feed-a", &rid, 2));
    assert_eq!(names(&r.poll().content_blocks), ["b3", "b4"], "{}", r.text());
    // Between parts already served, and inside the part still to come: the result set is
    // what there was when it was made.
    w.add_blocks(&["feed-a"], &[("mid", STIX111, None, "2024-01-03T12:00:00Z")]);
    w.add_blocks(&["feed-a"], &[("late", STIX111, None, "2024-01-04T12:00:00Z")]);
    let r = c.send(POLL, &fulfillment("feed-a", &rid, 3));
    let p = r.poll();
    assert_eq!((names(&p.content_blocks), p.more), (vec!["b5".to_string()], false), "{}", r.text());
}

#[test]
fn s4_5_equal_labels_are_ordered_by_id_across_parts() {
    let w = World::new();
    let label = "2024-05-05T05:05:05Z";
    w.add_blocks(
        &["feed-a"],
        &[("t1", STIX111, None, label), ("t2", STIX111, None, label), ("t3", STIX111, None, label)],
    );
    let parts = w.anon().poll_all(POLL, poll_request("feed-a"));
    assert_eq!(part_names(&parts), [vec!["t1", "t2"], vec!["t3"]]);
}

#[test]
fn s4_6_fulfillment_errors() {
    let w = World::new();
    w.five_blocks();
    let c = w.anon();
    let rid = c.poll(POLL, poll_request("feed-a")).poll().result_id.clone().unwrap();
    let r = c.send(POLL, &fulfillment("feed-a", "424242", 2));
    assert_eq!(r.expect(StatusType::NotFound).details.item.as_deref(), Some("424242"));
    // A result set belongs to its collection.
    let r = c.send(POLL, &fulfillment("stix12-feed", &rid, 2));
    r.expect(StatusType::NotFound);
    // The part after the last is empty (cabby asks for it); beyond that is an error.
    let r = c.send(POLL, &fulfillment("feed-a", &rid, 4));
    let p = r.poll();
    assert_eq!((p.content_blocks.len(), p.more, p.result_part_number), (0, false, 4), "{}", r.text());
    let r = c.send(POLL, &fulfillment("feed-a", &rid, 9));
    let s = r.expect(StatusType::InvalidResponsePart);
    assert_eq!(s.details.max_part_number, Some(3), "{}", r.text());
    // Part 1 again, and a Poll_Fulfillment without a part number (= 1).
    let r = c.send(POLL, &fulfillment("feed-a", &rid, 1));
    assert_eq!(names(&r.poll().content_blocks), ["b1", "b2"]);
    let raw = format!(
        r#"<t:Poll_Fulfillment xmlns:t="{NS_TAXII_11}" message_id="31" collection_name="feed-a" result_id="{rid}"/>"#
    );
    let r = c.send_raw(POLL, raw.as_bytes(), Version::V11);
    assert_eq!(r.in_response_to(), "31");
    assert_eq!(
        (names(&r.poll().content_blocks), r.poll().result_part_number),
        (vec!["b1".to_string(), "b2".to_string()], 1)
    );
    // Poll_Fulfillment does not exist in TAXII 1.0.
    let raw = format!(
        r#"<t:Poll_Fulfillment xmlns:t="{NS_TAXII_10}" message_id="32" collection_name="feed-a" result_id="{rid}" result_part_number="2"/>"#
    );
    let r = c.v10().send_raw(POLL, raw.as_bytes(), Version::V10);
    r.expect(StatusType::BadMessage);
}

// ---------------------------------------------------------------------------------------
// §4.5: what is selected
// ---------------------------------------------------------------------------------------

#[test]
fn s4_5_window_is_exclusive_begin_inclusive_end() {
    let w = World::new();
    w.five_blocks();
    let admin = w.basic("admin");
    let poll = |p: PollRequest| admin.poll(POLL_AUTH, p).poll().clone();
    let p = poll(window("feed-a", Some("2024-01-02T00:00:00Z"), Some("2024-01-04T00:00:00Z")));
    assert_eq!(names(&p.content_blocks), ["b3", "b4"]);
    assert_eq!(p.exclusive_begin, Some(ts("2024-01-02T00:00:00Z")));
    assert_eq!(p.inclusive_end, Some(ts("2024-01-04T00:00:00Z")));
    assert_eq!(
        names(&poll(window("feed-a", Some("2024-01-03T00:00:00Z"), None)).content_blocks),
        ["b4", "b5"]
    );
    assert_eq!(
        names(&poll(window("feed-a", None, Some("2024-01-02T00:00:00Z"))).content_blocks),
        ["b1", "b2"]
    );
    // Offsets are instants.
    let p = poll(window("feed-a", Some("2024-01-02T01:00:00+01:00"), Some("2024-01-03T23:00:00-01:00")));
    assert_eq!(names(&p.content_blocks), ["b3", "b4"]);
    // Equal bounds: empty, not an error.
    let p = poll(window("feed-a", Some("2024-01-03T00:00:00Z"), Some("2024-01-03T00:00:00Z")));
    assert_eq!((p.content_blocks.len(), p.more), (0, false));
    // Begin after end.
    let r =
        admin.poll(POLL_AUTH, window("feed-a", Some("2024-01-05T00:00:00Z"), Some("2024-01-01T00:00:00Z")));
    let s = r.expect(StatusType::Failure);
    assert_eq!(
        s.message.as_deref(),
        Some("Exclusive begin timestamp label is later than inclusive end timestamp label")
    );
    // 1.0.
    let r = admin
        .v10()
        .poll(POLL_AUTH, window_10("feed-a", Some("2024-01-02T00:00:00Z"), Some("2024-01-04T00:00:00Z")));
    let p = r.poll();
    assert_eq!(names(&p.content_blocks), ["b3", "b4"]);
    assert_eq!(p.collection_name, "feed-a");
    assert_eq!(p.inclusive_begin, Some(ts("2024-01-02T00:00:00Z")));
    assert_eq!(p.inclusive_end, Some(ts("2024-01-04T00:00:00Z")));
}

#[test]
fn s6_a_feed_poll_says_where_it_ended_and_the_next_one_continues_there() {
    let w = World::new();
    w.five_blocks();
    let admin = w.basic("admin");
    let before = now();
    let first = admin.poll(POLL_AUTH, poll_request("feed-a")).poll().clone();
    let after = now();
    assert_eq!(first.content_blocks.len(), 5);
    let end = first.inclusive_end.expect("a Data Feed poll carries Inclusive_End_Timestamp");
    assert!(end >= before - time::Duration::seconds(1) && end <= after + time::Duration::seconds(1), "{end}");
    // A block pushed now lands after that end.
    std::thread::sleep(std::time::Duration::from_millis(20));
    w.anon()
        .inbox(INBOX_STRICT, &["feed-a"], vec![block(STIX111, &stix("late"))])
        .expect(StatusType::Success);
    let mut next = poll_request("feed-a");
    next.exclusive_begin = Some(end);
    let r = admin.poll(POLL_AUTH, next);
    assert_eq!(names(&r.poll().content_blocks), ["late"], "{}", r.text());
    // 1.0 too: Inclusive_End_Timestamp is required there.
    let r = admin.v10().poll(POLL_AUTH, poll_request_10("feed-a"));
    assert!(r.poll().inclusive_end.is_some());
    assert_eq!(r.poll().inclusive_begin, None);
}

#[test]
fn s4_5_binding_filters_and_unsupported_content() {
    let w = World::new();
    let mut db = w.db();
    insert_block(&mut db, &["feed-a"], STIX111, None, stix("b111").as_bytes(), "2024-01-01T00:00:00Z");
    insert_block(&mut db, &["feed-a"], STIX12, None, stix("b12").as_bytes(), "2024-01-02T00:00:00Z");
    insert_block(&mut db, &["feed-a"], STIX12, Some("s1"), stix("b12s").as_bytes(), "2024-01-03T00:00:00Z");
    insert_block(&mut db, &["feed-a"], "urn:example:x", None, b"bx", "2024-01-04T00:00:00Z");
    let admin = w.basic("admin");
    let got = |b: &[(&str, &[&str])]| {
        let r = admin.poll(POLL_AUTH, poll_with_bindings("feed-a", b));
        names(&r.poll().content_blocks)
    };
    assert_eq!(got(&[]), ["b111", "b12", "b12s", "bx"]);
    assert_eq!(got(&[(STIX12, &[])]), ["b12", "b12s"]);
    assert_eq!(got(&[(STIX12, &["s1"])]), ["b12s"]);
    assert_eq!(got(&[(STIX111, &[]), ("urn:example:x", &[])]), ["b111", "bx"]);
    assert_eq!(got(&[("urn:example:none", &[])]), Vec::<String>::new());
    // The answer's blocks carry their binding and subtype.
    let r = admin.poll(POLL_AUTH, poll_with_bindings("feed-a", &[(STIX12, &["s1"])]));
    assert_eq!(
        r.poll().content_blocks[0].content_binding,
        ContentBinding { binding_id: STIX12.into(), subtypes: vec!["s1".into()] }
    );
    assert!(r.poll().content_blocks[0].content.is_xml);
    let r = admin.poll(POLL_AUTH, poll_with_bindings("feed-a", &[("urn:example:x", &[])]));
    assert_eq!(r.poll().content_blocks[0].content, Content::text("bx"));
    // A collection's configured list: requested bindings must match it…
    let r = admin.poll(POLL, poll_with_bindings("stix12-feed", &[(STIX111, &[])]));
    let s = r.expect(StatusType::UnsupportedContent);
    assert_eq!(s.details.supported_content, [ContentBinding::new(STIX12)], "{}", r.text());
    // …and without a request it is the filter (a 1.2 block in a 1.1.1 set stays invisible).
    insert_block(&mut db, &["set-b"], STIX111, None, stix("s111").as_bytes(), "2024-01-01T00:00:00Z");
    insert_block(&mut db, &["set-b"], STIX12, None, stix("s12").as_bytes(), "2024-01-02T00:00:00Z");
    assert_eq!(names(&admin.poll(POLL, poll_request("set-b")).poll().content_blocks), ["s111"]);
    // 1.0: bindings are plain ids.
    let mut p = poll_request_10("feed-a");
    p.content_bindings = vec![ContentBinding::new(STIX12)];
    assert_eq!(names(&admin.v10().poll(POLL_AUTH, p).poll().content_blocks), ["b12", "b12s"]);
    let mut p = poll_request_10("stix12-feed");
    p.content_bindings = vec![ContentBinding::new(STIX111)];
    let r = admin.v10().poll(POLL, p);
    let s = r.expect(StatusType::UnsupportedContent);
    assert_eq!(s.details.supported_content, [ContentBinding::new(STIX12)], "{}", r.text());
}

#[test]
fn s4_5_count_only() {
    let w = World::new();
    w.five_blocks();
    let r = w.anon().poll(POLL, count_only("feed-a"));
    let p = r.poll();
    assert!(p.content_blocks.is_empty(), "{}", r.text());
    // Nothing for cabby to follow (OpenTAXII's later parts leak content, Q20).
    assert_eq!((p.more, p.result_id.clone()), (false, None), "{}", r.text());
    // Record_Count only with taxii1.count_blocks_in_poll_responses (as OpenTAXII: cabby says
    // "Count value was not returned"); see s9_count_blocks_in_poll_responses.
    assert_eq!(p.record_count, None, "{}", r.text());
    let r = w.basic("admin").poll(POLL_AUTH, count_only("feed-a"));
    assert!(r.poll().content_blocks.is_empty());
    assert_eq!((r.poll().more, r.poll().record_count), (false, None));
    assert_eq!(count(&mut w.db(), "SELECT count(*) FROM result_sets"), 0);
}

#[test]
fn s9_count_blocks_in_poll_responses() {
    let w = World::with("taxii1.count_blocks_in_poll_responses = yes\n");
    w.five_blocks();
    let parts = w.anon().poll_all(POLL, poll_request("feed-a"));
    assert_eq!(part_names(&parts), [vec!["b1", "b2"], vec!["b3", "b4"], vec!["b5"]]);
    for p in &parts {
        assert_eq!(
            p.record_count,
            Some(RecordCount { count: 3, partial: true }),
            "the same capped total in every part"
        );
    }
    let r = w.basic("admin").poll(POLL_AUTH, poll_request("feed-a"));
    assert_eq!(r.poll().record_count, Some(RecordCount { count: 5, partial: false }));
    let r = w.basic("admin").poll(POLL_AUTH, window("feed-a", Some("2024-01-03T00:00:00Z"), None));
    assert_eq!(r.poll().record_count, Some(RecordCount { count: 2, partial: false }));
    let r = w.anon().poll(POLL, count_only("feed-a"));
    assert_eq!(r.poll().record_count, Some(RecordCount { count: 3, partial: true }));
    assert!(r.poll().content_blocks.is_empty());
}

/// Polls in TAXII 1.0 from `begin`, following Inclusive_End_Timestamp while the answer says
/// it is partial; returns each answer's block names and Message.
fn walk_10(c: &Client, path: &str, feed: &str) -> Vec<(Vec<String>, Option<String>)> {
    let mut out = Vec::new();
    let mut begin = None;
    for _ in 0..20 {
        let mut p = poll_request_10(feed);
        p.exclusive_begin = begin;
        let r = c.poll(path, p);
        let p = r.poll().clone();
        assert_eq!(p.collection_name, feed);
        assert!(!r.text().contains("more="), "{}", r.text());
        let end = p.inclusive_end.expect("1.0 answers carry Inclusive_End_Timestamp");
        out.push((names(&p.content_blocks), p.message.clone()));
        if !p.message.as_deref().is_some_and(|m| m.starts_with("Partial answer")) {
            return out;
        }
        begin = Some(end);
    }
    panic!("more than 20 partial 1.0 answers");
}

#[test]
fn s4_5_poll_10_is_never_truncated_silently() {
    let w = World::new();
    w.five_blocks();
    // max_result_size is 2 and 1.0 cannot page: each answer says it is partial, ends at the
    // last label it holds, and polling on from there gets the rest (OpenTAXII silently
    // returns the first 2, Q6).
    let answers = walk_10(&w.anon().v10(), POLL, "feed-a");
    let names: Vec<Vec<String>> = answers.iter().map(|a| a.0.clone()).collect();
    assert_eq!(names, [vec!["b1", "b2"], vec!["b3", "b4"], vec!["b5"]]);
    assert_eq!(answers[2].1, None, "the last answer is complete");
    let r = w.anon().v10().poll(POLL, poll_request_10("feed-a"));
    assert_eq!(r.poll().inclusive_end, Some(ts("2024-01-02T00:00:00Z")), "{}", r.text());
    // Without a limit in the way, one complete answer.
    let answers = walk_10(&w.basic("admin").v10(), POLL_AUTH, "feed-a");
    assert_eq!(answers, [(vec!["b1", "b2", "b3", "b4", "b5"].into_iter().map(String::from).collect(), None)]);
}

#[test]
fn s4_5_poll_10_ends_answers_between_equal_labels_only_when_it_must() {
    let w = World::new();
    w.add_blocks(
        &["feed-a"],
        &[
            ("x1", STIX111, None, "2024-01-01T00:00:00Z"),
            ("x2", STIX111, None, "2024-01-02T00:00:00Z"),
            ("x3", STIX111, None, "2024-01-02T00:00:00Z"),
            ("x4", STIX111, None, "2024-01-03T00:00:00Z"),
        ],
    );
    // No block is skipped or repeated when polling on from each Inclusive_End_Timestamp, and
    // only an answer that really leaves blocks of its last label behind says they are lost.
    let answers = walk_10(&w.anon().v10(), POLL, "feed-a");
    let all: Vec<String> = answers.iter().flat_map(|a| a.0.clone()).collect();
    assert_eq!(all, ["x1", "x2", "x3", "x4"], "{answers:?}");
    for (blocks, message) in &answers {
        assert!(
            !message.as_deref().is_some_and(|m| m.contains("cannot be polled")),
            "{blocks:?}: nothing was lost, yet: {message:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// §4.5: which collection, for whom
// ---------------------------------------------------------------------------------------

#[test]
fn s4_5_collection_lookup_availability_and_read_permission() {
    let w = World::new();
    w.five_blocks();
    let c = w.anon();
    let r = c.poll(POLL, poll_request("nope"));
    let s = r.expect(StatusType::NotFound);
    assert_eq!(
        (s.details.item.as_deref(), s.message.as_deref()),
        (Some("nope"), Some("Requested collection was not found"))
    );
    let r = c.poll(POLL, poll_request("disabled"));
    let s = r.expect(StatusType::Failure);
    assert_eq!(
        (s.details.item.as_deref(), s.message.as_deref()),
        (Some("disabled"), Some("The collection is not available"))
    );
    // Not attached to this poll service.
    let r = w.basic("admin").poll(POLL_AUTH, poll_request("set-b"));
    assert_eq!(r.expect(StatusType::NotFound).details.item.as_deref(), Some("set-b"));
    // Without read permission the collection does not exist.
    let r = w.basic("nobody").poll(POLL_AUTH, poll_request("feed-a"));
    assert_eq!(r.expect(StatusType::NotFound).details.item.as_deref(), Some("feed-a"));
    // modify implies read.
    let r = w.basic("reader").poll(POLL_AUTH, poll_request("stix12-feed"));
    assert!(r.poll().content_blocks.is_empty());
    // 1.0: the same with a string detail.
    let r = c.v10().poll(POLL, poll_request_10("nope"));
    assert_eq!(r.expect(StatusType::NotFound).details.item.as_deref(), Some("nope"), "{}", r.text());
    let r = c.v10().poll(POLL, poll_request_10("disabled"));
    r.expect(StatusType::Failure);
    // Collection availability changes apply at once.
    w.db().execute("UPDATE data_collections SET available = false WHERE name = 'feed-a'", &[]).unwrap();
    c.poll(POLL, poll_request("feed-a")).expect(StatusType::Failure);
}

#[test]
fn s6_data_sets_poll_in_11_only() {
    let w = World::new();
    w.add_blocks(
        &["set-b"],
        &[("s1", STIX111, None, "2024-01-01T00:00:00Z"), ("s2", STIX111, None, "2024-01-02T00:00:00Z")],
    );
    let r = w.anon().poll(POLL, poll_request("set-b"));
    assert_eq!(names(&r.poll().content_blocks), ["s1", "s2"]);
    // TAXII 1.0 knows Data Feeds only (OpenTAXII: HTML 500, Q3).
    let r = w.anon().v10().poll(POLL, poll_request_10("set-b"));
    let s = r.expect(StatusType::NotFound);
    assert!(s.message.as_deref().is_some_and(|m| m.contains("Data Feed")), "{}", r.text());
}

#[test]
fn s4_5_polls_by_subscription_use_its_parameters() {
    let w = World::new();
    w.five_blocks();
    w.add_blocks(&["feed-a"], &[("n12", STIX12, None, "2024-02-01T00:00:00Z")]);
    let admin = w.basic("admin");
    let full12 = subscribe(
        &w,
        "feed-a",
        Some(SubscriptionParameters {
            content_bindings: vec![ContentBinding::new(STIX12)],
            ..Default::default()
        }),
    );
    let r = admin.poll(POLL_AUTH, poll_by_subscription("feed-a", &full12));
    let p = r.poll();
    assert_eq!(names(&p.content_blocks), ["n12"]);
    assert_eq!(p.subscription_id.as_deref(), Some(full12.as_str()), "{}", r.text());
    assert!(r.text().contains("Subscription_ID"), "{}", r.text());
    // COUNT_ONLY subscriptions never hand out content, in no part (OpenTAXII does, Q20).
    let counting = subscribe(
        &w,
        "feed-a",
        Some(SubscriptionParameters { response_type: ResponseType::CountOnly, ..Default::default() }),
    );
    let r = w.anon().poll(POLL, poll_by_subscription("feed-a", &counting));
    let p = r.poll();
    assert!(p.content_blocks.is_empty(), "{}", r.text());
    assert_eq!((p.more, p.result_id.clone(), p.record_count), (false, None, None));
    // Paused subscriptions can still be polled (there is no push to pause).
    w.anon().subscription(CM, subscription_request(SubscriptionAction::Pause, "feed-a", Some(&full12)));
    assert_eq!(
        names(&admin.poll(POLL_AUTH, poll_by_subscription("feed-a", &full12)).poll().content_blocks),
        ["n12"]
    );
    // Unknown, or of another collection.
    let r = admin.poll(POLL_AUTH, poll_by_subscription("feed-a", "777"));
    let s = r.expect(StatusType::NotFound);
    assert_eq!(
        (s.details.item.as_deref(), s.message.as_deref()),
        (Some("777"), Some("Requested subscription was not found"))
    );
    let r = admin.poll(POLL_AUTH, poll_by_subscription("stix12-feed", &full12));
    r.expect(StatusType::NotFound);
}

#[test]
fn s4_5_subscription_required_is_denied_without_one() {
    let w = World::new();
    w.five_blocks();
    let mut db = w.db();
    create_service(
        &mut db,
        "poll_subscribers",
        "poll",
        &json!({"address": "/services/poll-subscribers", "description": "Subscribers only",
                "subscription_required": true, "protocol_bindings": [PROTOCOL_HTTP]}),
    );
    link(&mut db, "poll_subscribers", "feed-a");
    let r = w.anon().poll("/services/poll-subscribers", poll_request("feed-a"));
    r.expect(StatusType::Denied);
    let id = subscribe(&w, "feed-a", None);
    let r = w.anon().poll("/services/poll-subscribers", poll_by_subscription("feed-a", &id));
    assert_eq!(r.poll().content_blocks.len(), 5);
}

#[test]
fn s4_5_queries_are_unsupported_and_asynchronous_polls_are_answered_at_once() {
    let w = World::new();
    w.five_blocks();
    let sample = |name: &str| {
        std::fs::read(format!(
            "{}/../shared/reference/taxii1-messages/taxii11/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let r = w.anon().send_raw(POLL, &sample("Poll_Request_with_default_query.xml"), Version::V11);
    assert_eq!(r.expect(StatusType::UnsupportedQuery).in_response_to, "1007");
    // allow_asynch and Delivery_Parameters: answered synchronously. Window (2024-01-01,
    // 2024-01-31T23:59:59.123456], bindings STIX 1.1.1 and 1.2/urn:example:subtype.
    let r = w.anon().send_raw(POLL, &sample("Poll_Request_parameters.xml"), Version::V11);
    assert_eq!(r.in_response_to(), "1005");
    let p = r.poll();
    assert_eq!((names(&p.content_blocks), p.more), (vec!["b2".to_string(), "b3".to_string()], true));
    let parts = w.anon().poll_all(POLL, poll_request("feed-a"));
    assert_eq!(all_names(&parts).len(), 5);
}

#[test]
fn s4_6_later_parts_keep_the_polls_subscription() {
    let w = World::new();
    w.five_blocks();
    let id = subscribe(&w, "feed-a", None);
    let parts = w.anon().poll_all(POLL, poll_by_subscription("feed-a", &id));
    assert_eq!(part_names(&parts), [vec!["b1", "b2"], vec!["b3", "b4"], vec!["b5"]]);
    for p in &parts {
        assert_eq!(p.subscription_id.as_deref(), Some(id.as_str()), "part {}", p.result_part_number);
    }
}
