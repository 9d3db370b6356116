//! TAXII 1.0 and 1.1: the XML message codec (`messages`) and the services that answer at the
//! addresses of OpenTAXII's `services` rows — admission (service lookup, authentication,
//! method, availability, Accept and binding headers, in OpenTAXII's order, before a body is
//! read), parsing, the post-parse header checks, dispatch to the service handlers, and the
//! one mapping of failures to Status_Messages.
//!
//! Every TAXII outcome is a Status_Message or response message in HTTP 200 with the TAXII
//! headers, in the request's version; only unknown paths (404), other methods (405), OPTIONS
//! and an Accept without XML (406) are plain HTTP. Handlers get a [`Ctx`] with the database
//! connection, the services, the caller and the request's version; SQL stays in
//! `db::taxii1` and `db::taxii1_content`.

pub mod messages;

mod bindings;
mod collections;
mod inbox;
mod poll;
mod service;
mod subscriptions;
pub(crate) mod xmlscan;

pub use service::State;

use std::panic::{AssertUnwindSafe, catch_unwind};

use messages::{
    Message, PROTOCOL_HTTP, PROTOCOL_HTTPS, ServiceType, StatusDetails, StatusMessage, StatusType, Version,
};
use service::Service;

use crate::auth::{self, Account, AuthError, Claim, Taxii1Rights};
use crate::db::accounts::AccountRow;
use crate::db::{Conn, DbError};
use crate::http::{Head, Request, Response};
use crate::server::Taxiid;

const ALLOW: &str = "POST, OPTIONS";
/// OpenTAXII's non-standard OPTIONS header.
const CONTENT_TYPES: &str = "urn:taxii.mitre.org:message:xml:1.0,urn:taxii.mitre.org:message:xml:1.1";

/// What admission established for a TAXII 1.x request.
pub struct Admitted {
    conn: Conn,
    services: Vec<Service>,
    service: usize,
    caller: Caller,
    /// The version errors are answered in until the body says otherwise.
    hint: Version,
}

/// Who is asking, and whether the service runs requests with full rights.
pub(crate) struct Caller {
    pub account: Option<Account>,
    /// The service does not require authentication: OpenTAXII serves such requests as a
    /// built-in admin, whoever the caller is.
    pub open: bool,
}

impl Caller {
    pub fn rights(&self, collection: &str) -> Taxii1Rights {
        auth::taxii1_rights(self.account.as_ref(), collection, self.open)
    }

    pub fn account_id(&self) -> Option<i32> {
        self.account.as_ref().map(|a| a.id)
    }

    /// An admin account (not merely an open service): sees every subscription.
    pub fn is_admin(&self) -> bool {
        self.account.as_ref().is_some_and(|a| a.is_admin)
    }
}

/// A failure, mapped once to a Status_Message by [`error_response`].
#[derive(Debug)]
pub(crate) enum Error {
    /// A TAXII status other than SUCCESS, with its details and message.
    Refused(Box<(StatusType, StatusDetails, Option<String>)>),
    Db(DbError),
    /// A bug or a row no OpenTAXII would write: logged, answered generically.
    Internal(String),
}

impl From<DbError> for Error {
    fn from(e: DbError) -> Error {
        Error::Db(e)
    }
}

pub(crate) fn refuse(status: StatusType, message: impl Into<String>) -> Error {
    Error::Refused(Box::new((status, StatusDetails::default(), Some(message.into()))))
}

pub(crate) fn refuse_with(status: StatusType, details: StatusDetails, message: impl Into<String>) -> Error {
    Error::Refused(Box::new((status, details, Some(message.into()))))
}

/// NOT_FOUND naming the item in the ITEM detail.
pub(crate) fn not_found(item: &str, message: impl Into<String>) -> Error {
    let details = StatusDetails { item: Some(item.to_string()), ..StatusDetails::default() };
    Error::Refused(Box::new((StatusType::NotFound, details, Some(message.into()))))
}

