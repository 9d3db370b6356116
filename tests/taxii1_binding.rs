//! TAXII 1.x HTTP and XML binding (taxii1-checklist.md §0, §2): every TAXII
//! outcome is a Status_Message in HTTP 200 with the TAXII headers of the request's version,
//! digits-only message ids, echoed in_response_to, zoned timestamps, literal booleans, the
//! request header checks in OpenTAXII's order, 405/OPTIONS/404 outside TAXII, internal errors,
//! the https binding. BAD_MESSAGE for hostile or broken XML is in `taxii1_xml.rs`,
//! authentication in `taxii1_auth.rs`.

mod common;

use common::http::Resp;
use common::taxii1::*;
use taxiid::taxii1::messages::*;

/// Asserts a non-TAXII HTTP answer: no TAXII headers, no HTML.
#[track_caller]
fn assert_plain_http(r: &Resp, status: u16) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("x-taxii-content-type"), None, "{}", r.text());
    assert!(!r.text().to_ascii_lowercase().contains("<html"), "HTML body: {}", r.text());
}

/// The text of every element whose name ends in `Timestamp` or `Timestamp_Label`.
fn timestamps_in(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in xml.match_indices('<') {
        let rest = &xml[i + 1..];
        let Some(end) = rest.find('>') else { break };
        let tag = &rest[..end];
        if tag.starts_with('/') || tag.ends_with('/') {
            continue;
        }
        let name = tag.split_whitespace().next().unwrap_or("");
        if name.ends_with("Timestamp") || name.ends_with("Timestamp_Label") {
            out.push(rest[end + 1..].split('<').next().unwrap().to_string());
        }
    }
    out
}

/// `YYYY-MM-DDThh:mm:ss[.f{1,6}](Z|±hh:mm)`, the XSD pattern libtaxii needs.
fn is_taxii1_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    if b.len() < 20 || !(digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10)) {
        return false;
    }
    if !(b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19))
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || i - start > 6 {
            return false;
        }
    }
    match &s[i..] {
        "Z" => true,
        zone => {
            let z = zone.as_bytes();
            z.len() == 6
                && (z[0] == b'+' || z[0] == b'-')
                && z[3] == b':'
                && z[1..3].iter().chain(&z[4..6]).all(u8::is_ascii_digit)
        }
    }
}

/// Every value of attribute `name` in an XML text.
fn attr_values(xml: &str, name: &str) -> Vec<String> {
    let needle = format!(" {name}=\"");
    xml.split(&needle).skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect()
}

// ---------------------------------------------------------------------------------------
// §0 / §2.3: what every answer carries
// ---------------------------------------------------------------------------------------

#[test]
fn s0_1_s2_3_every_answer_is_http_200_with_taxii_headers() {
    let w = World::new();
    // A success, a TAXII error and a BAD_MESSAGE: check_reply asserts status line, headers,
    // version and message id for each.
    w.anon().send(DISCOVERY, &discovery_request()).discovery();
    let r = w.anon().poll(POLL, poll_request("no-such-collection"));
    r.expect(StatusType::NotFound);
    let r = w.anon().send_raw(POLL, b"this is not XML", Version::V11);
    assert_status(&r, StatusType::BadMessage, "0");
    // No compression, no cookies: cabby reads the raw stream.
    assert_eq!(r.resp.header("content-encoding"), None);
    assert_eq!(r.resp.header("set-cookie"), None);
}

