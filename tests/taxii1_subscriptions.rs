//! TAXII 1.x subscription management (taxii1-checklist.md §4.4, §7): every action of both
//! versions, stored in OpenTAXII's `subscriptions` rows in its shapes (double-encoded
//! bindings), Subscription_Parameters in every 1.1 record (cabby), UNSUBSCRIBE of an unknown
//! id a success, STATUS without an id listing the caller's own subscriptions, subscriptions
//! usable by their creator and admins, UNSUBSCRIBED final.

mod common;

use common::taxii1::*;
use serde_json::json;
use taxiid::taxii1::messages::*;

// ---------------------------------------------------------------------------------------
// §4.4 Subscription management
// ---------------------------------------------------------------------------------------

/// Asserts the one Subscription of a 1.1 answer: id, status, parameters, poll instances.
#[track_caller]
fn one_subscription(r: &Reply, collection: &str, status: SubscriptionStatus) -> SubscriptionInstance {
    let m = r.subscriptions();
    assert_eq!(m.collection_name, collection, "{}", r.text());
    assert_eq!(m.subscriptions.len(), 1, "exactly one Subscription: {}", r.text());
    let s = m.subscriptions[0].clone();
    assert_eq!(s.status, status, "{}", r.text());
    assert!(is_digits_id(&s.subscription_id), "server-made ids are digits: {}", r.text());
    // cabby dereferences Subscription_Parameters unconditionally.
    assert_eq!(
        r.text().matches("Subscription_Parameters").count(),
        2 * m.subscriptions.len(),
        "every Subscription carries Subscription_Parameters: {}",
        r.text()
    );
    s
}

#[test]
fn s4_4_subscribe_status_pause_resume_unsubscribe_11() {
    use SubscriptionAction::*;
    let w = World::new();
    let c = w.anon();
    let r = c.subscription(CM, subscription_request(Subscribe, "feed-a", None));
    assert_eq!(r.subscriptions().message.as_deref(), Some("Subscription handled"));
    let s = one_subscription(&r, "feed-a", SubscriptionStatus::Active);
    let id = s.subscription_id.clone();
    assert_eq!(s.subscription_parameters, SubscriptionParameters::default());
    assert_eq!(s.push_parameters, None);
    assert_eq!(
        sorted_contacts(s.poll_instances.clone()),
        sorted_contacts(vec![service_contact(POLL), service_contact(POLL_AUTH)])
    );
    let (coll, params, status, service) = subscription_row(&mut w.db(), &id).expect("stored");
    assert_eq!(
        (coll.as_str(), status.as_str(), service.as_str()),
        ("feed-a", "ACTIVE", "collection_management")
    );
    assert_eq!(params, json!({"response_type": "FULL", "content_bindings": "[]"}));

    for (action, want, stored) in [
        (Status, SubscriptionStatus::Active, "ACTIVE"),
        (Pause, SubscriptionStatus::Paused, "PAUSED"),
        (Pause, SubscriptionStatus::Paused, "PAUSED"),
        (Status, SubscriptionStatus::Paused, "PAUSED"),
        (Resume, SubscriptionStatus::Active, "ACTIVE"),
        (Unsubscribe, SubscriptionStatus::Unsubscribed, "UNSUBSCRIBED"),
        (Status, SubscriptionStatus::Unsubscribed, "UNSUBSCRIBED"),
    ] {
        let r = c.subscription(CM, subscription_request(action, "feed-a", Some(&id)));
        let s = one_subscription(&r, "feed-a", want);
        assert_eq!(s.subscription_id, id, "{action:?}");
        assert_eq!(subscription_row(&mut w.db(), &id).unwrap().2, stored, "{action:?}");
    }
    // The row is kept.
    assert_eq!(count(&mut w.db(), "SELECT count(*) FROM subscriptions"), 1);
}

