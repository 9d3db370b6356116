//! Operations through the real binary: systemd readiness notifications (`Type=notify`),
//! socket activation (`listen = systemd`, driven by `systemd-socket-activate`), SIGHUP reload
//! (log level and TLS certificate, an open keep-alive connection surviving it), and
//! `GET /management/metrics` (format, moving counters, admins only unless `metrics.public`).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::http::{Resp, get, read_response, request};
use common::server::{BIN, run, scratch_dir, signal, write_config};
use common::tls::TestPki;
use serde_json::json;

/// A taxiid process (possibly behind a wrapper such as systemd-socket-activate) whose stderr
/// is collected for assertions.
struct Proc {
    child: Child,
    logs: Arc<Mutex<String>>,
}

impl Proc {
    fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd
            .env_remove("JOURNAL_STREAM")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {:?}: {e}", cmd.get_program()));
        let logs = Arc::new(Mutex::new(String::new()));
        let sink = logs.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        Proc { child, logs }
    }

    fn serve(config: &Path, env: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--config"]).arg(config).env_remove("NOTIFY_SOCKET").envs(env.iter().copied());
        Proc::spawn(cmd)
    }

    fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Waits until stderr contains `needle`; returns the text after it up to the line end.
    #[track_caller]
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some((_, rest)) = self.logs().split_once(needle) {
                return rest.lines().next().unwrap_or_default().to_string();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no `{needle}` in the log:\n{}", self.logs());
    }

    /// The first `listening on <scheme>://` address.
    fn addr(&self, scheme: &str) -> SocketAddr {
        self.wait_for(&format!("listening on {scheme}://")).trim().parse().unwrap()
    }

    fn stop(&mut self) -> Option<i32> {
        signal(self.child.id(), "TERM");
        self.child.wait().unwrap().code()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A datagram socket standing in for systemd's notification socket.
struct Notify {
    sock: UnixDatagram,
    /// The `NOTIFY_SOCKET` value: a path, or `@name` for an abstract socket.
    env: String,
}

impl Notify {
    fn at_path(dir: &Path) -> Notify {
        let path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        Notify::with(sock, path.display().to_string())
    }

    fn abstract_name() -> Notify {
        let name = format!("taxiid-test-notify-{}-{:?}", std::process::id(), Instant::now());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        Notify::with(UnixDatagram::bind_addr(&addr).unwrap(), format!("@{name}"))
    }

    fn with(sock: UnixDatagram, env: String) -> Notify {
        sock.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Notify { sock, env }
    }

    #[track_caller]
    fn recv(&self) -> String {
        let mut buf = [0u8; 4096];
        let n = self.sock.recv(&mut buf).expect("a notification within 30 s");
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }
}

#[test]
fn notifies_ready_reloading_and_stopping() {
    let db = common::fresh_database();
    for notify in [Notify::at_path(&scratch_dir()), Notify::abstract_name()] {
        let config = write_config(&db, "");
        let mut p = Proc::serve(&config, &[("NOTIFY_SOCKET", &notify.env)]);
        let ready = notify.recv();
        assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
        // READY means listening and the database answered.
        assert_eq!(get(p.addr("http"), "/management/ready").status, 200);

        signal(p.child.id(), "HUP");
        assert_eq!(notify.recv(), "RELOADING=1");
        assert!(notify.recv().lines().any(|l| l == "READY=1"));

        signal(p.child.id(), "TERM");
        assert_eq!(notify.recv(), "STOPPING=1");
        assert_eq!(p.child.wait().unwrap().code(), Some(0), "{}", p.logs());
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn serves_sockets_passed_by_systemd() {
    let pki = TestPki::new();
    let extra = format!(
        "listen = systemd tls\ntls.certificate = {}\ntls.private_key = {}\n",
        pki.cert().display(),
        pki.key().display()
    );
    let config = write_config(&common::fresh_database(), &extra);
    let port = free_port();
    // From Debian's systemd package; it works without systemd running.
    let mut cmd = Command::new("systemd-socket-activate");
    cmd.args(["-l", &format!("127.0.0.1:{port}"), BIN, "serve", "--config"]).arg(&config);
    let mut p = Proc::spawn(cmd);
    // The activator listens first and starts taxiid on the first connection.
    p.wait_for("Listening on 127.0.0.1:");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut tls = pki.connect(addr);
    tls.write_all(b"GET /management/health HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let r = read_response(&mut tls);
    assert_eq!(r.status, 200, "{}", p.logs());
    assert_eq!(p.addr("https"), addr);
    p.wait_for("serving 1 sockets passed by systemd");
    assert_eq!(p.stop(), Some(0), "{}", p.logs());

    // Without sockets from systemd the error says what to do, before touching the database.
    let (code, _, err) = run(&["serve", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("taxiid.socket") && err.contains("LISTEN_PID"), "{err}");
}

/// Writes the certificate and key of `pki` where the server's configuration points.
fn install_cert(pki: &TestPki, dir: &Path) {
    std::fs::copy(pki.cert(), dir.join("cert.pem")).unwrap();
    std::fs::copy(pki.key(), dir.join("key.pem")).unwrap();
}

fn tls_config(dir: &Path, conninfo: &str, level: &str) -> String {
    format!(
        "listen = 127.0.0.1:0 tls\ntls.certificate = {d}/cert.pem\ntls.private_key = {d}/key.pem\n\
         database.url = {conninfo}\nauth.secret = reload-test-secret\nlog.level = {level}\n",
        d = dir.display()
    )
}

fn access_lines(p: &Proc) -> usize {
    p.logs().lines().filter(|l| l.contains("taxiid::access")).count()
}

#[test]
fn sighup_reloads_log_level_and_certificate_without_dropping_connections() {
    let (old, new) = (TestPki::new(), TestPki::new());
    let dir = scratch_dir();
    install_cert(&old, &dir);
    let conninfo = common::fresh_database();
    let config = dir.join("taxiid.conf");
    std::fs::write(&config, tls_config(&dir, &conninfo, "info")).unwrap();
    let notify = Notify::at_path(&dir);
    let mut p = Proc::serve(&config, &[("NOTIFY_SOCKET", &notify.env)]);
    assert!(notify.recv().contains("READY=1"));
    let addr = p.addr("https");
    let health = b"GET /management/health HTTP/1.1\r\nHost: localhost\r\n\r\n";

    // A keep-alive connection opened before the reload.
    let mut kept = old.connect(addr);
    kept.write_all(health).unwrap();
    assert_eq!(read_response(&mut kept).status, 200);
    p.wait_for("GET /management/health 200");
    let before = access_lines(&p);

    install_cert(&new, &dir);
    let text = tls_config(&dir, &conninfo, "warn") + "http.workers = 3\n";
    std::fs::write(&config, text).unwrap();
    signal(p.child.id(), "HUP");
    assert_eq!(notify.recv(), "RELOADING=1");
    assert!(notify.recv().contains("READY=1"));
    p.wait_for("changes to http.workers take effect at the next restart");

    // New handshakes get the new certificate; a client trusting only the old CA fails.
    let mut fresh = new.connect(addr);
    fresh.write_all(health).unwrap();
    assert_eq!(read_response(&mut fresh).status, 200);
    let mut stale = old.connect(addr);
    assert!(
        stale.write_all(health).and_then(|_| stale.flush()).is_err() || {
            let mut b = [0u8; 1];
            std::io::Read::read(&mut stale, &mut b).is_err()
        }
    );
    // The connection from before the reload still works.
    kept.write_all(health).unwrap();
    assert_eq!(read_response(&mut kept).status, 200);
    // log.level = warn: no access lines any more.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(access_lines(&p), before, "{}", p.logs());

    // A broken certificate is refused and the current one stays.
    std::fs::write(dir.join("cert.pem"), "not a certificate").unwrap();
    signal(p.child.id(), "HUP");
    assert_eq!(notify.recv(), "RELOADING=1");
    assert!(notify.recv().contains("READY=1"));
    p.wait_for("the current certificate stays");
    let mut again = new.connect(addr);
    again.write_all(health).unwrap();
    assert_eq!(read_response(&mut again).status, 200);
    assert_eq!(p.stop(), Some(0), "{}", p.logs());
}

// ---------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------

/// Checks the text format: every sample belongs to a family declared by `# TYPE` before it,
/// values are numbers, histogram buckets are cumulative; returns sample → value.
#[track_caller]
fn parse_metrics(text: &str) -> Vec<(String, f64)> {
    let mut types: Vec<(String, String)> = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(!types.iter().any(|(n, _)| n == name), "family {name} declared twice");
            types.push((name.to_string(), kind.to_string()));
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {line:?}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{line}");
        if let Some(labels) = series.strip_prefix(name) {
            assert!(labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')), "{line}");
        }
        let family = types.last().map(|(n, _)| n.as_str()).unwrap_or_else(|| panic!("no TYPE before {line}"));
        let base = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
        assert!(name == family || base == family, "{line} outside its family {family}");
        samples.push((series.to_string(), value));
    }
    // Cumulative buckets never decrease.
    let buckets: Vec<&(String, f64)> = samples.iter().filter(|(s, _)| s.contains("_bucket{")).collect();
    for pair in buckets.windows(2) {
        let route = |s: &str| s.split(",le=").next().unwrap().to_string();
        if route(&pair[0].0) == route(&pair[1].0) {
            assert!(pair[1].1 >= pair[0].1, "{pair:?}");
        }
    }
    samples
}

fn value(samples: &[(String, f64)], series: &str) -> f64 {
    samples.iter().find(|(s, _)| s == series).map_or(0.0, |(_, v)| *v)
}

/// A request is counted just after its response is written, so a scrape racing it may not
/// see it yet: scrapes until `series` has appeared and stopped changing.
fn settled(scrape: impl Fn() -> Vec<(String, f64)>, series: &str) -> Vec<(String, f64)> {
    let mut last = scrape();
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(20));
        let next = scrape();
        if value(&next, series) > 0.0 && value(&next, series) == value(&last, series) {
            return next;
        }
        last = next;
    }
    last
}

fn metrics(addr: SocketAddr, authorization: Option<&str>) -> Resp {
    let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    let raw =
        format!("GET /management/metrics HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n");
    request(addr, raw.as_bytes())
}

#[test]
fn metrics_are_for_admins_and_count_requests_ingestion_and_failures() {
    use common::taxii2::{DROPBOX, World, envelope, objects, password_of, sdo};
    let w = World::new();
    let admin = format!("Bearer {}", w.token("admin"));
    let scrape = || {
        let r = metrics(w.addr(), Some(&admin));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
        parse_metrics(&r.text())
    };

    let r = metrics(w.addr(), None);
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_some());
    assert_eq!(metrics(w.addr(), Some(&format!("Bearer {}", w.token("reader")))).status, 403);
    assert_eq!(metrics(w.addr(), Some("Bearer not-a-token")).status, 401);
    let basic =
        format!("Basic {}", common::taxii2::b64_std(format!("admin:{}", password_of("admin")).as_bytes()));
    assert_eq!(metrics(w.addr(), Some(&basic)).status, 200);

    let m0 = scrape();
    let health = "taxiid_http_requests_total{route=\"health\",code=\"200\"}";
    let ingested = "taxiid_taxii2_objects_ingested_total";
    let login_failures = "taxiid_auth_failures_total{endpoint=\"login\"}";
    let taxii2_failures = "taxiid_auth_failures_total{endpoint=\"taxii2\"}";
    for _ in 0..3 {
        assert_eq!(get(w.addr(), "/management/health").status, 200);
    }
    assert_eq!(get(w.addr(), "/no/such/path").status, 404);
    let objs =
        [sdo("indicator", 1, "2024-01-01T00:00:00.000Z"), sdo("indicator", 2, "2024-01-01T00:00:00.000Z")];
    let r = w.anon().post(&objects(DROPBOX), &envelope(&objs));
    assert_eq!(r.status, 202, "{}", r.text());
    let body = json!({"username": "admin", "password": "wrong"}).to_string();
    let raw = format!(
        "POST /management/auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(request(w.addr(), raw.as_bytes()).status, 401);
    let bad = common::taxii2::Who { addr: w.addr(), authorization: Some("Bearer forged".into()) };
    assert_eq!(bad.get("/taxii2/").status, 401);

    let m1 = settled(scrape, "taxiid_http_requests_total{route=\"discovery\",code=\"401\"}");
    assert_eq!(value(&m1, health) - value(&m0, health), 3.0);
    assert_eq!(value(&m1, "taxiid_http_requests_total{route=\"unrouted\",code=\"404\"}"), 1.0);
    assert!(value(&m1, "taxiid_http_requests_total{route=\"add_objects\",code=\"202\"}") >= 1.0);
    assert_eq!(value(&m1, ingested) - value(&m0, ingested), 2.0);
    assert_eq!(value(&m1, login_failures) - value(&m0, login_failures), 1.0);
    assert_eq!(value(&m1, taxii2_failures) - value(&m0, taxii2_failures), 1.0);
    assert!(value(&m1, "taxiid_auth_failures_total{endpoint=\"metrics\"}") >= 1.0);
    let count = "taxiid_http_request_duration_seconds_count{route=\"health\"}";
    assert_eq!(value(&m1, count), value(&m1, health));
    assert_eq!(
        value(&m1, "taxiid_http_request_duration_seconds_bucket{route=\"health\",le=\"+Inf\"}"),
        value(&m1, count)
    );
    assert!(value(&m1, "taxiid_http_request_body_bytes_total{route=\"add_objects\"}") > 100.0);
    assert!(value(&m1, "taxiid_http_response_bytes_total{route=\"health\"}") > 0.0);
    // The scrape's own connection is open while it is answered.
    assert!(value(&m1, "taxiid_http_connections_open") >= 1.0);
    assert!(value(&m1, "taxiid_http_workers") >= 1.0);
    assert_eq!(value(&m1, "taxiid_db_up"), 1.0);
    assert!(value(&m1, "taxiid_db_pool_connections_open") >= 1.0);
    assert_eq!(value(&m1, "taxiid_db_pool_size"), 16.0);
    assert!(value(&m1, "process_open_fds") > 0.0);
    assert!(m1.iter().any(|(s, _)| s.starts_with("taxiid_build_info{version=")));
    // Raw paths never become label values.
    assert!(!m1.iter().any(|(s, _)| s.contains("/no/such")));
}

#[test]
fn public_metrics_need_no_credentials_and_count_taxii1_blocks() {
    use common::taxii1::{INBOX, STIX111, World, block, stix};
    use taxiid::taxii1::messages::StatusType;
    let w = World::with("metrics.public = yes\n");
    let blocks = "taxiid_taxii1_blocks_ingested_total";
    let r = metrics(w.addr(), None);
    assert_eq!(r.status, 200, "{}", r.text());
    let before = value(&parse_metrics(&r.text()), blocks);
    let reply = w.anon().inbox(INBOX, &[], vec![block(STIX111, &stix("m1")), block(STIX111, &stix("m2"))]);
    reply.expect(StatusType::Success);
    let taxii1 = "taxiid_http_requests_total{route=\"taxii1\",code=\"200\"}";
    let after = settled(|| parse_metrics(&metrics(w.addr(), None).text()), taxii1);
    assert_eq!(value(&after, blocks) - before, 2.0);
    assert!(value(&after, taxii1) >= 1.0);
}