#[test]
fn s0_3_answers_are_in_the_request_version() {
    let w = World::new();
    let v10 = w.anon().v10();
    let d = v10.send(DISCOVERY, &discovery_request());
    assert_eq!(d.discovery().service_instances[0].service_version, SERVICES_10);
    // Errors too.
    let r = v10.poll(POLL, poll_request_10("no-such-feed"));
    r.expect(StatusType::NotFound);
    // X-TAXII-Accept naming the other version changes nothing: the answer, success or
    // error, is in the body's version (OpenTAXII answers errors in the X-TAXII-Accept version).
    let c = w.anon();
    let msg = discovery_request();
    let req = c.req(DISCOVERY, write(Version::V11, &msg)).header("X-TAXII-Accept", MESSAGE_BINDING_XML_10);
    let r = check_reply(req.send(w.addr()), Version::V11);
    assert_eq!(r.in_response_to(), msg.message_id());
    r.discovery();
    let msg = Message::PollRequest(poll_request("no-such-collection"));
    let req = c.req(POLL, write(Version::V11, &msg)).header("X-TAXII-Accept", MESSAGE_BINDING_XML_10);
    let r = check_reply(req.send(w.addr()), Version::V11);
    assert_eq!(r.in_response_to(), msg.message_id());
    r.expect(StatusType::NotFound);
    let msg = Message::PollRequest(poll_request_10("no-such-feed"));
    let req = v10.req(POLL, write(Version::V10, &msg)).header("X-TAXII-Accept", MESSAGE_BINDING_XML_11);
    let r = check_reply(req.send(w.addr()), Version::V10);
    assert_eq!(r.in_response_to(), msg.message_id());
    r.expect(StatusType::NotFound);
}

#[test]
fn s0_4_message_ids_are_digits_and_in_response_to_echoes() {
    let w = World::new();
    let c = w.anon();
    // 1.1 message ids are any URI: echoed verbatim.
    for id in ["urn:uuid:8a1a1ad4-9f0a-4b4e-8c33-3bd0b3c1d2e9", "abc-123", "42"] {
        let msg =
            Message::DiscoveryRequest(SimpleRequest { message_id: id.into(), extended_headers: vec![] });
        let r = c.send(DISCOVERY, &msg);
        assert_eq!(r.in_response_to(), id);
    }
    let r1 = c.send(DISCOVERY, &discovery_request());
    let r2 = c.send(DISCOVERY, &discovery_request());
    assert_ne!(r1.msg.message_id(), r2.msg.message_id(), "fresh message ids");
    // 1.0 too, and for errors.
    let msg =
        Message::DiscoveryRequest(SimpleRequest { message_id: "987654321".into(), extended_headers: vec![] });
    assert_eq!(c.v10().send(DISCOVERY, &msg).in_response_to(), "987654321");
    let p = poll_request("nope");
    let id = p.message_id.clone();
    assert_eq!(c.poll(POLL, p).in_response_to(), id);
}

#[test]
fn s0_5_s3_timestamps_carry_a_zone_and_at_most_six_fraction_digits() {
    let w = World::new();
    w.add_blocks(
        &["feed-a"],
        &[
            ("t1", STIX111, None, "2024-01-01T00:00:00Z"),
            ("t2", STIX111, None, "2024-01-01T10:20:30.123456Z"),
            ("t3", STIX111, None, "2024-01-01T23:59:59.5+02:00"),
        ],
    );
    let mut p = poll_request("feed-a");
    p.exclusive_begin = Some(ts("2023-12-31T00:00:00.000001Z"));
    p.inclusive_end = Some(ts("2024-02-01T00:00:00-05:00"));
    for (path, r) in [
        (POLL_AUTH, w.basic("admin").poll(POLL_AUTH, p)),
        (POLL, w.anon().poll(POLL, poll_request("feed-a"))),
    ] {
        let xml = r.text();
        let found = timestamps_in(&xml);
        assert!(found.len() >= 2, "{path}: timestamps in {xml}");
        for t in &found {
            assert!(is_taxii1_timestamp(t), "{path}: bad timestamp {t:?} in {xml}");
        }
    }
    let all = w.basic("admin").poll_all(POLL_AUTH, poll_request("feed-a"));
    let labels: Vec<time::OffsetDateTime> =
        all.iter().flat_map(|p| p.content_blocks.iter()).map(|b| b.timestamp_label.unwrap()).collect();
    // OffsetDateTime compares instants, whatever the offsets.
    assert_eq!(
        labels,
        [ts("2024-01-01T00:00:00Z"), ts("2024-01-01T10:20:30.123456Z"), ts("2024-01-01T21:59:59.5Z")]
    );
    // 1.0 too (Inclusive_End_Timestamp is required there).
    let r = w.anon().v10().poll(POLL, poll_request_10("feed-a"));
    for t in timestamps_in(&r.text()) {
        assert!(is_taxii1_timestamp(&t), "bad 1.0 timestamp {t:?}");
    }
    assert!(r.poll().inclusive_end.is_some());
}

