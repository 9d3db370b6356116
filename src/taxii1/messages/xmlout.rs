//! Writing XML by hand: escaping of text and attribute values, and a small element writer
//! with two-space indentation. Knows nothing about TAXII.

/// Characters XML 1.0 cannot carry at all, not even as references: replaced by U+FFFD so
/// that whatever a caller stored, the output stays well-formed.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes character data. `>` is escaped too so that `]]>` can never appear; `\r` as a
/// reference because a literal one would be normalised away by the reader.
pub(crate) fn escape_text(out: &mut Vec<u8>, s: &str) {
    escape(out, s, false)
}

/// Escapes an attribute value for double quotes; whitespace other than space as references
/// because attribute-value normalisation would turn it into spaces.
pub(crate) fn escape_attr(out: &mut Vec<u8>, s: &str) {
    escape(out, s, true)
}

fn escape(out: &mut Vec<u8>, s: &str, attr: bool) {
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let rep: &str = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '\r' => "&#13;",
            '"' if attr => "&quot;",
            '\t' if attr => "&#9;",
            '\n' if attr => "&#10;",
            c if !is_xml_char(c) => "\u{FFFD}",
            _ => continue,
        };
        out.extend_from_slice(&s.as_bytes()[start..i]);
        out.extend_from_slice(rep.as_bytes());
        start = i + c.len_utf8();
    }
    out.extend_from_slice(&s.as_bytes()[start..]);
}

/// Writes elements under one fixed prefix with two-space indentation. Leaf text elements
/// stay on one line, so no whitespace is ever added inside a text value.
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
    prefix: &'static str,
    /// One entry per open container: whether it has had a child yet.
    open: Vec<bool>,
}

impl Writer {
    pub(crate) fn with_capacity(prefix: &'static str, capacity: usize) -> Writer {
        let mut buf = Vec::with_capacity(capacity);
        buf.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        Writer { buf, prefix, open: Vec::new() }
    }

    fn child_started(&mut self) {
        if let Some(has_child) = self.open.last_mut() {
            if !*has_child {
                self.buf.push(b'>');
                *has_child = true;
            }
            self.buf.push(b'\n');
            for _ in 0..self.open.len() {
                self.buf.extend_from_slice(b"  ");
            }
        }
    }

    fn tag_start(&mut self, name: &str, attrs: &[(&str, Option<&str>)]) {
        self.child_started();
        self.buf.push(b'<');
        self.buf.extend_from_slice(self.prefix.as_bytes());
        self.buf.push(b':');
        self.buf.extend_from_slice(name.as_bytes());
        for (k, v) in attrs {
            if let Some(v) = v {
                self.buf.push(b' ');
                self.buf.extend_from_slice(k.as_bytes());
                self.buf.extend_from_slice(b"=\"");
                escape_attr(&mut self.buf, v);
                self.buf.push(b'"');
            }
        }
    }

    fn end_tag(&mut self, name: &str) {
        self.buf.extend_from_slice(b"</");
        self.buf.extend_from_slice(self.prefix.as_bytes());
        self.buf.push(b':');
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(b'>');
    }

    /// Opens a container; attributes with a None value are left out. The tag is closed
    /// lazily so that a container without children becomes `<x/>`.
    pub(crate) fn open(&mut self, name: &str, attrs: &[(&str, Option<&str>)]) {
        self.tag_start(name, attrs);
        self.open.push(false);
    }

    /// Opens the root, declaring the binding namespace for the prefix.
    pub(crate) fn open_root(&mut self, name: &str, namespace: &str, attrs: &[(&str, Option<&str>)]) {
        let ns = format!("xmlns:{}", self.prefix);
        let mut all: Vec<(&str, Option<&str>)> = vec![(ns.as_str(), Some(namespace))];
        all.extend_from_slice(attrs);
        self.open(name, &all);
    }

    pub(crate) fn close(&mut self, name: &str) {
        match self.open.pop() {
            Some(true) => {
                self.buf.push(b'\n');
                for _ in 0..self.open.len() {
                    self.buf.extend_from_slice(b"  ");
                }
                self.end_tag(name);
            }
            _ => self.buf.extend_from_slice(b"/>"),
        }
    }

    /// A leaf element with escaped text.
    pub(crate) fn text(&mut self, name: &str, attrs: &[(&str, Option<&str>)], text: &str) {
        self.tag_start(name, attrs);
        self.buf.push(b'>');
        escape_text(&mut self.buf, text);
        self.end_tag(name);
    }

    /// A leaf element written only when there is a value.
    pub(crate) fn opt_text(&mut self, name: &str, text: Option<&str>) {
        if let Some(t) = text {
            self.text(name, &[], t);
        }
    }

    /// An empty element.
    pub(crate) fn empty(&mut self, name: &str, attrs: &[(&str, Option<&str>)]) {
        self.tag_start(name, attrs);
        self.buf.extend_from_slice(b"/>");
    }

    /// A leaf element whose content is already-serialised XML (`raw`) or text to escape.
    pub(crate) fn mixed(&mut self, name: &str, attrs: &[(&str, Option<&str>)], raw: bool, bytes: &[u8]) {
        if bytes.is_empty() {
            return self.empty(name, attrs);
        }
        self.tag_start(name, attrs);
        self.buf.push(b'>');
        if raw {
            self.buf.extend_from_slice(strip_prolog(bytes));
        } else {
            escape_text(&mut self.buf, &String::from_utf8_lossy(bytes));
        }
        self.end_tag(name);
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.buf.push(b'\n');
        self.buf
    }
}

/// Drops a BOM, leading whitespace and an XML declaration: none may appear inside an
/// element. Stored XML that was sent as escaped text or CDATA can start with them.
fn strip_prolog(bytes: &[u8]) -> &[u8] {
    let mut b = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let trim = |b: &[u8]| -> usize { b.iter().take_while(|c| c.is_ascii_whitespace()).count() };
    let lead = trim(b);
    let rest = &b[lead..];
    if rest.starts_with(b"<?xml")
        && rest.get(5).is_some_and(|c| c.is_ascii_whitespace() || *c == b'?')
        && let Some(end) = rest.windows(2).position(|w| w == b"?>")
    {
        b = &rest[end + 2..];
        return &b[trim(b)..];
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let mut v = Vec::new();
        escape_attr(&mut v, "a&b<c>\"d\te\nf\rg\u{1}h");
        assert_eq!(String::from_utf8(v).unwrap(), "a&amp;b&lt;c&gt;&quot;d&#9;e&#10;f&#13;g\u{FFFD}h");
        let mut v = Vec::new();
        escape_text(&mut v, "]]>\"\n");
        assert_eq!(String::from_utf8(v).unwrap(), "]]&gt;\"\n");
    }

    #[test]
    fn prolog() {
        assert_eq!(strip_prolog(b"\n<?xml version=\"1.0\"?>\n<a/>"), b"<a/>");
        assert_eq!(strip_prolog(b"<?xml-stylesheet x?><a/>"), b"<?xml-stylesheet x?><a/>");
        assert_eq!(strip_prolog(b" <a/>"), b" <a/>");
    }
}
