//! TAXII 1.x helpers for the acceptance tests (`tests/taxii1_*.rs`).
//!
//! - SQL: services (`services` rows with OpenTAXII's data-config `_properties` JSON),
//!   collections (`data_collections`), links (`service_to_collection`), content blocks stored
//!   the way OpenTAXII stores them; accounts come from [`super::taxii2::create_account`].
//! - HTTP: [`Client`] sends a TAXII 1.0/1.1 message with the header set cabby sends, checks
//!   the answer's HTTP status, TAXII headers, version and message id, and parses it with the
//!   codec ([`Reply`]).
//! - Messages: request builders with fresh message ids, STIX-like payloads, timestamps.
//! - [`World`]: the data-config of `taxii1-checklist.md` §13 on a fresh database (plus an
//!   authenticated collection-management service and two more accounts), server started.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use taxiid::taxii1::messages::*;
use time::OffsetDateTime;

use super::http::Resp;
use super::server::Taxiid;
use super::taxii2::{Req, b64_std, create_account, login, password_of};

pub const XML: &str = "application/xml";
pub const STIX111: &str = CB_STIX_111;
pub const STIX12: &str = CB_STIX_12;

// ---------------------------------------------------------------------------------------
// SQL: OpenTAXII's TAXII 1 tables
// ---------------------------------------------------------------------------------------

/// A `services` row: `props` is the data-config entry without `id` and `type`, stored as
/// OpenTAXII stores it in `_properties`.
pub fn create_service(db: &mut postgres::Client, id: &str, ty: &str, props: &Value) {
    db.execute(
        "INSERT INTO services (id, type, _properties, date_created, date_updated) VALUES ($1, $2, $3, now(), now())",
        &[&id, &ty, &props.to_string()],
    )
    .unwrap_or_else(|e| panic!("creating service {id}: {e}"));
}

/// Replaces a service's `_properties`.
pub fn set_service_properties(db: &mut postgres::Client, id: &str, props: &Value) {
    let n = db
        .execute("UPDATE services SET _properties = $2 WHERE id = $1", &[&id, &props.to_string()])
        .unwrap_or_else(|e| panic!("updating service {id}: {e}"));
    assert_eq!(n, 1, "no service {id}");
}

/// A service's `_properties` as JSON.
pub fn service_properties(db: &mut postgres::Client, id: &str) -> Value {
    let text: String = db.query_one("SELECT _properties FROM services WHERE id = $1", &[&id]).unwrap().get(0);
    serde_json::from_str(&text).unwrap()
}

/// A `data_collections` row as a data-config collection entry describes it.
pub struct NewCollection<'a> {
    pub name: &'a str,
    /// `DATA_FEED` or `DATA_SET`.
    pub ty: &'a str,
    pub description: Option<&'a str>,
    pub accept_all_content: bool,
    /// Binding ids; subtypes as OpenTAXII's `bindings` pairs.
    pub bindings: &'a [(&'a str, &'a [&'a str])],
    pub available: bool,
}

/// Inserts a collection with volume 0; returns its id.
pub fn create_collection(db: &mut postgres::Client, c: &NewCollection) -> i32 {
    let bindings: Vec<Value> = c.bindings.iter().map(|(id, subs)| json!([id, subs])).collect();
    db.query_one(
        "INSERT INTO data_collections (date_created, name, type, description, accept_all_content, bindings, available, volume) \
         VALUES (now(), $1, $2, $3, $4, $5, $6, 0) RETURNING id",
        &[&c.name, &c.ty, &c.description, &c.accept_all_content, &Value::Array(bindings).to_string(), &c.available],
    )
    .unwrap_or_else(|e| panic!("creating collection {}: {e}", c.name))
    .get(0)
}

pub fn collection_id(db: &mut postgres::Client, name: &str) -> i32 {
    db.query_one("SELECT id FROM data_collections WHERE name = $1", &[&name])
        .unwrap_or_else(|e| panic!("collection {name}: {e}"))
        .get(0)
}

