//! The typed model of every TAXII 1.0 and 1.1 message (shared parts in `parts.rs`,
//! Status_Message in `status.rs`).
//!
//! One struct per message and per shared part. Where the two versions carry the same thing
//! the struct is shared and the fields only one version has are marked "(1.0)" or "(1.1)";
//! the writer ignores fields the target version cannot express. Collection/Feed information
//! and subscription management differ enough to get a type per version. Defaults the XSDs
//! declare (`Response_Type` FULL, `collection_type` DATA_FEED, `status` ACTIVE,
//! `result_part_number` 1) are applied when parsing, so a parsed message compares equal to
//! its written-and-reparsed self. No XML here.

use time::OffsetDateTime;

use super::ids::Version;
use super::parts::*;
use super::status::StatusMessage;

/// Record_Count (1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecordCount {
    pub count: u64,
    pub partial: bool,
}

/// A Content_Block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContentBlock {
    /// 1.1 allows at most one subtype here; 1.0 the id only.
    pub content_binding: ContentBinding,
    pub content: Content,
    pub timestamp_label: Option<OffsetDateTime>,
    /// (1.1)
    pub message: Option<String>,
    pub padding: Option<String>,
}

/// A Discovery_Response Service_Instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInstance {
    pub service_type: ServiceType,
    /// Services id of the message's version (`urn:taxii.mitre.org:services:1.x`).
    pub service_version: String,
    /// None = unknown whether the requester may use it.
    pub available: Option<bool>,
    pub protocol_binding: String,
    pub address: String,
    pub message_bindings: Vec<String>,
    /// (1.1)
    pub supported_queries: Vec<SupportedQuery>,
    /// Inbox only: accepted bindings, none = everything. 1.0 writes the ids only.
    pub content_bindings: Vec<ContentBinding>,
    pub message: Option<String>,
}

/// Subscription_Parameters (1.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscriptionParameters {
    pub response_type: ResponseType,
    pub content_bindings: Vec<ContentBinding>,
    pub query: Option<Query>,
}

/// Poll_Parameters (1.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PollParameters {
    pub allow_asynch: bool,
    pub response_type: ResponseType,
    pub content_bindings: Vec<ContentBinding>,
    pub query: Option<Query>,
    pub delivery_parameters: Option<PushParameters>,
}

/// A Collection record of a Collection_Information_Response (1.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CollectionRecord {
    pub collection_name: String,
    pub collection_type: CollectionType,
    pub available: Option<bool>,
    pub description: String,
    pub collection_volume: Option<u64>,
    /// Empty = all bindings.
    pub content_bindings: Vec<ContentBinding>,
    pub push_methods: Vec<PushMethod>,
    pub polling_services: Vec<ServiceContact>,
    pub subscription_services: Vec<ServiceContact>,
    pub receiving_inbox_services: Vec<InboxServiceContact>,
}

/// A Feed record of a Feed_Information_Response (1.0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeedRecord {
    pub feed_name: String,
    pub available: Option<bool>,
    pub description: String,
    /// The 1.0 XSD wants at least one; OpenTAXII sends none for accept-all feeds.
    pub content_bindings: Vec<String>,
    pub push_methods: Vec<PushMethod>,
    pub polling_services: Vec<ServiceContact>,
    pub subscription_services: Vec<ServiceContact>,
}

/// A Subscription of a 1.1 Subscription_Management_Response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscriptionInstance {
    pub status: SubscriptionStatus,
    pub subscription_id: String,
    /// Always written, empty or not: cabby dereferences it unconditionally. An absent element
    /// reads as the defaults.
    pub subscription_parameters: SubscriptionParameters,
    pub push_parameters: Option<PushParameters>,
    pub poll_instances: Vec<ServiceContact>,
}

/// A Subscription of a 1.0 Subscription_Management_Response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeedSubscriptionInstance {
    pub subscription_id: String,
    pub push_parameters: Option<PushParameters>,
    pub poll_instances: Vec<ServiceContact>,
}

/// Source_Subscription of an Inbox_Message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceSubscription {
    /// `collection_name` (1.1) / `feed_name` (1.0).
    pub collection_name: String,
    /// Required element in 1.1, optional attribute in 1.0.
    pub subscription_id: Option<String>,
    /// (1.1)
    pub exclusive_begin: Option<OffsetDateTime>,
    /// (1.0)
    pub inclusive_begin: Option<OffsetDateTime>,
    /// Required in 1.0.
    pub inclusive_end: Option<OffsetDateTime>,
}

/// Discovery_Request, Collection_Information_Request (1.1), Feed_Information_Request (1.0):
/// nothing but the common parts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SimpleRequest {
    pub message_id: String,
    pub extended_headers: Vec<ExtendedHeader>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiscoveryResponse {
    pub message_id: String,
    pub in_response_to: String,
    pub extended_headers: Vec<ExtendedHeader>,
    pub service_instances: Vec<ServiceInstance>,
}

