//! TAXII 1 services as OpenTAXII configures them: a `services` row's `type` and its
//! `_properties` JSON (every data-config key but `id` and `type`), read into [`Service`] with
//! OpenTAXII's defaults. Also the absolute addresses services are advertised under, and the
//! little state kept between requests. No HTTP and no SQL here.

use std::collections::HashSet;
use std::sync::Mutex;

use serde_json::Value;

use super::messages::{ContentBinding, PROTOCOL_HTTPS, ServiceType};
use crate::db::taxii1::ServiceRow;

/// OpenTAXII's defaults for a poll service without (or with -1) limits.
const DEFAULT_MAX_RESULT_SIZE: i64 = 1_000_000;
const DEFAULT_MAX_RESULT_COUNT: i64 = 10_000_000;

#[derive(Clone, Debug)]
pub struct Service {
    pub id: String,
    pub kind: ServiceType,
    /// A path (routed and advertised under `domain`), or an absolute URL (advertised only).
    pub address: String,
    pub description: Option<String>,
    pub protocol_bindings: Vec<String>,
    pub available: bool,
    pub authentication_required: bool,
    // inbox
    pub accept_all_content: bool,
    /// Service-level bindings have no subtypes in OpenTAXII's data-config.
    pub supported_content: Vec<ContentBinding>,
    pub destination_collection_required: bool,
    // discovery
    pub advertised_services: Vec<String>,
    // collection management
    pub subscription_supported: bool,
    pub subscription_message: Option<String>,
    // poll
    pub subscription_required: bool,
    pub max_result_size: i64,
    pub max_result_count: i64,
}

impl Service {
    /// Reads a `services` row. `Err` says what is wrong with it (the row is then ignored).
    pub fn from_row(row: &ServiceRow) -> Result<Service, String> {
        let kind = match row.kind.as_str() {
            "discovery" => ServiceType::Discovery,
            "inbox" => ServiceType::Inbox,
            "poll" => ServiceType::Poll,
            "collection_management" => ServiceType::CollectionManagement,
            other => return Err(format!("unknown service type `{other}`")),
        };
        let props: Value =
            serde_json::from_str(&row.properties).map_err(|e| format!("_properties is not JSON: {e}"))?;
        let Value::Object(p) = props else { return Err("_properties is not a JSON object".into()) };
        let text = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
        let flag = |k: &str, default: bool| p.get(k).map_or(default, truthy);
        let strings = |k: &str| -> Vec<String> {
            match p.get(k) {
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                Some(Value::String(s)) => vec![s.clone()],
                _ => Vec::new(),
            }
        };
        let limit = |k: &str, default: i64| match p.get(k).and_then(Value::as_i64) {
            Some(n) if n > 0 => n,
            _ => default,
        };
        let address = text("address").ok_or("_properties has no address")?;
        Ok(Service {
            id: row.id.clone(),
            kind,
            address,
            description: text("description"),
            protocol_bindings: strings("protocol_bindings"),
            available: flag("available", true),
            authentication_required: flag("authentication_required", false),
            accept_all_content: flag("accept_all_content", false),
            supported_content: supported_content(p.get("supported_content")),
            destination_collection_required: flag("destination_collection_required", false),
            advertised_services: strings("advertised_services"),
            subscription_supported: flag("subscription_supported", true),
            subscription_message: text("subscription_message"),
            subscription_required: flag("subscription_required", false),
            max_result_size: limit("max_result_size", DEFAULT_MAX_RESULT_SIZE),
            max_result_count: limit("max_result_count", DEFAULT_MAX_RESULT_COUNT),
        })
    }

    /// Whether requests are routed to this service at `path` (raw or percent-decoded).
    pub fn serves(&self, path: &str, decoded: Option<&str>) -> bool {
        self.address.starts_with('/') && (self.address == path || decoded == Some(self.address.as_str()))
    }

    /// The bindings an inbox accepts, as advertised (empty = all).
    pub fn inbox_bindings(&self) -> Vec<ContentBinding> {
        if self.accept_all_content { Vec::new() } else { self.supported_content.clone() }
    }
}

/// YAML-written flags arrive as JSON booleans; tolerate strings and numbers too.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(s.to_ascii_lowercase().as_str(), "yes" | "true" | "on" | "1"),
        Value::Number(n) => n.as_i64().is_some_and(|n| n != 0),
        _ => false,
    }
}

/// `supported_content`: binding-id strings; a `[id, [subtypes]]` pair is read too.
fn supported_content(v: Option<&Value>) -> Vec<ContentBinding> {
    let Some(Value::Array(items)) = v else { return Vec::new() };
    items
        .iter()
        .filter_map(|item| match item {
            Value::String(s) => Some(ContentBinding::new(s.as_str())),
            Value::Array(pair) => {
                let id = pair.first()?.as_str()?;
                let subtypes = pair
                    .get(1)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                    .unwrap_or_default();
                Some(ContentBinding { binding_id: id.to_string(), subtypes })
            }
            _ => None,
        })
        .collect()
}

