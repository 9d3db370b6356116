//! The TAXII 1.0 + 1.1 XML message codec: a typed model of every message of both versions,
//! [`parse`] (bytes → version + message, hardened against hostile XML) and [`write`]
//! (message → bytes libtaxii and cabby accept). No HTTP, no database, no service logic.
//!
//! * `ids` — namespaces, binding/services ids, [`Version`];
//! * `parts`, `model`, `status` — the message types;
//! * `xmlin` — hardened reading into an envelope tree, payloads captured as XML bytes;
//! * `fields`, `parse` — tree → model; `write` and `xmlout` — model → XML.
//!
//! Payloads (Content, Query, Supported_Query, Extended_Header): the first child element is
//! kept as self-contained XML bytes (the namespace declarations it uses from the envelope
//! are added to its top element), otherwise the text (escaped or CDATA) is kept; text that
//! is itself well-formed XML is flagged as XML, so it goes out as an element, as OpenTAXII
//! does. See [`Content`].

mod fields;
mod ids;
mod model;
mod parse;
mod parts;
mod status;
mod write;
mod xmlin;
mod xmlout;

pub use ids::*;
pub use model::*;
pub use parse::parse;
pub use parts::*;
pub use status::{StatusDetails, StatusMessage, StatusType};
pub use write::{format_timestamp, write};
pub use xmlin::{MAX_DEPTH, MAX_NAMESPACES, MAX_STRUCTURE_DEPTH};

use std::fmt;

/// Why a request could not be parsed. `message` is fit for the Message of a BAD_MESSAGE
/// status; `version` and `message_id` are set once the root element was recognised, so the
/// answer can be in the request's version and carry `in_response_to` (else "0").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError {
    pub message: String,
    pub version: Option<Version>,
    pub message_id: Option<String>,
}

impl CodecError {
    pub(crate) fn new(message: impl Into<String>) -> CodecError {
        CodecError { message: message.into(), version: None, message_id: None }
    }

    /// The BAD_MESSAGE answer: in the request's version (1.1 when unknown), in response to
    /// its message id ("0" when unknown).
    pub fn to_status(&self) -> (Version, Message) {
        let irt = self.message_id.as_deref().unwrap_or("0");
        let status = StatusMessage::new(irt, StatusType::BadMessage).with_message(self.message.clone());
        (self.version.unwrap_or(Version::V11), Message::StatusMessage(status))
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CodecError {}

/// A fresh message id: a random decimal integer in 1..2^63, as OpenTAXII makes them. Digits
/// only, because libtaxii's TAXII 1.0 parser accepts nothing else.
pub fn new_message_id() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 8];
    let n = match ring::rand::SystemRandom::new().fill(&mut b) {
        Ok(()) => u64::from_le_bytes(b),
        // Uniqueness, not secrecy, is what matters here; the clock is a fine fallback.
        Err(_) => crate::timefmt::now().unix_timestamp_nanos() as u64,
    };
    (n % (i64::MAX as u64) + 1).to_string()
}
