//! TAXII 2.1 cross-cutting rules (checklist §1–§6 and its decisions): routing and
//! methods, media types and negotiation, authentication and hiding, status ownership, error
//! objects, and the discovery / API root / collections / collection resources.

mod common;

use serde_json::{Value, json};

use common::http::Resp;
use common::taxii2::*;

/// A well-formed id of no collection or status anywhere.
const MISSING: &str = "c0000000-0000-4000-8000-0000000000ff";

/// The `Allow` header as a sorted list of methods.
fn allow(r: &Resp) -> Vec<String> {
    let mut m: Vec<String> =
        r.header("allow").unwrap_or_default().split(',').map(|s| s.trim().to_string()).collect();
    m.retain(|s| !s.is_empty());
    m.sort();
    m
}

/// A collection resource as `admin`-independent JSON.
fn coll_json(
    id: &str,
    title: &str,
    desc: Option<&str>,
    alias: Option<&str>,
    read: bool,
    write: bool,
) -> Value {
    let mut v = json!({
        "id": id,
        "title": title,
        "can_read": read,
        "can_write": write,
        "media_types": [STIX21],
    });
    if let Some(d) = desc {
        v["description"] = json!(d);
    }
    if let Some(a) = alias {
        v["alias"] = json!(a);
    }
    v
}

fn collections_of(r: &Resp) -> Vec<Value> {
    r.json()["collections"].as_array().cloned().unwrap_or_default()
}

#[test]
fn t21_03_trailing_slash_optional() {
    let w = World::new();
    let admin = w.as_user("admin");
    let id = sid("indicator", 1);
    let st = w.add("admin", PUBLIC, &[sdo("indicator", 1, "2021-01-01T00:00:00.000Z")]);
    let status_id = st["id"].as_str().unwrap().to_string();
    let paths = [
        "/taxii2/".to_string(),
        root_path(ROOT),
        format!("{}collections/", root_path(ROOT)),
        coll(PUBLIC),
        objects(PUBLIC),
        manifest(PUBLIC),
        object(PUBLIC, &id),
        versions(PUBLIC, &id),
        status_path(ROOT, &status_id),
    ];
    for p in &paths {
        let with = admin.get(p);
        assert_t21(&with, 200);
        let bare = p.trim_end_matches('/');
        let without = admin.get(bare);
        assert_t21(&without, 200);
        assert_eq!(with.json(), without.json(), "{p} and {bare} differ");
        let q = admin.get(&format!("{bare}?limit=1"));
        assert_t21(&q, 200);
    }
    // POST and DELETE without the slash (taxii2-client builds some URLs without one).
    let r = admin.post(
        objects(PUBLIC).trim_end_matches('/'),
        &envelope(&[sdo("indicator", 2, "2021-01-01T00:00:00.000Z")]),
    );
    assert_t21(&r, 202);
    assert_eq!(r.json()["success_count"], 1);
    let r = admin.delete(object(PUBLIC, &sid("indicator", 2)).trim_end_matches('/'));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(admin.get(&object(PUBLIC, &sid("indicator", 2))).status, 404);
}

#[test]
fn t21_04_methods_405_with_allow() {
    let w = World::new();
    let admin = w.as_user("admin");
    let id = sid("indicator", 1);
    w.add("admin", PUBLIC, &[sdo("indicator", 1, "2021-01-01T00:00:00.000Z")]);
    let st = format!("/taxii2/{ROOT}/status/{MISSING}/");
    let get = &["GET", "HEAD"][..];
    let cases: Vec<(&str, String, &[&str])> = vec![
        ("PUT", "/taxii2/".into(), get),
        ("POST", "/taxii2/".into(), get),
        ("OPTIONS", "/taxii2/".into(), get),
        ("DELETE", root_path(ROOT), get),
        ("POST", st, get),
        ("PUT", format!("{}collections/", root_path(ROOT)), get),
        ("DELETE", coll(PUBLIC), get),
        ("POST", manifest(PUBLIC), get),
        ("PUT", objects(PUBLIC), &["GET", "HEAD", "POST"]),
        ("DELETE", objects(PUBLIC), &["GET", "HEAD", "POST"]),
        ("PATCH", object(PUBLIC, &id), &["DELETE", "GET", "HEAD"]),
        ("POST", object(PUBLIC, &id), &["DELETE", "GET", "HEAD"]),
        ("DELETE", versions(PUBLIC, &id), get),
    ];
    for (method, path, allowed) in cases {
        let r = admin.req(method, &path).send(w.addr());
        assert_error(&r, 405);
        assert_eq!(allow(&r), allowed, "{method} {path}");
        // Without the trailing slash too.
        let r = admin.req(method, path.trim_end_matches('/')).send(w.addr());
        assert_error(&r, 405);
        assert_eq!(allow(&r), allowed, "{method} {path} (no slash)");
    }
    // HEAD is allowed wherever GET is: same status and headers, no body.
    for p in ["/taxii2/".to_string(), root_path(ROOT), objects(PUBLIC), object(PUBLIC, &id)] {
        let g = admin.get(&p);
        let h = admin.req("HEAD", &p).send(w.addr());
        assert_eq!(h.status, 200, "HEAD {p}");
        assert_eq!(h.header("content-type"), Some(T21), "HEAD {p}");
        assert_eq!(h.header("content-length"), Some(g.body.len().to_string().as_str()), "HEAD {p}");
        assert_eq!(h.header("x-taxii-date-added-first"), g.header("x-taxii-date-added-first"), "HEAD {p}");
    }
}

