//! The OpenTAXII 0.9.3 fixture database (shared/reference/opentaxii-fixture), loaded unchanged
//! and migrated: taxiid must serve its TAXII 2.1 content, accounts and jobs as
//! `fixture-notes.md` says (with taxiid's documented decisions where they differ).

mod common;

use serde_json::{Value, json};

use common::http::Resp;
use common::server::Taxiid;
use common::taxii2::*;

const FIXTURE_SECRET: &str = "fixture-secret-not-for-production";
const DOMAIN: &str = "http://127.0.0.1:9000";

const DEFAULT_ROOT: &str = "d89aa44a-1c6c-49f6-8214-8cdc897425d7";
const SECONDARY_ROOT: &str = "3796d29d-fe2a-4a6a-83ae-171af9c5a0e1";
const PUBLIC_ROOT: &str = "5e4c3ef0-0b6f-4d5e-9c3a-2f7b1d9e8a01";

const INDICATORS: &str = "c7c4d8a2-e544-401a-bff9-ca8bed1662ab";
const PRIVATE_INTEL: &str = "8af002e8-c559-4a5f-943e-19f0b9c30990";
const DROP_BOX: &str = "7ad2653c-e7c0-4c24-8dde-d7afd383fa4e";
const SECONDARY: &str = "4fa18c52-d180-448b-9714-fce6d657f282";

const IDENTITY: &str = "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff";
const INDICATOR: &str = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
const MALWARE: &str = "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b";
const RELATIONSHIP: &str = "relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad";
const CUSTOM: &str = "indicator--a932fcc6-e032-476c-826f-cb970a5a1ade";
const CAMPAIGN: &str = "campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
const THREAT_ACTOR: &str = "threat-actor--56f3f0db-b5d5-431c-ae56-c18f02caf500";

/// (id, username, password) of every fixture account (pbkdf2 and scrypt hashes).
const ACCOUNTS: &[(i64, &str, &str)] = &[
    (1, "test", "test"),
    (2, "admin", "admin"),
    (3, "scrypt-user", "Scrypt-Pass-1"),
    (4, "cli-user", "cli-pass-2"),
    (5, "taxii2-user", "taxii2-pass"),
    (6, "taxii2-user-pbkdf2", "taxii2-pass-2"),
];

struct Fixture {
    srv: Taxiid,
}

impl Fixture {
    /// A fresh database with OpenTAXII's schema and the fixture data, migrated by taxiid, and
    /// a server configured as the fixture's OpenTAXII was.
    fn load() -> Fixture {
        let conninfo = common::opentaxii_fixture_database();
        let config = format!(
            "auth.secret = {FIXTURE_SECRET}\nauth.token_ttl = 3600s\nauth.support_basic_auth = yes\n\
             domain = {DOMAIN}\ntaxii2.title = OpenTAXII fixture TAXII2 server\n\
             taxii2.description = Fixture server for drop-in compatibility tests\n\
             taxii2.contact = fixture@example.com\ntaxii2.public_discovery = yes\n\
             taxii2.max_content_length = 2048000\n\
             # Every fixture account is also tried with a wrong password, all from one address.\n\
             auth.max_failed_logins = 0\n"
        );
        Fixture { srv: Taxiid::start(&conninfo, &config) }
    }

    fn who(&self, user: &str) -> Who {
        let pw = ACCOUNTS.iter().find(|a| a.1 == user).unwrap().2;
        let token = login(self.srv.addr, user, pw);
        Who { addr: self.srv.addr, authorization: Some(format!("Bearer {token}")) }
    }

    fn anon(&self) -> Who {
        Who { addr: self.srv.addr, authorization: None }
    }
}

fn c(root: &str, coll: &str) -> String {
    format!("/taxii2/{root}/collections/{coll}/")
}

fn root_url(id: &str) -> String {
    format!("{DOMAIN}/taxii2/{id}/")
}

#[track_caller]
fn ok(r: Resp) -> Resp {
    assert_t21(&r, 200);
    r
}

#[test]
fn fixture_discovery_roots_by_title_with_default() {
    let f = Fixture::load();
    for who in [f.anon(), f.who("test")] {
        let r = ok(who.get("/taxii2/"));
        assert_eq!(
            r.json(),
            json!({
                "title": "OpenTAXII fixture TAXII2 server",
                "description": "Fixture server for drop-in compatibility tests",
                "contact": "fixture@example.com",
                "default": root_url(DEFAULT_ROOT),
                // Default API root, Public API root, Secondary API root.
                "api_roots": [root_url(DEFAULT_ROOT), root_url(PUBLIC_ROOT), root_url(SECONDARY_ROOT)],
            })
        );
    }
    let r = ok(f.who("admin").get(&format!("/taxii2/{DEFAULT_ROOT}/")));
    assert_eq!(
        r.json(),
        json!({"title": "Default API root", "description": "The default API root of the fixture",
               "versions": [T21], "max_content_length": 2_048_000})
    );
}

