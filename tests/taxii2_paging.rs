//! TAXII 2.1 paging and presentation (checklist §1H–§1K): `limit` clamping, `more` and
//! `next`, refused cursors, paging without `limit` and by `added_after`, the
//! `X-TAXII-Date-Added-*` headers, ordering by date_added, envelopes and empty results.

mod common;

use serde_json::Value;

use common::http::Resp;
use common::taxii2::*;

/// `versions` of a versions page.
fn vlist(r: &Resp) -> Vec<String> {
    r.json()
        .get("versions")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// A `YYYY-MM-DD` STIX timestamp (`…T00:00:00.000Z`) and its TAXII form (`….000000Z`).
fn ts(day: &str) -> String {
    format!("{day}T00:00:00.000Z")
}
fn v6(day: &str) -> String {
    format!("{day}T00:00:00.000000Z")
}

/// GET `path` with `params` as `who`; asserts 200 with the TAXII media type.
#[track_caller]
fn ok(who: &Who, path: &str, params: &[(&str, &str)]) -> Resp {
    let r = who.get(&with_query(path, params));
    assert_t21(&r, 200);
    r
}

/// Every item of `list` over all pages of a walk.
fn walk_items(who: &Who, path: &str, params: &[(&str, &str)], list: &str) -> Vec<Value> {
    who.walk(path, params)
        .iter()
        .flat_map(|p| p.get(list).and_then(Value::as_array).cloned().unwrap_or_default())
        .collect()
}

/// Stores `objs` with the given date_added values straight into PUBLIC (version = modified).
fn seed(w: &World, rows: &[(Value, &str)]) {
    let mut db = w.db();
    for (o, added) in rows {
        let version = o["modified"].as_str().unwrap().to_string();
        let spec = o.get("spec_version").and_then(Value::as_str).unwrap_or("2.0").to_string();
        insert_stix_row(&mut db, PUBLIC, o, &spec, &version, added);
    }
}

#[test]
fn t21_44_limit_clamped_to_server_max() {
    let w = World::new(); // max_page_size = 5
    let admin = w.as_user("admin");
    let objs: Vec<Value> = (1..=7).map(|n| sdo("indicator", n, &ts("2020-01-01"))).collect();
    w.add("admin", PUBLIC, &objs);
    for (limit, n, more) in [
        (None, 5, true),
        (Some("100"), 5, true),
        (Some("7"), 5, true),
        (Some("5"), 5, true),
        (Some("3"), 3, true),
        (Some("1"), 1, true),
    ] {
        for p in [objects(PUBLIC), manifest(PUBLIC)] {
            let q: Vec<(&str, &str)> = limit.map(|l| vec![("limit", l)]).unwrap_or_default();
            let r = ok(&admin, &p, &q);
            assert_eq!(ids(&r).len(), n, "limit {limit:?} on {p}");
            assert_eq!(r.json()["more"], more, "limit {limit:?} on {p}");
        }
    }
    let w = World::with("taxii2.max_page_size = 1000\n");
    let admin = w.as_user("admin");
    w.add("admin", PUBLIC, &objs);
    let r = ok(&admin, &objects(PUBLIC), &[("limit", "100")]);
    assert_eq!(ids(&r).len(), 7);
    assert_eq!(r.json()["more"], false);
    assert!(r.json().get("next").is_none());
    let r = ok(&admin, &objects(PUBLIC), &[("limit", "6")]);
    assert_eq!(ids(&r).len(), 6);
    assert_eq!(r.json()["more"], true);
    // A valid positive integer of any size is clamped too.
    let r = ok(&admin, &objects(PUBLIC), &[("limit", "99999999999999999999")]);
    assert_eq!(ids(&r).len(), 7);
    assert_eq!(r.json()["more"], false);
}

#[test]
fn t21_45_46_more_implies_next() {
    let w = World::new();
    let admin = w.as_user("admin");
    let objs: Vec<Value> = (1..=6).map(|n| sdo("indicator", n, &ts("2020-01-01"))).collect();
    w.add("admin", PUBLIC, &objs);
    let all: Vec<String> = (1..=6).map(|n| sid("indicator", n)).collect();
    // Pages of exactly 2: the third and last says more: false (no empty fourth page).
    for p in [objects(PUBLIC), manifest(PUBLIC)] {
        let pages = admin.walk(&p, &[("limit", "2")]);
        let sizes: Vec<usize> = pages.iter().map(|b| b["objects"].as_array().unwrap().len()).collect();
        assert_eq!(sizes, [2, 2, 2], "{p}");
        let got: Vec<String> = walk_items(&admin, &p, &[("limit", "2")], "objects")
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, all, "{p}");
        let pages = admin.walk(&p, &[("limit", "4")]);
        let sizes: Vec<usize> = pages.iter().map(|b| b["objects"].as_array().unwrap().len()).collect();
        assert_eq!(sizes, [4, 2], "{p}");
    }
    // Versions and the object endpoint page over versions.
    for d in 1..=7 {
        w.add("admin", DROPBOX, &[sdo("malware", 1, &format!("2020-01-0{d}T00:00:00.000Z"))]);
    }
    let m = sid("malware", 1);
    let pages = admin.walk(&versions(DROPBOX, &m), &[("limit", "3")]);
    let sizes: Vec<usize> = pages.iter().map(|b| b["versions"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, [3, 3, 1]);
    let vs: Vec<String> = walk_items(&admin, &versions(DROPBOX, &m), &[("limit", "3")], "versions")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(vs, (1..=7).map(|d| v6(&format!("2020-01-0{d}"))).collect::<Vec<_>>());
    let items =
        walk_items(&admin, &object(DROPBOX, &m), &[("limit", "2"), ("match[version]", "all")], "objects");
    assert_eq!(items.len(), 7);
    assert_eq!(items[6]["modified"], "2020-01-07T00:00:00.000Z");
    // Default page size (5) without limit.
    let pages = admin.walk(&versions(DROPBOX, &m), &[]);
    assert_eq!(pages.len(), 2);
}

#[test]
fn t21_48_forged_or_foreign_next_is_400() {
    let w = World::new();
    let admin = w.as_user("admin");
    for n in 1..=3 {
        w.add(
            "admin",
            PUBLIC,
            &[sdo("indicator", n, &ts("2020-01-01")), sdo("malware", n, &ts("2020-01-01"))],
        );
        w.add(
            "admin",
            DROPBOX,
            &[sdo("indicator", n, &ts("2020-01-01")), sdo("malware", n, &ts("2020-01-01"))],
        );
    }
    let page1 = ok(&admin, &objects(PUBLIC), &[("limit", "2")]).json();
    let next = page1["next"].as_str().unwrap().to_string();
    // The genuine continuation.
    let r = ok(&admin, &objects(PUBLIC), &[("limit", "2"), ("next", &next)]);
    assert_eq!(ids(&r), [sid("indicator", 2), sid("malware", 2)]);
    let r = ok(&admin, &objects(PUBLIC), &[("limit", "3"), ("next", &next)]);
    assert_eq!(ids(&r).len(), 3);
    // Another collection, endpoint or set of filters.
    // The alias names the same collection.
    let r = ok(&admin, &objects("public"), &[("limit", "2"), ("next", &next)]);
    assert_eq!(ids(&r), [sid("indicator", 2), sid("malware", 2)]);
    let m3 = sid("malware", 3);
    let i1 = sid("indicator", 1);
    let bad: Vec<(String, Vec<(&str, &str)>)> = vec![
        (objects(DROPBOX), vec![("limit", "2"), ("next", &next)]),
        (manifest(PUBLIC), vec![("limit", "2"), ("next", &next)]),
        (objects(PUBLIC), vec![("match[type]", "indicator"), ("next", &next)]),
        (objects(PUBLIC), vec![("match[id]", &m3), ("next", &next)]),
        (objects(PUBLIC), vec![("added_after", "2000-01-01T00:00:00Z"), ("next", &next)]),
        (objects(PUBLIC), vec![("match[version]", "all"), ("next", &next)]),
        (objects(PUBLIC), vec![("match[spec_version]", "2.1"), ("next", &next)]),
        (object(PUBLIC, &i1), vec![("next", &next)]),
    ];
    for (p, q) in &bad {
        assert_error(&admin.get(&with_query(p, q)), 400);
    }
    // Tampered or invented tokens.
    let mut flipped = next.clone().into_bytes();
    let mid = flipped.len() / 2;
    flipped[mid] = if flipped[mid] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let opentaxii_style =
        b64_std(format!("2099-01-01T00:00:00.000000+00:00|{}", sid("indicator", 1)).as_bytes());
    for t in [
        flipped,
        next[..next.len() - 2].to_string(),
        format!("{next}x"),
        format!("x{next}"),
        opentaxii_style,
        "garbage".into(),
        "a.b".into(),
    ] {
        assert_error(&admin.get(&with_query(&objects(PUBLIC), &[("limit", "2"), ("next", &t)])), 400);
    }
    // Cursors are signed with auth.secret: another instance with the same secret honours
    // them, one with another secret refuses them.
    let same = common::server::Taxiid::start(&w.conninfo, &world_config());
    let other = common::server::Taxiid::start(
        &w.conninfo,
        &format!("{}auth.secret = another-secret-entirely\n", world_config()),
    );
    let path = with_query(&objects(PUBLIC), &[("limit", "2"), ("next", &next)]);
    let r = Req::get(&path).basic("admin", &password_of("admin")).send(same.addr);
    assert_t21(&r, 200);
    assert_eq!(ids(&r), [sid("indicator", 2), sid("malware", 2)]);
    let r = Req::get(&path).basic("admin", &password_of("admin")).send(other.addr);
    assert_error(&r, 400);
    // A cursor of one object's versions is not one of another object's.
    for d in ["2020-01-02", "2020-01-03"] {
        w.add("admin", PUBLIC, &[sdo("indicator", 1, &ts(d)), sdo("indicator", 2, &ts(d))]);
    }
    let q = [("limit", "1"), ("match[version]", "all")];
    let vnext =
        ok(&admin, &object(PUBLIC, &sid("indicator", 1)), &q).json()["next"].as_str().unwrap().to_string();
    let with_next = [("limit", "1"), ("match[version]", "all"), ("next", vnext.as_str())];
    assert_t21(&admin.get(&with_query(&object(PUBLIC, &sid("indicator", 1)), &with_next)), 200);
    assert_error(&admin.get(&with_query(&object(PUBLIC, &sid("indicator", 2)), &with_next)), 400);
    assert_error(&admin.get(&with_query(&versions(PUBLIC, &sid("indicator", 1)), &with_next)), 400);
}

#[test]
fn t21_49_next_without_limit_and_changing_limit() {
    let w = World::new(); // max_page_size = 5
    let admin = w.as_user("admin");
    let objs: Vec<Value> = (1..=12).map(|n| sdo("indicator", n, &ts("2020-01-01"))).collect();
    w.add("admin", PUBLIC, &objs);
    let mut seen = Vec::new();
    let p1 = ok(&admin, &objects(PUBLIC), &[]);
    assert_eq!(ids(&p1).len(), 5);
    seen.extend(ids(&p1));
    let n1 = p1.json()["next"].as_str().unwrap().to_string();
    let p2 = ok(&admin, &objects(PUBLIC), &[("next", &n1)]);
    assert_eq!(ids(&p2).len(), 5);
    seen.extend(ids(&p2));
    let n2 = p2.json()["next"].as_str().unwrap().to_string();
    let p3 = ok(&admin, &objects(PUBLIC), &[("limit", "1"), ("next", &n2)]);
    assert_eq!(ids(&p3).len(), 1);
    assert_eq!(p3.json()["more"], true);
    seen.extend(ids(&p3));
    let n3 = p3.json()["next"].as_str().unwrap().to_string();
    let p4 = ok(&admin, &objects(PUBLIC), &[("limit", "3"), ("next", &n3)]);
    assert_eq!(ids(&p4).len(), 1);
    assert_eq!(p4.json()["more"], false);
    assert!(p4.json().get("next").is_none());
    seen.extend(ids(&p4));
    assert_eq!(seen, (1..=12).map(|n| sid("indicator", n)).collect::<Vec<_>>());
    // Re-using a cursor gives the same page again.
    assert_eq!(ids(&ok(&admin, &objects(PUBLIC), &[("next", &n1)])), ids(&p2));
}

#[test]
fn t21_51_added_after_fallback_paging_is_lossless() {
    let w = World::new();
    let admin = w.as_user("admin");
    // One POST: all of these were added "at once".
    let objs: Vec<Value> = (1..=9).map(|n| sdo("indicator", n, &ts("2020-01-01"))).collect();
    w.add("admin", PUBLIC, &objs);
    w.add("admin", PUBLIC, &(10..=12).map(|n| sdo("indicator", n, &ts("2020-01-01"))).collect::<Vec<_>>());
    let all: Vec<String> = (1..=12).map(|n| sid("indicator", n)).collect();
    for p in [objects(PUBLIC), manifest(PUBLIC)] {
        let mut seen: Vec<String> = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..20 {
            let mut q = vec![("limit", "2")];
            if let Some(a) = &after {
                q.push(("added_after", a));
            }
            let r = ok(&admin, &p, &q);
            seen.extend(ids(&r));
            let more = r.json()["more"] == true;
            after = Some(r.header("x-taxii-date-added-last").unwrap().to_string());
            if !more {
                break;
            }
        }
        assert_eq!(seen, all, "{p}");
        assert_empty_result(&ok(&admin, &p, &[("added_after", after.as_deref().unwrap())]));
    }
}

#[test]
fn t21_55_58_date_added_headers() {
    let w = World::with("taxii2.max_page_size = 1000\n");
    let admin = w.as_user("admin");
    let st =
        w.add("admin", PUBLIC, &(1..=7).map(|n| sdo("indicator", n, &ts("2020-01-01"))).collect::<Vec<_>>());
    w.add("admin", PUBLIC, &[sdo("indicator", 1, &ts("2020-02-01"))]);
    let recs = walk_items(&admin, &manifest(PUBLIC), &[("match[version]", "all")], "objects");
    let added: Vec<String> = recs.iter().map(|r| r["date_added"].as_str().unwrap().to_string()).collect();
    assert_eq!(added.len(), 8);
    let hdr = |r: &Resp| {
        (
            r.header("x-taxii-date-added-first").map(str::to_string),
            r.header("x-taxii-date-added-last").map(str::to_string),
        )
    };
    // Page-level values, not collection-wide ones.
    let q = [("limit", "3"), ("match[version]", "all")];
    let p1 = ok(&admin, &objects(PUBLIC), &q);
    assert_eq!(hdr(&p1), (Some(added[0].clone()), Some(added[2].clone())));
    let next = p1.json()["next"].as_str().unwrap().to_string();
    let p2 = ok(&admin, &objects(PUBLIC), &[("limit", "3"), ("match[version]", "all"), ("next", &next)]);
    assert_eq!(hdr(&p2), (Some(added[3].clone()), Some(added[5].clone())));
    let m1 = ok(&admin, &manifest(PUBLIC), &q);
    assert_eq!(hdr(&m1), hdr(&p1));
    // Default (last versions): indicator 1's record is the last one added.
    let r = ok(&admin, &manifest(PUBLIC), &[]);
    assert_eq!(hdr(&r), (Some(added[1].clone()), Some(added[7].clone())));
    // Object and versions endpoints: from their own records.
    let r = ok(&admin, &object(PUBLIC, &sid("indicator", 1)), &[("match[version]", "all")]);
    assert_eq!(hdr(&r), (Some(added[0].clone()), Some(added[7].clone())));
    let r = ok(&admin, &object(PUBLIC, &sid("indicator", 3)), &[]);
    assert_eq!(hdr(&r), (Some(added[2].clone()), Some(added[2].clone())));
    let r = ok(&admin, &versions(PUBLIC, &sid("indicator", 1)), &[]);
    assert_eq!(hdr(&r), (Some(added[0].clone()), Some(added[7].clone())));
    for (first, last) in [hdr(&p1), hdr(&p2)] {
        assert!(is_taxii_timestamp(&first.unwrap()) && is_taxii_timestamp(&last.unwrap()));
    }
    // Empty results and other endpoints carry none.
    let future = [("added_after", "2999-01-01T00:00:00Z")];
    for p in [
        objects(PUBLIC),
        manifest(PUBLIC),
        object(PUBLIC, &sid("indicator", 1)),
        versions(PUBLIC, &sid("indicator", 1)),
    ] {
        assert_empty_result(&ok(&admin, &p, &future));
    }
    for p in [
        "/taxii2/".to_string(),
        root_path(ROOT),
        format!("{}collections/", root_path(ROOT)),
        coll(PUBLIC),
        status_path(ROOT, st["id"].as_str().unwrap()),
    ] {
        assert_eq!(hdr(&ok(&admin, &p, &[])), (None, None), "{p}");
    }
    let r = admin.post(&objects(PUBLIC), &envelope(&[sdo("tool", 1, &ts("2020-01-01"))]));
    assert_t21(&r, 202);
    assert_eq!(hdr(&r), (None, None));
}

#[test]
fn t21_61_ascending_date_added() {
    let w = World::with("taxii2.max_page_size = 1000\n");
    let admin = w.as_user("admin");
    // Stored out of order, with a three-way tie on date_added.
    seed(
        &w,
        &[
            (sdo("indicator", 5, &ts("2019-01-01")), "2020-01-03T00:00:00Z"),
            (sdo("tool", 3, &ts("2019-01-01")), "2020-01-02T00:00:00Z"),
            (sdo("indicator", 1, &ts("2019-01-01")), "2020-01-01T00:00:00Z"),
            (sdo("malware", 2, &ts("2019-01-01")), "2020-01-02T00:00:00Z"),
            (sdo("attack-pattern", 4, &ts("2019-01-01")), "2020-01-02T00:00:00Z"),
            // Versions of one object added in an order unlike their version order.
            (sdo("campaign", 6, &ts("2019-06-01")), "2020-01-04T00:00:00Z"),
            (sdo("campaign", 6, &ts("2019-03-01")), "2020-01-05T00:00:00Z"),
        ],
    );
    let want = [
        sid("indicator", 1),
        sid("attack-pattern", 4),
        sid("malware", 2),
        sid("tool", 3),
        sid("indicator", 5),
        sid("campaign", 6),
    ];
    let r = ok(&admin, &objects(PUBLIC), &[]);
    // The default (last) version of campaign 6 is 2019-06-01, added on 01-04.
    assert_eq!(ids(&r), want[..6]);
    let got: Vec<String> =
        walk_items(&admin, &manifest(PUBLIC), &[("limit", "2"), ("match[version]", "all")], "objects")
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect();
    let mut all = want.to_vec();
    all.push(sid("campaign", 6));
    assert_eq!(got, all);
    let m = ok(&admin, &manifest(PUBLIC), &[("match[version]", "all")]);
    let added = list_field(&m.json(), "objects", "date_added");
    let mut sorted = added.clone();
    sorted.sort();
    assert_eq!(added, sorted);
    assert_eq!(
        vlist(&ok(&admin, &versions(PUBLIC, &sid("campaign", 6)), &[])),
        [v6("2019-06-01"), v6("2019-03-01")]
    );
}

#[test]
fn t21_65_66_envelope_and_empty_results() {
    let w = World::new();
    let admin = w.as_user("admin");
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    // Empty collection: exactly {} everywhere.
    assert_empty_result(&ok(&admin, &objects(PUBLIC), &[]));
    assert_empty_result(&ok(&admin, &manifest(PUBLIC), &[]));
    assert_empty_result(&ok(&admin, &objects(PUBLIC), &[("limit", "1")]));
    w.add("admin", PUBLIC, &(1..=6).map(|n| sdo("indicator", n, &ts("2020-01-01"))).collect::<Vec<_>>());
    let r = ok(&admin, &objects(PUBLIC), &[("limit", "100"), ("match[type]", "indicator")]);
    assert_eq!(keys(&r.json()), ["more", "next", "objects"]);
    let r = ok(&admin, &objects(PUBLIC), &[("match[id]", &sid("indicator", 1))]);
    assert_eq!(keys(&r.json()), ["more", "objects"]);
    assert_eq!(r.json()["more"], false);
    assert_eq!(r.json()["objects"][0]["type"], "indicator");
    let r = ok(&admin, &manifest(PUBLIC), &[("match[id]", &sid("indicator", 1))]);
    assert_eq!(keys(&r.json()), ["more", "objects"]);
    let r = ok(&admin, &versions(PUBLIC, &sid("indicator", 1)), &[]);
    assert_eq!(keys(&r.json()), ["more", "versions"]);
    assert_eq!(r.json()["more"], false);
    let r = ok(&admin, &object(PUBLIC, &sid("indicator", 1)), &[]);
    assert_eq!(keys(&r.json()), ["more", "objects"]);
    // Filters that match nothing: {} (not 404, not an empty list).
    assert_empty_result(&ok(&admin, &objects(PUBLIC), &[("match[type]", "malware")]));
    assert_empty_result(&ok(
        &admin,
        &object(PUBLIC, &sid("indicator", 1)),
        &[("match[spec_version]", "2.0")],
    ));
    assert_empty_result(&ok(
        &admin,
        &versions(PUBLIC, &sid("indicator", 1)),
        &[("added_after", "2999-01-01T00:00:00Z")],
    ));
    // Status lists are omitted when empty.
    let st = w.add("admin", PUBLIC, &[sdo("tool", 1, &ts("2020-01-01"))]);
    assert!(st.get("failures").is_none() && st.get("pendings").is_none(), "{st}");
    let r = admin.post(&objects(PUBLIC), r#"{"objects": [{"type": "indicator"}]}"#);
    assert_t21(&r, 202);
    let st = r.json();
    assert!(st.get("successes").is_none() && st.get("pendings").is_none(), "{st}");
    assert_eq!(st["failures"].as_array().unwrap().len(), 1);
    // Range (TAXII 2.0 paging) is ignored.
    let r = admin.req("GET", &objects(PUBLIC)).header("Range", "items 0-1").send(w.addr());
    assert_t21(&r, 200);
    assert_eq!(r.header("content-range"), None);
    assert_eq!(ids(&r).len(), 5);
}

#[test]
fn t21_47_52_cursors_are_url_safe_and_a_page_emptied_meanwhile_is_empty() {
    let w = World::new();
    let admin = w.as_user("admin");
    let objs: Vec<Value> = (1..=4).map(|n| sdo("indicator", n, &ts("2020-01-01"))).collect();
    w.add("admin", PUBLIC, &objs);
    let first = ok(&admin, &objects(PUBLIC), &[("limit", "2")]);
    let body = first.json();
    assert_eq!(body["more"], true);
    let next = body["next"].as_str().unwrap().to_string();
    // 47: clients URL-encode `next` or not; it holds only RFC 3986 unreserved characters, so
    // nothing in it changes either way.
    assert!(
        !next.is_empty() && next.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)),
        "{next}"
    );
    // 52: the rest deleted before the client asks: the next page is an empty envelope.
    for n in 3..=4 {
        assert_eq!(admin.delete(&object(PUBLIC, &sid("indicator", n))).status, 200);
    }
    let r = ok(&admin, &objects(PUBLIC), &[("limit", "2"), ("next", &next)]);
    assert_eq!(r.json(), serde_json::json!({}), "{}", r.text());
    assert!(r.header("x-taxii-date-added-first").is_none());
}