#[test]
fn t21_09_content_type_on_every_response() {
    let w = World::with("taxii2.max_content_length = 1000\n");
    let admin = w.as_user("admin");
    let id = sid("indicator", 1);
    let st = w.add("admin", PUBLIC, &[sdo("indicator", 1, "2021-01-01T00:00:00.000Z")]);
    let status_id = st["id"].as_str().unwrap().to_string();
    let addr = w.addr();
    // Successes.
    for p in [
        "/taxii2/".to_string(),
        root_path(ROOT),
        format!("{}collections/", root_path(ROOT)),
        coll(PUBLIC),
        objects(PUBLIC),
        manifest(PUBLIC),
        object(PUBLIC, &id),
        versions(PUBLIC, &id),
        status_path(ROOT, &status_id),
        format!("{}?added_after=2999-01-01T00:00:00Z", objects(PUBLIC)),
        format!("{}collections/", root_path(ROOT3)),
    ] {
        assert_t21(&admin.get(&p), 200);
    }
    let r = admin.post(&objects(PUBLIC), &envelope(&[sdo("indicator", 2, "2021-01-01T00:00:00.000Z")]));
    assert_t21(&r, 202);
    let r = admin.delete(&object(PUBLIC, &sid("indicator", 2)));
    assert_t21(&r, 200);
    assert!(r.body.is_empty(), "DELETE answers an empty body: {}", r.text());
    // Errors, each a TAXII error object with the TAXII media type.
    let big = format!("{{\"objects\": [], \"pad\": \"{}\"}}", "x".repeat(1000));
    let errors: Vec<(u16, Resp)> = vec![
        (400, admin.get(&format!("{}?limit=0", objects(PUBLIC)))),
        (401, w.anon().get(&root_path(ROOT))),
        (401, Req::get("/taxii2/").bearer("not-a-token").send(addr)),
        (
            403,
            w.as_user("reader")
                .post(&objects(PRIVATE), &envelope(&[sdo("indicator", 3, "2021-01-01T00:00:00.000Z")])),
        ),
        (404, admin.get(&coll(MISSING))),
        (404, admin.get(&root_path(MISSING))),
        (404, admin.get(&format!("{}nothing/here/", root_path(ROOT)))),
        (404, admin.get("/taxii2/a/b/c/d/e/f/g/h/")),
        (404, admin.get(&object(PUBLIC, &sid("indicator", 99)))),
        (405, admin.req("PUT", &objects(PUBLIC)).send(addr)),
        (406, admin.req("GET", &objects(PUBLIC)).accept("application/json").send(addr)),
        (413, admin.post(&objects(PUBLIC), &big)),
        (415, admin.req("POST", &objects(PUBLIC)).content_type("application/json").body("{}").send(addr)),
        (422, admin.post(&objects(PUBLIC), "{not json")),
    ];
    for (status, r) in &errors {
        assert_error(r, *status);
    }
    // A server error (the objects table has gone away).
    w.db().execute("ALTER TABLE opentaxii_stixobject RENAME TO gone", &[]).unwrap();
    let r = admin.get(&objects(PUBLIC));
    assert_error(&r, 500);
    // A request target too long for the server (stix2 puts many ids into match[id]).
    let many: Vec<String> = (0..200).map(|n| sid("indicator", n)).collect();
    let long = with_query(&objects(PUBLIC), &[("match[id]", &many.join(","))]);
    assert!(long.len() > 8 * 1024 && long.len() < 15 * 1024);
    assert_error(&admin.get(&long), 414);
}