/// Attaches a collection to a service (`service_to_collection`).
pub fn link(db: &mut postgres::Client, service: &str, collection: &str) {
    db.execute(
        "INSERT INTO service_to_collection (service_id, collection_id) \
         SELECT $1, id FROM data_collections WHERE name = $2",
        &[&service, &collection],
    )
    .unwrap_or_else(|e| panic!("linking {service} to {collection}: {e}"));
}

/// A content block stored as OpenTAXII stores it, linked to `collections` (whose volumes go
/// up by one). `timestamp_label` is RFC 3339. Returns the block id.
pub fn insert_block(
    db: &mut postgres::Client,
    collections: &[&str],
    binding: &str,
    subtype: Option<&str>,
    content: &[u8],
    timestamp_label: &str,
) -> i32 {
    let id: i32 = db
        .query_one(
            "INSERT INTO content_blocks (date_created, timestamp_label, content, binding_id, binding_subtype) \
             VALUES (now(), $1::text::timestamptz, $2, $3, $4) RETURNING id",
            &[&timestamp_label, &content, &binding, &subtype],
        )
        .unwrap_or_else(|e| panic!("inserting a block: {e}"))
        .get(0);
    for c in collections {
        let n = db
            .execute(
                "INSERT INTO collection_to_content_block (collection_id, content_block_id) \
                 SELECT id, $2 FROM data_collections WHERE name = $1",
                &[c, &id],
            )
            .unwrap();
        assert_eq!(n, 1, "no collection {c}");
        db.execute("UPDATE data_collections SET volume = volume + 1 WHERE name = $1", &[c]).unwrap();
    }
    id
}

/// A stored block, as the tests look at it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBlock {
    pub id: i32,
    pub binding: String,
    pub subtype: Option<String>,
    pub content: Vec<u8>,
    pub timestamp_label: OffsetDateTime,
    pub inbox_message_id: Option<i32>,
}

/// Blocks linked to `collection`, by (timestamp_label, id).
pub fn blocks_in(db: &mut postgres::Client, collection: &str) -> Vec<StoredBlock> {
    db.query(
        "SELECT b.id, b.binding_id, b.binding_subtype, b.content, b.timestamp_label, b.inbox_message_id \
         FROM content_blocks b JOIN collection_to_content_block l ON l.content_block_id = b.id \
         JOIN data_collections c ON c.id = l.collection_id WHERE c.name = $1 ORDER BY b.timestamp_label, b.id",
        &[&collection],
    )
    .unwrap()
    .iter()
    .map(|r| StoredBlock {
        id: r.get(0),
        binding: r.get(1),
        subtype: r.get(2),
        content: r.get(3),
        timestamp_label: r.get(4),
        inbox_message_id: r.get(5),
    })
    .collect()
}

pub fn count(db: &mut postgres::Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

pub fn volume(db: &mut postgres::Client, collection: &str) -> i32 {
    db.query_one("SELECT volume FROM data_collections WHERE name = $1", &[&collection]).unwrap().get(0)
}

/// A `subscriptions` row: (collection name, params JSON, status, service id).
pub fn subscription_row(db: &mut postgres::Client, id: &str) -> Option<(String, Value, String, String)> {
    db.query_opt(
        "SELECT c.name, s.params, s.status, s.service_id FROM subscriptions s \
         JOIN data_collections c ON c.id = s.collection_id WHERE s.id = $1",
        &[&id],
    )
    .unwrap()
    .map(|r| {
        let params: String = r.get(1);
        (r.get(0), serde_json::from_str(&params).unwrap(), r.get(2), r.get(3))
    })
}

// ---------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------

/// A fresh request message id (digits, so valid in 1.0 too).
pub fn mid() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1000);
    NEXT.fetch_add(1, Ordering::Relaxed).to_string()
}

/// An RFC 3339 timestamp.
pub fn ts(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("not RFC 3339 ({e}): {s}"))
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// A small STIX 1.1.1-like package named `name` (its `id` attribute), self-contained XML.
pub fn stix(name: &str) -> String {
    format!(
        r#"<stix:STIX_Package xmlns:stix="http://stix.mitre.org/stix-1" id="{name}" version="1.1.1"><stix:STIX_Header><stix:Title>Package {name}</stix:Title></stix:STIX_Header></stix:STIX_Package>"#
    )
}

