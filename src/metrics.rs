//! Operational metrics for `GET /management/metrics`, in the Prometheus text format (0.0.4).
//!
//! Counters are process-wide atomics, bumped where things happen: the HTTP layer reports each
//! answered request ([`observe`]) and its connection gauges ([`connections`]); ingestion and
//! authentication call [`objects_ingested`], [`blocks_ingested`], [`auth_failure`] and
//! [`auth_throttled`]. Label values come from fixed lists (route names, status codes), never
//! from request data, so the number of series is bounded whatever clients send. Pool, process
//! and throttling-table figures are read when scraped.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::http::Observation;
use crate::server::Taxiid;

/// Route labels: every `router::Route`, TAXII 1.x services (addresses live in the database),
/// and requests answered before or without routing (bad heads, unknown paths, wrong methods).
const LABELS: [&str; 17] = [
    "health",
    "ready",
    "login",
    "metrics",
    "discovery",
    "api_root",
    "status",
    "collections",
    "collection",
    "manifest",
    "objects",
    "add_objects",
    "object",
    "delete_object",
    "versions",
    "taxii1",
    "unrouted",
];
const UNROUTED: usize = LABELS.len() - 1;

/// Status codes the server sends; anything else is counted as `other`.
const CODES: [u16; 27] = [
    200, 201, 202, 204, 206, 304, 400, 401, 403, 404, 405, 406, 408, 409, 411, 413, 414, 415, 416, 417, 422,
    429, 431, 500, 501, 503, 505,
];
const N_CODES: usize = CODES.len() + 1;

/// Upper bounds of the latency buckets in microseconds (1 ms … 10 s), then +Inf.
const BUCKETS_US: [u64; 12] = [
    1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
    10_000_000,
];
const N_BUCKETS: usize = BUCKETS_US.len() + 1;

/// Where credentials were refused (or, for [`auth_throttled`], not even checked).
#[derive(Clone, Copy, Debug)]
pub enum AuthFailure {
    /// `POST /management/auth` with a wrong username or password.
    Login,
    /// Invalid Bearer or Basic credentials on a TAXII 2.1 request.
    Taxii2,
    /// Invalid credentials on a TAXII 1.x service.
    Taxii1,
    /// Invalid credentials on `/management/metrics`.
    Metrics,
}
const AUTH_LABELS: [&str; 4] = ["login", "taxii2", "taxii1", "metrics"];

struct Registry {
    requests: [[AtomicU64; N_CODES]; LABELS.len()],
    latency: [[AtomicU64; N_BUCKETS]; LABELS.len()],
    latency_sum_us: [AtomicU64; LABELS.len()],
    bytes_in: [AtomicU64; LABELS.len()],
    bytes_out: [AtomicU64; LABELS.len()],
    open: AtomicUsize,
    in_flight: AtomicUsize,
    objects: AtomicU64,
    blocks: AtomicU64,
    auth_failures: [AtomicU64; AUTH_LABELS.len()],
    auth_throttled: [AtomicU64; AUTH_LABELS.len()],
}

static M: Registry = Registry {
    requests: [const { [const { AtomicU64::new(0) }; N_CODES] }; LABELS.len()],
    latency: [const { [const { AtomicU64::new(0) }; N_BUCKETS] }; LABELS.len()],
    latency_sum_us: [const { AtomicU64::new(0) }; LABELS.len()],
    bytes_in: [const { AtomicU64::new(0) }; LABELS.len()],
    bytes_out: [const { AtomicU64::new(0) }; LABELS.len()],
    open: AtomicUsize::new(0),
    in_flight: AtomicUsize::new(0),
    objects: AtomicU64::new(0),
    blocks: AtomicU64::new(0),
    auth_failures: [const { AtomicU64::new(0) }; AUTH_LABELS.len()],
    auth_throttled: [const { AtomicU64::new(0) }; AUTH_LABELS.len()],
};

static STARTED: OnceLock<SystemTime> = OnceLock::new();

/// Records the process start time (the first call wins).
pub fn started() {
    STARTED.get_or_init(SystemTime::now);
}

fn label_index(label: Option<&str>) -> usize {
    label.and_then(|l| LABELS.iter().position(|x| *x == l)).unwrap_or(UNROUTED)
}