#[test]
fn t21_10_accept_negotiation() {
    let w = World::new();
    let admin = w.as_user("admin");
    let addr = w.addr();
    let p = objects(PUBLIC);
    w.add("admin", PUBLIC, &[sdo("indicator", 1, "2021-01-01T00:00:00.000Z")]);
    let acceptable = [
        T21,
        "application/taxii+json",
        "application/taxii+json; version=2.1",
        "application/taxii+json ; version=2.1",
        "APPLICATION/TAXII+JSON;VERSION=2.1",
        "application/taxii+json;version=2.1;charset=utf-8",
        "application/json;q=0.5, application/taxii+json;version=2.1;q=1",
        "text/html,application/taxii+json;version=2.1",
        "application/json, text/plain, */*",
        "*/*",
        "application/*",
        "application/taxii+json;version=2.0, application/taxii+json;version=2.1",
    ];
    for a in acceptable {
        let r = admin.req("GET", &p).accept(a).send(addr);
        assert_t21(&r, 200);
        assert_eq!(ids(&r), [sid("indicator", 1)], "Accept: {a}");
        let r = admin.req("GET", "/taxii2/").accept(a).send(addr);
        assert_t21(&r, 200);
    }
    // No Accept at all: answered in TAXII 2.1.
    let r = admin.req("GET", &p).without("Accept").send(addr);
    assert_t21(&r, 200);
    let unacceptable = [
        "application/json",
        "application/taxii+json;version=2.0",
        "application/vnd.oasis.taxii+json; version=2.0",
        "text/html",
        "application/stix+json;version=2.1",
        "application/xml, text/plain",
    ];
    for a in unacceptable {
        let r = admin.req("GET", &p).accept(a).send(addr);
        assert_error(&r, 406);
        let r = admin.req("GET", "/taxii2/").accept(a).send(addr);
        assert_error(&r, 406);
        let r = admin
            .req("POST", &p)
            .accept(a)
            .content_type(T21)
            .body(envelope(&[sdo("tool", 1, "2021-01-01T00:00:00.000Z")]))
            .send(addr);
        assert_error(&r, 406);
    }
    // Check order: failed authentication (401) before 406, 406 before 404.
    let r = Req::get(&root_path(ROOT)).basic("admin", "wrong").accept("application/json").send(addr);
    assert_error(&r, 401);
    let r = Req::get(&objects(PUBLIC)).bearer("garbage").accept("text/html").send(addr);
    assert_error(&r, 401);
    let r = admin.req("GET", &root_path(MISSING)).accept("application/json").send(addr);
    assert_error(&r, 406);
    let r = admin.req("GET", &coll(MISSING)).accept("text/html").send(addr);
    assert_error(&r, 406);
    // Several Accept field lines form one list (RFC 9110 §5.3).
    let r = admin.req("GET", &p).accept("application/json").add_header("Accept", T21).send(addr);
    assert_t21(&r, 200);
}

#[test]
fn t21_11_post_content_type_415() {
    let w = World::with("taxii2.max_content_length = 2000\n");
    let admin = w.as_user("admin");
    let addr = w.addr();
    let p = objects(PUBLIC);
    let good = [
        T21,
        "application/taxii+json",
        "application/taxii+json;version=2.1; charset=utf-8",
        "application/taxii+json; charset=UTF-8",
        "Application/TAXII+JSON; Version=2.1",
    ];
    for (i, ct) in good.iter().enumerate() {
        let body = envelope(&[sdo("indicator", i as u64 + 1, "2021-01-01T00:00:00.000Z")]);
        let r = admin.req("POST", &p).content_type(ct).body(body).send(addr);
        assert_t21(&r, 202);
        assert_eq!(r.json()["success_count"], 1, "Content-Type: {ct}");
    }
    let body = envelope(&[sdo("malware", 1, "2021-01-01T00:00:00.000Z")]);
    let bad = [
        "application/json",
        "application/stix+json;version=2.1",
        "application/taxii+json;version=2.0",
        "application/taxii+json;version=2.1;charset=latin-1",
        "text/plain",
        "application/x-www-form-urlencoded",
    ];
    for ct in bad {
        let r = admin.req("POST", &p).content_type(ct).body(body.clone()).send(addr);
        assert_error(&r, 415);
    }
    let r = admin.req("POST", &p).without("Content-Type").body(body.clone()).send(addr);
    assert_error(&r, 415);
    // Nothing of the refused requests was stored.
    assert_empty_result(&admin.get(&with_query(&p, &[("match[type]", "malware")])));
    // Check order: 403 before 415; 415 before 413 and 422.
    let r = w
        .as_user("reader")
        .req("POST", &objects(PRIVATE))
        .content_type("application/json")
        .body(body)
        .send(addr);
    assert_error(&r, 403);
    let huge = " ".repeat(3000);
    let r = admin.req("POST", &p).content_type("application/json").body(huge).send(addr);
    assert_error(&r, 415);
    let r = admin.req("POST", &p).content_type("application/json").body("{not json").send(addr);
    assert_error(&r, 415);
}

