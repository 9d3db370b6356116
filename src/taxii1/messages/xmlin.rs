//! Hardened XML reading for TAXII 1 messages: bytes → a small element tree of the message
//! envelope, with payload elements (Content, Query, …) captured as self-contained XML bytes
//! instead of tree nodes. Knows TAXII only through the two callbacks it is given.
//!
//! Hostile input:
//! * not UTF-8 → error (TAXII clients send UTF-8; a declared other encoding is ignored);
//! * any `<!DOCTYPE` (and so any entity declaration) is refused by a scan of the prolog
//!   before xml-rs sees it, so no entity is ever declared or expanded; references to
//!   undeclared entities are errors in xml-rs;
//! * depth: envelope elements at most [`MAX_STRUCTURE_DEPTH`], everything (payloads) at most
//!   [`MAX_DEPTH`]; the parser is a loop, never recursion;
//! * at most [`MAX_NAMESPACES`] namespace bindings in scope, and all elements together at
//!   most 4 in-scope bindings per input byte (at least 2^20): xml-rs copies the whole
//!   in-scope map for every element (~150 ns per binding), so a few hundred declarations
//!   over millions of tiny elements would otherwise cost minutes of CPU per megabyte;
//! * attribute values at most 1 MiB, names 1 KiB, 256 attributes per element.
//!
//! Everything kept is linear in the input: tree nodes for envelope elements, one byte
//! buffer per payload.
//!
//! Payload XML is re-serialised from events, so it is equivalent to what was sent rather
//! than byte-identical where XML allows variation: attribute quotes become `"`, character
//! references are resolved (and re-escaped where needed), namespace declarations come
//! first in an element, comments are dropped. Whitespace, element and attribute order,
//! prefixes, `<x/>` vs `<x></x>`, CDATA sections and processing instructions are kept.

use std::collections::{BTreeMap, HashMap};

use xml::name::OwnedName;
use xml::namespace::Namespace;
use xml::reader::{ParserConfig, XmlEvent};

use super::xmlout::{escape_attr, escape_text};

/// Deepest nesting of TAXII envelope elements (real messages need about 6).
pub const MAX_STRUCTURE_DEPTH: usize = 64;
/// Deepest nesting overall, payloads included: STIX 1.x documents stay well under 100.
pub const MAX_DEPTH: usize = 512;
/// Most namespace bindings in scope at any element (STIX packages declare a few dozen).
pub const MAX_NAMESPACES: usize = 128;

/// Namespace-copy work allowed for a document of `len` bytes (see the module doc).
fn namespace_budget(len: usize) -> usize {
    (len.saturating_mul(4)).max(1 << 20)
}

/// Counts xml-rs's per-element namespace copying against the budget; Err when it is spent
/// or one element has too many bindings in scope.
struct NamespaceWork {
    done: usize,
    budget: usize,
}

impl NamespaceWork {
    fn add(&mut self, ns: &Namespace) -> Result<(), String> {
        // Three bindings are always there: xml, xmlns and the empty default.
        if ns.0.len() > MAX_NAMESPACES + 3 {
            return Err(format!("more than {MAX_NAMESPACES} namespace declarations in scope"));
        }
        self.done += ns.0.len();
        if self.done > self.budget {
            return Err("too many namespace declarations in scope for a document of this size".into());
        }
        Ok(())
    }
}

/// An envelope element. Only unqualified attributes are kept: TAXII's are all unqualified.
#[derive(Debug, Default)]
pub(crate) struct Element {
    pub ns: String,
    pub local: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// Character data directly inside (CDATA included).
    pub text: String,
    /// Set for payload elements, whose children are not in `children`.
    pub raw: Option<Raw>,
}

/// A payload element's content: its first child element serialised with every namespace
/// declaration it needs, or, without a child element, its character data.
#[derive(Debug, Default)]
pub(crate) struct Raw {
    pub element: Option<Vec<u8>>,
    pub text: String,
}