#[test]
fn s0_6_booleans_are_literally_true_or_false() {
    let w = World::new();
    w.five_blocks();
    let texts = [
        w.anon().poll(POLL, poll_request("feed-a")).text(),
        w.anon().send(CM, &collection_information_request()).text(),
        w.anon().send(DISCOVERY, &discovery_request()).text(),
    ];
    let mut seen = 0;
    for xml in &texts {
        for name in ["more", "available", "partial_count", "allow_asynch"] {
            for v in attr_values(xml, name) {
                assert!(v == "true" || v == "false", "{name}=\"{v}\" in {xml}");
                seen += 1;
            }
        }
    }
    assert!(seen >= 5, "booleans were checked: {texts:?}");
    assert_eq!(attr_values(&texts[0], "more"), ["true"]);
}

// ---------------------------------------------------------------------------------------
// §2.1 / §2.2: request headers and methods
// ---------------------------------------------------------------------------------------

fn supported_bindings() -> StatusDetails {
    StatusDetails {
        supported_bindings: vec![MESSAGE_BINDING_XML_10.into(), MESSAGE_BINDING_XML_11.into()],
        ..StatusDetails::default()
    }
}

#[test]
fn s2_2_header_problems_before_parsing_are_answered_in_response_to_0() {
    let w = World::new();
    let c = w.anon();
    let body = write(Version::V11, &discovery_request());
    let none = StatusDetails::default();
    // (what, request, status, details, message)
    let cases = [
        (
            "no X-TAXII-Content-Type",
            c.req(DISCOVERY, body.clone()).without("X-TAXII-Content-Type"),
            StatusType::Failure,
            none.clone(),
            "Header X-TAXII-Content-Type was not specified".to_string(),
        ),
        (
            "unknown X-TAXII-Content-Type",
            c.req(DISCOVERY, body.clone())
                .header("X-TAXII-Content-Type", "urn:taxii.mitre.org:message:json:1.1"),
            StatusType::UnsupportedMessage,
            supported_bindings(),
            "TAXII Content Type \"urn:taxii.mitre.org:message:json:1.1\" is not supported".to_string(),
        ),
        (
            "no Content-Type",
            c.req(DISCOVERY, body.clone()).without("Content-Type"),
            StatusType::Failure,
            none.clone(),
            "Header Content-Type was not specified".to_string(),
        ),
        (
            "Content-Type text/plain",
            c.req(DISCOVERY, body.clone()).header("Content-Type", "text/plain"),
            StatusType::Failure,
            none.clone(),
            "The specified value of Content-Type is not supported".to_string(),
        ),
    ];
    for (what, req, status, details, message) in cases {
        let r = check_reply(req.send(w.addr()), Version::V11);
        let s = r.status();
        assert_eq!(
            (&s.status_type, &s.details, s.message.as_deref(), s.in_response_to.as_str()),
            (&status, &details, Some(message.as_str()), "0"),
            "{what}: {}",
            r.text()
        );
    }
    // Before the body is read, the version comes from the headers.
    let req = c.v10().req(DISCOVERY, write(Version::V10, &discovery_request())).without("Content-Type");
    assert_status(&check_reply(req.send(w.addr()), Version::V10), StatusType::Failure, "0");
}

