//! The application the HTTP layer serves: routes a request to its handler and shapes every
//! error in the format of the protocol the path belongs to. It holds the configuration and
//! the database pool; protocol handlers receive what they need from here.

use std::sync::Arc;

use crate::config::Config;
use crate::db::{Db, DbError};
use crate::http::{self, Head, Request, Response};
use crate::management;
use crate::router::{self, Match, Resolved, Route};

pub struct Taxiid {
    pub config: Arc<Config>,
    pub db: Db,
}

/// A failure inside a handler, mapped once to an HTTP status and protocol error body.
#[derive(Debug)]
pub enum Error {
    /// The database cannot be reached or the pool is exhausted: 503 with `Retry-After`.
    Unavailable(String),
    /// Anything else the client cannot fix: 500, details only when configured.
    Internal(String),
}

impl From<DbError> for Error {
    fn from(e: DbError) -> Error {
        match e {
            DbError::Unavailable(m) | DbError::Timeout(m) => Error::Unavailable(m),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl Taxiid {
    pub fn new(config: Arc<Config>, db: Db) -> Taxiid {
        Taxiid { config, db }
    }

    /// The response for a handler error.
    pub fn failure(&self, path: &str, err: Error) -> Response {
        match err {
            Error::Unavailable(m) => {
                log::warn!("{path}: database unavailable: {m}");
                error_body(path, 503, "the database is unavailable, try again shortly")
                    .header("Retry-After", "1")
            }
            Error::Internal(m) => {
                log::error!("{path}: {m}");
                let desc =
                    if self.config.http.return_server_error_details { m } else { "internal error".into() };
                error_body(path, 500, &desc)
            }
        }
    }
}

impl http::App for Taxiid {
    type Ticket = Match;

    fn admit(&self, head: &Head) -> Result<Match, Response> {
        let path = head.path();
        match router::resolve(&head.method, path) {
            Resolved::Found(m) => Ok(m),
            Resolved::MethodNotAllowed(allow) => {
                Err(error_body(path, 405, "method not allowed for this resource")
                    .header("Allow", allow.join(", ")))
            }
            Resolved::Unmatched => Err(error_body(path, 404, "no such resource")),
            Resolved::BadPath(m) => Err(error_body(path, 400, m)),
        }
    }

    fn handle(&self, m: Match, _req: Request) -> Response {
        match m.route {
            Route::Health => management::health(),
            Route::Ready => management::ready(&self.db),
        }
    }

    fn error(&self, path: &str, status: u16, message: &str) -> Response {
        let r = error_body(path, status, message);
        if status == 503 { r.header("Retry-After", "1") } else { r }
    }
}

/// TAXII 2.1 error object for `/taxii2/` paths (its media type on every response), the same
/// shape as plain JSON elsewhere. TAXII 1.x services answer with Status_Message instead.
pub fn error_body(path: &str, status: u16, description: &str) -> Response {
    let body = serde_json::json!({
        "title": http::reason(status),
        "http_status": status.to_string(),
        "description": description,
    });
    let ctype =
        if path.starts_with("/taxii2") { "application/taxii+json;version=2.1" } else { "application/json" };
    Response::new(status).header("Content-Type", ctype).body(body.to_string().into_bytes())
}
