//! Status_Message of both versions: the status types and their typed details. No XML here;
//! `parse.rs` and `write.rs` map details to 1.1 `Detail` elements and to 1.0's single
//! free-text `Status_Detail`.

use super::model::Message;
use super::parts::{ContentBinding, ExtendedHeader};

/// `status_type`. Two wire values differ from their meaning's name: unsupported message
/// binding is `UNSUPPORTED_MESSAGE`, unsupported content binding `UNSUPPORTED_CONTENT`.
/// The last six exist in 1.1 only; any other value is kept as `Custom` (a URI per the spec).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StatusType {
    Success,
    Failure,
    BadMessage,
    Unauthorized,
    Denied,
    NotFound,
    PollingUnsupported,
    Retry,
    UnsupportedMessage,
    UnsupportedContent,
    UnsupportedProtocol,
    AsynchronousPollError,
    DestinationCollectionError,
    InvalidResponsePart,
    NetworkError,
    Pending,
    UnsupportedQuery,
    Custom(String),
}

const NAMES: [(&str, StatusType); 17] = [
    ("SUCCESS", StatusType::Success),
    ("FAILURE", StatusType::Failure),
    ("BAD_MESSAGE", StatusType::BadMessage),
    ("UNAUTHORIZED", StatusType::Unauthorized),
    ("DENIED", StatusType::Denied),
    ("NOT_FOUND", StatusType::NotFound),
    ("POLLING_UNSUPPORTED", StatusType::PollingUnsupported),
    ("RETRY", StatusType::Retry),
    ("UNSUPPORTED_MESSAGE", StatusType::UnsupportedMessage),
    ("UNSUPPORTED_CONTENT", StatusType::UnsupportedContent),
    ("UNSUPPORTED_PROTOCOL", StatusType::UnsupportedProtocol),
    ("ASYNCHRONOUS_POLL_ERROR", StatusType::AsynchronousPollError),
    ("DESTINATION_COLLECTION_ERROR", StatusType::DestinationCollectionError),
    ("INVALID_RESPONSE_PART", StatusType::InvalidResponsePart),
    ("NETWORK_ERROR", StatusType::NetworkError),
    ("PENDING", StatusType::Pending),
    ("UNSUPPORTED_QUERY", StatusType::UnsupportedQuery),
];

impl StatusType {
    pub fn wire(&self) -> &str {
        match self {
            StatusType::Custom(s) => s,
            known => NAMES.iter().find(|(_, t)| t == known).map_or("FAILURE", |(n, _)| n),
        }
    }

    /// Never fails: unknown values become `Custom`.
    pub fn from_wire(s: &str) -> StatusType {
        NAMES
            .iter()
            .find(|(n, _)| *n == s)
            .map_or_else(|| StatusType::Custom(s.to_string()), |(_, t)| t.clone())
    }

    /// True for the six types TAXII 1.0 does not define.
    pub fn is_11_only(&self) -> bool {
        matches!(
            self,
            StatusType::AsynchronousPollError
                | StatusType::DestinationCollectionError
                | StatusType::InvalidResponsePart
                | StatusType::NetworkError
                | StatusType::Pending
                | StatusType::UnsupportedQuery
        )
    }
}

/// Status details, typed by their 1.1 names. Lists are repeated `Detail`s with one name.
/// In 1.0 everything set here is flattened into one string (values joined by `,`), and a
/// 1.0 detail is read back into the field its status type implies, else into `text`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusDetails {
    /// ITEM (NOT_FOUND): the name that was not found.
    pub item: Option<String>,
    /// ESTIMATED_WAIT seconds (RETRY optional, PENDING required).
    pub estimated_wait: Option<u64>,
    /// RESULT_ID (PENDING, required).
    pub result_id: Option<String>,
    /// WILL_PUSH (PENDING, required).
    pub will_push: Option<bool>,
    /// MAX_PART_NUMBER (INVALID_RESPONSE_PART, required).
    pub max_part_number: Option<u64>,
    /// SUPPORTED_BINDING (UNSUPPORTED_MESSAGE).
    pub supported_bindings: Vec<String>,
    /// SUPPORTED_CONTENT (UNSUPPORTED_CONTENT), text form `id` or `id>sub1,sub2`.
    pub supported_content: Vec<ContentBinding>,
    /// SUPPORTED_PROTOCOL (UNSUPPORTED_PROTOCOL).
    pub supported_protocols: Vec<String>,
    /// SUPPORTED_QUERY format ids (UNSUPPORTED_QUERY).
    pub supported_queries: Vec<String>,
    /// ACCEPTABLE_DESTINATION (DESTINATION_COLLECTION_ERROR).
    pub acceptable_destinations: Vec<String>,
    /// Details with any other name, in order (1.1).
    pub other: Vec<(String, String)>,
    /// A 1.0 free-text detail that none of the fields above takes.
    pub text: Option<String>,
}