/// A content block: `content` as XML when it starts with `<`, else as text.
pub fn block(binding: &str, content: &str) -> ContentBlock {
    let content = if content.starts_with('<') {
        Content::xml(content.as_bytes())
    } else {
        Content::text(content.as_bytes())
    };
    ContentBlock { content_binding: ContentBinding::new(binding), content, ..Default::default() }
}

/// A block with a subtype and a Timestamp_Label.
pub fn block_with(binding: &str, subtype: Option<&str>, content: &str, label: Option<&str>) -> ContentBlock {
    let mut b = block(binding, content);
    if let Some(s) = subtype {
        b.content_binding.subtypes = vec![s.to_string()];
    }
    b.timestamp_label = label.map(ts);
    b
}

/// The name of each block of a poll answer: the `id` attribute of an XML payload made by
/// [`stix`], else the text.
pub fn names(blocks: &[ContentBlock]) -> Vec<String> {
    blocks.iter().map(block_name).collect()
}

pub fn block_name(b: &ContentBlock) -> String {
    let text = String::from_utf8_lossy(&b.content.bytes).into_owned();
    if b.content.is_xml {
        if let Some(rest) = text.split(" id=\"").nth(1) {
            return rest.split('"').next().unwrap().to_string();
        }
        return text;
    }
    text
}

pub fn discovery_request() -> Message {
    Message::DiscoveryRequest(SimpleRequest { message_id: mid(), extended_headers: vec![] })
}

pub fn collection_information_request() -> Message {
    Message::CollectionInformationRequest(SimpleRequest { message_id: mid(), extended_headers: vec![] })
}

pub fn feed_information_request() -> Message {
    Message::FeedInformationRequest(SimpleRequest { message_id: mid(), extended_headers: vec![] })
}

/// A 1.1 Poll_Request with default Poll_Parameters (FULL, any binding).
pub fn poll_request(collection: &str) -> PollRequest {
    PollRequest {
        message_id: mid(),
        collection_name: collection.to_string(),
        poll_parameters: Some(PollParameters::default()),
        ..Default::default()
    }
}

/// A 1.1 Poll_Request with these bindings (ids with optional subtypes).
pub fn poll_with_bindings(collection: &str, bindings: &[(&str, &[&str])]) -> PollRequest {
    let mut p = poll_request(collection);
    p.poll_parameters.as_mut().unwrap().content_bindings = content_bindings(bindings);
    p
}

/// A 1.1 Poll_Request by subscription.
pub fn poll_by_subscription(collection: &str, subscription_id: &str) -> PollRequest {
    PollRequest {
        message_id: mid(),
        collection_name: collection.to_string(),
        subscription_id: Some(subscription_id.to_string()),
        ..Default::default()
    }
}

/// A 1.0 Poll_Request (no Poll_Parameters).
pub fn poll_request_10(feed: &str) -> PollRequest {
    PollRequest { message_id: mid(), collection_name: feed.to_string(), ..Default::default() }
}

pub fn fulfillment(collection: &str, result_id: &str, part: u64) -> Message {
    Message::PollFulfillment(PollFulfillment {
        message_id: mid(),
        extended_headers: vec![],
        collection_name: collection.to_string(),
        result_id: result_id.to_string(),
        result_part_number: part,
    })
}

pub fn content_bindings(bindings: &[(&str, &[&str])]) -> Vec<ContentBinding> {
    bindings
        .iter()
        .map(|(id, subs)| ContentBinding {
            binding_id: id.to_string(),
            subtypes: subs.iter().map(|s| s.to_string()).collect(),
        })
        .collect()
}

pub fn inbox_message(destinations: &[&str], blocks: Vec<ContentBlock>) -> Message {
    Message::InboxMessage(InboxMessage {
        message_id: mid(),
        destination_collection_names: destinations.iter().map(|d| d.to_string()).collect(),
        content_blocks: blocks,
        ..Default::default()
    })
}