/// What went wrong, and the root element if it was seen (for in_response_to).
#[derive(Debug)]
pub(crate) struct Failure {
    pub message: String,
    /// The root's name and attributes, without children.
    pub root: Option<Box<Element>>,
}

fn fail(message: impl Into<String>, root: Option<&Element>) -> Failure {
    let root = root.map(|r| {
        Box::new(Element {
            ns: r.ns.clone(),
            local: r.local.clone(),
            attrs: r.attrs.clone(),
            ..Element::default()
        })
    });
    Failure { message: message.into(), root }
}

fn config() -> ParserConfig {
    // Entity limits are moot without a DOCTYPE (only the five predefined entities exist);
    // they are set tight in case one ever slips through.
    ParserConfig::new()
        .ignore_comments(true)
        .coalesce_characters(true)
        .allow_multiple_root_elements(false)
        .override_encoding(Some(xml::Encoding::Utf8))
        .ignore_invalid_encoding_declarations(true)
        .max_entity_expansion_depth(1)
        .max_entity_expansion_length(64)
        .max_attributes(256)
        .max_attribute_length(1 << 20)
        .max_name_length(1024)
}

/// UTF-8 check, BOM removal and the DOCTYPE refusal shared by both entry points.
fn prepare(bytes: &[u8]) -> Result<&str, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("Request is not valid UTF-8: {e}"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    check_prolog(text.as_bytes())?;
    Ok(text)
}

/// Walks the prolog (whitespace, XML declaration, comments, processing instructions) up to
/// the root element and refuses any other `<!` construct, i.e. DOCTYPE. After the root
/// xml-rs itself refuses a DOCTYPE.
fn check_prolog(b: &[u8]) -> Result<(), String> {
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let rest = &b[i..];
        if rest.starts_with(b"<!--") {
            match find(&rest[4..], b"-->") {
                Some(j) => i += 4 + j + 3,
                None => return Ok(()),
            }
        } else if rest.starts_with(b"<!") {
            return Err("DOCTYPE and entity declarations are not allowed".into());
        } else if rest.starts_with(b"<?") {
            match find(rest, b"?>") {
                Some(j) => i += j + 2,
                None => return Ok(()),
            }
        } else {
            return Ok(());
        }
    }
}

fn qname(n: &OwnedName) -> String {
    match &n.prefix {
        Some(p) => format!("{p}:{}", n.local_name),
        None => n.local_name.clone(),
    }
}

/// Declarations an element makes: bindings differing from its parent's scope.
fn declared<'a>(ns: &'a Namespace, parent: &Namespace) -> Vec<(&'a str, &'a str)> {
    if ns.0 == parent.0 {
        return Vec::new();
    }
    ns.0.iter()
        .filter(|(p, u)| p.as_str() != "xml" && p.as_str() != "xmlns" && parent.get(p.as_str()) != Some(u))
        .map(|(p, u)| (p.as_str(), u.as_str()))
        .collect()
}

/// Serialises one payload element (and its subtree) from events, tracking which bindings
/// from outside the payload it uses so they can be declared on its top element. "Uses"
/// covers element and attribute prefixes and attribute values shaped like QNames
/// (`xsi:type="stixVocabs:…"`, STIX ids `example:Package-1`).
struct Capture {
    /// Depth of the payload element (Content, Query, …).
    depth: usize,
    /// Namespace scope at the payload element.
    outer: Namespace,
    raw: Raw,
    buf: Vec<u8>,
    /// Open elements below the payload element: qualified name, scope, own declarations.
    path: Vec<(String, Namespace, Vec<String>)>,
    tag_open: bool,
    declared_inside: HashMap<String, usize>,
    needed: BTreeMap<String, String>,
    insert_at: usize,
}

impl Capture {
    fn new(depth: usize, outer: Namespace) -> Capture {
        Capture {
            depth,
            outer,
            raw: Raw::default(),
            buf: Vec::new(),
            path: Vec::new(),
            tag_open: false,
            declared_inside: HashMap::new(),
            needed: BTreeMap::new(),
            insert_at: 0,
        }
    }

