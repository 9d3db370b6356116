//! TAXII 2.1 helpers for the acceptance tests (`tests/taxii2.rs`, `tests/taxii2_fixture.rs`).
//!
//! - SQL: accounts, API roots, collections and OpenTAXII-style object rows written straight
//!   into OpenTAXII's tables (the layout an OpenTAXII deployment has; taxiid must serve it).
//! - HTTP: a request builder ([`Req`]) that returns [`Resp`], tokens from
//!   `POST /management/auth`, query strings with percent-encoding, paging walks.
//! - JSON: minified raw member text (key order, escapes and number lexemes are compared, not
//!   whitespace), TAXII timestamps, STIX objects for tests.
//! - [`World`]: a typical layout on a fresh database (admin, reader, writer, editor, nobody;
//!   a default API root with public, private, write-only and drop-box collections; a public
//!   second root; an empty third root) with the server started on it.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};

use super::http::{Resp, read_response};
use super::server::Taxiid;

/// The TAXII 2.1 media type, exactly as every `/taxii2/` response must carry it.
pub const T21: &str = "application/taxii+json;version=2.1";
pub const STIX20: &str = "application/stix+json;version=2.0";
pub const STIX21: &str = "application/stix+json;version=2.1";

// ---------------------------------------------------------------------------------------
// SQL: OpenTAXII's tables
// ---------------------------------------------------------------------------------------

/// A werkzeug pbkdf2 hash of `password` (~0.1 s each), computed once per test binary.
pub fn password_hash(password: &str) -> String {
    static CACHE: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(h) = cache.lock().unwrap().get(password) {
        return h.clone();
    }
    let h = taxiid::auth::password::hash(password, taxiid::auth::password::Scheme::Pbkdf2);
    cache.lock().unwrap().entry(password.to_string()).or_insert(h).clone()
}

/// Inserts an account as OpenTAXII stores it; returns its id. `permissions` is the
/// `_permissions` JSON (TAXII 2: `{"<collection uuid>": ["read", "write"]}`).
pub fn create_account(
    db: &mut postgres::Client,
    username: &str,
    password: &str,
    is_admin: bool,
    permissions: &Value,
) -> i32 {
    db.query_one(
        "INSERT INTO accounts (username, password_hash, is_admin, _permissions) VALUES ($1, $2, $3, $4) RETURNING id",
        &[&username, &password_hash(password), &is_admin, &permissions.to_string()],
    )
    .unwrap_or_else(|e| panic!("creating account {username}: {e}"))
    .get(0)
}

pub fn create_api_root(
    db: &mut postgres::Client,
    id: &str,
    title: &str,
    description: Option<&str>,
    default: bool,
    is_public: bool,
) {
    db.execute(
        "INSERT INTO opentaxii_api_root (id, \"default\", title, description, is_public) \
         VALUES ($1::text::uuid, $2, $3, $4, $5)",
        &[&id, &default, &title, &description, &is_public],
    )
    .unwrap_or_else(|e| panic!("creating API root {id}: {e}"));
}

pub struct NewCollection<'a> {
    pub id: &'a str,
    pub api_root: &'a str,
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub alias: Option<&'a str>,
    pub is_public: bool,
    pub is_public_write: bool,
}

pub fn create_collection(db: &mut postgres::Client, c: &NewCollection) {
    db.execute(
        "INSERT INTO opentaxii_collection (id, api_root_id, title, description, alias, is_public, is_public_write) \
         VALUES ($1::text::uuid, $2::text::uuid, $3, $4, $5, $6, $7)",
        &[&c.id, &c.api_root, &c.title, &c.description, &c.alias, &c.is_public, &c.is_public_write],
    )
    .unwrap_or_else(|e| panic!("creating collection {}: {e}", c.id));
}

