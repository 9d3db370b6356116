//! Our HTTP/1.1 server: httparse for request heads, rustls 0.23 (ring) for TLS, an epoll front
//! that owns every idle socket, and a bounded pool of workers that run the blocking handlers.
//!
//! Boundaries: this module knows framing, limits, timeouts, TLS and the access log. It knows
//! nothing of TAXII; protocol-shaped error bodies come from the [`App`] it serves.
//!
//! ```text
//! front.rs  accept · TLS handshake · read head · keep-alive idle · timeouts (one thread)
//!    │ complete head                              ▲ connection back for keep-alive
//!    ▼                                            │
//! worker.rs body (Content-Length/chunked, 100-continue, rate floor) · App · response · log
//! ```

pub(crate) mod body;
pub(crate) mod conn;
mod front;
pub(crate) mod head;
pub mod tls;
mod worker;

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

pub use front::{Listener, Server, ServerHandle};
pub use head::Head;

/// Limits and timeouts of the HTTP layer (from `http.*` in the configuration).
#[derive(Clone, Debug)]
pub struct Limits {
    pub workers: usize,
    pub max_connections: usize,
    pub max_body_bytes: u64,
    pub header_timeout: Duration,
    pub keepalive_timeout: Duration,
    /// Bytes per second a request body must average once `body_rate_grace` has passed.
    pub min_body_rate: u64,
    pub body_rate_grace: Duration,
    pub io_timeout: Duration,
    pub shutdown_grace: Duration,
}

/// Time a slow body is allowed before the `min_body_rate` floor applies.
pub const RATE_GRACE: Duration = Duration::from_secs(10);
/// A request head (request line and headers) larger than this is answered with 431.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// A request target longer than this is answered with 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// More header fields than this is answered with 431.
pub const MAX_HEADERS: usize = 100;

impl Limits {
    pub fn from_config(c: &crate::config::HttpConfig) -> Limits {
        Limits {
            workers: c.workers,
            max_connections: c.max_connections,
            max_body_bytes: c.max_body_bytes,
            header_timeout: c.header_timeout,
            keepalive_timeout: c.keepalive_timeout,
            min_body_rate: c.min_body_rate,
            body_rate_grace: RATE_GRACE,
            io_timeout: c.io_timeout,
            shutdown_grace: c.shutdown_grace,
        }
    }
}

/// A request whose head and body have been read completely.
pub struct Request {
    pub head: Head,
    pub body: Vec<u8>,
    pub remote: SocketAddr,
}

/// A response body: bytes with a known length, or a stream sent with chunked encoding so a
/// large page never sits whole in memory.
pub enum Body {
    Bytes(Vec<u8>),
    Stream(StreamFn),
}

/// Writes a streamed body; each write becomes a chunk on the wire.
pub type StreamFn = Box<dyn FnOnce(&mut dyn Write) -> io::Result<()> + Send>;

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// Account name for the access log (never a credential).
    pub account: Option<String>,
    /// Close the connection after this response.
    pub close: bool,
    /// The route that answered, a fixed name for metrics (never the raw path).
    pub label: Option<&'static str>,
}

impl Response {
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
            account: None,
            close: false,
            label: None,
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = Body::Bytes(body.into());
        self
    }

    pub fn stream(mut self, f: impl FnOnce(&mut dyn Write) -> io::Result<()> + Send + 'static) -> Response {
        self.body = Body::Stream(Box::new(f));
        self
    }

    /// Authenticated responses must not be cached by proxies (`Cache-Control: no-store`).
    pub fn for_account(mut self, name: &str) -> Response {
        self.account = Some(name.to_string());
        self
    }

    pub fn label(mut self, label: &'static str) -> Response {
        self.label = Some(label);
        self
    }
}

/// One answered request, as the access log sees it, for [`App::observe`].
pub struct Observation {
    /// [`Response::label`]; `None` when the server answered before the App routed it.
    pub label: Option<&'static str>,
    pub status: u16,
    /// Request body bytes read.
    pub bytes_in: u64,
    /// Response bytes written (head and body); 0 when the write failed.
    pub bytes_out: u64,
    pub elapsed: Duration,
}

/// What the server serves. `admit` sees the head before the body is read, so a request that
/// will be refused (unknown path, wrong method, missing credentials) is answered without
/// reading its body and without a `100 Continue`.
pub trait App: Send + Sync + 'static {
    /// Whatever `admit` learned (the matched route, say) handed on to `handle`.
    type Ticket: Send;

    fn admit(&self, head: &Head) -> Result<Self::Ticket, Response>;

    fn handle(&self, ticket: Self::Ticket, request: Request) -> Response;

    /// A protocol-shaped error for failures outside a handler: framing errors, timeouts,
    /// oversize requests, panics. `path` is the request path when one was read; `tls` says
    /// whether it came over TLS (TAXII 1 names the binding in a header).
    fn error(&self, path: &str, tls: bool, status: u16, message: &str) -> Response;

    /// Called once per answered request, where the access log line is written (metrics).
    fn observe(&self, _request: &Observation) {}

    /// The front's gauges, refreshed on every turn of its event loop: open client
    /// connections, and requests handed to workers (queued or running).
    fn connections(&self, _open: usize, _in_flight: usize) {}
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}
