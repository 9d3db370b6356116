//! taxiid — a TAXII 1.0/1.1 and 2.1 server for hardened, air-gapped hosts, and a drop-in
//! replacement for EclecticIQ OpenTAXII: it opens an OpenTAXII PostgreSQL database as it is.
//!
//! What it is: one synchronous binary, a bounded pool of worker threads behind an
//! event-driven front, PostgreSQL through r2d2, TLS through rustls (ring).
//!
//! What it will not do: run without PostgreSQL, speak HTTP/2, load plug-ins, alter or drop
//! an OpenTAXII table (migrations are additive, so OpenTAXII can still run on the database).
//!
//! The request path:
//!
//! ```text
//!  listeners ──► http::front (epoll: accept, TLS handshake, idle keep-alive, request head)
//!                    │ complete head                       ▲ keep-alive
//!                    ▼                                     │
//!               http::worker (bounded pool: body, handler, response) ──► access log
//!                    │
//!                    ▼
//!               router ──► management | taxii2 | taxii1 handlers ──► db (r2d2 pool) ──► PostgreSQL
//! ```
#![deny(unsafe_code)]

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod logging;
pub mod management;
pub mod metrics;
pub mod router;
pub mod server;
pub mod systemd;
pub mod taxii1;
pub mod taxii2;
pub mod timefmt;
