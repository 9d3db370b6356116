//! The fuzzers' entry points and nothing else: one function per cargo-fuzz target under
//! `tests/fuzz/`, each taking raw bytes, calling the real parser (no database, no network)
//! and asserting a cheap property that misbehaviour would break — a decode → encode → decode
//! round trip where there is an encoder, output bounded by input otherwise. A panic here is a
//! finding. `tests/fuzz_regressions.rs` replays the seeds and every crash found through them.

use std::net::{SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::value::RawValue;

use crate::auth::Auth;
use crate::cli::{sync, yaml};
use crate::config::{self, Config};
use crate::db::taxii2::ObjectRow;
use crate::http::body::{self, BodyError, Framing};
use crate::http::conn::{Conn, Transport};
use crate::http::head::{self, Parsed};
use crate::http::{Head, Limits, MAX_HEAD_BYTES};
use crate::taxii1::messages::{self, Content};
use crate::taxii1::xmlscan;
use crate::taxii2::cursor;
use crate::taxii2::filter::{self, Allowed};
use crate::taxii2::stix::{self, Checked};

/// A fuzz target: panics on a finding.
pub type Target = fn(&[u8]);

/// Every target by name, for the regression test (the names of `tests/fuzz/fuzz_targets/`).
pub const TARGETS: &[(&str, Target)] = &[
    ("taxii1_message", taxii1_message),
    ("http_framing", http_framing),
    ("taxii2_query", taxii2_query),
    ("taxii2_ingest", taxii2_ingest),
    ("config", config),
    ("data_config_yaml", data_config_yaml),
];

/// TAXII 1.0/1.1 decoder: what parses is written and parses back to the same message, a
/// refusal's BAD_MESSAGE answer parses, and the fast well-formedness scanner never says yes
/// where xml-rs says no (it picks how stored content is embedded in a poll).
pub fn taxii1_message(data: &[u8]) {
    if xmlscan::surely_well_formed(data) {
        assert!(Content::from_stored(data.to_vec()).is_xml, "xmlscan accepts what xml-rs refuses");
    }
    let (version, msg) = match messages::parse(data) {
        Ok(m) => m,
        Err(e) => e.to_status(),
    };
    let out = messages::write(version, &msg);
    let (v2, msg2) = messages::parse(&out).unwrap_or_else(|e| {
        panic!("our own output does not parse ({e}):\n{}", String::from_utf8_lossy(&out))
    });
    assert_eq!(version, v2, "version changed in the round trip");
    let out2 = messages::write(v2, &msg2);
    if out2 != out {
        // Well-formed XML sent as text or CDATA is kept byte for byte and embedded as it came;
        // read back as an element it is re-serialised (quotes, character references), an
        // equivalent form. From then on writing must be stable.
        let (v3, msg3) = messages::parse(&out2).unwrap_or_else(|e| {
            panic!("our own output does not parse ({e}):\n{}", String::from_utf8_lossy(&out2))
        });
        assert_eq!(v2, v3, "version changed in the round trip");
        assert_eq!(messages::write(v3, &msg3), out2, "writing is not stable");
        return;
    }
    // The writer replaces characters XML cannot carry by U+FFFD: only then may the model change.
    if !String::from_utf8_lossy(&out).contains('\u{FFFD}') {
        assert_eq!(msg, msg2, "message changed in the round trip:\n{}", String::from_utf8_lossy(&out));
    }
}

/// Request head and body framing as a worker meets them: the head re-serialised parses to the
/// same head; a body is never longer than the bytes that carried it, a Content-Length body is
/// exactly those bytes, and a chunked body re-encoded decodes to itself.
pub fn http_framing(data: &[u8]) {
    assert!(head::path_hint(data).chars().count() <= 256, "path_hint longer than 256");
    let (h, len) = match head::parse(data) {
        Parsed::Partial => return,
        Parsed::Refuse(code, _) => {
            assert!(matches!(code, 400 | 414 | 431 | 505), "head refused with {code}");
            return;
        }
        Parsed::Complete(h, len) => (h, len),
    };
    assert!(len <= data.len() && len <= MAX_HEAD_BYTES, "head length {len} out of bounds");
    let again = serialize_head(&h);
    match head::parse(&again) {
        Parsed::Complete(h2, len2) => {
            assert_eq!(len2, again.len());
            assert_eq!(
                (&h.method, &h.target, h.minor, &h.headers),
                (&h2.method, &h2.target, h2.minor, &h2.headers)
            );
        }
        _ => panic!("re-serialised head does not parse: {:?}", String::from_utf8_lossy(&again)),
    }
    let Ok(framing) = body::framing(&h) else { return };
    let rest = &data[len..];
    const MAX_BODY: u64 = 1 << 16;
    if matches!(framing, Framing::Length(n) if n > MAX_BODY) {
        return; // The worker answers 413 before reading.
    }
    let (got, left) = read_body(rest, &framing, MAX_BODY);
    match (&framing, got) {
        (Framing::None, r) => assert_eq!(r, Ok(Vec::new())),
        (&Framing::Length(n), Ok(b)) => {
            assert_eq!(b, &rest[..n as usize]);
            assert_eq!(left, &rest[n as usize..], "pipelined bytes lost");
        }
        (&Framing::Length(n), Err(e)) => assert!(e == BodyError::Gone && (rest.len() as u64) < n, "{e:?}"),
        (Framing::Chunked, Ok(b)) => {
            assert!(
                b.len() <= rest.len() && b.len() as u64 <= MAX_BODY,
                "chunked body larger than its input"
            );
            assert!(rest.ends_with(&left), "pipelined bytes lost");
            let step = 1 + rest.len() % 7;
            let mut wire = Vec::new();
            for c in b.chunks(step) {
                wire.extend_from_slice(format!("{:x};ext=1\r\n", c.len()).as_bytes());
                wire.extend_from_slice(c);
                wire.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(b"0\r\nTrailer: x\r\n\r\n");
            assert_eq!(read_body(&wire, &Framing::Chunked, MAX_BODY), (Ok(b), Vec::new()));
        }
        (Framing::Chunked, Err(_)) => {}
    }
}

fn serialize_head(h: &Head) -> Vec<u8> {
    let mut out = format!("{} {} HTTP/1.{}\r\n", h.method, h.target, h.minor).into_bytes();
    for (name, value) in &h.headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Runs `body::read` on a connection whose buffer holds `bytes` and whose peer has gone (a
/// socket pair, so no network): the body, and what is left for the next request.
fn read_body(bytes: &[u8], framing: &Framing, max: u64) -> (Result<Vec<u8>, BodyError>, Vec<u8>) {
    let (ours, theirs) = UnixStream::pair().expect("socketpair");
    drop(theirs);
    let stream = TcpStream::from(OwnedFd::from(ours));
    let mut conn = Conn::new(Transport::Plain(stream), SocketAddr::from(([127, 0, 0, 1], 0)));
    conn.buf = bytes.to_vec();
    let limits = Limits {
        workers: 1,
        max_connections: 1,
        max_body_bytes: max,
        header_timeout: Duration::from_secs(10),
        keepalive_timeout: Duration::from_secs(10),
        min_body_rate: 0,
        body_rate_grace: Duration::from_secs(3600),
        io_timeout: Duration::from_secs(10),
        shutdown_grace: Duration::from_secs(10),
    };
    let r = body::read(&mut conn, framing, &limits);
    (r, conn.buf)
}

fn auth() -> &'static Auth {
    static AUTH: OnceLock<Auth> = OnceLock::new();
    AUTH.get_or_init(|| Auth::new("fuzzing secret", false, Duration::from_secs(60)))
}

/// TAXII 2.1 query parameters (first byte: which ones the endpoint honours and the page size)
/// and `next` cursors: the result does not depend on parameter order, `limit` stays within
/// the page size, a cursor is refused unless we made it, and encode → decode is the identity.
pub fn taxii2_query(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else { return };
    let allowed = Allowed {
        id_type: flags & 1 != 0,
        version: flags & 2 != 0,
        paging: flags & 4 != 0,
        default_all: flags & 8 != 0,
    };
    let max_page = 1 + u32::from(flags >> 4) * 100;
    let query = String::from_utf8_lossy(rest);
    let parsed = filter::parse(&query, allowed, max_page);
    let reversed: Vec<&str> = query.split('&').rev().collect();
    let reversed = filter::parse(&reversed.join("&"), allowed, max_page);
    let p = match (parsed, reversed) {
        (Ok(p), Ok(r)) => {
            assert_eq!((p.limit, &p.next, &p.canonical), (r.limit, &r.next, &r.canonical), "order matters");
            p
        }
        (Err(_), Err(_)) => return,
        _ => panic!("parameter order changes whether the query is accepted"),
    };
    assert!((1..=i64::from(max_page)).contains(&p.limit), "limit {} outside 1..={max_page}", p.limit);
    let binding = format!("Objects|c|-|{}", p.canonical);
    let id = p.next.clone().unwrap_or_default();
    if let Some(token) = &p.next {
        assert!(cursor::decode(auth(), &binding, token).is_none(), "a cursor we never made was accepted");
    }
    let epoch = time::PrimitiveDateTime::MIN;
    let key =
        (p.query.added_after.unwrap_or(epoch), id, p.query.versions.at.first().copied().unwrap_or(epoch));
    let token = cursor::encode(auth(), &binding, &key);
    assert_eq!(cursor::decode(auth(), &binding, &token), Some(key.clone()), "cursor round trip");
    assert!(cursor::decode(auth(), &format!("{binding}x"), &token).is_none(), "cursor accepted elsewhere");
}

/// Add Objects validation, as `ingest::add` does it before the database: envelope, then each
/// element through `stix::check`. A valid object spliced back from its stored form is the
/// same JSON as posted; an invalid one never stops the others from being checked.
pub fn taxii2_ingest(data: &[u8]) {
    // Mirrors ingest::add up to the write (which needs a database).
    let Ok(envelope) = serde_json::from_slice::<std::collections::HashMap<String, Box<RawValue>>>(data)
    else {
        return;
    };
    let Some(raw_objects) = envelope.get("objects") else { return };
    let Ok(elements) = serde_json::from_str::<Vec<Box<RawValue>>>(raw_objects.get()) else { return };
    for el in &elements {
        match stix::check(el.get()) {
            Checked::Invalid(..) => {}
            Checked::Valid(o) => {
                assert!(o.id.starts_with(&format!("{}--", o.type_)), "id {} of type {}", o.id, o.type_);
                let epoch = time::PrimitiveDateTime::MIN;
                let row = ObjectRow {
                    id: o.id.clone(),
                    type_: o.type_.clone(),
                    spec_version: o.spec_version.clone(),
                    spec_absent: o.spec_absent,
                    date_added: epoch,
                    version: o.version.unwrap_or(epoch),
                    data: o.data.clone(),
                };
                let mut out = Vec::new();
                stix::splice(&row, &mut out);
                // serde_json's RawValue lets a lone surrogate escape through; Value refuses it.
                let posted = serde_json::from_str::<serde_json::Value>(el.get());
                let back = serde_json::from_slice::<serde_json::Value>(&out);
                match (posted, back) {
                    (Ok(p), Ok(b)) => assert_eq!(p, b, "the object changed between posting and serving"),
                    (Err(_), Err(_)) => {}
                    (p, b) => panic!("posted {p:?}, served {b:?}: {}", String::from_utf8_lossy(&out)),
                }
            }
        }
    }
}

/// taxiid.conf: text, then after a NUL byte `TAXIID_*=value` environment lines. What
/// `check-config` prints for a valid file is itself a valid file meaning the same (for values
/// it can print unquoted), and the printed database URL never shows the password.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // Secret files are read while parsing: a fuzzer must not read /dev/zero or /dev/stdin.
    if text.to_ascii_lowercase().contains("_file") {
        return;
    }
    let (file, env) = text.split_once('\0').unwrap_or((&text, ""));
    let env: Vec<(String, String)> =
        env.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let Ok(cfg) = Config::from_sources("fuzz.conf", file, &env) else { return };
    password_masked(&cfg.database.url);
    let shown = cfg.render();
    let printable = shown.lines().all(|l| {
        let v = l.split_once(" = ").map_or("", |(_, v)| v);
        v == v.trim() && !v.contains(['#', '"', '\''])
    });
    if !printable {
        return;
    }
    // `database.password` is shown (masked) but is not a key: it comes from password_file.
    let reread: String =
        shown.lines().filter(|l| !l.starts_with("database.password ")).map(|l| format!("{l}\n")).collect();
    let again = Config::from_sources("shown.conf", &reread, &[])
        .unwrap_or_else(|e| panic!("check-config output is not a valid file: {e}\n{reread}"));
    // Masked values are not meant to read back as themselves.
    let unmasked = |r: String| -> Vec<String> {
        r.lines()
            .filter(|l| !l.starts_with("database.url ") && !l.starts_with("database.password "))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        unmasked(shown),
        unmasked(again.render()),
        "check-config output means something else read back"
    );
}

/// `database.url` as logs and `check-config` show it must not contain the password that
/// PostgreSQL would be sent (when the password occurs only once in the URL).
fn password_masked(url: &str) {
    let Ok(pg) = postgres::Config::from_str(url) else { return };
    let Some(pw) = pg.get_password().and_then(|p| std::str::from_utf8(p).ok()) else { return };
    let masked = config::mask_url(url);
    // Each word of it too: `password='two words'` must not show `words'`.
    for piece in std::iter::once(pw).chain(pw.split_whitespace()) {
        if piece.len() >= 4 && !piece.contains('*') && url.matches(piece).count() == 1 {
            assert!(!masked.contains(piece), "mask_url shows {piece:?} of the password {pw:?}: {masked}");
        }
    }
}

/// OpenTAXII data-config YAML: the tree stays within the node limit and a few times the
/// input's bytes (aliases must not amplify memory), every message names a line of the file,
/// and the reader succeeds exactly when it reports no error.
pub fn data_config_yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // YAML line breaks: LF, CRLF and a lone CR.
    let lines = 1 + text.matches('\n').count() + text.matches('\r').count() - text.matches("\r\n").count();
    match yaml::parse(text) {
        Ok(root) => {
            let (nodes, bytes) = tree_size(&root);
            assert!(nodes <= 1_000_001, "{nodes} nodes");
            assert!(
                bytes <= 64 * (1 << 20) + 2 * text.len(),
                "{bytes} bytes of text from {} bytes",
                text.len()
            );
            // A node ending the file (`!!str` and nothing after it) starts on the line after it.
            assert!(root.line <= lines + 1, "line {} of {lines}", root.line);
        }
        // yaml-rust2 places an error at the end of the file on the line after it.
        Err((line, _)) => assert!((1..=lines + 1).contains(&line), "error on line {line} of {lines}"),
    }
    let mut diag = yaml::Diag::new("f");
    let cfg = sync::parse(text, &mut diag);
    assert_eq!(cfg.is_some(), diag.errors.is_empty(), "{:?}", diag.errors);
    for m in diag.errors.iter().chain(&diag.warnings) {
        let line: usize = m.split(':').nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
        assert!((1..=lines + 1).contains(&line), "message names line {line} of {lines}: {m}");
    }
}

/// Nodes and scalar bytes in a YAML tree (iterative: a deep tree must not overflow our stack).
fn tree_size(root: &yaml::Node) -> (usize, usize) {
    let (mut nodes, mut bytes) = (0, 0);
    let mut todo = vec![root];
    while let Some(n) = todo.pop() {
        nodes += 1;
        bytes += n.text.len();
        match &n.kind {
            yaml::Kind::Str(s) => bytes += s.len(),
            yaml::Kind::Seq(items) => todo.extend(items),
            yaml::Kind::Map(entries) => todo.extend(entries.iter().flat_map(|(k, v)| [k, v])),
            _ => {}
        }
    }
    (nodes, bytes)
}