#[test]
fn fixture_indicators_paging() {
    let f = Fixture::load();
    let admin = f.who("admin");
    let path = format!("{}objects/", c(DEFAULT_ROOT, "indicators"));
    let p1 = ok(admin.get(&with_query(&path, &[("limit", "2")])));
    assert_eq!(ids(&p1), [IDENTITY, MALWARE]);
    assert_eq!(p1.json()["more"], true);
    assert_eq!(p1.header("x-taxii-date-added-first"), Some("2026-11-22T08:47:20.064383Z"));
    assert_eq!(p1.header("x-taxii-date-added-last"), Some("2026-11-22T08:47:20.078183Z"));
    let n1 = p1.json()["next"].as_str().unwrap().to_string();
    assert!(!n1.is_empty());
    let p2 = ok(admin.get(&with_query(&path, &[("limit", "2"), ("next", &n1)])));
    assert_eq!(ids(&p2), [RELATIONSHIP, INDICATOR]);
    assert_eq!(p2.json()["more"], true);
    assert_eq!(p2.json()["objects"][1]["name"], "Malicious IP v2");
    assert_eq!(p2.json()["objects"][1]["spec_version"], "2.1");
    let n2 = p2.json()["next"].as_str().unwrap().to_string();
    let p3 = ok(admin.get(&with_query(&path, &[("limit", "2"), ("next", &n2)])));
    assert_eq!(ids(&p3), [CUSTOM]);
    assert_eq!(p3.json()["more"], false);
    assert!(p3.json().get("next").is_none());
    // The same through the collection id.
    let by_id =
        ok(admin.get(&with_query(&format!("{}objects/", c(DEFAULT_ROOT, INDICATORS)), &[("limit", "2")])));
    assert_eq!(ids(&by_id), [IDENTITY, MALWARE]);
}

#[test]
fn fixture_versions_and_manifest() {
    let f = Fixture::load();
    let admin = f.who("admin");
    let base = c(DEFAULT_ROOT, "indicators");
    let r = ok(admin.get(&format!("{base}objects/{INDICATOR}/versions/")));
    assert_eq!(
        r.json(),
        json!({"more": false, "versions": ["2023-01-02T00:00:00.000000Z", "2023-06-01T12:30:45.123000Z"]})
    );
    let r = ok(admin.get(&with_query(&format!("{base}manifest/"), &[("match[version]", "all")])));
    let recs = r.json()["objects"].as_array().unwrap().clone();
    assert_eq!(recs.len(), 6);
    assert_eq!(
        recs[1],
        json!({"id": INDICATOR, "date_added": "2026-11-22T08:47:20.076052Z",
               "version": "2023-01-02T00:00:00.000000Z", "media_type": STIX21})
    );
    assert_eq!(
        list_field(&r.json(), "objects", "date_added"),
        [
            "2026-11-22T08:47:20.064383Z",
            "2026-11-22T08:47:20.076052Z",
            "2026-11-22T08:47:20.078183Z",
            "2026-11-22T08:47:20.084900Z",
            "2026-11-22T08:47:21.441802Z",
            "2026-11-22T08:47:21.444934Z",
        ]
    );
    // Default: the last version only.
    let r = ok(admin.get(&format!("{base}manifest/")));
    assert_eq!(ids(&r), [IDENTITY, MALWARE, RELATIONSHIP, INDICATOR, CUSTOM]);
    let r = ok(admin.get(&format!("{base}objects/{INDICATOR}/")));
    assert_eq!(r.json()["objects"][0]["name"], "Malicious IP v2");
}

#[test]
fn fixture_anonymous_access() {
    let f = Fixture::load();
    let anon = f.anon();
    // A public collection in a non-public root.
    let r = ok(anon.get(&format!("{}objects/", c(DEFAULT_ROOT, "indicators"))));
    assert_eq!(ids(&r), [IDENTITY, MALWARE, RELATIONSHIP, INDICATOR, CUSTOM]);
    let r = anon.get(&format!("/taxii2/{DEFAULT_ROOT}/"));
    assert_error(&r, 401);
    assert_error(&anon.get(&format!("/taxii2/{DEFAULT_ROOT}/collections/")), 401);
    assert_error(&anon.get(&format!("{}objects/", c(DEFAULT_ROOT, "private-intel"))), 401);
    // The public root.
    let r = ok(anon.get(&format!("/taxii2/{PUBLIC_ROOT}/collections/")));
    assert_eq!(list_field(&r.json(), "collections", "alias"), ["public-root-col"]);
}

