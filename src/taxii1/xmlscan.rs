//! A fast, conservative well-formedness check for stored content blocks.
//!
//! A poll embeds a block as XML only when it is one well-formed element, else as escaped text
//! ([`Content::from_stored`], xml-rs). xml-rs needs ~0.2 ms for a 2 KB STIX package, which
//! made it most of the cost of a 100-block poll. This scanner proves the common case in a
//! single pass and answers "don't know" for anything outside a plain subset of XML (DOCTYPE,
//! processing instructions, non-ASCII names, XML 1.1, unusual namespace use, limits), which
//! then goes to xml-rs. It never says yes where xml-rs says no; the tests check that on
//! systematic mutations of real documents.
//!
//! [`Content::from_stored`]: super::messages::Content::from_stored

/// Limits well inside xml-rs's configuration (`messages::xmlin`), so a document this scanner
/// accepts never trips one of xml-rs's.
const MAX_DEPTH: usize = 256;
const MAX_IN_SCOPE: usize = 64;
const MAX_ATTRIBUTES: usize = 128;
const MAX_NAME: usize = 512;
const MAX_ATTRIBUTE_VALUE: usize = 1 << 19;

/// True when `bytes` is certainly one well-formed XML element (after an optional BOM, XML 1.0
/// declaration, comments and whitespace); false means "not known", not "malformed".
pub fn surely_well_formed(bytes: &[u8]) -> bool {
    // Characters XML 1.0 forbids: C0 controls other than tab, LF, CR, and U+FFFE/U+FFFF.
    // Branch-free, so it vectorises; a document of ASCII alone (most STIX) is valid UTF-8
    // without a second pass.
    let (mut control, mut high) = (false, false);
    for &c in bytes {
        control |= (c < 0x20) & (c != b'\t') & (c != b'\n') & (c != b'\r');
        high |= c >= 0x80;
    }
    if control {
        return false;
    }
    let mut b = bytes;
    if high {
        let Ok(text) = std::str::from_utf8(bytes) else { return false };
        b = text.strip_prefix('\u{feff}').unwrap_or(text).as_bytes();
        // U+FFFE and U+FFFF: EF BF BE / EF BF BF.
        if memchr::memmem::find_iter(b, b"\xEF\xBF").any(|at| b.get(at + 2).is_some_and(|&c| c >= 0xBE)) {
            return false;
        }
    }
    Scanner {
        b,
        i: 0,
        open: Vec::with_capacity(16),
        scope: Vec::with_capacity(16),
        attributes: Vec::with_capacity(16),
        work: 0,
    }
    .document()
    .is_some()
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    /// Open elements: (qualified name, namespace declarations in scope below it).
    open: Vec<(&'a [u8], usize)>,
    /// Declared prefixes in scope (an empty prefix is a default namespace).
    scope: Vec<&'a [u8]>,
    /// The current start tag's attribute names, kept to reuse the allocation tag after tag.
    attributes: Vec<&'a [u8]>,
    /// xml-rs's namespace bookkeeping work, bounded by its budget (see `xmlin`).
    work: usize,
}

type Step = Option<()>;

/// Name characters this scanner handles (ASCII): bit 0 may start a name part, bit 1 may
/// continue one.
const NAME: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = if b.is_ascii_alphabetic() || b == b'_' {
            3
        } else if b.is_ascii_digit() || b == b'.' || b == b'-' {
            2
        } else {
            0
        };
        c += 1;
    }
    t
};

fn name_start(c: &u8) -> bool {
    NAME[*c as usize] & 1 != 0
}

/// What may follow a name: whitespace, `/`, `>`, `=`, or the end of the input.
fn after_name(c: Option<&u8>) -> bool {
    matches!(c, None | Some(b' ' | b'\t' | b'\n' | b'\r' | b'/' | b'>' | b'='))
}

fn ok(cond: bool) -> Step {
    cond.then_some(())
}

