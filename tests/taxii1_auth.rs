//! TAXII 1.x authentication (taxii1-checklist.md §8, §9): per service
//! (`authentication_required`), HTTP Basic and the JWT from `/management/auth`, bad
//! credentials refused even on open services, open services serving every caller as an
//! admin, and every refusal a Status_Message UNAUTHORIZED (or `taxii1.unauthorized_status`)
//! in HTTP 200, in response to "0".

mod common;

use common::taxii1::*;
use taxiid::taxii1::messages::*;

// ---------------------------------------------------------------------------------------
// §8 / §9: authentication
// ---------------------------------------------------------------------------------------

#[test]
fn s8_auth_required_without_credentials_is_unauthorized_in_http_200() {
    let w = World::new();
    for (path, msg) in [
        (POLL_AUTH, Message::PollRequest(poll_request("feed-a"))),
        (INBOX_AUTH, inbox_message(&["feed-a"], vec![block(STIX111, &stix("x"))])),
        (CM_AUTH, collection_information_request()),
    ] {
        let r = w.anon().send(path, &msg);
        assert_status(&r, StatusType::Unauthorized, "0");
        assert_eq!(r.resp.header("www-authenticate"), None);
    }
    let r = w.anon().v10().poll(POLL_AUTH, poll_request_10("feed-a"));
    assert_status(&r, StatusType::Unauthorized, "0");
    assert_eq!(count(&mut w.db(), "SELECT count(*) FROM inbox_messages"), 0);
}

#[test]
fn s8_basic_and_jwt_credentials_are_accepted() {
    let w = World::new();
    w.five_blocks();
    let want = ["b1", "b2", "b3", "b4", "b5"];
    for c in [w.basic("reader"), w.bearer("reader"), w.basic("admin"), w.bearer("admin")] {
        let r = c.poll(POLL_AUTH, poll_request("feed-a"));
        assert_eq!(names(&r.poll().content_blocks), want, "{}", r.text());
        assert_eq!(c.v10().poll(POLL_AUTH, poll_request_10("feed-a")).poll().content_blocks.len(), 5);
    }
    // The scheme is case-insensitive.
    let token = w.token("reader");
    let r = w.anon().with_authorization(&format!("bearer {token}")).poll(POLL_AUTH, poll_request("feed-a"));
    assert_eq!(r.poll().content_blocks.len(), 5);
}

#[test]
fn s8_bad_credentials_are_unauthorized_even_on_open_services() {
    let w = World::new();
    let expired = taxiid::auth::token::issue(SECRET, w.account_id("reader"), 1_000_000_000);
    let foreign =
        taxiid::auth::token::issue("another-secret-entirely", w.account_id("reader"), 4_000_000_000);
    let bad = [
        w.anon().basic("reader", "wrong"),
        w.anon().basic("no-such-user", "x"),
        w.anon().with_authorization("Bearer junk"),
        w.anon().with_authorization("Bearer a.b.c"),
        w.anon().with_authorization(&format!("Bearer {expired}")),
        w.anon().with_authorization(&format!("Bearer {foreign}")),
        w.anon().with_authorization("Digest username=\"reader\""),
        w.anon().with_authorization("Basic !!!not-base64!!!"),
    ];
    for c in &bad {
        for (path, msg) in [
            (DISCOVERY, discovery_request()),
            (POLL, Message::PollRequest(poll_request("feed-a"))),
            (POLL_AUTH, Message::PollRequest(poll_request("feed-a"))),
        ] {
            let r = c.send(path, &msg);
            assert_status(&r, StatusType::Unauthorized, "0");
        }
        let r = c.v10().send(DISCOVERY, &discovery_request());
        assert_status(&r, StatusType::Unauthorized, "0");
    }
    // A deleted account's token stops working at once.
    let token = w.token("nobody");
    let c = w.anon().with_authorization(&format!("Bearer {token}"));
    c.send(DISCOVERY, &discovery_request()).discovery();
    w.db().execute("DELETE FROM accounts WHERE username = 'nobody'", &[]).unwrap();
    assert_status(&c.send(DISCOVERY, &discovery_request()), StatusType::Unauthorized, "0");
}

#[test]
fn s8_other_methods_are_405_before_any_password_check() {
    // The services and the claimed account are read in one statement, but the password is
    // checked only after the method: a GET with a wrong one is 405, no failed login, and no
    // new throttle record (which a checked wrong password leaves).
    let w = World::new();
    let admin = format!("Bearer {}", w.token("admin"));
    let metric = |series: &str| common::auth::metric(w.addr(), &admin, series);
    let (failures, records) =
        (r#"taxiid_auth_failures_total{endpoint="taxii1"}"#, "taxiid_auth_throttle_records");
    let records_before = metric(records);
    for method in ["GET", "PUT", "DELETE"] {
        let r = common::taxii2::Req::new(method, POLL_AUTH)
            .header("Accept", "application/xml")
            .basic("reader", "wrong")
            .send(w.addr());
        assert_eq!(r.status, 405, "{method}: {}", r.text());
    }
    assert_eq!(metric(failures), 0);
    assert_eq!(metric(records), records_before);
    let r = w.anon().basic("reader", "wrong").poll(POLL_AUTH, poll_request("feed-a"));
    assert_status(&r, StatusType::Unauthorized, "0");
    assert_eq!(metric(failures), 1);
    assert!(metric(records) > records_before);
}

#[test]
fn s8_open_services_serve_every_caller_as_admin() {
    // OpenTAXII runs requests to services without authentication_required as an admin,
    // whoever the (valid) caller is.
    let w = World::new();
    w.add_blocks(&["set-b"], &[("s1", STIX111, None, "2024-01-01T00:00:00Z")]);
    for c in [w.anon(), w.basic("nobody"), w.bearer("reader")] {
        let r = c.poll(POLL, poll_request("set-b"));
        assert_eq!(names(&r.poll().content_blocks), ["s1"], "{}", r.text());
    }
}

#[test]
fn s8_basic_auth_can_be_switched_off() {
    let w = World::with("auth.support_basic_auth = no\n");
    w.five_blocks();
    let r = w.basic("reader").poll(POLL_AUTH, poll_request("feed-a"));
    assert_status(&r, StatusType::Unauthorized, "0");
    let r = w.basic("reader").send(DISCOVERY, &discovery_request());
    assert_status(&r, StatusType::Unauthorized, "0");
    let r = w.bearer("reader").poll(POLL_AUTH, poll_request("feed-a"));
    assert_eq!(r.poll().content_blocks.len(), 5);
}

#[test]
fn s9_unauthorized_status_is_configurable() {
    for status in ["DENIED", "FAILURE"] {
        let w = World::with(&format!("taxii1.unauthorized_status = {status}\n"));
        let want = StatusType::from_wire(status);
        let r = w.anon().poll(POLL_AUTH, poll_request("feed-a"));
        assert_status(&r, want.clone(), "0");
        let r = w.anon().basic("reader", "wrong").send(DISCOVERY, &discovery_request());
        assert_status(&r, want.clone(), "0");
        let r = w.anon().v10().poll(POLL_AUTH, poll_request_10("feed-a"));
        assert_status(&r, want, "0");
    }
}
