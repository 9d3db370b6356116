//! TAXII 1.x discovery and collection information (taxii1-checklist.md §4.2, §4.3): what
//! the `services`, `data_collections` and `service_to_collection` rows say, read per request,
//! and only what the caller may see. Subscriptions (§4.4) are in `taxii1_subscriptions.rs`,
//! inbox rules (§4.7) in `taxii1_inbox.rs`.

mod common;

use common::taxii1::*;
use serde_json::json;
use taxiid::taxii1::messages::*;

fn inbox_contact(path: &str, bindings: &[&str]) -> InboxServiceContact {
    InboxServiceContact {
        protocol_binding: PROTOCOL_HTTP.into(),
        address: abs(path),
        message_bindings: BOTH_XML.iter().map(|s| s.to_string()).collect(),
        content_bindings: bindings.iter().map(|b| ContentBinding::new(*b)).collect(),
    }
}

fn sorted_inboxes(mut v: Vec<InboxServiceContact>) -> Vec<InboxServiceContact> {
    for c in &mut v {
        c.message_bindings.sort();
    }
    v.sort_by(|a, b| a.address.cmp(&b.address));
    v
}

/// A Service_Instance as §4.2 says discovery advertises it.
fn instance(
    ty: ServiceType,
    v: Version,
    protocol: &str,
    path: &str,
    description: &str,
    bindings: &[&str],
) -> ServiceInstance {
    ServiceInstance {
        service_type: ty,
        service_version: v.services().into(),
        available: Some(true),
        protocol_binding: protocol.into(),
        address: if protocol == PROTOCOL_HTTPS { abs_https(path) } else { abs(path) },
        message_bindings: BOTH_XML.iter().map(|s| s.to_string()).collect(),
        supported_queries: vec![],
        content_bindings: bindings.iter().map(|b| ContentBinding::new(*b)).collect(),
        message: Some(description.into()),
    }
}

fn sorted_instances(mut v: Vec<ServiceInstance>) -> Vec<ServiceInstance> {
    for i in &mut v {
        i.message_bindings.sort();
    }
    v.sort_by(|a, b| (&a.address, &a.protocol_binding).cmp(&(&b.address, &b.protocol_binding)));
    v
}

fn world_instances(v: Version) -> Vec<ServiceInstance> {
    use ServiceType::*;
    sorted_instances(vec![
        instance(Discovery, v, PROTOCOL_HTTP, DISCOVERY, "Discovery service", &[]),
        instance(Discovery, v, PROTOCOL_HTTPS, DISCOVERY, "Discovery service", &[]),
        instance(CollectionManagement, v, PROTOCOL_HTTP, CM, "Collection management service", &[]),
        instance(
            Inbox,
            v,
            PROTOCOL_HTTP,
            INBOX,
            "Open inbox (accepts everything, destination optional)",
            &[],
        ),
        instance(
            Inbox,
            v,
            PROTOCOL_HTTP,
            INBOX_STRICT,
            "Strict inbox (STIX 1.1.1/1.2 only, destination required)",
            &[STIX111, STIX12],
        ),
        instance(Poll, v, PROTOCOL_HTTP, POLL, "Poll service", &[]),
        instance(Poll, v, PROTOCOL_HTTP, POLL_AUTH, "Poll service requiring authentication", &[]),
    ])
}

// ---------------------------------------------------------------------------------------
// §4.2 Discovery
// ---------------------------------------------------------------------------------------

#[test]
fn s4_2_discovery_11_one_instance_per_advertised_service_and_binding() {
    let w = World::new();
    for c in [w.anon(), w.basic("reader")] {
        let r = c.send(DISCOVERY, &discovery_request());
        let got = sorted_instances(r.discovery().service_instances.clone());
        assert_eq!(got, world_instances(Version::V11), "{}", r.text());
    }
}