#[test]
fn s4_4_subscription_parameters_are_matched_stored_and_echoed() {
    use SubscriptionAction::*;
    let w = World::new();
    let c = w.anon();
    let mut req = subscription_request(Subscribe, "stix12-feed", None);
    req.subscription_parameters = Some(SubscriptionParameters {
        response_type: ResponseType::CountOnly,
        content_bindings: vec![ContentBinding::new(STIX12)],
        query: None,
    });
    // Push parameters are accepted and ignored (there is no push).
    req.push_parameters = Some(PushParameters {
        protocol_binding: PROTOCOL_HTTP.into(),
        address: "http://client.example/inbox".into(),
        message_binding: MESSAGE_BINDING_XML_11.into(),
        content_bindings: vec![],
    });
    let r = c.subscription(CM, req);
    let s = one_subscription(&r, "stix12-feed", SubscriptionStatus::Active);
    assert_eq!(s.subscription_parameters.response_type, ResponseType::CountOnly);
    assert_eq!(s.subscription_parameters.content_bindings, [ContentBinding::new(STIX12)]);
    assert_eq!(s.push_parameters, None);
    let params = subscription_row(&mut w.db(), &s.subscription_id).unwrap().1;
    assert_eq!(
        params,
        json!({"response_type": "COUNT_ONLY", "content_bindings": "[[\"urn:stix.mitre.org:xml:1.2\", []]]"})
    );
    // STATUS echoes the stored parameters.
    let r = c.subscription(CM, subscription_request(Status, "stix12-feed", Some(&s.subscription_id)));
    assert_eq!(
        one_subscription(&r, "stix12-feed", SubscriptionStatus::Active).subscription_parameters,
        s.subscription_parameters
    );

    // Without requested bindings, a collection's own list is the filter.
    let r = c.subscription(CM, subscription_request(Subscribe, "set-b", None));
    let s = one_subscription(&r, "set-b", SubscriptionStatus::Active);
    let params = subscription_row(&mut w.db(), &s.subscription_id).unwrap().1;
    assert_eq!(params["response_type"], "FULL");

    // Bindings the collection does not take.
    let mut req = subscription_request(Subscribe, "stix12-feed", None);
    req.subscription_parameters = Some(SubscriptionParameters {
        content_bindings: vec![ContentBinding::new(STIX111)],
        ..Default::default()
    });
    let r = c.subscription(CM, req);
    let st = r.expect(StatusType::UnsupportedContent);
    assert_eq!(st.details.supported_content, [ContentBinding::new(STIX12)], "{}", r.text());
    // A Default Query is not supported.
    let sample = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/reference/taxii1-messages/foreign/Subscription_Management_Request.xml"
    ))
    .unwrap();
    let (_, parsed) = parse(&sample).unwrap();
    let Message::ManageCollectionSubscriptionRequest(mut q) = parsed else { panic!() };
    q.collection_name = "feed-a".into();
    let r = c.subscription(CM, q);
    r.expect(StatusType::UnsupportedQuery);
    assert_eq!(count(&mut w.db(), "SELECT count(*) FROM subscriptions"), 2);
}

#[test]
fn s4_4_unknown_ids_collections_and_missing_ids() {
    use SubscriptionAction::*;
    let w = World::new();
    let c = w.anon();
    // UNSUBSCRIBE of an unknown id succeeds (spec), with Subscription_Parameters (cabby).
    let r = c.subscription(CM, subscription_request(Unsubscribe, "feed-a", Some("12345")));
    let s = r.subscriptions();
    assert_eq!(s.subscriptions.len(), 1, "{}", r.text());
    assert_eq!(s.subscriptions[0].subscription_id, "12345");
    assert_eq!(s.subscriptions[0].status, SubscriptionStatus::Unsubscribed);
    assert!(r.text().contains("Subscription_Parameters"), "{}", r.text());
    for action in [Pause, Resume, Status] {
        let r = c.subscription(CM, subscription_request(action, "feed-a", Some("12345")));
        assert_eq!(
            r.expect(StatusType::NotFound).details.item.as_deref(),
            Some("12345"),
            "{action:?}: {}",
            r.text()
        );
    }
    for action in [Pause, Resume, Unsubscribe] {
        let req = subscription_request(action, "feed-a", None);
        let id = req.message_id.clone();
        let r = c.subscription(CM, req);
        let s = r.expect(StatusType::BadMessage);
        assert_eq!(s.in_response_to, id);
        assert_eq!(
            s.message.as_deref(),
            Some(format!("Action \"{}\" requires a subscription id", action.wire()).as_str())
        );
    }
    let r = c.subscription(CM, subscription_request(Subscribe, "nope", None));
    let s = r.expect(StatusType::NotFound);
    assert_eq!(s.details.item.as_deref(), Some("nope"));
    assert_eq!(s.message.as_deref(), Some("Requested collection was not found"));
    let r = c.subscription(CM, subscription_request(Subscribe, "disabled", None));
    let s = r.expect(StatusType::Failure);
    assert_eq!(s.details.item.as_deref(), Some("disabled"));
    assert_eq!(s.message.as_deref(), Some("The collection is not available"));
    // A subscription of another collection is not found under this one.
    let r = c.subscription(CM, subscription_request(Subscribe, "feed-a", None));
    let id = one_subscription(&r, "feed-a", SubscriptionStatus::Active).subscription_id;
    for action in [Pause, Resume, Status] {
        let r = c.subscription(CM, subscription_request(action, "stix12-feed", Some(&id)));
        r.expect(StatusType::NotFound);
    }
    assert_eq!(subscription_row(&mut w.db(), &id).unwrap().2, "ACTIVE");
    assert_eq!(count(&mut w.db(), "SELECT count(*) FROM subscriptions"), 1);
}