/// The absolute address of `address` for one protocol binding: an absolute address as it
/// is, else the binding's scheme, the public host (`domain`'s host:port and path prefix, or
/// the request's Host) and the path.
pub fn absolute(address: &str, protocol_binding: &str, host: &str) -> String {
    if address.starts_with("http://") || address.starts_with("https://") {
        return address.to_string();
    }
    let scheme = if protocol_binding == PROTOCOL_HTTPS { "https" } else { "http" };
    format!("{scheme}://{host}{address}")
}

/// The public `host[:port][/prefix]` addresses are built on: `domain` without its scheme
/// (taxiid's `domain` is a URL; the scheme comes from each protocol binding), else the
/// request's Host header.
pub fn public_host(domain: Option<&str>, host_header: Option<&str>) -> String {
    if let Some(d) = domain {
        let rest = d.split_once("://").map_or(d, |(_, r)| r);
        return rest.trim_end_matches('/').to_string();
    }
    match host_header.filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic())) {
        Some(h) => h.to_string(),
        None => "localhost".into(),
    }
}

/// What TAXII 1 keeps between requests: the service addresses last read (to answer a TAXII
/// client with a Status_Message while the database is down) and which broken service rows
/// were already reported.
#[derive(Default)]
pub struct State {
    addresses: Mutex<Vec<String>>,
    reported: Mutex<HashSet<(String, String)>>,
}

impl State {
    /// Reads the service rows, reporting each broken one once per content.
    pub fn load(&self, rows: &[ServiceRow]) -> Vec<Service> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            match Service::from_row(row) {
                Ok(s) => out.push(s),
                Err(e) => {
                    let mut reported = self.reported.lock().unwrap_or_else(|p| p.into_inner());
                    if reported.insert((row.id.clone(), row.properties.clone())) {
                        log::warn!("TAXII 1 service `{}` is ignored: {e}", row.id);
                    }
                }
            }
        }
        let mut known = self.addresses.lock().unwrap_or_else(|p| p.into_inner());
        *known = out.iter().map(|s| s.address.clone()).collect();
        out
    }

    /// Whether `path` was a service address when the services were last read.
    pub fn was_address(&self, path: &str) -> bool {
        self.addresses.lock().unwrap_or_else(|p| p.into_inner()).iter().any(|a| a == path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: &str, props: &str) -> ServiceRow {
        ServiceRow { id: "s".into(), kind: kind.into(), properties: props.into() }
    }

    #[test]
    fn reads_opentaxii_properties_with_defaults() {
        let s = Service::from_row(&row(
            "poll",
            r#"{"address": "/services/poll-a", "description": "d", "subscription_required": false,
                "max_result_count": 100, "max_result_size": 10, "authentication_required": true,
                "protocol_bindings": ["urn:taxii.mitre.org:protocol:http:1.0"]}"#,
        ))
        .unwrap();
        assert_eq!((s.kind, s.max_result_size, s.max_result_count), (ServiceType::Poll, 10, 100));
        assert!(s.authentication_required && s.available && s.subscription_supported);
        let s = Service::from_row(&row("poll", r#"{"address": "/p", "max_result_size": -1}"#)).unwrap();
        assert_eq!(s.max_result_size, DEFAULT_MAX_RESULT_SIZE);
        let s = Service::from_row(&row(
            "inbox",
            r#"{"address": "/i", "accept_all_content": "yes", "supported_content": ["a", ["b", ["x"]]]}"#,
        ))
        .unwrap();
        assert!(s.accept_all_content);
        assert_eq!(s.supported_content[1].subtypes, ["x"]);
        assert!(Service::from_row(&row("proxy", r#"{"address": "/x"}"#)).is_err());
        assert!(Service::from_row(&row("poll", "{")).is_err());
        assert!(Service::from_row(&row("poll", "{}")).is_err());
    }

    #[test]
    fn addresses() {
        assert!(
            Service::from_row(&row("discovery", r#"{"address": "/a b"}"#))
                .unwrap()
                .serves("/a%20b", Some("/a b"))
        );
        let host = public_host(Some("https://taxii.example.org:8443/"), Some("ignored"));
        assert_eq!(host, "taxii.example.org:8443");
        assert_eq!(absolute("/x", PROTOCOL_HTTPS, &host), "https://taxii.example.org:8443/x");
        assert_eq!(
            absolute("/x", "urn:taxii.mitre.org:protocol:http:1.0", &host),
            "http://taxii.example.org:8443/x"
        );
        assert_eq!(
            absolute("https://elsewhere/x", "urn:taxii.mitre.org:protocol:http:1.0", &host),
            "https://elsewhere/x"
        );
        assert_eq!(public_host(None, Some("127.0.0.1:9000")), "127.0.0.1:9000");
        assert_eq!(public_host(None, Some("bad host")), "localhost");
    }
}