impl<'a> Scanner<'a> {
    fn rest(&self) -> &'a [u8] {
        &self.b[self.i..]
    }

    fn skip_ws(&mut self) -> usize {
        let start = self.i;
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
        self.i - start
    }

    fn eat(&mut self, s: &[u8]) -> bool {
        let hit = self.rest().starts_with(s);
        if hit {
            self.i += s.len();
        }
        hit
    }

    /// Advances past the first occurrence of `end`, returning what came before it.
    fn until(&mut self, end: &[u8]) -> Option<&'a [u8]> {
        let rest = self.rest();
        let at = memchr::memmem::find(rest, end)?;
        self.i += at + end.len();
        Some(&rest[..at])
    }

    fn document(&mut self) -> Step {
        if self.eat(b"<?xml") {
            self.declaration()?;
        }
        self.misc()?;
        ok(self.rest().first() == Some(&b'<'))?;
        self.element()?;
        self.misc()?;
        ok(self.i == self.b.len())
    }

    /// `version="1.0"`, then optionally `encoding` and `standalone`, in that order, then `?>`.
    fn declaration(&mut self) -> Step {
        let mut names: &[&[u8]] = &[b"version", b"encoding", b"standalone"];
        loop {
            let ws = self.skip_ws();
            if self.eat(b"?>") {
                return ok(names.len() < 3);
            }
            let (pos, name) = names.iter().enumerate().find(|(_, n)| self.rest().starts_with(n))?;
            ok(ws > 0)?;
            self.i += name.len();
            self.skip_ws();
            ok(self.eat(b"="))?;
            self.skip_ws();
            let quote = *self.rest().first()?;
            ok(quote == b'"' || quote == b'\'')?;
            self.i += 1;
            let value = self.until(&[quote])?;
            let fine = match pos + 3 - names.len() {
                0 => value == b"1.0",
                1 => {
                    value.first().is_some_and(u8::is_ascii_alphabetic)
                        && value.iter().all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
                }
                _ => value == b"yes" || value == b"no",
            };
            ok(fine && (pos == 0 || names.len() < 3))?;
            names = &names[pos + 1..];
        }
    }

    /// Whitespace and comments around the root.
    fn misc(&mut self) -> Step {
        loop {
            self.skip_ws();
            if self.rest().starts_with(b"<!--") {
                self.comment()?;
            } else {
                return Some(());
            }
        }
    }

    fn comment(&mut self) -> Step {
        self.i += 4;
        self.until(b"--")?;
        ok(self.eat(b">"))
    }

    /// A name: one or two parts (`prefix:local`), each a name-start byte and name bytes.
    fn name(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        self.name_part()?;
        if self.b.get(self.i) == Some(&b':') {
            self.i += 1;
            self.name_part()?;
        }
        ok(after_name(self.b.get(self.i)) && self.i - start <= MAX_NAME)?;
        Some(&self.b[start..self.i])
    }

    fn name_part(&mut self) -> Step {
        ok(self.b.get(self.i).is_some_and(name_start))?;
        self.i += 1;
        while self.b.get(self.i).is_some_and(|&c| NAME[c as usize] & 2 != 0) {
            self.i += 1;
        }
        Some(())
    }

    fn prefix(name: &[u8]) -> Option<&[u8]> {
        name.iter().position(|&c| c == b':').map(|p| &name[..p])
    }

    fn local(name: &[u8]) -> &[u8] {
        Self::prefix(name).map_or(name, |p| &name[p.len() + 1..])
    }

    /// Names starting with `xml` are reserved; only the namespace attributes and `xml:` ones
    /// are handled here.
    fn reserved(name: &[u8]) -> bool {
        name.len() >= 3
            && name[..3].eq_ignore_ascii_case(b"xml")
            && name != b"xmlns"
            && !name.starts_with(b"xmlns:")
            && !name.starts_with(b"xml:")
    }

    fn declared(&self, prefix: &[u8]) -> bool {
        self.scope.contains(&prefix)
    }

    /// An element and everything in it, iteratively (content is never recursed into).
    fn element(&mut self) -> Step {
        loop {
            if self.eat(b"</") {
                // The end tag must name the open element: compared, not parsed.
                let (open, scope) = self.open.pop()?;
                ok(self.eat(open) && after_name(self.b.get(self.i)))?;
                self.skip_ws();
                ok(self.eat(b">"))?;
                self.scope.truncate(scope);
                if self.open.is_empty() {
                    return Some(());
                }
            } else if self.rest().first() == Some(&b'<') && self.rest().get(1).is_some_and(name_start) {
                self.i += 1;
                let empty = self.start_tag()?;
                if empty && self.open.is_empty() {
                    return Some(());
                }
            } else {
                ok(!self.open.is_empty())?;
                self.content()?;
            }
        }
    }

    /// A start tag after its `<`; true when it was an empty-element tag.
    fn start_tag(&mut self) -> Option<bool> {
        let name = self.name()?;
        ok(!name.get(..3).is_some_and(|p| p.eq_ignore_ascii_case(b"xml")))?;
        let outer = self.scope.len();
        let mut attributes = std::mem::take(&mut self.attributes);
        attributes.clear();
        let empty = loop {
            let ws = self.skip_ws();
            if self.eat(b"/>") {
                break true;
            }
            if self.eat(b">") {
                break false;
            }
            ok(ws > 0 && attributes.len() < MAX_ATTRIBUTES)?;
            let attr = self.name()?;
            ok(!Self::reserved(attr))?;
            self.skip_ws();
            ok(self.eat(b"="))?;
            self.skip_ws();
            let value = self.attribute_value()?;
            ok(!attributes.contains(&attr))?;
            if attr == b"xmlns" || attr.starts_with(b"xmlns:") {
                // Binding the reserved namespaces is an error: leave such documents to xml-rs.
                let reserved = |uri: &[u8]| memchr::memmem::find(value, uri).is_some();
                ok(!reserved(b"w3.org/XML/1998/namespace") && !reserved(b"w3.org/2000/xmlns"))?;
            }
            if attr == b"xmlns" {
                self.scope.push(b"");
            } else if let Some(p) = attr.strip_prefix(b"xmlns:") {
                ok(!value.is_empty() && p != b"xml" && p != b"xmlns")?;
                self.scope.push(p);
            }
            attributes.push(attr);
        };
        // Prefixes resolve against the element's own declarations too.
        for attr in &attributes {
            if let Some(p) = Self::prefix(attr).filter(|p| *p != b"xmlns") {
                ok(p == b"xml" || self.declared(p))?;
                // Two attributes with one local name may share a namespace: leave it to xml-rs.
                let local = Self::local(attr);
                ok(!attributes
                    .iter()
                    .any(|o| o != attr && Self::prefix(o).is_some() && Self::local(o) == local))?;
            }
        }
        self.attributes = attributes;
        if let Some(p) = Self::prefix(name) {
            ok(self.declared(p))?;
        }
        ok(self.scope.len() <= MAX_IN_SCOPE)?;
        self.work += self.scope.len() + 3;
        ok(self.work <= (self.b.len() * 4).max(1 << 20))?;
        if empty {
            self.scope.truncate(outer);
        } else {
            self.open.push((name, outer));
            ok(self.open.len() <= MAX_DEPTH)?;
        }
        Some(empty)
    }

    fn attribute_value(&mut self) -> Option<&'a [u8]> {
        let quote = *self.b.get(self.i)?;
        ok(quote == b'"' || quote == b'\'')?;
        self.i += 1;
        let start = self.i;
        loop {
            self.i += memchr::memchr3(quote, b'<', b'&', self.rest())?;
            match self.b[self.i] {
                b'<' => return None,
                b'&' => self.reference()?,
                _ => {
                    let value = &self.b[start..self.i];
                    self.i += 1;
                    ok(value.len() <= MAX_ATTRIBUTE_VALUE)?;
                    return Some(value);
                }
            }
        }
    }

    /// Character data, references, comments and CDATA up to the next tag.
    fn content(&mut self) -> Step {
        loop {
            let rest = self.rest();
            if rest.starts_with(b"<!--") {
                self.comment()?;
            } else if rest.starts_with(b"<![CDATA[") {
                self.i += 9;
                self.until(b"]]>")?;
            } else if rest.starts_with(b"<") {
                // A tag, or something this scanner does not handle (PI, DOCTYPE).
                ok(rest.get(1).is_some_and(|c| name_start(c) || *c == b'/'))?;
                return Some(());
            } else if rest.starts_with(b"&") {
                self.reference()?;
            } else if rest.is_empty() {
                return None;
            } else if rest.starts_with(b"]") {
                ok(!rest.starts_with(b"]]>"))?;
                self.i += 1;
            } else {
                self.i += memchr::memchr3(b'<', b'&', b']', rest).unwrap_or(rest.len());
            }
        }
    }

    /// `&lt;`-style and numeric references to characters XML allows.
    fn reference(&mut self) -> Step {
        self.i += 1;
        let rest = self.rest();
        let end = rest.iter().take(12).position(|&c| c == b';')?;
        let body = &rest[..end];
        self.i += end + 1;
        let code = if let Some(hex) = body.strip_prefix(b"#x") {
            u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?
        } else if let Some(dec) = body.strip_prefix(b"#") {
            std::str::from_utf8(dec).ok()?.parse::<u32>().ok()?
        } else {
            return ok(matches!(body, b"lt" | b"gt" | b"amp" | b"apos" | b"quot"));
        };
        let c = char::from_u32(code)?;
        ok(matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taxii1::messages::Content;

    const PACKAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- exported -->
<stix:STIX_Package xmlns:stix="http://stix.mitre.org/stix-1" xmlns:indicator="http://stix.mitre.org/Indicator-2"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="ex:P-1" version="1.1.1" xml:lang='en'>
  <stix:STIX_Header><stix:Title>Feed &amp; more &#233;t&#xE9; &lt;x&gt; caf&#233;</stix:Title></stix:STIX_Header>
  <stix:Indicators>
    <stix:Indicator xsi:type="indicator:IndicatorType" id="ex:I-1"><indicator:Title>Bad &quot;URL&quot; ü</indicator:Title>
      <indicator:Description><![CDATA[<b>raw</b> & stuff]]></indicator:Description><!-- note --><empty xmlns=""/>
    </stix:Indicator>
  </stix:Indicators>
</stix:STIX_Package>
"#;

    fn xml_rs(doc: &[u8]) -> bool {
        Content::from_stored(doc.to_vec()).is_xml
    }

    #[test]
    fn accepts_plain_documents() {
        for doc in [
            PACKAGE,
            "<a/>",
            "<a>text</a>",
            "\u{feff}<?xml version='1.0'?><a b='1'/>",
            "<p:a xmlns:p='u'/>",
            "<p:a xmlns:p='u'><p:b></p:b ></p:a\n>",
            "<a>caf\u{e9} \u{fffd}</a>",
        ] {
            assert!(surely_well_formed(doc.as_bytes()), "{doc}");
            assert!(xml_rs(doc.as_bytes()), "{doc}");
        }
    }

    #[test]
    fn leaves_malformed_and_unusual_documents_to_xml_rs() {
        for doc in [
            "",
            "text",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "<p:a/>",
            "<a x='1' x='2'/>",
            "<a x='<'/>",
            "<a>&nbsp;</a>",
            "<a>&#0;</a>",
            "<a>]]></a>",
            "<!DOCTYPE a><a/>",
            "<a><?pi x?></a>",
            " <?xml version='1.0'?><a/>",
            "<?xml version='1.1'?><a/>",
            "<a><!-- x -- y --></a>",
            "<a\u{1}/>",
            "<é/>",
            "<a></ab>",
            "<ab></a>",
            "<a></a:b>",
            "<a></a/>",
            "<a:b:c xmlns:a='u'/>",
            "<a:/>",
            "<a>\u{fffe}</a>",
            "<a>\u{ffff}</a>",
            "<a>\u{1}</a>",
            "<a b='\u{1f}'/>",
        ] {
            assert!(!surely_well_formed(doc.as_bytes()), "{doc:?}");
        }
    }

    /// Every single-byte deletion, and insertions of XML-significant text at every position:
    /// wherever the scanner says yes, xml-rs must agree.
    #[test]
    fn never_accepts_what_xml_rs_refuses() {
        let base = PACKAGE.as_bytes();
        let inserts: [&[u8]; 16] = [
            b"<",
            b">",
            b"&",
            b"\"",
            b"'",
            b":",
            b"/",
            b"=",
            b"]]>",
            b"--",
            b"<x>",
            b"<!--",
            b"<![CDATA[",
            b"&#1;",
            b" xmlns:p=''",
            b" p:a='1'",
        ];
        let mut checked = 0;
        for i in 0..base.len() {
            let mut variants = vec![[&base[..i], &base[i + 1..]].concat()];
            for ins in inserts {
                variants.push([&base[..i], ins, &base[i..]].concat());
            }
            for v in variants {
                if surely_well_formed(&v) {
                    checked += 1;
                    assert!(xml_rs(&v), "accepted, xml-rs refuses:\n{}", String::from_utf8_lossy(&v));
                }
            }
        }
        assert!(checked > 100, "too few variants accepted to prove anything: {checked}");
    }
}
