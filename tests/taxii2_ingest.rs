//! TAXII 2.1 writing (checklist §1F, §4, §8, §10): Add Objects (envelopes, bundles, invalid
//! bodies and objects, size limits, byte-for-byte storage, versions and date_added), status
//! resources, and Delete an Object.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use serde_json::{Value, json};

use common::http::{Resp, request};
use common::taxii2::*;

fn ts(day: &str) -> String {
    format!("{day}T00:00:00.000Z")
}
fn v6(day: &str) -> String {
    format!("{day}T00:00:00.000000Z")
}

fn sco(n: u64) -> Value {
    json!({"type": "ipv4-addr", "id": sid("ipv4-addr", n), "value": format!("10.0.0.{n}")})
}

#[track_caller]
fn ok(who: &Who, path: &str, params: &[(&str, &str)]) -> Resp {
    let r = who.get(&with_query(path, params));
    assert_t21(&r, 200);
    r
}

fn vlist(r: &Resp) -> Vec<String> {
    r.json()
        .get("versions")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Every manifest record of `c` (all versions), over all pages.
fn all_records(who: &Who, c: &str) -> Vec<Value> {
    who.walk(&manifest(c), &[("match[version]", "all")])
        .iter()
        .flat_map(|p| p.get("objects").and_then(Value::as_array).cloned().unwrap_or_default())
        .collect()
}

fn sorted_keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// The status entry (success or failure) for `id` in `list`.
fn entry<'a>(st: &'a Value, list: &str, id: &str) -> &'a Value {
    st[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {list}: {st}"))
}

#[test]
fn t21_30_sco_version_is_first_date_added() {
    let w = World::new();
    let admin = w.as_user("admin");
    let id = sid("ipv4-addr", 1);
    let st = w.add("admin", PUBLIC, &[sco(1)]);
    let v = entry(&st, "successes", &id)["version"].as_str().unwrap().to_string();
    assert!(is_taxii_timestamp(&v), "{v}");
    let recs = all_records(&admin, PUBLIC);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["date_added"], v.as_str());
    assert_eq!(recs[0]["version"], v.as_str());
    // Posting it again is the same version: a success, no new record.
    let st2 = w.add("admin", PUBLIC, &[sco(1)]);
    assert_eq!(entry(&st2, "successes", &id)["version"], v.as_str());
    assert_eq!(st2["failure_count"], 0);
    assert_eq!(all_records(&admin, PUBLIC), recs);
    // Exactly one version by every measure.
    assert_eq!(vlist(&ok(&admin, &versions(PUBLIC, &id), &[])), [v.as_str()]);
    for mv in ["first", "last", "all", v.as_str()] {
        let r = ok(&admin, &objects(PUBLIC), &[("match[version]", mv)]);
        assert_eq!(ids(&r), [id.as_str()], "match[version]={mv}");
    }
    assert_empty_result(&ok(&admin, &objects(PUBLIC), &[("added_after", &v)]));
    // Without `modified`, `created` is the version.
    let md = json!({"type": "marking-definition", "spec_version": "2.1",
                    "id": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
                    "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp", "name": "TLP:GREEN",
                    "definition": {"tlp": "green"}});
    let st = w.add("admin", PUBLIC, std::slice::from_ref(&md));
    assert_eq!(entry(&st, "successes", md["id"].as_str().unwrap())["version"], "2017-01-20T00:00:00.000000Z");
    let st = w.add("admin", PUBLIC, std::slice::from_ref(&md));
    assert_eq!(st["success_count"], 1);
    assert_eq!(
        vlist(&ok(&admin, &versions(PUBLIC, md["id"].as_str().unwrap()), &[])),
        ["2017-01-20T00:00:00.000000Z"]
    );
    // Another collection: its own first date_added there.
    let st3 = w.add("admin", DROPBOX, &[sco(1)]);
    let v3 = entry(&st3, "successes", &id)["version"].as_str().unwrap().to_string();
    assert!(parse_ts(&v3) > parse_ts(&v));
    assert_eq!(all_records(&admin, DROPBOX)[0]["date_added"], v3.as_str());
}

