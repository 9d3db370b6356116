//! Content bindings: OpenTAXII's rules for which bindings a collection or an inbox accepts
//! and which filter a poll or subscription gets, and the JSON shapes OpenTAXII stores them
//! in (`data_collections.bindings`, `result_sets.bindings`, `subscriptions.params`), written
//! byte for byte as Python's `json.dumps` writes them. Pure functions, no I/O.

use serde_json::Value;

use super::messages::{ContentBinding, ResponseType};

/// `[[binding_id, [subtype, …]], …]` as stored. `Err` for text that is not such a list.
pub fn parse_pairs(text: &str) -> Result<Vec<ContentBinding>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("binding list is not JSON: {e}"))?;
    pairs_from_value(&v)
}

fn pairs_from_value(v: &Value) -> Result<Vec<ContentBinding>, String> {
    let Value::Array(items) = v else { return Err("binding list is not a JSON list".into()) };
    items
        .iter()
        .map(|item| match item {
            Value::String(s) => Ok(ContentBinding::new(s.as_str())),
            Value::Array(pair) => {
                let id = pair.first().and_then(Value::as_str).ok_or("binding without an id")?;
                let subtypes = match pair.get(1) {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(s)) => s.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                    Some(_) => return Err("binding subtypes are not a list".into()),
                };
                Ok(ContentBinding { binding_id: id.to_string(), subtypes })
            }
            _ => Err("binding entry is neither a string nor a pair".into()),
        })
        .collect()
}

