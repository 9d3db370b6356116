//! The OpenTAXII 0.9.3 fixture database (shared/reference/opentaxii-fixture), loaded unchanged
//! and migrated, served with the fixture's configuration translated to taxiid.conf: its TAXII
//! 1.x services, collections, content blocks, result set, subscriptions and accounts must be
//! served as `fixture-notes.md` lists them.

mod common;

use std::collections::HashMap;

use common::server::Taxiid;
use common::taxii1::*;
use common::taxii2::login;
use taxiid::taxii1::messages::*;

const FIXTURE_SECRET: &str = "fixture-secret-not-for-production";
const FIXTURE_DOMAIN: &str = "http://127.0.0.1:9000";

const DISCOVERY_A: &str = "/services/discovery-a";
const CM_A: &str = "/services/collection-management-a";
const INBOX_A: &str = "/services/inbox-a";
const INBOX_B: &str = "/services/inbox-b";
const POLL_A: &str = "/services/poll-a";

const JSON_BINDING: &str = "urn:custom.bindings.com:json:0.0.1";
const INBOX_B_JSON: &str = "urn:custom.example.com:json:0.0.1";

/// (username, password) of every fixture account.
const ACCOUNTS: &[(&str, &str)] = &[
    ("test", "test"),
    ("admin", "admin"),
    ("scrypt-user", "Scrypt-Pass-1"),
    ("cli-user", "cli-pass-2"),
    ("taxii2-user", "taxii2-pass"),
    ("taxii2-user-pbkdf2", "taxii2-pass-2"),
];

/// sha256 of `content_blocks.content` by block id (fixture-notes.md).
const SHA256: &[(i32, &str)] = &[
    (1, "34d236cb2a909f4ce81abd59848b83dc9e50c62fa7e6162458c68ec2d340a0c2"),
    (2, "f3c7a9e3502a49e73b4369b30f668d0083592e8490b4159af4bfd760272ebc70"),
    (3, "7bbee034451e2fe7f763b77236a8d9a8f0d3a78b0e0ec816ff84e0b5025a766d"),
    (4, "18f5e7a3e23dd3299f5f3cd8a2cdc7b0c72e1aab1db64081a6b86f27537312cd"),
    (5, "fb422060e69b05ce4f8f62814dde6dfee4ebf4028a156bfc41423a6a8900caa1"),
    (6, "e3c86fc21a0a9fcf403b0b7c7c78fea3a00e00027233a73655837f0cf6bccc9a"),
    (7, "65a87b89c34cdf5de9242e9eca6753a6409c213d3d5b51a160080c6b327b210c"),
    (8, "ded2853b6dd1f826112260542507132ba0debfacb7a63d1c0cd11c7dda09a63e"),
    (9, "10f44064b77268e9c515a76e0bd85e0cd43c8345c2a6eca15bc435ee179ac6cd"),
    (10, "f655f5716f39050b76e0624fb75ac9dd8ce0fb0c67b6bb97696b67f64d41e0e7"),
    (11, "0abab8558cad8b1ecdc376224d3690b11b124adc764dfda596186ec66b247dc6"),
    (12, "58524fb922d265cdc2db676ae242b8e5751a1a6d6870a266157434393b36ccbe"),
    (13, "1009a8926bea16f9675a17146ca37ae10eecc23a89c235f8da341e4902d4a18c"),
    (14, "c72fda5e6f5eb368c6605cda91beb84ffe17cbdc747e36003caa07b1b863ec93"),
    (15, "9efaf9e1b1dadf5692e9682f4fe323b811da198356029d5381e3010feb1a3431"),
    (16, "0291c056c4300a252b3f0d3330cf07845ed0aec76dc98c3552ab56f479ee6702"),
    (17, "c8ac7faff14987843d8f18327c0725af10e829d97aab16dbb88a521b8fde0548"),
    (18, "c8ac7faff14987843d8f18327c0725af10e829d97aab16dbb88a521b8fde0548"),
];

fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

struct Fixture {
    srv: Taxiid,
    conninfo: String,
}

impl Fixture {
    /// OpenTAXII's schema and the fixture data in a fresh database, migrated by taxiid, and a
    /// server configured as the fixture's OpenTAXII was.
    fn load() -> Fixture {
        let conninfo = common::opentaxii_fixture_database();
        let config = format!(
            "domain = {FIXTURE_DOMAIN}\nauth.secret = {FIXTURE_SECRET}\nauth.support_basic_auth = yes\n\
             taxii1.save_raw_inbox_messages = yes\ntaxii1.count_blocks_in_poll_responses = no\n\
             taxii1.unauthorized_status = UNAUTHORIZED\n\
             # Every fixture account is also tried with a wrong password, all from one address.\n\
             auth.max_failed_logins = 0\n"
        );
        Fixture { srv: Taxiid::start(&conninfo, &config), conninfo }
    }