#[test]
fn t21_14_401_with_www_authenticate() {
    let w = World::new();
    let addr = w.addr();
    let challenges =
        |r: &Resp| header_all(r, "www-authenticate").iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let expected = vec!["Bearer realm=\"taxiid\"".to_string(), "Basic realm=\"taxiid\"".to_string()];
    let anon = w.anon();
    // Anonymous requests where anonymous access is not allowed, including to things that do
    // not exist (no existence leak).
    for p in [
        root_path(ROOT),
        format!("{}collections/", root_path(ROOT)),
        status_path(ROOT, MISSING),
        root_path(MISSING),
        format!("{}collections/", root_path(MISSING)),
        coll(PRIVATE),
        objects(PRIVATE),
        manifest(PRIVATE),
        object(PRIVATE, &sid("indicator", 1)),
        versions(PRIVATE, &sid("indicator", 1)),
        coll(MISSING),
        objects(MISSING),
        objects(WRITEONLY),
        coll_in(ROOT2, MISSING),
        root_path(ROOT3),
    ] {
        let r = anon.get(&p);
        assert_error(&r, 401);
        assert_eq!(challenges(&r), expected, "GET {p}");
    }
    let env = envelope(&[sdo("indicator", 1, "2021-01-01T00:00:00.000Z")]);
    for p in [objects(PUBLIC), objects(PRIVATE), objects(MISSING)] {
        let r = anon.post(&p, &env);
        assert_error(&r, 401);
        assert_eq!(challenges(&r), expected, "POST {p}");
    }
    for p in [object(PUBLIC, &sid("indicator", 1)), object(PRIVATE, &sid("indicator", 1))] {
        assert_error(&anon.delete(&p), 401);
    }
    // Anonymous where it is allowed.
    assert_t21(&anon.get("/taxii2/"), 200);
    assert_t21(&anon.get(&root_path(ROOT2)), 200);
    assert_t21(&anon.get(&objects(PUBLIC)), 200);
    assert_t21(&anon.get(&coll(DROPBOX)), 200);
    assert_t21(&anon.post(&objects(DROPBOX), &env), 202);
    // Wrong credentials are 401 even where anonymous access would be allowed.
    let bad: Vec<Req> = vec![
        Req::get("/taxii2/").bearer("garbage"),
        Req::get("/taxii2/").basic("reader", "wrong"),
        Req::get("/taxii2/").basic("no-such-user", "x"),
        Req::get(&objects(PUBLIC)).bearer("a.b.c"),
        Req::get(&objects(PUBLIC)).header("Authorization", "Token abc"),
        Req::get(&objects(PUBLIC)).header("Authorization", "Basic !!!not-base64!!!"),
        Req::get(&root_path(ROOT2)).basic("admin", "reader-pw"),
    ];
    for req in bad {
        let r = req.send(addr);
        assert_error(&r, 401);
        assert_eq!(challenges(&r), expected, "{:?}", req.headers);
    }
}

