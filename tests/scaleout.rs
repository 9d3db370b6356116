//! Several taxiid instances on one database (issue 8): two `taxiid serve` processes with the
//! same configuration file (each on its own ephemeral loopback port) on one PostgreSQL, and a
//! client alternating between them. Whatever one instance hands out — a JWT, a `next` cursor,
//! a status resource, a TAXII 1 result set and its parts, a subscription — the other honours;
//! concurrent ingest of the same objects through both stores each (collection, id, version)
//! once. Each test prints a table of what it checked.
//!
//! What makes this work, and what an operator must keep equal across instances: the database
//! and `auth.secret` (JWTs are signed with it, `next` cursors are MACed with a key derived from
//! it). Everything else an instance keeps in memory is a cache that the database overrides
//! (the Basic-credential cache is checked against the stored password hash on every use).

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use serde_json::{Value, json};

use common::figures::{Table, dur};
use common::server::Taxiid;
use common::taxii1 as t1;
use common::taxii2 as t2;
use taxiid::taxii1::messages::{
    PROTOCOL_HTTP, StatusType, SubscriptionAction, SubscriptionStatus, Version, write,
};

/// One database, two instances started from one configuration file.
struct Pair {
    a: Taxiid,
    b: Taxiid,
    conninfo: String,
}

impl Pair {
    /// The TAXII 2.1 acceptance-test layout (tests/common/taxii2.rs) plus open TAXII 1
    /// services: an inbox into `feed-a` and `feed-b`, a poll service with parts of 2 blocks,
    /// collection management with subscriptions.
    fn start() -> Pair {
        let conninfo = common::fresh_database();
        t2::create_world_layout(&conninfo);
        let mut db = common::connect(&conninfo);
        let http = [PROTOCOL_HTTP];
        t1::create_service(
            &mut db,
            "inbox",
            "inbox",
            &json!({"address": t1::INBOX, "accept_all_content": true, "protocol_bindings": http}),
        );
        t1::create_service(
            &mut db,
            "poll",
            "poll",
            &json!({"address": t1::POLL, "max_result_size": 2, "protocol_bindings": http}),
        );
        t1::create_service(
            &mut db,
            "collection_management",
            "collection_management",
            &json!({"address": t1::CM, "protocol_bindings": http}),
        );
        for name in ["feed-a", "feed-b"] {
            t1::create_collection(
                &mut db,
                &t1::NewCollection {
                    name,
                    ty: "DATA_FEED",
                    description: None,
                    accept_all_content: true,
                    bindings: &[],
                    available: true,
                },
            );
            for s in ["inbox", "poll", "collection_management"] {
                t1::link(&mut db, s, name);
            }
        }
        let config = common::server::write_config(&conninfo, &t2::world_config());
        let a = Taxiid::start_with(config.clone(), &[]);
        let b = Taxiid::start_with(config, &[]);
        assert_ne!(a.addr, b.addr);
        Pair { a, b, conninfo }
    }

    fn db(&self) -> postgres::Client {
        common::connect(&self.conninfo)
    }

    /// Instance `i % 2`: A, B, A, B, …
    fn nth(&self, i: usize) -> (&'static str, SocketAddr) {
        if i % 2 == 0 { ("A", self.a.addr) } else { ("B", self.b.addr) }
    }

    fn assert_no_internal_errors(&self) {
        for (name, srv) in [("A", &self.a), ("B", &self.b)] {
            let logs = srv.logs();
            // Panics and 500s are logged at ERROR (the panic hook, `Taxiid::failure`).
            assert!(!logs.contains(" ERROR "), "instance {name} logged an error:\n{logs}");
        }
    }
}

fn who(addr: SocketAddr, token: &str) -> t2::Who {
    t2::Who { addr, authorization: Some(format!("Bearer {token}")) }
}

fn basic(addr: SocketAddr, user: &str, password: &str) -> t2::Who {
    let b64 = t2::b64_std(format!("{user}:{password}").as_bytes());
    t2::Who { addr, authorization: Some(format!("Basic {b64}")) }
}

