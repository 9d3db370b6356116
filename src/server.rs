//! The application the HTTP layer serves: routes a request to its handler and shapes every
//! error in the format of the protocol the path belongs to. It holds the configuration and
//! the database pool; protocol handlers receive what they need from here.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::Auth;
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::http::{self, Head, Request, Response};
use crate::management;
use crate::metrics::AuthFailure;
use crate::router::{self, Match, Resolved, Route};

pub struct Taxiid {
    pub config: Arc<Config>,
    pub db: Db,
    pub auth: Auth,
    /// TAXII 1.x state kept between requests.
    pub taxii1: crate::taxii1::State,
}

/// What admission hands to the handler.
pub enum Ticket {
    Plain(Match),
    Taxii2(Box<crate::taxii2::Admitted>),
    Taxii1(Box<crate::taxii1::Admitted>),
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
        let a = &config.auth;
        let auth = Auth::new(a.secret.as_deref().unwrap_or_default(), a.support_basic_auth, a.token_ttl)
            .with_throttle(a.throttle);
        crate::metrics::started();
        Taxiid { config, db, auth, taxii1: crate::taxii1::State::default() }
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

    /// The answer to a password check refused by failed-login throttling, in the protocol of
    /// the path, with `Retry-After`: 429 and a TAXII 2.1 error object or plain JSON error;
    /// for a TAXII 1.x service, a Status_Message with `taxii1.unauthorized_status` in HTTP 200.
    pub fn throttled(&self, head: &Head, endpoint: AuthFailure, wait: Duration) -> Response {
        crate::metrics::auth_throttled(endpoint);
        let secs = crate::auth::throttle::whole_seconds(wait);
        let message = format!("too many failed logins: retry in {secs} s");
        let path = head.path();
        let r = match endpoint {
            AuthFailure::Taxii2 => self.taxii2_error(path, crate::taxii2::Error::Status(429, message)),
            AuthFailure::Taxii1 => taxii1_status(self, head, &message),
            AuthFailure::Login | AuthFailure::Metrics => error_body(path, 429, &message),
        };
        r.header("Retry-After", secs.to_string())
    }

    fn taxii1_admit(&self, head: &Head) -> Result<Ticket, Response> {
        match crate::taxii1::admit(self, head) {
            Some(result) => result.map(|a| Ticket::Taxii1(Box::new(a))).map_err(|r| r.label(TAXII1)),
            None => Err(error_body(head.path(), 404, "no such resource")),
        }
    }
}

/// A TAXII 1.x Status_Message of `taxii1.unauthorized_status` answering "0", in the version
/// the request declares (1.1 when it declares none).
fn taxii1_status(app: &Taxiid, head: &Head, message: &str) -> Response {
    use crate::taxii1::messages::{self, PROTOCOL_HTTP, PROTOCOL_HTTPS, StatusMessage, StatusType, Version};
    let version =
        head.header("x-taxii-content-type").and_then(Version::from_message_binding).unwrap_or(Version::V11);
    let status = StatusType::from_wire(&app.config.taxii1.unauthorized_status);
    let msg = StatusMessage::new("0", status).with_message(message).into_message();
    Response::new(200)
        .header("Content-Type", "application/xml")
        .header("X-TAXII-Content-Type", version.message_binding())
        .header("X-TAXII-Services", version.services())
        .header("X-TAXII-Protocol", if head.https() { PROTOCOL_HTTPS } else { PROTOCOL_HTTP })
        .body(messages::write(version, &msg))
}

impl http::App for Taxiid {
    type Ticket = Ticket;

    fn admit(&self, head: &Head) -> Result<Ticket, Response> {
        let _client = crate::auth::client_scope(head.remote.map(|a| a.ip()));
        let path = head.path();
        let authorization = head.header("authorization");
        match router::resolve(&head.method, path) {
            Resolved::Found(m) if path.starts_with("/taxii2") => {
                let label = m.route.label();
                if let Some(wait) = self.auth.basic_refusal(authorization) {
                    return Err(self.throttled(head, AuthFailure::Taxii2, wait).label(label));
                }
                self.taxii2_admit(head, m.route, m.params)
                    .map(|a| Ticket::Taxii2(Box::new(a)))
                    .map_err(|r| r.label(label))
            }
            Resolved::Found(m) => Ok(Ticket::Plain(m)),
            Resolved::MethodNotAllowed(allow) => {
                Err(error_body(path, 405, "method not allowed for this resource")
                    .header("Allow", allow.join(", ")))
            }
            // TAXII 1.x services live at addresses configured in the database. They check
            // credentials of POST and OPTIONS only; until the first request has read the
            // services, a throttled check is refused there as invalid credentials.
            Resolved::Unmatched
                if matches!(head.method.as_str(), "POST" | "OPTIONS") && self.taxii1.was_address(path) =>
            {
                match self.auth.basic_refusal(authorization) {
                    Some(wait) => Err(self.throttled(head, AuthFailure::Taxii1, wait).label(TAXII1)),
                    None => self.taxii1_admit(head),
                }
            }
            Resolved::Unmatched => self.taxii1_admit(head),
            Resolved::BadPath(m) => Err(error_body(path, 400, m)),
        }
    }

    fn handle(&self, ticket: Ticket, req: Request) -> Response {
        let _client = crate::auth::client_scope(Some(req.remote.ip()));
        match ticket {
            Ticket::Taxii2(adm) => {
                let label = adm.route.label();
                self.taxii2_handle(*adm, req).label(label)
            }
            Ticket::Taxii1(adm) => crate::taxii1::handle(self, *adm, req).label(TAXII1),
            Ticket::Plain(m) => match m.route {
                Route::Health => management::health(),
                Route::Ready => management::ready(&self.db),
                Route::Login => management::login(self, &req),
                Route::Metrics => management::metrics(self, &req),
                _ => error_body(req.head.path(), 404, "no such resource"),
            }
            .label(m.route.label()),
        }
    }

    fn error(&self, path: &str, tls: bool, status: u16, message: &str) -> Response {
        if let Some(r) = crate::taxii1::http_failure(self, path, tls, status, message) {
            return r;
        }
        let r = error_body(path, status, message);
        if status == 503 { r.header("Retry-After", "1") } else { r }
    }

    fn observe(&self, request: &http::Observation) {
        crate::metrics::observe(request);
    }

    fn connections(&self, open: usize, in_flight: usize) {
        crate::metrics::connections(open, in_flight);
    }
}

/// Metrics label of TAXII 1.x service requests (their addresses are rows, not routes).
const TAXII1: &str = "taxii1";

/// Secrets that must never sign tokens: empty, or a placeholder from an example file.
pub fn check_secret(secret: Option<&str>) -> Result<(), String> {
    const PLACEHOLDERS: &[&str] = &["SECRET-STRING-NEEDS-TO-BE-CHANGED", "secret", "changeme", "change-me"];
    match secret.map(str::trim) {
        None | Some("") => {
            Err("auth.secret (or auth.secret_file) is not set: tokens cannot be signed".into())
        }
        Some(s) if PLACEHOLDERS.iter().any(|p| p.eq_ignore_ascii_case(s)) => {
            Err("auth.secret is a well-known placeholder: set a random secret".into())
        }
        Some(_) => Ok(()),
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
