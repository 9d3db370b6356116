//! Fault injection through the real binary (issue 8): PostgreSQL stopped in the middle of a
//! sustained TAXII 2 and TAXII 1 ingest (fast shutdown, and immediate shutdown — a crash), a
//! database pool exhausted by queries blocked on a table lock, and SIGTERM during ingest (the
//! drain, and requests still blocked when the shutdown grace is over).
//!
//! Every test keeps a ledger of what each request was told, then reads the tables directly:
//! every acknowledged object and block is stored, each request is stored completely or not at
//! all, and the job and inbox-message rows agree with what they describe. Each test prints its
//! figures (`cargo test --test faults -- --nocapture`). The tests run one at a time: they
//! measure latencies on a small machine, and the first one stops a PostgreSQL server.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle, sleep};
use std::time::{Duration, Instant};

use common::http::Resp;
use common::server::{Taxiid, scratch_dir, signal};
use common::taxii1::{self as t1, taxii_req};
use common::taxii2::{self as t2, Req, envelope, sdo};
use serde_json::{Value, json};
use taxiid::db::{Cluster, ClusterOptions};
use taxiid::taxii1::messages::{Message, PROTOCOL_HTTP, StatusType, Version, parse, write};

/// The pool wait while PostgreSQL is up (`UP_WAIT` in src/db/pool.rs; not configurable).
const POOL_WAIT: Duration = Duration::from_secs(5);
/// Allowance for scheduling on a loaded two-core machine, on top of a designed wait.
const SLACK: Duration = Duration::from_secs(2);

/// One test at a time (see the module documentation).
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

// ---------------------------------------------------------------------------------------
// The layout: one TAXII 2 collection and one TAXII 1 inbox, both open to anonymous writers
// ---------------------------------------------------------------------------------------

const ROOT: &str = "f1000000-0000-4000-8000-000000000001";
const COLLECTION: &str = "f2000000-0000-4000-8000-000000000002";
const INBOX: &str = "/services/inbox";
const FEED: &str = "feed";

fn create_layout(conninfo: &str) {
    let mut db = common::connect(conninfo);
    t2::create_api_root(&mut db, ROOT, "Faults", None, true, false);
    t2::create_collection(
        &mut db,
        &t2::NewCollection {
            id: COLLECTION,
            api_root: ROOT,
            title: "Ingest",
            description: None,
            alias: Some("ingest"),
            is_public: true,
            is_public_write: true,
        },
    );
    t1::create_service(
        &mut db,
        "inbox",
        "inbox",
        &json!({
            "address": INBOX,
            "description": "Open inbox",
            "destination_collection_required": false,
            "accept_all_content": true,
            "protocol_bindings": [PROTOCOL_HTTP],
        }),
    );
    t1::create_collection(
        &mut db,
        &t1::NewCollection {
            name: FEED,
            ty: "DATA_FEED",
            description: None,
            accept_all_content: true,
            bindings: &[],
            available: true,
        },
    );
    t1::link(&mut db, "inbox", FEED);
}

fn objects_path() -> String {
    format!("/taxii2/{ROOT}/collections/{COLLECTION}/objects/")
}

// ---------------------------------------------------------------------------------------
// A client that never panics: every request ends in an answer or a reason there was none
// ---------------------------------------------------------------------------------------

/// What became of one HTTP exchange.
enum Exchange {
    Answered(Resp),
    /// The connection could not be opened: nothing was sent.
    NotSent(String),
    /// Sent (at least partly), but no complete response came back.
    Unanswered(String),
}

/// Sends `raw` (which asks for `Connection: close`) on a new connection and reads until the
/// server closes it, for at most `timeout`.
fn exchange(addr: SocketAddr, raw: &[u8], timeout: Duration) -> Exchange {
    let mut s = match TcpStream::connect_timeout(&addr, timeout) {
        Ok(s) => s,
        Err(e) => return Exchange::NotSent(e.to_string()),
    };
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    // The server may answer and close before it has read the whole body; read anyway.
    let written = s.write_all(raw);
    let mut bytes = Vec::new();
    let read = s.read_to_end(&mut bytes);
    match parse_response(&bytes) {
        Some(r) => Exchange::Answered(r),
        None => Exchange::Unanswered(format!(
            "{} response bytes; write: {written:?}; read: {read:?}",
            bytes.len()
        )),
    }
}

/// A complete response with a Content-Length body, or `None`.
fn parse_response(bytes: &[u8]) -> Option<Resp> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut resp = Resp { status, headers, body: Vec::new() };
    let len: usize = resp.header("content-length")?.parse().ok()?;
    let body = bytes.get(end + 4..end + 4 + len)?;
    resp.body = body.to_vec();
    Some(resp)
}

fn get(addr: SocketAddr, path: &str, timeout: Duration) -> Exchange {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    exchange(addr, raw.as_bytes(), timeout)
}

/// `/management/ready`: its status, or 0 without an answer.
fn ready(addr: SocketAddr) -> (u16, bool) {
    match get(addr, "/management/ready", Duration::from_secs(10)) {
        Exchange::Answered(r) => (r.status, r.header("retry-after").is_some()),
        _ => (0, false),
    }
}