#[test]
fn fixture_every_account_logs_in() {
    let f = Fixture::load();
    let addr = f.srv.addr;
    for (id, user, pw) in ACCOUNTS {
        let token = login(addr, user, pw);
        let parts: Vec<&str> = token.split('.').collect();
        let payload: Value = serde_json::from_slice(&b64url_decode(parts[1]).unwrap()).unwrap();
        assert_eq!(payload["account_id"], *id, "{user}");
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, FIXTURE_SECRET.as_bytes());
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(
            ring::hmac::verify(&key, signed.as_bytes(), &b64url_decode(parts[2]).unwrap()).is_ok(),
            "{user}"
        );
        ok(Req::get(&format!("/taxii2/{DEFAULT_ROOT}/")).bearer(&token).send(addr));
        ok(Req::get(&format!("/taxii2/{DEFAULT_ROOT}/")).basic(user, pw).send(addr));
        let r = Req::new("POST", "/management/auth")
            .without("Accept")
            .header("Content-Type", "application/json")
            .body(json!({"username": user, "password": format!("{pw}x")}).to_string())
            .send(addr);
        assert_eq!(r.status, 401, "{user} with a wrong password");
        assert_error(&Req::get("/taxii2/").basic(user, &format!("{pw}x")).send(addr), 401);
    }
}

#[test]
fn fixture_taxii2_permissions() {
    let f = Fixture::load();
    let env = |n: u64| envelope(&[sdo("indicator", n, "2024-01-01T00:00:00.000Z")]);
    for user in ["taxii2-user", "taxii2-user-pbkdf2"] {
        let who = f.who(user);
        // Private intel: read and write.
        let r = ok(who.get(&format!("{}objects/", c(DEFAULT_ROOT, "private-intel"))));
        assert_eq!(ids(&r)[0], CAMPAIGN);
        let n = if user == "taxii2-user" { 1 } else { 2 };
        let r = who.post(&format!("{}objects/", c(DEFAULT_ROOT, PRIVATE_INTEL)), &env(n));
        assert_t21(&r, 202);
        assert_eq!(r.json()["success_count"], 1);
        // Secondary collection: read only.
        let r = ok(who.get(&format!("{}objects/", c(SECONDARY_ROOT, "secondary"))));
        assert_eq!(ids(&r), [THREAT_ACTOR]);
        assert_eq!(r.json()["objects"][0]["modified"], "2024-04-01T00:00:00.000Z");
        assert_error(&who.post(&format!("{}objects/", c(SECONDARY_ROOT, SECONDARY)), &env(3)), 403);
        let col = ok(who.get(&c(SECONDARY_ROOT, SECONDARY))).json();
        assert_eq!((col["can_read"].clone(), col["can_write"].clone()), (json!(true), json!(false)));
        // The default root's collections as this account sees them, by title.
        let r = ok(who.get(&format!("/taxii2/{DEFAULT_ROOT}/collections/")));
        let seen: Vec<(String, bool, bool)> = r.json()["collections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (c["title"].as_str().unwrap().to_string(), c["can_read"] == true, c["can_write"] == true)
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("Drop box".to_string(), true, true),
                ("Indicators".to_string(), true, false),
                ("Private intel".to_string(), true, true),
            ]
        );
    }
    // Only TAXII 1 permissions: Private intel does not exist for `test` (nor for cli-user).
    for user in ["test", "cli-user"] {
        let who = f.who(user);
        assert_error(&who.get(&format!("{}objects/", c(DEFAULT_ROOT, "private-intel"))), 404);
        assert_error(&who.get(&c(DEFAULT_ROOT, PRIVATE_INTEL)), 404);
        assert_error(&who.post(&format!("{}objects/", c(DEFAULT_ROOT, "private-intel")), &env(4)), 404);
        let r = ok(who.get(&format!("/taxii2/{DEFAULT_ROOT}/collections/")));
        assert_eq!(list_field(&r.json(), "collections", "title"), ["Drop box", "Indicators"]);
    }
}

