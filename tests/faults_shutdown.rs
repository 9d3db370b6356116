//! SIGTERM to a real `taxiid serve` during ingest (issue 8, "Faults"): requests in flight are
//! drained, finished and acknowledged while new connections are refused, and requests still
//! blocked when `http.shutdown_grace` is over are abandoned unanswered with their
//! transactions rolled back. The ledger (tests/common/faults.rs) then checks that the tables
//! hold every acknowledged object and block and nothing unacknowledged. Each test prints its
//! figures (`cargo test --test faults_shutdown -- --nocapture`); the tests run one at a time.

mod common;

use std::thread::sleep;
use std::time::{Duration, Instant};

use common::faults::{
    Answer, COLLECTION, FEED, HeldLocks, Ingest, Job, Kind, SLACK, Sent, check_stored, concurrently, count,
    create_layout, ms, send, serial, thousands, wait_until_blocked,
};
use common::server::{Taxiid, signal};

// ---------------------------------------------------------------------------------------
// SIGTERM during ingest
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