#[test]
fn s4_2_discovery_10_calls_collection_management_feed_management() {
    let w = World::new();
    let r = w.anon().v10().send(DISCOVERY, &discovery_request());
    let got = sorted_instances(r.discovery().service_instances.clone());
    assert_eq!(got, world_instances(Version::V10), "{}", r.text());
    assert!(r.text().contains(r#"service_type="FEED_MANAGEMENT""#), "{}", r.text());
    assert!(!r.text().contains("COLLECTION_MANAGEMENT"), "{}", r.text());
}

#[test]
fn s4_2_changed_service_rows_take_effect_without_restart() {
    let w = World::new();
    let mut db = w.db();
    let c = w.anon();
    // A new description.
    let mut props = service_properties(&mut db, "discovery");
    props["description"] = json!("Renamed discovery");
    set_service_properties(&mut db, "discovery", &props);
    let r = c.send(DISCOVERY, &discovery_request());
    let d = r.discovery();
    assert!(
        d.service_instances
            .iter()
            .filter(|i| i.service_type == ServiceType::Discovery)
            .all(|i| i.message.as_deref() == Some("Renamed discovery"))
    );

    // A new poll service, advertised, routed at once; its collection after linking.
    create_service(
        &mut db,
        "poll_new",
        "poll",
        &json!({"address": "/services/poll-new", "description": "New poll", "protocol_bindings": [PROTOCOL_HTTP]}),
    );
    props["advertised_services"].as_array_mut().unwrap().push(json!("poll_new"));
    // An external service: advertised with its absolute address, never routed.
    create_service(
        &mut db,
        "external_inbox",
        "inbox",
        &json!({"address": "https://partner.example/taxii/inbox", "description": "Partner inbox",
                "accept_all_content": true, "protocol_bindings": [PROTOCOL_HTTPS]}),
    );
    props["advertised_services"].as_array_mut().unwrap().push(json!("external_inbox"));
    // A service without protocol bindings is invisible.
    create_service(
        &mut db,
        "hidden_poll",
        "poll",
        &json!({"address": "/services/hidden", "description": "Hidden", "protocol_bindings": []}),
    );
    props["advertised_services"].as_array_mut().unwrap().push(json!("hidden_poll"));
    set_service_properties(&mut db, "discovery", &props);
    let r = c.send(DISCOVERY, &discovery_request());
    let d = r.discovery();
    assert_eq!(d.service_instances.len(), 9, "{}", r.text());
    let new = d
        .service_instances
        .iter()
        .find(|i| i.address == abs("/services/poll-new"))
        .expect("poll_new advertised");
    assert_eq!((new.service_type, new.message.as_deref()), (ServiceType::Poll, Some("New poll")));
    let ext = d
        .service_instances
        .iter()
        .find(|i| i.service_type == ServiceType::Inbox && i.protocol_binding == PROTOCOL_HTTPS)
        .expect("external inbox");
    assert_eq!(ext.address, "https://partner.example/taxii/inbox");
    assert!(!r.text().contains("/services/hidden"), "{}", r.text());

    let r = c.poll("/services/poll-new", poll_request("feed-a"));
    assert_eq!(r.expect(StatusType::NotFound).details.item.as_deref(), Some("feed-a"));
    link(&mut db, "poll_new", "feed-a");
    w.five_blocks();
    assert_eq!(c.poll("/services/poll-new", poll_request("feed-a")).poll().content_blocks.len(), 5);

    // A moved address: the old one is gone, the new one answers.
    let mut poll_props = service_properties(&mut db, "poll_new");
    poll_props["address"] = json!("/services/poll-moved");
    set_service_properties(&mut db, "poll_new", &poll_props);
    let raw = write(Version::V11, &Message::PollRequest(poll_request("feed-a")));
    assert_eq!(c.req("/services/poll-new", raw).send(w.addr()).status, 404);
    assert_eq!(c.poll("/services/poll-moved", poll_request("feed-a")).poll().content_blocks.len(), 5);
    // A deleted service is gone, and no longer advertised.
    db.execute("DELETE FROM services WHERE id = 'poll_new'", &[]).unwrap();
    let raw = write(Version::V11, &Message::PollRequest(poll_request("feed-a")));
    assert_eq!(c.req("/services/poll-moved", raw).send(w.addr()).status, 404);
    assert_eq!(c.send(DISCOVERY, &discovery_request()).discovery().service_instances.len(), 8);
}

// ---------------------------------------------------------------------------------------
// §4.3 Collection information
// ---------------------------------------------------------------------------------------

/// The Collection record of `name` as §4.3 describes it for a caller who may modify it
/// (inboxes listed when `inboxes`).
fn expected_record(name: &str, volume: u64, inboxes: bool) -> CollectionRecord {
    let subscription_services = vec![service_contact(CM), service_contact(CM_AUTH)];
    let (ty, description, available, bindings, polls, ins): (
        _,
        _,
        _,
        &[&str],
        Vec<&str>,
        Vec<InboxServiceContact>,
    ) = match name {
        "feed-a" => (
            CollectionType::DataFeed,
            "An open data feed",
            true,
            &[],
            vec![POLL, POLL_AUTH],
            vec![
                inbox_contact(INBOX, &[]),
                inbox_contact(INBOX_STRICT, &[STIX111, STIX12]),
                inbox_contact(INBOX_AUTH, &[]),
            ],
        ),
        "set-b" => (
            CollectionType::DataSet,
            "A data set (STIX 1.1.1 only)",
            true,
            &[STIX111],
            vec![POLL],
            vec![inbox_contact(INBOX, &[]), inbox_contact(INBOX_STRICT, &[STIX111, STIX12])],
        ),
        "stix12-feed" => (
            CollectionType::DataFeed,
            "A feed that only takes STIX 1.2",
            true,
            &[STIX12],
            vec![POLL, POLL_AUTH],
            vec![
                inbox_contact(INBOX, &[]),
                inbox_contact(INBOX_STRICT, &[STIX111, STIX12]),
                inbox_contact(INBOX_AUTH, &[]),
            ],
        ),
        "disabled" => (CollectionType::DataFeed, "An unavailable collection", false, &[], vec![POLL], vec![]),
        other => panic!("no collection {other} in the World"),
    };
    CollectionRecord {
        collection_name: name.into(),
        collection_type: ty,
        available: Some(available),
        description: description.into(),
        collection_volume: Some(volume),
        content_bindings: bindings.iter().map(|b| ContentBinding::new(*b)).collect(),
        push_methods: vec![],
        polling_services: sorted_contacts(polls.into_iter().map(service_contact).collect()),
        subscription_services: sorted_contacts(subscription_services),
        receiving_inbox_services: if inboxes { sorted_inboxes(ins) } else { vec![] },
    }
}

fn normalised(records: &[CollectionRecord]) -> Vec<CollectionRecord> {
    let mut v: Vec<CollectionRecord> = records
        .iter()
        .cloned()
        .map(|mut r| {
            r.polling_services = sorted_contacts(r.polling_services);
            r.subscription_services = sorted_contacts(r.subscription_services);
            r.receiving_inbox_services = sorted_inboxes(r.receiving_inbox_services);
            r
        })
        .collect();
    v.sort_by(|a, b| a.collection_name.cmp(&b.collection_name));
    v
}

#[test]
fn s4_3_collection_information_11_describes_every_attached_collection() {
    let w = World::new();
    w.five_blocks();
    w.add_blocks(&["set-b", "feed-a"], &[("shared", STIX111, None, "2024-02-01T00:00:00Z")]);
    let want = vec![
        expected_record("disabled", 0, true),
        expected_record("feed-a", 6, true),
        expected_record("set-b", 1, true),
        expected_record("stix12-feed", 0, true),
    ];
    // Open service: every caller is served as an admin (OpenTAXII).
    for c in [w.anon(), w.basic("nobody")] {
        let r = c.send(CM, &collection_information_request());
        assert_eq!(normalised(&r.collections().collections), want, "{}", r.text());
    }
    let r = w.basic("admin").send(CM_AUTH, &collection_information_request());
    assert_eq!(normalised(&r.collections().collections), want, "{}", r.text());
}

#[test]
fn s4_3_collection_information_lists_only_what_the_caller_may_see() {
    let w = World::new();
    let list = |user: &str| {
        let r = w.basic(user).send(CM_AUTH, &collection_information_request());
        normalised(&r.collections().collections)
    };
    // reader: feed-a read (no inboxes), stix12-feed modify (inboxes).
    assert_eq!(
        list("reader"),
        vec![expected_record("feed-a", 0, false), expected_record("stix12-feed", 0, true)]
    );
    // writer: feed-a and set-b modify, stix12-feed read.
    assert_eq!(
        list("writer"),
        vec![
            expected_record("feed-a", 0, true),
            expected_record("set-b", 0, true),
            expected_record("stix12-feed", 0, false)
        ]
    );
    assert_eq!(list("nobody"), vec![]);
    // Permission changes apply at once.
    w.db()
        .execute(
            "UPDATE accounts SET _permissions = $1 WHERE username = 'nobody'",
            &[&json!({"disabled": "read"}).to_string()],
        )
        .unwrap();
    assert_eq!(list("nobody"), vec![expected_record("disabled", 0, false)]);
}

#[test]
fn s4_3_feed_information_10() {
    let w = World::new();
    w.five_blocks();
    let r = w.anon().v10().send(CM, &feed_information_request());
    let mut feeds = r.feeds().feeds.clone();
    feeds.sort_by(|a, b| a.feed_name.cmp(&b.feed_name));
    let names: Vec<&str> = feeds.iter().map(|f| f.feed_name.as_str()).collect();
    // OpenTAXII lists data sets to 1.0 clients too.
    assert_eq!(names, ["disabled", "feed-a", "set-b", "stix12-feed"], "{}", r.text());
    let feed_a = &feeds[1];
    assert_eq!(feed_a.description, "An open data feed");
    assert_eq!(feed_a.available, Some(true));
    assert!(feed_a.content_bindings.is_empty(), "accept-all: no bindings listed: {}", r.text());
    assert_eq!(
        sorted_contacts(feed_a.polling_services.clone()),
        sorted_contacts(vec![service_contact(POLL), service_contact(POLL_AUTH)])
    );
    assert_eq!(
        sorted_contacts(feed_a.subscription_services.clone()),
        sorted_contacts(vec![service_contact(CM), service_contact(CM_AUTH)])
    );
    assert!(feed_a.push_methods.is_empty());
    assert_eq!(feeds[3].content_bindings, [STIX12]);
    assert_eq!(feeds[2].content_bindings, [STIX111]);
    assert_eq!(sorted_contacts(feeds[2].polling_services.clone()), vec![service_contact(POLL)]);
    // As in 1.1, only what the caller may see.
    let r = w.basic("reader").v10().send(CM_AUTH, &feed_information_request());
    let mut names: Vec<String> = r.feeds().feeds.iter().map(|f| f.feed_name.clone()).collect();
    names.sort();
    assert_eq!(names, ["feed-a", "stix12-feed"]);
}

#[test]
fn s4_3_without_subscription_support_no_subscription_service() {
    let w = World::new();
    let mut db = w.db();
    let mut props = service_properties(&mut db, "collection_management");
    props["subscription_supported"] = json!(false);
    set_service_properties(&mut db, "collection_management", &props);
    let r = w.anon().send(CM, &collection_information_request());
    for c in &r.collections().collections {
        assert_eq!(
            sorted_contacts(c.subscription_services.clone()),
            vec![service_contact(CM_AUTH)],
            "{}",
            r.text()
        );
    }
    let r = w.anon().subscription(CM, subscription_request(SubscriptionAction::Subscribe, "feed-a", None));
    let s = r.expect(StatusType::Failure);
    assert_eq!(s.message.as_deref(), Some("Message not supported by this service"));
    assert_eq!(count(&mut db, "SELECT count(*) FROM subscriptions"), 0);
}
