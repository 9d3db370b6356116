//! Request heads: deciding from buffered bytes whether a head is complete, too large or
//! malformed, and turning a complete one into an owned [`Head`].

use super::{MAX_HEAD_BYTES, MAX_HEADERS, MAX_URI_BYTES};

#[derive(Clone, Debug)]
pub struct Head {
    pub method: String,
    /// The request target exactly as sent (path and query, not decoded).
    pub target: String,
    /// HTTP/1.`minor`.
    pub minor: u8,
    pub headers: Vec<(String, Vec<u8>)>,
    /// The request arrived over TLS (set by the worker before admission).
    pub tls: bool,
    /// The client's address (set by the worker before admission).
    pub remote: Option<std::net::SocketAddr>,
}

impl Head {
    /// The raw path, without the query.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    /// Whether the client's scheme is https: TLS here, or `X-Forwarded-Proto: https` from a
    /// TLS-terminating proxy. Only names a binding in answers (TAXII 1's `X-TAXII-Protocol`);
    /// nothing that matters for security follows from it, so a client claiming it gains nothing.
    pub fn https(&self) -> bool {
        self.tls
            || self.header("x-forwarded-proto").is_some_and(|v| {
                v.split(',').next().is_some_and(|first| first.trim().eq_ignore_ascii_case("https"))
            })
    }

    /// The first value of a header (case-insensitive name), when it is valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
            .map(str::trim)
    }

    /// Every value of a header, in order (for duplicate detection).
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
    }

    /// Whether a comma-separated header (`Connection`) lists `token`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.header_all(name)
            .any(|v| String::from_utf8_lossy(v).split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }
}

pub enum Parsed {
    /// More bytes are needed.
    Partial,
    /// A head of `len` bytes.
    Complete(Head, usize),
    /// The request must be refused with this status (400, 414, 431, 505).
    Refuse(u16, &'static str),
}

pub fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            let target = req.path.unwrap_or("");
            if target.len() > MAX_URI_BYTES {
                return Parsed::Refuse(414, "request target too long");
            }
            if len > MAX_HEAD_BYTES {
                return Parsed::Refuse(431, "request head too large");
            }
            let head = Head {
                method: req.method.unwrap_or("").to_string(),
                target: target.to_string(),
                minor: req.version.unwrap_or(1),
                headers: req.headers.iter().map(|h| (h.name.to_string(), h.value.to_vec())).collect(),
                tls: false,
                remote: None,
            };
            Parsed::Complete(head, len)
        }
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
            // Still inside the request line: the target is what is too long.
            if !buf.contains(&b'\n') {
                Parsed::Refuse(414, "request target too long")
            } else {
                Parsed::Refuse(431, "request head too large")
            }
        }
        Ok(httparse::Status::Partial) => Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => Parsed::Refuse(431, "too many header fields"),
        Err(httparse::Error::Version) if names_other_http_version(buf) => {
            Parsed::Refuse(505, "only HTTP/1.0 and HTTP/1.1 are served")
        }
        Err(_) => Parsed::Refuse(400, "malformed request head"),
    }
}

/// `GET / HTTP/2.0` is a version we do not serve (505); `NOT A REQUEST` is just malformed.
fn names_other_http_version(buf: &[u8]) -> bool {
    let line = buf.split(|&b| b == b'\n').next().unwrap_or(buf);
    let line = String::from_utf8_lossy(line);
    let version = line.split_whitespace().nth(2).unwrap_or("");
    version.strip_prefix("HTTP/").is_some_and(|v| {
        let mut parts = v.split('.');
        parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// The path of a request that is being refused before its head could be parsed (too long, too
/// slow, malformed): enough for the application to answer in the right protocol's format.
/// Only a short prefix is kept, and only when it looks like an absolute path.
pub fn path_hint(buf: &[u8]) -> String {
    let line = &buf[..buf.len().min(512)];
    let line = line.split(|&b| b == b'\r' || b == b'\n').next().unwrap_or(line);
    let text = String::from_utf8_lossy(line);
    let target = text.split(' ').nth(1).unwrap_or("");
    let path = target.split('?').next().unwrap_or("");
    if path.starts_with('/') { path.chars().take(256).collect() } else { String::new() }
}
