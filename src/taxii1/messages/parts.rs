//! The shared parts of TAXII 1 messages: content bindings, payloads, service contacts,
//! push parameters, queries, and the enumerations with their wire values (which may differ
//! by version). No XML here.

use super::ids::Version;

/// A Content_Binding: a binding id and, in 1.1, subtypes (at most one inside a Content_Block).
/// 1.0 carries the id only; subtypes are dropped when writing 1.0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContentBinding {
    pub binding_id: String,
    pub subtypes: Vec<String>,
}

impl ContentBinding {
    pub fn new(binding_id: impl Into<String>) -> ContentBinding {
        ContentBinding { binding_id: binding_id.into(), subtypes: Vec::new() }
    }

    /// libtaxii's text form used in SUPPORTED_CONTENT details: `id` or `id>sub1,sub2`.
    pub fn from_text(s: &str) -> ContentBinding {
        match s.split_once('>') {
            Some((id, subs)) => ContentBinding {
                binding_id: id.trim().to_string(),
                subtypes: subs
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            },
            None => ContentBinding::new(s.trim()),
        }
    }

    pub fn to_text(&self) -> String {
        if self.subtypes.is_empty() {
            self.binding_id.clone()
        } else {
            format!("{}>{}", self.binding_id, self.subtypes.join(","))
        }
    }
}

/// A payload: Content of a Content_Block, an Extended_Header value, a Query.
///
/// `bytes` is either one self-contained XML element (`is_xml`: written as a child element,
/// namespace declarations it needs included) or text (written escaped).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Content {
    pub bytes: Vec<u8>,
    pub is_xml: bool,
}

impl Content {
    /// XML element bytes, embedded as they are when written: the caller vouches that they
    /// are one well-formed, self-contained element (use [`Content::from_stored`] otherwise).
    pub fn xml(bytes: impl Into<Vec<u8>>) -> Content {
        Content { bytes: bytes.into(), is_xml: true }
    }

    /// Text, escaped when written.
    pub fn text(text: impl Into<Vec<u8>>) -> Content {
        Content { bytes: text.into(), is_xml: false }
    }

    /// Stored bytes of unknown kind (OpenTAXII keeps no flag): XML when they parse as one
    /// well-formed document under the same hardened rules as requests, else text. This is
    /// what OpenTAXII's writer does, so escaped or CDATA XML also comes back as XML.
    pub fn from_stored(bytes: Vec<u8>) -> Content {
        let is_xml = super::xmlin::is_well_formed(&bytes);
        Content { bytes, is_xml }
    }
}

/// `Extended_Header@name` and its value (text or XML). Servers accept and ignore them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtendedHeader {
    pub name: String,
    pub value: Content,
}

/// Protocol_Binding + Address + Message_Binding+: Polling_Service, Subscription_Service,
/// Poll_Instance (ServiceContactInfoType in the XSDs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceContact {
    pub protocol_binding: String,
    pub address: String,
    pub message_bindings: Vec<String>,
}

/// Receiving_Inbox_Service (1.1): a service contact plus the bindings the inbox accepts
/// (none = all).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InboxServiceContact {
    pub protocol_binding: String,
    pub address: String,
    pub message_bindings: Vec<String>,
    pub content_bindings: Vec<ContentBinding>,
}

/// Push_Method: Protocol_Binding + Message_Binding+.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushMethod {
    pub protocol_binding: String,
    pub message_bindings: Vec<String>,
}

/// Push_Parameters (subscriptions) and Delivery_Parameters (1.1 polls).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushParameters {
    pub protocol_binding: String,
    pub address: String,
    pub message_binding: String,
    /// (1.0 Push_Parameters only) bindings the subscriber's inbox accepts.
    pub content_bindings: Vec<String>,
}

/// A Query (1.1): the format id the server dispatches on, and the query itself kept as
/// raw XML (for the Default Query: the `tdq:Default_Query` element).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    pub format_id: String,
    pub content: Content,
}

