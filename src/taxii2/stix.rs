//! STIX objects as raw JSON text: splitting a (valid) JSON object into its members without
//! re-serialising any value, validating the members TAXII storage needs, and splicing `id`,
//! `type`, `spec_version` back onto stored text. Values are never parsed and re-written, so
//! numbers, unicode escapes and key order come back exactly as posted.

use crate::db::taxii2::ObjectRow;
use crate::db::taxii2_write::NewObject;
use crate::timefmt;

/// Largest single object accepted (the whole body is bounded by `max_content_length`).
pub const MAX_OBJECT_BYTES: usize = 1 << 20;

/// Deepest nesting of arrays and objects in one object (the object itself is level 1).
/// PostgreSQL's `json` input recurses per level and fails the whole statement ("stack depth
/// limit exceeded") somewhere in the thousands, which made one deep object a 500 for the whole
/// envelope (tests/hostile_documents.rs); 128 is serde_json's own limit, far beyond any STIX
/// object.
pub const MAX_NESTING: usize = 128;

/// One member of a JSON object: the raw key (with quotes, as sent) and the raw value.
pub struct Member<'a> {
    pub raw_key: &'a str,
    pub key: String,
    pub value: &'a str,
}

/// Members of a JSON object, in order. `text` must be valid JSON (serde_json checked it);
/// returns `None` when it is not an object.
pub fn members(text: &str) -> Option<Vec<Member<'_>>> {
    let mut out = Vec::new();
    for_each_member(text, |m| {
        out.push(m);
        true
    })?;
    Some(out)
}

/// Hands the members of a JSON object to `each` in order, without collecting them, until it
/// returns false. `text` must be valid JSON; `None` when it is not an object.
pub fn for_each_member<'a>(text: &'a str, mut each: impl FnMut(Member<'a>) -> bool) -> Option<()> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return Some(());
    }
    loop {
        let key_end = string_end(b, i)?;
        let raw_key = &text[i..key_end];
        let key: String = serde_json::from_str(raw_key).ok()?;
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        let value_end = value_end(b, i)?;
        if !each(Member { raw_key, key, value: &text[i..value_end] }) {
            return Some(());
        }
        i = skip_ws(b, value_end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return Some(()),
            _ => return None,
        }
    }
}

/// The raw text of each element of a JSON array, in order, found as the iterator goes (no
/// list is built). `text` must be valid JSON; `None` when it is not an array.
pub fn elements(text: &str) -> Option<impl Iterator<Item = &str>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    i = skip_ws(b, i + 1);
    let mut done = b.get(i) == Some(&b']');
    Some(std::iter::from_fn(move || {
        if done {
            return None;
        }
        let end = value_end(b, i)?;
        let element = &text[i..end];
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            _ => done = true,
        }
        Some(element)
    }))
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// End (exclusive) of the string starting at `i`.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// End (exclusive) of the value starting at `i`: strings, nested containers, scalars.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                j += 1;
            }
            Some(j)
        }
    }
}