/// What the service handlers share.
pub(crate) struct Ctx<'a> {
    pub app: &'a Taxiid,
    pub db: &'a mut Conn,
    pub services: &'a [Service],
    pub service: &'a Service,
    pub caller: &'a Caller,
    pub version: Version,
    /// `host[:port][/prefix]` that relative service addresses are advertised under.
    pub host: String,
}

/// `Some` when `head`'s path is the address of a TAXII 1.x service (looked up per request, so
/// a changed row takes effect at once; the table is small and OpenTAXII reads it per request
/// too).
pub fn admit(app: &Taxiid, head: &Head) -> Option<Result<Admitted, Response>> {
    let path = head.path();
    let hint = version_hint(head);
    // What the credentials claim is known without the database; the claimed account is read
    // together with the services.
    let claim = app.auth.claim(head.header("authorization"));
    let (account_id, username) = match &claim {
        Ok(Claim::Account(id)) => (Some(*id), None),
        Ok(Claim::Basic { username, .. }) => (None, Some(username.as_str())),
        _ => (None, None),
    };
    let loaded = app.db.get().and_then(|mut c| {
        let (rows, account) = crate::db::taxii1::services_and_account(&mut c, account_id, username)?;
        Ok((c, rows, account))
    });
    let (conn, rows, account) = match loaded {
        Ok(x) => x,
        Err(e) => {
            // A TAXII client gets a Status_Message even when it cannot be told whether the
            // path is a service; anything else the usual 503.
            let taxii =
                head.header("x-taxii-content-type").is_some() || head.header("x-taxii-services").is_some();
            if taxii || app.taxii1.was_address(path) {
                return Some(Err(error_response(app, path, hint, head.https(), "0", Error::Db(e))));
            }
            return Some(Err(app.failure(path, e.into())));
        }
    };
    let services = app.taxii1.load(&rows);
    let decoded = crate::router::percent_decode(path);
    let service = services.iter().position(|s| s.serves(path, decoded.as_deref()))?;
    Some(admit_checks(app, head, conn, services, service, hint, (claim, account)))
}

/// OpenTAXII's order: method → authentication → service authentication → availability →
/// OPTIONS → Accept → Content-Type and X-TAXII-Content-Type. Deviation: the method comes
/// first, so a GET costs no password check; such a request gets no TAXII answer anyway.
fn admit_checks(
    app: &Taxiid,
    head: &Head,
    conn: Conn,
    services: Vec<Service>,
    idx: usize,
    hint: Version,
    (claim, row): (Result<Claim, AuthError>, Option<AccountRow>),
) -> Result<Admitted, Response> {
    let path = head.path();
    let service = &services[idx];
    let status = |st: StatusType, msg: &str| {
        let s = StatusMessage::new("0", st).with_message(msg);
        taxii_response(hint, head.https(), &s.into_message())
    };
    if !matches!(head.method.as_str(), "POST" | "OPTIONS") {
        return Err(
            crate::server::error_body(path, 405, "TAXII 1 services answer POST only").header("Allow", ALLOW)
        );
    }
    let unauthorized = StatusType::from_wire(&app.config.taxii1.unauthorized_status);
    // Only now, after the method: a password check (Basic) is the costly part.
    let account = match claim.and_then(|claim| app.auth.resolve(&claim, row)) {
        Ok(a) => a,
        Err(AuthError::Invalid) => {
            crate::metrics::auth_failure(crate::metrics::AuthFailure::Taxii1);
            return Err(status(unauthorized, "The credentials are not valid"));
        }
        Err(AuthError::Db(e)) => {
            return Err(error_response(app, path, hint, head.https(), "0", Error::Db(e)));
        }
    };
    if service.authentication_required && account.is_none() {
        return Err(status(unauthorized, "This service requires authentication"));
    }
    if !service.available {
        return Err(status(StatusType::Failure, "The service is not available"));
    }
    if head.method == "OPTIONS" {
        return Err(Response::new(200).header("Allow", ALLOW).header("X-TAXII-Content-Types", CONTENT_TYPES));
    }
    if !accepts_xml(head.header("accept")) {
        return Err(Response::new(406)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body("Unacceptable: TAXII 1 services answer application/xml\n"));
    }
    let Some(binding) = head.header("x-taxii-content-type") else {
        return Err(status(StatusType::Failure, "Header X-TAXII-Content-Type was not specified"));
    };
    let Some(content_type) = head.header("content-type") else {
        return Err(status(StatusType::Failure, "Header Content-Type was not specified"));
    };
    if Version::from_message_binding(binding).is_none() {
        let s = StatusMessage::new("0", StatusType::UnsupportedMessage)
            .with_details(supported_bindings())
            .with_message(format!("TAXII Content Type \"{binding}\" is not supported"));
        return Err(taxii_response(hint, head.https(), &s.into_message()));
    }
    // A substring test, as OpenTAXII's: `application/xml; charset=utf-8` passes.
    if !content_type.to_ascii_lowercase().contains("application/xml") {
        return Err(status(StatusType::Failure, "The specified value of Content-Type is not supported"));
    }
    let caller = Caller { account, open: !service.authentication_required };
    Ok(Admitted { conn, services, service: idx, caller, hint })
}