/// One object version stored the way OpenTAXII stores it: `type` from the id prefix,
/// `serialized_data` = the object without `id`, `type` and `spec_version`, keys in order,
/// naive-UTC `version` and `date_added` (both given as RFC 3339 with an offset, e.g. `…Z`).
pub fn insert_stix_row(
    db: &mut postgres::Client,
    collection: &str,
    object: &Value,
    spec_version: &str,
    version: &str,
    date_added: &str,
) {
    let id = object["id"].as_str().expect("object id");
    let ty = id.split("--").next().unwrap();
    let mut rest = serde_json::Map::new();
    for (k, v) in object.as_object().expect("a JSON object") {
        if !["id", "type", "spec_version"].contains(&k.as_str()) {
            rest.insert(k.clone(), v.clone());
        }
    }
    let data = Value::Object(rest).to_string();
    db.execute(
        "INSERT INTO opentaxii_stixobject (pk, id, collection_id, type, spec_version, date_added, version, serialized_data) \
         VALUES (gen_random_uuid(), $1, $2::text::uuid, $3, $4, \
                 ($5::text::timestamptz AT TIME ZONE 'UTC'), ($6::text::timestamptz AT TIME ZONE 'UTC'), $7::text::json)",
        &[&id, &collection, &ty, &spec_version, &date_added, &version, &data],
    )
    .unwrap_or_else(|e| panic!("inserting {id}: {e}"));
}

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

/// One HTTP/1.1 request on a new connection (`Connection: close`). `Accept: T21` unless
/// changed; `Content-Length` is added whenever there is a body (or for POST).
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub chunked: bool,
}

impl Req {
    pub fn new(method: &str, path: &str) -> Req {
        Req {
            method: method.to_string(),
            path: path.to_string(),
            headers: vec![("Accept".to_string(), T21.to_string())],
            body: None,
            chunked: false,
        }
    }

    pub fn get(path: &str) -> Req {
        Req::new("GET", path)
    }

    pub fn delete(path: &str) -> Req {
        Req::new("DELETE", path)
    }

    /// POST with `Content-Type: T21`.
    pub fn post(path: &str, body: impl Into<Vec<u8>>) -> Req {
        Req::new("POST", path).header("Content-Type", T21).body(body)
    }

    /// Sets `name` (replacing every earlier value).
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Req {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Adds one more `name` line, keeping earlier ones.
    pub fn add_header(mut self, name: &str, value: impl Into<String>) -> Req {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn without(mut self, name: &str) -> Req {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    pub fn accept(self, value: &str) -> Req {
        self.header("Accept", value)
    }

    pub fn content_type(self, value: &str) -> Req {
        self.header("Content-Type", value)
    }

    pub fn bearer(self, token: &str) -> Req {
        self.header("Authorization", format!("Bearer {token}"))
    }

    pub fn basic(self, user: &str, password: &str) -> Req {
        self.header("Authorization", format!("Basic {}", b64_std(format!("{user}:{password}").as_bytes())))
    }

    /// `Authorization: <value>` verbatim, or none.
    pub fn authorization(self, value: Option<&str>) -> Req {
        match value {
            Some(v) => self.header("Authorization", v),
            None => self.without("Authorization"),
        }
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Req {
        self.body = Some(body.into());
        self
    }

    /// Sends the body with `Transfer-Encoding: chunked` (1000-byte chunks).
    pub fn chunked(mut self) -> Req {
        self.chunked = true;
        self
    }

    pub fn raw(&self) -> Vec<u8> {
        let mut head =
            format!("{} {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n", self.method, self.path);
        for (n, v) in &self.headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        let body = self.body.clone().unwrap_or_default();
        let mut out;
        if self.chunked {
            head.push_str("Transfer-Encoding: chunked\r\n\r\n");
            out = head.into_bytes();
            for chunk in body.chunks(1000) {
                out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        } else {
            if self.body.is_some() || self.method == "POST" {
                head.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
            head.push_str("\r\n");
            out = head.into_bytes();
            out.extend_from_slice(&body);
        }
        out
    }

    pub fn send(&self, addr: SocketAddr) -> Resp {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        // The server may answer (e.g. 413) and close before it has read all of the body.
        let _ = s.write_all(&self.raw());
        if self.method == "HEAD" { read_head_only(&mut s) } else { read_response(&mut s) }
    }
}

/// The head of a response to HEAD (its Content-Length describes a body that is not sent).
fn read_head_only(r: &mut impl Read) -> Resp {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match r.read(&mut b) {
            Ok(1) => head.push(b[0]),
            other => panic!("reading a HEAD response: {other:?} after {:?}", String::from_utf8_lossy(&head)),
        }
    }
    let text = String::from_utf8(head).expect("UTF-8 head");
    let mut lines = text.split("\r\n");
    let status: u16 = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_string(), v.trim().to_string())
        })
        .collect();
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    assert!(rest.is_empty(), "a HEAD response carried a body: {:?}", String::from_utf8_lossy(&rest));
    Resp { status, headers, body: Vec::new() }
}

/// Every value of header `name`, in order.
pub fn header_all<'a>(r: &'a Resp, name: &str) -> Vec<&'a str> {
    r.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
}

