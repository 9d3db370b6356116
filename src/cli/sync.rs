//! `taxiid sync DATA_CONFIG.yml [--prune] [--check]`: OpenTAXII's data-config YAML (TAXII 1
//! services, collections, accounts) read, validated with line numbers, and applied in one
//! transaction in the shapes `opentaxii-sync-data` stores (`_properties` and `bindings` as
//! Python's `json.dumps` writes them, werkzeug password hashes).
//!
//! Differences from OpenTAXII, on purpose: nothing the file omits is deleted (or disabled)
//! without `--prune`; a section that is absent leaves that kind alone; a password is re-hashed
//! only when it changed, so a second sync changes nothing; TAXII 2 permissions (collection
//! UUIDs) of an account survive; unknown keys and ill-typed values are errors.
//! This module holds the model and its validation; `sync_apply` compares it with the database
//! and writes; the SQL is in `db::sync`.

use pico_args::Arguments;
use serde_json::{Map, Value};

use super::yaml::{self, Diag, Kind, Node};
use super::{Usage, admin::Outcome};
use crate::config::Config;

pub const SERVICE_TYPES: &[&str] = &["inbox", "discovery", "collection_management", "poll"];
const PROTOCOL_BINDINGS: &[&str] =
    &["urn:taxii.mitre.org:protocol:http:1.0", "urn:taxii.mitre.org:protocol:https:1.0"];

pub struct ServiceDef {
    pub line: usize,
    pub id: String,
    pub type_: String,
    /// Every key but `id` and `type`, in file order (OpenTAXII's `_properties`).
    pub properties: Map<String, Value>,
    pub advertised: Vec<(String, usize)>,
}

pub struct CollectionDef {
    pub line: usize,
    pub name: String,
    pub type_: String,
    pub description: Option<String>,
    pub accept_all_content: bool,
    /// `[[binding, []], …]`: YAML cannot give subtypes here, as in OpenTAXII.
    pub bindings: Value,
    pub available: bool,
    pub service_ids: Vec<(String, usize)>,
}

pub struct PermissionDef {
    pub line: usize,
    pub collection: String,
    /// The value if it is text; checked against `read`/`modify` once the collection is known.
    pub right: Option<String>,
    pub shown: String,
}

pub struct AccountDef {
    pub line: usize,
    pub username: String,
    pub password: String,
    pub is_admin: bool,
    pub permissions: Vec<PermissionDef>,
}

/// A data-config file. A `None` section is absent from the file: that kind is left alone.
pub struct DataConfig {
    pub services: Option<Vec<ServiceDef>>,
    pub collections: Option<Vec<CollectionDef>>,
    pub accounts: Option<Vec<AccountDef>>,
}

/// Reads and validates a data-config; errors and warnings are collected in `diag`.
pub fn parse(text: &str, diag: &mut Diag) -> Option<DataConfig> {
    let root = match yaml::parse(text) {
        Ok(r) => r,
        Err((line, msg)) => {
            diag.error(line, "(file)", msg);
            return None;
        }
    };
    let entries = diag.map(&root, "(file)")?;
    let mut cfg = DataConfig { services: None, collections: None, accounts: None };
    for (k, v) in entries {
        match k.text.as_str() {
            "services" => cfg.services = Some(each(section(k, v, diag), "services", diag, service)),
            "collections" => {
                cfg.collections = Some(each(section(k, v, diag), "collections", diag, collection))
            }
            "accounts" => cfg.accounts = Some(each(section(k, v, diag), "accounts", diag, account)),
            other => diag.error(k.line, other, "unknown key (expected services, collections, accounts)"),
        }
    }
    duplicates(cfg.services.iter().flatten().map(|s| (&s.id, s.line)), "services", "id", diag);
    duplicates(cfg.collections.iter().flatten().map(|c| (&c.name, c.line)), "collections", "name", diag);
    duplicates(cfg.accounts.iter().flatten().map(|a| (&a.username, a.line)), "accounts", "username", diag);
    diag.errors.is_empty().then_some(cfg)
}

/// A top-level section: a list (an empty one when null).
fn section<'n>(k: &Node, v: &'n Node, diag: &mut Diag) -> &'n [Node] {
    match &v.kind {
        Kind::Seq(items) => items,
        Kind::Null => &[],
        _ => {
            diag.error(v.line, &k.text, format!("expected a list, found {}", v.describe()));
            &[]
        }
    }
}

fn each<T>(
    items: &[Node],
    section: &str,
    diag: &mut Diag,
    f: fn(&Node, &str, &mut Diag) -> Option<T>,
) -> Vec<T> {
    items.iter().enumerate().filter_map(|(i, n)| f(n, &format!("{section}[{i}]"), diag)).collect()
}

