//! TAXII 2.1 reading (checklist §1E–§1G, §7, §9, §11, §12): timestamps, `added_after`,
//! `match[…]` filters and their defaults, and the object, versions and manifest endpoints.
//! Paging, date headers, ordering and envelopes are in `taxii2_paging.rs`.

mod common;

use serde_json::{Value, json};

use common::http::Resp;
use common::taxii2::*;

/// `objects[].version` of a manifest page.
fn mversions(r: &Resp) -> Vec<String> {
    list_field(&r.json(), "objects", "version")
}

/// `objects[].modified` of an envelope.
fn modified(r: &Resp) -> Vec<String> {
    list_field(&r.json(), "objects", "modified")
}

/// `versions` of a versions page.
fn vlist(r: &Resp) -> Vec<String> {
    r.json()
        .get("versions")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// A STIX 2.1 SCO without `spec_version`, `created` or `modified`.
fn sco(n: u64) -> Value {
    json!({"type": "ipv4-addr", "id": sid("ipv4-addr", n), "value": format!("10.0.0.{n}")})
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
fn t21_26_timestamps_have_six_digits() {
    let w = World::new();
    let admin = w.as_user("admin");
    let objs = [
        sdo("indicator", 1, "2020-01-01T00:00:00Z"),
        sdo("malware", 1, "2020-01-02T03:04:05.123Z"),
        sdo("tool", 1, "2020-01-03T00:00:00.123456Z"),
        sco(1),
    ];
    let st = w.add("admin", PUBLIC, &objs);
    assert!(is_taxii_timestamp(st["request_timestamp"].as_str().unwrap()), "{st}");
    let expected = [
        (sid("indicator", 1), "2020-01-01T00:00:00.000000Z"),
        (sid("malware", 1), "2020-01-02T03:04:05.123000Z"),
        (sid("tool", 1), "2020-01-03T00:00:00.123456Z"),
    ];
    let successes = st["successes"].as_array().unwrap();
    assert_eq!(successes.len(), 4);
    for s in successes {
        let v = s["version"].as_str().unwrap();
        assert!(is_taxii_timestamp(v), "{s}");
        if let Some((_, want)) = expected.iter().find(|(id, _)| s["id"] == id.as_str()) {
            assert_eq!(v, *want);
        }
    }
    let m = ok(&admin, &manifest(PUBLIC), &[]);
    for rec in m.json()["objects"].as_array().unwrap() {
        assert!(is_taxii_timestamp(rec["date_added"].as_str().unwrap()), "{rec}");
        assert!(is_taxii_timestamp(rec["version"].as_str().unwrap()), "{rec}");
        if let Some((_, want)) = expected.iter().find(|(id, _)| rec["id"] == id.as_str()) {
            assert_eq!(rec["version"], *want);
        }
    }
    for r in [&m, &ok(&admin, &objects(PUBLIC), &[]), &ok(&admin, &versions(PUBLIC, &sid("malware", 1)), &[])]
    {
        assert!(is_taxii_timestamp(r.header("x-taxii-date-added-first").unwrap()));
        assert!(is_taxii_timestamp(r.header("x-taxii-date-added-last").unwrap()));
    }
    let r = ok(&admin, &versions(PUBLIC, &sid("malware", 1)), &[]);
    assert_eq!(vlist(&r), ["2020-01-02T03:04:05.123000Z"]);
    // The object itself keeps the client's own precision.
    let r = ok(&admin, &object(PUBLIC, &sid("indicator", 1)), &[]);
    assert_eq!(modified(&r), ["2020-01-01T00:00:00Z"]);
}

/// Rows at …58.999999, …59.000000, …59.001000 and the next day.
fn added_after_world() -> World {
    let w = World::new();
    seed(
        &w,
        &[
            (sdo("indicator", 1, &ts("2016-01-01")), "2016-11-03T12:30:58.999999Z"),
            (sdo("indicator", 2, &ts("2016-01-01")), "2016-11-03T12:30:59.000000Z"),
            (sdo("indicator", 3, &ts("2016-01-01")), "2016-11-03T12:30:59.001000Z"),
            (sdo("indicator", 4, &ts("2016-01-01")), "2016-11-04T00:00:00.000000Z"),
        ],
    );
    w
}

#[test]
fn t21_27_added_after_lenient_parsing() {
    let w = added_after_world();
    let admin = w.as_user("admin");
    let after_59 = vec![sid("indicator", 3), sid("indicator", 4)];
    for form in [
        "2016-11-03T12:30:59Z",
        "2016-11-03T12:30:59.0Z",
        "2016-11-03T12:30:59.000Z",
        "2016-11-03T12:30:59.000000Z",
        "2016-11-03T12:30:59.000000000Z",
        "2016-11-03T12:30:59+00:00",
        "2016-11-03T13:30:59+01:00",
        "2016-11-03T07:30:59.000-05:00",
        "2016-11-03T12:30:59.0005Z",
        "2016-11-03t12:30:59z",
    ] {
        for p in [objects(PUBLIC), manifest(PUBLIC)] {
            let r = ok(&admin, &p, &[("added_after", form)]);
            assert_eq!(ids(&r), after_59, "added_after={form} on {p}");
        }
    }
    // A `+` sent unencoded arrives as a space and still means +01:00.
    let r = admin.get(&format!("{}?added_after=2016-11-03T13:30:59+01:00", objects(PUBLIC)));
    assert_t21(&r, 200);
    assert_eq!(ids(&r), after_59);
    let r = admin.get(&format!("{}?added_after=2016-11-03T13:30:59.000%2B01:00", objects(PUBLIC)));
    assert_eq!(ids(&r), after_59);
    // Other precisions.
    let r = ok(&admin, &objects(PUBLIC), &[("added_after", "2016-11-03T12:30:58.999999Z")]);
    assert_eq!(ids(&r), [sid("indicator", 2), sid("indicator", 3), sid("indicator", 4)]);
    let r = ok(&admin, &objects(PUBLIC), &[("added_after", "2016-11-03T12:30:59.001Z")]);
    assert_eq!(ids(&r), [sid("indicator", 4)]);
    for early in ["2016-11-03T12:30:58Z", "1969-12-31T23:59:59.999999Z", "0001-01-01T00:00:00Z"] {
        let r = ok(&admin, &objects(PUBLIC), &[("added_after", early)]);
        assert_eq!(ids(&r).len(), 4, "added_after={early}");
    }
}

#[test]
fn t21_28_added_after_compared_as_instants() {
    let w = added_after_world();
    let admin = w.as_user("admin");
    // Byte-wise, "…59.001000Z" < "…59Z"; as instants it is after.
    let r = ok(&admin, &objects(PUBLIC), &[("added_after", "2016-11-03T12:30:59Z")]);
    assert_eq!(ids(&r), [sid("indicator", 3), sid("indicator", 4)]);
    // Offsets are converted, not compared as text.
    let r = ok(&admin, &objects(PUBLIC), &[("added_after", "2016-11-03T23:30:59.0005+11:00")]);
    assert_eq!(ids(&r), [sid("indicator", 3), sid("indicator", 4)]);
    let r = ok(&admin, &objects(PUBLIC), &[("added_after", "2016-11-03T19:00:00-05:00")]);
    assert_empty_result(&r);
    // match[version] values are instants as well.
    let w = World::new();
    let admin = w.as_user("admin");
    w.add("admin", PUBLIC, &[sdo("malware", 1, "2020-01-01T00:00:00.000Z")]);
    w.add("admin", PUBLIC, &[sdo("malware", 1, "2020-01-01T00:00:00.500Z")]);
    for form in [
        "2020-01-01T00:00:00Z",
        "2020-01-01T00:00:00.000000Z",
        "2020-01-01T01:00:00+01:00",
        "2019-12-31T19:00:00.000-05:00",
    ] {
        let r = ok(&admin, &objects(PUBLIC), &[("match[version]", form)]);
        assert_eq!(modified(&r), ["2020-01-01T00:00:00.000Z"], "match[version]={form}");
    }
    let r = ok(&admin, &objects(PUBLIC), &[("match[version]", "2020-01-01T00:00:00.5Z")]);
    assert_eq!(modified(&r), ["2020-01-01T00:00:00.500Z"]);
}

#[test]
fn t21_31_first_last_by_version() {
    let w = World::new();
    let admin = w.as_user("admin");
    // Posted in an order unrelated to the versions.
    for day in ["2021-01-01", "2020-01-01", "2022-01-01", "2019-01-01"] {
        w.add("admin", PUBLIC, &[sdo("indicator", 1, &ts(day))]);
    }
    let m = manifest(PUBLIC);
    assert_eq!(mversions(&ok(&admin, &m, &[])), [v6("2022-01-01")]);
    assert_eq!(mversions(&ok(&admin, &m, &[("match[version]", "last")])), [v6("2022-01-01")]);
    assert_eq!(mversions(&ok(&admin, &m, &[("match[version]", "first")])), [v6("2019-01-01")]);
    // Output order stays by date_added: the 2022 version was added before the 2019 one.
    assert_eq!(
        mversions(&ok(&admin, &m, &[("match[version]", "first,last")])),
        [v6("2022-01-01"), v6("2019-01-01")]
    );
    assert_eq!(
        mversions(&ok(&admin, &m, &[("match[version]", "all")])),
        [v6("2021-01-01"), v6("2020-01-01"), v6("2022-01-01"), v6("2019-01-01")]
    );
    let r = ok(&admin, &object(PUBLIC, &sid("indicator", 1)), &[]);
    assert_eq!(modified(&r), [ts("2022-01-01")]);
    let r = ok(&admin, &object(PUBLIC, &sid("indicator", 1)), &[("match[version]", "first")]);
    assert_eq!(modified(&r), [ts("2019-01-01")]);
}

#[test]
fn t21_35_spec_version_defaults() {
    let w = World::new();
    let admin = w.as_user("admin");
    let x20 = sdo20("malware", 1, &ts("2022-01-01")); // the newer version is STIX 2.0
    let x21 = sdo("malware", 1, &ts("2021-01-01"));
    let y20 = sdo20("tool", 1, &ts("2016-01-01"));
    let z = sco(1);
    w.add("admin", PUBLIC, &[x20.clone(), y20.clone()]);
    w.add("admin", PUBLIC, &[x21.clone(), z.clone()]);
    let (x, y, zid) = (sid("malware", 1), sid("tool", 1), sid("ipv4-addr", 1));
    // Default: per object, its latest spec version; then the latest version of that.
    let r = ok(&admin, &objects(PUBLIC), &[]);
    assert_eq!(ids(&r), [y.clone(), x.clone(), zid.clone()]);
    let objs = r.json()["objects"].as_array().unwrap().clone();
    assert_eq!(objs[1]["modified"], ts("2021-01-01"));
    assert_eq!(objs[1]["spec_version"], "2.1");
    // Posted without spec_version: none added on output.
    assert!(objs[0].get("spec_version").is_none(), "{}", objs[0]);
    assert!(objs[2].get("spec_version").is_none(), "{}", objs[2]);
    let media = |r: &Resp| list_field(&r.json(), "objects", "media_type");
    let r = ok(&admin, &manifest(PUBLIC), &[]);
    assert_eq!(ids(&r), [y.clone(), x.clone(), zid.clone()]);
    assert_eq!(media(&r), [STIX20, STIX21, STIX21]);
    // Explicit spec versions.
    let r = ok(&admin, &objects(PUBLIC), &[("match[spec_version]", "2.0")]);
    assert_eq!(ids(&r), [x.clone(), y.clone()]);
    assert_eq!(modified(&r), [ts("2022-01-01"), ts("2016-01-01")]);
    assert!(r.json()["objects"][0].get("spec_version").is_none());
    let r = ok(&admin, &objects(PUBLIC), &[("match[spec_version]", "2.1")]);
    assert_eq!(ids(&r), [x.clone(), zid.clone()]);
    assert_eq!(r.json()["objects"][0]["modified"], ts("2021-01-01"));
    let r = ok(&admin, &objects(PUBLIC), &[("match[spec_version]", "2.0,2.1")]);
    assert_eq!(ids(&r), [x.clone(), y.clone(), zid.clone()]);
    assert_eq!(r.json()["objects"][0]["modified"], ts("2022-01-01"));
    let r = ok(&admin, &manifest(PUBLIC), &[("match[spec_version]", "2.0,2.1"), ("match[version]", "all")]);
    assert_eq!(ids(&r), [x.clone(), y.clone(), x.clone(), zid.clone()]);
    let r = ok(&admin, &manifest(PUBLIC), &[("match[version]", "all")]);
    assert_eq!(ids(&r), [y.clone(), x.clone(), zid.clone()]);
    // The object and versions endpoints follow the same default.
    let r = ok(&admin, &object(PUBLIC, &x), &[]);
    assert_eq!(modified(&r), [ts("2021-01-01")]);
    assert_eq!(vlist(&ok(&admin, &versions(PUBLIC, &x), &[])), [v6("2021-01-01")]);
    assert_eq!(
        vlist(&ok(&admin, &versions(PUBLIC, &x), &[("match[spec_version]", "2.0")])),
        [v6("2022-01-01")]
    );
    assert_eq!(
        vlist(&ok(&admin, &versions(PUBLIC, &x), &[("match[spec_version]", "2.0,2.1")])),
        [v6("2022-01-01"), v6("2021-01-01")]
    );
}

#[test]
fn t21_36_malformed_parameters_400() {
    let w = World::new();
    let admin = w.as_user("admin");
    let id = sid("indicator", 1);
    w.add("admin", PUBLIC, &[sdo("indicator", 1, &ts("2020-01-01"))]);
    let t1 = "2016-11-03T00:00:00Z";
    let t2 = "2016-11-04T00:00:00Z";
    let common_bad: Vec<Vec<(&str, &str)>> = vec![
        vec![("limit", "0")],
        vec![("limit", "-1")],
        vec![("limit", "-20")],
        vec![("limit", "abc")],
        vec![("limit", "1.5")],
        vec![("limit", "")],
        vec![("added_after", "yesterday")],
        vec![("added_after", "2016-13-03T00:00:00Z")],
        vec![("added_after", "2016-11-03")],
        vec![("added_after", "")],
        vec![("added_after", t1), ("added_after", t2)],
        vec![("added_after", "2016-11-03T00:00:00Z,2016-11-04T00:00:00Z")],
        vec![("match[spec_version]", "2.1"), ("match[spec_version]", "2.0")],
        vec![("next", "garbage")],
        vec![("next", "")],
    ];
    let version_bad: Vec<Vec<(&str, &str)>> = vec![
        vec![("match[version]", "notatime")],
        vec![("match[version]", "all,last")],
        vec![("match[version]", "first,all")],
        vec![("match[version]", "first,first")],
        vec![("match[version]", "2020-01-01T00:00:00Z,2020-01-01T00:00:00.000Z")],
        vec![("match[version]", "first"), ("match[version]", "last")],
    ];
    let id_bad: Vec<Vec<(&str, &str)>> = vec![
        vec![("match[id]", id.as_str()), ("match[id]", id.as_str())],
        vec![("match[type]", "indicator"), ("match[type]", "malware")],
    ];
    let lists = [objects(PUBLIC), manifest(PUBLIC)];
    for p in &lists {
        for q in common_bad.iter().chain(&version_bad).chain(&id_bad) {
            assert_error(&admin.get(&with_query(p, q)), 400);
        }
    }
    for q in common_bad.iter().chain(&version_bad) {
        assert_error(&admin.get(&with_query(&object(PUBLIC, &id), q)), 400);
    }
    for q in &common_bad {
        assert_error(&admin.get(&with_query(&versions(PUBLIC, &id), q)), 400);
    }
    for q in &version_bad[..5] {
        assert_error(&admin.delete(&with_query(&object(PUBLIC, &id), q)), 400);
    }
    // Bad percent-encoding in the query.
    assert_error(&admin.get(&format!("{}?limit=%zz", objects(PUBLIC))), 400);
    // Nothing was deleted by the refused DELETEs.
    assert_eq!(ids(&ok(&admin, &objects(PUBLIC), &[])), [id.as_str()]);
    // Unknown parameters and unknown match fields are ignored.
    let base = ok(&admin, &objects(PUBLIC), &[]);
    for q in
        [vec![("foo", "bar")], vec![("match[foo]", "bar")], vec![("match[foo]", "a"), ("match[foo]", "b")]]
    {
        let r = ok(&admin, &objects(PUBLIC), &q);
        assert_eq!(r.json(), base.json(), "{q:?}");
    }
    // match[version] is not a parameter of the versions endpoint.
    let r = ok(&admin, &versions(PUBLIC, &id), &[("match[version]", "first")]);
    assert_eq!(vlist(&r), [v6("2020-01-01")]);
}

#[test]
fn t21_37_added_after_exclusive_and_single() {
    let w = World::new();
    let admin = w.as_user("admin");
    for n in 1..=3 {
        w.add("admin", PUBLIC, &[sdo("indicator", n, &ts("2020-01-01"))]);
    }
    let recs = ok(&admin, &manifest(PUBLIC), &[]).json()["objects"].as_array().unwrap().clone();
    let added: Vec<String> = recs.iter().map(|r| r["date_added"].as_str().unwrap().to_string()).collect();
    let r = ok(&admin, &objects(PUBLIC), &[("added_after", &added[1])]);
    assert_eq!(ids(&r), [sid("indicator", 3)]);
    let r = ok(&admin, &manifest(PUBLIC), &[("added_after", &added[0])]);
    assert_eq!(ids(&r), [sid("indicator", 2), sid("indicator", 3)]);
    assert_empty_result(&ok(&admin, &objects(PUBLIC), &[("added_after", &added[2])]));
    // Object and versions endpoints: the only record's own date_added excludes it.
    assert_empty_result(&ok(&admin, &object(PUBLIC, &sid("indicator", 2)), &[("added_after", &added[1])]));
    assert_empty_result(&ok(&admin, &versions(PUBLIC, &sid("indicator", 2)), &[("added_after", &added[1])]));
    let r = ok(&admin, &versions(PUBLIC, &sid("indicator", 2)), &[("added_after", &added[0])]);
    assert_eq!(vlist(&r), [v6("2020-01-01")]);
    // Exactly one value.
    let two = [("added_after", added[0].as_str()), ("added_after", added[1].as_str())];
    assert_error(&admin.get(&with_query(&objects(PUBLIC), &two)), 400);
    let list = format!("{},{}", added[0], added[1]);
    assert_error(&admin.get(&with_query(&objects(PUBLIC), &[("added_after", &list)])), 400);
}

#[test]
fn t21_38_match_fields_and_or() {
    let w = World::new();
    let admin = w.as_user("admin");
    let (i1, i2, m1, t1) = (sid("indicator", 1), sid("indicator", 2), sid("malware", 1), sid("tool", 1));
    w.add(
        "admin",
        PUBLIC,
        &[
            sdo("indicator", 1, &ts("2020-01-01")),
            sdo("indicator", 2, &ts("2020-01-01")),
            sdo("malware", 1, &ts("2020-01-01")),
            sdo("tool", 1, &ts("2020-01-01")),
        ],
    );
    let both = format!("{i1},{m1}");
    let i2m1 = format!("{i2},{m1}");
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a String>);
    let cases: Vec<Case> = vec![
        (vec![("match[type]", "indicator")], vec![&i1, &i2]),
        (vec![("match[type]", "indicator,malware")], vec![&i1, &i2, &m1]),
        (vec![("match[id]", both.as_str())], vec![&i1, &m1]),
        (vec![("match[id]", i2.as_str())], vec![&i2]),
        (vec![("match[type]", "indicator"), ("match[id]", i2m1.as_str())], vec![&i2]),
        (vec![("match[type]", "tool,malware"), ("match[id]", i2m1.as_str())], vec![&m1]),
        (vec![("match[foo]", "bar")], vec![&i1, &i2, &m1, &t1]),
    ];
    for (q, want) in cases {
        for p in [objects(PUBLIC), manifest(PUBLIC)] {
            let r = ok(&admin, &p, &q);
            assert_eq!(ids(&r).iter().collect::<Vec<_>>(), want, "{q:?} on {p}");
        }
    }
    // Brackets sent unencoded (curl -g, many scripts).
    let r = admin.get(&format!("{}?match[type]=indicator&match[id]={i2}", objects(PUBLIC)));
    assert_t21(&r, 200);
    assert_eq!(ids(&r), [i2.as_str()]);
    // AND across fields that exclude each other; types that are valid but absent.
    for q in [
        vec![("match[type]", "indicator"), ("match[id]", m1.as_str())],
        vec![("match[type]", "attack-pattern")],
        vec![("match[type]", "x-custom-thing")],
        vec![("match[id]", "indicator--00000000-0000-4000-8000-0000000000ff")],
    ] {
        assert_empty_result(&ok(&admin, &objects(PUBLIC), &q));
        assert_empty_result(&ok(&admin, &manifest(PUBLIC), &q));
    }
}

#[test]
fn t21_40_match_version_values() {
    let w = World::new();
    let admin = w.as_user("admin");
    let i = sid("indicator", 1);
    for day in ["2020-01-01", "2020-06-01", "2021-01-01"] {
        w.add("admin", PUBLIC, &[sdo("indicator", 1, &ts(day))]);
    }
    w.add("admin", PUBLIC, &[sdo("malware", 1, &ts("2020-06-01"))]);
    let (a, b, c) = (v6("2020-01-01"), v6("2020-06-01"), v6("2021-01-01"));
    let m = manifest(PUBLIC);
    let ab = format!("{},{}", ts("2020-01-01"), ts("2020-06-01"));
    let fbl = format!("first,{},last", ts("2020-06-01"));
    let cases: Vec<(Option<&str>, Vec<&String>)> = vec![
        (None, vec![&c]),
        (Some("last"), vec![&c]),
        (Some("first"), vec![&a]),
        (Some("all"), vec![&a, &b, &c]),
        (Some("2020-06-01T00:00:00.000Z"), vec![&b]),
        (Some("2020-06-01T02:00:00+02:00"), vec![&b]),
        (Some("first,last"), vec![&a, &c]),
        (Some("last,first"), vec![&a, &c]),
        (Some(fbl.as_str()), vec![&a, &b, &c]),
        (Some(ab.as_str()), vec![&a, &b]),
    ];
    for (v, want) in cases {
        let mut q = vec![("match[id]", i.as_str())];
        if let Some(v) = v {
            q.push(("match[version]", v));
        }
        assert_eq!(mversions(&ok(&admin, &m, &q)).iter().collect::<Vec<_>>(), want, "{v:?}");
        // The object endpoint agrees.
        let r = ok(&admin, &object(PUBLIC, &i), &q[1..]);
        assert_eq!(modified(&r).len(), want.len(), "{v:?}");
    }
    assert_empty_result(&ok(&admin, &m, &[("match[id]", &i), ("match[version]", "1999-01-01T00:00:00Z")]));
    assert_empty_result(&ok(&admin, &object(PUBLIC, &i), &[("match[version]", "1999-01-01T00:00:00Z")]));
    // Across objects: each object's own first/last.
    let r = ok(&admin, &objects(PUBLIC), &[("match[version]", "2020-06-01T00:00:00Z")]);
    assert_eq!(ids(&r), [i.clone(), sid("malware", 1)]);
    assert_eq!(modified(&r), [ts("2020-06-01"), ts("2020-06-01")]);
    let r = ok(&admin, &objects(PUBLIC), &[("match[version]", "first")]);
    assert_eq!(ids(&r), [i.clone(), sid("malware", 1)]);
    assert_eq!(modified(&r), [ts("2020-01-01"), ts("2020-06-01")]);
    let r = ok(&admin, &objects(PUBLIC), &[]);
    assert_eq!(ids(&r), [i.clone(), sid("malware", 1)]);
    assert_eq!(modified(&r), [ts("2021-01-01"), ts("2020-06-01")]);
    for bad in ["all,first", "last,all", "first,first", "all,all"] {
        assert_error(&admin.get(&with_query(&m, &[("match[version]", bad)])), 400);
    }
}

#[test]
fn t21_41_match_spec_version() {
    let w = World::new();
    let admin = w.as_user("admin");
    let (a, b, x) = (sid("tool", 1), sid("indicator", 1), sid("malware", 1));
    w.add("admin", PUBLIC, &[sdo20("tool", 1, &ts("2016-01-01")), sdo("indicator", 1, &ts("2017-01-01"))]);
    w.add("admin", PUBLIC, &[sdo20("malware", 1, &ts("2016-01-01"))]);
    w.add("admin", PUBLIC, &[sdo("malware", 1, &ts("2017-01-01"))]);
    let r = ok(&admin, &objects(PUBLIC), &[("match[spec_version]", "2.0")]);
    assert_eq!(ids(&r), [a.clone(), x.clone()]);
    for o in r.json()["objects"].as_array().unwrap() {
        assert!(o.get("spec_version").is_none(), "{o}");
    }
    let r = ok(&admin, &objects(PUBLIC), &[("match[spec_version]", "2.1")]);
    assert_eq!(ids(&r), [b.clone(), x.clone()]);
    assert!(r.json()["objects"].as_array().unwrap().iter().all(|o| o["spec_version"] == "2.1"));
    let r = ok(&admin, &manifest(PUBLIC), &[("match[spec_version]", "2.0,2.1")]);
    assert_eq!(ids(&r), [a.clone(), b.clone(), x.clone()]);
    assert_eq!(list_field(&r.json(), "objects", "media_type"), [STIX20, STIX21, STIX21]);
    let r = ok(&admin, &manifest(PUBLIC), &[("match[spec_version]", "2.0"), ("match[version]", "all")]);
    assert_eq!(ids(&r), [a.clone(), x.clone()]);
    assert_empty_result(&ok(&admin, &objects(PUBLIC), &[("match[spec_version]", "3.0")]));
    // Object endpoint.
    let r = ok(&admin, &object(PUBLIC, &x), &[("match[spec_version]", "2.0")]);
    assert_eq!(modified(&r), [ts("2016-01-01")]);
    let r = ok(&admin, &object(PUBLIC, &x), &[]);
    assert_eq!(modified(&r), [ts("2017-01-01")]);
    assert_empty_result(&ok(&admin, &object(PUBLIC, &b), &[("match[spec_version]", "2.0")]));
}

#[test]
fn o1_get_an_object() {
    let w = World::new();
    let admin = w.as_user("admin");
    let i = sid("indicator", 1);
    for day in ["2020-01-01", "2020-06-01", "2021-01-01"] {
        w.add("admin", PUBLIC, &[sdo("indicator", 1, &ts(day)), sdo("malware", 1, &ts(day))]);
    }
    let r = ok(&admin, &object(PUBLIC, &i), &[]);
    assert_eq!(ids(&r), [i.as_str()]);
    assert_eq!(modified(&r), [ts("2021-01-01")]);
    assert_eq!(r.json()["objects"][0], sdo("indicator", 1, &ts("2021-01-01")));
    let r = ok(&admin, &object(PUBLIC, &i), &[("match[version]", "all")]);
    assert_eq!(modified(&r), [ts("2020-01-01"), ts("2020-06-01"), ts("2021-01-01")]);
    // match[id] and match[type] do not apply here.
    let r = ok(&admin, &object(PUBLIC, &i), &[("match[type]", "malware"), ("match[id]", &sid("malware", 1))]);
    assert_eq!(ids(&r), [i.as_str()]);
    // Paging over versions.
    let r = ok(&admin, &object(PUBLIC, &i), &[("match[version]", "all"), ("limit", "2")]);
    assert_eq!(modified(&r).len(), 2);
    assert_eq!(r.json()["more"], true);
    let next = r.json()["next"].as_str().unwrap().to_string();
    let r = ok(&admin, &object(PUBLIC, &i), &[("match[version]", "all"), ("limit", "2"), ("next", &next)]);
    assert_eq!(modified(&r), [ts("2021-01-01")]);
    assert_eq!(r.json()["more"], false);
    // Unknown here: 404 (also when it exists in another collection); filtered away: {}.
    assert_error(&admin.get(&object(PUBLIC, &sid("indicator", 99))), 404);
    assert_error(&admin.get(&object(DROPBOX, &i)), 404);
    assert_error(&admin.get(&object(PUBLIC, "not-a-stix-id")), 404);
    assert_empty_result(&ok(&admin, &object(PUBLIC, &i), &[("added_after", "2999-01-01T00:00:00Z")]));
    // Read permission needed.
    w.add("admin", WRITEONLY, &[sdo("indicator", 1, &ts("2020-01-01"))]);
    assert_error(&w.as_user("writer").get(&object(WRITEONLY, &i)), 403);
    assert_t21(&w.as_user("nobody").get(&object(PUBLIC, &i)), 200);
}

#[test]
fn v_versions() {
    let w = World::new();
    let admin = w.as_user("admin");
    let i = sid("indicator", 1);
    for day in ["2020-06-01", "2020-01-01", "2021-01-01"] {
        w.add("admin", PUBLIC, &[sdo("indicator", 1, &ts(day))]);
    }
    let r = ok(&admin, &versions(PUBLIC, &i), &[]);
    assert_eq!(
        r.json(),
        json!({"more": false, "versions": [v6("2020-06-01"), v6("2020-01-01"), v6("2021-01-01")]})
    );
    let recs = ok(&admin, &manifest(PUBLIC), &[("match[version]", "all")]).json()["objects"].clone();
    assert_eq!(r.header("x-taxii-date-added-first"), recs[0]["date_added"].as_str());
    assert_eq!(r.header("x-taxii-date-added-last"), recs[2]["date_added"].as_str());
    // added_after, limit/next.
    let a0 = recs[0]["date_added"].as_str().unwrap();
    let r = ok(&admin, &versions(PUBLIC, &i), &[("added_after", a0)]);
    assert_eq!(vlist(&r), [v6("2020-01-01"), v6("2021-01-01")]);
    let r = ok(&admin, &versions(PUBLIC, &i), &[("limit", "2")]);
    assert_eq!(vlist(&r), [v6("2020-06-01"), v6("2020-01-01")]);
    assert_eq!(r.json()["more"], true);
    let next = r.json()["next"].as_str().unwrap().to_string();
    let r = ok(&admin, &versions(PUBLIC, &i), &[("limit", "2"), ("next", &next)]);
    assert_eq!(r.json(), json!({"more": false, "versions": [v6("2021-01-01")]}));
    // Unknown id: 404. Permission: read.
    assert_error(&admin.get(&versions(PUBLIC, &sid("indicator", 2))), 404);
    assert_error(&admin.get(&versions(DROPBOX, &i)), 404);
    w.add("admin", WRITEONLY, &[sdo("indicator", 1, &ts("2020-01-01"))]);
    assert_error(&w.as_user("writer").get(&versions(WRITEONLY, &i)), 403);
    assert_error(&w.as_user("nobody").get(&versions(WRITEONLY, &i)), 404);
}

#[test]
fn m_manifest() {
    let w = World::new();
    let admin = w.as_user("admin");
    w.add("admin", PUBLIC, &[sdo("indicator", 1, &ts("2020-01-01")), sdo("malware", 1, &ts("2020-01-01"))]);
    w.add("admin", PUBLIC, &[sdo("indicator", 1, &ts("2020-02-01")), sco(1)]);
    let r = ok(&admin, &manifest(PUBLIC), &[("match[version]", "all")]);
    let recs = r.json()["objects"].as_array().unwrap().clone();
    assert_eq!(recs.len(), 4);
    for rec in &recs {
        let mut k: Vec<&String> = rec.as_object().unwrap().keys().collect();
        k.sort();
        assert_eq!(k, ["date_added", "id", "media_type", "version"], "{rec}");
        assert_eq!(rec["media_type"], STIX21);
    }
    assert_eq!(
        list_field(&r.json(), "objects", "id"),
        [sid("indicator", 1), sid("malware", 1), sid("indicator", 1), sid("ipv4-addr", 1)]
    );
    // SCO: the version is its date_added.
    assert_eq!(recs[3]["version"], recs[3]["date_added"]);
    // Default: one record per object, the last version.
    let r = ok(&admin, &manifest(PUBLIC), &[]);
    assert_eq!(ids(&r), [sid("malware", 1), sid("indicator", 1), sid("ipv4-addr", 1)]);
    assert_eq!(mversions(&r)[1], v6("2020-02-01"));
    // Type filter on the underlying objects.
    let r = ok(&admin, &manifest(PUBLIC), &[("match[type]", "indicator"), ("match[version]", "all")]);
    assert_eq!(mversions(&r), [v6("2020-01-01"), v6("2020-02-01")]);
    // The manifest and the objects endpoint agree on what matches, page by page.
    for q in [
        vec![],
        vec![("match[version]", "all")],
        vec![("match[type]", "malware,ipv4-addr")],
        vec![("limit", "2")],
    ] {
        let m = ok(&admin, &manifest(PUBLIC), &q);
        let o = ok(&admin, &objects(PUBLIC), &q);
        assert_eq!(ids(&m), ids(&o), "{q:?}");
        assert_eq!(m.header("x-taxii-date-added-first"), o.header("x-taxii-date-added-first"));
        assert_eq!(m.header("x-taxii-date-added-last"), o.header("x-taxii-date-added-last"));
        assert_eq!(m.json()["more"], o.json()["more"]);
    }
    // Permissions.
    assert_t21(&w.anon().get(&manifest(PUBLIC)), 200);
    assert_error(&w.as_user("writer").get(&manifest(WRITEONLY)), 403);
    assert_error(&w.as_user("nobody").get(&manifest(PRIVATE)), 404);
}