#[test]
fn s2_2_header_problems_after_parsing_are_answered_in_response_to_the_request() {
    let w = World::new();
    let c = w.anon();
    let msg = discovery_request();
    let body = write(Version::V11, &msg);
    let protocols = StatusDetails {
        supported_protocols: vec![PROTOCOL_HTTP.into(), PROTOCOL_HTTPS.into()],
        ..StatusDetails::default()
    };
    let cases = [
        (
            "no X-TAXII-Services",
            c.req(DISCOVERY, body.clone()).without("X-TAXII-Services"),
            StatusType::Failure,
            StatusDetails::default(),
            "Header X-TAXII-Services was not specified",
        ),
        (
            "unknown X-TAXII-Services",
            c.req(DISCOVERY, body.clone()).header("X-TAXII-Services", "urn:taxii.mitre.org:services:2.0"),
            StatusType::Failure,
            StatusDetails::default(),
            "The value of X-TAXII-Services was not recognized",
        ),
        (
            "unknown X-TAXII-Protocol",
            c.req(DISCOVERY, body.clone())
                .header("X-TAXII-Protocol", "urn:taxii.mitre.org:protocol:smtp:1.0"),
            StatusType::UnsupportedProtocol,
            protocols,
            "The specified value of X-TAXII-Protocol is not supported",
        ),
        (
            "unknown X-TAXII-Accept",
            c.req(DISCOVERY, body.clone()).header("X-TAXII-Accept", "urn:taxii.mitre.org:message:json:1.1"),
            StatusType::UnsupportedMessage,
            supported_bindings(),
            "The specified value of X-TAXII-Accept is not recognized",
        ),
    ];
    for (what, req, status, details, message) in cases {
        let r = check_reply(req.send(w.addr()), Version::V11);
        let s = r.status();
        assert_eq!(
            (&s.status_type, &s.details, s.message.as_deref(), s.in_response_to.as_str()),
            (&status, &details, Some(message), msg.message_id()),
            "{what}: {}",
            r.text()
        );
    }
    // The body's version against X-TAXII-Content-Type (OpenTAXII: schema validation fails).
    let ten =
        Message::DiscoveryRequest(SimpleRequest { message_id: "4711".into(), extended_headers: vec![] });
    let req = c.req(DISCOVERY, write(Version::V10, &ten));
    let r = check_reply(req.send(w.addr()), Version::V11);
    assert_status(&r, StatusType::BadMessage, "4711");
    let req = c.v10().req(DISCOVERY, write(Version::V11, &msg));
    let r = check_reply(req.send(w.addr()), Version::V10);
    assert_status(&r, StatusType::BadMessage, msg.message_id());
}

#[test]
fn s2_1_lax_requests_are_served() {
    let w = World::new();
    let c = w.anon();
    let body = || write(Version::V11, &discovery_request());
    let cases = [
        ("no X-TAXII-Protocol", c.req(DISCOVERY, body()).without("X-TAXII-Protocol")),
        ("no X-TAXII-Accept", c.req(DISCOVERY, body()).without("X-TAXII-Accept")),
        ("no Accept", c.req(DISCOVERY, body()).without("Accept")),
        ("Accept */*", c.req(DISCOVERY, body()).header("Accept", "*/*")),
        ("Accept application/*", c.req(DISCOVERY, body()).header("Accept", "application/*")),
        ("Accept list", c.req(DISCOVERY, body()).header("Accept", "text/html, application/xml;q=0.9")),
        ("charset", c.req(DISCOVERY, body()).header("Content-Type", "application/xml; charset=utf-8")),
        ("https binding over http", c.req(DISCOVERY, body()).header("X-TAXII-Protocol", PROTOCOL_HTTPS)),
        (
            "1.0 services header on a 1.1 body",
            c.req(DISCOVERY, body()).header("X-TAXII-Services", SERVICES_10),
        ),
        ("chunked body", c.req(DISCOVERY, body()).chunked()),
    ];
    for (what, req) in cases {
        let r = check_reply(req.send(w.addr()), Version::V11);
        assert!(matches!(r.msg, Message::DiscoveryResponse(_)), "{what}: {}", r.text());
    }
}