    fn close_tag(&mut self) {
        if self.tag_open {
            self.buf.push(b'>');
            self.tag_open = false;
        }
    }

    fn uses(&mut self, prefix: &str, scope: &Namespace) {
        if self.declared_inside.get(prefix).copied().unwrap_or(0) > 0 {
            return;
        }
        if let Some(uri) = scope.get(prefix) {
            // The default namespace unset needs no declaration.
            if !(prefix.is_empty() && uri.is_empty()) && prefix != "xml" && !self.needed.contains_key(prefix)
            {
                self.needed.insert(prefix.to_string(), uri.to_string());
            }
        }
    }

    fn start(&mut self, name: &OwnedName, attrs: &[xml::attribute::OwnedAttribute], ns: Namespace) {
        self.close_tag();
        let q = qname(name);
        self.buf.push(b'<');
        self.buf.extend_from_slice(q.as_bytes());
        if self.path.is_empty() {
            self.insert_at = self.buf.len();
        }
        let parent = self.path.last().map_or(&self.outer, |(_, scope, _)| scope);
        let mut own = Vec::new();
        let top = self.path.is_empty();
        for (p, u) in declared(&ns, parent) {
            // `xmlns=""` on the top element only undoes the envelope's default namespace:
            // standalone, and as the writer embeds it (no default namespace), it says nothing.
            if !(top && p.is_empty() && u.is_empty()) {
                write_xmlns(&mut self.buf, p, u);
            }
            own.push(p.to_string());
        }
        for p in &own {
            *self.declared_inside.entry(p.clone()).or_insert(0) += 1;
        }
        self.uses(name.prefix.as_deref().unwrap_or(""), &ns);
        for a in attrs {
            self.buf.push(b' ');
            self.buf.extend_from_slice(qname(&a.name).as_bytes());
            self.buf.extend_from_slice(b"=\"");
            escape_attr(&mut self.buf, &a.value);
            self.buf.push(b'"');
            if let Some(p) = &a.name.prefix {
                self.uses(p, &ns);
            }
            if let Some((p, rest)) = a.value.trim().split_once(':') {
                let ncname = |s: &str| {
                    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
                };
                if ncname(p) && !rest.is_empty() {
                    self.uses(p, &ns);
                }
            }
        }
        self.tag_open = true;
        self.path.push((q, ns, own));
    }

    /// Closes an element; closing the top one completes `raw.element`.
    fn end(&mut self) {
        let Some((q, _, own)) = self.path.pop() else { return };
        for p in own {
            if let Some(n) = self.declared_inside.get_mut(&p) {
                *n -= 1;
            }
        }
        if self.tag_open {
            self.buf.extend_from_slice(b"/>");
            self.tag_open = false;
        } else {
            self.buf.extend_from_slice(b"</");
            self.buf.extend_from_slice(q.as_bytes());
            self.buf.push(b'>');
        }
        if !self.path.is_empty() {
            return;
        }
        let mut decls = Vec::new();
        for (p, u) in &self.needed {
            write_xmlns(&mut decls, p, u);
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.splice(self.insert_at..self.insert_at, decls);
        self.raw.element = Some(buf);
    }

    fn text(&mut self, s: &str, cdata: bool) {
        self.close_tag();
        if cdata {
            // xml-rs ended the section at the first `]]>`, so `s` cannot contain one.
            self.buf.extend_from_slice(b"<![CDATA[");
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"]]>");
        } else {
            escape_text(&mut self.buf, s);
        }
    }
}

fn write_xmlns(buf: &mut Vec<u8>, prefix: &str, uri: &str) {
    if prefix.is_empty() {
        buf.extend_from_slice(b" xmlns=\"");
    } else {
        buf.extend_from_slice(b" xmlns:");
        buf.extend_from_slice(prefix.as_bytes());
        buf.extend_from_slice(b"=\"");
    }
    escape_attr(buf, uri);
    buf.push(b'"');
}