impl StatusDetails {
    pub fn is_empty(&self) -> bool {
        *self == StatusDetails::default()
    }

    /// The 1.1 details as (name, value) pairs, in a fixed order.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut one = |name: &str, v: String| out.push((name.to_string(), v));
        if let Some(v) = &self.item {
            one("ITEM", v.clone());
        }
        if let Some(v) = self.estimated_wait {
            one("ESTIMATED_WAIT", v.to_string());
        }
        if let Some(v) = &self.result_id {
            one("RESULT_ID", v.clone());
        }
        if let Some(v) = self.will_push {
            one("WILL_PUSH", v.to_string());
        }
        if let Some(v) = self.max_part_number {
            one("MAX_PART_NUMBER", v.to_string());
        }
        for v in &self.supported_bindings {
            one("SUPPORTED_BINDING", v.clone());
        }
        for v in &self.supported_content {
            one("SUPPORTED_CONTENT", v.to_text());
        }
        for v in &self.supported_protocols {
            one("SUPPORTED_PROTOCOL", v.clone());
        }
        for v in &self.supported_queries {
            one("SUPPORTED_QUERY", v.clone());
        }
        for v in &self.acceptable_destinations {
            one("ACCEPTABLE_DESTINATION", v.clone());
        }
        out.extend(self.other.iter().cloned());
        out
    }

    /// The single 1.0 `Status_Detail` string, None when there is nothing to say.
    pub fn flatten_10(&self) -> Option<String> {
        if let Some(t) = &self.text {
            return Some(t.clone());
        }
        let values: Vec<String> = self.pairs().into_iter().map(|(_, v)| v).collect();
        if values.is_empty() { None } else { Some(values.join(",")) }
    }

    /// Reads a 1.0 `Status_Detail` into the field `status_type` implies.
    pub fn from_10(status_type: &StatusType, text: &str) -> StatusDetails {
        let t = text.trim();
        let list = || t.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
        let mut d = StatusDetails::default();
        match status_type {
            StatusType::NotFound => d.item = Some(t.to_string()),
            StatusType::Retry if t.parse::<u64>().is_ok() => d.estimated_wait = t.parse().ok(),
            StatusType::UnsupportedMessage => d.supported_bindings = list(),
            StatusType::UnsupportedProtocol => d.supported_protocols = list(),
            StatusType::UnsupportedContent => {
                d.supported_content =
                    t.split(',').map(str::trim).filter(|s| !s.is_empty()).map(ContentBinding::new).collect()
            }
            _ => d.text = Some(text.to_string()),
        }
        d
    }
}

/// Status_Message (both versions): the answer to any request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMessage {
    pub message_id: String,
    pub in_response_to: String,
    pub extended_headers: Vec<ExtendedHeader>,
    pub status_type: StatusType,
    pub details: StatusDetails,
    pub message: Option<String>,
}

impl StatusMessage {
    /// A status with a fresh message id and no details. `in_response_to` is "0" when the
    /// request's id is unknown.
    pub fn new(in_response_to: impl Into<String>, status_type: StatusType) -> StatusMessage {
        StatusMessage {
            message_id: super::new_message_id(),
            in_response_to: in_response_to.into(),
            extended_headers: Vec::new(),
            status_type,
            details: StatusDetails::default(),
            message: None,
        }
    }

    pub fn with_message(mut self, message: impl Into<String>) -> StatusMessage {
        self.message = Some(message.into());
        self
    }

    pub fn with_details(mut self, details: StatusDetails) -> StatusMessage {
        self.details = details;
        self
    }

    pub fn into_message(self) -> Message {
        Message::StatusMessage(self)
    }
}