/// Follows `next` from page to page, sending page k to instance k % 2; returns every item of
/// `list` (objects or versions) in order and the number of pages.
fn walk_alternating(pair: &Pair, token: &str, path: &str, list: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut next: Option<String> = None;
    for page in 0..100 {
        let (_, addr) = pair.nth(page);
        let mut params = vec![("limit", "2")];
        if let Some(n) = &next {
            params.push(("next", n));
        }
        let r = who(addr, token).get(&t2::with_query(path, &params));
        t2::assert_t21(&r, 200);
        let body = r.json();
        items.extend(body[list].as_array().cloned().unwrap_or_default());
        if body["more"] != json!(true) {
            return (items, page + 1);
        }
        next = Some(body["next"].as_str().expect("more: true has next").to_string());
    }
    panic!("more than 100 pages");
}

#[test]
fn state_handed_out_by_one_instance_works_on_the_other() {
    use SubscriptionAction::*;
    let pair = Pair::start();
    let (a, b) = (pair.a.addr, pair.b.addr);
    let mut t = Table::new(
        "Two taxiid instances, one database: state handed out by one, used on the other",
        &["check", "how", "result"],
    );

    // JWTs: signed with auth.secret, verified against the accounts table.
    let token_a = t2::login(a, "admin", &t2::password_of("admin"));
    let token_b = t2::login(b, "editor", &t2::password_of("editor"));
    let cols = format!("{}collections/", t2::root_path(t2::ROOT));
    t2::assert_t21(&who(b, &token_a).get(&cols), 200);
    t2::assert_t21(&who(a, &token_b).get(&cols), 200);
    t.row(&["JWT", "admin logs in on A, lists collections on B (and editor B → A)", "200 both ways"]);

    // `next` cursors: MACed with a key derived from auth.secret.
    let objs: Vec<Value> = (1..=9).map(|n| t2::sdo("indicator", n, "2024-01-01T00:00:00.000Z")).collect();
    let versions: Vec<Value> =
        (1..=5).map(|d| t2::sdo("malware", 1, &format!("2024-01-0{d}T00:00:00.000Z"))).collect();
    for (i, chunk) in objs.chunks(3).chain([versions.as_slice()]).enumerate() {
        let (_, addr) = pair.nth(i);
        let r = who(addr, &token_a).post(&t2::objects(t2::PUBLIC), &t2::envelope(chunk));
        t2::assert_t21(&r, 202);
    }
    let all_ids =
        |v: &[Value]| -> Vec<String> { v.iter().map(|o| o["id"].as_str().unwrap().to_string()).collect() };
    let single: Vec<Value> = who(a, &token_a)
        .walk(&t2::objects(t2::PUBLIC), &[("limit", "100")])
        .iter()
        .flat_map(|p| p["objects"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(single.len(), 10);
    let (objects, pages) = walk_alternating(&pair, &token_a, &t2::objects(t2::PUBLIC), "objects");
    assert_eq!(all_ids(&objects), all_ids(&single), "objects paged across A and B");
    let (manifest, mpages) = walk_alternating(&pair, &token_a, &t2::manifest(t2::PUBLIC), "objects");
    assert_eq!(all_ids(&manifest), all_ids(&single), "manifest paged across A and B");
    let malware = t2::sid("malware", 1);
    let (vers, vpages) = walk_alternating(&pair, &token_a, &t2::versions(t2::PUBLIC, &malware), "versions");
    assert_eq!(vers.len(), 5, "{vers:?}");
    t.row(&[
        "TAXII 2.1 `next` cursors",
        &format!("objects, manifest, versions at limit=2, page k on A or B by parity ({pages}, {mpages}, {vpages} pages)"),
        "same items, same order as one instance; no gap, no repeat",
    ]);

    // Status resources: rows (opentaxii_job, taxiid_job_owner).
    let r = who(a, &token_b).post(&t2::objects(t2::PRIVATE), &t2::envelope(&objs[..2]));
    t2::assert_t21(&r, 202);
    let status = r.json();
    let sid = status["id"].as_str().unwrap();
    let on_b = who(b, &token_b).get(&t2::status_path(t2::ROOT, sid));
    t2::assert_t21(&on_b, 200);
    assert_eq!(on_b.json(), status, "the status read on B is the one A answered");
    let token_reader = t2::login(b, "reader", &t2::password_of("reader"));
    let (ra, rb) = (
        who(a, &token_reader).get(&t2::status_path(t2::ROOT, sid)),
        who(b, &token_reader).get(&t2::status_path(t2::ROOT, sid)),
    );
    assert_ne!(rb.status, 200, "another account must not read the status: {}", rb.text());
    assert_eq!((ra.status, ra.json()), (rb.status, rb.json()));
    t.row(&[
        "status resource",
        "editor POSTs on A, reads the status on B; reader asks both",
        &format!("200 identical on B; reader gets {} on both", rb.status),
    ]);

    // DELETE on one instance is seen by the other at once.
    let r = who(a, &token_a).delete(&t2::object(t2::PUBLIC, &t2::sid("indicator", 9)));
    assert_eq!(r.status, 200, "{}", r.text());
    let r = who(b, &token_a).get(&t2::object(t2::PUBLIC, &t2::sid("indicator", 9)));
    t2::assert_error(&r, 404);
    t.row(&["delete", "DELETE an object on A, GET it on B", "404 on B"]);

    // Basic credentials: each instance caches successes, keyed to the stored hash.
    let old = t2::password_of("editor");
    for addr in [a, b] {
        t2::assert_t21(&basic(addr, "editor", &old).get(&cols), 200);
    }
    let mut db = pair.db();
    let new_hash = t2::password_hash("editor-new-pw");
    db.execute("UPDATE accounts SET password_hash = $1 WHERE username = 'editor'", &[&new_hash]).unwrap();
    for addr in [a, b] {
        assert_eq!(basic(addr, "editor", &old).get(&cols).status, 401, "old password after the change");
        t2::assert_t21(&basic(addr, "editor", "editor-new-pw").get(&cols), 200);
    }
    t.row(&[
        "password change",
        "Basic cached on A and B; hash changed in the database",
        "old password 401 on both at once, new one 200",
    ]);

    // TAXII 1 Poll: result sets and their parts are rows (result_sets, taxiid_result_set*).
    let names: Vec<String> = (1..=7).map(|i| format!("blk{i}")).collect();
    let blocks: Vec<_> = names.iter().map(|n| t1::block(t1::STIX111, &t1::stix(n))).collect();
    let r = t1::Client::new(a).inbox(t1::INBOX, &[], blocks);
    r.expect(StatusType::Success);
    let first = t1::Client::new(a).poll(t1::POLL, t1::poll_request("feed-a")).poll().clone();
    assert!(first.more && first.content_blocks.len() == 2);
    let rid = first.result_id.clone().expect("a result set");
    // Content pushed through B while the client pages does not shift the frozen set.
    let late: Vec<_> = (1..=3).map(|i| t1::block(t1::STIX111, &t1::stix(&format!("late{i}")))).collect();
    t1::Client::new(b).inbox(t1::INBOX, &[], late).expect(StatusType::Success);
    let mut got = t1::names(&first.content_blocks);
    let mut part = first;
    let mut route = vec!["A".to_string()];
    while part.more {
        let n = part.result_part_number + 1;
        let (name, addr) = pair.nth(n as usize - 1);
        let r = t1::Client::new(addr).send(t1::POLL, &t1::fulfillment("feed-a", &rid, n));
        part = r.poll().clone();
        assert_eq!((part.result_part_number, part.result_id.as_deref()), (n, Some(rid.as_str())));
        got.extend(t1::names(&part.content_blocks));
        route.push(name.to_string());
    }
    assert_eq!(got, names, "parts fetched across A and B");
    // Part 2 again, from the other instance: the same blocks.
    let p2a = t1::Client::new(a).send(t1::POLL, &t1::fulfillment("feed-a", &rid, 2)).poll().clone();
    let p2b = t1::Client::new(b).send(t1::POLL, &t1::fulfillment("feed-a", &rid, 2)).poll().clone();
    assert_eq!(t1::names(&p2a.content_blocks), t1::names(&p2b.content_blocks));
    t.row(&[
        "TAXII 1 Poll result set",
        &format!(
            "7 blocks, parts of 2: Poll_Request on A, 3 more blocks pushed on B, parts 2.. on {}",
            route[1..].join(", ")
        ),
        "the 7 blocks once each, in order, none of the late ones; part 2 identical from A and B",
    ]);

    // TAXII 1 subscriptions: `subscriptions` rows.
    let (ca, cb) = (t1::Client::new(a), t1::Client::new(b));
    let manage = |c: &t1::Client, action, id: Option<&str>| -> SubscriptionStatus {
        let r = c.subscription(t1::CM, t1::subscription_request(action, "feed-a", id));
        let m = r.subscriptions();
        assert_eq!(m.subscriptions.len(), 1, "{}", r.text());
        m.subscriptions[0].status
    };
    let r = ca.subscription(t1::CM, t1::subscription_request(Subscribe, "feed-a", None));
    let sub = r.subscriptions().subscriptions[0].subscription_id.clone();
    let steps = [
        (&cb, "B", Status, SubscriptionStatus::Active),
        (&cb, "B", Pause, SubscriptionStatus::Paused),
        (&ca, "A", Status, SubscriptionStatus::Paused),
        (&ca, "A", Resume, SubscriptionStatus::Active),
        (&cb, "B", Status, SubscriptionStatus::Active),
    ];
    let mut seen = Vec::new();
    for (c, name, action, want) in steps {
        assert_eq!(manage(c, action, Some(&sub)), want, "{action:?} on {name}");
        seen.push(format!("{action:?} on {name} → {}", want.wire()));
    }
    let polled = cb.poll(t1::POLL, t1::poll_by_subscription("feed-a", &sub));
    assert_eq!(polled.poll().content_blocks.len(), 2, "{}", polled.text());
    assert_eq!(manage(&cb, Unsubscribe, Some(&sub)), SubscriptionStatus::Unsubscribed);
    let denied = ca.poll(t1::POLL, t1::poll_by_subscription("feed-a", &sub));
    denied.expect(StatusType::Denied);
    t.row(&[
        "TAXII 1 subscription",
        &format!("SUBSCRIBE on A; {}; poll by it on B; UNSUBSCRIBE on B", seen.join(", ")),
        "each instance sees the other's changes; poll on A afterwards DENIED",
    ]);
    t.print();
    pair.assert_no_internal_errors();
}

#[test]
fn concurrent_ingest_of_the_same_objects_through_both_instances() {
    const THREADS: usize = 4; // per instance
    const ROUNDS: usize = 5;
    let pair = Pair::start();
    let token = t2::login(pair.a.addr, "admin", &t2::password_of("admin"));
    let mut t = Table::new(
        &format!("Concurrent ingest through A and B ({THREADS} threads each, {ROUNDS} rounds per thread)"),
        &["protocol", "sent", "answers", "rows in PostgreSQL", "time"],
    );

    // TAXII 2.1: 25 objects × 2 versions, the same envelope from every thread (half of them
    // in reverse order), all starting together.
    let objects: Vec<Value> = (1..=25)
        .flat_map(|n| {
            ["2024-01-01T00:00:00.000Z", "2024-06-01T00:00:00.000Z"].map(|m| t2::sdo("indicator", n, m))
        })
        .collect();
    let forward = t2::envelope(&objects);
    let backward = t2::envelope(&objects.iter().rev().cloned().collect::<Vec<_>>());
    let barrier = Arc::new(Barrier::new(2 * THREADS));
    let started = Instant::now();
    let handles: Vec<_> = (0..2 * THREADS)
        .map(|i| {
            let (_, addr) = pair.nth(i);
            let body = if i % 4 < 2 { forward.clone() } else { backward.clone() };
            let (token, barrier) = (token.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                (0..ROUNDS)
                    .map(|_| {
                        let r = who(addr, &token).post(&t2::objects(t2::PUBLIC), &body);
                        assert_eq!(r.status, 202, "{}", r.text());
                        let j = r.json();
                        (j["success_count"].as_u64().unwrap(), j["failure_count"].as_u64().unwrap())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let answers: Vec<(u64, u64)> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let took = started.elapsed();
    assert_eq!(answers.len(), 2 * THREADS * ROUNDS);
    assert!(answers.iter().all(|&a| a == (50, 0)), "every POST: 50 successes, no failure: {answers:?}");
    let mut db = pair.db();
    let row = db
        .query_one(
            "SELECT count(*), count(DISTINCT (id, version)), count(DISTINCT date_added) \
             FROM opentaxii_stixobject WHERE collection_id = $1::text::uuid",
            &[&t2::PUBLIC],
        )
        .unwrap();
    let (rows, distinct, added): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    let dups = t1::count(
        &mut db,
        "SELECT count(*) FROM (SELECT 1 FROM opentaxii_stixobject \
         GROUP BY collection_id, id, version HAVING count(*) > 1) d",
    );
    let jobs = t1::count(&mut db, "SELECT count(*) FROM opentaxii_job WHERE status = 'complete'");
    assert_eq!((rows, distinct, added, dups), (50, 50, 50, 0));
    assert_eq!(jobs, (2 * THREADS * ROUNDS) as i64, "one complete status per POST");
    // And paging across both instances sees the 25 objects (latest versions) once each.
    let (paged, _) = walk_alternating(&pair, &token, &t2::objects(t2::PUBLIC), "objects");
    assert_eq!(paged.len(), 25);
    t.row(&[
        "TAXII 2.1 POST objects",
        &format!("{} envelopes of the same 50 object versions", 2 * THREADS * ROUNDS),
        "all 202, 50 successes / 0 failures each",
        &format!("{rows} rows, {distinct} distinct (id, version), {dups} duplicates, {added} distinct date_added, {jobs} statuses"),
        &dur(took),
    ]);

    // TAXII 1 inbox: the same Inbox_Message bytes (one message id, 3 blocks, both
    // collections) from every thread. TAXII 1 blocks have no identity: as in OpenTAXII each
    // accepted message is stored with its blocks, so the counts must add up exactly.
    let msg = t1::inbox_message(
        &[],
        ["x1", "x2", "x3"].iter().map(|n| t1::block(t1::STIX111, &t1::stix(n))).collect(),
    );
    let body = write(Version::V11, &msg);
    let barrier = Arc::new(Barrier::new(2 * THREADS));
    let started = Instant::now();
    let handles: Vec<_> = (0..2 * THREADS)
        .map(|i| {
            let (_, addr) = pair.nth(i);
            let (body, barrier) = (body.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..ROUNDS {
                    let r = t1::Client::new(addr).send_raw(t1::INBOX, &body, Version::V11);
                    r.expect(StatusType::Success);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let took = started.elapsed();
    let n = (2 * THREADS * ROUNDS) as i64;
    let messages = t1::count(&mut db, "SELECT count(*) FROM inbox_messages");
    let blocks = t1::count(&mut db, "SELECT count(*) FROM content_blocks");
    let links = t1::count(
        &mut db,
        "SELECT count(*) FROM (SELECT DISTINCT collection_id, content_block_id FROM collection_to_content_block) l",
    );
    let all_links = t1::count(&mut db, "SELECT count(*) FROM collection_to_content_block");
    let (va, vb) = (t1::volume(&mut db, "feed-a"), t1::volume(&mut db, "feed-b"));
    assert_eq!((messages, blocks), (n, 3 * n), "each message and its 3 blocks stored once");
    assert_eq!((all_links, links), (6 * n, 6 * n), "each block linked once to each collection");
    assert_eq!((i64::from(va), i64::from(vb)), (3 * n, 3 * n), "volume counts every link");
    // Polled (on B): every stored block once.
    let parts = t1::Client::new(pair.b.addr).poll_all(t1::POLL, t1::poll_request("feed-b"));
    let polled: usize = parts.iter().map(|p| p.content_blocks.len()).sum();
    assert_eq!(polled as i64, 3 * n);
    t.row(&[
        "TAXII 1 Inbox_Message",
        &format!("{n} copies of one message (3 blocks → feed-a and feed-b)"),
        "all SUCCESS",
        &format!(
            "{messages} messages, {blocks} blocks, {all_links} links ({links} distinct), volume {va} / {vb}"
        ),
        &dur(took),
    ]);
    t.print();
    pair.assert_no_internal_errors();
}