// ---------------------------------------------------------------------------------------
// Ingest: client threads POSTing distinct objects and blocks, and their ledger
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Taxii2,
    Taxii1,
}

/// What a request was told.
#[derive(Debug)]
enum Answer {
    /// TAXII 2: 202 with a complete status listing every object as a success. TAXII 1: a
    /// SUCCESS Status_Message answering the request.
    Ack,
    /// TAXII 2: 503 with Retry-After. TAXII 1: a FAILURE Status_Message. Not acknowledged.
    Refused,
    /// No connection: nothing was sent.
    NotSent,
    /// Sent, but the connection closed without a complete response. Not acknowledged.
    Unanswered(String),
    /// Anything else: a failure of these tests.
    Unexpected(String),
}

/// One request and what became of it.
#[derive(Debug)]
struct Sent {
    kind: Kind,
    /// TAXII 2: the STIX ids posted. TAXII 1: the names of the blocks (their packages' `id`).
    items: Vec<String>,
    started: Instant,
    finished: Instant,
    answer: Answer,
}

impl Sent {
    fn latency(&self) -> Duration {
        self.finished - self.started
    }

    fn acked(&self) -> bool {
        matches!(self.answer, Answer::Ack)
    }
}

/// A TAXII 2 Add Objects request of `n` new objects (`thread` and `seq` keep ids distinct).
fn taxii2_request(thread: u64, seq: u64, n: u64) -> (Vec<u8>, Vec<String>) {
    let base = thread * 1_000_000_000 + seq * 10_000;
    let objs: Vec<Value> = (0..n).map(|i| sdo("indicator", base + i, "2024-05-01T00:00:00.000Z")).collect();
    let ids = objs.iter().map(|o| o["id"].as_str().unwrap().to_string()).collect();
    (Req::post(&objects_path(), envelope(&objs)).raw(), ids)
}

fn taxii2_answer(r: &Resp, ids: &[String]) -> Answer {
    match r.status {
        202 => {
            let status: Value = match serde_json::from_slice(&r.body) {
                Ok(v) => v,
                Err(e) => {
                    return Answer::Unexpected(format!("202 without a JSON status ({e}): {}", r.text()));
                }
            };
            let listed: HashSet<&str> = status["successes"]
                .as_array()
                .map(|a| a.iter().filter_map(|s| s["id"].as_str()).collect())
                .unwrap_or_default();
            let complete = status["status"] == "complete"
                && status["success_count"] == ids.len()
                && status["failure_count"] == 0
                && ids.iter().all(|id| listed.contains(id.as_str()));
            if complete {
                Answer::Ack
            } else {
                Answer::Unexpected(format!("202 with an incomplete status: {}", r.text()))
            }
        }
        503 if r.header("retry-after").is_some() => Answer::Refused,
        _ => Answer::Unexpected(format!("{} {:?}: {}", r.status, r.headers, r.text())),
    }
}

/// A TAXII 1.1 Inbox_Message of `n` new blocks; returns the body, its message id and the
/// block names.
fn taxii1_request(thread: u64, seq: u64, n: u64) -> (Vec<u8>, String, Vec<String>) {
    let names: Vec<String> = (0..n).map(|i| format!("p{thread}-{seq}-{i}")).collect();
    let blocks = names.iter().map(|name| t1::block(t1::STIX111, &t1::stix(name))).collect();
    let msg = t1::inbox_message(&[], blocks);
    let id = msg.message_id().to_string();
    (taxii_req(INBOX, Version::V11, write(Version::V11, &msg)).raw(), id, names)
}

fn taxii1_answer(r: &Resp, message_id: &str) -> Answer {
    let parsed = (r.status == 200).then(|| parse(&r.body).ok()).flatten();
    match parsed {
        Some((_, Message::StatusMessage(s))) => match s.status_type {
            StatusType::Success if s.in_response_to == message_id => Answer::Ack,
            StatusType::Failure => Answer::Refused,
            _ => Answer::Unexpected(format!("Status_Message {:?}: {}", s.status_type, r.text())),
        },
        _ => Answer::Unexpected(format!("{} {:?}: {}", r.status, r.headers, r.text())),
    }
}

/// One request of `kind` with `n` items, sent and classified.
fn send(addr: SocketAddr, kind: Kind, thread: u64, seq: u64, n: u64) -> Sent {
    let (raw, items, message_id) = match kind {
        Kind::Taxii2 => {
            let (raw, ids) = taxii2_request(thread, seq, n);
            (raw, ids, String::new())
        }
        Kind::Taxii1 => {
            let (raw, id, names) = taxii1_request(thread, seq, n);
            (raw, names, id)
        }
    };
    let started = Instant::now();
    let result = exchange(addr, &raw, Duration::from_secs(30));
    let finished = Instant::now();
    let answer = match result {
        Exchange::NotSent(_) => Answer::NotSent,
        Exchange::Unanswered(why) => Answer::Unanswered(why),
        Exchange::Answered(r) => match kind {
            Kind::Taxii2 => taxii2_answer(&r, &items),
            Kind::Taxii1 => taxii1_answer(&r, &message_id),
        },
    };
    Sent { kind, items, started, finished, answer }
}

