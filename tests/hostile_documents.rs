//! Hostile documents posted to a real `taxiid serve` (issue 8, "Hostile clients"): XML at the
//! TAXII 1.1 inbox and poll addresses (entity expansion, external entities, deep nesting, huge
//! attributes, invalid UTF-8, a wrong namespace) is BAD_MESSAGE within bounded memory, and
//! JSON posted to TAXII 2.1 Add Objects (deep nesting, huge numbers, duplicate keys, NULs,
//! floods of members or elements) gets a TAXII error or a status, never a 500, with what is
//! stored returned byte for byte. Each test prints a table `case | answer | time | RSS` (RSS:
//! the server's peak resident memory during the case, above what it held before) that the
//! README's Reliability section quotes.
//!
//! Single cases that the codec tests (tests/taxii1_xml.rs, tests/taxii1_codec.rs) already pin
//! are repeated here only as rows of these tables, against the whole server with its
//! database, to measure them.

mod common;

use common::figures::{Table, dur, mib};
use common::hostile::{Rig, describe};
use common::taxii1 as t1;
use common::taxii2 as t2;
use t2::T21;
use taxiid::taxii1::messages::{NS_TAXII_11, StatusType, Version};

// ---------------------------------------------------------------------------------------
// XML (TAXII 1 inbox and poll addresses)
// ---------------------------------------------------------------------------------------