/// What the caller decides about elements.
pub(crate) struct Rules {
    /// Called on the root element (namespace URI, local name): Err refuses the document
    /// before the rest is read.
    pub root: fn(&str, &str) -> Result<(), String>,
    /// Whether an element in the root's namespace is a payload element to capture.
    pub payload: fn(&str) -> bool,
}

/// Reads a document into its envelope tree. Elements outside the root's namespace
/// (`ds:Signature`, extensions) are skipped with their subtrees.
pub(crate) fn read(bytes: &[u8], rules: &Rules) -> Result<Element, Failure> {
    let text = prepare(bytes).map_err(|m| fail(m, None))?;
    let mut events = config().create_reader(std::io::BufReader::with_capacity(1 << 16, text.as_bytes()));
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut depth = 0usize;
    let mut skip_from: Option<usize> = None;
    let mut capture: Option<Capture> = None;
    let mut work = NamespaceWork { done: 0, budget: namespace_budget(text.len()) };
    loop {
        let ev = events
            .next()
            .map_err(|e| fail(format!("Request was invalid XML: {e}"), stack.first().or(root.as_ref())))?;
        match ev {
            XmlEvent::EndDocument => break,
            XmlEvent::Doctype { .. } => {
                let r = stack.first().or(root.as_ref());
                return Err(fail("DOCTYPE and entity declarations are not allowed", r));
            }
            XmlEvent::StartElement { name, attributes, namespace } => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(fail(format!("XML nested deeper than {MAX_DEPTH} elements"), stack.first()));
                }
                work.add(&namespace).map_err(|m| fail(m, stack.first()))?;
                if skip_from.is_some() {
                    continue;
                }
                if let Some(cap) = capture.as_mut() {
                    if depth == cap.depth + 1 && cap.raw.element.is_some() {
                        // Only the first child element is kept, as libtaxii and OpenTAXII do.
                        skip_from = Some(depth);
                    } else {
                        cap.start(&name, &attributes, namespace);
                    }
                    continue;
                }
                if depth > MAX_STRUCTURE_DEPTH {
                    return Err(fail(
                        format!("TAXII elements nested deeper than {MAX_STRUCTURE_DEPTH}"),
                        stack.first(),
                    ));
                }
                let ns = name.namespace.clone().unwrap_or_default();
                if stack.is_empty() {
                    let el = Element { ns: ns.clone(), local: name.local_name.clone(), ..Element::default() };
                    (rules.root)(&ns, &name.local_name).map_err(|m| fail(m, Some(&el)))?;
                } else if ns != stack[0].ns {
                    skip_from = Some(depth);
                    continue;
                }
                let attrs = attributes
                    .into_iter()
                    .filter(|a| a.name.prefix.is_none())
                    .map(|a| (a.name.local_name, a.value))
                    .collect();
                let payload = !stack.is_empty() && (rules.payload)(&name.local_name);
                if payload {
                    capture = Some(Capture::new(depth, namespace));
                }
                stack.push(Element { ns, local: name.local_name, attrs, ..Element::default() });
            }
            XmlEvent::EndElement { .. } => {
                let d = depth;
                depth = depth.saturating_sub(1);
                if let Some(from) = skip_from {
                    if d == from {
                        skip_from = None;
                    }
                    continue;
                }
                if let Some(cap) = capture.as_mut()
                    && d > cap.depth
                {
                    cap.end();
                    continue;
                }
                let mut el = stack.pop().ok_or_else(|| fail("unbalanced XML", None))?;
                if let Some(cap) = capture.take() {
                    el.raw = Some(cap.raw);
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            XmlEvent::Characters(s) | XmlEvent::Whitespace(s) => {
                on_text(&mut stack, &mut capture, skip_from, depth, &s, false)
            }
            XmlEvent::CData(s) => on_text(&mut stack, &mut capture, skip_from, depth, &s, true),
            XmlEvent::ProcessingInstruction { name, data } => {
                if let Some(cap) = capture.as_mut()
                    && skip_from.is_none()
                    && depth > cap.depth
                {
                    cap.close_tag();
                    cap.buf.extend_from_slice(b"<?");
                    cap.buf.extend_from_slice(name.as_bytes());
                    if let Some(d) = data {
                        cap.buf.push(b' ');
                        cap.buf.extend_from_slice(d.as_bytes());
                    }
                    cap.buf.extend_from_slice(b"?>");
                }
            }
            XmlEvent::StartDocument { .. } | XmlEvent::Comment(_) => {}
        }
    }
    root.ok_or_else(|| fail("Request has no root element", None))
}