/// `POST /management/auth` with a JSON body; the token.
pub fn login(addr: SocketAddr, username: &str, password: &str) -> String {
    let body = json!({"username": username, "password": password}).to_string();
    let r = Req::new("POST", "/management/auth")
        .without("Accept")
        .header("Content-Type", "application/json")
        .body(body)
        .send(addr);
    assert_eq!(r.status, 200, "login as {username}: {}", r.text());
    r.json()["token"].as_str().unwrap_or_else(|| panic!("no token: {}", r.text())).to_string()
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `?k=v&…` with both sides percent-encoded (as python-requests sends them); "" when empty.
pub fn query(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
    format!("?{}", parts.join("&"))
}

/// `path` plus the query of `pairs`.
pub fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    format!("{path}{}", query(pairs))
}

// ---------------------------------------------------------------------------------------
// Assertions on TAXII responses
// ---------------------------------------------------------------------------------------

/// Status and the exact TAXII 2.1 content type.
#[track_caller]
pub fn assert_t21(r: &Resp, status: u16) {
    assert_eq!(r.status, status, "unexpected status; body: {}", r.text());
    assert_eq!(r.header("content-type"), Some(T21), "content type of a {} response: {}", r.status, r.text());
}

/// A TAXII error: `status`, T21, body exactly {"title": reason, "http_status": "<status>",
/// "description": "<non-empty text>"} (/tmp/taxii2-decisions.md).
#[track_caller]
pub fn assert_error(r: &Resp, status: u16) {
    assert_t21(r, status);
    let body = r.json();
    let obj = body.as_object().unwrap_or_else(|| panic!("error body is not an object: {}", r.text()));
    let keys: Vec<&str> = {
        let mut k: Vec<&str> = obj.keys().map(String::as_str).collect();
        k.sort();
        k
    };
    assert_eq!(keys, ["description", "http_status", "title"], "error body keys: {}", r.text());
    assert_eq!(body["title"], taxiid::http::reason(status), "{}", r.text());
    assert_eq!(body["http_status"], status.to_string(), "{}", r.text());
    assert!(body["description"].as_str().is_some_and(|d| !d.is_empty()), "{}", r.text());
}

/// The body is exactly the empty object (`{}`), and carries no date headers.
#[track_caller]
pub fn assert_empty_result(r: &Resp) {
    assert_t21(r, 200);
    assert_eq!(r.text().trim(), "{}", "an empty result is exactly {{}}");
    assert_eq!(r.header("x-taxii-date-added-first"), None);
    assert_eq!(r.header("x-taxii-date-added-last"), None);
}

/// `objects[].id` of an envelope or manifest.
pub fn ids(r: &Resp) -> Vec<String> {
    list_field(&r.json(), "objects", "id")
}

/// `body[list][].field` as strings ([] when the list is absent).
pub fn list_field(body: &Value, list: &str, field: &str) -> Vec<String> {
    body.get(list)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|o| o[field].as_str().unwrap_or_else(|| panic!("{field} in {o}")).to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, exactly six fraction digits.
pub fn is_taxii_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.clone().all(|i| b[i].is_ascii_digit());
    b.len() == 27
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..26)
        && b[26] == b'Z'
        && time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}

/// An RFC 3339 timestamp as an instant (panics when unparsable).
pub fn parse_ts(s: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("not RFC 3339 ({e}): {s}"))
}