/// A 1.1 Subscription_Management_Request.
pub fn subscription_request(
    action: SubscriptionAction,
    collection: &str,
    id: Option<&str>,
) -> ManageCollectionSubscriptionRequest {
    ManageCollectionSubscriptionRequest {
        message_id: mid(),
        extended_headers: vec![],
        action,
        collection_name: collection.to_string(),
        subscription_id: id.map(str::to_string),
        subscription_parameters: None,
        push_parameters: None,
    }
}

/// A 1.0 Subscription_Management_Request.
pub fn feed_subscription_request(action: SubscriptionAction, feed: &str, id: Option<&str>) -> Message {
    Message::ManageFeedSubscriptionRequest(ManageFeedSubscriptionRequest {
        message_id: mid(),
        extended_headers: vec![],
        action,
        feed_name: feed.to_string(),
        subscription_id: id.map(str::to_string),
        push_parameters: None,
    })
}

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

/// A POST of `body` to `path` with the header set cabby sends for version `v`.
pub fn taxii_req(path: &str, v: Version, body: impl Into<Vec<u8>>) -> Req {
    Req::new("POST", path)
        .header("Accept", XML)
        .header("Content-Type", XML)
        .header("X-TAXII-Content-Type", v.message_binding())
        .header("X-TAXII-Accept", v.message_binding())
        .header("X-TAXII-Services", v.services())
        .header("X-TAXII-Protocol", PROTOCOL_HTTP)
        .header("User-Agent", "taxiid-tests")
        .body(body)
}

/// True for 1..19 ASCII digits (OpenTAXII's and libtaxii's message ids).
pub fn is_digits_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Asserts what every TAXII answer must carry — HTTP 200, `Content-Type: application/xml`,
/// the TAXII headers of version `v`, a body of version `v` with a digits-only message id —
/// and parses it.
#[track_caller]
pub fn check_reply(resp: Resp, v: Version) -> Reply {
    let text = resp.text();
    assert_eq!(resp.status, 200, "a TAXII answer is HTTP 200: {text}");
    assert_eq!(resp.header("content-type"), Some(XML), "Content-Type: {text}");
    assert_eq!(
        resp.header("x-taxii-content-type"),
        Some(v.message_binding()),
        "X-TAXII-Content-Type: {text}"
    );
    assert_eq!(resp.header("x-taxii-services"), Some(v.services()), "X-TAXII-Services: {text}");
    assert_eq!(resp.header("x-taxii-protocol"), Some(PROTOCOL_HTTP), "X-TAXII-Protocol: {text}");
    assert_eq!(resp.header("x-taxii-accept"), None, "no X-TAXII-Accept in answers");
    let (got, msg) = parse(&resp.body).unwrap_or_else(|e| panic!("the answer does not parse ({e}): {text}"));
    assert_eq!(got, v, "the answer's version: {text}");
    assert!(is_digits_id(msg.message_id()), "message_id must be digits only: {text}");
    Reply { resp, version: v, msg }
}

/// A parsed TAXII answer.
pub struct Reply {
    pub resp: Resp,
    pub version: Version,
    pub msg: Message,
}

impl Reply {
    pub fn text(&self) -> String {
        self.resp.text()
    }

    pub fn in_response_to(&self) -> &str {
        self.msg.in_response_to().expect("a response")
    }

    /// The Status_Message (panics on any other answer).
    #[track_caller]
    pub fn status(&self) -> &StatusMessage {
        match &self.msg {
            Message::StatusMessage(s) => s,
            _ => panic!("expected a Status_Message, got {}: {}", self.msg.element_name(), self.text()),
        }
    }

    /// The Status_Message, asserting its type.
    #[track_caller]
    pub fn expect(&self, status_type: StatusType) -> &StatusMessage {
        let s = self.status();
        assert_eq!(s.status_type, status_type, "status type: {}", self.text());
        s
    }