    fn db(&self) -> postgres::Client {
        common::connect(&self.conninfo)
    }

    fn anon(&self) -> Client {
        Client::new(self.srv.addr)
    }

    fn basic(&self, user: &str) -> Client {
        let pw = ACCOUNTS.iter().find(|a| a.0 == user).unwrap().1;
        self.anon().basic(user, pw)
    }

    fn bearer(&self, user: &str) -> Client {
        let pw = ACCOUNTS.iter().find(|a| a.0 == user).unwrap().1;
        self.anon().with_authorization(&format!("Bearer {}", login(self.srv.addr, user, pw)))
    }

    /// The stored content of every block of `collection`, by id.
    fn contents(&self, collection: &str) -> HashMap<i32, Vec<u8>> {
        blocks_in(&mut self.db(), collection).into_iter().map(|b| (b.id, b.content)).collect()
    }

    /// The fixture block ids of a poll answer's blocks, matched within the collection on the
    /// payload's first `id` attribute (the codec reading the answer rewrites namespace
    /// declarations) or, for text, the text.
    fn ids(&self, collection: &str, r: &Reply) -> Vec<i32> {
        let key = |bytes: &[u8]| {
            let text = String::from_utf8_lossy(bytes).trim().to_string();
            match text.starts_with('<') {
                true => text
                    .split(" id=\"")
                    .nth(1)
                    .map(|s| s.split('"').next().unwrap().to_string())
                    .unwrap_or(text),
                false => text,
            }
        };
        let stored = self.contents(collection);
        r.poll()
            .content_blocks
            .iter()
            .map(|b| {
                let got = key(&b.content.bytes);
                let found: Vec<i32> =
                    stored.iter().filter(|(_, c)| key(c) == got).map(|(id, _)| *id).collect();
                assert_eq!(found.len(), 1, "block {got:.200} matches one stored block of {collection}");
                found[0]
            })
            .collect()
    }
}

fn contact(protocol: &str, path: &str) -> ServiceContact {
    let scheme = if protocol == PROTOCOL_HTTPS { "https" } else { "http" };
    let mut mb = vec![MESSAGE_BINDING_XML_10.to_string(), MESSAGE_BINDING_XML_11.to_string()];
    mb.sort();
    ServiceContact {
        protocol_binding: protocol.into(),
        address: format!("{scheme}://127.0.0.1:9000{path}"),
        message_bindings: mb,
    }
}

fn sorted(mut v: Vec<ServiceContact>) -> Vec<ServiceContact> {
    v.iter_mut().for_each(|c| c.message_bindings.sort());
    v.sort_by(|a, b| (&a.address, &a.protocol_binding).cmp(&(&b.address, &b.protocol_binding)));
    v
}

/// (type, protocol binding, address, content binding ids, message) of a Service_Instance.
type InstanceSummary = (ServiceType, String, String, Vec<String>, Option<String>);
/// (name, type, available, volume, content binding ids, description) of a Collection.
type CollectionSummary = (String, CollectionType, Option<bool>, Option<u64>, Vec<String>, String);

#[test]
fn fixture_stored_content_is_what_the_notes_list() {
    let f = Fixture::load();
    let mut db = f.db();
    for (id, sha) in SHA256 {
        let content: Vec<u8> =
            db.query_one("SELECT content FROM content_blocks WHERE id = $1", &[id]).unwrap().get(0);
        assert_eq!(sha256_hex(&content), *sha, "block {id}");
    }
}