/// Whether the (valid JSON) text nests arrays and objects more than `max` levels deep.
fn nested_deeper_than(b: &[u8], max: usize) -> bool {
    let (mut depth, mut i) = (0usize, 0);
    while i < b.len() {
        match b[i] {
            b'"' => match string_end(b, i) {
                Some(end) => {
                    i = end;
                    continue;
                }
                None => return false,
            },
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

/// What a posted element turned out to be.
pub enum Checked {
    Valid(NewObject),
    /// (id as posted or "", version as posted or None, why).
    Invalid(String, Option<String>, String),
}

/// Validates one element of `objects` and prepares its storage form.
pub fn check(raw: &str) -> Checked {
    let Some(members) = members(raw) else {
        return Checked::Invalid(String::new(), None, "not a JSON object".into());
    };
    let text_of = |k: &str| -> Option<Option<String>> {
        let m = members.iter().find(|m| m.key == k)?;
        Some(serde_json::from_str::<String>(m.value).ok())
    };
    let id = text_of("id").flatten().unwrap_or_default();
    let version_text = text_of("modified").flatten().or_else(|| text_of("created").flatten());
    let invalid = |msg: String| Checked::Invalid(id.clone(), version_text.clone(), msg);
    if raw.len() > MAX_OBJECT_BYTES {
        return invalid(format!("object larger than {MAX_OBJECT_BYTES} bytes"));
    }
    if nested_deeper_than(raw.as_bytes(), MAX_NESTING) {
        return invalid(format!("arrays and objects nested deeper than {MAX_NESTING} levels"));
    }
    // A set, not a scan of the earlier members: that was quadratic, and one 1 MB object of
    // 100,000 members held a worker for more than 30 s (tests/hostile_documents.rs).
    let mut seen = std::collections::HashSet::with_capacity(members.len());
    if let Some(m) = members.iter().find(|m| !seen.insert(m.key.as_str())) {
        return invalid(format!("duplicate member `{}`", m.key));
    }
    let Some(Some(type_)) = text_of("type") else {
        return invalid("`type` is missing or not a string".into());
    };
    if !valid_type(&type_) {
        return invalid(format!("`{type_}` is not a valid STIX type"));
    }
    if type_ == "bundle" {
        return invalid("a bundle is not a STIX object; post its objects".into());
    }
    match id.split_once("--") {
        Some((t, u)) if t == type_ && is_uuid(u) => {}
        _ if id.is_empty() => return invalid("`id` is missing or not a string".into()),
        _ => return invalid(format!("`id` must be `{type_}--<UUID>`")),
    }
    if id.len() > 100 {
        return invalid("`id` is longer than 100 characters".into());
    }
    let spec = match text_of("spec_version") {
        None => None,
        Some(Some(v)) if v == "2.0" || v == "2.1" => Some(v),
        Some(_) => return invalid("`spec_version` must be \"2.0\" or \"2.1\"".into()),
    };
    let mut stamps = [None, None];
    for (slot, k) in stamps.iter_mut().zip(["created", "modified"]) {
        match text_of(k) {
            None => {}
            Some(Some(t)) => match timefmt::parse_rfc3339(&t) {
                Some(ts) => *slot = Some(timefmt::to_db(ts)),
                None => return invalid(format!("`{k}` is not an RFC 3339 timestamp")),
            },
            Some(None) => return invalid(format!("`{k}` must be a string")),
        }
    }
    let [created, modified] = stamps;
    // STIX 2.1: without spec_version, objects with `created` (SDO/SRO) are 2.0, others 2.1.
    let spec_version =
        spec.clone().unwrap_or_else(|| if created.is_some() { "2.0".into() } else { "2.1".into() });
    let mut data = String::with_capacity(raw.len());
    data.push('{');
    for m in members.iter().filter(|m| !matches!(m.key.as_str(), "id" | "type" | "spec_version")) {
        if data.len() > 1 {
            data.push(',');
        }
        data.push_str(m.raw_key);
        data.push(':');
        data.push_str(m.value);
    }
    data.push('}');
    Checked::Valid(NewObject {
        id,
        type_,
        spec_version,
        spec_absent: spec.is_none(),
        version: modified.or(created),
        data,
    })
}

fn valid_type(t: &str) -> bool {
    (3..=250).contains(&t.len())
        && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !t.starts_with('-')
        && !t.ends_with('-')
        && !t.contains("--")
}

fn is_uuid(u: &str) -> bool {
    crate::db::taxii2::is_uuid(u)
}

/// The object as posted: `id`, `type`, `spec_version` first, then the stored members.
pub fn splice(row: &ObjectRow, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"id\":");
    out.extend_from_slice(json_string(&row.id).as_bytes());
    out.extend_from_slice(b",\"type\":");
    out.extend_from_slice(json_string(&row.type_).as_bytes());
    if !row.spec_absent {
        out.extend_from_slice(b",\"spec_version\":");
        out.extend_from_slice(json_string(&row.spec_version).as_bytes());
    }
    let data = row.data.trim();
    let inner = data.strip_prefix('{').unwrap_or("}");
    if !inner.trim_start().starts_with('}') {
        out.push(b',');
    }
    out.extend_from_slice(inner.as_bytes());
}

pub fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keep_raw_values_and_order() {
        let text = r#" { "b" : [1, {"x":"}"}], "a":"\u00e9\"", "n": 1.50e3 ,"z":null} "#;
        let m = members(text).unwrap();
        let pairs: Vec<(&str, &str)> = m.iter().map(|m| (m.key.as_str(), m.value)).collect();
        assert_eq!(
            pairs,
            vec![("b", r#"[1, {"x":"}"}]"#), ("a", r#""\u00e9\"""#), ("n", "1.50e3"), ("z", "null")]
        );
        assert!(members("[1]").is_none());
        assert_eq!(members("{}").unwrap().len(), 0);
        let list: Vec<&str> = elements(r#" [ 1 , {"a":[2,"]"]}, "x,y" ,[] ] "#).unwrap().collect();
        assert_eq!(list, vec!["1", r#"{"a":[2,"]"]}"#, r#""x,y""#, "[]"]);
        assert_eq!(elements("[ ]").unwrap().count(), 0);
        assert!(elements("{}").is_none());
    }

    #[test]
    fn check_strips_and_splice_restores() {
        let raw = r#"{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2023-01-02T00:00:00.000Z","modified":"2023-01-02T00:00:00.000Z","n":12345678901234567890}"#;
        let Checked::Valid(o) = check(raw) else { panic!("invalid") };
        assert_eq!(
            o.data,
            r#"{"created":"2023-01-02T00:00:00.000Z","modified":"2023-01-02T00:00:00.000Z","n":12345678901234567890}"#
        );
        assert!(!o.spec_absent);
        for bad in [
            r#"{"type":"indicator","id":"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}"#,
            r#"{"type":"Bad_Type","id":"Bad_Type--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}"#,
            r#"{"type":"indicator","id":"indicator--nope"}"#,
            r#"{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","spec_version":"3.0"}"#,
            r#"{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","modified":"yesterday"}"#,
            r#"{"type":"bundle","id":"bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}"#,
            r#"{"id":"x"}"#,
            r#"[]"#,
        ] {
            assert!(matches!(check(bad), Checked::Invalid(..)), "{bad}");
        }
    }

    #[test]
    fn nesting_is_bounded_and_strings_do_not_count() {
        let obj = |inner: &str| {
            format!(
                r#"{{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2023-01-02T00:00:00.000Z","x":{inner},"s":"[[[[{{{{"}}"#
            )
        };
        // The object is level 1: 127 more levels are allowed, 128 are not.
        let ok = obj(&format!("{}{}", "[".repeat(MAX_NESTING - 1), "]".repeat(MAX_NESTING - 1)));
        assert!(matches!(check(&ok), Checked::Valid(_)));
        let deep = obj(&format!("{}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING)));
        assert!(matches!(check(&deep), Checked::Invalid(_, _, m) if m.contains("nested deeper")));
    }
}
