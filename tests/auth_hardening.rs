//! Authentication hardening (issue 8, "Authentication and secrets"), through the real server
//! over HTTP on a real PostgreSQL:
//!
//! - failed-login throttling (`auth.max_failed_logins` and the backoff keys) on every
//!   password check — HTTP Basic on TAXII 2.1 and TAXII 1.x, `POST /management/auth`, Basic
//!   on `/management/metrics` — per account name and per client address (a second client
//!   address is a listener on `[::1]`), with its metrics;
//! - refused JWTs (another algorithm, tampering, expiry, missing or odd claims, a deleted
//!   account) on every protocol, none of them counted as a failed login;
//! - no password, token or `Authorization` value in the server's log, whichever endpoint
//!   saw it.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;

use common::auth::*;
use common::http::Resp;
use common::server::Taxiid;
use common::taxii1 as t1;
use common::taxii2::{self as t2, Req, assert_error, assert_t21, b64_std, b64url, password_of};
use taxiid::taxii1::messages::{Message, StatusType, SubscriptionAction};

/// Three failures, then 2 s, 4 s, 8 s.
const THROTTLE: &str = "auth.max_failed_logins = 3\nauth.failed_login_backoff = 2s\n\
                        auth.failed_login_backoff_max = 8s\nauth.failed_login_window = 1min\n";

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", b64_std(format!("{user}:{password}").as_bytes()))
}

fn login_req(addr: SocketAddr, user: &str, password: &str) -> Resp {
    Req::new("POST", "/management/auth")
        .without("Accept")
        .header("Content-Type", "application/json")
        .body(json!({"username": user, "password": password}).to_string())
        .send(addr)
}

fn metrics_req(addr: SocketAddr, authorization: &str) -> Resp {
    Req::get("/management/metrics").without("Accept").header("Authorization", authorization).send(addr)
}

/// `Retry-After` in seconds, asserted to be `secs` or one less (time passes between the
/// failure and the request).
#[track_caller]
fn retry_after(r: &Resp, secs: u64) -> u64 {
    let v: u64 =
        r.header("retry-after").unwrap_or_else(|| panic!("no Retry-After: {}", r.text())).parse().unwrap();
    assert!((secs.saturating_sub(1).max(1)..=secs).contains(&v), "Retry-After {v}, expected {secs}");
    v
}

/// A TAXII 2.1 429 error object with `Retry-After` of about `secs`.
#[track_caller]
fn assert_throttled_t2(r: &Resp, secs: u64) {
    assert_error(r, 429);
    retry_after(r, secs);
    assert!(r.json()["description"].as_str().unwrap().contains("retry in"), "{}", r.text());
}

/// A plain JSON 429 error (management endpoints) with `Retry-After` of about `secs`.
#[track_caller]
fn assert_throttled_json(r: &Resp, secs: u64) {
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json()["http_status"], "429");
    assert_eq!(r.json()["title"], "Too Many Requests");
    retry_after(r, secs);
}

/// Sleeps until a refusal with `Retry-After: secs` is over.
fn sleep_past(secs: u64) {
    std::thread::sleep(Duration::from_secs(secs) + Duration::from_millis(200));
}

// ---------------------------------------------------------------------------------------
// Throttling
// ---------------------------------------------------------------------------------------