#[test]
fn t21_18_delete_permission_table() {
    let w = World::new();
    let x = sid("indicator", 1);
    for c in [PUBLIC, PRIVATE, WRITEONLY, DROPBOX] {
        w.add("admin", c, &[sdo("indicator", 1, "2021-01-01T00:00:00.000Z")]);
    }
    // Refusals first (the object stays), then the permitted delete.
    let cases: &[(&str, &str, u16)] = &[
        ("reader", PRIVATE, 403),   // read only
        ("writer", PRIVATE, 404),   // neither
        ("nobody", PRIVATE, 404),   // neither
        ("editor", PRIVATE, 200),   // both
        ("writer", WRITEONLY, 403), // write only
        ("reader", WRITEONLY, 404),
        ("editor", WRITEONLY, 404),
        ("admin", WRITEONLY, 200),
        ("nobody", PUBLIC, 403), // public read, no write
        ("reader", PUBLIC, 403),
        ("admin", PUBLIC, 200),
        ("nobody", DROPBOX, 200), // public read and write
    ];
    for (user, c, status) in cases {
        let r = w.as_user(user).delete(&object(c, &x));
        if *status == 200 {
            assert_t21(&r, 200);
            assert!(r.body.is_empty());
            assert_error(&w.as_user("admin").get(&object(c, &x)), 404);
        } else {
            assert_error(&r, *status);
            assert_t21(&w.as_user("admin").get(&object(c, &x)), 200);
        }
    }
    // The permission decides before the object's existence does.
    assert_error(&w.as_user("reader").delete(&object(PRIVATE, &sid("malware", 9))), 403);
    assert_error(&w.as_user("nobody").delete(&object(PRIVATE, &sid("malware", 9))), 404);
    // Anonymous: 401 wherever anonymous may not delete.
    for c in [PUBLIC, PRIVATE, WRITEONLY] {
        assert_error(&w.anon().delete(&object(c, &x)), 401);
    }
}

#[test]
fn t21_19_invisible_collection_is_404_everywhere() {
    let w = World::new();
    let x = sid("indicator", 1);
    w.add("admin", PRIVATE, &[sdo("indicator", 1, "2021-01-01T00:00:00.000Z")]);
    let env = envelope(&[sdo("indicator", 2, "2021-01-01T00:00:00.000Z")]);
    for user in ["nobody", "writer"] {
        let who = w.as_user(user);
        for key in [PRIVATE, "private"] {
            let c = coll(key);
            let gets = [
                c.clone(),
                format!("{c}manifest/"),
                format!("{c}objects/"),
                format!("{c}objects/{x}/"),
                format!("{c}objects/{x}/versions/"),
                format!("{c}objects/?limit=0"),
            ];
            for p in &gets {
                let r = who.get(p);
                assert_error(&r, 404);
                // Indistinguishable from a collection that does not exist.
                let missing = who.get(&p.replace(key, MISSING));
                assert_error(&missing, 404);
                assert_eq!(r.json(), missing.json(), "{user} GET {p}");
            }
            assert_error(&who.post(&format!("{c}objects/"), &env), 404);
            let r = who
                .req("POST", &format!("{c}objects/"))
                .content_type("application/json")
                .body(env.clone())
                .send(w.addr());
            assert_error(&r, 404);
            assert_error(&who.delete(&format!("{c}objects/{x}/")), 404);
        }
        let list = who.get(&format!("{}collections/", root_path(ROOT)));
        assert_t21(&list, 200);
        assert!(!list_field(&list.json(), "collections", "id").contains(&PRIVATE.to_string()), "{user}");
    }
    // Nothing changed.
    let r = w.as_user("admin").get(&with_query(&objects(PRIVATE), &[("match[version]", "all")]));
    assert_eq!(ids(&r), [x.as_str()]);
    // Visible but lacking the right: 403, not 404.
    assert_error(&w.as_user("writer").get(&objects(WRITEONLY)), 403);
    assert_error(&w.as_user("writer").get(&manifest(WRITEONLY)), 403);
    assert_error(&w.as_user("reader").post(&objects(PRIVATE), &env), 403);
    assert_error(&w.as_user("reader").get(&objects(WRITEONLY)), 404);
}

#[test]
fn t21_21_status_visible_to_creator_and_admin_only() {
    let w = World::new();
    let st = w.add("editor", PRIVATE, &[sdo("indicator", 1, "2021-01-01T00:00:00.000Z")]);
    let id = st["id"].as_str().unwrap().to_string();
    let p = status_path(ROOT, &id);
    for user in ["editor", "admin"] {
        let r = w.as_user(user).get(&p);
        assert_t21(&r, 200);
        assert_eq!(r.json(), st, "{user}");
    }
    for user in ["reader", "writer", "nobody"] {
        let r = w.as_user(user).get(&p);
        assert_error(&r, 404);
        // Same answer as for a status that does not exist.
        assert_eq!(r.json(), w.as_user(user).get(&status_path(ROOT, MISSING)).json(), "{user}");
    }
    assert_error(&w.anon().get(&p), 401);
    // A status of one root is not found under another.
    assert_error(&w.as_user("editor").get(&status_path(ROOT2, &id)), 404);
    // Anonymous statuses: readable by everyone who may access the API root.
    let r = w.anon().post(
        &format!("{}objects/", coll_in(ROOT2, OPEN)),
        &envelope(&[sdo("note", 1, "2021-01-01T00:00:00.000Z")]),
    );
    assert_t21(&r, 202);
    let anon_status = r.json();
    let ap = status_path(ROOT2, anon_status["id"].as_str().unwrap());
    for who in [w.anon(), w.as_user("nobody"), w.as_user("reader"), w.as_user("admin")] {
        let r = who.get(&ap);
        assert_t21(&r, 200);
        assert_eq!(r.json(), anon_status);
    }
    // A status of `nobody` (drop box) is nobody's and the admins'.
    let st = w.add("nobody", DROPBOX, &[sdo("note", 2, "2021-01-01T00:00:00.000Z")]);
    let np = status_path(ROOT, st["id"].as_str().unwrap());
    assert_t21(&w.as_user("nobody").get(&np), 200);
    assert_t21(&w.as_user("admin").get(&np), 200);
    assert_error(&w.as_user("reader").get(&np), 404);
}