#[test]
fn t21_33_date_added_strictly_increasing_within_a_post() {
    let w = World::with("taxii2.max_page_size = 1000\n");
    let admin = w.as_user("admin");
    let objs: Vec<Value> = (1..=20).map(|n| sdo("indicator", n, &ts("2020-01-01"))).collect();
    w.add("admin", PUBLIC, &objs);
    let recs = all_records(&admin, PUBLIC);
    assert_eq!(recs.len(), 20);
    let added: Vec<time::OffsetDateTime> =
        recs.iter().map(|r| parse_ts(r["date_added"].as_str().unwrap())).collect();
    assert!(added.windows(2).all(|p| p[0] < p[1]), "not strictly increasing: {recs:?}");
    // In posted order.
    assert_eq!(
        ids(&ok(&admin, &manifest(PUBLIC), &[])),
        (1..=20).map(|n| sid("indicator", n)).collect::<Vec<_>>()
    );
    w.add("admin", PUBLIC, &(21..=25).map(|n| sdo("indicator", n, &ts("2020-01-01"))).collect::<Vec<_>>());
    let recs = all_records(&admin, PUBLIC);
    let added: Vec<time::OffsetDateTime> =
        recs.iter().map(|r| parse_ts(r["date_added"].as_str().unwrap())).collect();
    assert_eq!(added.len(), 25);
    assert!(added.windows(2).all(|p| p[0] < p[1]));
}

#[test]
fn t21_34_repost_identical_version_is_success() {
    let w = World::new();
    let admin = w.as_user("admin");
    let objs = [sdo("indicator", 1, &ts("2020-01-01")), sdo("malware", 1, &ts("2020-01-01"))];
    let st1 = w.add("admin", PUBLIC, &objs);
    let before = all_records(&admin, PUBLIC);
    let st2 = w.add("admin", PUBLIC, &objs);
    assert_eq!(st2["total_count"], 2);
    assert_eq!(st2["success_count"], 2);
    assert_eq!(st2["failure_count"], 0);
    assert!(st2.get("failures").is_none(), "{st2}");
    assert_eq!(st2["successes"], st1["successes"]);
    assert_ne!(st2["id"], st1["id"]);
    // No second record, the original date_added kept.
    assert_eq!(all_records(&admin, PUBLIC), before);
    // Same id and version with other content: still a success, the stored object unchanged.
    let mut changed = sdo("indicator", 1, &ts("2020-01-01"));
    changed["name"] = json!("something else");
    let st3 = w.add("admin", PUBLIC, &[changed]);
    assert_eq!(st3["success_count"], 1);
    let r = ok(&admin, &object(PUBLIC, &sid("indicator", 1)), &[]);
    assert_eq!(r.json()["objects"][0], objs[0]);
    assert_eq!(all_records(&admin, PUBLIC), before);
    // The same version twice in one envelope: two successes, one record.
    let st4 = w.add(
        "admin",
        PUBLIC,
        &[sdo("tool", 1, &ts("2020-01-01")), sco(1), sdo("tool", 1, &ts("2020-01-01")), sco(1)],
    );
    assert_eq!((st4["success_count"].clone(), st4["failure_count"].clone()), (json!(4), json!(0)));
    assert_eq!(all_records(&admin, PUBLIC).len(), 4);
    assert_eq!(vlist(&ok(&admin, &versions(PUBLIC, &sid("ipv4-addr", 1)), &[])).len(), 1);
}