#[test]
fn s4_4_status_without_id_lists_only_the_callers_subscriptions() {
    use SubscriptionAction::*;
    let w = World::new();
    let subscribe = |user: &str, coll: &str| {
        let r = w.basic(user).subscription(CM_AUTH, subscription_request(Subscribe, coll, None));
        one_subscription(&r, coll, SubscriptionStatus::Active).subscription_id
    };
    let mut mine = vec![subscribe("reader", "feed-a"), subscribe("reader", "feed-a")];
    mine.sort();
    let writers = subscribe("writer", "feed-a");
    subscribe("reader", "stix12-feed");
    let status = |user: &str| {
        let r = w.basic(user).subscription(CM_AUTH, subscription_request(Status, "feed-a", None));
        let m = r.subscriptions();
        assert_eq!(
            r.text().matches("Subscription_Parameters").count(),
            2 * m.subscriptions.len(),
            "{}",
            r.text()
        );
        let mut ids: Vec<String> = m.subscriptions.iter().map(|s| s.subscription_id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(status("reader"), mine);
    assert_eq!(status("writer"), [writers]);
    // Without read permission the collection does not exist.
    let r = w.basic("nobody").subscription(CM_AUTH, subscription_request(Status, "feed-a", None));
    assert_eq!(r.expect(StatusType::NotFound).details.item.as_deref(), Some("feed-a"));
    let r = w.basic("nobody").subscription(CM_AUTH, subscription_request(Subscribe, "feed-a", None));
    r.expect(StatusType::NotFound);
    let r = w.anon().subscription(CM_AUTH, subscription_request(Subscribe, "feed-a", None));
    r.expect(StatusType::Unauthorized);
}

#[test]
fn s4_4_subscriptions_10() {
    use SubscriptionAction::*;
    let w = World::new();
    let c = w.anon().v10();
    let r = c.send(CM, &feed_subscription_request(Subscribe, "feed-a", None));
    let m = r.feed_subscriptions();
    assert_eq!(m.feed_name, "feed-a");
    assert_eq!(m.message.as_deref(), Some("Subscription handled"));
    assert_eq!(m.subscriptions.len(), 1, "{}", r.text());
    let id = m.subscriptions[0].subscription_id.clone();
    assert!(is_digits_id(&id));
    assert_eq!(
        sorted_contacts(m.subscriptions[0].poll_instances.clone()),
        sorted_contacts(vec![service_contact(POLL), service_contact(POLL_AUTH)])
    );
    let (coll, params, status, service) = subscription_row(&mut w.db(), &id).expect("stored");
    assert_eq!(
        (coll.as_str(), status.as_str(), service.as_str()),
        ("feed-a", "ACTIVE", "collection_management")
    );
    assert_eq!(params, json!({"response_type": null, "content_bindings": "[]"}));

    let r = c.send(CM, &feed_subscription_request(Status, "feed-a", Some(&id)));
    let ids: Vec<&str> =
        r.feed_subscriptions().subscriptions.iter().map(|s| s.subscription_id.as_str()).collect();
    assert_eq!(ids, [id.as_str()], "{}", r.text());
    let r = c.send(CM, &feed_subscription_request(Unsubscribe, "feed-a", Some(&id)));
    let ids: Vec<&str> =
        r.feed_subscriptions().subscriptions.iter().map(|s| s.subscription_id.as_str()).collect();
    assert_eq!(ids, [id.as_str()], "{}", r.text());
    assert_eq!(subscription_row(&mut w.db(), &id).unwrap().2, "UNSUBSCRIBED");
    // A 1.0 error is a 1.0 status with a string detail.
    let r = c.send(CM, &feed_subscription_request(Subscribe, "nope", None));
    assert_eq!(r.expect(StatusType::NotFound).details.item.as_deref(), Some("nope"), "{}", r.text());
    // 1.1 sees the 1.0 subscription.
    let r = w.anon().subscription(CM, subscription_request(Status, "feed-a", Some(&id)));
    one_subscription(&r, "feed-a", SubscriptionStatus::Unsubscribed);
}

#[test]
fn s4_4_unsubscribed_is_final() {
    use SubscriptionAction::*;
    let w = World::new();
    let c = w.anon();
    let id = one_subscription(
        &c.subscription(CM, subscription_request(Subscribe, "feed-a", None)),
        "feed-a",
        SubscriptionStatus::Active,
    )
    .subscription_id;
    c.subscription(CM, subscription_request(Unsubscribe, "feed-a", Some(&id)));
    // OpenTAXII lets PAUSE and RESUME revive it (Q13).
    for action in [Pause, Resume, Status] {
        let r = c.subscription(CM, subscription_request(action, "feed-a", Some(&id)));
        one_subscription(&r, "feed-a", SubscriptionStatus::Unsubscribed);
    }
    assert_eq!(subscription_row(&mut w.db(), &id).unwrap().2, "UNSUBSCRIBED");
    let r = c.poll(POLL, poll_by_subscription("feed-a", &id));
    r.expect(StatusType::Denied);
    // 1.0: STATUS of an unknown id is not found (OpenTAXII lists everything).
    let r = c.v10().send(CM, &feed_subscription_request(Status, "feed-a", Some("999")));
    assert_eq!(r.expect(StatusType::NotFound).details.item.as_deref(), Some("999"), "{}", r.text());
}

#[test]
fn s4_4_subscriptions_belong_to_their_creator_and_admins() {
    use SubscriptionAction::*;
    let w = World::new();
    w.five_blocks();
    let r = w.basic("reader").subscription(CM_AUTH, subscription_request(Subscribe, "feed-a", None));
    let id = one_subscription(&r, "feed-a", SubscriptionStatus::Active).subscription_id;
    // The writer may read feed-a, but the subscription is not theirs.
    for action in [Status, Pause, Resume] {
        let r = w.basic("writer").subscription(CM_AUTH, subscription_request(action, "feed-a", Some(&id)));
        assert_eq!(r.expect(StatusType::NotFound).details.item.as_deref(), Some(id.as_str()), "{action:?}");
    }
    let r = w.basic("writer").poll(POLL_AUTH, poll_by_subscription("feed-a", &id));
    assert_eq!(r.expect(StatusType::NotFound).details.item.as_deref(), Some(id.as_str()));
    assert_eq!(subscription_row(&mut w.db(), &id).unwrap().2, "ACTIVE");
    // Its creator and admins may.
    let r = w.bearer("reader").poll(POLL_AUTH, poll_by_subscription("feed-a", &id));
    assert_eq!(r.poll().content_blocks.len(), 5);
    let r = w.basic("admin").subscription(CM_AUTH, subscription_request(Pause, "feed-a", Some(&id)));
    one_subscription(&r, "feed-a", SubscriptionStatus::Paused);
    // Ownership is recorded next to OpenTAXII's row.
    let owner: Option<i32> = w
        .db()
        .query_one("SELECT account_id FROM taxiid_subscription_owner WHERE subscription_id = $1", &[&id])
        .unwrap()
        .get(0);
    assert_eq!(owner, Some(w.account_id("reader")));
}