#[test]
fn s2_2_accept_excluding_xml_is_406() {
    let w = World::new();
    let req = w
        .anon()
        .req(DISCOVERY, write(Version::V11, &discovery_request()))
        .header("Accept", "application/json");
    assert_plain_http(&req.send(w.addr()), 406);
}

#[test]
fn s2_2_methods_other_than_post_are_405() {
    let w = World::new();
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let r = common::taxii2::Req::new(method, DISCOVERY).header("Accept", XML).send(w.addr());
        assert_plain_http(&r, 405);
        assert_eq!(r.header("allow"), Some("POST, OPTIONS"), "{method}");
    }
}

#[test]
fn s2_2_options_lists_methods_and_message_bindings() {
    let w = World::new();
    let r = common::taxii2::Req::new("OPTIONS", POLL).without("Accept").send(w.addr());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("allow"), Some("POST, OPTIONS"));
    assert_eq!(
        r.header("x-taxii-content-types"),
        Some("urn:taxii.mitre.org:message:xml:1.0,urn:taxii.mitre.org:message:xml:1.1")
    );
    assert!(r.body.is_empty(), "{}", r.text());
}

#[test]
fn s2_2_paths_match_service_addresses_exactly() {
    let w = World::new();
    let body = write(Version::V11, &discovery_request());
    for path in
        ["/services/nope", "/services/discovery/", "/services", "/services/DISCOVERY", "/services/discover"]
    {
        let r = w.anon().req(path, body.clone()).send(w.addr());
        assert_plain_http(&r, 404);
    }
    // The query string is not part of the address.
    let r = check_reply(w.anon().req("/services/discovery?x=1", body).send(w.addr()), Version::V11);
    r.discovery();
}

#[test]
fn s2_2_messages_a_service_does_not_handle_are_failure() {
    let w = World::new();
    let c = w.anon();
    let status = StatusMessage::new("1", StatusType::Success).into_message();
    let cases: Vec<(&str, Message)> = vec![
        (DISCOVERY, collection_information_request()),
        (DISCOVERY, Message::PollRequest(poll_request("feed-a"))),
        (POLL, discovery_request()),
        (POLL, inbox_message(&[], vec![block(STIX111, &stix("x"))])),
        (INBOX, Message::PollRequest(poll_request("feed-a"))),
        (INBOX, fulfillment("feed-a", "1", 1)),
        (CM, discovery_request()),
        (CM, Message::PollRequest(poll_request("feed-a"))),
        (POLL, status),
        (
            POLL,
            Message::PollResponse(PollResponse {
                in_response_to: "1".into(),
                collection_name: "feed-a".into(),
                message_id: mid(),
                ..Default::default()
            }),
        ),
    ];
    for (path, msg) in cases {
        let r = c.send(path, &msg);
        assert_status(&r, StatusType::Failure, msg.message_id());
        assert_eq!(
            r.status().message.as_deref(),
            Some("Message not supported by this service"),
            "{path}: {}",
            r.text()
        );
    }
    let v10 = c.v10();
    let r = v10.send(DISCOVERY, &feed_information_request());
    assert_eq!(r.status().status_type, StatusType::Failure, "{}", r.text());
}

#[test]
fn s2_2_an_unavailable_service_answers_failure() {
    let w = World::new();
    let mut db = w.db();
    let mut props = service_properties(&mut db, "poll");
    props["available"] = serde_json::json!(false);
    set_service_properties(&mut db, "poll", &props);
    let r = w.anon().poll(POLL, poll_request("feed-a"));
    let s = r.expect(StatusType::Failure);
    assert_eq!(s.message.as_deref(), Some("The service is not available"), "{}", r.text());
    // Discovery says so.
    let d = w.anon().send(DISCOVERY, &discovery_request());
    let poll =
        d.discovery().service_instances.iter().find(|s| s.address == abs(POLL)).expect("poll advertised");
    assert_eq!(poll.available, Some(false));
}