/// Client threads, each sending requests of one kind back to back until told to stop, or
/// (`until_gone`) until the server no longer accepts connections. Bounded by a deadline.
struct Ingest {
    stop: Arc<AtomicBool>,
    acks: Arc<[AtomicUsize; 2]>,
    threads: Vec<JoinHandle<Vec<Sent>>>,
}

const INGEST_DEADLINE: Duration = Duration::from_secs(60);

impl Ingest {
    /// `plan`: (kind, threads, items per request).
    fn start(addr: SocketAddr, plan: &[(Kind, u64, u64)], until_gone: bool) -> Ingest {
        let stop = Arc::new(AtomicBool::new(false));
        let acks = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let mut threads = Vec::new();
        let mut thread_no = 0;
        for &(kind, count, n) in plan {
            for _ in 0..count {
                thread_no += 1;
                let (stop, acks, t) = (stop.clone(), acks.clone(), thread_no);
                threads.push(thread::spawn(move || {
                    let deadline = Instant::now() + INGEST_DEADLINE;
                    let mut ledger = Vec::new();
                    for seq in 0.. {
                        if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                            break;
                        }
                        let sent = send(addr, kind, t, seq, n);
                        if sent.acked() {
                            acks[kind as usize].fetch_add(1, Ordering::SeqCst);
                        }
                        let gone = matches!(sent.answer, Answer::NotSent);
                        ledger.push(sent);
                        if gone && until_gone {
                            break;
                        }
                        if gone {
                            sleep(Duration::from_millis(50));
                        }
                    }
                    ledger
                }));
            }
        }
        Ingest { stop, acks, threads }
    }

    fn acks(&self, kind: Kind) -> usize {
        self.acks[kind as usize].load(Ordering::SeqCst)
    }

    /// Waits (bounded) until both kinds have at least `n` acknowledgements.
    #[track_caller]
    fn wait_for_acks(&self, n: usize, max: Duration) {
        let start = Instant::now();
        while self.acks(Kind::Taxii2) < n || self.acks(Kind::Taxii1) < n {
            assert!(start.elapsed() < max, "no {n} acknowledgements of each kind within {max:?}");
            sleep(Duration::from_millis(20));
        }
    }

    /// Stops the threads after their current request; every request and its answer.
    fn finish(self) -> Vec<Sent> {
        self.stop.store(true, Ordering::SeqCst);
        self.join()
    }

    /// Waits for the threads to end by themselves (`until_gone`, or the deadline).
    fn join(self) -> Vec<Sent> {
        self.threads.into_iter().flat_map(|t| t.join().expect("an ingest thread panicked")).collect()
    }
}

// ---------------------------------------------------------------------------------------
// What the database holds
// ---------------------------------------------------------------------------------------

/// Counts from the ledger checked against the tables.
#[derive(Debug, Default)]
struct Tally {
    acked_objects: usize,
    acked_blocks: usize,
    /// Requests not acknowledged whose items are all stored (committed, answer lost).
    unacked_stored: usize,
    /// Requests sent (at least partly) and not acknowledged, with nothing stored.
    unacked_absent: usize,
}

fn count(db: &mut postgres::Client, sql: &str) -> i64 {
    t1::count(db, sql)
}