pub fn handle(app: &Taxiid, adm: Admitted, req: Request) -> Response {
    let (hint, tls) = (adm.hint, req.head.https());
    let who = adm.caller.account.as_ref().map(|a| a.username.clone());
    let resp = match catch_unwind(AssertUnwindSafe(|| process(app, adm, &req))) {
        Ok(r) => r,
        // The panic hook has logged it; the client still gets a TAXII answer.
        Err(_) => {
            let e = Error::Internal("the TAXII 1 handler panicked".into());
            error_response(app, req.head.path(), hint, tls, "0", e)
        }
    };
    match who {
        Some(name) => resp.for_account(&name),
        None => resp,
    }
}

fn process(app: &Taxiid, mut adm: Admitted, req: &Request) -> Response {
    let (path, https) = (req.head.path(), req.head.https());
    let (version, msg) = match messages::parse(&req.body) {
        Ok(x) => x,
        Err(e) => {
            let v = e.version.unwrap_or(adm.hint);
            let irt = e.message_id.as_deref().unwrap_or("0");
            return error_response(app, path, v, https, irt, refuse(StatusType::BadMessage, e.message));
        }
    };
    let irt = msg.message_id().to_string();
    let fail = |v: Version, e: Error| error_response(app, path, v, https, &irt, e);
    // Admission accepted the header; OpenTAXII validates the body against its schema.
    let declared = req.head.header("x-taxii-content-type").and_then(Version::from_message_binding);
    if let Some(d) = declared.filter(|d| *d != version) {
        let m =
            format!("The message is TAXII {}, X-TAXII-Content-Type says TAXII {}", name(version), name(d));
        return fail(d, refuse(StatusType::BadMessage, m));
    }
    if let Err(e) = check_headers(&req.head) {
        return fail(version, e);
    }
    let service = &adm.services[adm.service];
    if !handles(service, &msg) {
        return fail(version, refuse(StatusType::Failure, "Message not supported by this service"));
    }
    if matches!(msg, Message::PollFulfillment(_))
        && req.head.header("x-taxii-services").and_then(Version::from_services) == Some(Version::V10)
    {
        return fail(
            version,
            refuse(StatusType::Failure, "The specified value of X-TAXII-Services is not supported"),
        );
    }
    let host = service::public_host(app.config.domain.as_deref(), req.head.header("host"));
    let mut ctx =
        Ctx { app, db: &mut adm.conn, services: &adm.services, service, caller: &adm.caller, version, host };
    let result = match msg {
        Message::DiscoveryRequest(m) => collections::discovery(&ctx, &m.message_id),
        Message::CollectionInformationRequest(m) | Message::FeedInformationRequest(m) => {
            collections::information(&mut ctx, &m.message_id)
        }
        Message::ManageCollectionSubscriptionRequest(m) => subscriptions::manage_11(&mut ctx, &m),
        Message::ManageFeedSubscriptionRequest(m) => subscriptions::manage_10(&mut ctx, &m),
        Message::PollRequest(m) => poll::poll(&mut ctx, &m),
        Message::PollFulfillment(m) => poll::fulfillment(&mut ctx, &m),
        Message::InboxMessage(m) => inbox::inbox(&mut ctx, &m, &req.body),
        _ => Err(refuse(StatusType::Failure, "Message not supported by this service")),
    };
    match result {
        Ok(m) => taxii_response(version, https, &m),
        Err(e) => fail(version, e),
    }
}

