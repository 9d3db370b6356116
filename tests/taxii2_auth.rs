//! Accounts and credentials for TAXII 2.1: `POST /management/auth` and its OpenTAXII-compatible
//! JWTs, Bearer and Basic authentication, refused tokens, the Basic credential cache, TAXII 2
//! permissions from OpenTAXII's `_permissions` JSON, and the startup check of `auth.secret`.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::http::Resp;
use common::taxii2::*;

/// An HS256 JWT over the exact header and payload texts given.
fn make_jwt(header: &str, payload: &str, secret: &str) -> String {
    let input = format!("{}.{}", b64url(header.as_bytes()), b64url(payload.as_bytes()));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let sig = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64url(sig.as_ref()))
}

/// The decoded header and payload of a JWT, and whether its signature verifies under `secret`.
fn decode_jwt(token: &str, secret: &str) -> (Value, Value, bool) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let dec = |s: &str| -> Value {
        serde_json::from_slice(&b64url_decode(s).unwrap_or_else(|| panic!("not base64url: {s}"))).unwrap()
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let sig = b64url_decode(parts[2]).unwrap();
    let valid = ring::hmac::verify(&key, format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig).is_ok();
    (dec(parts[0]), dec(parts[1]), valid)
}

fn auth_request(content_type: &str, body: &str) -> Req {
    Req::new("POST", "/management/auth").without("Accept").header("Content-Type", content_type).body(body)
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn set_permissions(w: &World, user: &str, permissions: &str) {
    w.db()
        .execute("UPDATE accounts SET _permissions = $1 WHERE username = $2", &[&permissions, &user])
        .unwrap();
}

#[test]
fn management_auth_issues_opentaxii_compatible_jwt() {
    for (extra, ttl) in [("", 3600), ("auth.token_ttl = 2h\n", 7200)] {
        let w = World::with(extra);
        let body = json!({"username": "reader", "password": password_of("reader")}).to_string();
        let r = auth_request("application/json", &body).send(w.addr());
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(keys(&r.json()), ["token"]);
        let token = r.json()["token"].as_str().unwrap().to_string();
        let (header, payload, valid) = decode_jwt(&token, SECRET);
        assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
        assert_eq!(keys(&payload), ["account_id", "exp"], "{payload}");
        assert_eq!(payload["account_id"], w.account_id("reader"));
        let exp = payload["exp"].as_i64().expect("exp is an integer");
        let want = now_unix() + ttl;
        assert!((want - 5..=want + 5).contains(&exp), "exp {exp}, expected about {want}");
        assert!(valid, "the signature verifies with auth.secret");
        assert!(!decode_jwt(&token, "some-other-secret").2);
        // The token works.
        let r = Req::get(&objects(PRIVATE)).bearer(&token).send(w.addr());
        assert_t21(&r, 200);
    }
}

#[test]
fn management_auth_errors() {
    let w = World::new();
    let addr = w.addr();
    for body in [
        r#"{"username": "reader"}"#,
        r#"{"password": "reader-pw"}"#,
        "{}",
        "not json",
        "",
        r#"{"user": "reader", "pass": "reader-pw"}"#,
    ] {
        let r = auth_request("application/json", body).send(addr);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"), "{body}");
    }
    let r = auth_request("application/x-www-form-urlencoded", "username=reader").send(addr);
    assert_eq!(r.status, 400);
    // Bad credentials: 401, and no difference between an unknown name and a wrong password.
    let wrong =
        auth_request("application/json", &json!({"username": "reader", "password": "nope"}).to_string())
            .send(addr);
    let unknown =
        auth_request("application/json", &json!({"username": "ghost", "password": "nope"}).to_string())
            .send(addr);
    for r in [&wrong, &unknown] {
        assert_eq!(r.status, 401, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.json()["title"], "Unauthorized");
        assert_eq!(r.json()["http_status"], "401");
    }
    assert_eq!(wrong.body, unknown.body);
    // Form bodies, with encoded special characters; Unicode passwords in JSON.
    let mut db = w.db();
    create_account(&mut db, "special", "p@ss word&=+%", false, &json!({}));
    create_account(&mut db, "unicode", "pässwörd ✓", false, &json!({}));
    let form = format!("username=special&password={}", enc("p@ss word&=+%"));
    let r = auth_request("application/x-www-form-urlencoded", &form).send(addr);
    assert_eq!(r.status, 200, "{}", r.text());
    let token = r.json()["token"].as_str().unwrap().to_string();
    assert_t21(&Req::get("/taxii2/").bearer(&token).send(addr), 200);
    let r =
        auth_request("application/x-www-form-urlencoded", "password=reader-pw&username=reader").send(addr);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        decode_jwt(r.json()["token"].as_str().unwrap(), SECRET).1["account_id"],
        w.account_id("reader")
    );
    let token = login(addr, "unicode", "pässwörd ✓");
    assert_eq!(decode_jwt(&token, SECRET).1["account_id"], w.account_id("unicode"));
    let r =
        auth_request("application/json", &json!({"username": "unicode", "password": "passwort"}).to_string())
            .send(addr);
    assert_eq!(r.status, 401);
}