#[test]
fn op_bundle_accepted() {
    let w = World::new();
    let admin = w.as_user("admin");
    let bundle = json!({
        "type": "bundle",
        "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
        "spec_version": "2.1",
        "objects": [sdo("indicator", 1, &ts("2020-01-01")), sdo("malware", 1, &ts("2020-01-01"))],
    });
    let r = admin.post(&objects(PUBLIC), &bundle.to_string());
    assert_t21(&r, 202);
    assert_eq!(r.json()["success_count"], 2);
    assert_eq!(r.json()["total_count"], 2);
    assert_eq!(ids(&ok(&admin, &objects(PUBLIC), &[])), [sid("indicator", 1), sid("malware", 1)]);
    // The bundle itself is not an object.
    assert_error(&admin.get(&object(PUBLIC, "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d")), 404);
    // Other top-level members of an envelope are ignored.
    let env = json!({"more": false, "next": "abc", "x_extra": {"a": 1}, "objects": [sdo("tool", 1, &ts("2020-01-01"))]});
    let r = admin.post(&objects(PUBLIC), &env.to_string());
    assert_t21(&r, 202);
    assert_eq!(r.json()["success_count"], 1);
    assert_eq!(all_records(&admin, PUBLIC).len(), 3);
}

#[test]
fn op_bare_object_422() {
    let w = World::new();
    let admin = w.as_user("admin");
    let o = sdo("indicator", 1, &ts("2020-01-01"));
    for body in [
        o.to_string(),
        json!([o]).to_string(),
        r#"{"objects": []}"#.to_string(),
        r#"{"objects": "x"}"#.to_string(),
        r#"{"objects": null}"#.to_string(),
        format!(r#"{{"objects": {o}}}"#),
        "{}".to_string(),
        String::new(),
        "null".to_string(),
        "42".to_string(),
        r#""objects""#.to_string(),
    ] {
        let r = admin.post(&objects(PUBLIC), &body);
        assert_error(&r, 422);
    }
    assert_empty_result(&ok(&admin, &manifest(PUBLIC), &[("match[version]", "all")]));
}

#[test]
fn op_invalid_json_422() {
    let w = World::new();
    let admin = w.as_user("admin");
    let bodies: Vec<Vec<u8>> = vec![
        b"{not json".to_vec(),
        b"{\"objects\": [".to_vec(),
        b"{\"objects\": []} trailing".to_vec(),
        b"{\"objects\": [{\"type\": \"indicator\",}]}".to_vec(),
        b"{\"objects\": [\"\xff\xfe\"]}".to_vec(),
        b"\xef\xbb\xbf{\"objects\": [1]".to_vec(),
    ];
    for body in bodies {
        let r = Req::post(&objects(PUBLIC), body.clone()).bearer(&w.token("admin")).send(w.addr());
        assert_error(&r, 422);
    }
    assert_empty_result(&ok(&admin, &manifest(PUBLIC), &[("match[version]", "all")]));
}

#[test]
fn op_invalid_objects_do_not_reject_the_rest() {
    let w = World::new();
    let admin = w.as_user("admin");
    let a = sdo("indicator", 1, &ts("2020-01-01"));
    let b = sdo("malware", 1, &ts("2020-01-01"));
    let big = json!({"type": "note", "id": sid("note", 95), "content": "x".repeat(1 << 20)});
    let invalid: Vec<(Value, &str)> = vec![
        (json!(42), ""),
        (json!("a string"), ""),
        (json!([]), ""),
        (json!({"id": sid("indicator", 90)}), "indicator--00000000-0000-4000-8000-00000000005a"),
        (
            json!({"type": "Bad_Type", "id": "Bad_Type--00000000-0000-4000-8000-000000000001"}),
            "Bad_Type--00000000-0000-4000-8000-000000000001",
        ),
        (
            json!({"type": "indicator", "id": sid("malware", 91)}),
            "malware--00000000-0000-4000-8000-00000000005b",
        ),
        (json!({"type": "indicator", "id": "indicator--not-a-uuid"}), "indicator--not-a-uuid"),
        (
            json!({"type": "indicator", "id": sid("indicator", 92), "spec_version": "3.0"}),
            "indicator--00000000-0000-4000-8000-00000000005c",
        ),
        (
            json!({"type": "indicator", "id": sid("indicator", 93), "modified": "yesterday"}),
            "indicator--00000000-0000-4000-8000-00000000005d",
        ),
        (
            json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001", "objects": []}),
            "bundle--00000000-0000-4000-8000-000000000001",
        ),
        (
            json!({"type": "indicator", "id": sid("indicator", 94), "spec_version": "4.0",
                   "created": "2020-01-01T00:00:00.000Z", "modified": "2020-02-01T00:00:00.000Z"}),
            "indicator--00000000-0000-4000-8000-00000000005e",
        ),
        (big, "note--00000000-0000-4000-8000-00000000005f"),
    ];
    let mut all = vec![a.clone()];
    all.extend(invalid.iter().map(|(o, _)| o.clone()));
    all.push(b.clone());
    let r = admin.post(&objects(PUBLIC), &envelope(&all));
    assert_t21(&r, 202);
    let st = r.json();
    let n = invalid.len();
    assert_eq!(st["status"], "complete");
    assert_eq!(st["total_count"], n + 2);
    assert_eq!(st["success_count"], 2);
    assert_eq!(st["failure_count"], n);
    assert_eq!(st["pending_count"], 0);
    let mut ok_ids = list_field(&st, "successes", "id");
    ok_ids.sort();
    assert_eq!(ok_ids, [sid("indicator", 1), sid("malware", 1)]);
    let failures = st["failures"].as_array().unwrap();
    assert_eq!(failures.len(), n);
    for f in failures {
        assert_eq!(sorted_keys(f), ["id", "message", "version"], "{f}");
        assert!(f["message"].as_str().is_some_and(|m| !m.is_empty()), "{f}");
        assert!(is_taxii_timestamp(f["version"].as_str().unwrap()), "{f}");
    }
    let mut got: Vec<&str> = failures.iter().map(|f| f["id"].as_str().unwrap()).collect();
    let mut want: Vec<&str> = invalid.iter().map(|(_, id)| *id).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // The failure's version: the posted modified, else the request time.
    assert_eq!(entry(&st, "failures", &sid("indicator", 94))["version"], "2020-02-01T00:00:00.000000Z");
    assert_eq!(entry(&st, "failures", &sid("indicator", 93))["version"], st["request_timestamp"]);
    // The status reads back the same; only the valid objects were stored.
    let r = ok(&admin, &status_path(ROOT, st["id"].as_str().unwrap()), &[]);
    assert_eq!(r.json(), st);
    assert_eq!(ids(&ok(&admin, &objects(PUBLIC), &[])), [sid("indicator", 1), sid("malware", 1)]);
    for id in [sid("indicator", 92), sid("indicator", 94), sid("note", 95)] {
        assert_error(&admin.get(&object(PUBLIC, &id)), 404);
    }
    // Nothing valid at all: still 202, everything a failure.
    let r = admin.post(&objects(PUBLIC), &envelope(&[json!(1), json!({"type": "x"})]));
    assert_t21(&r, 202);
    assert_eq!((r.json()["success_count"].clone(), r.json()["failure_count"].clone()), (json!(0), json!(2)));
}

/// An envelope of one object padded with trailing spaces to exactly `len` bytes.
fn padded(n: u64, len: usize) -> String {
    let mut s = envelope(&[sdo("indicator", n, &ts("2020-01-01"))]);
    assert!(s.len() <= len);
    s.push_str(&" ".repeat(len - s.len()));
    s
}

#[test]
fn op_413_over_max_content_length() {
    let w = World::with("taxii2.max_content_length = 2000\n");
    let admin = w.as_user("admin");
    let tok = w.token("admin");
    assert_eq!(ok(&admin, &root_path(ROOT), &[]).json()["max_content_length"], 2000);
    let send = |body: String, chunked: bool| {
        let mut req = Req::post(&objects(PUBLIC), body).bearer(&tok);
        if chunked {
            req = req.chunked();
        }
        req.send(w.addr())
    };
    let r = send(padded(1, 2000), false);
    assert_t21(&r, 202);
    assert_eq!(r.json()["success_count"], 1);
    assert_error(&send(padded(2, 2001), false), 413);
    let r = send(padded(3, 2000), true);
    assert_t21(&r, 202);
    assert_error(&send(padded(4, 2001), true), 413);
    assert_error(&send(padded(5, 50_000), true), 413);
    // A Content-Length over the limit is refused before the body is sent.
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer {tok}\r\n\
         Accept: {T21}\r\nContent-Type: {T21}\r\nContent-Length: 100000000\r\n\r\n",
        objects(PUBLIC)
    );
    assert_error(&request(w.addr(), head.as_bytes()), 413);
    // Credentials are checked first.
    assert_error(&w.anon().post(&objects(PRIVATE), &padded(6, 2001)), 401);
    let stored = ids(&ok(&admin, &objects(PUBLIC), &[]));
    assert_eq!(stored, [sid("indicator", 1), sid("indicator", 3)]);

    // The HTTP layer's own limit, when smaller, is the advertised and enforced one.
    let w = World::with("http.max_body_bytes = 1500\n");
    let tok = w.token("admin");
    assert_eq!(ok(&w.as_user("admin"), &root_path(ROOT), &[]).json()["max_content_length"], 1500);
    for chunked in [false, true] {
        let mut req = Req::post(&objects(PUBLIC), padded(1, 1501)).bearer(&tok);
        if chunked {
            req = req.chunked();
        }
        assert_error(&req.send(w.addr()), 413);
        let mut req = Req::post(&objects(PUBLIC), padded(1, 1500)).bearer(&tok);
        if chunked {
            req = req.chunked();
        }
        assert_t21(&req.send(w.addr()), 202);
    }
}