/// The stored form of a binding list, as OpenTAXII writes it: `[["urn:…", []]]`.
pub fn pairs_json(list: &[ContentBinding]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|b| {
            let subs: Vec<String> = b.subtypes.iter().map(|s| py_string(s)).collect();
            format!("[{}, [{}]]", py_string(&b.binding_id), subs.join(", "))
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// A list of strings as Python's `json.dumps` writes it: `["a", "b"]`.
pub fn string_list_json(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| py_string(s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// A JSON string as Python's `json.dumps` writes it (`ensure_ascii`: non-ASCII as `\uXXXX`).
fn py_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7f => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `subscriptions.params` as OpenTAXII writes it: the binding list double-encoded, the
/// response type `null` for TAXII 1.0 subscriptions.
pub fn subscription_params_json(response_type: Option<ResponseType>, bindings: &[ContentBinding]) -> String {
    let rt = response_type.map_or("null".to_string(), |r| py_string(r.wire()));
    format!("{{\"response_type\": {rt}, \"content_bindings\": {}}}", py_string(&pairs_json(bindings)))
}

/// Reads `subscriptions.params`: `{}` and a `null` response type mean FULL and any binding;
/// `content_bindings` may be the double-encoded string or a plain list.
pub fn parse_subscription_params(text: &str) -> Result<(ResponseType, Vec<ContentBinding>), String> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| format!("subscription params are not JSON: {e}"))?;
    let Value::Object(p) = v else { return Err("subscription params are not a JSON object".into()) };
    let rt = match p.get("response_type") {
        Some(Value::String(s)) => {
            ResponseType::from_wire(s).ok_or_else(|| format!("unknown response type `{s}`"))?
        }
        _ => ResponseType::Full,
    };
    let bindings = match p.get("content_bindings") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => parse_pairs(s)?,
        Some(v) => pairs_from_value(v)?,
    };
    Ok((rt, bindings))
}

/// The binding filter for a poll or subscription of a collection (OpenTAXII's
/// `get_matching_bindings`): `Ok(list)` (empty = no filter), or `Err(())` when bindings were
/// requested and none is supported (UNSUPPORTED_CONTENT).
///
/// Deviation: where both sides list subtypes and they have none in common, the binding is
/// dropped; OpenTAXII keeps it with no subtypes, which then matches every subtype.
pub fn matching(
    accept_all: bool,
    configured: &[ContentBinding],
    requested: &[ContentBinding],
) -> Result<Vec<ContentBinding>, ()> {
    if accept_all || configured.is_empty() {
        return Ok(requested.to_vec());
    }
    if requested.is_empty() {
        return Ok(configured.to_vec());
    }
    let mut out = Vec::new();
    for r in requested {
        for c in configured.iter().filter(|c| c.binding_id == r.binding_id) {
            let subtypes = if c.subtypes.is_empty() {
                r.subtypes.clone()
            } else if r.subtypes.is_empty() {
                c.subtypes.clone()
            } else {
                let common: Vec<String> =
                    r.subtypes.iter().filter(|s| c.subtypes.contains(s)).cloned().collect();
                if common.is_empty() {
                    continue;
                }
                common
            };
            let b = ContentBinding { binding_id: r.binding_id.clone(), subtypes };
            if !out.contains(&b) {
                out.push(b);
            }
        }
    }
    if out.is_empty() { Err(()) } else { Ok(out) }
}

/// Whether a collection takes a block: accept-all, or a configured binding with its id and
/// no subtypes or the block's (first) subtype among them.
pub fn collection_accepts(accept_all: bool, configured: &[ContentBinding], block: &ContentBinding) -> bool {
    accept_all || configured.iter().any(|c| subtype_match(c, block))
}

/// Whether an inbox service takes a block: the same rule over its `supported_content`.
pub fn inbox_accepts(accept_all: bool, supported: &[ContentBinding], block: &ContentBinding) -> bool {
    accept_all || supported.iter().any(|c| subtype_match(c, block))
}

fn subtype_match(configured: &ContentBinding, block: &ContentBinding) -> bool {
    configured.binding_id == block.binding_id
        && (configured.subtypes.is_empty()
            || block.subtypes.first().is_some_and(|s| configured.subtypes.contains(s)))
}

/// A filter list as the `(binding id, subtype or NULL)` pairs the block query takes.
pub fn filter_pairs(list: &[ContentBinding]) -> (Vec<String>, Vec<Option<String>>) {
    let (mut ids, mut subs) = (Vec::new(), Vec::new());
    for b in list {
        if b.subtypes.is_empty() {
            ids.push(b.binding_id.clone());
            subs.push(None);
        }
        for s in &b.subtypes {
            ids.push(b.binding_id.clone());
            subs.push(Some(s.clone()));
        }
    }
    (ids, subs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cb(id: &str, subs: &[&str]) -> ContentBinding {
        ContentBinding { binding_id: id.into(), subtypes: subs.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn stored_shapes_are_opentaxii_s() {
        assert_eq!(pairs_json(&[]), "[]");
        let list = [cb("urn:stix.mitre.org:xml:1.1.1", &[]), cb("urn:x", &["a", "b"])];
        assert_eq!(pairs_json(&list), r#"[["urn:stix.mitre.org:xml:1.1.1", []], ["urn:x", ["a", "b"]]]"#);
        assert_eq!(parse_pairs(&pairs_json(&list)).unwrap(), list);
        // The fixture's rows, byte for byte.
        assert_eq!(
            subscription_params_json(Some(ResponseType::Full), &list[..1]),
            r#"{"response_type": "FULL", "content_bindings": "[[\"urn:stix.mitre.org:xml:1.1.1\", []]]"}"#
        );
        assert_eq!(
            subscription_params_json(None, &[]),
            r#"{"response_type": null, "content_bindings": "[]"}"#
        );
        assert_eq!(string_list_json(&["collection-a".into(), "c".into()]), r#"["collection-a", "c"]"#);
        assert_eq!(py_string("é\"\u{1F600}"), r#""\u00e9\"\ud83d\ude00""#);
        let (rt, b) = parse_subscription_params(
            r#"{"response_type": "COUNT_ONLY", "content_bindings": "[[\"urn:x\", [\"s\"]]]"}"#,
        )
        .unwrap();
        assert_eq!((rt, b), (ResponseType::CountOnly, vec![cb("urn:x", &["s"])]));
        assert_eq!(parse_subscription_params("{}").unwrap(), (ResponseType::Full, vec![]));
        assert!(parse_pairs("not json").is_err());
        assert!(parse_pairs(r#"{"a": 1}"#).is_err());
    }

    #[test]
    fn matching_follows_opentaxii() {
        let stix = cb("urn:stix", &[]);
        let json = cb("urn:json", &["v1", "v2"]);
        // Accept-all and unconfigured collections filter by the request as it is.
        assert_eq!(
            matching(true, std::slice::from_ref(&stix), std::slice::from_ref(&json)),
            Ok(vec![json.clone()])
        );
        assert_eq!(matching(false, &[], &[]), Ok(vec![]));
        // An empty request filters by the collection's bindings.
        assert_eq!(matching(false, &[stix.clone(), json.clone()], &[]), Ok(vec![stix.clone(), json.clone()]));
        // Subtypes: either side without keeps the other's; both narrow to the common ones.
        let configured = [stix.clone(), json.clone()];
        assert_eq!(matching(false, &configured, &[cb("urn:stix", &["s"])]), Ok(vec![cb("urn:stix", &["s"])]));
        assert_eq!(matching(false, &configured, &[cb("urn:json", &[])]), Ok(vec![json.clone()]));
        assert_eq!(
            matching(false, &configured, &[cb("urn:json", &["v2", "v3"])]),
            Ok(vec![cb("urn:json", &["v2"])])
        );
        assert_eq!(matching(false, &configured, &[cb("urn:json", &["v3"])]), Err(()));
        assert_eq!(matching(false, &configured, &[cb("urn:other", &[])]), Err(()));
    }

    #[test]
    fn acceptance_of_blocks() {
        let configured = [cb("urn:stix", &[]), cb("urn:json", &["v1"])];
        assert!(collection_accepts(false, &configured, &cb("urn:stix", &["anything"])));
        assert!(collection_accepts(false, &configured, &cb("urn:json", &["v1", "v9"])));
        assert!(!collection_accepts(false, &configured, &cb("urn:json", &["v9"])));
        assert!(!collection_accepts(false, &configured, &cb("urn:json", &[])));
        assert!(!collection_accepts(false, &[], &cb("urn:stix", &[])));
        assert!(collection_accepts(true, &[], &cb("urn:whatever", &[])));
        assert!(inbox_accepts(false, &[cb("urn:stix", &[])], &cb("urn:stix", &["x"])));
        assert!(!inbox_accepts(false, &[cb("urn:stix", &[])], &cb("urn:other", &[])));
        assert_eq!(
            filter_pairs(&configured),
            (vec!["urn:stix".into(), "urn:json".into()], vec![None, Some("v1".into())])
        );
    }
}
