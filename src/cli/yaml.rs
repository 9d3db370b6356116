//! A small YAML reader for OpenTAXII's files (data-config, server config): yaml-rust2's event
//! parser builds a tree whose nodes remember their line, and plain scalars are typed the way
//! PyYAML's `safe_load` (YAML 1.1) types them, so a file means to taxiid what it meant to
//! OpenTAXII (`yes` is true, `0x10` is 16, `"yes"` is text).
//!
//! Anchors and aliases work. Merge keys, multiple documents and tags other than the standard
//! `!!str`, `!!int`, `!!bool`, `!!null`, `!!map`, `!!seq` are refused. Also here: `Diag`, which
//! collects `file:line: path: message` errors and warnings, and typed getters over nodes.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    /// Floats and timestamps: nothing taxiid reads takes them, so they are only named.
    Float,
    Timestamp,
    Str(String),
    Seq(Vec<Node>),
    /// Keys in file order; duplicates are refused while parsing.
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// 1-based line where the node starts.
    pub line: usize,
    pub kind: Kind,
    /// The source text of a scalar (for messages and map keys); empty for collections.
    pub text: String,
}

impl Node {
    /// What the node is, for messages: "text", "a boolean", …
    pub fn describe(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float => "a number",
            Kind::Timestamp => "a timestamp",
            Kind::Str(_) => "text",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    pub fn entries(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?.iter().find(|(k, _)| k.text == key).map(|(_, v)| v)
    }
}

/// Nodes a file may expand to through aliases (a "billion laughs" file is refused).
const MAX_NODES: usize = 1_000_000;
/// Scalar text a file may expand to through aliases: a long string aliased ten thousand times
/// stays far below MAX_NODES but not below the memory limit (tests/fuzz found it).
const MAX_ALIAS_BYTES: usize = 16 << 20;
/// Nesting of sequences and mappings. yaml-rust2's `Parser::load` and the tree's clone, drop
/// and size recursions go one stack frame per level: `- - - - …` overflowed the stack
/// (tests/fuzz). OpenTAXII's files nest five levels.
const MAX_DEPTH: usize = 64;

/// Parses one YAML document. An empty file is `Null`. Errors carry the 1-based line.
pub fn parse(text: &str) -> Result<Node, (usize, String)> {
    let mut b = Builder::default();
    let mut parser = Parser::new_from_str(text);
    // Events pulled one by one (not `Parser::load`, which recurses per level), stopping at the
    // first error.
    while b.error.is_none() {
        match parser.next_token() {
            Ok((Event::StreamEnd, _)) => break,
            Ok((ev, mark)) => b.on_event(ev, mark),
            Err(e) => return Err((e.marker().line().max(1), format!("YAML syntax error: {}", e.info()))),
        }
    }
    if let Some(e) = b.error {
        return Err(e);
    }
    match b.docs.len() {
        0 => Ok(Node { line: 1, kind: Kind::Null, text: String::new() }),
        1 => Ok(b.docs.pop().unwrap_or_else(|| unreachable!())),
        _ => Err((b.docs[1].line, "more than one YAML document in the file".into())),
    }
}

enum Open {
    Seq(Node, usize),
    Map(Node, usize, Option<Node>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    docs: Vec<Node>,
    /// Anchored node, its node count, its scalar bytes.
    anchors: HashMap<usize, (Node, usize, usize)>,
    nodes: usize,
    alias_bytes: usize,
    error: Option<(usize, String)>,
}

impl Builder {
    fn fail(&mut self, line: usize, msg: String) {
        if self.error.is_none() {
            self.error = Some((line, msg));
        }
    }