#[test]
fn fixture_statuses() {
    let f = Fixture::load();
    let admin = f.who("admin");
    let status = |root: &str, id: &str| format!("/taxii2/{root}/status/{id}/");
    let r = ok(admin.get(&status(DEFAULT_ROOT, "4baa4b18-f2e7-4132-ac7f-46a0ab9b1e75")));
    let v = |day: &str| format!("{day}T00:00:00.000000Z");
    assert_eq!(
        r.json(),
        json!({
            "id": "4baa4b18-f2e7-4132-ac7f-46a0ab9b1e75",
            "status": "complete",
            "request_timestamp": "2026-11-22T08:47:20.056022Z",
            "total_count": 4,
            "success_count": 4,
            "failure_count": 0,
            "pending_count": 0,
            "successes": [
                {"id": IDENTITY, "version": v("2023-01-01")},
                {"id": INDICATOR, "version": v("2023-01-02")},
                {"id": MALWARE, "version": v("2023-01-03")},
                {"id": RELATIONSHIP, "version": v("2023-01-04")},
            ],
        })
    );
    let r = ok(admin.get(&status(DEFAULT_ROOT, "a5f02ac5-916e-4535-ba3c-5f2298cb9f77")));
    assert_eq!(r.json()["successes"][0], json!({"id": INDICATOR, "version": "2023-06-01T12:30:45.123000Z"}));
    // The jobs OpenTAXII left pending.
    for (id, at) in [
        ("bc7b9556-a033-4a07-b2d5-f0ec69d10e5d", "2026-11-22T08:47:25.072049Z"),
        ("680258aa-c21c-4481-a459-73cb63b4b00b", "2026-11-22T08:47:25.190694Z"),
    ] {
        let r = ok(admin.get(&status(DEFAULT_ROOT, id)));
        assert_eq!(
            r.json(),
            json!({"id": id, "status": "pending", "request_timestamp": at, "total_count": 0,
                   "success_count": 0, "failure_count": 0, "pending_count": 0})
        );
    }
    // Jobs belong to their root; OpenTAXII's jobs have no recorded creator, so every account
    // that may access the root reads them; anonymous callers need a public root.
    assert_error(&admin.get(&status(DEFAULT_ROOT, "56337bcf-660e-4e2d-8879-e3491cc99a98")), 404);
    let r = ok(admin.get(&status(SECONDARY_ROOT, "56337bcf-660e-4e2d-8879-e3491cc99a98")));
    assert_eq!(r.json()["successes"][0]["id"], THREAT_ACTOR);
    ok(f.who("test").get(&status(DEFAULT_ROOT, "4baa4b18-f2e7-4132-ac7f-46a0ab9b1e75")));
    assert_error(&f.anon().get(&status(DEFAULT_ROOT, "4baa4b18-f2e7-4132-ac7f-46a0ab9b1e75")), 401);
}

#[test]
fn fixture_custom_property_object_in_stored_order() {
    let f = Fixture::load();
    let r = ok(f.who("admin").get(&format!("{}objects/{CUSTOM}/", c(DEFAULT_ROOT, "indicators"))));
    let expected = format!(
        r#"{{"id":"{CUSTOM}","type":"indicator","spec_version":"2.1","created":"2023-02-01T00:00:00.000Z","modified":"2023-02-01T00:00:00.000Z","name":"Malicious domain","indicator_types":["malicious-activity"],"pattern":"[domain-name:value = 'evil.example.com']","pattern_type":"stix","valid_from":"2023-02-01T00:00:00Z","x_fixture_custom":{{"score":80}}}}"#
    );
    assert_eq!(raw_list(&r.body, "objects"), [expected]);
}

#[test]
fn fixture_drop_box_accepts_anonymous_post() {
    let f = Fixture::load();
    let anon = f.anon();
    let path = format!("{}objects/", c(DEFAULT_ROOT, DROP_BOX));
    let note = json!({"type": "note", "spec_version": "2.1", "id": "note--3f1c6bb5-7f8e-4d0e-9c1d-2a3b4c5d6e7f",
                      "created": "2024-05-01T00:00:00.000Z", "modified": "2024-05-01T00:00:00.000Z",
                      "content": "dropped anonymously", "object_refs": [IDENTITY]});
    let r = anon.post(&path, &envelope(std::slice::from_ref(&note)));
    assert_t21(&r, 202);
    let st = r.json();
    assert_eq!((st["success_count"].clone(), st["failure_count"].clone()), (json!(1), json!(0)));
    let r = ok(anon.get(&path));
    assert_eq!(
        ids(&r),
        [
            "note--0c7b5b88-8ff7-4a4d-aa9c-feb398cd0061",
            "note--9b1a2f0e-3c4d-4e5f-8a6b-7c8d9e0f1a2b",
            note["id"].as_str().unwrap()
        ]
    );
    assert_eq!(r.json()["objects"][2], note);
    // The status: the root is not public, so anonymous callers cannot read it; accounts can.
    let sp = format!("/taxii2/{DEFAULT_ROOT}/status/{}/", st["id"].as_str().unwrap());
    assert_error(&anon.get(&sp), 401);
    assert_eq!(ok(f.who("admin").get(&sp)).json(), st);
}
