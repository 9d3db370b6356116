//! The ledger the fault-injection tests keep (`tests/faults_database.rs`,
//! `tests/faults_shutdown.rs`): their layout (one TAXII 2 collection and one TAXII 1 inbox,
//! both open to anonymous writers), a client that never panics, ingest threads that record
//! what each request was told, the check that the tables hold every acknowledged item and no
//! half-written request, and transactions of the test's own that hold locks taxiid waits for.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle, sleep};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use taxiid::taxii1::messages::{Message, PROTOCOL_HTTP, StatusType, Version, parse, write};

use super::http::Resp;
use super::taxii1::{self as t1, taxii_req};
use super::taxii2::{self as t2, Req, envelope, sdo};

/// Allowance for scheduling on a loaded two-core machine, on top of a designed wait.
pub const SLACK: Duration = Duration::from_secs(2);

/// One test of a binary at a time (cargo runs the binaries themselves one after another): they
/// measure latencies on a small machine, and some stop a PostgreSQL server.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

// ---------------------------------------------------------------------------------------
// The layout: one TAXII 2 collection and one TAXII 1 inbox, both open to anonymous writers
// ---------------------------------------------------------------------------------------

pub const ROOT: &str = "f1000000-0000-4000-8000-000000000001";
pub const COLLECTION: &str = "f2000000-0000-4000-8000-000000000002";
const INBOX: &str = "/services/inbox";
pub const FEED: &str = "feed";

pub fn create_layout(conninfo: &str) {
    let mut db = super::connect(conninfo);
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
pub enum Exchange {
    Answered(Resp),
    /// The connection could not be opened: nothing was sent.
    NotSent(String),
    /// Sent (at least partly), but no complete response came back.
    Unanswered(String),
}

/// Sends `raw` (which asks for `Connection: close`) on a new connection and reads until the
/// server closes it, for at most `timeout`.
pub fn exchange(addr: SocketAddr, raw: &[u8], timeout: Duration) -> Exchange {
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
pub fn ready(addr: SocketAddr) -> (u16, bool) {
    match get(addr, "/management/ready", Duration::from_secs(10)) {
        Exchange::Answered(r) => (r.status, r.header("retry-after").is_some()),
        _ => (0, false),
    }
}

// ---------------------------------------------------------------------------------------
// Ingest: client threads POSTing distinct objects and blocks, and their ledger
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Taxii2,
    Taxii1,
}

/// What a request was told.
#[derive(Debug)]
pub enum Answer {
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
pub struct Sent {
    pub kind: Kind,
    /// TAXII 2: the STIX ids posted. TAXII 1: the names of the blocks (their packages' `id`).
    pub items: Vec<String>,
    pub started: Instant,
    pub finished: Instant,
    pub answer: Answer,
}

impl Sent {
    pub fn latency(&self) -> Duration {
        self.finished - self.started
    }

    pub fn acked(&self) -> bool {
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
pub fn send(addr: SocketAddr, kind: Kind, thread: u64, seq: u64, n: u64) -> Sent {
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
pub struct Ingest {
    stop: Arc<AtomicBool>,
    acks: Arc<[AtomicUsize; 2]>,
    threads: Vec<JoinHandle<Vec<Sent>>>,
}

const INGEST_DEADLINE: Duration = Duration::from_secs(60);

impl Ingest {
    /// `plan`: (kind, threads, items per request).
    pub fn start(addr: SocketAddr, plan: &[(Kind, u64, u64)], until_gone: bool) -> Ingest {
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

    pub fn acks(&self, kind: Kind) -> usize {
        self.acks[kind as usize].load(Ordering::SeqCst)
    }

    /// Waits (bounded) until both kinds have at least `n` acknowledgements.
    #[track_caller]
    pub fn wait_for_acks(&self, n: usize, max: Duration) {
        let start = Instant::now();
        while self.acks(Kind::Taxii2) < n || self.acks(Kind::Taxii1) < n {
            assert!(start.elapsed() < max, "no {n} acknowledgements of each kind within {max:?}");
            sleep(Duration::from_millis(20));
        }
    }

    /// Stops the threads after their current request; every request and its answer.
    pub fn finish(self) -> Vec<Sent> {
        self.stop.store(true, Ordering::SeqCst);
        self.join()
    }

    /// Waits for the threads to end by themselves (`until_gone`, or the deadline).
    pub fn join(self) -> Vec<Sent> {
        self.threads.into_iter().flat_map(|t| t.join().expect("an ingest thread panicked")).collect()
    }
}

// ---------------------------------------------------------------------------------------
// What the database holds
// ---------------------------------------------------------------------------------------

/// Counts from the ledger checked against the tables.
#[derive(Debug, Default)]
pub struct Tally {
    pub acked_objects: usize,
    pub acked_blocks: usize,
    /// Requests not acknowledged whose items are all stored (committed, answer lost).
    pub unacked_stored: usize,
    /// Requests sent (at least partly) and not acknowledged, with nothing stored.
    pub unacked_absent: usize,
}

pub fn count(db: &mut postgres::Client, sql: &str) -> i64 {
    t1::count(db, sql)
}

/// Every acknowledged request is stored completely, every other one completely or not at
/// all, and the rows around them (jobs and their details, inbox messages, links, volumes)
/// are whole. Panics with the first violation.
#[track_caller]
pub fn check_stored(conninfo: &str, ledger: &[Sent]) -> Tally {
    let mut db = super::connect(conninfo);
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
pub fn thousands(n: usize) -> String {
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

pub fn ms(d: Duration) -> u128 {
    d.as_millis()
}

// ---------------------------------------------------------------------------------------
// Locks held by the test, and requests sent all at once
// ---------------------------------------------------------------------------------------

/// A transaction of the test's own holding locks that taxiid's queries then wait for.
pub struct HeldLocks {
    client: postgres::Client,
}

impl HeldLocks {
    /// `LOCK TABLE … IN ACCESS EXCLUSIVE MODE`: every query touching the tables waits.
    pub fn tables(conninfo: &str, tables: &str) -> HeldLocks {
        HeldLocks::take(conninfo, &format!("LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE"))
    }

    /// Runs `sql` in a transaction left open.
    pub fn take(conninfo: &str, sql: &str) -> HeldLocks {
        let mut client = super::connect(conninfo);
        client.batch_execute(&format!("BEGIN; {sql}")).unwrap();
        HeldLocks { client }
    }

    pub fn release(mut self) {
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
pub fn wait_until_blocked(conninfo: &str, n: i64) {
    let mut db = super::connect(conninfo);
    let start = Instant::now();
    while taxiid_waiting_on_locks(&mut db) < n {
        assert!(start.elapsed() < Duration::from_secs(10), "{n} taxiid sessions never waited on the lock");
        sleep(Duration::from_millis(20));
    }
}

pub type Job<T> = Box<dyn FnOnce() -> T + Send>;

/// Runs each job on a thread of its own, all at once.
pub fn concurrently<T: Send + 'static>(jobs: Vec<Job<T>>) -> Vec<JoinHandle<T>> {
    jobs.into_iter().map(thread::spawn).collect()
}