#[test]
fn s2_4_internal_errors_are_failure_without_details() {
    let w = World::new();
    // A collection row no OpenTAXII would write: its bindings are not a JSON list.
    w.db()
        .execute("UPDATE data_collections SET bindings = 'not json at all {' WHERE name = 'set-b'", &[])
        .unwrap();
    let p = poll_with_bindings("set-b", &[(STIX111, &[])]);
    let id = p.message_id.clone();
    let r = w.anon().poll(POLL, p);
    assert_status(&r, StatusType::Failure, &id);
    assert_eq!(r.status().message.as_deref(), Some("Server error occurred"), "{}", r.text());
    assert!(r.status().details.is_empty());
    // The server goes on.
    w.anon().send(DISCOVERY, &discovery_request()).discovery();
    assert_eq!(w.anon().poll(POLL, poll_request("feed-a")).poll().content_blocks.len(), 0);

    // http.return_server_error_details adds what went wrong (OpenTAXII's intent).
    let w = World::with("http.return_server_error_details = yes\n");
    w.db()
        .execute("UPDATE data_collections SET bindings = 'not json at all {' WHERE name = 'set-b'", &[])
        .unwrap();
    let r = w.anon().poll(POLL, poll_with_bindings("set-b", &[(STIX111, &[])]));
    let message = r.expect(StatusType::Failure).message.clone().unwrap_or_default();
    assert!(message.starts_with("Server error occurred: ") && message.len() > 24, "{message}");
}

#[test]
fn s2_5_https_answers_name_the_https_binding() {
    let pki = common::tls::TestPki::new();
    let conninfo = common::fresh_database();
    create_world_layout(&conninfo);
    let extra = format!(
        "{}tls.certificate = {}\ntls.private_key = {}\n",
        world_config(),
        pki.cert().display(),
        pki.key().display()
    );
    let config = common::server::write_config(&conninfo, &extra);
    let text =
        std::fs::read_to_string(&config).unwrap().replace("listen = 127.0.0.1:0", "listen = 127.0.0.1:0 tls");
    std::fs::write(&config, text).unwrap();
    let srv = common::server::Taxiid::start_with(config, &[]);
    let send = |path: &str, msg: &Message| {
        let mut tls = pki.connect(srv.addr);
        let raw = taxii_req(path, Version::V11, write(Version::V11, msg))
            .header("X-TAXII-Protocol", PROTOCOL_HTTPS)
            .raw();
        std::io::Write::write_all(&mut tls, &raw).unwrap();
        common::http::read_response(&mut tls)
    };
    for (path, msg) in [(DISCOVERY, discovery_request()), (POLL, Message::PollRequest(poll_request("nope")))]
    {
        let r = send(path, &msg);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("x-taxii-protocol"), Some(PROTOCOL_HTTPS), "{}", r.text());
        assert_eq!(r.header("x-taxii-content-type"), Some(MESSAGE_BINDING_XML_11));
        parse(&r.body).unwrap();
    }
    // A refusal before the body is read (here a body over http.max_body_bytes) names the
    // https binding too.
    let mut tls = pki.connect(srv.addr);
    let head = format!(
        "POST {POLL} HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\nContent-Length: 10000000000\r\n\r\n"
    );
    std::io::Write::write_all(&mut tls, head.as_bytes()).unwrap();
    let r = common::http::read_response(&mut tls);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-taxii-protocol"), Some(PROTOCOL_HTTPS), "{}", r.text());
    let (_, Message::StatusMessage(s)) = parse(&r.body).unwrap() else { panic!("{}", r.text()) };
    assert_eq!(s.status_type, StatusType::Failure);
    assert!(s.message.as_deref().unwrap_or_default().contains("HTTP 413"), "{:?}", s.message);

    // The discovery answer lists both bindings, with their schemes, whatever the transport.
    let r = send(DISCOVERY, &discovery_request());
    let (_, Message::DiscoveryResponse(d)) = parse(&r.body).unwrap() else { panic!("{}", r.text()) };
    let mut disc: Vec<(String, String)> = d
        .service_instances
        .iter()
        .filter(|i| i.service_type == ServiceType::Discovery)
        .map(|i| (i.protocol_binding.clone(), i.address.clone()))
        .collect();
    disc.sort();
    assert_eq!(
        disc,
        [(PROTOCOL_HTTP.to_string(), abs(DISCOVERY)), (PROTOCOL_HTTPS.to_string(), abs_https(DISCOVERY))]
    );
}