/// Every acknowledged request is stored completely, every other one completely or not at
/// all, and the rows around them (jobs and their details, inbox messages, links, volumes)
/// are whole. Panics with the first violation.
#[track_caller]
fn check_stored(conninfo: &str, ledger: &[Sent]) -> Tally {
    let mut db = common::connect(conninfo);
    let objects: HashSet<String> =
        db.query("SELECT id FROM opentaxii_stixobject", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    // Block name → (the message id of its inbox message, links to collections).
    let mut blocks: HashMap<String, (Option<String>, i64)> = HashMap::new();
    for r in db
        .query(
            "SELECT convert_from(b.content, 'UTF8'), m.message_id,
                    (SELECT count(*) FROM collection_to_content_block l WHERE l.content_block_id = b.id)
             FROM content_blocks b LEFT JOIN inbox_messages m ON m.id = b.inbox_message_id",
            &[],
        )
        .unwrap()
    {
        let content: String = r.get(0);
        let name = content.split(" id=\"").nth(1).and_then(|s| s.split('"').next()).unwrap_or(&content);
        let previous = blocks.insert(name.to_string(), (r.get(1), r.get(2)));
        assert!(previous.is_none(), "block {name} stored twice");
    }
    let mut tally = Tally::default();
    let mut expected_objects = 0;
    let mut expected_blocks = 0;
    for s in ledger {
        let present = s
            .items
            .iter()
            .filter(|i| match s.kind {
                Kind::Taxii2 => objects.contains(*i),
                Kind::Taxii1 => blocks.contains_key(*i),
            })
            .count();
        let all = present == s.items.len();
        if s.acked() {
            assert!(all, "acknowledged but only {present} of {} items stored: {s:?}", s.items.len());
        } else {
            assert!(present == 0 || all, "half-written: {present} of {} items stored: {s:?}", s.items.len());
            if matches!(s.answer, Answer::NotSent) {
                assert_eq!(present, 0, "stored without being sent: {s:?}");
            } else if all {
                tally.unacked_stored += 1;
            } else {
                tally.unacked_absent += 1;
            }
        }
        if all && s.kind == Kind::Taxii1 {
            // One inbox message row per request, holding all of its blocks, each linked once.
            let messages: HashSet<&Option<String>> = s.items.iter().map(|i| &blocks[i].0).collect();
            assert_eq!(messages.len(), 1, "blocks of one request under several messages: {s:?}");
            assert!(messages.iter().all(|m| m.is_some()), "a block without its inbox message: {s:?}");
            assert!(s.items.iter().all(|i| blocks[i].1 == 1), "a block not linked once: {s:?}");
        }
        match (all, s.kind) {
            (true, Kind::Taxii2) => expected_objects += s.items.len(),
            (true, Kind::Taxii1) => expected_blocks += s.items.len(),
            _ => {}
        }
        match (s.acked(), s.kind) {
            (true, Kind::Taxii2) => tally.acked_objects += s.items.len(),
            (true, Kind::Taxii1) => tally.acked_blocks += s.items.len(),
            _ => {}
        }
    }
    assert_eq!(objects.len(), expected_objects, "objects stored that no request sent");
    assert_eq!(blocks.len(), expected_blocks, "blocks stored that no request sent");
    // TAXII 2: each job complete, its counts matching its details, its owner recorded; every
    // success detail names a stored object and every stored object has one.
    let broken_jobs = count(
        &mut db,
        "SELECT count(*) FROM opentaxii_job j
         WHERE j.status::text <> 'complete'
            OR j.total_count <> (SELECT count(*) FROM opentaxii_job_detail d WHERE d.job_id = j.id)
            OR j.success_count <> (SELECT count(*) FROM opentaxii_job_detail d
                                   WHERE d.job_id = j.id AND d.status::text = 'success')
            OR NOT EXISTS (SELECT 1 FROM taxiid_job_owner o WHERE o.job_id = j.id)",
    );
    assert_eq!(broken_jobs, 0, "incomplete job rows");
    let jobs = count(&mut db, "SELECT count(*) FROM opentaxii_job");
    let stored_t2 = ledger
        .iter()
        .filter(|s| s.kind == Kind::Taxii2 && !s.items.is_empty())
        .filter(|s| s.items.iter().all(|i| objects.contains(i)));
    assert_eq!(jobs, stored_t2.count() as i64, "one job per stored request");
    let orphans = count(
        &mut db,
        "SELECT (SELECT count(*) FROM opentaxii_job_detail d WHERE d.status::text = 'success'
                 AND NOT EXISTS (SELECT 1 FROM opentaxii_stixobject o WHERE o.id = d.stix_id))
              + (SELECT count(*) FROM opentaxii_stixobject o
                 WHERE NOT EXISTS (SELECT 1 FROM opentaxii_job_detail d WHERE d.stix_id = o.id))",
    );
    assert_eq!(orphans, 0, "job details and objects disagree");
    // TAXII 1: every inbox message holds as many blocks as it says, and the volume counts
    // the links.
    let short_messages = count(
        &mut db,
        "SELECT count(*) FROM inbox_messages m
         WHERE m.content_block_count <> (SELECT count(*) FROM content_blocks b
                                         WHERE b.inbox_message_id = m.id)",
    );
    assert_eq!(short_messages, 0, "inbox messages without all their blocks");
    let volume_off = count(
        &mut db,
        "SELECT (SELECT coalesce(sum(volume), 0) FROM data_collections)
              - (SELECT count(*) FROM collection_to_content_block)",
    );
    assert_eq!(volume_off, 0, "collection volume differs from its links");
    tally
}

/// `n` with thousands separators.
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

// ---------------------------------------------------------------------------------------
// 1. PostgreSQL stopped in the middle of a sustained ingest
// ---------------------------------------------------------------------------------------

/// A private cluster (this test stops it), a migrated database with the layout, and taxiid.
/// The cluster keeps the test clusters' `synchronous_commit = off`: taxiid's own sessions
/// must make their commits durable (see the next test), else a crash (immediate shutdown)
/// loses acknowledged objects.
fn private_cluster() -> (Cluster, String, Taxiid) {
    let cluster = Cluster::start(&scratch_dir().join("pg"), ClusterOptions { ephemeral: true })
        .unwrap_or_else(|e| panic!("{e}"));
    cluster.create_database("app", None).unwrap();
    let conninfo = cluster.conninfo("app");
    let mut db = common::connect(&conninfo);
    taxiid::db::migrate(&mut db).unwrap();
    drop(db);
    create_layout(&conninfo);
    let srv = Taxiid::start(&conninfo, "database.pool_size = 8\n");
    (cluster, conninfo, srv)
}