    #[track_caller]
    pub fn poll(&self) -> &PollResponse {
        match &self.msg {
            Message::PollResponse(p) => p,
            _ => panic!("expected a Poll_Response, got {}: {}", self.msg.element_name(), self.text()),
        }
    }

    #[track_caller]
    pub fn discovery(&self) -> &DiscoveryResponse {
        match &self.msg {
            Message::DiscoveryResponse(d) => d,
            _ => panic!("expected a Discovery_Response, got {}: {}", self.msg.element_name(), self.text()),
        }
    }

    #[track_caller]
    pub fn collections(&self) -> &CollectionInformationResponse {
        match &self.msg {
            Message::CollectionInformationResponse(c) => c,
            _ => panic!(
                "expected a Collection_Information_Response, got {}: {}",
                self.msg.element_name(),
                self.text()
            ),
        }
    }

    #[track_caller]
    pub fn feeds(&self) -> &FeedInformationResponse {
        match &self.msg {
            Message::FeedInformationResponse(f) => f,
            _ => panic!(
                "expected a Feed_Information_Response, got {}: {}",
                self.msg.element_name(),
                self.text()
            ),
        }
    }

    #[track_caller]
    pub fn subscriptions(&self) -> &ManageCollectionSubscriptionResponse {
        match &self.msg {
            Message::ManageCollectionSubscriptionResponse(s) => s,
            _ => panic!(
                "expected a Subscription_Management_Response, got {}: {}",
                self.msg.element_name(),
                self.text()
            ),
        }
    }

    #[track_caller]
    pub fn feed_subscriptions(&self) -> &ManageFeedSubscriptionResponse {
        match &self.msg {
            Message::ManageFeedSubscriptionResponse(s) => s,
            _ => panic!(
                "expected a 1.0 Subscription_Management_Response, got {}: {}",
                self.msg.element_name(),
                self.text()
            ),
        }
    }
}

/// A client identity and TAXII version: where to send, which `Authorization` to send.
#[derive(Clone)]
pub struct Client {
    pub addr: SocketAddr,
    pub authorization: Option<String>,
    pub version: Version,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client { addr, authorization: None, version: Version::V11 }
    }

    /// The same identity speaking TAXII 1.0.
    pub fn v10(&self) -> Client {
        Client { version: Version::V10, ..self.clone() }
    }

    pub fn with_authorization(&self, value: &str) -> Client {
        Client { authorization: Some(value.to_string()), ..self.clone() }
    }

    pub fn basic(&self, user: &str, password: &str) -> Client {
        self.with_authorization(&format!("Basic {}", b64_std(format!("{user}:{password}").as_bytes())))
    }

    /// The request cabby would send, with this identity's credentials.
    pub fn req(&self, path: &str, body: impl Into<Vec<u8>>) -> Req {
        let r = taxii_req(path, self.version, body);
        match &self.authorization {
            Some(a) => r.header("Authorization", a.as_str()),
            None => r,
        }
    }

    /// POSTs `msg` (written in this client's version) and checks the answer ([`check_reply`]).
    #[track_caller]
    pub fn send(&self, path: &str, msg: &Message) -> Reply {
        assert!(msg.supports(self.version), "{} does not exist in {:?}", msg.element_name(), self.version);
        let body = write(self.version, msg);
        let reply = check_reply(self.req(path, body).send(self.addr), self.version);
        if let Some(irt) = reply.msg.in_response_to()
            && irt != "0"
        {
            assert_eq!(irt, msg.message_id(), "in_response_to: {}", reply.text());
        }
        reply
    }

    /// POSTs raw bytes with this client's headers and checks the answer as version `v`.
    #[track_caller]
    pub fn send_raw(&self, path: &str, body: &[u8], v: Version) -> Reply {
        check_reply(self.req(path, body.to_vec()).send(self.addr), v)
    }

    #[track_caller]
    pub fn poll(&self, path: &str, p: PollRequest) -> Reply {
        self.send(path, &Message::PollRequest(p))
    }

    /// Polls and follows `more` with Poll_Fulfillment (1.1) until the last part; returns
    /// every part's answer. Checks part numbers, result ids and `more`.
    #[track_caller]
    pub fn poll_all(&self, path: &str, p: PollRequest) -> Vec<PollResponse> {
        let collection = p.collection_name.clone();
        let first = self.poll(path, p).poll().clone();
        assert_eq!(first.result_part_number, 1);
        let mut parts = vec![first];
        while parts.last().unwrap().more {
            let last = parts.last().unwrap();
            let rid = last.result_id.clone().expect("more=\"true\" needs a result_id");
            let next = last.result_part_number + 1;
            assert!(next <= 100, "more than 100 parts");
            let r = self.send(path, &fulfillment(&collection, &rid, next));
            let part = r.poll().clone();
            assert_eq!(part.result_part_number, next, "{}", r.text());
            assert_eq!(part.result_id.as_deref(), Some(rid.as_str()), "{}", r.text());
            parts.push(part);
        }
        parts
    }

    #[track_caller]
    pub fn inbox(&self, path: &str, destinations: &[&str], blocks: Vec<ContentBlock>) -> Reply {
        self.send(path, &inbox_message(destinations, blocks))
    }

    #[track_caller]
    pub fn subscription(&self, path: &str, req: ManageCollectionSubscriptionRequest) -> Reply {
        self.send(path, &Message::ManageCollectionSubscriptionRequest(req))
    }
}

