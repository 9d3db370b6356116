//! Helpers for the authentication-hardening tests (`tests/auth_hardening.rs`): a second client
//! address (a listener on IPv6 loopback, so requests to it come from `::1`), figures from
//! `/management/metrics`, and the TAXII 1.x services of the TAXII 1 World added to a
//! database that holds the TAXII 2.1 World (whose accounts then serve both protocols).

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use super::server::Taxiid;
use super::taxii1::{NewCollection, create_collection, create_service, link, world_services};
use super::taxii2::Req;

/// Whether this host has IPv6 loopback, so a server can listen on `[::1]` too.
pub fn ipv6_loopback() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

/// Configuration lines for a second listener on `[::1]` (see [`second_address`]).
pub const LISTEN_IPV6: &str = "listen = [::1]:0\n";

/// The `[::1]` listener of a server started with [`LISTEN_IPV6`]: requests sent there come
/// from another client address than those sent to `srv.addr` (127.0.0.1).
pub fn second_address(srv: &Taxiid) -> SocketAddr {
    let start = Instant::now();
    loop {
        let logs = srv.logs();
        if let Some(addr) = logs.lines().find_map(|l| l.split("listening on http://[::1]:").nth(1)) {
            return format!("[::1]:{}", addr.trim()).parse().unwrap();
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no [::1] listener in:\n{logs}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The value of one series (`name{labels}` exactly as exposed) on `GET /management/metrics`,
/// read with `authorization`; 0 when the series is absent.
pub fn metric(addr: SocketAddr, authorization: &str, series: &str) -> u64 {
    let r =
        Req::get("/management/metrics").without("Accept").header("Authorization", authorization).send(addr);
    assert_eq!(r.status, 200, "metrics: {}", r.text());
    let text = r.text();
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .map_or(0, |v| v.trim().parse().unwrap_or_else(|_| panic!("{series}: `{v}`")))
}

/// The TAXII 1 World's services (`tests/common/taxii1.rs`) and its collection `feed-a`,
/// linked to all of them, without its accounts.
pub fn create_taxii1_services(conninfo: &str) {
    let mut db = super::connect(conninfo);
    for (id, ty, props) in world_services() {
        create_service(&mut db, id, ty, &props);
    }
    let feed = NewCollection {
        name: "feed-a",
        ty: "DATA_FEED",
        description: Some("An open data feed"),
        accept_all_content: true,
        bindings: &[],
        available: true,
    };
    create_collection(&mut db, &feed);
    for (id, _, _) in world_services() {
        link(&mut db, id, "feed-a");
    }
}
