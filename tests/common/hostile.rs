//! The server the hostile-client tests attack (`tests/hostile_connections.rs`,
//! `tests/hostile_documents.rs`, `tests/hostile_queries.rs`): a fresh database with TAXII 2.1
//! and TAXII 1 services and `taxiid serve` on it, a case measured for time and peak memory,
//! and what an answer is, for the tables those tests print.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use taxiid::taxii1::messages::{Message, parse};

use super::figures::{peak_kib, reset_peak, rss_kib};
use super::http::Resp;
use super::server::Taxiid;
use super::taxii1 as t1;
use super::taxii2::{self as t2, T21};

// ---------------------------------------------------------------------------------------
// The server under attack
// ---------------------------------------------------------------------------------------

/// Smaller than the 200 MiB default so the endless-body cases stay quick; the 50 MB XML
/// attribute still fits, so it meets the XML reader's limits rather than this one.
pub const MAX_BODY: u64 = 64 << 20;

/// A fresh database with the TAXII 2.1 acceptance-test layout (tests/common/taxii2.rs) and an
/// open TAXII 1 inbox, poll and collection-management service over the feed `feed-a`, and
/// `taxiid serve` on it.
pub struct Rig {
    srv: Taxiid,
    conninfo: String,
    /// The admin's JWT.
    pub token: String,
}

impl Rig {
    pub fn start(extra: &str) -> Rig {
        let conninfo = super::fresh_database();
        t2::create_world_layout(&conninfo);
        let mut db = super::connect(&conninfo);
        for (id, ty, props) in t1::world_services() {
            if ["inbox", "poll", "collection_management"].contains(&id) {
                t1::create_service(&mut db, id, ty, &props);
            }
        }
        t1::create_collection(
            &mut db,
            &t1::NewCollection {
                name: "feed-a",
                ty: "DATA_FEED",
                description: None,
                accept_all_content: true,
                bindings: &[],
                available: true,
            },
        );
        for s in ["inbox", "poll", "collection_management"] {
            t1::link(&mut db, s, "feed-a");
        }
        let config = format!("{}http.max_body_bytes = {MAX_BODY}\n{extra}", t2::world_config());
        let srv = Taxiid::start(&conninfo, &config);
        let token = t2::login(srv.addr, "admin", &t2::password_of("admin"));
        Rig { srv, conninfo, token }
    }

    pub fn addr(&self) -> SocketAddr {
        self.srv.addr
    }

    pub fn pid(&self) -> u32 {
        self.srv.child.id()
    }

    pub fn db(&self) -> postgres::Client {
        super::connect(&self.conninfo)
    }

    pub fn admin(&self) -> t2::Who {
        t2::Who { addr: self.addr(), authorization: Some(format!("Bearer {}", self.token)) }
    }

    /// Runs one case: its time and the server's peak RSS above its RSS before the case.
    pub fn measure<T>(&self, case: impl FnOnce() -> T) -> (T, Duration, u64) {
        let pid = self.pid();
        let before = rss_kib(pid);
        reset_peak(pid);
        let t = Instant::now();
        let out = case();
        let took = t.elapsed();
        (out, took, peak_kib(pid).saturating_sub(before))
    }

    /// Fails the test if taxiid logged a panic or an internal error.
    pub fn assert_no_internal_errors(&self) {
        let logs = self.srv.logs();
        // Panics and 500s are logged at ERROR (the panic hook, `Taxiid::failure`).
        assert!(!logs.contains(" ERROR "), "the server logged an error:\n{logs}");
    }
}

/// What an answer is, for the tables: `413 TAXII error`, `200 BAD_MESSAGE`, `202 1 stored,
/// 0 refused`.
pub fn describe(r: &Resp) -> String {
    if r.header("content-type") == Some("application/xml") {
        return match parse(&r.body) {
            Ok((_, Message::StatusMessage(s))) => format!("{} {}", r.status, s.status_type.wire()),
            Ok((_, m)) => format!("{} {}", r.status, m.element_name()),
            Err(e) => format!("{} unparsable XML ({e})", r.status),
        };
    }
    if r.status == 202 {
        let j = r.json();
        return format!("202, {} stored, {} refused", j["success_count"], j["failure_count"]);
    }
    if r.status >= 400 && r.header("content-type") == Some(T21) {
        return format!("{} TAXII error", r.status);
    }
    format!("{} {}", r.status, r.header("content-type").unwrap_or("-"))
}