fn db_stopped_mid_ingest(immediate: bool) {
    let _serial = serial();
    let (mut cluster, conninfo, srv) = private_cluster();
    let addr = srv.addr;
    assert_eq!(ready(addr).0, 200);
    let ingest = Ingest::start(addr, &[(Kind::Taxii2, 3, 20), (Kind::Taxii1, 2, 5)], false);
    ingest.wait_for_acks(3, Duration::from_secs(15));

    let stopping = Instant::now();
    if immediate {
        // What `pg_ctl stop -m immediate` sends: every backend quits at once, no checkpoint;
        // the next start runs crash recovery.
        signal(cluster.pid().expect("postgres runs"), "QUIT");
    }
    cluster.stop().unwrap(); // fast shutdown, or reaping the server that quit
    let down = Instant::now();

    // Down for two seconds: readiness follows, the ingest keeps going.
    let mut ready_polls = 0;
    while down.elapsed() < Duration::from_secs(2) {
        let t = Instant::now();
        let (status, retry_after) = ready(addr);
        assert_eq!((status, retry_after), (503, true), "/management/ready while PostgreSQL is down");
        assert!(t.elapsed() < Duration::from_secs(1), "/management/ready took {:?}", t.elapsed());
        ready_polls += 1;
        sleep(Duration::from_millis(100));
    }
    let restarting = Instant::now();
    cluster.start_again().unwrap();
    let up = Instant::now();
    let ready_again = loop {
        if ready(addr).0 == 200 {
            break up.elapsed();
        }
        assert!(up.elapsed() < Duration::from_secs(5), "/management/ready not 200 within 5 s of the restart");
        sleep(Duration::from_millis(50));
    };
    sleep(Duration::from_secs(2));
    let ledger = ingest.finish();
    drop(srv);

    let mut worst_refusal = Duration::ZERO;
    let mut refused_while_down = [0usize; 2];
    let mut recovery = [None::<Duration>; 2];
    for s in &ledger {
        if let Answer::Unexpected(m) | Answer::Unanswered(m) = &s.answer {
            panic!("{:?} request got an unexpected answer: {m}", s.kind);
        }
        assert!(!matches!(s.answer, Answer::NotSent), "taxiid refused a connection");
        // Sent while the server was down: refused, within a second.
        if s.started >= down && s.started < restarting {
            assert!(
                s.latency() < Duration::from_secs(1),
                "answered after {:?} while down: {s:?}",
                s.latency()
            );
            worst_refusal = worst_refusal.max(s.latency());
            if s.finished < restarting {
                assert!(matches!(s.answer, Answer::Refused), "while down: {s:?}");
                refused_while_down[s.kind as usize] += 1;
            }
        }
        if s.acked() && s.finished > restarting {
            let r = &mut recovery[s.kind as usize];
            let after = s.finished.saturating_duration_since(up);
            *r = Some(r.map_or(after, |x: Duration| x.min(after)));
        }
    }
    assert!(
        refused_while_down.iter().all(|&n| n > 0),
        "requests of both kinds while down: {refused_while_down:?}"
    );
    let recovery = recovery.map(|r| r.expect("a success after the restart"));
    for r in recovery {
        assert!(r < Duration::from_secs(5), "first success {r:?} after the restart");
    }
    let tally = check_stored(&conninfo, &ledger);
    assert_eq!(tally.unacked_stored + tally.unacked_absent, ledger.iter().filter(|s| !s.acked()).count());
    println!(
        "faults: PostgreSQL {} shutdown mid-ingest (stop took {} ms, down {} ms, restart {} ms) → {} \
         requests; while down {} TAXII 2 answered 503 + Retry-After and {} TAXII 1 FAILURE, worst {} ms, \
         /management/ready 503 ({ready_polls} polls); first success {} ms (TAXII 2) / {} ms (TAXII 1) \
         after the restart, ready again after {} ms; {} acknowledged objects and {} blocks all present; \
         not acknowledged: {} stored whole, {} absent, none half-written",
        if immediate { "immediate" } else { "fast" },
        ms(down - stopping),
        ms(restarting - down),
        ms(up - restarting),
        thousands(ledger.len()),
        refused_while_down[0],
        refused_while_down[1],
        ms(worst_refusal),
        ms(recovery[0]),
        ms(recovery[1]),
        ms(ready_again),
        thousands(tally.acked_objects),
        thousands(tally.acked_blocks),
        tally.unacked_stored,
        tally.unacked_absent,
    );
}

/// Found by the immediate-shutdown test: with the server's `synchronous_commit = off` (as in
/// every test cluster), COMMIT returns before the WAL is written, and a crash lost requests
/// taxiid had acknowledged. Pooled sessions now raise `off` to `local`; other values stay.
#[test]
fn pooled_sessions_commit_durably_when_the_server_says_synchronous_commit_off() {
    let conninfo = common::fresh_database();
    let mut plain = common::connect(&conninfo);
    let server: String = plain.query_one("SHOW synchronous_commit", &[]).unwrap().get(0);
    assert_eq!(server, "off", "the test cluster's setting");
    let db = taxiid::db::Db::open(&common::db_config(&conninfo)).unwrap();
    let show = |db: &taxiid::db::Db| -> String {
        db.get().unwrap().query_one("SHOW synchronous_commit", &[]).unwrap().get(0)
    };
    assert_eq!(show(&db), "local");
    // An operator's stronger choice is kept.
    let name: String = plain.query_one("SELECT current_database()", &[]).unwrap().get(0);
    plain.batch_execute(&format!("ALTER DATABASE \"{name}\" SET synchronous_commit = remote_apply")).unwrap();
    let db = taxiid::db::Db::open(&common::db_config(&conninfo)).unwrap();
    assert_eq!(show(&db), "remote_apply");
}

#[test]
fn db_fast_shutdown_mid_ingest_loses_nothing_acknowledged() {
    db_stopped_mid_ingest(false);
}