/// Both XML message bindings, as every service advertises them.
pub const BOTH_XML: [&str; 2] = [MESSAGE_BINDING_XML_10, MESSAGE_BINDING_XML_11];

/// The http contact of a World service at `path` (Polling_Service, Subscription_Service,
/// Poll_Instance).
pub fn service_contact(path: &str) -> ServiceContact {
    ServiceContact {
        protocol_binding: PROTOCOL_HTTP.into(),
        address: abs(path),
        message_bindings: BOTH_XML.iter().map(|s| s.to_string()).collect(),
    }
}

/// Service contacts in a comparable order (message bindings sorted, then by address).
pub fn sorted_contacts(mut v: Vec<ServiceContact>) -> Vec<ServiceContact> {
    for c in &mut v {
        c.message_bindings.sort();
    }
    v.sort_by(|a, b| (&a.address, &a.protocol_binding).cmp(&(&b.address, &b.protocol_binding)));
    v
}

/// Asserts a Status_Message of `ty` answering `irt`.
#[track_caller]
pub fn assert_status(r: &Reply, ty: StatusType, irt: &str) {
    let s = r.expect(ty);
    assert_eq!(s.in_response_to, irt, "in_response_to: {}", r.text());
}

// ---------------------------------------------------------------------------------------
// World (taxii1-checklist.md §13)
// ---------------------------------------------------------------------------------------

pub const SECRET: &str = "taxii1-world-secret-not-for-production";
/// `domain` of every World server; addresses in answers are built from it.
pub const DOMAIN: &str = "http://127.0.0.1:9000";

pub const DISCOVERY: &str = "/services/discovery";
pub const CM: &str = "/services/collection-management";
/// Not in §13: collection management with `authentication_required`, attached to every
/// collection, not advertised.
pub const CM_AUTH: &str = "/services/collection-management-auth";
pub const INBOX: &str = "/services/inbox";
pub const INBOX_STRICT: &str = "/services/inbox-strict";
pub const INBOX_AUTH: &str = "/services/inbox-auth";
pub const POLL: &str = "/services/poll";
pub const POLL_AUTH: &str = "/services/poll-auth";

/// Accounts: admin (is_admin); reader {feed-a: read, stix12-feed: modify};
/// writer {feed-a: modify, set-b: modify, stix12-feed: read}; nobody {}. Passwords
/// [`password_of`].
pub const USERS: &[&str] = &["admin", "reader", "writer", "nobody"];

/// `http://127.0.0.1:9000<path>`.
pub fn abs(path: &str) -> String {
    format!("{DOMAIN}{path}")
}

/// `https://127.0.0.1:9000<path>`: the address for the https binding.
pub fn abs_https(path: &str) -> String {
    format!("{}{path}", DOMAIN.replacen("http://", "https://", 1))
}