/// Which messages a service takes (anything else: "Message not supported by this service").
fn handles(service: &Service, msg: &Message) -> bool {
    match service.kind {
        ServiceType::Discovery => matches!(msg, Message::DiscoveryRequest(_)),
        ServiceType::Inbox => matches!(msg, Message::InboxMessage(_)),
        ServiceType::Poll => matches!(msg, Message::PollRequest(_) | Message::PollFulfillment(_)),
        ServiceType::CollectionManagement => match msg {
            Message::CollectionInformationRequest(_) | Message::FeedInformationRequest(_) => true,
            Message::ManageCollectionSubscriptionRequest(_) | Message::ManageFeedSubscriptionRequest(_) => {
                service.subscription_supported
            }
            _ => false,
        },
    }
}

/// The checks OpenTAXII makes once the body parsed (answered in response to its id).
/// Deviation: an unknown X-TAXII-Accept or X-TAXII-Protocol gets the spec's
/// UNSUPPORTED_MESSAGE / UNSUPPORTED_PROTOCOL with the supported values, not FAILURE.
fn check_headers(head: &Head) -> Result<(), Error> {
    match head.header("x-taxii-services") {
        None => return Err(refuse(StatusType::Failure, "Header X-TAXII-Services was not specified")),
        Some(s) if Version::from_services(s).is_none() => {
            return Err(refuse(StatusType::Failure, "The value of X-TAXII-Services was not recognized"));
        }
        Some(_) => {}
    }
    if let Some(p) = head.header("x-taxii-protocol")
        && p != PROTOCOL_HTTP
        && p != PROTOCOL_HTTPS
    {
        let details = StatusDetails {
            supported_protocols: vec![PROTOCOL_HTTP.into(), PROTOCOL_HTTPS.into()],
            ..StatusDetails::default()
        };
        return Err(refuse_with(
            StatusType::UnsupportedProtocol,
            details,
            "The specified value of X-TAXII-Protocol is not supported",
        ));
    }
    // OpenTAXII takes exactly one id; a list naming a known binding is fine too.
    if let Some(a) = head.header("x-taxii-accept")
        && !a.split(',').any(|b| Version::from_message_binding(b.trim()).is_some())
    {
        return Err(refuse_with(
            StatusType::UnsupportedMessage,
            supported_bindings(),
            "The specified value of X-TAXII-Accept is not recognized",
        ));
    }
    Ok(())
}

fn supported_bindings() -> StatusDetails {
    StatusDetails {
        supported_bindings: vec![
            Version::V10.message_binding().into(),
            Version::V11.message_binding().into(),
        ],
        ..StatusDetails::default()
    }
}

fn name(v: Version) -> &'static str {
    match v {
        Version::V10 => "1.0",
        Version::V11 => "1.1",
    }
}

/// The version of answers before the body is parsed: the declared binding, else the
/// accepted one, else the services header, else 1.1. Deviation: OpenTAXII prefers
/// X-TAXII-Accept and so may answer a 1.1 request in 1.0, which cabby rejects.
fn version_hint(head: &Head) -> Version {
    let accept = || {
        head.header("x-taxii-accept")
            .and_then(|a| a.split(',').find_map(|b| Version::from_message_binding(b.trim())))
    };
    head.header("x-taxii-content-type")
        .and_then(Version::from_message_binding)
        .or_else(accept)
        .or_else(|| head.header("x-taxii-services").and_then(Version::from_services))
        .unwrap_or(Version::V11)
}