fn duplicates<'a>(
    names: impl Iterator<Item = (&'a String, usize)>,
    section: &str,
    key: &str,
    diag: &mut Diag,
) {
    let mut seen: Vec<(&String, usize)> = Vec::new();
    for (name, line) in names {
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            diag.error(line, section, format!("{key} `{name}` appears twice (first on line {first})"));
        } else {
            seen.push((name, line));
        }
    }
}

/// The entries of an item mapping plus a lookup for required keys.
fn item<'n>(n: &'n Node, path: &str, diag: &mut Diag) -> Option<&'n [(Node, Node)]> {
    diag.map(n, path)
}

fn required<'n>(n: &'n Node, key: &str, path: &str, diag: &mut Diag) -> Option<&'n Node> {
    let v = n.get(key);
    if v.is_none() {
        diag.error(n.line, path, format!("`{key}` is required"));
    }
    v
}

fn service(n: &Node, path: &str, diag: &mut Diag) -> Option<ServiceDef> {
    let entries = item(n, path, diag)?;
    let errors_before = diag.errors.len();
    let id = required(n, "id", path, diag).and_then(|v| diag.text(v, &yaml::path(path, "id")));
    let type_ = required(n, "type", path, diag).and_then(|v| diag.text(v, &yaml::path(path, "type")));
    required(n, "address", path, diag);
    if let Some(id) = &id
        && (id.is_empty() || id.chars().count() > 150)
    {
        diag.error(n.line, &yaml::path(path, "id"), "must be 1 to 150 characters");
    }
    let type_ok = type_.as_deref().filter(|t| SERVICE_TYPES.contains(t));
    if let (Some(t), None) = (&type_, type_ok) {
        let line = n.get("type").map_or(n.line, |v| v.line);
        diag.error(
            line,
            &yaml::path(path, "type"),
            format!("`{t}` is not one of {}", SERVICE_TYPES.join(", ")),
        );
    }
    let mut properties = Map::new();
    let mut advertised = Vec::new();
    for (k, v) in entries {
        let p = yaml::path(path, &k.text);
        let value = match (k.text.as_str(), type_ok) {
            ("id" | "type", _) => continue,
            ("address", _) => diag.text(v, &p).map(Value::String),
            ("description", _) | ("subscription_message", Some("collection_management")) => {
                diag.opt_text(v, &p).map(|t| t.map_or(Value::Null, Value::String))
            }
            ("available" | "authentication_required", _)
            | ("accept_all_content" | "destination_collection_required", Some("inbox"))
            | ("subscription_supported", Some("collection_management"))
            | ("subscription_required", Some("poll")) => diag.boolean(v, &p).map(Value::Bool),
            ("max_result_size" | "max_result_count", Some("poll")) => diag.int(v, &p).map(Value::from),
            ("protocol_bindings", _) => diag.text_list(v, &p).map(|list| {
                for (b, line) in &list {
                    if !PROTOCOL_BINDINGS.contains(&b.as_str()) {
                        diag.error(*line, &p, format!("`{b}` is not {}", PROTOCOL_BINDINGS.join(" or ")));
                    }
                }
                strings(&list)
            }),
            ("supported_content", Some("inbox")) => diag.text_list(v, &p).map(|list| {
                for (b, line) in &list {
                    if b.is_empty() {
                        diag.error(*line, &p, "an empty content binding");
                    }
                }
                strings(&list)
            }),
            ("advertised_services", Some("discovery")) => diag.text_list(v, &p).map(|list| {
                advertised = list.clone();
                strings(&list)
            }),
            (_, Some(t)) => {
                diag.error(k.line, &p, format!("unknown key for `{t}` services ({})", service_keys(t)));
                None
            }
            (_, None) => continue,
        };
        if let Some(value) = value {
            properties.insert(k.text.clone(), value);
        }
    }
    (diag.errors.len() == errors_before).then(|| ServiceDef {
        line: n.line,
        id: id.unwrap_or_default(),
        type_: type_.unwrap_or_default(),
        properties,
        advertised,
    })
}

/// The keys a service type takes, for messages.
fn service_keys(t: &str) -> String {
    let own: &[&str] = match t {
        "inbox" => &["accept_all_content", "destination_collection_required", "supported_content"],
        "discovery" => &["advertised_services"],
        "collection_management" => &["subscription_supported", "subscription_message"],
        _ => &["subscription_required", "max_result_size", "max_result_count"],
    };
    let common =
        ["id", "type", "address", "description", "protocol_bindings", "available", "authentication_required"];
    common.iter().chain(own).copied().collect::<Vec<_>>().join(", ")
}