    fn insert(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Open::Seq(seq, _)) => {
                if let Kind::Seq(items) = &mut seq.kind {
                    items.push(node);
                }
            }
            Some(Open::Map(map, _, pending)) => {
                let Some(key) = pending.take() else {
                    if matches!(node.kind, Kind::Seq(_) | Kind::Map(_)) {
                        let line = node.line;
                        return self.fail(line, "a mapping key must be a scalar".into());
                    }
                    *pending = Some(node);
                    return;
                };
                let Kind::Map(entries) = &mut map.kind else { return };
                if key.text == "<<" {
                    let line = key.line;
                    return self.fail(line, "merge keys (<<) are not supported".into());
                }
                if let Some((first, _)) = entries.iter().find(|(k, _)| k.text == key.text) {
                    let msg = format!("duplicate key `{}` (first on line {})", key.text, first.line);
                    let line = key.line;
                    return self.fail(line, msg);
                }
                entries.push((key, node));
            }
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node, size: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), size, text_bytes(node)));
        }
    }

    fn count(&mut self, n: usize, line: usize) -> bool {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            self.fail(line, format!("the file expands to more than {MAX_NODES} nodes through aliases"));
            return false;
        }
        true
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let line = mark.line().max(1);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                if !self.count(1, line) {
                    return;
                }
                let tag = tag.as_ref().map(|t| standard_tag(&t.handle, &t.suffix));
                let kind = match (tag, style) {
                    (Some(Err(t)), _) => return self.fail(line, format!("YAML tag `{t}` is not supported")),
                    (Some(Ok("str")), _) => Kind::Str(text.clone()),
                    (Some(Ok(_)) | None, TScalarStyle::Plain) => resolve_plain(&text),
                    _ => Kind::Str(text.clone()),
                };
                let node = Node { line, kind, text };
                self.remember(anchor, &node, 1);
                self.insert(node);
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                if let Some(Err(t)) = tag.as_ref().map(|t| standard_tag(&t.handle, &t.suffix)) {
                    return self.fail(line, format!("YAML tag `{t}` is not supported"));
                }
                if !self.count(1, line) {
                    return;
                }
                if self.stack.len() >= MAX_DEPTH {
                    return self.fail(line, format!("nested more than {MAX_DEPTH} levels deep"));
                }
                let seq = matches!(ev, Event::SequenceStart(..));
                let kind = if seq { Kind::Seq(Vec::new()) } else { Kind::Map(Vec::new()) };
                let node = Node { line, kind, text: String::new() };
                self.stack.push(if seq { Open::Seq(node, anchor) } else { Open::Map(node, anchor, None) });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Open::Seq(node, anchor)) | Some(Open::Map(node, anchor, _)) => (node, anchor),
                    None => return,
                };
                let size = 1 + count_nodes(&node);
                self.remember(anchor, &node, size);
                self.insert(node);
            }
            Event::Alias(id) => {
                let Some((node, size, bytes)) = self.anchors.get(&id).cloned() else {
                    return self.fail(line, "alias to an unknown anchor".into());
                };
                self.alias_bytes += bytes;
                if self.alias_bytes > MAX_ALIAS_BYTES {
                    let msg = format!(
                        "the file expands to more than {} MiB through aliases",
                        MAX_ALIAS_BYTES >> 20
                    );
                    return self.fail(line, msg);
                }
                if self.count(size, line) {
                    self.insert(node);
                }
            }
            _ => {}
        }
    }
}

fn count_nodes(n: &Node) -> usize {
    match &n.kind {
        Kind::Seq(items) => items.iter().map(|i| 1 + count_nodes(i)).sum(),
        Kind::Map(entries) => entries.iter().map(|(_, v)| 2 + count_nodes(v)).sum(),
        _ => 0,
    }
}

/// Scalar text under a node (keys included).
fn text_bytes(n: &Node) -> usize {
    n.text.len()
        + match &n.kind {
            Kind::Seq(items) => items.iter().map(text_bytes).sum(),
            Kind::Map(entries) => entries.iter().map(|(k, v)| text_bytes(k) + text_bytes(v)).sum(),
            _ => 0,
        }
}

/// `Ok(suffix)` for the standard tags taxiid understands, `Err(tag)` for anything else.
fn standard_tag<'a>(handle: &str, suffix: &'a str) -> Result<&'a str, String> {
    match (handle, suffix) {
        ("tag:yaml.org,2002:", "str" | "int" | "bool" | "null" | "map" | "seq") => Ok(suffix),
        _ => Err(format!("{handle}{suffix}")),
    }
}

