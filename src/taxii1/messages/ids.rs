//! Wire identifiers of TAXII 1.0 and 1.1: namespaces, binding and services ids, and the
//! [`Version`] they select. Nothing here parses or writes XML.

/// Namespace of every TAXII 1.0 message element.
pub const NS_TAXII_10: &str = "http://taxii.mitre.org/messages/taxii_xml_binding-1";
/// Namespace of every TAXII 1.1 (and 1.1.1) message element.
pub const NS_TAXII_11: &str = "http://taxii.mitre.org/messages/taxii_xml_binding-1.1";
/// Namespace of the TAXII Default Query (`tdq:`).
pub const NS_DEFAULT_QUERY: &str = "http://taxii.mitre.org/query/taxii_default_query-1";
/// XML-DSig, for the optional `ds:Signature` (accepted and ignored).
pub const NS_XMLDSIG: &str = "http://www.w3.org/2000/09/xmldsig#";

pub const MESSAGE_BINDING_XML_10: &str = "urn:taxii.mitre.org:message:xml:1.0";
pub const MESSAGE_BINDING_XML_11: &str = "urn:taxii.mitre.org:message:xml:1.1";
pub const SERVICES_10: &str = "urn:taxii.mitre.org:services:1.0";
pub const SERVICES_11: &str = "urn:taxii.mitre.org:services:1.1";
pub const PROTOCOL_HTTP: &str = "urn:taxii.mitre.org:protocol:http:1.0";
pub const PROTOCOL_HTTPS: &str = "urn:taxii.mitre.org:protocol:https:1.0";
/// Format id of the TAXII Default Query (`Query@format_id`, `Supported_Query@format_id`).
pub const QUERY_FORMAT_DEFAULT: &str = "urn:taxii.mitre.org:query:default:1.0";

pub const CB_STIX_10: &str = "urn:stix.mitre.org:xml:1.0";
pub const CB_STIX_101: &str = "urn:stix.mitre.org:xml:1.0.1";
pub const CB_STIX_11: &str = "urn:stix.mitre.org:xml:1.1";
pub const CB_STIX_111: &str = "urn:stix.mitre.org:xml:1.1.1";
pub const CB_STIX_12: &str = "urn:stix.mitre.org:xml:1.2";
pub const CB_CAP_11: &str = "urn:oasis:names:tc:emergency:cap:1.1";
pub const CB_XML_ENC: &str = "http://www.w3.org/2001/04/xmlenc#";
pub const CB_SMIME: &str = "application/x-pkcs7-mime";

/// TAXII version of a message, decided by the namespace of its root element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V10,
    V11,
}

impl Version {
    pub fn namespace(self) -> &'static str {
        match self {
            Version::V10 => NS_TAXII_10,
            Version::V11 => NS_TAXII_11,
        }
    }

    /// `X-TAXII-Content-Type` / `Message_Binding` id of the XML binding.
    pub fn message_binding(self) -> &'static str {
        match self {
            Version::V10 => MESSAGE_BINDING_XML_10,
            Version::V11 => MESSAGE_BINDING_XML_11,
        }
    }

    /// `X-TAXII-Services` / `service_version` id.
    pub fn services(self) -> &'static str {
        match self {
            Version::V10 => SERVICES_10,
            Version::V11 => SERVICES_11,
        }
    }

    /// Element prefix used when writing, as libtaxii and OpenTAXII do.
    pub fn prefix(self) -> &'static str {
        match self {
            Version::V10 => "taxii",
            Version::V11 => "taxii_11",
        }
    }

    pub fn from_namespace(ns: &str) -> Option<Version> {
        match ns {
            NS_TAXII_10 => Some(Version::V10),
            NS_TAXII_11 => Some(Version::V11),
            _ => None,
        }
    }

    pub fn from_message_binding(id: &str) -> Option<Version> {
        match id {
            MESSAGE_BINDING_XML_10 => Some(Version::V10),
            MESSAGE_BINDING_XML_11 => Some(Version::V11),
            _ => None,
        }
    }

    pub fn from_services(id: &str) -> Option<Version> {
        match id {
            SERVICES_10 => Some(Version::V10),
            SERVICES_11 => Some(Version::V11),
            _ => None,
        }
    }
}