/// One answered request.
pub fn observe(o: &Observation) {
    let r = label_index(o.label);
    let code = CODES.iter().position(|c| *c == o.status).unwrap_or(CODES.len());
    M.requests[r][code].fetch_add(1, Relaxed);
    let us = u64::try_from(o.elapsed.as_micros()).unwrap_or(u64::MAX);
    let bucket = BUCKETS_US.iter().position(|b| us <= *b).unwrap_or(BUCKETS_US.len());
    M.latency[r][bucket].fetch_add(1, Relaxed);
    M.latency_sum_us[r].fetch_add(us, Relaxed);
    M.bytes_in[r].fetch_add(o.bytes_in, Relaxed);
    M.bytes_out[r].fetch_add(o.bytes_out, Relaxed);
}

pub fn connections(open: usize, in_flight: usize) {
    M.open.store(open, Relaxed);
    M.in_flight.store(in_flight, Relaxed);
}

/// TAXII 2.1 objects accepted by Add Objects (a re-posted version counts too).
pub fn objects_ingested(n: u64) {
    M.objects.fetch_add(n, Relaxed);
}

/// TAXII 1.x content blocks stored by an inbox.
pub fn blocks_ingested(n: u64) {
    M.blocks.fetch_add(n, Relaxed);
}

pub fn auth_failure(kind: AuthFailure) {
    M.auth_failures[kind as usize].fetch_add(1, Relaxed);
}

/// A password check refused without a look at the password by failed-login throttling
/// (`auth.max_failed_logins`).
pub fn auth_throttled(kind: AuthFailure) {
    M.auth_throttled[kind as usize].fetch_add(1, Relaxed);
}

