//! The taxiid binary end to end: real PostgreSQL, real sockets, the CLI as a process.
//! Health and readiness, routing errors, schema checks at startup, the database going away
//! and coming back, shutdown, logs without secrets, and `taxiid dev`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::http::{get, read_response, request};
use common::server::{BIN, Taxiid, run, run_env, scratch_dir, signal, write_config};

#[test]
fn health_and_ready_answer() {
    let srv = Taxiid::start(&common::fresh_database(), "");
    let r = get(srv.addr, "/management/health");
    assert_eq!((r.status, r.header("content-type")), (200, Some("application/json")));
    assert_eq!(r.json(), serde_json::json!({"alive": true}));
    let r = get(srv.addr, "/management/ready");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!({"ready": true}));
    assert_eq!(r.header("server"), Some("taxiid"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    // Date in RFC 9110's IMF-fixdate, and now.
    let date = r.header("date").expect("a Date header");
    let format = time::format_description::parse_borrowed::<2>(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT",
    )
    .unwrap();
    let sent = time::PrimitiveDateTime::parse(date, &format)
        .unwrap_or_else(|e| panic!("Date {date:?}: {e}"))
        .assume_utc();
    let skew = (time::OffsetDateTime::now_utc() - sent).abs();
    assert!(skew < time::Duration::seconds(5), "Date {date} is {skew} off");
}

/// Readiness follows the schema while serving: a database whose schema falls behind (here a
/// recorded migration removed, as after restoring an older dump) is not ready, naming the
/// command that fixes it; `taxiid migrate` makes it ready again without a restart.
#[test]
fn ready_is_503_while_migrations_are_pending() {
    let conninfo = common::fresh_database();
    let srv = Taxiid::start(&conninfo, "");
    assert_eq!(get(srv.addr, "/management/ready").status, 200);
    let mut db = common::connect(&conninfo);
    let latest: i32 = db.query_one("SELECT max(version) FROM taxiid_schema_migrations", &[]).unwrap().get(0);
    db.execute("DELETE FROM taxiid_schema_migrations WHERE version = $1", &[&latest]).unwrap();
    let r = get(srv.addr, "/management/ready");
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.json()["ready"], false);
    assert!(r.json()["reason"].as_str().unwrap().contains("taxiid migrate"), "{}", r.text());
    // Liveness does not depend on the schema.
    assert_eq!(get(srv.addr, "/management/health").status, 200);
    let (code, _, err) = run(&["migrate", "--config", write_config(&conninfo, "").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(get(srv.addr, "/management/ready").status, 200);
}

#[test]
fn unknown_paths_404_wrong_methods_405_with_allow() {
    let srv = Taxiid::start(&common::fresh_database(), "");
    let r = get(srv.addr, "/nothing/here");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["http_status"], "404");
    let r = request(srv.addr, b"DELETE /management/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    let r = get(srv.addr, "/management/%2e%2e/health");
    assert_eq!(r.status, 400);
    let r = get(srv.addr, "/taxii2/no/such/resource/here/");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/taxii+json;version=2.1"));
    let body = r.json();
    assert_eq!(body["title"], "Not Found");
    assert_eq!(body["http_status"], "404");
}

#[test]
fn serve_refuses_an_unmigrated_database() {
    let config = write_config(&common::empty_database(), "database.startup_wait = 5s");
    let (code, _, err) = run(&["serve", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("taxiid migrate"), "{err}");
    // --migrate migrates and serves.
    let srv = Taxiid::start_with(config, &["--migrate"]);
    assert_eq!(get(srv.addr, "/management/ready").status, 200);
}

#[test]
fn migrate_command_applies_then_is_a_no_op() {
    let config = write_config(&common::empty_database(), "");
    let cfg = config.to_str().unwrap();
    let (code, out, err) = run(&["migrate", "--config", cfg]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("applied migrations 1, 2, 3, 4"), "{out}");
    let (code, out, _) = run(&["migrate", "--config", cfg]);
    assert_eq!(code, 0);
    assert!(out.contains("schema is current"), "{out}");
}

#[test]
fn database_down_gives_503_fast_and_recovers_without_restart() {
    let dir = scratch_dir().join("pg");
    let mut cluster =
        taxiid::db::Cluster::start(&dir, taxiid::db::ClusterOptions { ephemeral: true }).unwrap();
    cluster.create_database("app", None).unwrap();
    let conninfo = cluster.conninfo("app");
    let (code, _, err) = run(&["migrate", "--config", write_config(&conninfo, "").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let srv = Taxiid::start(&conninfo, "");
    assert_eq!(get(srv.addr, "/management/ready").status, 200);

    cluster.stop().unwrap();
    for _ in 0..3 {
        let t = Instant::now();
        let r = get(srv.addr, "/management/ready");
        let took = t.elapsed();
        assert_eq!(r.status, 503, "{}", r.text());
        assert_eq!(r.header("retry-after"), Some("1"));
        assert!(took < Duration::from_secs(1), "503 took {took:?}");
    }
    // Liveness does not depend on the database.
    assert_eq!(get(srv.addr, "/management/health").status, 200);

    cluster.start_again().unwrap();
    let t = Instant::now();
    loop {
        let r = get(srv.addr, "/management/ready");
        if r.status == 200 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "not ready again after restart: {}", r.text());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn startup_waits_for_the_database_then_gives_up_with_advice() {
    let config = write_config("host=127.0.0.1 port=1 user=nobody dbname=none", "database.startup_wait = 1s");
    let t = Instant::now();
    let (code, _, err) = run(&["serve", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(t.elapsed() < Duration::from_secs(10));
    assert!(err.contains("database.url"), "{err}");
}

#[test]
fn sigterm_stops_cleanly_with_exit_0() {
    let mut srv = Taxiid::start(&common::fresh_database(), "");
    assert_eq!(get(srv.addr, "/management/health").status, 200);
    let status = srv.stop();
    assert_eq!(status.code(), Some(0), "{}", srv.logs());
    assert!(srv.logs().contains("stopped"));
}

#[test]
fn access_log_has_one_line_per_request_and_no_secrets() {
    let srv = Taxiid::start(&common::fresh_database(), "");
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(
        b"GET /management/health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sekrit-token-value\r\n\r\n\
          GET /management/ready HTTP/1.1\r\nHost: x\r\nAuthorization: Basic dXNlcjpodW50ZXIy\r\n\r\n",
    )
    .unwrap();
    assert_eq!(read_response(&mut s).status, 200);
    assert_eq!(read_response(&mut s).status, 200);
    std::thread::sleep(Duration::from_millis(200));
    let logs = srv.logs();
    let access: Vec<&str> = logs.lines().filter(|l| l.contains("taxiid::access")).collect();
    assert_eq!(access.len(), 2, "{logs}");
    assert!(access[0].contains("GET /management/health 200"), "{logs}");
    for secret in ["sekrit", "dXNlcjpodW50ZXIy", "hunter2", "test-secret"] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs:\n{logs}");
    }
}

#[test]
fn https_listener_serves_with_the_configured_certificate() {
    let pki = common::tls::TestPki::new();
    let extra =
        format!("tls.certificate = {}\ntls.private_key = {}\n", pki.cert().display(), pki.key().display());
    let config = write_config(&common::fresh_database(), &extra);
    let text =
        std::fs::read_to_string(&config).unwrap().replace("listen = 127.0.0.1:0", "listen = 127.0.0.1:0 tls");
    std::fs::write(&config, text).unwrap();
    let srv = Taxiid::start_with(config, &[]);
    let mut tls = pki.connect(srv.addr);
    tls.write_all(b"GET /management/ready HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut tls).status, 200);

    // TLS 1.2 and 1.3 only (TAXII 2.1 §8.2; checklist 2), asked of OpenSSL's client. No early
    // data is offered in 1.3 (0-RTT is off).
    // SECLEVEL=0 lets OpenSSL's client offer the old versions, so a refusal is the server's.
    let handshake = |version: &str| {
        let out = Command::new("openssl")
            .args(["s_client", "-connect", &srv.addr.to_string(), version, "-brief"])
            .args(["-cipher", "DEFAULT@SECLEVEL=0"])
            .stdin(Stdio::null())
            .output()
            .expect("openssl");
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    for version in ["-tls1_2", "-tls1_3"] {
        let (ok, log) = handshake(version);
        assert!(ok && log.contains("CONNECTION ESTABLISHED"), "{version}: {log}");
    }
    for version in ["-tls1", "-tls1_1"] {
        let (ok, log) = handshake(version);
        assert!(!ok && !log.contains("CONNECTION ESTABLISHED"), "{version} was accepted: {log}");
        // "SSL alert number": the server answered the offer with an alert.
        assert!(log.contains("SSL alert number"), "{version} not refused by the server: {log}");
    }
}

#[test]
fn check_config_validates_and_masks_secrets() {
    let dir = scratch_dir();
    let pw = dir.join("dbpass");
    std::fs::write(&pw, "db-password-xyz\n").unwrap();
    let good = dir.join("good.conf");
    std::fs::write(
        &good,
        format!(
            "# comment\nlisten = 127.0.0.1:9000, [::1]:9000\ndatabase.url = postgresql://u:inline-pw@db/taxiid\n\
             database.password_file = {}\nauth.secret = very-secret-value\nhttp.header_timeout = 5s\n",
            pw.display()
        ),
    )
    .unwrap();
    let (code, out, err) = run(&["check-config", "--config", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("listen = 127.0.0.1:9000, [::1]:9000"), "{out}");
    assert!(out.contains("http.header_timeout = 5000ms"), "{out}");
    for secret in ["db-password-xyz", "inline-pw", "very-secret-value"] {
        assert!(!out.contains(secret) && !err.contains(secret), "{secret} printed:\n{out}");
    }

    let bad = dir.join("bad.conf");
    std::fs::write(&bad, "listen = 127.0.0.1:9000\n\nhttp.no_such_key = 1\n").unwrap();
    let (code, _, err) = run(&["check-config", "--config", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("bad.conf:3: http.no_such_key: unknown key"), "{err}");

    std::fs::write(&bad, "http.workers = many\n").unwrap();
    let (code, _, err) = run(&["check-config", "--config", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("bad.conf:1: http.workers"), "{err}");

    // A body rate of 0 would let a stalled upload hold a worker for ever.
    std::fs::write(&bad, "listen = 127.0.0.1:9000\nhttp.min_body_rate = 0\n").unwrap();
    let (code, _, err) = run(&["check-config", "--config", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("http.min_body_rate must be positive"), "{err}");

    // Environment overrides the file.
    let check = ["check-config", "--config", good.to_str().unwrap()];
    let (_, out, _) = run_env(&check, &[("TAXIID_HTTP_WORKERS", "7")]);
    assert!(out.contains("http.workers = 7"));

    // A misspelt variable is named (its value never shown: it may be a secret), not silently
    // dropped; the configuration stays valid.
    let typo = ("TAXIID_DATABSE_URL", "host=elsewhere password=typo-secret");
    let (code, out, err) = run_env(&check, &[typo]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("TAXIID_DATABSE_URL names no setting and is ignored"), "{err}");
    assert!(!err.contains("typo-secret") && !out.contains("typo-secret"));
    // Commands that log say it as a warning too (this one then fails on the database).
    let token = ["token", "--username", "nobody", "--config", good.to_str().unwrap()];
    let (_, _, err) = run_env(&token, &[typo, ("TAXIID_DATABASE_STARTUP_WAIT", "1s")]);
    assert!(err.contains("WARN") && err.contains("TAXIID_DATABSE_URL names no setting"), "{err}");
    assert!(!err.contains("typo-secret"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [&["frobnicate"][..], &[], &["serve", "--bogus"], &["help", "nope"]] {
        let (code, _, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("Usage: taxiid"), "{err}");
    }
    let (code, out, _) = run(&["version"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("taxiid {}", env!("CARGO_PKG_VERSION")));
    let (code, out, _) = run(&["help", "dev"]);
    assert_eq!(code, 0);
    assert!(out.contains("Usage: taxiid dev"));
}

/// Reads `taxiid dev` stdout until the banner names the address; returns it and the banner.
fn dev_banner(child: &mut std::process::Child) -> (SocketAddr, String) {
    let stdout = child.stdout.take().unwrap();
    let mut banner = String::new();
    let mut lines = BufReader::new(stdout).lines();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        let Some(Ok(line)) = lines.next() else { break };
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("Ctrl-C") {
            let addr = banner.split("serving on http://").nth(1).unwrap().split_whitespace().next().unwrap();
            std::thread::spawn(move || lines.for_each(drop));
            return (addr.parse().unwrap(), banner);
        }
    }
    panic!("no banner from taxiid dev:\n{banner}");
}

#[test]
fn dev_runs_a_private_cluster_and_reuses_it() {
    let dir = scratch_dir().join("dev");
    let start = || {
        Command::new(BIN)
            .args(["dev", "--dir", dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut child = start();
    let (addr, banner) = dev_banner(&mut child);
    assert!(banner.contains("admin account:  admin"), "{banner}");
    assert!(banner.contains("shown only now"), "{banner}");
    assert_eq!(get(addr, "/management/ready").status, 200);
    signal(child.id(), "INT");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let pid_file = dir.join("pg/data/postmaster.pid");
    assert!(!pid_file.exists(), "PostgreSQL still running after taxiid dev stopped");

    // Second run: same data, no new password.
    let mut child = start();
    let (addr, banner) = dev_banner(&mut child);
    assert!(!banner.contains("shown only now"), "{banner}");
    assert_eq!(get(addr, "/management/ready").status, 200);
    signal(child.id(), "TERM");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(!pid_file.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dev_works_from_a_directory_postgres_cannot_enter() {
    // The README's first command, run as root from a clone under root's 0700 home: PostgreSQL
    // runs unprivileged and cannot enter it, so the cluster goes under /var/tmp instead.
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let locked = scratch_dir().join("home");
    std::fs::create_dir_all(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    let dir = locked.join("clone/.taxiid-dev");
    let mut child = Command::new(BIN)
        .args(["dev", "--dir", dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (addr, banner) = dev_banner(&mut child);
    assert!(banner.contains("admin account:  admin"), "{banner}");
    assert_eq!(get(addr, "/management/ready").status, 200);
    signal(child.id(), "INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let moved = err.lines().find_map(|l| l.split("its cluster lives in ").nth(1)).map(str::trim);
    if root {
        let moved = moved.unwrap_or_else(|| panic!("no note on where the cluster went:\n{err}"));
        assert!(moved.starts_with("/var/tmp/taxiid-dev-"), "{moved}");
        assert!(!std::path::Path::new(moved).join("pg/data/postmaster.pid").exists());
        std::fs::remove_dir_all(moved).unwrap();
    } else {
        assert!(moved.is_none() && dir.join("pg/data/PG_VERSION").exists(), "{err}");
    }
    let _ = std::fs::remove_dir_all(&locked);
}

#[test]
fn shipped_config_documents_every_key_at_a_valid_default() {
    let sample = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/etc/taxiid.conf")).unwrap();
    // Uncomment each `#key = value` line: the result must be a valid configuration.
    let mut uncommented = String::new();
    let mut documented = Vec::new();
    for line in sample.lines() {
        if let Some(rest) = line.strip_prefix('#')
            && let Some((key, _)) = rest.split_once(" =")
            && !key.contains(' ')
            && !key.is_empty()
        {
            documented.push(key.to_string());
            uncommented.push_str(rest);
            uncommented.push('\n');
        }
    }
    for key in taxiid::config::KEYS {
        assert!(documented.iter().any(|d| d == key), "etc/taxiid.conf does not document {key}");
    }
    let path = scratch_dir().join("sample.conf");
    std::fs::write(&path, uncommented).unwrap();
    let (code, out, err) = run(&["check-config", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("http.max_body_bytes = 209715200"), "{out}");
}

#[test]
fn under_journald_lines_carry_syslog_priorities() {
    let config = write_config(&common::empty_database(), "");
    let out = Command::new(BIN)
        .args(["migrate", "--config", config.to_str().unwrap()])
        .env("JOURNAL_STREAM", "8:12345")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.lines().any(|l| l.starts_with("<6>taxiid::db::migrate: ")), "{err}");

    // Elsewhere: RFC 3339 time, level, target.
    let config = write_config(&common::empty_database(), "");
    let (_, _, err) = run(&["migrate", "--config", config.to_str().unwrap()]);
    let line = err.lines().find(|l| l.contains("taxiid::db::migrate")).unwrap();
    let mut words = line.split_whitespace();
    let stamp = words.next().unwrap();
    assert!(taxiid::timefmt::parse_rfc3339(stamp).is_some(), "{line}");
    assert_eq!(words.next(), Some("INFO"), "{line}");
}