/// Supported_Query (1.1 discovery): format id plus format-specific information as raw XML.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SupportedQuery {
    pub format_id: String,
    pub info: Content,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceType {
    Discovery,
    Inbox,
    Poll,
    /// Written `FEED_MANAGEMENT` in 1.0 and `COLLECTION_MANAGEMENT` in 1.1; either is read.
    CollectionManagement,
}

impl ServiceType {
    pub fn wire(self, v: Version) -> &'static str {
        match (self, v) {
            (ServiceType::Discovery, _) => "DISCOVERY",
            (ServiceType::Inbox, _) => "INBOX",
            (ServiceType::Poll, _) => "POLL",
            (ServiceType::CollectionManagement, Version::V10) => "FEED_MANAGEMENT",
            (ServiceType::CollectionManagement, Version::V11) => "COLLECTION_MANAGEMENT",
        }
    }

    pub fn from_wire(s: &str) -> Option<ServiceType> {
        match s {
            "DISCOVERY" => Some(ServiceType::Discovery),
            "INBOX" => Some(ServiceType::Inbox),
            "POLL" => Some(ServiceType::Poll),
            "FEED_MANAGEMENT" | "COLLECTION_MANAGEMENT" => Some(ServiceType::CollectionManagement),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseType {
    #[default]
    Full,
    CountOnly,
}

impl ResponseType {
    pub fn wire(self) -> &'static str {
        match self {
            ResponseType::Full => "FULL",
            ResponseType::CountOnly => "COUNT_ONLY",
        }
    }

    pub fn from_wire(s: &str) -> Option<ResponseType> {
        match s {
            "FULL" => Some(ResponseType::Full),
            "COUNT_ONLY" => Some(ResponseType::CountOnly),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CollectionType {
    #[default]
    DataFeed,
    DataSet,
}

impl CollectionType {
    pub fn wire(self) -> &'static str {
        match self {
            CollectionType::DataFeed => "DATA_FEED",
            CollectionType::DataSet => "DATA_SET",
        }
    }

    pub fn from_wire(s: &str) -> Option<CollectionType> {
        match s {
            "DATA_FEED" => Some(CollectionType::DataFeed),
            "DATA_SET" => Some(CollectionType::DataSet),
            _ => None,
        }
    }
}

/// Subscription management action; PAUSE and RESUME exist in 1.1 only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionAction {
    Subscribe,
    Unsubscribe,
    Pause,
    Resume,
    Status,
}

impl SubscriptionAction {
    pub fn wire(self) -> &'static str {
        match self {
            SubscriptionAction::Subscribe => "SUBSCRIBE",
            SubscriptionAction::Unsubscribe => "UNSUBSCRIBE",
            SubscriptionAction::Pause => "PAUSE",
            SubscriptionAction::Resume => "RESUME",
            SubscriptionAction::Status => "STATUS",
        }
    }

    pub fn from_wire(s: &str) -> Option<SubscriptionAction> {
        match s {
            "SUBSCRIBE" => Some(SubscriptionAction::Subscribe),
            "UNSUBSCRIBE" => Some(SubscriptionAction::Unsubscribe),
            "PAUSE" => Some(SubscriptionAction::Pause),
            "RESUME" => Some(SubscriptionAction::Resume),
            "STATUS" => Some(SubscriptionAction::Status),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubscriptionStatus {
    #[default]
    Active,
    Paused,
    Unsubscribed,
}

impl SubscriptionStatus {
    pub fn wire(self) -> &'static str {
        match self {
            SubscriptionStatus::Active => "ACTIVE",
            SubscriptionStatus::Paused => "PAUSED",
            SubscriptionStatus::Unsubscribed => "UNSUBSCRIBED",
        }
    }

    pub fn from_wire(s: &str) -> Option<SubscriptionStatus> {
        match s {
            "ACTIVE" => Some(SubscriptionStatus::Active),
            "PAUSED" => Some(SubscriptionStatus::Paused),
            "UNSUBSCRIBED" => Some(SubscriptionStatus::Unsubscribed),
            _ => None,
        }
    }
}
