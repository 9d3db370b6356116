//! TAXII 1.x XML binding rules for requests (taxii1-checklist.md §3): BAD_MESSAGE in HTTP 200
//! for XML that is hostile (entity expansion, external entities, deep nesting) or broken
//! (truncated, not UTF-8, wrong or no namespace, unknown message, missing attributes), in the
//! request's version and in response to its id once that is known; messages written by other
//! implementations (prefixes, default namespaces, offsets) understood; Extended_Headers and
//! signatures ignored.

mod common;

use common::taxii1::*;
use taxiid::taxii1::messages::*;

/// A 1.1 message `<t:{root} xmlns:t=… {attrs}>{body}</t:{root}>`.
fn raw11(root: &str, attrs: &str, body: &str) -> Vec<u8> {
    format!(r#"<t:{root} xmlns:t="{NS_TAXII_11}" {attrs}>{body}</t:{root}>"#).into_bytes()
}

fn raw10(root: &str, attrs: &str, body: &str) -> Vec<u8> {
    format!(r#"<t:{root} xmlns:t="{NS_TAXII_10}" {attrs}>{body}</t:{root}>"#).into_bytes()
}

// ---------------------------------------------------------------------------------------
// §3: XML that is not a valid TAXII message
// ---------------------------------------------------------------------------------------

const BILLION_LAUGHS: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<t:Inbox_Message xmlns:t="http://taxii.mitre.org/messages/taxii_xml_binding-1.1" message_id="1">
<t:Message>&lol9;</t:Message></t:Inbox_Message>"#;

#[test]
fn s3_hostile_and_broken_xml_is_bad_message() {
    let w = World::new();
    let c = w.anon();
    let xxe = format!(
        r#"<?xml version="1.0"?><!DOCTYPE t [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><t:Inbox_Message xmlns:t="{NS_TAXII_11}" message_id="1"><t:Message>&xxe;</t:Message></t:Inbox_Message>"#
    );
    let deep = raw11(
        "Inbox_Message",
        r#"message_id="77""#,
        &format!("{}{}", "<t:Message>".repeat(100_000), "</t:Message>".repeat(100_000)),
    );
    let deep_payload = raw11(
        "Inbox_Message",
        r#"message_id="78""#,
        &format!(
            r#"<t:Content_Block><t:Content_Binding binding_id="{STIX111}"/><t:Content>{}{}</t:Content></t:Content_Block>"#,
            "<a>".repeat(50_000),
            "</a>".repeat(50_000)
        ),
    );
    let good = write(
        Version::V11,
        &Message::DiscoveryRequest(SimpleRequest { message_id: "79".into(), extended_headers: vec![] }),
    );
    // Cut inside the body, after the root's start tag: the request's id is known.
    let mut inbox = inbox_message(&[], vec![block(STIX111, &stix("cut"))]);
    if let Message::InboxMessage(m) = &mut inbox {
        m.message_id = "79".into();
    }
    let inbox = write(Version::V11, &inbox);
    let truncated = inbox[..inbox.len() - 40].to_vec();
    let bad_utf8 =
        String::from_utf8(raw11("Inbox_Message", r#"message_id="84""#, "<t:Message>@@</t:Message>"))
            .unwrap()
            .replace("@@", "\u{1}")
            .into_bytes()
            .into_iter()
            .map(|b| if b == 1 { 0xff } else { b })
            .collect::<Vec<u8>>();
    let wrong_ns = String::from_utf8(good.clone())
        .unwrap()
        .replace(NS_TAXII_11, "http://example.com/not-taxii")
        .into_bytes();
    // (what, path, body, in_response_to)
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        ("not XML", DISCOVERY, b"hello, world".to_vec(), "0"),
        ("empty body", DISCOVERY, Vec::new(), "0"),
        ("billion laughs", INBOX, BILLION_LAUGHS.as_bytes().to_vec(), "0"),
        ("external entity", INBOX, xxe.into_bytes(), "0"),
        ("deep envelope", INBOX, deep, "77"),
        ("deep payload", INBOX, deep_payload, "78"),
        ("truncated", INBOX, truncated, "79"),
        ("wrong namespace", DISCOVERY, wrong_ns, "0"),
        ("no namespace", DISCOVERY, b"<Discovery_Request message_id=\"80\"/>".to_vec(), "0"),
        ("unknown message", DISCOVERY, raw11("Frobnicate_Request", r#"message_id="81""#, ""), "0"),
        ("no message_id", DISCOVERY, raw11("Discovery_Request", "", ""), "0"),
        (
            "poll without collection",
            POLL,
            raw11("Poll_Request", r#"message_id="82""#, "<t:Poll_Parameters/>"),
            "82",
        ),
        (
            "bad timestamp",
            POLL,
            raw11(
                "Poll_Request",
                r#"message_id="83" collection_name="feed-a""#,
                "<t:Exclusive_Begin_Timestamp>yesterday</t:Exclusive_Begin_Timestamp><t:Poll_Parameters/>",
            ),
            "83",
        ),
        ("invalid UTF-8", INBOX, bad_utf8, "0"),
    ];
    for (what, path, body, irt) in cases {
        let r = c.send_raw(path, &body, Version::V11);
        let s = r.status();
        assert_eq!(s.status_type, StatusType::BadMessage, "{what}: {}", r.text());
        assert_eq!(s.in_response_to, irt, "{what}: {}", r.text());
        assert!(s.message.as_deref().is_some_and(|m| !m.is_empty()), "{what}: a message says why");
    }
    // Nothing was stored.
    assert_eq!(count(&mut w.db(), "SELECT count(*) FROM inbox_messages"), 0);
}

#[test]
fn s3_bad_10_messages_get_10_answers() {
    let w = World::new();
    let c = w.anon().v10();
    // 1.0 message ids are digits only.
    let r = c.send_raw(DISCOVERY, &raw10("Discovery_Request", r#"message_id="abc""#, ""), Version::V10);
    assert_status(&r, StatusType::BadMessage, "0");
    // 1.0 has no PAUSE.
    let r = c.send_raw(
        CM,
        &raw10("Subscription_Management_Request", r#"message_id="5" feed_name="feed-a" action="PAUSE""#, ""),
        Version::V10,
    );
    assert_status(&r, StatusType::BadMessage, "5");
    // Garbage with 1.0 headers: answered in 1.0 (the headers' version).
    let r = c.send_raw(DISCOVERY, b"<<<", Version::V10);
    assert_status(&r, StatusType::BadMessage, "0");
}

#[test]
fn s3_foreign_prefixes_default_namespaces_and_offsets_are_understood() {
    let w = World::new();
    let sample = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/reference/taxii1-messages/foreign/Inbox_Message.xml"
    ))
    .unwrap();
    let (_, parsed) = parse(&sample).unwrap();
    let id = parsed.message_id().to_string();
    // inbox-strict does not know collection1: NOT_FOUND, never BAD_MESSAGE.
    let r = w.anon().send_raw(INBOX_STRICT, &sample, Version::V11);
    let s = r.expect(StatusType::NotFound);
    assert_eq!(s.in_response_to, id);
    assert_eq!(s.details.item.as_deref(), Some("collection1"), "{}", r.text());
    assert_eq!(s.message.as_deref(), Some("Collection collection1 was not found"));
    // The open inbox forbids destinations.
    let r = w.anon().send_raw(INBOX, &sample, Version::V11);
    assert_status(&r, StatusType::DestinationCollectionError, &id);
}

#[test]
fn s3_extended_headers_and_signatures_are_ignored() {
    let w = World::new();
    let sample = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/reference/taxii1-messages/taxii11/Discovery_Request.xml"
    ))
    .unwrap();
    let r = w.anon().send_raw(DISCOVERY, &sample, Version::V11);
    r.discovery();
    let signed = raw11(
        "Discovery_Request",
        &format!(r#"xmlns:ds="{NS_XMLDSIG}" message_id="90""#),
        "<ds:Signature><ds:SignedInfo/></ds:Signature>",
    );
    let r = w.anon().send_raw(DISCOVERY, &signed, Version::V11);
    assert_eq!(r.in_response_to(), "90");
    r.discovery();
}