/// `<t:{root} xmlns:t=TAXII 1.1 {attrs}>{body}</t:{root}>`.
fn xml11(root: &str, attrs: &str, body: &str) -> Vec<u8> {
    format!(r#"<t:{root} xmlns:t="{NS_TAXII_11}" {attrs}>{body}</t:{root}>"#).into_bytes()
}

/// The request element for an address: an Inbox_Message or a Poll_Request.
fn root_of(path: &str) -> (&'static str, &'static str) {
    if path == t1::INBOX {
        ("Inbox_Message", r#"message_id="42""#)
    } else {
        ("Poll_Request", r#"message_id="42" collection_name="feed-a""#)
    }
}

fn billion_laughs(path: &str) -> Vec<u8> {
    let (root, attrs) = root_of(path);
    let mut doctype = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 { "lol".to_string() } else { format!("lol{}", i - 1) };
        doctype.push_str(&format!(" <!ENTITY lol{i} \"{}\">\n", format!("&{prev};").repeat(10)));
    }
    doctype.push_str("]>\n");
    let mut out = doctype.into_bytes();
    out.extend(xml11(root, attrs, "<t:Message>&lol9;</t:Message>"));
    out
}

fn external_entity(path: &str) -> Vec<u8> {
    let (root, attrs) = root_of(path);
    let mut out =
        br#"<?xml version="1.0"?><!DOCTYPE t [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>"#.to_vec();
    out.extend(xml11(root, attrs, "<t:Message>&xxe;</t:Message>"));
    out
}

fn deep_nesting(path: &str) -> Vec<u8> {
    let (root, attrs) = root_of(path);
    xml11(root, attrs, &format!("{}{}", "<t:Message>".repeat(100_000), "</t:Message>".repeat(100_000)))
}

fn deep_payload(_: &str) -> Vec<u8> {
    let content = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
    xml11(
        "Inbox_Message",
        r#"message_id="42""#,
        &format!(
            r#"<t:Content_Block><t:Content_Binding binding_id="{}"/><t:Content>{content}</t:Content></t:Content_Block>"#,
            t1::STIX111
        ),
    )
}

fn huge_attribute(path: &str) -> Vec<u8> {
    let (root, attrs) = root_of(path);
    xml11(root, &format!(r#"{attrs} x="{}""#, "A".repeat(50_000_000)), "")
}

fn invalid_utf8(path: &str) -> Vec<u8> {
    let (root, attrs) = root_of(path);
    let mut out = xml11(root, attrs, "<t:Message>@@</t:Message>");
    let at = out.windows(2).position(|w| w == b"@@").unwrap();
    out[at] = 0xff;
    out[at + 1] = 0xfe;
    out
}

fn wrong_namespace(path: &str) -> Vec<u8> {
    let (root, attrs) = root_of(path);
    String::from_utf8(xml11(root, attrs, ""))
        .unwrap()
        .replace(NS_TAXII_11, "http://example.com/not-taxii")
        .into_bytes()
}

#[test]
fn xml_hostile_messages_are_bad_message() {
    let rig = Rig::start("");
    let client = t1::Client::new(rig.addr());
    type Build = fn(&str) -> Vec<u8>;
    let cases: [(&str, Build, &[&str]); 7] = [
        ("billion laughs (10^9 expansions)", billion_laughs, &[t1::INBOX, t1::POLL]),
        ("external entity file:///etc/passwd", external_entity, &[t1::INBOX, t1::POLL]),
        ("100,000-deep element nesting", deep_nesting, &[t1::INBOX, t1::POLL]),
        ("100,000-deep nesting inside Content", deep_payload, &[t1::INBOX]),
        ("50 MB attribute value", huge_attribute, &[t1::INBOX, t1::POLL]),
        ("invalid UTF-8 (0xFF 0xFE)", invalid_utf8, &[t1::INBOX, t1::POLL]),
        ("wrong namespace", wrong_namespace, &[t1::INBOX, t1::POLL]),
    ];
    let mut t = Table::new(
        "XML at TAXII 1.1 addresses (every answer HTTP 200 with the TAXII headers)",
        &["case", "answer", "time", "RSS"],
    );
    for (case, build, paths) in cases {
        for path in paths {
            let body = build(path);
            let ((status, message), took, peak) = rig.measure(|| {
                let r = client.send_raw(path, &body, Version::V11);
                let s = r.status().clone();
                (s.status_type, s.message.unwrap_or_default())
            });
            assert_eq!(status, StatusType::BadMessage, "{case} at {path}: {message}");
            assert!(!message.contains("root:"), "{case}: a file's content leaked: {message}");
            // Bounded: the body itself (held while it is parsed) plus a constant.
            let bound = 2 * body.len() as u64 / 1024 + 32 * 1024;
            assert!(peak < bound, "{case} at {path}: peak RSS +{} for a {} byte body", mib(peak), body.len());
            let short: String = message.chars().take(70).collect();
            t.row(&[
                &format!("{case} → {path} ({})", size(body.len())),
                &format!("200 BAD_MESSAGE \"{short}\""),
                &dur(took),
                &format!("+{}", mib(peak)),
            ]);
        }
    }
    t.print();
    let mut db = rig.db();
    assert_eq!(t1::count(&mut db, "SELECT count(*) FROM content_blocks"), 0);
    assert_eq!(t1::count(&mut db, "SELECT count(*) FROM inbox_messages"), 0);
    rig.assert_no_internal_errors();
}

fn size(n: usize) -> String {
    match n {
        0..1000 => format!("{n} B"),
        1000..1_000_000 => format!("{:.0} kB", n as f64 / 1e3),
        _ => format!("{:.0} MB", n as f64 / 1e6),
    }
}

// ---------------------------------------------------------------------------------------
// JSON (TAXII 2.1 Add Objects)
// ---------------------------------------------------------------------------------------

/// An indicator with these extra members (raw JSON text after a comma).
fn object_with(n: u64, extra: &str) -> String {
    format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"{}","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"hostile {n}",{extra}}}"#,
        t2::sid("indicator", n)
    )
}

fn envelope_of(objects: &[String]) -> Vec<u8> {
    format!(r#"{{"objects":[{}]}}"#, objects.join(",")).into_bytes()
}

/// What a case must come to.
enum Want {
    /// A TAXII error with this status.
    Error(u16),
    /// 202 with these counts; stored objects must come back with `member` byte for byte.
    Status { success: u64, failure: u64, member: Option<&'static str> },
}

#[test]
fn json_hostile_envelopes_are_taxii_errors_never_500() {
    let rig = Rig::start("");
    let who = rig.admin();
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!("{}1{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000));
    let big_int = format!("1{}", "0".repeat(399));
    let huge = Box::leak(format!(r#""x_huge":[1e400,-1e-400,{big_int},-{big_int}.5E+400]"#).into_boxed_str());
    let mut invalid_utf8 = envelope_of(&[object_with(20, r#""x_bad":"@@""#)]);
    let at = invalid_utf8.windows(2).position(|w| w == b"@@").unwrap();
    invalid_utf8[at] = 0xc3;
    invalid_utf8[at + 1] = 0x28;
    let mut raw_nul = envelope_of(&[object_with(21, r#""x_nul":"a@b""#)]);
    let at = raw_nul.iter().position(|&b| b == b'@').unwrap();
    raw_nul[at] = 0;

    let cases: Vec<(&str, Vec<u8>, Want)> = vec![
        ("100,000-deep arrays as the whole body", deep_array.clone().into_bytes(), Want::Error(422)),
        (
            "100,000-deep arrays as an element of `objects`",
            format!(r#"{{"objects":[{deep_array}]}}"#).into_bytes(),
            Want::Status { success: 0, failure: 1, member: None },
        ),
        (
            "100,000-deep arrays in a property",
            envelope_of(&[object_with(1, &format!(r#""x_deep":{deep_array}"#))]),
            Want::Status { success: 0, failure: 1, member: None },
        ),
        (
            "100,000-deep objects in a property",
            envelope_of(&[object_with(2, &format!(r#""x_deep":{deep_object}"#))]),
            Want::Status { success: 0, failure: 1, member: None },
        ),
        (
            "huge numbers: 1e400, -1e-400, 400-digit integers",
            envelope_of(&[object_with(3, huge)]),
            Want::Status { success: 1, failure: 0, member: Some(huge) },
        ),
        (
            "duplicate key in an object",
            envelope_of(&[object_with(4, r#""name":"again""#)]),
            Want::Status { success: 0, failure: 1, member: None },
        ),
        (
            "duplicate `objects` key in the envelope",
            format!(r#"{{"objects":[{}],"objects":[{}]}}"#, object_with(5, r#""x":1"#), object_with(6, r#""x":2"#))
                .into_bytes(),
            Want::Error(422),
        ),
        ("invalid UTF-8 in a string", invalid_utf8, Want::Error(422)),
        (
            r"escaped NUL (\u0000) in a value and a key",
            envelope_of(&[object_with(7, r#""x_nul":"a\u0000b","x_\u0000":1"#)]),
            Want::Status { success: 1, failure: 0, member: Some(r#""x_nul":"a\u0000b","x_\u0000":1"#) },
        ),
        ("raw NUL byte in a string", raw_nul, Want::Error(422)),
        (
            r"lone surrogate escapes (\ud800, \udc00)",
            envelope_of(&[object_with(8, r#""x_hi":"\ud800","x_lo":"\udc00x""#)]),
            // Valid JSON syntax (RFC 8259 §8.2): kept as sent, like any other escape.
            Want::Status { success: 1, failure: 0, member: Some(r#""x_hi":"\ud800","x_lo":"\udc00x""#) },
        ),
        (
            "NUL in the id",
            envelope_of(&[r#"{"type":"indicator","spec_version":"2.1","id":"indicator--\u0000","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z"}"#.to_string()]),
            Want::Status { success: 0, failure: 1, member: None },
        ),
        (
            r"NUL in the type and in a duplicate key",
            envelope_of(&[
                r#"{"type":"indi\u0000cator","id":"indicator--00000000-0000-4000-8000-000000000009"}"#.to_string(),
                object_with(10, r#""x_\u0000":1,"x_\u0000":2"#),
            ]),
            Want::Status { success: 0, failure: 2, member: None },
        ),
        (
            "a 200-character custom type (a well-formed id of 238 characters)",
            envelope_of(&[format!(
                r#"{{"type":"x-{0}","id":"x-{0}--00000000-0000-4000-8000-000000000011","created":"2024-01-01T00:00:00.000Z"}}"#,
                "a".repeat(200)
            )]),
            Want::Status { success: 0, failure: 1, member: None },
        ),
        (
            "an object with 100,000 members",
            envelope_of(&[object_with(
                12,
                &(0..100_000).map(|i| format!(r#""x{i:x}":1"#)).collect::<Vec<_>>().join(","),
            )]),
            Want::Status { success: 1, failure: 0, member: None },
        ),
        (
            "`objects` of 100,000 numbers",
            format!(r#"{{"objects":[{}]}}"#, vec!["1"; 100_000].join(",")).into_bytes(),
            Want::Error(422),
        ),
        (
            "`objects` of 1,000 numbers and one object (the most failures one status lists)",
            format!(r#"{{"objects":[{},{}]}}"#, vec!["1"; 1000].join(","), object_with(14, r#""x":1"#)).into_bytes(),
            Want::Status { success: 1, failure: 1000, member: None },
        ),
        (
            "an envelope with 100,000 other members",
            format!(
                r#"{{{},"objects":[{}]}}"#,
                (0..100_000).map(|i| format!(r#""m{i:x}":1"#)).collect::<Vec<_>>().join(","),
                object_with(13, r#""x":1"#)
            )
            .into_bytes(),
            Want::Status { success: 1, failure: 0, member: None },
        ),
        (
            "an id of 10,000 characters",
            envelope_of(&[format!(r#"{{"type":"indicator","id":"indicator--{}"}}"#, "a".repeat(10_000))]),
            Want::Status { success: 0, failure: 1, member: None },
        ),
    ];
    let mut t = Table::new("JSON posted to TAXII 2.1 Add Objects", &["case", "answer", "time", "RSS"]);
    for (case, body, want) in cases {
        let (r, took, peak) = rig.measure(|| {
            who.req("POST", &t2::objects(t2::PUBLIC))
                .header("Content-Type", T21)
                .body(body.clone())
                .send(rig.addr())
        });
        assert_ne!(r.status, 500, "{case}: {}", r.text());
        let mut answer = describe(&r);
        match want {
            Want::Error(code) => {
                t2::assert_error(&r, code);
                let d = r.json()["description"].as_str().unwrap().to_string();
                answer = format!("{answer}: {}", d.chars().take(50).collect::<String>());
            }
            Want::Status { success, failure, member } => {
                t2::assert_t21(&r, 202);
                let j = r.json();
                assert_eq!(
                    (j["success_count"].as_u64(), j["failure_count"].as_u64()),
                    (Some(success), Some(failure)),
                    "{case}: {j}"
                );
                if let Some(f) = j["failures"].as_array().and_then(|f| f.first()) {
                    let m = f["message"].as_str().unwrap_or_default();
                    answer = format!("{answer}: \"{}\"", m.chars().take(50).collect::<String>());
                }
                if let (Some(member), Some(s)) = (member, j["successes"].as_array().and_then(|s| s.first())) {
                    let id = s["id"].as_str().unwrap();
                    let back = who.get(&t2::object(t2::PUBLIC, id));
                    t2::assert_t21(&back, 200);
                    let stored = t2::raw_list(&back.body, "objects");
                    assert!(stored[0].contains(member), "{case}: not byte-exact: {}", stored[0]);
                    answer = format!("{answer}, returned byte for byte");
                }
            }
        }
        t.row(&[&format!("{case} ({})", size(body.len())), &answer, &dur(took), &format!("+{}", mib(peak))]);
    }
    t.print();
    rig.assert_no_internal_errors();
}