#[test]
fn t21_24_error_object_shape() {
    let w = World::with("taxii2.max_content_length = 1000\n");
    let admin = w.as_user("admin");
    let addr = w.addr();
    let p = objects(PUBLIC);
    let checks: Vec<(u16, Resp)> = vec![
        (400, admin.get(&format!("{p}?limit=abc"))),
        (400, admin.get(&format!("{p}?added_after=yesterday"))),
        (400, admin.get(&format!("{p}?next=garbage"))),
        (400, admin.get(&format!("{p}?match%5Bversion%5D=all,last"))),
        (401, w.anon().get(&root_path(ROOT))),
        (403, w.as_user("writer").get(&objects(WRITEONLY))),
        (404, admin.get(&coll(MISSING))),
        (404, admin.get(&status_path(ROOT, MISSING))),
        (404, admin.get(&root_path("not-a-uuid"))),
        (404, admin.get(&coll("no-such-alias"))),
        (405, admin.req("PUT", "/taxii2/").send(addr)),
        (406, admin.req("GET", "/taxii2/").accept("application/taxii+json;version=2.0").send(addr)),
        (413, admin.post(&p, &" ".repeat(1001))),
        (415, admin.req("POST", &p).content_type("application/json").body("{}").send(addr)),
        (422, admin.post(&p, &sdo("indicator", 1, "2021-01-01T00:00:00.000Z").to_string())),
        (422, admin.post(&p, "")),
    ];
    for (status, r) in &checks {
        assert_error(r, *status);
        let body = r.json();
        assert!(body["http_status"].is_string(), "http_status is a string: {}", r.text());
        assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
    }
}

#[test]
fn d_1_d_4_discovery() {
    let w = World::new();
    let expected = json!({
        "title": TITLE,
        "description": DESCRIPTION,
        "contact": CONTACT,
        "default": root_path(ROOT),
        // Ordered by title: "Another API root", "Main API root", "Zulu empty root".
        "api_roots": [root_path(ROOT2), root_path(ROOT), root_path(ROOT3)],
    });
    for who in [w.anon(), w.as_user("nobody"), w.as_user("admin")] {
        let r = who.get("/taxii2/");
        assert_t21(&r, 200);
        assert_eq!(r.json(), expected);
        assert_eq!(r.header("x-taxii-date-added-first"), None);
    }
    // `default` is one of the listed roots, character for character.
    let body = w.anon().get("/taxii2/").json();
    assert!(body["api_roots"].as_array().unwrap().contains(&body["default"]));

    // A configured public base URL makes the entries absolute (its trailing slash dropped).
    let w = World::with("domain = https://taxii.example.test/\ntaxii2.description =\ntaxii2.contact =\n");
    let r = w.anon().get("/taxii2/");
    assert_t21(&r, 200);
    let abs = |id: &str| format!("https://taxii.example.test/taxii2/{id}/");
    assert_eq!(
        r.json(),
        json!({"title": TITLE, "default": abs(ROOT), "api_roots": [abs(ROOT2), abs(ROOT), abs(ROOT3)]})
    );

    // Without public discovery, anonymous callers are challenged; accounts are served.
    let w = World::with("taxii2.public_discovery = no\n");
    let r = w.anon().get("/taxii2/");
    assert_error(&r, 401);
    assert!(!header_all(&r, "www-authenticate").is_empty());
    let r = w.as_user("nobody").get("/taxii2/");
    assert_t21(&r, 200);
    assert_eq!(r.json(), expected);
    let r = Req::get("/taxii2/").basic("nobody", &password_of("nobody")).send(w.addr());
    assert_t21(&r, 200);

    // Two roots flagged default (OpenTAXII enforces one only in code): discovery and the
    // `default` alias agree on the first by title.
    let w = World::new();
    w.db()
        .execute("UPDATE opentaxii_api_root SET \"default\" = true WHERE id = $1::text::uuid", &[&ROOT3])
        .unwrap();
    assert_eq!(w.anon().get("/taxii2/").json()["default"], root_path(ROOT));
    assert_eq!(w.as_user("nobody").get("/taxii2/default/").json()["title"], "Main API root");

    // No API roots at all: no `api_roots` (no empty list) and no `default`.
    let conninfo = common::fresh_database();
    let srv = common::server::Taxiid::start(&conninfo, &world_config());
    let r = Req::get("/taxii2/").send(srv.addr);
    assert_t21(&r, 200);
    assert_eq!(r.json(), json!({"title": TITLE, "description": DESCRIPTION, "contact": CONTACT}));
}