pub fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// `8-4-4-4-12` lowercase hex with version nibble 4.
pub fn is_uuid4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        && parts[2].starts_with('4')
}

// ---------------------------------------------------------------------------------------
// Raw JSON text
// ---------------------------------------------------------------------------------------

/// JSON text without the whitespace outside strings: key order, escapes and number lexemes
/// stay as they are, so two minified texts are equal iff the members, their order and their
/// value bytes are.
pub fn minify(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in s.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// The minified raw text of each element of the top-level list `key` of a JSON object body.
pub fn raw_list(body: &[u8], key: &str) -> Vec<String> {
    let top: BTreeMap<String, Box<serde_json::value::RawValue>> = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not a JSON object ({e}): {}", String::from_utf8_lossy(body)));
    let Some(list) = top.get(key) else { return Vec::new() };
    let items: Vec<Box<serde_json::value::RawValue>> =
        serde_json::from_str(list.get()).unwrap_or_else(|e| panic!("{key} is not a list ({e})"));
    items.iter().map(|i| minify(i.get())).collect()
}

// ---------------------------------------------------------------------------------------
// Base64
// ---------------------------------------------------------------------------------------

const B64_STD: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn b64(data: &[u8], alphabet: &[u8], pad: bool) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = ((chunk[0] as u32) << 16)
            | ((*chunk.get(1).unwrap_or(&0) as u32) << 8)
            | (*chunk.get(2).unwrap_or(&0) as u32);
        for i in 0..=chunk.len() {
            out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
        if pad {
            for _ in chunk.len()..3 {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 with padding (HTTP Basic, OpenTAXII's `next`).
pub fn b64_std(data: &[u8]) -> String {
    b64(data, B64_STD, true)
}

/// base64url without padding (JWT).
pub fn b64url(data: &[u8]) -> String {
    b64(data, B64_URL, false)
}

/// Decodes base64url without padding (trailing `=` tolerated); `None` on a bad character.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = Vec::new();
    for c in s.trim_end_matches('=').bytes() {
        let v = B64_URL.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------
// STIX objects
// ---------------------------------------------------------------------------------------

/// A deterministic STIX id: `<ty>--00000000-0000-4000-8000-<n as 12 hex digits>`.
pub fn sid(ty: &str, n: u64) -> String {
    format!("{ty}--00000000-0000-4000-8000-{n:012x}")
}

/// A STIX 2.1 SDO (`type`, `spec_version`, `id`, `created`, `modified`, `name`).
pub fn sdo(ty: &str, n: u64, modified: &str) -> Value {
    json!({
        "type": ty,
        "spec_version": "2.1",
        "id": sid(ty, n),
        "created": "2020-01-01T00:00:00.000Z",
        "modified": modified,
        "name": format!("{ty} {n} {modified}"),
    })
}

/// A STIX 2.0-style SDO: no `spec_version`, with `created` (stored as 2.0).
pub fn sdo20(ty: &str, n: u64, modified: &str) -> Value {
    json!({
        "type": ty,
        "id": sid(ty, n),
        "created": "2016-01-01T00:00:00.000Z",
        "modified": modified,
        "name": format!("{ty} {n} {modified} (2.0)"),
    })
}

/// `{"objects": [...]}`.
pub fn envelope(objects: &[Value]) -> String {
    json!({ "objects": objects }).to_string()
}

// ---------------------------------------------------------------------------------------
// World
// ---------------------------------------------------------------------------------------

pub const SECRET: &str = "world-secret-not-for-production";
pub const TITLE: &str = "taxiid acceptance tests";
pub const DESCRIPTION: &str = "The TAXII 2.1 acceptance-test world";
pub const CONTACT: &str = "tests@example.test";

/// Default root, "Main API root", not public.
pub const ROOT: &str = "d1000000-0000-4000-8000-000000000001";
/// "Another API root", public, not default (sorts before ROOT by title).
pub const ROOT2: &str = "d2000000-0000-4000-8000-000000000002";
/// "Zulu empty root", not public, no collections.
pub const ROOT3: &str = "d3000000-0000-4000-8000-000000000003";

/// ROOT: "Alpha public", alias `public`, public read.
pub const PUBLIC: &str = "c0000000-0000-4000-8000-00000000000d";
/// ROOT: "Bravo private", alias `private`; reader reads, editor reads and writes.
pub const PRIVATE: &str = "c0000000-0000-4000-8000-00000000000a";
/// ROOT: "Charlie write-only", no alias, no description; writer writes.
pub const WRITEONLY: &str = "c0000000-0000-4000-8000-00000000000c";
/// ROOT: "Delta drop box", alias `dropbox`, public read and public write.
pub const DROPBOX: &str = "c0000000-0000-4000-8000-00000000000b";
/// ROOT2: "Open collection", alias `open`, public read and public write.
pub const OPEN: &str = "c0000000-0000-4000-8000-00000000000e";

pub const USERS: &[&str] = &["admin", "reader", "writer", "editor", "nobody"];

pub fn password_of(user: &str) -> String {
    format!("{user}-pw")
}

pub fn root_path(root: &str) -> String {
    format!("/taxii2/{root}/")
}

/// `/taxii2/<ROOT>/collections/<c>/`.
pub fn coll(c: &str) -> String {
    coll_in(ROOT, c)
}

pub fn coll_in(root: &str, c: &str) -> String {
    format!("/taxii2/{root}/collections/{c}/")
}

/// `/taxii2/<ROOT>/collections/<c>/objects/`.
pub fn objects(c: &str) -> String {
    format!("{}objects/", coll(c))
}

pub fn manifest(c: &str) -> String {
    format!("{}manifest/", coll(c))
}

/// `/taxii2/<ROOT>/collections/<c>/objects/<id>/`.
pub fn object(c: &str, id: &str) -> String {
    format!("{}objects/{id}/", coll(c))
}

pub fn versions(c: &str, id: &str) -> String {
    format!("{}objects/{id}/versions/", coll(c))
}

pub fn status_path(root: &str, id: &str) -> String {
    format!("/taxii2/{root}/status/{id}/")
}

/// The configuration every World server gets (before the test's own lines).
pub fn world_config() -> String {
    format!(
        "auth.secret = {SECRET}\ntaxii2.title = {TITLE}\ntaxii2.description = {DESCRIPTION}\n\
         taxii2.contact = {CONTACT}\ntaxii2.max_page_size = 5\n"
    )
}

/// Creates the World layout in `conninfo` (a fresh, migrated database).
pub fn create_world_layout(conninfo: &str) {
    let mut db = super::connect(conninfo);
    create_api_root(&mut db, ROOT, "Main API root", Some("The default root"), true, false);
    create_api_root(&mut db, ROOT2, "Another API root", None, false, true);
    create_api_root(&mut db, ROOT3, "Zulu empty root", Some("Nothing in here"), false, false);
    let c = |id, api_root, title, description, alias, is_public, is_public_write| NewCollection {
        id,
        api_root,
        title,
        description,
        alias,
        is_public,
        is_public_write,
    };
    for nc in [
        c(PUBLIC, ROOT, "Alpha public", Some("Public read"), Some("public"), true, false),
        c(PRIVATE, ROOT, "Bravo private", Some("Private"), Some("private"), false, false),
        c(WRITEONLY, ROOT, "Charlie write-only", None, None, false, false),
        c(DROPBOX, ROOT, "Delta drop box", Some("Anyone reads and writes"), Some("dropbox"), true, true),
        c(OPEN, ROOT2, "Open collection", None, Some("open"), true, true),
    ] {
        create_collection(&mut db, &nc);
    }
    // TAXII 1 entries (collection name → string) must be ignored by TAXII 2.
    create_account(&mut db, "admin", &password_of("admin"), true, &json!({}));
    create_account(
        &mut db,
        "reader",
        &password_of("reader"),
        false,
        &json!({PRIVATE: ["read"], "collection-a": "modify"}),
    );
    create_account(&mut db, "writer", &password_of("writer"), false, &json!({WRITEONLY: ["write"]}));
    create_account(&mut db, "editor", &password_of("editor"), false, &json!({PRIVATE: ["read", "write"]}));
    create_account(&mut db, "nobody", &password_of("nobody"), false, &json!({"collection-a": "modify"}));
}

pub struct World {
    pub srv: Taxiid,
    pub conninfo: String,
    tokens: RefCell<HashMap<String, String>>,
}

impl World {
    /// The layout with [`world_config`] (max page size 5).
    pub fn new() -> World {
        World::with("")
    }

    /// The layout with [`world_config`] plus `extra` lines (later lines win, so `extra` can
    /// override e.g. `taxii2.max_page_size`).
    pub fn with(extra: &str) -> World {
        let conninfo = super::fresh_database();
        create_world_layout(&conninfo);
        let srv = Taxiid::start(&conninfo, &format!("{}{extra}", world_config()));
        World { srv, conninfo, tokens: RefCell::new(HashMap::new()) }
    }

    pub fn addr(&self) -> SocketAddr {
        self.srv.addr
    }

    pub fn db(&self) -> postgres::Client {
        super::connect(&self.conninfo)
    }

    pub fn account_id(&self, user: &str) -> i32 {
        self.db().query_one("SELECT id FROM accounts WHERE username = $1", &[&user]).unwrap().get(0)
    }

    /// A token for `user` (logged in once per World).
    pub fn token(&self, user: &str) -> String {
        if let Some(t) = self.tokens.borrow().get(user) {
            return t.clone();
        }
        let t = login(self.addr(), user, &password_of(user));
        self.tokens.borrow_mut().insert(user.to_string(), t.clone());
        t
    }

    /// Requests as `user` with a bearer token.
    pub fn as_user(&self, user: &str) -> Who {
        Who { addr: self.addr(), authorization: Some(format!("Bearer {}", self.token(user))) }
    }

    /// Requests without credentials.
    pub fn anon(&self) -> Who {
        Who { addr: self.addr(), authorization: None }
    }

    /// POSTs `objs` as `user` into `c` (of ROOT); asserts 202 and returns the status.
    pub fn add(&self, user: &str, c: &str, objs: &[Value]) -> Value {
        let r = self.as_user(user).post(&objects(c), &envelope(objs));
        assert_t21(&r, 202);
        r.json()
    }
}

/// A client identity: where to send and which `Authorization` to send.
pub struct Who {
    pub addr: SocketAddr,
    pub authorization: Option<String>,
}

impl Who {
    /// A request with this identity's credentials and `Accept: T21`.
    pub fn req(&self, method: &str, path: &str) -> Req {
        Req::new(method, path).authorization(self.authorization.as_deref())
    }

    pub fn get(&self, path: &str) -> Resp {
        self.req("GET", path).send(self.addr)
    }

    pub fn post(&self, path: &str, body: &str) -> Resp {
        self.req("POST", path).header("Content-Type", T21).body(body).send(self.addr)
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.req("DELETE", path).send(self.addr)
    }

    /// GETs `path` with `params`, then follows `next` (keeping `params`, `limit` as given)
    /// until `more` is false. Asserts that every page with `more: true` has a non-empty
    /// `next` and that the last page has none. Returns every page body.
    #[track_caller]
    pub fn walk(&self, path: &str, params: &[(&str, &str)]) -> Vec<Value> {
        let mut pages = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..100 {
            let mut p: Vec<(&str, &str)> = params.to_vec();
            if let Some(n) = &next {
                p.push(("next", n));
            }
            let r = self.get(&with_query(path, &p));
            assert_t21(&r, 200);
            let body = r.json();
            let more = body.get("more").and_then(Value::as_bool).unwrap_or(false);
            let this_next = body.get("next").and_then(Value::as_str).map(str::to_string);
            pages.push(body);
            if !more {
                assert_eq!(this_next, None, "a last page (more: false) has no next");
                return pages;
            }
            let n = this_next.unwrap_or_else(|| panic!("more: true without next at {path}"));
            assert!(!n.is_empty(), "empty next");
            next = Some(n);
        }
        panic!("more than 100 pages at {path}");
    }
}
