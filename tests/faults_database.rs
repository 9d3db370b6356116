//! PostgreSQL failing under a real `taxiid serve` (issue 8, "Faults"): the server stopped in
//! the middle of a sustained TAXII 2 and TAXII 1 ingest (fast shutdown, and immediate
//! shutdown — a crash) and a pool exhausted by queries blocked on a table lock. Every request
//! is answered in bounded time (503 + Retry-After, TAXII 1 FAILURE), taxiid serves again once
//! the database does, and the tables hold every acknowledged object and block and no request
//! half-written (the ledger in tests/common/faults.rs). Pooled sessions commit durably even
//! when the server says `synchronous_commit = off`. Each test prints its figures
//! (`cargo test --test faults_database -- --nocapture`); the tests run one at a time.

mod common;

use std::net::SocketAddr;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::faults::{
    Answer, COLLECTION, Exchange, HeldLocks, Ingest, Job, Kind, ROOT, SLACK, Sent, check_stored,
    concurrently, create_layout, exchange, ms, ready, send, serial, thousands, wait_until_blocked,
};
use common::server::{Taxiid, scratch_dir, signal};
use common::taxii2::Req;
use taxiid::db::{Cluster, ClusterOptions};

/// The pool wait while PostgreSQL is up (`UP_WAIT` in src/db/pool.rs; not configurable).
const POOL_WAIT: Duration = Duration::from_secs(5);

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
