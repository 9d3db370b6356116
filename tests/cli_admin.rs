//! The administration commands through the real binary: accounts (hash formats, permissions,
//! passwords never on the command line), tokens, TAXII 2.1 API roots and collections,
//! retention of objects and jobs. Exit codes: 0 success, 1 failure, 2 usage.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::server::{BIN, Taxiid, write_config};

fn taxiid(config: &std::path::Path, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(config: &std::path::Path, args: &[&str], stdin: Option<&str>) -> String {
    let (code, out, err) = taxiid(config, args, stdin);
    assert_eq!(code, 0, "taxiid {args:?}: {err}");
    out
}

#[test]
fn accounts_add_list_update_passwd_delete() {
    let conninfo = common::fresh_database();
    let config = write_config(&conninfo, "auth.password_hash = pbkdf2\n");
    ok(
        &config,
        &["account", "add", "alice", "--permissions", "coll-a=modify,coll-b=read", "--password-stdin"],
        Some("pw-1\n"),
    );
    let mut db = common::connect(&conninfo);
    let (hash, perms, admin): (String, String, bool) = {
        let r = db
            .query_one(
                "SELECT password_hash, _permissions, is_admin FROM accounts WHERE username = 'alice'",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert!(hash.starts_with("pbkdf2:sha256:600000$"), "{hash}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&perms).unwrap(),
        serde_json::json!({"coll-a": "modify", "coll-b": "read"})
    );
    assert!(!admin);

    let listed: serde_json::Value =
        serde_json::from_str(&ok(&config, &["account", "list", "--json"], None)).unwrap();
    assert_eq!(listed[0]["username"], "alice");
    assert!(ok(&config, &["account", "list"], None).starts_with("ID  USERNAME  ADMIN  PERMISSIONS\n"));

    let uuid = "8af002e8-c559-4a5f-943e-19f0b9c30990";
    ok(
        &config,
        &["account", "update", "alice", "--admin", "yes", "--permissions", &format!("{uuid}=read+write")],
        None,
    );
    let r =
        db.query_one("SELECT _permissions, is_admin FROM accounts WHERE username = 'alice'", &[]).unwrap();
    let perms: String = r.get(0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&perms).unwrap(),
        serde_json::json!({uuid: ["read", "write"]})
    );
    assert!(r.get::<_, bool>(1));

    // The password works at the login endpoint, then after passwd only the new one does.
    let srv = Taxiid::start(&conninfo, "");
    let login = |pw: &str| {
        let body = format!(r#"{{"username":"alice","password":"{pw}"}}"#);
        let raw = format!(
            "POST /management/auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        common::http::request(srv.addr, raw.as_bytes()).status
    };
    assert_eq!(login("pw-1"), 200);
    let pwfile = common::server::scratch_dir().join("pw");
    std::fs::write(&pwfile, "pw-2\n").unwrap();
    ok(&config, &["account", "passwd", "alice", "--password-file", pwfile.to_str().unwrap()], None);
    assert_eq!(login("pw-1"), 401);
    assert_eq!(login("pw-2"), 200);
    let hash: String =
        db.query_one("SELECT password_hash FROM accounts WHERE username = 'alice'", &[]).unwrap().get(0);
    assert!(hash.starts_with("pbkdf2:sha256:600000$"));

    ok(&config, &["account", "delete", "alice"], None);
    assert_eq!(login("pw-2"), 401);
    let (code, _, err) = taxiid(&config, &["account", "delete", "alice"], None);
    assert_eq!((code, err.contains("no account named alice")), (1, true), "{err}");
}

#[test]
fn account_errors_and_default_scrypt_hash() {
    let conninfo = common::fresh_database();
    let config = write_config(&conninfo, "");
    // No terminal and no --password-stdin: refuse, never read a password from argv.
    let (code, _, err) = taxiid(&config, &["account", "add", "bob"], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--password-stdin"), "{err}");
    let (code, _, err) = taxiid(&config, &["account", "add", "bob", "--password", "x"], None);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = taxiid(
        &config,
        &["account", "add", "bob", "--permissions", "c=write", "--password-stdin"],
        Some("x\n"),
    );
    assert_eq!(code, 1);
    assert!(err.contains("takes read or modify"), "{err}");
    ok(&config, &["account", "add", "bob", "--admin", "--password-stdin"], Some("s3cret\n"));
    let mut db = common::connect(&conninfo);
    let r = db.query_one("SELECT password_hash, is_admin FROM accounts WHERE username = 'bob'", &[]).unwrap();
    assert!(r.get::<_, String>(0).starts_with("scrypt:32768:8:1$"));
    assert!(r.get::<_, bool>(1));
    let (code, _, _) = taxiid(&config, &["account", "add", "bob", "--password-stdin"], Some("y\n"));
    assert_eq!(code, 1, "a duplicate username fails");
}

#[test]
fn token_command_prints_a_working_jwt() {
    let conninfo = common::fresh_database();
    let config = write_config(&conninfo, "");
    ok(&config, &["account", "add", "robot", "--admin", "--password-stdin"], Some("pw\n"));
    let token = ok(&config, &["token", "--username", "robot", "--ttl", "5min"], None).trim().to_string();
    assert_eq!(token.split('.').count(), 3);
    let srv = Taxiid::start(&conninfo, "");
    let raw = format!(
        "GET /taxii2/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(common::http::request(srv.addr, raw.as_bytes()).status, 200);
    let (code, _, _) = taxiid(&config, &["token", "--username", "nobody"], None);
    assert_eq!(code, 1);
    let out = ok(&config, &["token", "--username", "robot", "--ttl", "5min", "--json"], None);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["username"], "robot");
    assert_eq!(v["token"].as_str().unwrap().split('.').count(), 3);
    let expires = v["expires"].as_str().unwrap();
    let left = time::OffsetDateTime::parse(expires, &time::format_description::well_known::Rfc3339).unwrap()
        - time::OffsetDateTime::now_utc();
    assert!((250..=300).contains(&left.whole_seconds()), "expires {expires}");
}

#[test]
fn api_roots_and_collections() {
    let conninfo = common::fresh_database();
    let config = write_config(&conninfo, "");
    let id = "5e4c3ef0-0b6f-4d5e-9c3a-2f7b1d9e8a01";
    ok(&config, &["api-root", "add", "--title", "First", "--default"], None);
    ok(&config, &["api-root", "add", "--title", "Second", "--id", id, "--default", "--public"], None);
    let roots: serde_json::Value =
        serde_json::from_str(&ok(&config, &["api-root", "list", "--json"], None)).unwrap();
    let defaults: Vec<&serde_json::Value> =
        roots.as_array().unwrap().iter().filter(|r| r["default"] == true).collect();
    assert_eq!(defaults.len(), 1, "at most one default: {roots}");
    assert_eq!(defaults[0]["id"], id);
    ok(&config, &["api-root", "update", "--id", id, "--title", "Renamed", "--public", "no"], None);

    let out = ok(&config, &["collection", "add", "--title", "Intel", "--alias", "intel", "--public"], None);
    let cid = out.trim().rsplit(' ').next().unwrap().to_string();
    let list: serde_json::Value =
        serde_json::from_str(&ok(&config, &["collection", "list", "--json"], None)).unwrap();
    assert_eq!(list[0]["id"], cid.as_str());
    assert_eq!(
        (list[0]["alias"].as_str(), list[0]["public"].as_bool(), list[0]["objects"].as_i64()),
        (Some("intel"), Some(true), Some(0))
    );
    ok(&config, &["collection", "update", "--id", &cid, "--alias", "", "--public-write", "yes"], None);
    let list: serde_json::Value =
        serde_json::from_str(&ok(&config, &["collection", "list", "--json"], None)).unwrap();
    assert!(list[0]["alias"].is_null());
    assert_eq!(list[0]["public_write"], true);

    // Served at once by a running server.
    let srv = Taxiid::start(&conninfo, "");
    let r = common::http::get(srv.addr, &format!("/taxii2/{id}/collections/{cid}/"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["can_write"], true);

    ok(&config, &["collection", "delete", "--id", &cid], None);
    let (code, _, _) = taxiid(&config, &["collection", "delete", "--id", &cid], None);
    assert_eq!(code, 1);
    ok(&config, &["api-root", "delete", "--id", id], None);
    let (code, _, err) = taxiid(&config, &["api-root", "update", "--id", "not-a-uuid"], None);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn objects_delete_and_jobs_cleanup_really_delete() {
    let conninfo = common::fresh_database();
    let config = write_config(&conninfo, "");
    ok(&config, &["api-root", "add", "--title", "R", "--default"], None);
    let out = ok(&config, &["collection", "add", "--title", "C", "--public", "--public-write"], None);
    let cid = out.trim().rsplit(' ').next().unwrap().to_string();
    let srv = Taxiid::start(&conninfo, "");
    let mut objects = Vec::new();
    for i in 0..12 {
        let ty = if i % 3 == 0 { "malware" } else { "indicator" };
        objects.push(format!(
            r#"{{"type":"{ty}","spec_version":"2.1","id":"{ty}--00000000-0000-4000-8000-{i:012}","created":"2023-01-01T00:00:00Z","modified":"2023-01-01T00:00:00Z"}}"#
        ));
    }
    let body = format!(r#"{{"objects":[{}]}}"#, objects.join(","));
    let raw = format!(
        "POST /taxii2/default/collections/{cid}/objects/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/taxii+json;version=2.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(common::http::request(srv.addr, raw.as_bytes()).status, 202);
    let mut db = common::connect(&conninfo);
    let count = |db: &mut postgres::Client, sql: &str| -> i64 { db.query_one(sql, &[]).unwrap().get(0) };
    assert_eq!(count(&mut db, "SELECT count(*) FROM opentaxii_stixobject"), 12);

    assert!(
        ok(&config, &["objects", "delete", "--collection", &cid, "--type", "malware"], None)
            .contains("4 object versions deleted")
    );
    assert_eq!(count(&mut db, "SELECT count(*) FROM opentaxii_stixobject WHERE type = 'malware'"), 0);
    assert!(
        ok(&config, &["objects", "delete", "--collection", &cid, "--before", "2000-01-01T00:00:00Z"], None)
            .contains("0 object")
    );
    assert!(
        ok(&config, &["objects", "delete", "--collection", &cid, "--before", "2999-01-01T00:00:00Z"], None)
            .contains("8 object")
    );

    assert_eq!(count(&mut db, "SELECT count(*) FROM opentaxii_job"), 1);
    assert!(
        ok(&config, &["jobs", "cleanup"], None).contains("0 jobs removed"),
        "a fresh status is kept a day"
    );
    db.execute(
        "UPDATE opentaxii_job SET completed_timestamp = completed_timestamp - interval '25 hours'",
        &[],
    )
    .unwrap();
    assert!(ok(&config, &["jobs", "cleanup"], None).contains("1 jobs removed"));
    assert_eq!(count(&mut db, "SELECT count(*) FROM opentaxii_job"), 0);
    assert_eq!(count(&mut db, "SELECT count(*) FROM opentaxii_job_detail"), 0);

    // More rows than one batch (5,000): every batch commits on its own and all go; --json for
    // scripts. Rows of another collection stay.
    db.batch_execute(&format!(
        "INSERT INTO opentaxii_collection (id, api_root_id, title, is_public, is_public_write)
             SELECT gen_random_uuid(), api_root_id, 'other', false, false FROM opentaxii_collection
             WHERE id = '{cid}';
         INSERT INTO opentaxii_stixobject (pk, id, collection_id, type, spec_version, date_added, version, serialized_data)
             SELECT gen_random_uuid(), 'indicator--' || gen_random_uuid(), c.id, 'indicator', '2.1',
                    (now() at time zone 'utc') - interval '1 day', now() at time zone 'utc', '{{}}'
             FROM opentaxii_collection c, generate_series(1, CASE WHEN c.id = '{cid}' THEN 12001 ELSE 7 END)"
    ))
    .unwrap();
    let out = ok(
        &config,
        &["objects", "delete", "--collection", &cid, "--before", "2999-01-01T00:00:00Z", "--json"],
        None,
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v, serde_json::json!({"ok": true, "deleted": 12001}));
    assert_eq!(count(&mut db, "SELECT count(*) FROM opentaxii_stixobject"), 7);

    db.execute(
        "INSERT INTO opentaxii_job (id, api_root_id, status, request_timestamp, completed_timestamp,
             total_count, success_count, failure_count, pending_count)
         SELECT gen_random_uuid(), api_root_id, 'complete', (now() at time zone 'utc') - interval '3 hours',
                (now() at time zone 'utc') - interval '3 hours', 0, 0, 0, 0 FROM opentaxii_collection LIMIT 1",
        &[],
    )
    .unwrap();
    let cleanup = |age: &str| ok(&config, &["jobs", "cleanup", "--older-than", age, "--json"], None);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&cleanup("4h")).unwrap()["removed"], 0);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&cleanup("2h")).unwrap()["removed"], 1);
}

#[test]
fn concurrent_default_api_roots_leave_exactly_one_default() {
    // OpenTAXII's schema cannot say "at most one default": the commands serialise themselves.
    let conninfo = common::fresh_database();
    let config = write_config(&conninfo, "");
    for round in 0..3 {
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let config = config.clone();
                std::thread::spawn(move || {
                    let title = format!("root {round}.{i}");
                    ok(&config, &["api-root", "add", "--title", &title, "--default"], None);
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let mut db = common::connect(&conninfo);
        let defaults: i64 =
            db.query_one(r#"SELECT count(*) FROM opentaxii_api_root WHERE "default""#, &[]).unwrap().get(0);
        assert_eq!(defaults, 1, "round {round}: {defaults} default API roots");
    }
}

/// Runs `inner` under bash in a real terminal (util-linux `script`, a pty), typing each of
/// `keys` after 1.5 s; returns what the terminal showed.
fn in_terminal(inner: &str, keys: &[&[u8]]) -> String {
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &format!("bash -c \"{inner}\""), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("util-linux script (Debian: bsdutils, essential)");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n @ 1..) = std::io::Read::read(&mut stdout, &mut buf) {
            seen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&seen).replace('\r', "")
    });
    let mut stdin = child.stdin.take().unwrap();
    for k in keys {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        stdin.write_all(k).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    drop(stdin);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "script did not end");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    reader.join().unwrap()
}

#[test]
fn the_password_prompt_does_not_echo_and_ctrl_c_turns_echo_back_on() {
    // bash runs what follows taxiid only when taxiid handled a SIGINT itself: a process killed
    // by it takes bash down too.
    let conninfo = common::fresh_database();
    let config = write_config(&conninfo, "");
    let inner = |user: &str| {
        format!(
            "stty echo; {BIN} account add {user} --config {}; echo rc=\\$?; stty -a | tr ' ' '\\n' | grep -x -e echo -e -echo",
            config.display()
        )
    };
    let mut db = common::connect(&conninfo);
    let mut accounts = |user: &str| -> i64 {
        db.query_one("SELECT count(*) FROM accounts WHERE username = $1", &[&user]).unwrap().get(0)
    };

    let out = in_terminal(&inner("typed"), &[b"pw-typed-7f3a\r", b"pw-typed-7f3a\r"]);
    assert!(out.contains("Password:") && out.contains("Repeat password:"), "no prompts: {out:?}");
    assert!(!out.contains("pw-typed-7f3a"), "the password was echoed: {out:?}");
    assert!(out.lines().any(|l| l == "rc=0") && out.lines().any(|l| l == "echo"), "{out:?}");
    assert_eq!(accounts("typed"), 1);

    let out = in_terminal(&inner("interrupted"), &[b"\x03"]);
    assert!(out.contains("Password:"), "no prompt: {out:?}");
    assert!(out.lines().any(|l| l == "rc=130"), "taxiid did not exit as SIGINT asks: {out:?}");
    assert!(out.lines().any(|l| l == "echo"), "echo is still off: {out:?}");
    assert_eq!(accounts("interrupted"), 0);
}