#[test]
fn fixture_discovery_advertises_its_five_services() {
    let f = Fixture::load();
    for v in [Version::V11, Version::V10] {
        let c = Client { version: v, ..f.anon() };
        let r = c.send(DISCOVERY_A, &discovery_request());
        let mut got: Vec<InstanceSummary> = r
            .discovery()
            .service_instances
            .iter()
            .map(|i| {
                assert_eq!(i.service_version, v.services());
                assert_eq!(i.available, Some(true));
                let bindings = i.content_bindings.iter().map(|b| b.binding_id.clone()).collect();
                (i.service_type, i.protocol_binding.clone(), i.address.clone(), bindings, i.message.clone())
            })
            .collect();
        got.sort_by(|a, b| (&a.2, &a.1).cmp(&(&b.2, &b.1)));
        let s = |x: &str| x.to_string();
        let want = vec![
            (
                ServiceType::CollectionManagement,
                s(PROTOCOL_HTTP),
                s("http://127.0.0.1:9000/services/collection-management-a"),
                vec![],
                Some(s("Custom Collection Management Service description")),
            ),
            (
                ServiceType::Discovery,
                s(PROTOCOL_HTTP),
                s("http://127.0.0.1:9000/services/discovery-a"),
                vec![],
                Some(s("Custom Discovery Service description")),
            ),
            (
                ServiceType::Inbox,
                s(PROTOCOL_HTTP),
                s("http://127.0.0.1:9000/services/inbox-a"),
                vec![],
                Some(s("Custom Inbox Service Description A")),
            ),
            (
                ServiceType::Inbox,
                s(PROTOCOL_HTTP),
                s("http://127.0.0.1:9000/services/inbox-b"),
                vec![s(STIX111), s(INBOX_B_JSON)],
                Some(s("Custom Inbox Service Description B")),
            ),
            (
                ServiceType::Poll,
                s(PROTOCOL_HTTP),
                s("http://127.0.0.1:9000/services/poll-a"),
                vec![],
                Some(s("Custom Poll Service description")),
            ),
            (
                ServiceType::CollectionManagement,
                s(PROTOCOL_HTTPS),
                s("https://127.0.0.1:9000/services/collection-management-a"),
                vec![],
                Some(s("Custom Collection Management Service description")),
            ),
            (
                ServiceType::Discovery,
                s(PROTOCOL_HTTPS),
                s("https://127.0.0.1:9000/services/discovery-a"),
                vec![],
                Some(s("Custom Discovery Service description")),
            ),
        ];
        assert_eq!(got, want, "{:?}: {}", v, r.text());
    }
}

#[test]
fn fixture_collection_information() {
    let f = Fixture::load();
    let r = f.anon().send(CM_A, &collection_information_request());
    let mut got = r.collections().collections.clone();
    got.sort_by(|a, b| a.collection_name.cmp(&b.collection_name));
    let summary: Vec<CollectionSummary> = got
        .iter()
        .map(|c| {
            (
                c.collection_name.clone(),
                c.collection_type,
                c.available,
                c.collection_volume,
                c.content_bindings.iter().map(|b| b.binding_id.clone()).collect(),
                c.description.clone(),
            )
        })
        .collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        summary,
        vec![
            (s("col-not-available"), CollectionType::DataFeed, Some(false), Some(0), vec![], s("")),
            (s("collection-a"), CollectionType::DataSet, Some(true), Some(13), vec![], s("")),
            (s("collection-b"), CollectionType::DataFeed, Some(true), Some(4), vec![s(STIX111)], s("")),
            (
                s("collection-c"),
                CollectionType::DataFeed,
                Some(true),
                Some(4),
                vec![s(STIX111), s(JSON_BINDING)],
                s("")
            ),
        ],
        "{}",
        r.text()
    );
    let cm = sorted(vec![contact(PROTOCOL_HTTP, CM_A), contact(PROTOCOL_HTTPS, CM_A)]);
    for c in &got {
        assert_eq!(sorted(c.subscription_services.clone()), cm, "{}", c.collection_name);
        let polls = if c.collection_name == "col-not-available" {
            vec![]
        } else {
            vec![contact(PROTOCOL_HTTP, POLL_A)]
        };
        assert_eq!(sorted(c.polling_services.clone()), polls, "{}", c.collection_name);
        let mut inboxes: Vec<(String, Vec<String>)> = c
            .receiving_inbox_services
            .iter()
            .map(|i| (i.address.clone(), i.content_bindings.iter().map(|b| b.binding_id.clone()).collect()))
            .collect();
        inboxes.sort();
        let a = (s("http://127.0.0.1:9000/services/inbox-a"), vec![]);
        let b = (s("http://127.0.0.1:9000/services/inbox-b"), vec![s(STIX111), s(INBOX_B_JSON)]);
        let want = match c.collection_name.as_str() {
            "collection-b" => vec![a, b],
            "col-not-available" => vec![b],
            _ => vec![a],
        };
        assert_eq!(inboxes, want, "{}", c.collection_name);
    }
    // TAXII 1.0: the same four feeds.
    let r = f.anon().v10().send(CM_A, &feed_information_request());
    let mut names: Vec<String> = r.feeds().feeds.iter().map(|f| f.feed_name.clone()).collect();
    names.sort();
    assert_eq!(names, ["col-not-available", "collection-a", "collection-b", "collection-c"]);
}