#[test]
fn db_immediate_shutdown_mid_ingest_loses_nothing_acknowledged() {
    db_stopped_mid_ingest(true);
}

// ---------------------------------------------------------------------------------------
// 2. Pool exhaustion
// ---------------------------------------------------------------------------------------

/// A transaction of the test's own holding locks that taxiid's queries then wait for.
struct HeldLocks {
    client: postgres::Client,
}

impl HeldLocks {
    /// `LOCK TABLE … IN ACCESS EXCLUSIVE MODE`: every query touching the tables waits.
    fn tables(conninfo: &str, tables: &str) -> HeldLocks {
        HeldLocks::take(conninfo, &format!("LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE"))
    }

    /// Runs `sql` in a transaction left open.
    fn take(conninfo: &str, sql: &str) -> HeldLocks {
        let mut client = common::connect(conninfo);
        client.batch_execute(&format!("BEGIN; {sql}")).unwrap();
        HeldLocks { client }
    }

    fn release(mut self) {
        self.client.batch_execute("COMMIT").unwrap();
    }
}

/// How many of taxiid's sessions on this database wait for a lock.
fn taxiid_waiting_on_locks(db: &mut postgres::Client) -> i64 {
    count(
        db,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
         AND application_name = 'taxiid' AND wait_event_type = 'Lock'",
    )
}

#[track_caller]
fn wait_until_blocked(conninfo: &str, n: i64) {
    let mut db = common::connect(conninfo);
    let start = Instant::now();
    while taxiid_waiting_on_locks(&mut db) < n {
        assert!(start.elapsed() < Duration::from_secs(10), "{n} taxiid sessions never waited on the lock");
        sleep(Duration::from_millis(20));
    }
}

type Job<T> = Box<dyn FnOnce() -> T + Send>;

/// Runs each job on a thread of its own, all at once.
fn concurrently<T: Send + 'static>(jobs: Vec<Job<T>>) -> Vec<JoinHandle<T>> {
    jobs.into_iter().map(thread::spawn).collect()
}

/// A TAXII 2 GET of the collection (one pooled connection, no lock involved).
fn collection_get(addr: SocketAddr) -> (Duration, Answer) {
    let raw = Req::get(&format!("/taxii2/{ROOT}/collections/{COLLECTION}/")).raw();
    let t = Instant::now();
    let answer = match exchange(addr, &raw, Duration::from_secs(30)) {
        Exchange::Answered(r) if r.status == 200 => Answer::Ack,
        Exchange::Answered(r) if r.status == 503 && r.header("retry-after").is_some() => Answer::Refused,
        Exchange::Answered(r) => Answer::Unexpected(format!("{}: {}", r.status, r.text())),
        Exchange::NotSent(m) | Exchange::Unanswered(m) => Answer::Unanswered(m),
    };
    (t.elapsed(), answer)
}

/// After a fault: one request of every kind succeeds at once. Appends the writes to `ledger`;
/// returns how long the round took.
#[track_caller]
fn serves_again(addr: SocketAddr, seq: u64, ledger: &mut Vec<Sent>) -> Duration {
    let t = Instant::now();
    for kind in [Kind::Taxii2, Kind::Taxii1] {
        let s = send(addr, kind, 99, seq, 3);
        assert!(s.acked(), "not serving again: {s:?}");
        ledger.push(s);
    }
    assert!(matches!(collection_get(addr).1, Answer::Ack));
    assert_eq!(ready(addr).0, 200);
    t.elapsed()
}