const HTTP_ONLY: &[&str] = &[PROTOCOL_HTTP];

/// The services of §13 (plus `collection_management_auth`): (id, type, properties).
pub fn world_services() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "discovery",
            "discovery",
            json!({
                "address": DISCOVERY,
                "description": "Discovery service",
                "advertised_services": ["discovery", "collection_management", "inbox", "inbox_strict", "poll", "poll_auth"],
                "protocol_bindings": [PROTOCOL_HTTP, PROTOCOL_HTTPS],
            }),
        ),
        (
            "collection_management",
            "collection_management",
            json!({
                "address": CM,
                "description": "Collection management service",
                "subscription_message": "Subscription handled",
                "protocol_bindings": HTTP_ONLY,
            }),
        ),
        (
            "collection_management_auth",
            "collection_management",
            json!({
                "address": CM_AUTH,
                "description": "Collection management requiring authentication",
                "authentication_required": true,
                "protocol_bindings": HTTP_ONLY,
            }),
        ),
        (
            "inbox",
            "inbox",
            json!({
                "address": INBOX,
                "description": "Open inbox (accepts everything, destination optional)",
                "destination_collection_required": false,
                "accept_all_content": true,
                "protocol_bindings": HTTP_ONLY,
            }),
        ),
        (
            "inbox_strict",
            "inbox",
            json!({
                "address": INBOX_STRICT,
                "description": "Strict inbox (STIX 1.1.1/1.2 only, destination required)",
                "destination_collection_required": true,
                "accept_all_content": false,
                "supported_content": [STIX111, STIX12],
                "protocol_bindings": HTTP_ONLY,
            }),
        ),
        (
            "poll",
            "poll",
            json!({
                "address": POLL,
                "description": "Poll service",
                "max_result_size": 2,
                "max_result_count": 3,
                "protocol_bindings": HTTP_ONLY,
            }),
        ),
        (
            "poll_auth",
            "poll",
            json!({
                "address": POLL_AUTH,
                "description": "Poll service requiring authentication",
                "authentication_required": true,
                "protocol_bindings": HTTP_ONLY,
            }),
        ),
        (
            "inbox_auth",
            "inbox",
            json!({
                "address": INBOX_AUTH,
                "description": "Inbox requiring authentication",
                "authentication_required": true,
                "destination_collection_required": true,
                "accept_all_content": true,
                "protocol_bindings": HTTP_ONLY,
            }),
        ),
    ]
}

/// Creates the World layout in `conninfo` (a fresh, migrated database).
pub fn create_world_layout(conninfo: &str) {
    let mut db = super::connect(conninfo);
    for (id, ty, props) in world_services() {
        create_service(&mut db, id, ty, &props);
    }
    let cms = ["collection_management", "collection_management_auth"];
    let collections: [(NewCollection, &[&str]); 4] = [
        (
            NewCollection {
                name: "feed-a",
                ty: "DATA_FEED",
                description: Some("An open data feed"),
                accept_all_content: true,
                bindings: &[],
                available: true,
            },
            &["inbox", "inbox_strict", "poll", "poll_auth", "inbox_auth"],
        ),
        (
            NewCollection {
                name: "set-b",
                ty: "DATA_SET",
                description: Some("A data set (STIX 1.1.1 only)"),
                accept_all_content: false,
                bindings: &[(STIX111, &[])],
                available: true,
            },
            &["inbox", "inbox_strict", "poll"],
        ),
        (
            NewCollection {
                name: "stix12-feed",
                ty: "DATA_FEED",
                description: Some("A feed that only takes STIX 1.2"),
                accept_all_content: false,
                bindings: &[(STIX12, &[])],
                available: true,
            },
            &["inbox", "inbox_strict", "poll", "poll_auth", "inbox_auth"],
        ),
        (
            NewCollection {
                name: "disabled",
                ty: "DATA_FEED",
                description: Some("An unavailable collection"),
                accept_all_content: false,
                bindings: &[],
                available: false,
            },
            &["poll"],
        ),
    ];
    for (c, services) in &collections {
        create_collection(&mut db, c);
        for s in cms.iter().chain(services.iter()) {
            link(&mut db, s, c.name);
        }
    }
    create_account(&mut db, "admin", &password_of("admin"), true, &json!({}));
    create_account(
        &mut db,
        "reader",
        &password_of("reader"),
        false,
        &json!({"feed-a": "read", "stix12-feed": "modify"}),
    );
    create_account(
        &mut db,
        "writer",
        &password_of("writer"),
        false,
        &json!({"feed-a": "modify", "set-b": "modify", "stix12-feed": "read"}),
    );
    create_account(&mut db, "nobody", &password_of("nobody"), false, &json!({}));
}