fn strings(list: &[(String, usize)]) -> Value {
    Value::Array(list.iter().map(|(s, _)| Value::String(s.clone())).collect())
}

fn collection(n: &Node, path: &str, diag: &mut Diag) -> Option<CollectionDef> {
    let entries = item(n, path, diag)?;
    let errors_before = diag.errors.len();
    let name = required(n, "name", path, diag).and_then(|v| diag.text(v, &yaml::path(path, "name")));
    let service_ids = required(n, "service_ids", path, diag)
        .and_then(|v| diag.text_list(v, &yaml::path(path, "service_ids")));
    if let Some(name) = &name
        && (name.is_empty() || name.chars().count() > 300)
    {
        diag.error(n.line, &yaml::path(path, "name"), "must be 1 to 300 characters");
    }
    let mut c = CollectionDef {
        line: n.line,
        name: name.unwrap_or_default(),
        type_: "DATA_FEED".into(),
        description: None,
        accept_all_content: false,
        bindings: Value::Array(Vec::new()),
        available: true,
        service_ids: service_ids.unwrap_or_default(),
    };
    for (k, v) in entries {
        let p = yaml::path(path, &k.text);
        match k.text.as_str() {
            "name" | "service_ids" => {}
            "type" => {
                if let Some(t) = diag.text(v, &p) {
                    if t == "DATA_FEED" || t == "DATA_SET" {
                        c.type_ = t;
                    } else {
                        diag.error(v.line, &p, format!("`{t}` is not DATA_FEED or DATA_SET"));
                    }
                }
            }
            "description" => c.description = diag.opt_text(v, &p).flatten(),
            "accept_all_content" => c.accept_all_content = diag.boolean(v, &p).unwrap_or_default(),
            "available" => c.available = diag.boolean(v, &p).unwrap_or(true),
            "supported_content" => {
                if v.kind == Kind::Null {
                    continue;
                }
                let list = diag.text_list(v, &p).unwrap_or_default();
                let mut out = Vec::new();
                for (b, line) in list {
                    if b.is_empty() {
                        diag.error(line, &p, "an empty content binding");
                    }
                    out.push(Value::Array(vec![Value::String(b), Value::Array(Vec::new())]));
                }
                c.bindings = Value::Array(out);
            }
            // OpenTAXII accepts and ignores these (they are computed).
            "id" | "volume" => diag.warn(k.line, &p, "ignored: set by the server (as in OpenTAXII)"),
            _ => diag.error(
                k.line,
                &p,
                "unknown key for a collection (name, service_ids, type, description, accept_all_content, \
                 supported_content, available)",
            ),
        }
    }
    (diag.errors.len() == errors_before).then_some(c)
}

fn account(n: &Node, path: &str, diag: &mut Diag) -> Option<AccountDef> {
    let entries = item(n, path, diag)?;
    let errors_before = diag.errors.len();
    let username =
        required(n, "username", path, diag).and_then(|v| diag.text(v, &yaml::path(path, "username")));
    let password =
        required(n, "password", path, diag).and_then(|v| diag.text(v, &yaml::path(path, "password")));
    if let Some(u) = &username
        && (u.is_empty() || u.chars().count() > 256)
    {
        diag.error(n.line, &yaml::path(path, "username"), "must be 1 to 256 characters");
    }
    if password.as_deref() == Some("") {
        diag.error(n.line, &yaml::path(path, "password"), "is empty");
    }
    let mut a = AccountDef {
        line: n.line,
        username: username.unwrap_or_default(),
        password: password.unwrap_or_default(),
        is_admin: false,
        permissions: Vec::new(),
    };
    for (k, v) in entries {
        let p = yaml::path(path, &k.text);
        match k.text.as_str() {
            "username" | "password" => {}
            "is_admin" => a.is_admin = diag.boolean(v, &p).unwrap_or_default(),
            "permissions" => {
                if v.kind == Kind::Null {
                    continue;
                }
                for (c, right) in diag.map(v, &p).unwrap_or_default() {
                    let text = match &right.kind {
                        Kind::Str(s) => Some(s.clone()),
                        _ => None,
                    };
                    let shown =
                        if right.text.is_empty() { right.describe().to_string() } else { right.text.clone() };
                    a.permissions.push(PermissionDef {
                        line: c.line,
                        collection: c.text.clone(),
                        right: text,
                        shown,
                    });
                }
            }
            _ => diag.error(
                k.line,
                &p,
                "unknown key for an account (username, password, is_admin, permissions)",
            ),
        }
    }
    (diag.errors.len() == errors_before).then_some(a)
}