/// Whether `Accept` allows `application/xml`. Deviation: a missing Accept means anything
/// (HTTP semantics); OpenTAXII answers it with 406.
fn accepts_xml(accept: Option<&str>) -> bool {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else { return true };
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let mt = parts.next().unwrap_or("").to_ascii_lowercase();
        let q_zero = parts.any(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("q") && v.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
            })
        });
        !q_zero && matches!(mt.as_str(), "*/*" | "application/*" | "application/xml")
    })
}

/// An HTTP-level refusal (body too large or too slow, malformed framing, a panic) at a
/// TAXII 1.x service address, as the Status_Message cabby and libtaxii can read: FAILURE in
/// HTTP 200. `None` when `path` is not a service address.
pub fn http_failure(app: &Taxiid, path: &str, tls: bool, status: u16, message: &str) -> Option<Response> {
    if path.is_empty() || !app.taxii1.was_address(path) {
        return None;
    }
    let text = format!("{message} (HTTP {status} {})", crate::http::reason(status));
    let mut s = StatusMessage::new("0", StatusType::Failure);
    s.message = Some(text);
    // The request was not read, so its version is unknown: 1.1, as OpenTAXII answers then.
    let close = status == 413 || status == 408 || status == 400;
    let mut r = taxii_response(Version::V11, tls, &s.into_message());
    r.close = close;
    Some(r)
}

/// A TAXII message in HTTP 200 with the headers of its version.
fn taxii_response(version: Version, tls: bool, msg: &Message) -> Response {
    Response::new(200)
        .header("Content-Type", "application/xml")
        .header("X-TAXII-Content-Type", version.message_binding())
        .header("X-TAXII-Services", version.services())
        .header("X-TAXII-Protocol", if tls { PROTOCOL_HTTPS } else { PROTOCOL_HTTP })
        .body(messages::write(version, msg))
}

/// The one mapping of failures to Status_Messages. A database outage is FAILURE asking the
/// client to retry; anything unexpected is logged and answered "Server error occurred",
/// with the details only when `http.return_server_error_details` is set (OpenTAXII's
/// intended behaviour; its own handler answers an HTML 500).
fn error_response(app: &Taxiid, path: &str, version: Version, tls: bool, irt: &str, e: Error) -> Response {
    let (st, details, message) = match e {
        Error::Refused(r) => *r,
        Error::Db(DbError::Unavailable(m) | DbError::Timeout(m)) => {
            log::warn!("{path}: database unavailable: {m}");
            let m = "The database is temporarily unavailable; retry the request shortly";
            (StatusType::Failure, StatusDetails::default(), Some(m.to_string()))
        }
        Error::Db(DbError::Query(m)) | Error::Internal(m) => {
            log::error!("{path}: {m}");
            let text = if app.config.http.return_server_error_details {
                format!("Server error occurred: {m}")
            } else {
                "Server error occurred".to_string()
            };
            (StatusType::Failure, StatusDetails::default(), Some(text))
        }
    };
    // Statuses 1.0 lacks go out as FAILURE there, with the same message.
    let st = if version == Version::V10 && st.is_11_only() { StatusType::Failure } else { st };
    let mut s = StatusMessage::new(irt, st).with_details(details);
    s.message = message;
    taxii_response(version, tls, &s.into_message())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_allows_xml() {
        for ok in
            [None, Some(""), Some("application/xml"), Some("*/*"), Some("text/html, application/xml;q=0.9")]
        {
            assert!(accepts_xml(ok), "{ok:?}");
        }
        for bad in ["application/json", "application/xml;q=0", "text/*"] {
            assert!(!accepts_xml(Some(bad)), "{bad}");
        }
    }
}