#[test]
fn s2_5_behind_a_tls_terminating_proxy_x_forwarded_proto_names_the_https_binding() {
    let w = World::new();
    let c = w.anon();
    let protocol = |forwarded: Option<&str>| {
        let mut req = c.req(DISCOVERY, write(Version::V11, &discovery_request()));
        if let Some(f) = forwarded {
            req = req.header("X-Forwarded-Proto", f);
        }
        let r = req.send(w.addr());
        assert_eq!(r.status, 200, "{}", r.text());
        r.header("x-taxii-protocol").unwrap_or_default().to_string()
    };
    assert_eq!(protocol(None), PROTOCOL_HTTP);
    assert_eq!(protocol(Some("https")), PROTOCOL_HTTPS);
    assert_eq!(protocol(Some("HTTPS, http")), PROTOCOL_HTTPS);
    assert_eq!(protocol(Some("http")), PROTOCOL_HTTP);
}

#[test]
fn s2_4_a_database_outage_is_a_failure_status_and_passes() {
    let dir = common::server::scratch_dir().join("pg");
    let mut cluster =
        taxiid::db::Cluster::start(&dir, taxiid::db::ClusterOptions { ephemeral: true }).unwrap();
    cluster.create_database("app", None).unwrap();
    let conninfo = cluster.conninfo("app");
    taxiid::db::migrate(&mut common::connect(&conninfo)).unwrap();
    create_world_layout(&conninfo);
    let srv = common::server::Taxiid::start(&conninfo, &world_config());
    let c = Client::new(srv.addr);
    c.send(DISCOVERY, &discovery_request()).discovery();

    cluster.stop().unwrap();
    for (path, msg) in
        [(DISCOVERY, discovery_request()), (POLL, Message::PollRequest(poll_request("feed-a")))]
    {
        let r = c.send(path, &msg);
        let s = r.expect(StatusType::Failure);
        assert_eq!(
            s.message.as_deref(),
            Some("The database is temporarily unavailable; retry the request shortly"),
            "{}",
            r.text()
        );
    }
    let r = c.v10().send(DISCOVERY, &discovery_request());
    r.expect(StatusType::Failure);

    cluster.start_again().unwrap();
    let started = std::time::Instant::now();
    loop {
        let r = c.send(DISCOVERY, &discovery_request());
        if matches!(r.msg, Message::DiscoveryResponse(_)) {
            break;
        }
        assert!(started.elapsed().as_secs() < 15, "not serving again: {}", r.text());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn s0_1_http_level_refusals_at_a_service_address_are_failure_statuses() {
    // cabby reads nothing but Status_Messages in HTTP 200: a body over http.max_body_bytes at
    // a service address is answered as a FAILURE it can print, not as a JSON 413.
    let w = World::with("http.max_body_bytes = 4096\n");
    w.anon().send(DISCOVERY, &discovery_request()).discovery(); // the address is now known
    let big = format!("<x>{}</x>", "a".repeat(10_000));
    let r = check_reply(w.anon().req(DISCOVERY, big.into_bytes()).send(w.addr()), Version::V11);
    let s = r.expect(StatusType::Failure);
    assert!(s.message.as_deref().unwrap_or("").contains("HTTP 413"), "{:?}", s.message);
    assert_eq!(r.resp.header("connection"), Some("close"));
    // Elsewhere the same refusal stays plain HTTP.
    let raw = "POST /management/auth HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n";
    let r = common::http::request(w.addr(), raw.as_bytes());
    assert_eq!(r.status, 413);
}