/// PyYAML's implicit resolvers for plain scalars (YAML 1.1): null, bool, int, float, timestamp.
pub fn resolve_plain(s: &str) -> Kind {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Kind::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => return Kind::Bool(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Kind::Bool(false);
        }
        _ => {}
    }
    if let Some(i) = yaml11_int(s) {
        return Kind::Int(i);
    }
    if is_yaml11_float(s) {
        return Kind::Float;
    }
    if is_yaml11_timestamp(s) {
        return Kind::Timestamp;
    }
    Kind::Str(s.to_string())
}

/// YAML 1.1 integers as PyYAML reads them: `0b1010`, `012` (octal), `0x1f`, `1_000`, `1:30`.
fn yaml11_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits = |rest: &str, ok: fn(char) -> bool| {
        !rest.is_empty() && rest.chars().all(|c| c == '_' || ok(c)) && rest.chars().any(ok)
    };
    let clean = |rest: &str| rest.replace('_', "");
    let value: i64 = if let Some(b) = body.strip_prefix("0b") {
        if !digits(b, |c| c == '0' || c == '1') {
            return None;
        }
        i64::from_str_radix(&clean(b), 2).ok()?
    } else if let Some(h) = body.strip_prefix("0x") {
        if !digits(h, |c| c.is_ascii_hexdigit()) {
            return None;
        }
        i64::from_str_radix(&clean(h), 16).ok()?
    } else if body == "0" {
        0
    } else if let Some(o) = body.strip_prefix('0') {
        if !digits(o, |c| ('0'..='7').contains(&c)) {
            return None;
        }
        i64::from_str_radix(&clean(o), 8).ok()?
    } else if body.contains(':') {
        // Sexagesimal: 1:30 is 90.
        let mut parts = body.split(':');
        let first = parts.next()?;
        if !first.starts_with(|c: char| ('1'..='9').contains(&c)) || !digits(first, |c| c.is_ascii_digit()) {
            return None;
        }
        let mut v: i64 = clean(first).parse().ok()?;
        for p in parts {
            if p.is_empty()
                || p.len() > 2
                || !p.chars().all(|c| c.is_ascii_digit())
                || p.parse::<u8>().ok()? > 59
            {
                return None;
            }
            v = v.checked_mul(60)?.checked_add(p.parse::<i64>().ok()?)?;
        }
        v
    } else {
        if !body.starts_with(|c: char| ('1'..='9').contains(&c)) || !digits(body, |c| c.is_ascii_digit()) {
            return None;
        }
        clean(body).parse().ok()?
    };
    Some(if neg { -value } else { value })
}