#[test]
fn taxii2_basic_is_throttled_after_max_failures_even_for_a_cached_password() {
    let w = t2::World::with(THROTTLE);
    let addr = w.addr();
    let admin = format!("Bearer {}", w.token("admin"));
    let path = t2::objects(t2::PRIVATE);
    let reader = || Req::get(&path).basic("reader", &password_of("reader"));
    // A verified (cached) password first: throttling must refuse it all the same.
    assert_t21(&reader().send(addr), 200);
    for i in 0..3 {
        assert_error(&Req::get(&path).basic("reader", &format!("wrong {i}")).send(addr), 401);
    }
    let r = reader().send(addr);
    assert_throttled_t2(&r, 2);
    let wait = retry_after(&r, 2);
    // The address is throttled for every account; a token is no password check.
    assert_throttled_t2(&Req::get("/taxii2/").basic("writer", &password_of("writer")).send(addr), 2);
    assert_t21(&Req::get(&path).header("Authorization", admin.as_str()).send(addr), 200);
    sleep_past(wait);
    assert_t21(&reader().send(addr), 200);
    // A success does not reset the address: its next failure doubles the backoff.
    assert_error(&Req::get(&path).basic("reader", "wrong again").send(addr), 401);
    assert_throttled_t2(&reader().send(addr), 4);
    let series = |s: &str| metric(addr, &admin, s);
    assert_eq!(series(r#"taxiid_auth_throttled_total{endpoint="taxii2"}"#), 3);
    assert_eq!(series(r#"taxiid_auth_failures_total{endpoint="taxii2"}"#), 4);
    // "reader" and "admin" (successes: known addresses), reader's count, the address's.
    assert_eq!(series("taxiid_auth_throttle_records"), 4);
}

#[test]
fn management_auth_and_metrics_basic_are_throttled_with_429() {
    let w = t2::World::with(THROTTLE);
    let addr = w.addr();
    let admin = format!("Bearer {}", w.token("admin"));
    for i in 0..3 {
        assert_eq!(login_req(addr, "editor", &format!("wrong {i}")).status, 401);
    }
    let r = login_req(addr, "editor", &password_of("editor"));
    assert_throttled_json(&r, 2);
    let wait = retry_after(&r, 2);
    // Basic on the metrics endpoint is a password check from the same address.
    assert_throttled_json(&metrics_req(addr, &basic("admin", &password_of("admin"))), 2);
    assert_eq!(metrics_req(addr, &admin).status, 200);
    sleep_past(wait);
    t2::login(addr, "editor", &password_of("editor"));
    assert_eq!(metrics_req(addr, &basic("admin", &password_of("admin"))).status, 200);
    assert_eq!(metric(addr, &admin, r#"taxiid_auth_throttled_total{endpoint="login"}"#), 1);
    assert_eq!(metric(addr, &admin, r#"taxiid_auth_throttled_total{endpoint="metrics"}"#), 1);
    assert_eq!(metric(addr, &admin, r#"taxiid_auth_failures_total{endpoint="login"}"#), 3);
}

#[test]
fn per_address_limit_spans_accounts() {
    let v6 = ipv6_loopback();
    let w = t2::World::with(&format!("{THROTTLE}{}", if v6 { LISTEN_IPV6 } else { "" }));
    let addr = w.addr();
    // Unknown names count like existing ones (a 429 must not reveal which names exist).
    for user in ["reader", "writer", "no-such-account"] {
        assert_error(&Req::get("/taxii2/").basic(user, "wrong").send(addr), 401);
    }
    // No name failed twice, but the address failed three times.
    assert_throttled_t2(&Req::get("/taxii2/").basic("nobody", &password_of("nobody")).send(addr), 2);
    let r = login_req(addr, "editor", &password_of("editor"));
    assert_throttled_json(&r, 2);
    if !v6 {
        eprintln!("no IPv6 loopback: the second-address half of this test is skipped");
        return;
    }
    // Another client address is not affected.
    let other = second_address(&w.srv);
    assert_t21(&Req::get("/taxii2/").basic("nobody", &password_of("nobody")).send(other), 200);
    assert_t21(&Req::get("/taxii2/").basic("reader", &password_of("reader")).send(other), 200);
    t2::login(other, "editor", &password_of("editor"));
}

#[test]
fn per_account_limit_spans_addresses_and_only_delays() {
    if !ipv6_loopback() {
        eprintln!("no IPv6 loopback: skipped (a second client address is needed)");
        return;
    }
    let w = t2::World::with(&format!("{THROTTLE}{LISTEN_IPV6}"));
    let (a, b) = (w.addr(), second_address(&w.srv));
    let reader = |from| Req::get("/taxii2/").basic("reader", &password_of("reader")).send(from);
    for (i, from) in [a, a, b].into_iter().enumerate() {
        assert_error(&Req::get("/taxii2/").basic("reader", &format!("wrong {i}")).send(from), 401);
    }
    // The account is throttled from every address, with the right password too; neither
    // address is (two and one failures), so other accounts work from both.
    let r = reader(a);
    assert_throttled_t2(&r, 2);
    let wait = retry_after(&r, 2);
    assert_throttled_t2(&reader(b), 2);
    assert_throttled_json(&login_req(b, "reader", &password_of("reader")), 2);
    assert_t21(&Req::get("/taxii2/").basic("writer", &password_of("writer")).send(a), 200);
    assert_t21(&Req::get("/taxii2/").basic("writer", &password_of("writer")).send(b), 200);
    // Only a delay: after the backoff the owner logs in, and the count starts over.
    sleep_past(wait);
    assert_t21(&reader(b), 200);
    assert_error(&Req::get("/taxii2/").basic("reader", "wrong again").send(b), 401);
    assert_t21(&reader(b), 200);
}

#[test]
fn an_address_that_logged_in_keeps_its_account_usable_under_attack() {
    if !ipv6_loopback() {
        eprintln!("no IPv6 loopback: skipped (a second client address is needed)");
        return;
    }
    let w = t2::World::with(&format!("{THROTTLE}{LISTEN_IPV6}"));
    let (attacker, home) = (w.addr(), second_address(&w.srv));
    let reader =
        |from| Req::get(&t2::objects(t2::PRIVATE)).basic("reader", &password_of("reader")).send(from);
    // The partner polls from its usual address.
    assert_t21(&reader(home), 200);
    // Guesses from the attacker's address and (a mistyped one) from home.
    for (i, from) in [attacker, attacker, home].into_iter().enumerate() {
        assert_error(&Req::get("/taxii2/").basic("reader", &format!("guess {i}")).send(from), 401);
    }
    // The account is throttled for addresses it was not used from, not for home.
    assert_throttled_t2(&reader(attacker), 2);
    for _ in 0..3 {
        assert_t21(&reader(home), 200);
    }
}

#[test]
fn taxii1_basic_is_throttled_with_the_unauthorized_status() {
    for status in [None, Some("DENIED")] {
        let extra = status.map(|s| format!("taxii1.unauthorized_status = {s}\n")).unwrap_or_default();
        let w = t1::World::with(&format!("{THROTTLE}{extra}"));
        w.five_blocks();
        let want = StatusType::from_wire(status.unwrap_or("UNAUTHORIZED"));
        let admin = format!("Bearer {}", w.token("admin"));
        let bearer = w.bearer("reader");
        let poll = |c: &t1::Client| c.poll(t1::POLL_AUTH, t1::poll_request("feed-a"));
        for i in 0..3 {
            t1::assert_status(&poll(&w.anon().basic("reader", &format!("wrong {i}"))), want.clone(), "0");
        }
        let r = poll(&w.basic("reader"));
        t1::assert_status(&r, want.clone(), "0");
        let message = r.status().message.clone().unwrap_or_default();
        assert!(message.contains("retry in"), "{}", r.text());
        let wait = retry_after(&r.resp, 2);
        // TAXII 1.0 clients get a 1.0 answer; other services and TAXII 2 are throttled too.
        let r = w.basic("reader").v10().poll(t1::POLL_AUTH, t1::poll_request_10("feed-a"));
        t1::assert_status(&r, want.clone(), "0");
        t1::assert_status(&w.basic("admin").send(t1::DISCOVERY, &t1::discovery_request()), want.clone(), "0");
        assert_throttled_t2(&Req::get("/taxii2/").basic("admin", &password_of("admin")).send(w.addr()), 2);
        // Tokens are no password checks.
        assert_eq!(poll(&bearer).poll().content_blocks.len(), 5);
        sleep_past(wait);
        assert_eq!(poll(&w.basic("reader")).poll().content_blocks.len(), 5);
        let addr = w.addr();
        assert_eq!(metric(addr, &admin, r#"taxiid_auth_throttled_total{endpoint="taxii1"}"#), 3);
        assert_eq!(metric(addr, &admin, r#"taxiid_auth_failures_total{endpoint="taxii1"}"#), 3);
    }
}

#[test]
fn max_failed_logins_0_turns_throttling_off() {
    let w = t2::World::with("auth.max_failed_logins = 0\n");
    let addr = w.addr();
    for _ in 0..7 {
        assert_error(&Req::get("/taxii2/").basic("reader", "wrong").send(addr), 401);
    }
    assert_t21(&Req::get("/taxii2/").basic("reader", &password_of("reader")).send(addr), 200);
    let admin = format!("Bearer {}", w.token("admin"));
    assert_eq!(metric(addr, &admin, "taxiid_auth_throttle_records"), 0);
}

#[test]
fn a_client_retrying_one_wrong_password_is_not_throttled() {
    // A partner's poller with a stale password: the same guess again teaches nothing.
    let w = t2::World::with(THROTTLE);
    let addr = w.addr();
    for _ in 0..8 {
        assert_error(&Req::get("/taxii2/").basic("reader", "last year's password").send(addr), 401);
    }
    assert_t21(&Req::get("/taxii2/").basic("writer", &password_of("writer")).send(addr), 200);
    assert_t21(&Req::get("/taxii2/").basic("reader", &password_of("reader")).send(addr), 200);
}

// ---------------------------------------------------------------------------------------
// JWTs
// ---------------------------------------------------------------------------------------

/// A JWT over the exact header and payload texts, signed with HMAC `alg` under `secret`.
fn jwt(header: &str, payload: &str, alg: ring::hmac::Algorithm, secret: &str) -> String {
    let input = format!("{}.{}", b64url(header.as_bytes()), b64url(payload.as_bytes()));
    let sig = ring::hmac::sign(&ring::hmac::Key::new(alg, secret.as_bytes()), input.as_bytes());
    format!("{input}.{}", b64url(sig.as_ref()))
}

/// The TAXII 2.1 World plus the TAXII 1 services, one server.
fn both_protocols(extra: &str) -> (Taxiid, String) {
    let conninfo = common::fresh_database();
    t2::create_world_layout(&conninfo);
    create_taxii1_services(&conninfo);
    let srv = Taxiid::start(&conninfo, &format!("{}{extra}", t2::world_config()));
    (srv, conninfo)
}

#[test]
fn refused_jwts_are_401_on_every_protocol_and_no_failed_login() {
    let (srv, conninfo) = both_protocols(THROTTLE);
    let addr = srv.addr;
    let mut db = common::connect(&conninfo);
    let mut id = |user: &str| -> i32 {
        db.query_one("SELECT id FROM accounts WHERE username = $1", &[&user]).unwrap().get(0)
    };
    let (reader, admin, nobody) = (id("reader"), id("admin"), id("nobody"));
    let later = t2::now_unix() + 600;
    let hs256 = r#"{"alg":"HS256","typ":"JWT"}"#;
    let claims = |account: i32| format!(r#"{{"account_id":{account},"exp":{later}}}"#);
    let good = jwt(hs256, &claims(reader), ring::hmac::HMAC_SHA256, t2::SECRET);
    let parts: Vec<&str> = good.split('.').collect();
    let mut sig: Vec<char> = parts[2].chars().collect();
    sig[10] = if sig[10] == 'A' { 'B' } else { 'A' };
    let flipped: String = sig.into_iter().collect();
    // A valid token of an account that is then deleted.
    let deleted = t2::login(addr, "nobody", &password_of("nobody"));
    db.execute("DELETE FROM accounts WHERE id = $1", &[&nobody]).unwrap();
    let refused = [
        ("alg none", format!("{}.{}.", b64url(br#"{"alg":"none","typ":"JWT"}"#), parts[1])),
        (
            "HS512",
            jwt(r#"{"alg":"HS512","typ":"JWT"}"#, &claims(reader), ring::hmac::HMAC_SHA512, t2::SECRET),
        ),
        (
            "RS256 header, HS256 signature",
            jwt(r#"{"alg":"RS256","typ":"JWT"}"#, &claims(reader), ring::hmac::HMAC_SHA256, t2::SECRET),
        ),
        (
            "RS256 header, other signature",
            format!("{}.{}.{}", b64url(br#"{"alg":"RS256","typ":"JWT"}"#), parts[1], b64url(&[7u8; 256])),
        ),
        ("tampered signature", format!("{}.{}.{flipped}", parts[0], parts[1])),
        ("tampered payload", format!("{}.{}.{}", parts[0], b64url(claims(admin).as_bytes()), parts[2])),
        (
            "expired",
            jwt(
                hs256,
                &format!(r#"{{"account_id":{reader},"exp":{}}}"#, t2::now_unix() - 5),
                ring::hmac::HMAC_SHA256,
                t2::SECRET,
            ),
        ),
        ("no account_id", jwt(hs256, &format!(r#"{{"exp":{later}}}"#), ring::hmac::HMAC_SHA256, t2::SECRET)),
        (
            "account_id a string",
            jwt(
                hs256,
                &format!(r#"{{"account_id":"{reader}","exp":{later}}}"#),
                ring::hmac::HMAC_SHA256,
                t2::SECRET,
            ),
        ),
        ("deleted account", deleted),
    ];
    let taxii1 = t1::Client::new(addr);
    for (what, token) in &refused {
        let bearer = format!("Bearer {token}");
        for path in ["/taxii2/".to_string(), t2::objects(t2::PRIVATE)] {
            let r = Req::get(&path).header("Authorization", bearer.as_str()).send(addr);
            assert_eq!(r.status, 401, "{what} on {path}: {}", r.text());
            assert_error(&r, 401);
        }
        let r = taxii1.with_authorization(&bearer).poll(t1::POLL_AUTH, t1::poll_request("feed-a"));
        assert_eq!(r.status().status_type, StatusType::Unauthorized, "{what}: {}", r.text());
        let r = metrics_req(addr, &bearer);
        assert_eq!(r.status, 401, "{what} on metrics: {}", r.text());
    }
    // The good token works everywhere; thirty refused tokens throttled nothing.
    let bearer = format!("Bearer {good}");
    assert_t21(&Req::get(&t2::objects(t2::PRIVATE)).header("Authorization", bearer.as_str()).send(addr), 200);
    assert_t21(&Req::get("/taxii2/").basic("reader", &password_of("reader")).send(addr), 200);
    let admin_bearer = format!("Bearer {}", t2::login(addr, "admin", &password_of("admin")));
    assert_eq!(metric(addr, &admin_bearer, r#"taxiid_auth_throttled_total{endpoint="taxii2"}"#), 0);
    assert_eq!(metric(addr, &admin_bearer, r#"taxiid_auth_failures_total{endpoint="taxii2"}"#), 20);
}

// ---------------------------------------------------------------------------------------
// Secrets in the log
// ---------------------------------------------------------------------------------------

const USER: &str = "ops-admin";
/// URL-, JSON-, base64- and shell-special characters, and a distinctive core.
const PASSWORD: &str = r#"Pw"\&=+%/?#:{}[]'<>;,@ üñ-S3CR3T-9f1c"#;
const WRONG: &str = "Wr0ng-Pa55-7c4e1d";

#[test]
fn no_password_token_or_authorization_value_reaches_the_log() {
    let (srv, conninfo) = both_protocols(
        "auth.max_failed_logins = 3\nauth.failed_login_backoff = 1min\nauth.failed_login_backoff_max = 1min\n\
         log.level = trace\n",
    );
    let addr = srv.addr;
    let mut db = common::connect(&conninfo);
    t2::create_account(&mut db, USER, PASSWORD, true, &json!({}));
    for (i, label) in
        ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z"]
            .iter()
            .enumerate()
    {
        t1::insert_block(
            &mut db,
            &["feed-a"],
            t1::STIX111,
            None,
            t1::stix(&format!("b{i}")).as_bytes(),
            label,
        );
    }

    // Logins: JSON and form bodies.
    let token = t2::login(addr, USER, PASSWORD);
    let form = format!("username={USER}&password={}", t2::enc(PASSWORD));
    let r = Req::new("POST", "/management/auth")
        .without("Accept")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send(addr);
    assert_eq!(r.status, 200, "{}", r.text());
    let right_basic = basic(USER, PASSWORD);
    let right_bearer = format!("Bearer {token}");
    let mut n = 0;
    for auth in [&right_basic, &right_bearer] {
        drive_taxii2(addr, auth, &mut n);
        drive_taxii1(addr, auth);
        assert_eq!(metrics_req(addr, auth).status, 200);
        for path in ["/management/health", "/management/ready"] {
            let r = Req::get(path).header("Authorization", auth.as_str()).send(addr);
            assert_eq!(r.status, 200, "{path}: {}", r.text());
        }
    }

    // Wrong values: a tampered token everywhere, wrong passwords on each protocol (the third
    // failure starts throttling, which logs too).
    let mut chars: Vec<char> = token.chars().collect();
    let i = chars.len() - 10;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let wrong_token: String = chars.into_iter().collect();
    let wrong_bearer = format!("Bearer {wrong_token}");
    // Three different wrong passwords (a repeated one would count once).
    let wrong = ["login", "taxii2", "taxii1"].map(|w| format!("{WRONG}-{w}"));
    let wrong_basic = [basic(USER, &wrong[1]), basic(USER, &wrong[2])];
    assert_error(&Req::get("/taxii2/").header("Authorization", wrong_bearer.as_str()).send(addr), 401);
    assert_eq!(metrics_req(addr, &wrong_bearer).status, 401);
    let c = t1::Client::new(addr).with_authorization(&wrong_bearer);
    t1::assert_status(&c.send(t1::DISCOVERY, &t1::discovery_request()), StatusType::Unauthorized, "0");
    assert_eq!(login_req(addr, USER, &wrong[0]).status, 401);
    assert_error(&Req::get("/taxii2/").header("Authorization", wrong_basic[0].as_str()).send(addr), 401);
    let c = t1::Client::new(addr).with_authorization(&wrong_basic[1]);
    t1::assert_status(&c.poll(t1::POLL_AUTH, t1::poll_request("feed-a")), StatusType::Unauthorized, "0");
    // Throttled: the right password, refused.
    assert_throttled_t2(&Req::get("/taxii2/").header("Authorization", right_basic.as_str()).send(addr), 60);
    assert_throttled_json(&login_req(addr, USER, PASSWORD), 60);
    assert_throttled_json(&metrics_req(addr, &right_basic), 60);
    let c = t1::Client::new(addr).with_authorization(&right_basic);
    let r = c.poll(t1::POLL_AUTH, t1::poll_request("feed-a"));
    assert!(r.status().message.as_deref().unwrap_or_default().contains("retry in"), "{}", r.text());

    // Every line the server wrote, up to a last request whose access line marks the end.
    assert_eq!(common::http::get(addr, "/end-of-the-secrets-test").status, 404);
    let log = wait_for_log(&srv, "/end-of-the-secrets-test");
    let signature = token.rsplit('.').next().unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let mut secrets = vec![
        PASSWORD.to_string(),
        "S3CR3T-9f1c".to_string(),
        serde_json::to_string(PASSWORD).unwrap(),
        t2::enc(PASSWORD),
        WRONG.to_string(),
        b64_std(format!("{USER}:{PASSWORD}").as_bytes()),
        right_basic.clone(),
        token.clone(),
        signature.to_string(),
        payload.to_string(),
        wrong_token.clone(),
        t2::SECRET.to_string(),
    ];
    secrets.extend(wrong.iter().map(|w| b64_std(format!("{USER}:{w}").as_bytes())));
    secrets.extend(wrong_basic.iter().cloned());
    for s in &secrets {
        assert!(!log.contains(s.as_str()), "the log contains the secret {s:?}:\n{log}");
    }
    // The check is not vacuous: request lines of every family, the account, throttling.
    for needle in [
        "taxiid::access",
        " POST /management/auth 200 ",
        " POST /management/auth 401 ",
        " POST /management/auth 429 ",
        " GET /management/metrics 200 ",
        " GET /management/health 200 ",
        " GET /management/ready 200 ",
        " GET /taxii2/ 200 ",
        " GET /taxii2/ 401 ",
        " GET /taxii2/ 429 ",
        " POST /services/poll-auth 200 ",
        " POST /services/inbox-auth 200 ",
        " POST /services/collection-management 200 ",
        " DELETE /taxii2/",
        USER,
        "too many failed logins",
    ] {
        assert!(log.contains(needle), "the log lacks {needle:?}:\n{log}");
    }
    assert!(log.lines().count() > 60, "{log}");
}

/// Every TAXII 2.1 endpoint with `auth` (an admin): discovery, API root, collections, one
/// collection, objects GET and POST, status, manifest, one object, versions, DELETE.
fn drive_taxii2(addr: SocketAddr, auth: &str, n: &mut u64) {
    let get = |path: &str| {
        let r = Req::get(path).header("Authorization", auth).send(addr);
        assert_t21(&r, 200);
        r
    };
    *n += 1;
    let obj = t2::sdo("indicator", *n, "2024-01-01T00:00:00.000Z");
    let id = obj["id"].as_str().unwrap().to_string();
    let r =
        Req::post(&t2::objects(t2::PRIVATE), t2::envelope(&[obj])).header("Authorization", auth).send(addr);
    assert_t21(&r, 202);
    let status = r.json()["id"].as_str().unwrap().to_string();
    for path in [
        "/taxii2/".to_string(),
        t2::root_path(t2::ROOT),
        format!("{}collections/", t2::root_path(t2::ROOT)),
        t2::coll(t2::PRIVATE),
        t2::objects(t2::PRIVATE),
        t2::status_path(t2::ROOT, &status),
        t2::manifest(t2::PRIVATE),
        t2::object(t2::PRIVATE, &id),
        t2::versions(t2::PRIVATE, &id),
    ] {
        get(&path);
    }
    let r = Req::delete(&t2::object(t2::PRIVATE, &id)).header("Authorization", auth).send(addr);
    assert_t21(&r, 200);
}

/// Every TAXII 1.x service with `auth` (an admin): discovery, collection management,
/// poll with fulfillment, an authenticated poll, inbox, subscription.
fn drive_taxii1(addr: SocketAddr, auth: &str) {
    let c = t1::Client::new(addr).with_authorization(auth);
    assert!(matches!(c.send(t1::DISCOVERY, &t1::discovery_request()).msg, Message::DiscoveryResponse(_)));
    c.send(t1::CM_AUTH, &t1::collection_information_request()).collections();
    let parts = c.poll_all(t1::POLL, t1::poll_request("feed-a"));
    assert!(parts.len() > 1, "the poll has several parts (Poll_Fulfillment)");
    assert!(!c.poll(t1::POLL_AUTH, t1::poll_request("feed-a")).poll().content_blocks.is_empty());
    let r = c.inbox(t1::INBOX_AUTH, &["feed-a"], vec![t1::block(t1::STIX111, &t1::stix("pushed"))]);
    r.expect(StatusType::Success);
    let r = c.subscription(t1::CM, t1::subscription_request(SubscriptionAction::Subscribe, "feed-a", None));
    r.subscriptions();
}

/// The server's log once it holds `needle` (lines are written after the response).
fn wait_for_log(srv: &Taxiid, needle: &str) -> String {
    let start = std::time::Instant::now();
    loop {
        let log = srv.logs();
        if log.contains(needle) {
            return log;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no {needle:?} in the log:\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------
// Timing of unknown names
// ---------------------------------------------------------------------------------------

/// Seconds one `POST /management/auth` takes.
fn login_seconds(addr: SocketAddr, user: &str, password: &str) -> f64 {
    let started = std::time::Instant::now();
    let r = login_req(addr, user, password);
    assert_eq!(r.status, 401, "{}", r.text());
    started.elapsed().as_secs_f64()
}

#[test]
fn an_unknown_name_costs_what_the_accounts_own_hash_method_costs() {
    // An OpenTAXII database whose accounts carry a slow pbkdf2 hash (here 1,000,000 rounds, 4 ×
    // Werkzeug 2's 260,000): an unknown name must take about as long as a wrong password, or
    // the response time tells a guesser which names exist.
    let w = t2::World::new();
    let addr = w.addr();
    let slow = format!("pbkdf2:sha256:1000000$NaCl${}", "ab".repeat(32));
    w.db().execute("UPDATE accounts SET password_hash = $1 WHERE username = 'reader'", &[&slow]).unwrap();
    let known = login_seconds(addr, "reader", "a wrong password");
    let unknown = login_seconds(addr, "no-such-name", "a wrong password");
    let known_again = login_seconds(addr, "reader", "another wrong password");
    let known = known.min(known_again);
    println!("wrong password {known:.3} s, unknown name {unknown:.3} s, ratio {:.2}", unknown / known);
    assert!(unknown > known * 0.6, "unknown name {unknown:.3} s against {known:.3} s for a known one");
}