/// The configuration every World server gets (before the test's own lines).
pub fn world_config() -> String {
    format!("domain = {DOMAIN}\nauth.secret = {SECRET}\n")
}

pub struct World {
    pub srv: Taxiid,
    pub conninfo: String,
    tokens: RefCell<HashMap<String, String>>,
}

impl World {
    pub fn new() -> World {
        World::with("")
    }

    /// The layout with [`world_config`] plus `extra` configuration lines.
    pub fn with(extra: &str) -> World {
        let conninfo = super::fresh_database();
        create_world_layout(&conninfo);
        let srv = Taxiid::start(&conninfo, &format!("{}{extra}", world_config()));
        World { srv, conninfo, tokens: RefCell::new(HashMap::new()) }
    }

    pub fn addr(&self) -> SocketAddr {
        self.srv.addr
    }

    pub fn db(&self) -> postgres::Client {
        super::connect(&self.conninfo)
    }

    pub fn account_id(&self, user: &str) -> i32 {
        self.db().query_one("SELECT id FROM accounts WHERE username = $1", &[&user]).unwrap().get(0)
    }

    /// A 1.1 client without credentials.
    pub fn anon(&self) -> Client {
        Client::new(self.addr())
    }

    /// A 1.1 client with HTTP Basic credentials of `user`.
    pub fn basic(&self, user: &str) -> Client {
        self.anon().basic(user, &password_of(user))
    }

    /// A JWT for `user` from `POST /management/auth` (once per World).
    pub fn token(&self, user: &str) -> String {
        if let Some(t) = self.tokens.borrow().get(user) {
            return t.clone();
        }
        let t = login(self.addr(), user, &password_of(user));
        self.tokens.borrow_mut().insert(user.to_string(), t.clone());
        t
    }

    /// A 1.1 client with `Authorization: Bearer <JWT of user>`.
    pub fn bearer(&self, user: &str) -> Client {
        self.anon().with_authorization(&format!("Bearer {}", self.token(user)))
    }

    /// Stores `blocks` (name, binding, subtype, timestamp) as [`stix`] packages in
    /// `collections` straight in the database; returns their ids.
    pub fn add_blocks(&self, collections: &[&str], blocks: &[(&str, &str, Option<&str>, &str)]) -> Vec<i32> {
        let mut db = self.db();
        blocks
            .iter()
            .map(|(name, binding, subtype, label)| {
                insert_block(&mut db, collections, binding, *subtype, stix(name).as_bytes(), label)
            })
            .collect()
    }

    /// Five STIX 1.1.1 blocks `b1`..`b5` in feed-a labelled 2024-01-01 … 2024-01-05.
    pub fn five_blocks(&self) -> Vec<i32> {
        let labels = [
            "2024-01-01T00:00:00Z",
            "2024-01-02T00:00:00Z",
            "2024-01-03T00:00:00Z",
            "2024-01-04T00:00:00Z",
            "2024-01-05T00:00:00Z",
        ];
        let names = ["b1", "b2", "b3", "b4", "b5"];
        let blocks: Vec<(&str, &str, Option<&str>, &str)> =
            names.iter().zip(labels).map(|(n, l)| (*n, STIX111, None, l)).collect();
        self.add_blocks(&["feed-a"], &blocks)
    }
}