#[test]
fn fixture_poll_collection_a_in_two_parts() {
    let f = Fixture::load();
    for c in [f.basic("test"), f.bearer("test")] {
        let r = c.poll(POLL_A, poll_request("collection-a"));
        let p = r.poll();
        assert_eq!(f.ids("collection-a", &r), [1, 2, 3, 4, 8, 9, 10, 11, 12, 13]);
        assert_eq!((p.more, p.result_part_number, p.record_count), (true, 1, None));
        // Stored bytes go out verbatim (they carry OpenTAXII's extra namespace declarations).
        let stored = f.contents("collection-a");
        for id in [1, 8, 13] {
            let text = String::from_utf8(stored[&id].clone()).unwrap();
            assert!(r.text().contains(text.trim_end()), "block {id} verbatim");
        }
        let rid = p.result_id.clone().expect("result_id");
        let r = c.send(POLL_A, &fulfillment("collection-a", &rid, 2));
        assert_eq!(f.ids("collection-a", &r), [14, 15, 16]);
        assert_eq!((r.poll().more, r.poll().result_part_number), (false, 2));
    }
}

#[test]
fn fixture_result_set_written_by_opentaxii_is_served() {
    let f = Fixture::load();
    let c = f.basic("test");
    let r = c.send(POLL_A, &fulfillment("collection-a", "879816990754068429", 2));
    assert_eq!(f.ids("collection-a", &r), [14, 15, 16]);
    assert_eq!((r.poll().more, r.poll().result_id.as_deref()), (false, Some("879816990754068429")));
    let r = c.send(POLL_A, &fulfillment("collection-a", "879816990754068429", 1));
    assert_eq!(f.ids("collection-a", &r), [1, 2, 3, 4, 8, 9, 10, 11, 12, 13]);
    assert!(r.poll().more);
    let r = c.send(POLL_A, &fulfillment("collection-b", "879816990754068429", 1));
    r.expect(StatusType::NotFound);
}