#[test]
fn pool_exhaustion_answers_503_after_the_pool_wait_and_never_hangs() {
    let _serial = serial();
    const POOL: u64 = 2;
    const STATEMENT_TIMEOUT: Duration = Duration::from_secs(7);
    let conninfo = common::fresh_database();
    create_layout(&conninfo);
    let config = format!("database.pool_size = {POOL}\ndatabase.statement_timeout = 7s\n");
    let srv = Taxiid::start(&conninfo, &config);
    let addr = srv.addr;
    let mut ledger = Vec::new();
    serves_again(addr, 0, &mut ledger);

    // Phase 1: POOL requests block inside a query on the locked table, holding every
    // connection; six more (TAXII 2, TAXII 1, readiness) wait for the pool and are refused
    // after the pool wait. Released, the blocked ones complete.
    let lock = HeldLocks::tables(&conninfo, "public.opentaxii_stixobject");
    let locked = Instant::now();
    let blockers = concurrently(
        (0..POOL).map(|i| Box::new(move || send(addr, Kind::Taxii2, 1, i, 10)) as Job<Sent>).collect(),
    );
    wait_until_blocked(&conninfo, POOL as i64);
    let mut waiters: Vec<Job<(Kind, Duration, Answer)>> = Vec::new();
    for _ in 0..3 {
        waiters.push(Box::new(move || {
            let (d, a) = collection_get(addr);
            (Kind::Taxii2, d, a)
        }));
    }
    for i in 0..2 {
        waiters.push(Box::new(move || {
            let s = send(addr, Kind::Taxii1, 2, i, 3);
            (Kind::Taxii1, s.latency(), s.answer)
        }));
    }
    waiters.push(Box::new(move || {
        let t = Instant::now();
        let (status, retry_after) = ready(addr);
        let answer = if (status, retry_after) == (503, true) {
            Answer::Refused
        } else {
            Answer::Unexpected(format!("/management/ready {status}"))
        };
        (Kind::Taxii2, t.elapsed(), answer)
    }));
    let waiters = concurrently(waiters);
    let (mut fastest, mut slowest) = (Duration::MAX, Duration::ZERO);
    for w in waiters {
        let (kind, latency, answer) = w.join().unwrap();
        assert!(matches!(answer, Answer::Refused), "{kind:?} while the pool is exhausted: {answer:?}");
        fastest = fastest.min(latency);
        slowest = slowest.max(latency);
    }
    // Refused after waiting for the pool, not at once and not much later.
    assert!(fastest >= POOL_WAIT - Duration::from_millis(500), "refused after only {fastest:?}");
    assert!(slowest <= POOL_WAIT + SLACK, "refused after {slowest:?}");
    let held = locked.elapsed();
    assert!(held < STATEMENT_TIMEOUT, "the machine is too slow for this test: lock held {held:?}");
    lock.release();
    for b in blockers {
        let s = b.join().unwrap();
        assert!(s.acked(), "a request blocked on the lock, then released: {s:?}");
        assert!(s.latency() < STATEMENT_TIMEOUT, "{s:?}");
        ledger.push(s);
    }
    let recovered_1 = serves_again(addr, 1, &mut ledger);

    // Phase 2: the lock outlives database.statement_timeout: the blocked requests end with
    // 503 + Retry-After and store nothing. The timeout is per statement: the writer queued
    // behind the other's collection lock (an advisory lock, itself a statement) may get it
    // when the first one times out, then wait on the table for a second timeout.
    let lock = HeldLocks::tables(&conninfo, "public.opentaxii_stixobject");
    let blockers = concurrently(
        (0..POOL).map(|i| Box::new(move || send(addr, Kind::Taxii2, 3, i, 10)) as Job<Sent>).collect(),
    );
    wait_until_blocked(&conninfo, POOL as i64);
    let mut timed_out = Vec::new();
    for b in blockers {
        let s = b.join().unwrap();
        assert!(matches!(s.answer, Answer::Refused), "a request blocked past statement_timeout: {s:?}");
        assert!(s.latency() >= STATEMENT_TIMEOUT, "ended before the statement timeout: {s:?}");
        assert!(s.latency() <= 2 * STATEMENT_TIMEOUT + SLACK, "{s:?}");
        timed_out.push(s.latency());
        ledger.push(s);
    }
    timed_out.sort();
    assert!(
        timed_out[0] <= STATEMENT_TIMEOUT + SLACK,
        "the first blocked request ended after {:?}",
        timed_out[0]
    );
    lock.release();
    let recovered_2 = serves_again(addr, 2, &mut ledger);
    let tally = check_stored(&conninfo, &ledger);
    assert_eq!(tally.unacked_absent, POOL as usize);
    println!(
        "faults: pool exhaustion (database.pool_size = {POOL}, {POOL} requests blocked on a table lock) → \
         6 more requests refused (503 + Retry-After / TAXII 1 FAILURE) after {}–{} ms (pool wait {} ms); \
         the blocked requests completed (202) when the lock went, or, held past statement_timeout {} ms, \
         ended 503 + Retry-After after {} ms with nothing stored; serving again at once ({} ms, {} ms \
         for a round of requests)",
        ms(fastest),
        ms(slowest),
        ms(POOL_WAIT),
        ms(STATEMENT_TIMEOUT),
        timed_out.iter().map(|d| ms(*d).to_string()).collect::<Vec<_>>().join(" and "),
        ms(recovered_1),
        ms(recovered_2),
    );
}

// ---------------------------------------------------------------------------------------
// 3. SIGTERM during ingest
// ---------------------------------------------------------------------------------------