#[test]
fn op_byte_for_byte_round_trip() {
    let w = World::new();
    let admin = w.as_user("admin");
    let i = "indicator--00000000-0000-4000-8000-000000000001";
    let x = "x-custom-thing--00000000-0000-4000-8000-000000000002";
    let m = "malware--00000000-0000-4000-8000-000000000003";
    let t = "tool--00000000-0000-4000-8000-000000000004";
    let posted = format!(
        r#"{{"objects": [
  {{
    "type": "indicator",
    "spec_version": "2.1",
    "created": "2020-01-01T00:00:00.000Z",
    "id": "{i}",
    "modified": "2020-01-01T00:00:00.000Z",
    "name": "caf\u00e9 \"quoted\" \/ \ud83d\ude00 tab\t",
    "big": 12345678901234567890,
    "float": 1.50e3,
    "neg": -0.0,
    "tiny": 1E-7,
    "nested": {{"z": 1, "a": [1, 2.0, {{"k": "v", "e": {{}}}}], "m": null}},
    "flag": true,
    "pattern": "[file:name = 'x y']",
    "x_custom": {{"b": 2, "a": 1}}
  }},
  {{"value": "\u00e9", "type": "x-custom-thing", "n": 10.0, "id": "{x}"}},
  {{"type": "malware", "id": "{m}", "created": "2016-01-01T00:00:00Z", "modified": "2016-01-01T00:00:00Z", "name": "m", "is_family": false}},
  {{"spec_version": "2.0", "type": "tool", "id": "{t}", "created": "2016-01-01T00:00:00Z", "modified": "2016-01-01T00:00:00Z", "name": "t"}}
]}}"#
    );
    let expected = [
        format!(
            r#"{{"id":"{i}","type":"indicator","spec_version":"2.1","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","name":"caf\u00e9 \"quoted\" \/ \ud83d\ude00 tab\t","big":12345678901234567890,"float":1.50e3,"neg":-0.0,"tiny":1E-7,"nested":{{"z":1,"a":[1,2.0,{{"k":"v","e":{{}}}}],"m":null}},"flag":true,"pattern":"[file:name = 'x y']","x_custom":{{"b":2,"a":1}}}}"#
        ),
        format!(r#"{{"id":"{x}","type":"x-custom-thing","value":"\u00e9","n":10.0}}"#),
        format!(
            r#"{{"id":"{m}","type":"malware","created":"2016-01-01T00:00:00Z","modified":"2016-01-01T00:00:00Z","name":"m","is_family":false}}"#
        ),
        format!(
            r#"{{"id":"{t}","type":"tool","spec_version":"2.0","created":"2016-01-01T00:00:00Z","modified":"2016-01-01T00:00:00Z","name":"t"}}"#
        ),
    ];
    let r = admin.post(&objects(PUBLIC), &posted);
    assert_t21(&r, 202);
    assert_eq!(r.json()["success_count"], 4, "{}", r.text());
    let r = ok(&admin, &objects(PUBLIC), &[("match[spec_version]", "2.0,2.1")]);
    assert_eq!(raw_list(&r.body, "objects"), expected);
    for (id, want) in [i, x, m, t].iter().zip(&expected) {
        let r = ok(&admin, &object(PUBLIC, id), &[("match[spec_version]", "2.0,2.1")]);
        assert_eq!(raw_list(&r.body, "objects"), [want.as_str()], "{id}");
    }
    // Stored as OpenTAXII stores it: without id, type and spec_version, members in order.
    let row = w
        .db()
        .query_one(
            "SELECT serialized_data::text, spec_version FROM opentaxii_stixobject WHERE id = $1",
            &[&x],
        )
        .unwrap();
    assert_eq!(minify(row.get::<_, &str>(0)), r#"{"value":"\u00e9","n":10.0}"#);
    assert_eq!(row.get::<_, &str>(1), "2.1");
    let sv: String = w
        .db()
        .query_one("SELECT spec_version FROM opentaxii_stixobject WHERE id = $1", &[&m])
        .unwrap()
        .get(0);
    assert_eq!(sv, "2.0");
}

#[test]
fn op_202_only_after_commit() {
    let w = World::new();
    let admin = w.as_user("admin");
    let editor = w.as_user("editor");
    for n in 1..=5 {
        let r = editor.post(&objects(PRIVATE), &envelope(&[sdo("indicator", n, &ts("2020-01-01")), sco(n)]));
        assert_t21(&r, 202);
        let st = r.json();
        assert_eq!(st["status"], "complete");
        // At once, on other connections.
        let s = ok(&editor, &status_path(ROOT, st["id"].as_str().unwrap()), &[]);
        assert_eq!(s.json(), st);
        let o = ok(&admin, &object(PRIVATE, &sid("indicator", n)), &[]);
        assert_eq!(ids(&o), [sid("indicator", n)]);
        assert_t21(&ok(&w.as_user("reader"), &object(PRIVATE, &sid("ipv4-addr", n)), &[]), 200);
        assert_eq!(all_records(&admin, PRIVATE).len() as u64, 2 * n);
    }
}

#[test]
fn s_1_s_5_status() {
    let w = World::new();
    let editor = w.as_user("editor");
    let before = now_unix();
    let r = editor.post(
        &objects(PRIVATE),
        &envelope(&[sdo("indicator", 1, "2020-01-01T00:00:00.123Z"), sco(1), json!({"type": "indicator"})]),
    );
    assert_t21(&r, 202);
    let st = r.json();
    assert_eq!(
        sorted_keys(&st),
        [
            "failure_count",
            "failures",
            "id",
            "pending_count",
            "request_timestamp",
            "status",
            "success_count",
            "successes",
            "total_count"
        ]
    );
    let id = st["id"].as_str().unwrap();
    assert!(is_uuid4(id), "{id}");
    assert_eq!(st["status"], "complete");
    let rt = st["request_timestamp"].as_str().unwrap();
    assert!(is_taxii_timestamp(rt));
    let t = parse_ts(rt).unix_timestamp();
    assert!(t >= before - 5 && t <= now_unix() + 5, "{rt}");
    assert_eq!((st["total_count"].clone(), st["success_count"].clone()), (json!(3), json!(2)));
    assert_eq!((st["failure_count"].clone(), st["pending_count"].clone()), (json!(1), json!(0)));
    for (list, count) in [("successes", "success_count"), ("failures", "failure_count")] {
        assert_eq!(st[list].as_array().unwrap().len() as u64, st[count].as_u64().unwrap());
    }
    assert_eq!(
        st["success_count"].as_u64().unwrap()
            + st["failure_count"].as_u64().unwrap()
            + st["pending_count"].as_u64().unwrap(),
        st["total_count"].as_u64().unwrap()
    );
    let s = entry(&st, "successes", &sid("indicator", 1));
    assert_eq!(s["version"], "2020-01-01T00:00:00.123000Z");
    assert!(sorted_keys(s).iter().all(|k| ["id", "version", "message"].contains(&k.as_str())), "{s}");
    let sco_version = entry(&st, "successes", &sid("ipv4-addr", 1))["version"].as_str().unwrap().to_string();
    let recs = all_records(&w.as_user("admin"), PRIVATE);
    let rec = recs.iter().find(|r| r["id"] == sid("ipv4-addr", 1)).unwrap();
    assert_eq!(rec["date_added"], sco_version.as_str());
    // With and without the trailing slash.
    let p = status_path(ROOT, id);
    for path in [p.clone(), p.trim_end_matches('/').to_string(), format!("/taxii2/default/status/{id}/")] {
        let r = ok(&editor, &path, &[]);
        assert_eq!(r.json(), st, "{path}");
    }
    // Unknown statuses.
    for bad in ["5d0092c5-5f74-4287-9642-33f4c354e56d", "not-a-uuid", "4baa4b18"] {
        assert_error(&editor.get(&status_path(ROOT, bad)), 404);
    }
    assert_error(&editor.get(&status_path(ROOT2, id)), 404);
    assert_error(&editor.get(&status_path(ROOT3, id)), 404);
}

#[test]
fn od_delete() {
    let w = World::new();
    let admin = w.as_user("admin");
    let days = ["2020-01-01", "2020-02-01", "2020-03-01"];
    for d in days {
        w.add(
            "admin",
            PUBLIC,
            &[sdo("indicator", 1, &ts(d)), sdo("malware", 1, &ts(d)), sdo("tool", 1, &ts(d))],
        );
    }
    w.add("admin", DROPBOX, &[sdo("indicator", 1, &ts("2020-01-01"))]);
    let (i, m, t) = (sid("indicator", 1), sid("malware", 1), sid("tool", 1));
    // Default: every version.
    let r = admin.delete(&object(PUBLIC, &i));
    assert_t21(&r, 200);
    assert!(r.body.is_empty(), "{}", r.text());
    assert_error(&admin.get(&versions(PUBLIC, &i)), 404);
    assert_error(&admin.get(&object(PUBLIC, &i)), 404);
    assert_empty_result(&ok(&admin, &manifest(PUBLIC), &[("match[id]", &i), ("match[version]", "all")]));
    assert!(!ids(&ok(&admin, &objects(PUBLIC), &[])).contains(&i));
    assert_error(&admin.delete(&object(PUBLIC, &i)), 404);
    // Other collections keep their copy.
    assert_eq!(ids(&ok(&admin, &object(DROPBOX, &i), &[])), [i.as_str()]);
    // first, last, a timestamp (in another notation).
    let del = |id: &str, v: &str| admin.delete(&with_query(&object(PUBLIC, id), &[("match[version]", v)]));
    assert_t21(&del(&m, "first"), 200);
    assert_eq!(vlist(&ok(&admin, &versions(PUBLIC, &m), &[])), [v6(days[1]), v6(days[2])]);
    assert_t21(&del(&m, "last"), 200);
    assert_eq!(vlist(&ok(&admin, &versions(PUBLIC, &m), &[])), [v6(days[1])]);
    assert_t21(&del(&m, "2020-02-01T01:00:00+01:00"), 200);
    assert_error(&admin.get(&versions(PUBLIC, &m)), 404);
    assert_error(&admin.get(&object(PUBLIC, &m)), 404);
    // Nothing matched: 404, nothing deleted.
    assert_error(&del(&t, "1999-01-01T00:00:00Z"), 404);
    assert_eq!(vlist(&ok(&admin, &versions(PUBLIC, &t), &[])).len(), 3);
    assert_t21(&del(&t, "first,last"), 200);
    assert_eq!(vlist(&ok(&admin, &versions(PUBLIC, &t), &[])), [v6(days[1])]);
    assert_t21(&del(&t, "all"), 200);
    assert_error(&admin.get(&versions(PUBLIC, &t)), 404);
    // Unknown ids.
    assert_error(&admin.delete(&object(PUBLIC, &sid("indicator", 99))), 404);
    assert_error(&admin.delete(&object(PUBLIC, "not-a-stix-id")), 404);
    // match[spec_version] narrows.
    let c = sid("campaign", 1);
    w.add("admin", PUBLIC, &[sdo20("campaign", 1, &ts("2016-01-01"))]);
    w.add("admin", PUBLIC, &[sdo("campaign", 1, &ts("2017-01-01"))]);
    let r = admin.delete(&with_query(&object(PUBLIC, &c), &[("match[spec_version]", "2.0")]));
    assert_t21(&r, 200);
    let left = ok(
        &admin,
        &manifest(PUBLIC),
        &[("match[id]", &c), ("match[version]", "all"), ("match[spec_version]", "2.0,2.1")],
    );
    assert_eq!(list_field(&left.json(), "objects", "version"), [v6("2017-01-01")]);
    assert_eq!(list_field(&left.json(), "objects", "media_type"), [STIX21]);
    assert_eq!(ids(&ok(&admin, &objects(PUBLIC), &[])), [c.as_str()]);
}

#[test]
fn concurrent_posts_to_one_collection_keep_date_added_unique() {
    let w = World::with("taxii2.max_page_size = 1000\n");
    let addr = w.addr();
    let tokens = [w.token("admin"), w.token("nobody")];
    let barrier = Arc::new(Barrier::new(2));
    std::thread::scope(|s| {
        for (t, tok) in tokens.iter().enumerate() {
            let barrier = barrier.clone();
            s.spawn(move || {
                barrier.wait();
                for round in 0..10u64 {
                    let objs: Vec<Value> = (0..5u64)
                        .map(|k| sdo("indicator", 1000 * (t as u64 + 1) + round * 10 + k, &ts("2020-01-01")))
                        .collect();
                    let r = Req::post(&objects(DROPBOX), envelope(&objs)).bearer(tok).send(addr);
                    assert_t21(&r, 202);
                    assert_eq!(r.json()["success_count"], 5);
                }
            });
        }
    });
    let recs = all_records(&w.as_user("admin"), DROPBOX);
    assert_eq!(recs.len(), 100);
    let added: Vec<time::OffsetDateTime> =
        recs.iter().map(|r| parse_ts(r["date_added"].as_str().unwrap())).collect();
    assert!(added.windows(2).all(|p| p[0] < p[1]), "date_added not strictly increasing");
    let unique: HashSet<&str> = recs.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), 100);
    // Paging by added_after over them is lossless.
    let admin = w.as_user("admin");
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut q = vec![("limit", "7")];
        if let Some(a) = &after {
            q.push(("added_after", a));
        }
        let r = ok(&admin, &manifest(DROPBOX), &q);
        seen.extend(ids(&r));
        if r.json()["more"] != true {
            break;
        }
        after = Some(r.header("x-taxii-date-added-last").unwrap().to_string());
    }
    assert_eq!(seen.len(), 100);
}