/// PyYAML's float pattern: a dot is required, and an exponent needs its sign (`1e3` is text).
fn is_yaml11_float(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    if matches!(body, ".inf" | ".Inf" | ".INF") || matches!(s, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    if let Some(e) = exp {
        let Some(d) = e.strip_prefix(['-', '+']) else { return false };
        if d.is_empty() || !d.chars().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    let Some((int, frac)) = mantissa.split_once('.') else { return false };
    let digits_ = |t: &str| t.chars().all(|c| c.is_ascii_digit() || c == '_');
    if int.is_empty() {
        // `.5`: no sign allowed by PyYAML's pattern here, and at least one digit.
        body.len() == s.len()
            && !frac.is_empty()
            && digits_(frac)
            && frac.starts_with(|c: char| c.is_ascii_digit())
    } else {
        int.starts_with(|c: char| c.is_ascii_digit()) && digits_(int) && digits_(frac)
    }
}

/// `2024-01-02`, or a date, `T` or blanks, `hh:mm:ss`, an optional fraction and zone: PyYAML's
/// timestamp pattern (it makes these datetimes).
fn is_yaml11_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize, min: usize, max: usize| {
        let n = b[*i..].iter().take(max).take_while(|c| c.is_ascii_digit()).count();
        *i += n;
        n >= min
    };
    let expect = |i: &mut usize, c: u8| {
        let ok = b.get(*i) == Some(&c);
        *i += ok as usize;
        ok
    };
    if !(digits(&mut i, 4, 4) && expect(&mut i, b'-')) {
        return false;
    }
    let month_at = i;
    if !(digits(&mut i, 1, 2) && expect(&mut i, b'-')) {
        return false;
    }
    let day_at = i;
    if !digits(&mut i, 1, 2) {
        return false;
    }
    if i == b.len() {
        return day_at - month_at == 3 && i - day_at == 2;
    }
    if matches!(b[i], b'T' | b't') {
        i += 1;
    } else {
        let n = b[i..].iter().take_while(|c| matches!(c, b' ' | b'\t')).count();
        if n == 0 {
            return false;
        }
        i += n;
    }
    if !(digits(&mut i, 1, 2)
        && expect(&mut i, b':')
        && digits(&mut i, 2, 2)
        && expect(&mut i, b':')
        && digits(&mut i, 2, 2))
    {
        return false;
    }
    if expect(&mut i, b'.') {
        digits(&mut i, 0, usize::MAX);
    }
    i += b[i..].iter().take_while(|c| matches!(c, b' ' | b'\t')).count();
    if i == b.len() || (expect(&mut i, b'Z') && i == b.len()) {
        return true;
    }
    if !(expect(&mut i, b'+') || expect(&mut i, b'-')) || !digits(&mut i, 1, 2) {
        return false;
    }
    if expect(&mut i, b':') && !digits(&mut i, 2, 2) {
        return false;
    }
    i == b.len()
}

/// Errors and warnings as `file:line: path: message`, collected so that a file's problems are
/// reported together.
pub struct Diag {
    file: String,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

impl Diag {
    pub fn new(file: &str) -> Diag {
        Diag { file: file.to_string(), errors: Vec::new(), warnings: Vec::new() }
    }

    pub fn error(&mut self, line: usize, path: &str, msg: impl std::fmt::Display) {
        self.errors.push(format!("{}:{line}: {path}: {msg}", self.file));
    }

    pub fn warn(&mut self, line: usize, path: &str, msg: impl std::fmt::Display) {
        self.warnings.push(format!("{}:{line}: {path}: warning: {msg}", self.file));
    }

    /// Text; a YAML boolean, number or null where text is expected is an error that says to
    /// quote it (PyYAML would have handed OpenTAXII a non-string).
    pub fn text(&mut self, n: &Node, path: &str) -> Option<String> {
        match &n.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Seq(_) | Kind::Map(_) => {
                self.error(n.line, path, format!("expected text, found {}", n.describe()));
                None
            }
            _ => {
                let msg = format!("expected text, but YAML reads `{}` as {}; quote it", n.text, n.describe());
                self.error(n.line, path, msg);
                None
            }
        }
    }

    /// Text or null (an optional description).
    pub fn opt_text(&mut self, n: &Node, path: &str) -> Option<Option<String>> {
        if n.kind == Kind::Null { Some(None) } else { self.text(n, path).map(Some) }
    }

    pub fn boolean(&mut self, n: &Node, path: &str) -> Option<bool> {
        match n.kind {
            Kind::Bool(b) => Some(b),
            _ => {
                self.error(n.line, path, format!("expected yes/no (true/false), found {}", shown(n)));
                None
            }
        }
    }

    pub fn int(&mut self, n: &Node, path: &str) -> Option<i64> {
        match n.kind {
            Kind::Int(i) => Some(i),
            _ => {
                self.error(n.line, path, format!("expected an integer, found {}", shown(n)));
                None
            }
        }
    }

    /// A list of text items, each with its line.
    pub fn text_list(&mut self, n: &Node, path: &str) -> Option<Vec<(String, usize)>> {
        let Kind::Seq(items) = &n.kind else {
            self.error(n.line, path, format!("expected a list, found {}", shown(n)));
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.text(item, &format!("{path}[{i}]")) {
                Some(s) => out.push((s, item.line)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A mapping's entries, or an error.
    pub fn map<'n>(&mut self, n: &'n Node, path: &str) -> Option<&'n [(Node, Node)]> {
        let entries = n.entries();
        if entries.is_none() {
            self.error(n.line, path, format!("expected a mapping, found {}", shown(n)));
        }
        entries
    }
}

fn shown(n: &Node) -> String {
    match n.kind {
        Kind::Seq(_) | Kind::Map(_) | Kind::Null => n.describe().to_string(),
        _ => format!("{} `{}`", n.describe(), n.text),
    }
}

/// A dotted path element: `services[2].id`.
pub fn path(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_string() } else { format!("{parent}.{key}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_scalars_like_pyyaml() {
        for (s, k) in [
            ("yes", Kind::Bool(true)),
            ("Off", Kind::Bool(false)),
            ("~", Kind::Null),
            ("", Kind::Null),
            ("10", Kind::Int(10)),
            ("-1", Kind::Int(-1)),
            ("0x1f", Kind::Int(31)),
            ("010", Kind::Int(8)),
            ("0b11", Kind::Int(3)),
            ("1_000", Kind::Int(1000)),
            ("1:30", Kind::Int(90)),
            ("1.5", Kind::Float),
            ("1.0e+3", Kind::Float),
            (".inf", Kind::Float),
            ("2024-01-02", Kind::Timestamp),
            ("2024-1-2T10:00:00Z", Kind::Timestamp),
            ("2024-01-02 10:00:00", Kind::Timestamp),
            ("1e3", Kind::Str("1e3".into())),
            ("0x", Kind::Str("0x".into())),
            ("08", Kind::Str("08".into())),
            ("y", Kind::Str("y".into())),
            ("urn:stix.mitre.org:xml:1.1.1", Kind::Str("urn:stix.mitre.org:xml:1.1.1".into())),
            ("localhost:9000", Kind::Str("localhost:9000".into())),
            ("12:75", Kind::Str("12:75".into())),
        ] {
            assert_eq!(resolve_plain(s), k, "{s}");
        }
    }

    #[test]
    fn builds_a_tree_with_lines() {
        let doc = "# comment\nservices:\n  - id: a\n    available: yes\n    q: \"yes\"\n  - {id: b, n: 0x10}\nx: &v [1, 2]\ny: *v\n";
        let root = parse(doc).unwrap();
        let services = root.get("services").unwrap();
        assert_eq!(services.line, 3);
        let Kind::Seq(items) = &services.kind else { panic!() };
        assert_eq!(items[0].get("available").unwrap().kind, Kind::Bool(true));
        assert_eq!(items[0].get("available").unwrap().line, 4);
        assert_eq!(items[0].get("q").unwrap().kind, Kind::Str("yes".into()));
        assert_eq!(items[1].get("n").unwrap().kind, Kind::Int(16));
        assert_eq!(items[1].line, 6);
        assert_eq!(root.get("y").unwrap().kind, root.get("x").unwrap().kind);
        let keys: Vec<_> = root.entries().unwrap().iter().map(|(k, _)| (k.text.as_str(), k.line)).collect();
        assert_eq!(keys, [("services", 2), ("x", 7), ("y", 8)]);
    }

    #[test]
    fn refuses_what_it_does_not_support() {
        assert_eq!(parse("a: 1\na: 2\n").unwrap_err().0, 2);
        assert!(parse("a: 1\n").is_ok());
        assert!(parse("a: !custom x\n").unwrap_err().1.contains("not supported"));
        assert!(parse("a: 1\n---\nb: 2\n").unwrap_err().1.contains("more than one"));
        let (line, msg) = parse("a:\n  - b\n c: [\n").unwrap_err();
        assert!(msg.starts_with("YAML syntax error"), "{msg}");
        assert!(line >= 2, "{line}");
        assert_eq!(parse("").unwrap().kind, Kind::Null);
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
        assert!(parse(bomb).unwrap_err().1.contains("aliases"));
    }
}