/// Waits up to `max` for the process to exit; its exit code and how long it took.
#[track_caller]
fn wait_exit(srv: &mut Taxiid, max: Duration) -> (Option<i32>, Duration) {
    let start = Instant::now();
    loop {
        if let Some(status) = srv.child.try_wait().unwrap() {
            return (status.code(), start.elapsed());
        }
        assert!(start.elapsed() < max, "taxiid still running {max:?} after SIGTERM:\n{}", srv.logs());
        sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigterm_mid_ingest_drains_every_request_it_accepted() {
    let _serial = serial();
    let conninfo = common::fresh_database();
    create_layout(&conninfo);
    let grace = Duration::from_secs(10);
    let mut srv = Taxiid::start(&conninfo, "http.shutdown_grace = 10s\n");
    let ingest = Ingest::start(srv.addr, &[(Kind::Taxii2, 3, 1000), (Kind::Taxii1, 2, 100)], true);
    ingest.wait_for_acks(2, Duration::from_secs(20));
    sleep(Duration::from_millis(500));
    let term = Instant::now();
    signal(srv.child.id(), "TERM");
    let (code, exit_after) = wait_exit(&mut srv, grace + SLACK);
    assert_eq!(code, Some(0), "{}", srv.logs());
    assert!(exit_after < grace, "exit {exit_after:?} after SIGTERM");
    let ledger = ingest.join();

    for s in &ledger {
        if let Answer::Unexpected(m) = &s.answer {
            panic!("{:?} request: {m}", s.kind);
        }
        if let Answer::Refused = s.answer {
            panic!("refused with the database up: {s:?}");
        }
    }
    let in_flight: Vec<&Sent> = ledger.iter().filter(|s| s.started < term && s.finished >= term).collect();
    let drained = in_flight.iter().filter(|s| s.acked()).count();
    let cut = in_flight.len() - drained;
    let not_sent = ledger.iter().filter(|s| matches!(s.answer, Answer::NotSent)).count();
    assert!(!in_flight.is_empty(), "no request was in flight at SIGTERM");
    assert_eq!(not_sent, 5, "each client thread ends at a refused connection");
    let tally = check_stored(&conninfo, &ledger);
    // Each request the server took in was finished and acknowledged; nothing that was not
    // acknowledged got stored.
    assert_eq!(tally.unacked_stored, 0, "stored without an acknowledgement");
    println!(
        "faults: SIGTERM mid-ingest (TAXII 2 envelopes of 1,000 objects, TAXII 1 inboxes of 100 blocks) → \
         {} requests in flight: {drained} completed and acknowledged, {cut} closed unanswered with nothing \
         stored; later connections refused ({not_sent}); exit 0 after {} ms (shutdown_grace {} ms); {} \
         acknowledged objects and {} blocks all present",
        in_flight.len(),
        ms(exit_after),
        ms(grace),
        thousands(tally.acked_objects),
        thousands(tally.acked_blocks),
    );
}

#[test]
fn sigterm_past_shutdown_grace_rolls_back_unfinished_requests() {
    let _serial = serial();
    let conninfo = common::fresh_database();
    create_layout(&conninfo);
    let grace = Duration::from_secs(1);
    let mut srv = Taxiid::start(&conninfo, "http.shutdown_grace = 1s\n");
    let addr = srv.addr;
    let mut ledger = Vec::new();
    for kind in [Kind::Taxii2, Kind::Taxii1] {
        let s = send(addr, kind, 1, 0, 2);
        assert!(s.acked(), "{s:?}");
        ledger.push(s);
    }
    let mut db = common::connect(&conninfo);
    let (objects_before, blocks_before) = (
        count(&mut db, "SELECT count(*) FROM opentaxii_stixobject"),
        count(&mut db, "SELECT count(*) FROM content_blocks"),
    );

    // Requests stuck inside their transactions: Add Objects waits for the collection's writer
    // lock (an advisory lock); the inbox has written its message, block and link rows and
    // waits to update the collection's volume (a row lock).
    let locks = HeldLocks::take(
        &conninfo,
        &format!(
            "SELECT pg_advisory_xact_lock(hashtext('taxiid.stixobject.' || '{COLLECTION}'));
             SELECT 1 FROM public.data_collections WHERE name = '{FEED}' FOR UPDATE"
        ),
    );
    let stuck = concurrently(vec![
        Box::new(move || send(addr, Kind::Taxii2, 2, 0, 50)) as Job<Sent>,
        Box::new(move || send(addr, Kind::Taxii2, 2, 1, 50)),
        Box::new(move || send(addr, Kind::Taxii1, 3, 0, 20)),
    ]);
    wait_until_blocked(&conninfo, 3);
    let (in_transaction, wrote) = {
        let r = db
            .query_one(
                "SELECT count(xact_start), count(backend_xid) FROM pg_stat_activity
                 WHERE datname = current_database() AND application_name = 'taxiid'
                 AND wait_event_type = 'Lock'",
                &[],
            )
            .unwrap();
        (r.get::<_, i64>(0), r.get::<_, i64>(1))
    };
    assert_eq!((in_transaction, wrote), (3, 1), "3 sessions in transactions, the inbox's with rows written");
    signal(srv.child.id(), "TERM");
    let (code, exit_after) = wait_exit(&mut srv, grace + SLACK);
    assert_eq!(code, Some(0), "{}", srv.logs());
    assert!(exit_after >= grace, "exit after {exit_after:?}, before the grace was over");
    assert!(srv.logs().contains("requests still running are abandoned"), "{}", srv.logs());
    for t in stuck {
        let s = t.join().unwrap();
        assert!(matches!(s.answer, Answer::Unanswered(_)), "an abandoned request: {s:?}");
        ledger.push(s);
    }
    locks.release();
    // The abandoned sessions end once their lock wait is over and they find the client gone.
    let start = Instant::now();
    let sessions = "SELECT count(*) FROM pg_stat_activity
                    WHERE datname = current_database() AND application_name = 'taxiid'";
    while count(&mut db, sessions) > 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "taxiid's sessions outlived it");
        sleep(Duration::from_millis(20));
    }
    assert_eq!(count(&mut db, "SELECT count(*) FROM opentaxii_stixobject"), objects_before);
    assert_eq!(count(&mut db, "SELECT count(*) FROM content_blocks"), blocks_before);
    let tally = check_stored(&conninfo, &ledger);
    assert_eq!(tally.unacked_absent, 3);
    println!(
        "faults: SIGTERM with 3 requests stuck inside their transactions (one with rows written), \
         shutdown_grace {} ms → exit 0 after {} ms, the 3 connections closed unanswered, their \
         transactions rolled back (nothing stored)",
        ms(grace),
        ms(exit_after),
    );
}