#[test]
fn r_1_r_2_api_root() {
    let w = World::new();
    let main = json!({
        "title": "Main API root",
        "description": "The default root",
        "versions": [T21],
        "max_content_length": 209_715_200,
    });
    for user in ["admin", "nobody"] {
        let r = w.as_user(user).get(&root_path(ROOT));
        assert_t21(&r, 200);
        assert_eq!(r.json(), main, "{user}");
        // `default` names the default root.
        let r = w.as_user(user).get("/taxii2/default/");
        assert_t21(&r, 200);
        assert_eq!(r.json(), main, "{user} via default");
    }
    let other = json!({"title": "Another API root", "versions": [T21], "max_content_length": 209_715_200});
    assert_eq!(w.anon().get(&root_path(ROOT2)).json(), other);
    // Any account sees every root; anonymous only public ones.
    let r = w.as_user("nobody").get(&root_path(ROOT3));
    assert_t21(&r, 200);
    assert_eq!(r.json()["title"], "Zulu empty root");
    assert_error(&w.anon().get("/taxii2/default/"), 401);
    // Unknown roots (also non-UUIDs) are 404.
    for p in [root_path(MISSING), root_path("nope"), root_path("24042009"), "/taxii2/DEFAULT/".to_string()] {
        assert_error(&w.as_user("admin").get(&p), 404);
    }
    // `default` works below the root as well.
    let a = w.as_user("admin").get(&format!("{}collections/", root_path(ROOT)));
    let b = w.as_user("admin").get("/taxii2/default/collections/");
    assert_t21(&b, 200);
    assert_eq!(a.json(), b.json());
    w.add("admin", PUBLIC, &[sdo("indicator", 1, "2021-01-01T00:00:00.000Z")]);
    let r = w.as_user("admin").get("/taxii2/default/collections/public/objects/");
    assert_t21(&r, 200);
    assert_eq!(ids(&r), [sid("indicator", 1)]);

    // max_content_length is the limit actually enforced: the smaller of the two settings.
    let w = World::with("taxii2.max_content_length = 1000\n");
    assert_eq!(w.as_user("admin").get(&root_path(ROOT)).json()["max_content_length"], 1000);
    let w = World::with("taxii2.max_content_length = 1000\nhttp.max_body_bytes = 600\n");
    assert_eq!(w.as_user("admin").get(&root_path(ROOT)).json()["max_content_length"], 600);
}

