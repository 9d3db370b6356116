//! Hostile query strings against a real `taxiid serve` (issue 8, "Hostile clients"): SQL
//! metacharacters and NULs in every parameter and path segment of the TAXII 2.1 objects,
//! manifest, versions and object endpoints, thousands of parameters, 100 kB values, extreme
//! timestamps and limits, garbage or tampered `next` cursors. Every answer is 400, 404, 414
//! or a correct result (never a wildcard match), never a 500. The test prints a table
//! `case | answer | time | RSS` (RSS: the server's peak resident memory during the case,
//! above what it held before) that the README's Reliability section quotes.

mod common;

use std::time::{Duration, Instant};

use common::figures::{Table, dur, mib};
use common::hostile::Rig;
use common::http::Resp;
use common::taxii2 as t2;

// ---------------------------------------------------------------------------------------
// Query strings (TAXII 2.1 objects, manifest, versions, object)
// ---------------------------------------------------------------------------------------

/// Percent-encodes a query value (brackets in names are sent as they are, as curl -g does).
fn enc(s: &str) -> String {
    t2::enc(s)
}

/// What a request must come to: `Some(how the table shows it)`, `None` if it is wrong.
type Expect<'a> = Box<dyn Fn(&Resp) -> Option<String> + 'a>;

#[test]
fn query_strings_hostile_parameters_never_500() {
    let rig = Rig::start("");
    let who = rig.admin();
    let addr = rig.addr();
    // Three indicators, the first in two versions.
    let objs = [
        t2::sdo("indicator", 1, "2024-01-01T00:00:00.000Z"),
        t2::sdo("indicator", 1, "2024-02-01T00:00:00.000Z"),
        t2::sdo("indicator", 2, "2024-01-01T00:00:00.000Z"),
        t2::sdo("indicator", 3, "2024-01-01T00:00:00.000Z"),
    ];
    let r = who.post(&t2::objects(t2::PUBLIC), &t2::envelope(&objs));
    t2::assert_t21(&r, 202);
    let id1 = t2::sid("indicator", 1);
    let endpoints = [
        ("objects", t2::objects(t2::PUBLIC)),
        ("manifest", t2::manifest(t2::PUBLIC)),
        ("versions", t2::versions(t2::PUBLIC, &id1)),
        ("object", t2::object(t2::PUBLIC, &id1)),
    ];
    let full = |path: &str| -> usize {
        let r = who.get(path);
        t2::assert_t21(&r, 200);
        r.json()[if path.ends_with("versions/") { "versions" } else { "objects" }]
            .as_array()
            .map_or(0, Vec::len)
    };
    let baseline: Vec<usize> = endpoints.iter().map(|(_, p)| full(p)).collect();

    let mut t = Table::new(
        "Query strings on objects, manifest, versions and object",
        &["case", "answer", "time", "RSS"],
    );
    // One row per family of requests: every answer is checked; the row shows the spread.
    struct Tally {
        answers: std::collections::BTreeMap<String, usize>,
        worst: Duration,
    }
    let check = |tally: &mut Tally, path: &str, expect: &dyn Fn(&Resp) -> Option<String>| {
        let t = Instant::now();
        let r = who.req("GET", path).send(addr);
        tally.worst = tally.worst.max(t.elapsed());
        let path: String = path.chars().take(300).collect();
        assert_ne!(r.status, 500, "{path}: {}", r.text());
        if r.status >= 400 {
            t2::assert_error(&r, r.status);
        }
        let what = expect(&r).unwrap_or_else(|| panic!("{path}: unexpected {} {}", r.status, r.text()));
        *tally.answers.entry(what).or_default() += 1;
    };
    let mut family = |case: &str, requests: &dyn Fn(&mut Tally)| {
        let (tally, _, peak) = rig.measure(|| {
            let mut tally = Tally { answers: Default::default(), worst: Duration::ZERO };
            requests(&mut tally);
            tally
        });
        let n: usize = tally.answers.values().sum();
        let answers: Vec<String> = tally.answers.iter().map(|(a, k)| format!("{a} ×{k}")).collect();
        t.row(&[
            &format!("{case} ({n} requests)"),
            &answers.join(", "),
            &format!("worst {}", dur(tally.worst)),
            &format!("+{}", mib(peak)),
        ]);
    };
    // 400, 404 (nothing matched at object/versions) or an empty result: never a match.
    let empty_or_refused = |r: &Resp| -> Option<String> {
        match r.status {
            400 | 404 => Some(r.status.to_string()),
            200 if r.text().trim() == "{}" || r.json()["versions"].as_array().is_some_and(Vec::is_empty) => {
                Some("200 empty".into())
            }
            _ => None,
        }
    };

    // The endpoint ignores the parameter (the object and its versions are chosen by the
    // path): the full result. Otherwise 400, 404 or empty, as above.
    let count_of = |r: &Resp| {
        let key = if r.text().contains("\"versions\"") { "versions" } else { "objects" };
        r.json()[key].as_array().map_or(0, Vec::len)
    };
    let full_result = |want: usize| {
        move |r: &Resp| match r.status {
            400 => Some("400".to_string()),
            200 if count_of(r) == want => Some("200 full result (ignored)".to_string()),
            _ => None,
        }
    };
    let expect_for = |i: usize, param: &str| -> Expect<'_> {
        let ignored = matches!(
            (endpoints[i].0, param),
            ("versions" | "object", "match[id]" | "match[type]") | ("versions", "match[version]")
        );
        if ignored { Box::new(full_result(baseline[i])) } else { Box::new(empty_or_refused) }
    };
    let metachars = ["'", "';--", "%", "_", "\\", "$1", "' OR '1'='1", "\u{0}", "%'--", "\"", "*"];
    let params =
        ["match[id]", "match[type]", "match[version]", "match[spec_version]", "added_after", "limit", "next"];
    family("SQL metacharacters ' ;-- % _ \\ $1 NUL \" * in every parameter", &|tally| {
        for (i, (_, path)) in endpoints.iter().enumerate() {
            for p in params {
                for v in metachars {
                    check(tally, &format!("{path}?{p}={}", enc(v)), &*expect_for(i, p));
                }
            }
        }
    });
    family("metacharacters wrapped around a real value (`indicator%`, `<id>'--`)", &|tally| {
        for (i, (_, path)) in endpoints.iter().enumerate() {
            for (p, v) in [
                ("match[type]", "indicator%"),
                ("match[type]", "indic_tor"),
                ("match[id]", &*format!("{id1}'--")),
                ("match[id]", &*format!("{}%", &id1[..20])),
            ] {
                check(tally, &format!("{path}?{p}={}", enc(v)), &*expect_for(i, p));
            }
        }
    });
    family("metacharacters in path segments (collection, object id)", &|tally| {
        for v in ["'", "';--", "%25", "_", "\\", "$1", "' OR '1'='1"] {
            for path in
                [t2::objects(&enc(v)), t2::object(t2::PUBLIC, &enc(v)), t2::versions(t2::PUBLIC, &enc(v))]
            {
                check(tally, &path, &|r: &Resp| (r.status == 404).then(|| "404".to_string()));
            }
        }
    });
    family("metacharacters in parameter names (unknown, ignored)", &|tally| {
        for (i, (_, path)) in endpoints.iter().enumerate() {
            for name in ["match[';--]", "match[%]", "match[$1]", "';--"] {
                check(tally, &format!("{path}?{}=x", enc(name)), &full_result(baseline[i]));
            }
        }
    });
    family("2,000 match[…] parameters (26 kB target)", &|tally| {
        let q: Vec<String> = (0..2000).map(|i| format!("match[f{i}]=x")).collect();
        for (_, path) in &endpoints {
            check(tally, &format!("{path}?{}", q.join("&")), &|r: &Resp| {
                (r.status == 414).then(|| "414".to_string())
            });
        }
    });
    family("500 unknown match[…] fields (within the 8 KiB target)", &|tally| {
        let q: Vec<String> = (0..500).map(|i| format!("match[f{i}]=x")).collect();
        for (i, (_, path)) in endpoints.iter().enumerate() {
            check(tally, &format!("{path}?{}", q.join("&")), &full_result(baseline[i]));
        }
    });
    family("300 repeated match[type]", &|tally| {
        let q = vec!["match[type]=indicator"; 300].join("&");
        for (_, path) in &endpoints {
            check(tally, &format!("{path}?{q}"), &|r: &Resp| (r.status == 400).then(|| "400".to_string()));
        }
    });
    family("match[id] listing 150 ids (one real)", &|tally| {
        let mut ids: Vec<String> = (100..249).map(|n| t2::sid("indicator", n)).collect();
        ids.push(id1.clone());
        let path = format!("{}?match[id]={}", t2::objects(t2::PUBLIC), ids.join(","));
        check(tally, &path, &|r: &Resp| {
            (r.status == 200 && t2::ids(r) == vec![t2::sid("indicator", 1)])
                .then(|| "200 the one object".to_string())
        });
    });
    family("100 kB value in every parameter", &|tally| {
        let long = "a".repeat(100_000);
        for (_, path) in &endpoints {
            for p in params {
                check(tally, &format!("{path}?{p}={long}"), &|r: &Resp| {
                    (r.status == 414).then(|| "414".to_string())
                });
            }
        }
    });
    family("7,900-byte value in every parameter (just under the limit)", &|tally| {
        let long = "a".repeat(7_900);
        for (i, (_, path)) in endpoints.iter().enumerate() {
            for p in params {
                check(tally, &format!("{path}?{p}={long}"), &*expect_for(i, p));
            }
        }
    });
    family("extreme timestamps in added_after and match[version]", &|tally| {
        for (_, path) in &endpoints {
            for p in ["added_after", "match[version]"] {
                for v in [
                    "0000-01-01T00:00:00Z",
                    "9999-12-31T23:59:59.999999Z",
                    "2024-12-31T23:59:60Z",
                    "1969-12-31T23:59:59.999999999Z",
                    "2024-01-01T00:00:00+23:59",
                    "99999-01-01T00:00:00Z",
                ] {
                    check(tally, &format!("{path}?{p}={}", enc(v)), &|r: &Resp| match r.status {
                        200 | 404 | 400 => Some(r.status.to_string()),
                        _ => None,
                    });
                }
            }
        }
    });
    family("limit: 0, -1, 1e3, 2^63, 10^30, ' ', 0x10", &|tally| {
        for (_, path) in &endpoints[..3] {
            for v in ["0", "-1", "1e3", "9223372036854775808", "1000000000000000000000000000000", " ", "0x10"]
            {
                check(tally, &format!("{path}?limit={}", enc(v)), &|r: &Resp| match r.status {
                    200 | 400 => Some(r.status.to_string()),
                    _ => None,
                });
            }
        }
    });

    // `next`: garbage, and a valid cursor tampered with.
    let page1 = who.get(&format!("{}?limit=1", t2::objects(t2::PUBLIC)));
    t2::assert_t21(&page1, 200);
    let cursor = page1.json()["next"].as_str().expect("a second page").to_string();
    let other = who.post(&t2::objects(t2::DROPBOX), &t2::envelope(&objs));
    t2::assert_t21(&other, 202);
    let foreign = who.get(&format!("{}?limit=1", t2::objects(t2::DROPBOX))).json()["next"]
        .as_str()
        .unwrap()
        .to_string();
    let flip = |s: &str, at: usize| -> String {
        let mut b = s.as_bytes().to_vec();
        b[at] = if b[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    };
    family("`next` garbage: x, a.b, ., %FF, 7 kB, NUL", &|tally| {
        for (_, path) in &endpoints[..3] {
            for v in ["x", "a.b", ".", "....", "\u{0}"] {
                check(tally, &format!("{path}?next={}", enc(v)), &|r: &Resp| {
                    (r.status == 400).then(|| "400".to_string())
                });
            }
            check(tally, &format!("{path}?next=%FF"), &|r: &Resp| {
                (r.status == 400).then(|| "400".to_string())
            });
            check(tally, &format!("{path}?next={}", "Q".repeat(7000)), &|r: &Resp| {
                (r.status == 400).then(|| "400".to_string())
            });
        }
    });
    family("`next` tampered: payload or MAC byte flipped, other filters, endpoint, collection", &|tally| {
        let objects = t2::objects(t2::PUBLIC);
        let dot = cursor.find('.').unwrap();
        let bad400 = |r: &Resp| (r.status == 400).then(|| "400".to_string());
        for c in [
            flip(&cursor, 0),
            flip(&cursor, dot - 1),
            flip(&cursor, dot + 1),
            flip(&cursor, cursor.len() - 1),
            cursor.replace('.', ""),
            format!("{cursor}.x"),
        ] {
            check(tally, &format!("{objects}?limit=1&next={}", enc(&c)), &bad400);
        }
        check(tally, &format!("{objects}?limit=1&match[type]=indicator&next={}", enc(&cursor)), &bad400);
        check(tally, &format!("{}?limit=1&next={}", t2::manifest(t2::PUBLIC), enc(&cursor)), &bad400);
        check(tally, &format!("{objects}?limit=1&next={}", enc(&foreign)), &bad400);
        // And the untouched cursor still serves page 2.
        check(tally, &format!("{objects}?limit=1&next={}", enc(&cursor)), &|r: &Resp| {
            (r.status == 200 && t2::ids(r).len() == 1).then(|| "200 page 2 (the valid cursor)".to_string())
        });
    });
    t.print();
    rig.assert_no_internal_errors();
}
