//! Reading fields from the envelope tree (`xmlin.rs`): attributes, child elements, and the
//! XSD scalar types (xs:boolean, integers, TAXII timestamps), with error messages fit for a
//! BAD_MESSAGE status. Every element in the tree is in the message's namespace.

use time::OffsetDateTime;

use super::xmlin::Element;

pub(super) type R<T> = Result<T, String>;

pub(super) fn attr<'a>(e: &'a Element, name: &str) -> Option<&'a str> {
    e.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim())
}

pub(super) fn req_attr<'a>(e: &'a Element, name: &str) -> R<&'a str> {
    attr(e, name).ok_or_else(|| format!("{} is missing the required attribute {name}", e.local))
}

/// Children of one name; every element in the tree is in the message's namespace.
pub(super) fn kids<'a>(e: &'a Element, local: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
    e.children.iter().filter(move |c| c.local == local)
}

pub(super) fn kid<'a>(e: &'a Element, local: &str) -> Option<&'a Element> {
    e.children.iter().find(|c| c.local == local)
}

pub(super) fn req_kid<'a>(e: &'a Element, local: &str) -> R<&'a Element> {
    kid(e, local).ok_or_else(|| format!("{} is missing the required element {local}", e.local))
}

/// Text of an xs:string element, exactly as sent.
pub(super) fn opt_text(e: &Element, local: &str) -> Option<String> {
    kid(e, local).map(|c| c.text.clone())
}

/// Text of an id/URI/enum element, whitespace-trimmed as the XSD types collapse it.
pub(super) fn opt_token(e: &Element, local: &str) -> Option<String> {
    kid(e, local).map(|c| c.text.trim().to_string())
}

pub(super) fn req_token(e: &Element, local: &str) -> R<String> {
    req_kid(e, local).map(|c| c.text.trim().to_string())
}

pub(super) fn tokens(e: &Element, local: &str) -> Vec<String> {
    kids(e, local).map(|c| c.text.trim().to_string()).collect()
}

/// xs:boolean: `true`/`false`/`1`/`0`.
pub(super) fn boolean(s: &str, what: &str) -> R<bool> {
    match s.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(format!("{what} must be true or false, got \"{other}\"")),
    }
}

pub(super) fn opt_bool_attr(e: &Element, name: &str) -> R<Option<bool>> {
    attr(e, name).map(|s| boolean(s, name)).transpose()
}

pub(super) fn uint(s: &str, what: &str) -> R<u64> {
    let s = s.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    s.parse::<u64>().map_err(|_| format!("{what} must be a non-negative integer, got \"{s}\""))
}

/// A TAXII timestamp: xs:dateTime with a mandatory zone (`Z` or `±hh:mm`), any number of
/// fraction digits; returned in UTC and truncated to microseconds, the most TAXII 1 can
/// carry, so that a parsed timestamp survives writing unchanged.
pub(super) fn timestamp(s: &str, what: &str) -> R<OffsetDateTime> {
    let s = s.trim();
    // time parses at most nine fraction digits; the XSD allows any number.
    let shortened;
    let mut s2 = s;
    if let Some(dot) = s.find('.') {
        let digits = s[dot + 1..].bytes().take_while(u8::is_ascii_digit).count();
        if digits > 9 {
            shortened = format!("{}{}", &s[..dot + 10], &s[dot + 1 + digits..]);
            s2 = &shortened;
        }
    }
    let t = crate::timefmt::parse_rfc3339(s2).ok_or_else(|| {
        format!("{what} must be a timestamp with a time zone (e.g. 2024-01-01T00:00:00Z), got \"{s}\"")
    })?;
    Ok(t.replace_nanosecond(t.nanosecond() / 1000 * 1000).unwrap_or(t))
}

pub(super) fn opt_timestamp(e: &Element, local: &str) -> R<Option<OffsetDateTime>> {
    kid(e, local).map(|c| timestamp(&c.text, local)).transpose()
}