#[test]
fn cs_1_cs_5_collections() {
    let w = World::new();
    let list = format!("{}collections/", root_path(ROOT));
    let public = |r, wr| coll_json(PUBLIC, "Alpha public", Some("Public read"), Some("public"), r, wr);
    let private = |r, wr| coll_json(PRIVATE, "Bravo private", Some("Private"), Some("private"), r, wr);
    let writeonly = |r, wr| coll_json(WRITEONLY, "Charlie write-only", None, None, r, wr);
    let dropbox =
        |r, wr| coll_json(DROPBOX, "Delta drop box", Some("Anyone reads and writes"), Some("dropbox"), r, wr);
    let expected: Vec<(&str, Vec<Value>)> = vec![
        ("admin", vec![public(true, true), private(true, true), writeonly(true, true), dropbox(true, true)]),
        ("reader", vec![public(true, false), private(true, false), dropbox(true, true)]),
        ("writer", vec![public(true, false), writeonly(false, true), dropbox(true, true)]),
        ("editor", vec![public(true, false), private(true, true), dropbox(true, true)]),
        ("nobody", vec![public(true, false), dropbox(true, true)]),
    ];
    for (user, colls) in expected {
        let r = w.as_user(user).get(&list);
        assert_t21(&r, 200);
        let body = r.json();
        assert_eq!(body.as_object().unwrap().keys().collect::<Vec<_>>(), ["collections"]);
        assert_eq!(collections_of(&r), colls, "{user}");
        // Stable across requests, byte for byte.
        assert_eq!(w.as_user(user).get(&list).body, r.body, "{user}");
        // Each entry is what the collection endpoint says.
        for c in &colls {
            let one = w.as_user(user).get(&coll(c["id"].as_str().unwrap()));
            assert_t21(&one, 200);
            assert_eq!(&one.json(), c, "{user}");
        }
    }
    // Anonymous: root must be public.
    assert_error(&w.anon().get(&list), 401);
    let r = w.anon().get(&format!("{}collections/", root_path(ROOT2)));
    assert_t21(&r, 200);
    assert_eq!(collections_of(&r), [coll_json(OPEN, "Open collection", None, Some("open"), true, true)]);
    // No collections: exactly {}.
    let r = w.as_user("admin").get(&format!("{}collections/", root_path(ROOT3)));
    assert_t21(&r, 200);
    assert_eq!(r.text(), "{}");
    // Unknown root.
    assert_error(&w.as_user("admin").get(&format!("{}collections/", root_path(MISSING))), 404);
    // A collection that holds STIX 2.0 lists that media type too.
    w.add("admin", DROPBOX, &[sdo20("malware", 1, "2016-01-01T00:00:00.000Z")]);
    let r = w.as_user("nobody").get(&list);
    let d = collections_of(&r).into_iter().find(|c| c["id"] == DROPBOX).unwrap();
    assert_eq!(d["media_types"], json!([STIX20, STIX21]));
    let p = collections_of(&r).into_iter().find(|c| c["id"] == PUBLIC).unwrap();
    assert_eq!(p["media_types"], json!([STIX21]));
}

#[test]
fn cl_1_cl_3_collection_and_alias() {
    let w = World::new();
    let admin = w.as_user("admin");
    // By id and by alias: the same resource.
    for (id, alias) in [(PUBLIC, "public"), (PRIVATE, "private"), (DROPBOX, "dropbox")] {
        let a = admin.get(&coll(id));
        let b = admin.get(&coll(alias));
        assert_t21(&a, 200);
        assert_t21(&b, 200);
        assert_eq!(a.json(), b.json(), "{alias}");
        assert_eq!(a.json()["id"], id);
        assert_eq!(a.json()["alias"], alias);
    }
    assert_eq!(
        w.as_user("writer").get(&coll(WRITEONLY)).json(),
        coll_json(WRITEONLY, "Charlie write-only", None, None, false, true)
    );
    assert_eq!(
        w.as_user("reader").get(&coll("private")).json(),
        coll_json(PRIVATE, "Bravo private", Some("Private"), Some("private"), true, false)
    );
    // Aliases are resolved on every collection route.
    let o = sdo("indicator", 1, "2021-01-01T00:00:00.000Z");
    let r = admin.post(&objects("public"), &envelope(std::slice::from_ref(&o)));
    assert_t21(&r, 202);
    for p in [objects(PUBLIC), objects("public")] {
        assert_eq!(ids(&admin.get(&p)), [o["id"].as_str().unwrap()]);
    }
    assert_t21(&admin.get(&object("public", &sid("indicator", 1))), 200);
    assert_t21(&admin.get(&versions("public", &sid("indicator", 1))), 200);
    assert_t21(&admin.get(&manifest("public")), 200);
    // An alias belongs to its root.
    assert_error(&admin.get(&coll("open")), 404);
    assert_t21(&admin.get(&coll_in(ROOT2, "open")), 200);
    assert_error(&admin.get(&coll_in(ROOT2, PUBLIC)), 404);
    // Unknown collections.
    for key in [MISSING, "nope", "24042009"] {
        assert_error(&admin.get(&coll(key)), 404);
        assert_error(&admin.get(&objects(key)), 404);
    }
    // Anonymous: public collections only (also under a non-public root).
    assert_t21(&w.anon().get(&coll("public")), 200);
    assert_eq!(
        w.anon().get(&coll(PUBLIC)).json(),
        coll_json(PUBLIC, "Alpha public", Some("Public read"), Some("public"), true, false)
    );
    assert_error(&w.anon().get(&coll("private")), 401);
}