#[test]
fn bearer_and_basic_auth() {
    let w = World::new();
    let addr = w.addr();
    let token = w.token("reader");
    let pw = password_of("reader");
    let b64 = b64_std(format!("reader:{pw}").as_bytes());
    let path = objects(PRIVATE);
    for auth in [
        format!("Bearer {token}"),
        format!("bearer {token}"),
        format!("BEARER {token}"),
        format!("Basic {b64}"),
        format!("basic {b64}"),
    ] {
        let r = Req::get(&path).header("Authorization", auth.as_str()).send(addr);
        assert_t21(&r, 200);
    }
    // Both schemes identify the same account.
    let list = format!("{}collections/", root_path(ROOT));
    let a = Req::get(&list).bearer(&token).send(addr);
    let b = Req::get(&list).basic("reader", &pw).send(addr);
    assert_eq!(a.json(), b.json());
    assert_eq!(list_field(&a.json(), "collections", "id"), [PUBLIC, PRIVATE, DROPBOX]);
    // scrypt hashes (Werkzeug 3's default) and passwords containing ':'.
    let scrypt = taxiid::auth::password::hash("s3cret:with:colons", taxiid::auth::password::Scheme::Scrypt);
    w.db()
        .execute(
            "INSERT INTO accounts (username, password_hash, is_admin, _permissions) VALUES ('scrypt-acct', $1, false, $2)",
            &[&scrypt, &json!({PRIVATE: ["read"]}).to_string()],
        )
        .unwrap();
    let r = Req::get(&path).basic("scrypt-acct", "s3cret:with:colons").send(addr);
    assert_t21(&r, 200);
    let t = login(addr, "scrypt-acct", "s3cret:with:colons");
    assert_t21(&Req::get(&path).bearer(&t).send(addr), 200);
    // Wrong credentials.
    for req in [
        Req::get(&path).basic("reader", "wrong"),
        Req::get(&path).basic("scrypt-acct", "s3cret"),
        Req::get(&path).basic("ghost", "x"),
        Req::get(&path).header("Authorization", "Basic"),
        Req::get(&path).header("Authorization", format!("Basic {}", b64_std(b"no-colon-here"))),
        Req::get(&path).header("Authorization", "Bearer"),
        Req::get(&path).header("Authorization", "Digest username=\"reader\""),
    ] {
        let r = req.send(addr);
        assert_error(&r, 401);
    }
}

#[test]
fn basic_auth_disabled_gives_401() {
    let w = World::with("auth.support_basic_auth = no\n");
    let addr = w.addr();
    for p in ["/taxii2/".to_string(), objects(PUBLIC), objects(PRIVATE)] {
        let r = Req::get(&p).basic("reader", &password_of("reader")).send(addr);
        assert_error(&r, 401);
        assert_eq!(header_all(&r, "www-authenticate"), ["Bearer realm=\"taxiid\""], "{p}");
    }
    let r = w.anon().get(&root_path(ROOT));
    assert_error(&r, 401);
    assert_eq!(header_all(&r, "www-authenticate"), ["Bearer realm=\"taxiid\""]);
    // Tokens still work.
    let token = login(addr, "reader", &password_of("reader"));
    assert_t21(&Req::get(&objects(PRIVATE)).bearer(&token).send(addr), 200);
}