/// Collection_Information_Response (1.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CollectionInformationResponse {
    pub message_id: String,
    pub in_response_to: String,
    pub extended_headers: Vec<ExtendedHeader>,
    pub collections: Vec<CollectionRecord>,
}

/// Feed_Information_Response (1.0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeedInformationResponse {
    pub message_id: String,
    pub in_response_to: String,
    pub extended_headers: Vec<ExtendedHeader>,
    pub feeds: Vec<FeedRecord>,
}

/// Subscription_Management_Request (1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManageCollectionSubscriptionRequest {
    pub message_id: String,
    pub extended_headers: Vec<ExtendedHeader>,
    pub action: SubscriptionAction,
    pub collection_name: String,
    pub subscription_id: Option<String>,
    pub subscription_parameters: Option<SubscriptionParameters>,
    pub push_parameters: Option<PushParameters>,
}

/// Subscription_Management_Response (1.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ManageCollectionSubscriptionResponse {
    pub message_id: String,
    pub in_response_to: String,
    pub extended_headers: Vec<ExtendedHeader>,
    pub collection_name: String,
    pub message: Option<String>,
    pub subscriptions: Vec<SubscriptionInstance>,
}

/// Subscription_Management_Request (1.0): no PAUSE/RESUME, `subscription_id` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManageFeedSubscriptionRequest {
    pub message_id: String,
    pub extended_headers: Vec<ExtendedHeader>,
    pub action: SubscriptionAction,
    pub feed_name: String,
    pub subscription_id: Option<String>,
    pub push_parameters: Option<PushParameters>,
}

/// Subscription_Management_Response (1.0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ManageFeedSubscriptionResponse {
    pub message_id: String,
    pub in_response_to: String,
    pub extended_headers: Vec<ExtendedHeader>,
    pub feed_name: String,
    pub message: Option<String>,
    pub subscriptions: Vec<FeedSubscriptionInstance>,
}

/// Poll_Request of either version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PollRequest {
    pub message_id: String,
    pub extended_headers: Vec<ExtendedHeader>,
    /// `collection_name` (1.1) / `feed_name` (1.0).
    pub collection_name: String,
    pub exclusive_begin: Option<OffsetDateTime>,
    pub inclusive_end: Option<OffsetDateTime>,
    /// 1.1: the Subscription_ID element (exactly one of it and `poll_parameters` is present);
    /// 1.0: the optional attribute, which may come with `content_bindings`.
    pub subscription_id: Option<String>,
    /// (1.1)
    pub poll_parameters: Option<PollParameters>,
    /// (1.0) acceptable bindings, none = any; ids only.
    pub content_bindings: Vec<ContentBinding>,
}

/// Poll_Response of either version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollResponse {
    pub message_id: String,
    pub in_response_to: String,
    pub extended_headers: Vec<ExtendedHeader>,
    /// `collection_name` (1.1) / `feed_name` (1.0).
    pub collection_name: String,
    /// (1.1) when true, `result_id` must be set.
    pub more: bool,
    /// (1.1)
    pub result_id: Option<String>,
    /// (1.1) parts count from 1.
    pub result_part_number: u64,
    /// 1.1 element / 1.0 attribute.
    pub subscription_id: Option<String>,
    /// (1.1)
    pub exclusive_begin: Option<OffsetDateTime>,
    /// (1.0)
    pub inclusive_begin: Option<OffsetDateTime>,
    /// Required in 1.0.
    pub inclusive_end: Option<OffsetDateTime>,
    /// (1.1)
    pub record_count: Option<RecordCount>,
    pub message: Option<String>,
    pub content_blocks: Vec<ContentBlock>,
}

impl Default for PollResponse {
    fn default() -> PollResponse {
        PollResponse {
            message_id: String::new(),
            in_response_to: String::new(),
            extended_headers: Vec::new(),
            collection_name: String::new(),
            more: false,
            result_id: None,
            result_part_number: 1,
            subscription_id: None,
            exclusive_begin: None,
            inclusive_begin: None,
            inclusive_end: None,
            record_count: None,
            message: None,
            content_blocks: Vec::new(),
        }
    }
}

/// Poll_Fulfillment (1.1). A missing `result_part_number` reads as 1 (OpenTAXII crashes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PollFulfillment {
    pub message_id: String,
    pub extended_headers: Vec<ExtendedHeader>,
    pub collection_name: String,
    pub result_id: String,
    pub result_part_number: u64,
}

/// Inbox_Message of either version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InboxMessage {
    pub message_id: String,
    pub extended_headers: Vec<ExtendedHeader>,
    /// (1.1)
    pub result_id: Option<String>,
    /// (1.1)
    pub destination_collection_names: Vec<String>,
    pub message: Option<String>,
    pub source_subscription: Option<SourceSubscription>,
    /// (1.1)
    pub record_count: Option<RecordCount>,
    pub content_blocks: Vec<ContentBlock>,
}