/// `json.dumps(value)` with Python's defaults, as OpenTAXII stores JSON: `", "` and `": "`
/// separators, non-ASCII as `\uXXXX` escapes, keys in insertion order.
pub fn python_json(v: &Value) -> String {
    let mut out = String::new();
    write_py(v, &mut out);
    out
}

fn write_py(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_py_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py_str(k, out);
                out.push_str(": ");
                write_py(item, out);
            }
            out.push('}');
        }
    }
}

fn write_py_str(s: &str, out: &mut String) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(ch),
            _ => {
                let mut units = [0u16; 2];
                for u in ch.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// `taxiid sync FILE [--prune] [--check] [--json]`.
pub fn run(cfg: &Config, p: &mut Arguments) -> Result<Outcome, Usage> {
    let prune = p.contains("--prune");
    let check = p.contains("--check");
    let json_out = p.contains("--json");
    let file: String = p
        .opt_free_from_str()
        .map_err(|e| Usage(e.to_string()))?
        .ok_or_else(|| Usage("missing DATA_CONFIG file".into()))?;
    super::finish_args(p)?;
    let text = try_out!(std::fs::read_to_string(&file).map_err(|e| format!("{file}: {e}")));
    let mut diag = Diag::new(&file);
    let parsed = parse(&text, &mut diag);
    let Some(data) = parsed else {
        return Ok(failed(&diag));
    };
    let opts = super::sync_apply::Options { prune, check, scheme: cfg.auth.password_hash };
    let mut c = try_out!(super::admin::connect(cfg));
    let report = try_out!(super::sync_apply::apply(&mut c, &data, &opts, &mut diag));
    for w in &diag.warnings {
        eprintln!("{w}");
    }
    let Some(items) = report else {
        return Ok(failed(&diag));
    };
    super::sync_apply::print_report(&items, &diag, check, prune, json_out);
    Ok(Outcome::Done)
}

fn failed(diag: &Diag) -> Outcome {
    for w in &diag.warnings {
        eprintln!("{w}");
    }
    for e in &diag.errors {
        eprintln!("{e}");
    }
    let n = diag.errors.len();
    Outcome::Failed(format!("{n} error{}; nothing was changed", if n == 1 { "" } else { "s" }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_json_matches_json_dumps() {
        let v: Value =
            serde_json::from_str(r#"{"a": [1, true, null], "b": "é\"\\\n\u0001😀/", "c": {}}"#).unwrap();
        assert_eq!(
            python_json(&v),
            r#"{"a": [1, true, null], "b": "\u00e9\"\\\n\u0001\ud83d\ude00/", "c": {}}"#
        );
    }

    #[test]
    fn validates_with_lines() {
        let text = "services:\n  - id: s\n    type: poll\n    address: /p\n    max_result_size: ten\n    \
                    adress: /x\ncollections:\n  - name: c\n    service_ids: [s]\n    available: maybe\n\
                    accounts:\n  - {username: u, password: 123}\nextra: 1\n";
        let mut d = Diag::new("f.yml");
        assert!(parse(text, &mut d).is_none());
        let all = d.errors.join("\n");
        for want in [
            "f.yml:5: services[0].max_result_size: expected an integer, found text `ten`",
            "f.yml:6: services[0].adress: unknown key for `poll` services",
            "f.yml:10: collections[0].available: expected yes/no",
            "f.yml:12: accounts[0].password: expected text, but YAML reads `123` as an integer; quote it",
            "f.yml:13: extra: unknown key",
        ] {
            assert!(all.contains(want), "{want}\nin\n{all}");
        }
    }

    #[test]
    fn properties_keep_file_order_and_types() {
        let text = "services:\n  - {id: inbox_a, type: inbox, address: /services/inbox-a, description: Ä, \
                    destination_collection_required: yes, accept_all_content: yes, authentication_required: no, \
                    protocol_bindings: [urn:taxii.mitre.org:protocol:http:1.0]}\n";
        let mut d = Diag::new("f");
        let cfg = parse(text, &mut d).unwrap();
        let s = &cfg.services.unwrap()[0];
        assert_eq!(
            python_json(&Value::Object(s.properties.clone())),
            r#"{"address": "/services/inbox-a", "description": "\u00c4", "destination_collection_required": true, "accept_all_content": true, "authentication_required": false, "protocol_bindings": ["urn:taxii.mitre.org:protocol:http:1.0"]}"#
        );
        assert!(cfg.collections.is_none() && cfg.accounts.is_none());
    }
}