fn on_text(
    stack: &mut [Element],
    capture: &mut Option<Capture>,
    skip_from: Option<usize>,
    depth: usize,
    s: &str,
    cdata: bool,
) {
    if skip_from.is_some() {
        return;
    }
    match capture {
        Some(cap) if depth > cap.depth => cap.text(s, cdata),
        Some(cap) => cap.raw.text.push_str(s),
        None => {
            if let Some(el) = stack.last_mut() {
                el.text.push_str(s);
            }
        }
    }
}

/// Whether `bytes` are one well-formed XML document under the same rules as [`read`]
/// (UTF-8, no DOCTYPE, depth and namespace limits, every prefix bound).
pub(crate) fn is_well_formed(bytes: &[u8]) -> bool {
    let Ok(text) = prepare(bytes) else { return false };
    let mut events = config().create_reader(std::io::BufReader::with_capacity(1 << 16, text.as_bytes()));
    let (mut depth, mut roots) = (0usize, 0usize);
    let mut lt_in_attribute = false;
    let mut work = NamespaceWork { done: 0, budget: namespace_budget(text.len()) };
    loop {
        match events.next() {
            Err(_) | Ok(XmlEvent::Doctype { .. }) => return false,
            // xml-rs lets a raw `<` through in an attribute value (namespace declarations
            // included), which no XML parser may accept; embedded as XML it would make a poll
            // response malformed. After parsing it looks like a legitimate `&lt;`, so the raw
            // text decides: the scanner refuses a raw `<` there and proves the escaped form.
            // Content it cannot prove is carried as text, lossless either way (both cases
            // found by fuzzing taxii1_message).
            Ok(XmlEvent::EndDocument) => {
                return roots == 1 && (!lt_in_attribute || crate::taxii1::xmlscan::surely_well_formed(bytes));
            }
            Ok(XmlEvent::StartElement { namespace, attributes, .. }) => {
                depth += 1;
                if depth == 1 {
                    roots += 1;
                }
                if depth > MAX_DEPTH || work.add(&namespace).is_err() {
                    return false;
                }
                lt_in_attribute |= attributes.iter().any(|a| a.value.contains('<'))
                    || namespace.0.values().any(|u| u.contains('<'));
            }
            Ok(XmlEvent::EndElement { .. }) => depth = depth.saturating_sub(1),
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prolog_scan() {
        assert!(check_prolog(b"<?xml version=\"1.0\"?>\n<!-- <!DOCTYPE x> --><?pi?> <a/>").is_ok());
        assert!(check_prolog(b"<a><![CDATA[<!DOCTYPE x>]]></a>").is_ok());
        assert!(check_prolog(b"<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY e \"x\">]><a/>").is_err());
        assert!(check_prolog(b"\n<!ENTITY e \"x\"><a/>").is_err());
    }

    #[test]
    fn well_formed() {
        assert!(is_well_formed(b"<a xmlns:p=\"u\"><p:b/></a>"));
        assert!(!is_well_formed(b"<p:b/>"));
        assert!(!is_well_formed(b"<a/><b/>"));
        assert!(!is_well_formed(b""));
        assert!(!is_well_formed("<a>".repeat(MAX_DEPTH + 1).as_bytes()));
    }
}