#[test]
fn token_of_deleted_account_401() {
    let w = World::new();
    let addr = w.addr();
    let token = w.token("nobody");
    assert_t21(&Req::get("/taxii2/").bearer(&token).send(addr), 200);
    assert_t21(&Req::get(&objects(PUBLIC)).bearer(&token).send(addr), 200);
    assert_t21(&Req::get("/taxii2/").basic("nobody", &password_of("nobody")).send(addr), 200);
    w.db().execute("DELETE FROM accounts WHERE username = 'nobody'", &[]).unwrap();
    for p in ["/taxii2/".to_string(), objects(PUBLIC), root_path(ROOT)] {
        assert_error(&Req::get(&p).bearer(&token).send(addr), 401);
        assert_error(&Req::get(&p).basic("nobody", &password_of("nobody")).send(addr), 401);
    }
    // A valid signature for an id that never existed.
    let ghost = make_jwt(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &format!(r#"{{"account_id":99999,"exp":{}}}"#, now_unix() + 600),
        SECRET,
    );
    assert_error(&Req::get("/taxii2/").bearer(&ghost).send(addr), 401);
}

#[test]
fn tampered_alg_none_expired_tokens_401() {
    let w = World::new();
    let addr = w.addr();
    let reader = w.account_id("reader");
    let admin = w.account_id("admin");
    let token = w.token("reader");
    let parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let hs256 = r#"{"alg":"HS256","typ":"JWT"}"#;
    let later = now_unix() + 600;
    let probe = |t: &str| -> (Resp, Resp) {
        (Req::get("/taxii2/").bearer(t).send(addr), Req::get(&objects(PRIVATE)).bearer(t).send(addr))
    };
    // Tokens made as OpenTAXII (PyJWT) makes them, with this secret, are accepted.
    let pyjwt = make_jwt(hs256, &format!(r#"{{"account_id": {reader}, "exp": {later}}}"#), SECRET);
    let (a, b) = probe(&pyjwt);
    assert_t21(&a, 200);
    assert_t21(&b, 200);
    let refused = vec![
        // alg none, with and without a signature.
        format!("{}.{}.", b64url(br#"{"alg":"none","typ":"JWT"}"#), parts[1]),
        format!("{}.{}.{}", b64url(br#"{"alg":"none","typ":"JWT"}"#), parts[1], parts[2]),
        // Another algorithm named, HS256 signature.
        make_jwt(
            r#"{"alg":"HS512","typ":"JWT"}"#,
            &format!(r#"{{"account_id":{reader},"exp":{later}}}"#),
            SECRET,
        ),
        // Payload swapped for the admin's, signature kept.
        format!(
            "{}.{}.{}",
            parts[0],
            b64url(format!(r#"{{"account_id":{admin},"exp":{later}}}"#).as_bytes()),
            parts[2]
        ),
        // Signature altered or missing.
        format!("{}.{}.{}", parts[0], parts[1], b64url(&[0u8; 32])),
        format!("{}.{}", parts[0], parts[1]),
        format!("{token}.extra"),
        // Expired.
        make_jwt(hs256, &format!(r#"{{"account_id":{reader},"exp":{}}}"#, now_unix() - 10), SECRET),
        // No expiry, or no account.
        make_jwt(hs256, &format!(r#"{{"account_id":{reader}}}"#), SECRET),
        make_jwt(hs256, &format!(r#"{{"exp":{later}}}"#), SECRET),
        // Another secret.
        make_jwt(hs256, &format!(r#"{{"account_id":{reader},"exp":{later}}}"#), "not-the-secret"),
        "garbage".to_string(),
    ];
    for t in &refused {
        let (a, b) = probe(t);
        assert_error(&a, 401);
        assert_error(&b, 401);
    }
}

#[test]
fn password_change_invalidates_cached_basic_credentials() {
    let w = World::new();
    let addr = w.addr();
    let old = password_of("reader");
    for _ in 0..3 {
        assert_t21(&Req::get(&objects(PRIVATE)).basic("reader", &old).send(addr), 200);
    }
    w.db()
        .execute(
            "UPDATE accounts SET password_hash = $1 WHERE username = 'reader'",
            &[&password_hash("new-pw")],
        )
        .unwrap();
    assert_error(&Req::get(&objects(PRIVATE)).basic("reader", &old).send(addr), 401);
    assert_error(&Req::get("/taxii2/").basic("reader", &old).send(addr), 401);
    assert_t21(&Req::get(&objects(PRIVATE)).basic("reader", "new-pw").send(addr), 200);
    let r = auth_request("application/json", &json!({"username": "reader", "password": old}).to_string())
        .send(addr);
    assert_eq!(r.status, 401);
    login(addr, "reader", "new-pw");
    // Renaming the account also ends the old name's access.
    w.db().execute("UPDATE accounts SET username = 'reader2' WHERE username = 'reader'", &[]).unwrap();
    assert_error(&Req::get("/taxii2/").basic("reader", "new-pw").send(addr), 401);
    assert_t21(&Req::get("/taxii2/").basic("reader2", "new-pw").send(addr), 200);
}

#[test]
fn permissions_from_opentaxii_json() {
    let w = World::new();
    let addr = w.addr();
    let token = w.token("nobody");
    let get = |p: &str| Req::get(p).bearer(&token).send(addr);
    let post = |n: u64| {
        Req::post(&objects(PRIVATE), envelope(&[sdo("indicator", n, "2021-01-01T00:00:00.000Z")]))
            .bearer(&token)
            .send(addr)
    };
    let list = format!("{}collections/", root_path(ROOT));
    let visible = || list_field(&get(&list).json(), "collections", "id");
    w.add("admin", PRIVATE, &[sdo("malware", 1, "2021-01-01T00:00:00.000Z")]);
    // TAXII 1 entries (string values), even keyed by the UUID or the title, grant nothing here.
    set_permissions(
        &w,
        "nobody",
        &json!({PRIVATE: "modify", "Bravo private": "read", "private": "modify"}).to_string(),
    );
    assert_error(&get(&objects(PRIVATE)), 404);
    assert_error(&get(&coll(PRIVATE)), 404);
    assert_error(&post(1), 404);
    assert_eq!(visible(), [PUBLIC, DROPBOX]);
    // Lists grant read and write, effective at once for an existing token.
    set_permissions(&w, "nobody", &json!({PRIVATE: ["read"], "collection-a": "modify"}).to_string());
    assert_t21(&get(&objects(PRIVATE)), 200);
    assert_eq!(get(&coll(PRIVATE)).json()["can_read"], true);
    assert_eq!(get(&coll(PRIVATE)).json()["can_write"], false);
    assert_error(&post(2), 403);
    assert_eq!(visible(), [PUBLIC, PRIVATE, DROPBOX]);
    set_permissions(&w, "nobody", &json!({PRIVATE: ["write"]}).to_string());
    assert_error(&get(&objects(PRIVATE)), 403);
    assert_eq!(get(&coll(PRIVATE)).json()["can_read"], false);
    assert_eq!(get(&coll(PRIVATE)).json()["can_write"], true);
    assert_t21(&post(3), 202);
    set_permissions(&w, "nobody", &json!({PRIVATE: ["read", "write"]}).to_string());
    assert_t21(&get(&objects(PRIVATE)), 200);
    assert_t21(&post(4), 202);
    assert_t21(&Req::delete(&object(PRIVATE, &sid("indicator", 4))).bearer(&token).send(addr), 200);
    // The grant is for that collection only.
    assert_error(&get(&objects(WRITEONLY)), 404);
    set_permissions(&w, "nobody", &json!({PRIVATE: []}).to_string());
    assert_error(&get(&objects(PRIVATE)), 404);
    // Unparsable permissions: no grants, but the account still works.
    set_permissions(&w, "nobody", "not json");
    assert_t21(&get(&objects(PUBLIC)), 200);
    assert_error(&get(&objects(PRIVATE)), 404);
    // is_admin grants everything.
    w.db().execute("UPDATE accounts SET is_admin = true WHERE username = 'nobody'", &[]).unwrap();
    assert_t21(&get(&objects(WRITEONLY)), 200);
    assert_eq!(visible(), [PUBLIC, PRIVATE, WRITEONLY, DROPBOX]);
}

/// Runs `taxiid serve` with `config`; it must exit (within 30 s). Returns (code, stderr).
fn serve_must_exit(config: &str) -> (i32, String) {
    let path = common::server::scratch_dir().join("taxiid.conf");
    std::fs::write(&path, config).unwrap();
    let mut child = Command::new(common::server::BIN)
        .args(["serve", "--config", path.to_str().unwrap()])
        .env_remove("JOURNAL_STREAM")
        .env_remove("TAXIID_AUTH_SECRET")
        .env_remove("TAXIID_AUTH_SECRET_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("taxiid serve kept running with config:\n{config}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn server_refuses_to_start_without_secret_or_with_placeholder() {
    let db = common::fresh_database();
    let base = format!("listen = 127.0.0.1:0\ndatabase.url = {db}\nlog.level = info\n");
    for extra in [
        "",
        "auth.secret =\n",
        "auth.secret = SECRET-STRING-NEEDS-TO-BE-CHANGED\n",
        "auth.secret = \"SECRET-STRING-NEEDS-TO-BE-CHANGED\"\n",
    ] {
        let (code, err) = serve_must_exit(&format!("{base}{extra}"));
        assert_eq!(code, 1, "{extra:?}: {err}");
        assert!(err.contains("auth.secret"), "{extra:?}: {err}");
    }
    // With a real secret it starts.
    let srv = common::server::Taxiid::start(&db, "auth.secret = a-real-secret-of-some-length\n");
    assert_eq!(common::http::get(srv.addr, "/management/health").status, 200);
}