/// The exposition text.
pub fn render(app: &Taxiid) -> String {
    let mut o = String::with_capacity(8 * 1024);
    let w = &mut o;
    family(w, "taxiid_build_info", "gauge", "Version of the running binary.");
    let _ = writeln!(w, "taxiid_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));

    family(w, "taxiid_http_requests_total", "counter", "Requests answered, by route and status code.");
    for (r, label) in LABELS.iter().enumerate() {
        for (c, n) in M.requests[r].iter().enumerate() {
            let n = n.load(Relaxed);
            if n > 0 {
                let code = CODES.get(c).map_or_else(|| "other".to_string(), u16::to_string);
                let _ = writeln!(w, "taxiid_http_requests_total{{route=\"{label}\",code=\"{code}\"}} {n}");
            }
        }
    }

    let name = "taxiid_http_request_duration_seconds";
    family(w, name, "histogram", "Time from a complete request head to the last response byte.");
    for (r, label) in LABELS.iter().enumerate() {
        let counts: Vec<u64> = M.latency[r].iter().map(|b| b.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            continue;
        }
        let mut cumulative = 0;
        for (i, n) in counts.iter().enumerate() {
            cumulative += n;
            let le = BUCKETS_US.get(i).map_or_else(|| "+Inf".to_string(), |us| seconds(*us));
            let _ = writeln!(w, "{name}_bucket{{route=\"{label}\",le=\"{le}\"}} {cumulative}");
        }
        let sum = seconds(M.latency_sum_us[r].load(Relaxed));
        let _ =
            writeln!(w, "{name}_sum{{route=\"{label}\"}} {sum}\n{name}_count{{route=\"{label}\"}} {total}");
    }

    for (name, values, help) in [
        ("taxiid_http_request_body_bytes_total", &M.bytes_in, "Request body bytes read, by route."),
        ("taxiid_http_response_bytes_total", &M.bytes_out, "Response bytes written, by route."),
    ] {
        family(w, name, "counter", help);
        for (r, label) in LABELS.iter().enumerate() {
            let n = values[r].load(Relaxed);
            if n > 0 {
                let _ = writeln!(w, "{name}{{route=\"{label}\"}} {n}");
            }
        }
    }

    let http = &app.config.http;
    let in_flight = M.in_flight.load(Relaxed);
    let busy = in_flight.min(http.workers);
    gauge(w, "taxiid_http_connections_open", "Open client connections.", M.open.load(Relaxed));
    gauge(w, "taxiid_http_connections_max", "http.max_connections.", http.max_connections);
    gauge(w, "taxiid_http_requests_in_flight", "Requests handed to workers, queued or running.", in_flight);
    gauge(w, "taxiid_http_workers", "Worker threads (http.workers).", http.workers);
    gauge(w, "taxiid_http_workers_busy", "Workers running a request.", busy);
    gauge(w, "taxiid_http_queue_length", "Requests waiting for a free worker.", in_flight - busy);

    let (conns, idle, size, down) = app.db.usage();
    gauge(w, "taxiid_db_pool_connections_open", "Open PostgreSQL connections in the pool.", conns as usize);
    gauge(
        w,
        "taxiid_db_pool_connections_in_use",
        "Pool connections lent to requests.",
        (conns - idle) as usize,
    );
    gauge(w, "taxiid_db_pool_size", "database.pool_size.", size as usize);
    gauge(w, "taxiid_db_up", "1 unless the last attempt to reach PostgreSQL failed.", usize::from(!down));

    let (name, help) = (
        "taxiid_taxii2_objects_ingested_total",
        "TAXII 2.1 objects accepted by Add Objects (re-posts included).",
    );
    counter(w, name, help, M.objects.load(Relaxed));
    let (name, help) = ("taxiid_taxii1_blocks_ingested_total", "TAXII 1.x content blocks stored by inboxes.");
    counter(w, name, help, M.blocks.load(Relaxed));

    let name = "taxiid_auth_failures_total";
    family(w, name, "counter", "Refused credentials: failed logins and invalid Bearer/Basic credentials.");
    for (i, endpoint) in AUTH_LABELS.iter().enumerate() {
        let _ = writeln!(w, "{name}{{endpoint=\"{endpoint}\"}} {}", M.auth_failures[i].load(Relaxed));
    }
    let name = "taxiid_auth_throttled_total";
    let help = "Password checks refused without a look at the password, after too many failed logins.";
    family(w, name, "counter", help);
    for (i, endpoint) in AUTH_LABELS.iter().enumerate() {
        let _ = writeln!(w, "{name}{{endpoint=\"{endpoint}\"}} {}", M.auth_throttled[i].load(Relaxed));
    }
    let help = "Account names and client addresses failed-login throttling keeps records for.";
    gauge(w, "taxiid_auth_throttle_records", help, app.auth.throttle_records());

    process(w);
    o
}

/// Standard process metrics from /proc/self (readable under ProcSubset=pid).
fn process(w: &mut String) {
    if let Some(t) = STARTED.get().and_then(|t| t.duration_since(UNIX_EPOCH).ok()) {
        family(w, "process_start_time_seconds", "gauge", "Start time of the process since the epoch.");
        let _ = writeln!(w, "process_start_time_seconds {}", t.as_secs());
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        gauge(w, "process_open_fds", "Open file descriptors.", dir.count());
    }
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let max_fds = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(n) = max_fds {
        gauge(w, "process_max_fds", "Soft limit of open file descriptors (LimitNOFILE).", n);
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(kb) = rss_kb {
        gauge(w, "process_resident_memory_bytes", "Resident memory size in bytes.", kb * 1024);
    }
}

fn family(w: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(w, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn gauge(w: &mut String, name: &str, help: &str, v: usize) {
    family(w, name, "gauge", help);
    let _ = writeln!(w, "{name} {v}");
}

fn counter(w: &mut String, name: &str, help: &str, v: u64) {
    family(w, name, "counter", help);
    let _ = writeln!(w, "{name} {v}");
}

/// Microseconds as decimal seconds, exactly (no float rounding in bucket bounds).
fn seconds(us: u64) -> String {
    let s = format!("{}.{:06}", us / 1_000_000, us % 1_000_000);
    let s = s.trim_end_matches('0');
    s.strip_suffix('.').unwrap_or(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_a_label() {
        for r in crate::router::Route::ALL {
            assert!(LABELS.contains(&r.label()), "{r:?}");
        }
        assert_eq!(LABELS.len(), crate::router::Route::ALL.len() + 2);
    }

    #[test]
    fn bucket_bounds_print_exactly() {
        assert_eq!(seconds(1_000), "0.001");
        assert_eq!(seconds(2_500_000), "2.5");
        assert_eq!(seconds(10_000_000), "10");
        assert_eq!(seconds(0), "0");
        assert_eq!(seconds(1_234_567), "1.234567");
    }
}