#[test]
fn fixture_poll_windows_bindings_and_payload_forms() {
    let f = Fixture::load();
    let c = f.basic("test");
    let mut p = poll_request("collection-b");
    p.exclusive_begin = Some(ts("2024-01-02T00:00:00Z"));
    p.inclusive_end = Some(ts("2024-01-03T00:00:00Z"));
    let r = c.poll(POLL_A, p);
    assert_eq!(f.ids("collection-b", &r), [7, 8]);
    let r = c.poll(POLL_A, poll_request("collection-b"));
    assert_eq!(f.ids("collection-b", &r), [6, 7, 8, 17]);
    let r = c.poll(POLL_A, poll_request("collection-c"));
    assert_eq!(f.ids("collection-c", &r), [4, 5, 8, 18]);
    let blocks = &r.poll().content_blocks;
    assert_eq!(blocks[1].content, Content::text(r#"{"custom": "json content", "n": 1}"#));
    assert_eq!(blocks[1].content_binding, ContentBinding::new(JSON_BINDING));
    assert_eq!(blocks[3].content_binding.subtypes, ["fixture-subtype-1"]);
    assert_eq!(blocks[0].timestamp_label, Some(ts("2024-01-01T00:00:04Z")));
    let r = c.poll(POLL_A, poll_with_bindings("collection-c", &[(JSON_BINDING, &[])]));
    assert_eq!(f.ids("collection-c", &r), [5]);
    // TAXII 1.0: feeds yes, the data set no.
    let r = c.v10().poll(POLL_A, poll_request_10("collection-b"));
    assert_eq!(f.ids("collection-b", &r), [6, 7, 8, 17]);
    c.v10().poll(POLL_A, poll_request_10("collection-a")).expect(StatusType::NotFound);
}

#[test]
fn fixture_subscriptions_are_served() {
    let f = Fixture::load();
    let c = f.anon();
    let status = |coll: &str, id: &str| {
        let r = c.subscription(CM_A, subscription_request(SubscriptionAction::Status, coll, Some(id)));
        let m = r.subscriptions();
        assert_eq!(m.subscriptions.len(), 1, "{}", r.text());
        m.subscriptions[0].clone()
    };
    let s = status("collection-a", "7902853380302979581");
    assert_eq!(s.status, SubscriptionStatus::Paused);
    assert_eq!(s.subscription_parameters.response_type, ResponseType::Full);
    assert_eq!(s.subscription_parameters.content_bindings, [ContentBinding::new(STIX111)]);
    assert_eq!(sorted(s.poll_instances.clone()), vec![contact(PROTOCOL_HTTP, POLL_A)]);
    let s = status("collection-b", "3149589166875036420");
    assert_eq!(s.status, SubscriptionStatus::Unsubscribed);
    assert_eq!(s.subscription_parameters.response_type, ResponseType::Full);
    assert!(s.subscription_parameters.content_bindings.is_empty());
    // The paused subscription still polls, with its stored bindings.
    let r = f.basic("test").poll(POLL_A, poll_by_subscription("collection-a", "7902853380302979581"));
    assert_eq!(f.ids("collection-a", &r), [1, 2, 3, 4, 8, 9, 10, 11, 12, 13]);
    assert_eq!(r.poll().subscription_id.as_deref(), Some("7902853380302979581"));
    // RESUME is stored.
    let r = c.subscription(
        CM_A,
        subscription_request(SubscriptionAction::Resume, "collection-a", Some("7902853380302979581")),
    );
    assert_eq!(r.subscriptions().subscriptions[0].status, SubscriptionStatus::Active);
    assert_eq!(subscription_row(&mut f.db(), "7902853380302979581").unwrap().2, "ACTIVE");
}

#[test]
fn fixture_accounts_and_permissions() {
    let f = Fixture::load();
    // (user, may poll collection-a, may poll collection-b)
    let table = [
        ("test", true, true),
        ("admin", true, true),
        ("scrypt-user", false, false),
        ("cli-user", false, false),
        ("taxii2-user", false, true),
        ("taxii2-user-pbkdf2", false, true),
    ];
    for (user, a, b) in table {
        for c in [f.basic(user), f.bearer(user)] {
            for (coll, allowed) in [("collection-a", a), ("collection-b", b)] {
                let r = c.poll(POLL_A, poll_request(coll));
                if allowed {
                    assert!(!r.poll().content_blocks.is_empty(), "{user} polls {coll}");
                } else {
                    assert_eq!(
                        r.expect(StatusType::NotFound).details.item.as_deref(),
                        Some(coll),
                        "{user}: {coll}"
                    );
                }
            }
        }
        let r = f.anon().basic(user, "wrong-password").poll(POLL_A, poll_request("collection-b"));
        assert_eq!(r.expect(StatusType::Unauthorized).in_response_to, "0");
    }
    f.anon().poll(POLL_A, poll_request("collection-a")).expect(StatusType::Unauthorized);
}

#[test]
fn fixture_inbox_appends_to_the_existing_data() {
    let f = Fixture::load();
    let blocks = || vec![block_with(STIX111, None, &stix("new-in-b"), Some("2025-01-01T00:00:00Z"))];
    // inbox-b needs authentication and modify permission (test may only read collection-b).
    let r = f.basic("test").inbox(INBOX_B, &["collection-b"], blocks());
    let s = r.expect(StatusType::Unauthorized);
    assert_eq!(s.message.as_deref(), Some("User can not write to collection collection-b"));
    let r = f.basic("taxii2-user-pbkdf2").inbox(INBOX_B, &["collection-b"], blocks());
    r.expect(StatusType::Success);
    let mut db = f.db();
    assert_eq!(volume(&mut db, "collection-b"), 5);
    let ids: Vec<i32> = blocks_in(&mut db, "collection-b").iter().map(|b| b.id).collect();
    assert_eq!(ids, [6, 7, 8, 19, 17], "the fixture's sequences continue");
    assert_eq!(count(&mut db, "SELECT count(*) FROM inbox_messages"), 17);
    // inbox-a is open; it needs a destination.
    let r = f.anon().inbox(INBOX_A, &[], blocks());
    let mut acceptable =
        r.expect(StatusType::DestinationCollectionError).details.acceptable_destinations.clone();
    acceptable.sort();
    assert_eq!(acceptable, ["collection-a", "collection-b", "collection-c"]);
    let r = f.anon().inbox(INBOX_A, &["collection-a", "collection-c"], blocks());
    r.expect(StatusType::Success);
    assert_eq!((volume(&mut db, "collection-a"), volume(&mut db, "collection-c")), (14, 5));
    // The new block is polled after the old ones (its label is 2025).
    let r = f.basic("test").poll(POLL_A, poll_request("collection-c"));
    assert_eq!(f.ids("collection-c", &r), [4, 5, 8, 20, 18]);
}