/// Any TAXII 1.x message. Variants named after one version exist only in that version;
/// [`Message::supports`] tells which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    DiscoveryRequest(SimpleRequest),
    DiscoveryResponse(DiscoveryResponse),
    /// (1.1)
    CollectionInformationRequest(SimpleRequest),
    /// (1.1)
    CollectionInformationResponse(CollectionInformationResponse),
    /// (1.0)
    FeedInformationRequest(SimpleRequest),
    /// (1.0)
    FeedInformationResponse(FeedInformationResponse),
    /// (1.1)
    ManageCollectionSubscriptionRequest(ManageCollectionSubscriptionRequest),
    /// (1.1)
    ManageCollectionSubscriptionResponse(ManageCollectionSubscriptionResponse),
    /// (1.0)
    ManageFeedSubscriptionRequest(ManageFeedSubscriptionRequest),
    /// (1.0)
    ManageFeedSubscriptionResponse(ManageFeedSubscriptionResponse),
    PollRequest(PollRequest),
    PollResponse(PollResponse),
    /// (1.1)
    PollFulfillment(PollFulfillment),
    InboxMessage(InboxMessage),
    StatusMessage(StatusMessage),
}

impl Message {
    pub fn message_id(&self) -> &str {
        match self {
            Message::DiscoveryRequest(m)
            | Message::CollectionInformationRequest(m)
            | Message::FeedInformationRequest(m) => &m.message_id,
            Message::DiscoveryResponse(m) => &m.message_id,
            Message::CollectionInformationResponse(m) => &m.message_id,
            Message::FeedInformationResponse(m) => &m.message_id,
            Message::ManageCollectionSubscriptionRequest(m) => &m.message_id,
            Message::ManageCollectionSubscriptionResponse(m) => &m.message_id,
            Message::ManageFeedSubscriptionRequest(m) => &m.message_id,
            Message::ManageFeedSubscriptionResponse(m) => &m.message_id,
            Message::PollRequest(m) => &m.message_id,
            Message::PollResponse(m) => &m.message_id,
            Message::PollFulfillment(m) => &m.message_id,
            Message::InboxMessage(m) => &m.message_id,
            Message::StatusMessage(m) => &m.message_id,
        }
    }

    /// The request id a response answers; None for requests.
    pub fn in_response_to(&self) -> Option<&str> {
        match self {
            Message::DiscoveryResponse(m) => Some(&m.in_response_to),
            Message::CollectionInformationResponse(m) => Some(&m.in_response_to),
            Message::FeedInformationResponse(m) => Some(&m.in_response_to),
            Message::ManageCollectionSubscriptionResponse(m) => Some(&m.in_response_to),
            Message::ManageFeedSubscriptionResponse(m) => Some(&m.in_response_to),
            Message::PollResponse(m) => Some(&m.in_response_to),
            Message::StatusMessage(m) => Some(&m.in_response_to),
            _ => None,
        }
    }

    /// Name of the root element on the wire (the same in both versions where both have it).
    pub fn element_name(&self) -> &'static str {
        match self {
            Message::DiscoveryRequest(_) => "Discovery_Request",
            Message::DiscoveryResponse(_) => "Discovery_Response",
            Message::CollectionInformationRequest(_) => "Collection_Information_Request",
            Message::CollectionInformationResponse(_) => "Collection_Information_Response",
            Message::FeedInformationRequest(_) => "Feed_Information_Request",
            Message::FeedInformationResponse(_) => "Feed_Information_Response",
            Message::ManageCollectionSubscriptionRequest(_) | Message::ManageFeedSubscriptionRequest(_) => {
                "Subscription_Management_Request"
            }
            Message::ManageCollectionSubscriptionResponse(_) | Message::ManageFeedSubscriptionResponse(_) => {
                "Subscription_Management_Response"
            }
            Message::PollRequest(_) => "Poll_Request",
            Message::PollResponse(_) => "Poll_Response",
            Message::PollFulfillment(_) => "Poll_Fulfillment",
            Message::InboxMessage(_) => "Inbox_Message",
            Message::StatusMessage(_) => "Status_Message",
        }
    }

    /// Whether this message type exists in `v`. Writing one that does not gives XML the
    /// other side will not accept.
    pub fn supports(&self, v: Version) -> bool {
        match self {
            Message::CollectionInformationRequest(_)
            | Message::CollectionInformationResponse(_)
            | Message::ManageCollectionSubscriptionRequest(_)
            | Message::ManageCollectionSubscriptionResponse(_)
            | Message::PollFulfillment(_) => v == Version::V11,
            Message::FeedInformationRequest(_)
            | Message::FeedInformationResponse(_)
            | Message::ManageFeedSubscriptionRequest(_)
            | Message::ManageFeedSubscriptionResponse(_) => v == Version::V10,
            _ => true,
        }
    }
}
