//! TAXII 2.1 (`/taxii2/`): admission (authentication, content negotiation, API root and
//! collection resolution, permissions — in the checklist's order, before a body is read),
//! dispatch to the resource handlers, and the one mapping of errors to TAXII error objects.
//!
//! Handlers receive an [`Admitted`] request holding the database connection, the caller and
//! the resolved resources; SQL stays in `db::taxii2`.

pub(crate) mod cursor;
mod discovery;
pub(crate) mod filter;
mod ingest;
mod objects;
pub(crate) mod stix;

use crate::auth::{self, Account, AuthError, Claim, Rights};
use crate::db::taxii2::{self as q, ApiRoot, Collection};
use crate::db::{Conn, DbError};
use crate::http::{self, Head, Request, Response};
use crate::router::Route;
use crate::server::Taxiid;

/// `application/taxii+json;version=2.1`, on every TAXII 2.1 response.
pub const MEDIA_TYPE: &str = "application/taxii+json;version=2.1";

/// A failure, mapped once to status and TAXII error object by [`Taxiid::taxii2_error`].
#[derive(Debug)]
pub enum Error {
    /// 401 with `WWW-Authenticate` challenges.
    Unauthorized,
    /// Any other client-facing status with its description.
    Status(u16, String),
    Db(DbError),
}

impl From<DbError> for Error {
    fn from(e: DbError) -> Error {
        Error::Db(e)
    }
}

impl From<AuthError> for Error {
    fn from(e: AuthError) -> Error {
        match e {
            AuthError::Invalid => {
                crate::metrics::auth_failure(crate::metrics::AuthFailure::Taxii2);
                Error::Unauthorized
            }
            AuthError::Db(d) => Error::Db(d),
        }
    }
}

fn status(code: u16, msg: &str) -> Error {
    Error::Status(code, msg.to_string())
}

/// What admission established; handed to the handler with the body.
pub struct Admitted {
    pub route: Route,
    pub params: Vec<String>,
    pub conn: Conn,
    pub account: Option<Account>,
    pub root: Option<ApiRoot>,
    pub collection: Option<(Collection, Rights)>,
    /// The page `objects::get` will serve, when admission could read it too.
    pub prefetched: Option<Vec<q::ObjectRow>>,
}

impl Admitted {
    fn root(&self) -> &ApiRoot {
        self.root.as_ref().expect("admission resolved the API root")
    }

    fn collection(&self) -> &Collection {
        &self.collection.as_ref().expect("admission resolved the collection").0
    }
}

impl Taxiid {
    /// Everything that can be decided from the head, in the checklist's order: authenticate
    /// (401) → Accept (406) → API root (404) → collection (404) → permission (403) →
    /// Content-Type (415) → size (413).
    pub fn taxii2_admit(&self, head: &Head, route: Route, params: Vec<String>) -> Result<Admitted, Response> {
        let path = head.path();
        self.taxii2_checks(head, route, params).map_err(|e| self.taxii2_error(path, e))
    }

    fn taxii2_checks(&self, head: &Head, route: Route, params: Vec<String>) -> Result<Admitted, Error> {
        let mut conn = self.db.get()?;
        let claim = self.auth.claim(head.header("authorization"))?;
        let collection_route =
            !matches!(route, Route::Discovery | Route::ApiRoot | Route::Status | Route::Collections);
        // The account, API root and collection in one round trip; decided below in order.
        let key = q::AdmissionKey {
            account_id: if let Claim::Account(id) = claim { Some(id) } else { None },
            username: if let Claim::Basic { username, .. } = &claim { Some(username) } else { None },
            root: (route != Route::Discovery).then(|| params[0].as_str()),
            collection: collection_route.then(|| params[1].as_str()),
        };
        // Get an Object without filters also reads the object in that round trip.
        let object =
            if route == Route::Object { objects::plain_object_query(self, head, &params) } else { None };
        let (found, prefetched) = match &object {
            Some(q) => q::admission_and_object(&mut conn, &key, q).map(|(a, rows)| (a, Some(rows)))?,
            None => (q::admission(&mut conn, &key)?, None),
        };
        let account = self.auth.resolve(&claim, found.account)?;
        // Several Accept lines form one list (RFC 9110 §5.3).
        let accept: Vec<String> =
            head.header_all("accept").map(|v| String::from_utf8_lossy(v).into_owned()).collect();
        let accept = if accept.is_empty() { None } else { Some(accept.join(",")) };
        if !accepts_taxii(accept.as_deref()) {
            return Err(status(406, "the Accept header must allow application/taxii+json;version=2.1"));
        }
        let anonymous = account.is_none();
        let mut adm = Admitted { route, params, conn, account, root: None, collection: None, prefetched };
        if route == Route::Discovery {
            if anonymous && !self.config.taxii2.public_discovery {
                return Err(Error::Unauthorized);
            }
            return Ok(adm);
        }
        let root = match found.root {
            Some(r) => r,
            // Anonymous callers learn nothing about what exists.
            None if anonymous => return Err(Error::Unauthorized),
            None => return Err(status(404, "no such API root")),
        };
        if !collection_route {
            if anonymous && !root.is_public {
                return Err(Error::Unauthorized);
            }
            adm.root = Some(root);
            return Ok(adm);
        }
        let Some(coll) = found.collection else {
            return Err(if anonymous { Error::Unauthorized } else { status(404, "no such collection") });
        };
        let rights =
            auth::taxii2_rights(adm.account.as_ref(), &coll.id, coll.is_public, coll.is_public_write);
        let (need_read, need_write) = match route {
            Route::AddObjects => (false, true),
            Route::DeleteObject => (true, true),
            Route::Collection => (false, false),
            _ => (true, false),
        };
        let allowed = (!need_read || rights.read) && (!need_write || rights.write);
        if anonymous && (!rights.visible() || !allowed) {
            return Err(Error::Unauthorized);
        }
        if !rights.visible() {
            return Err(status(404, "no such collection"));
        }
        if !allowed {
            let what = if need_write && !rights.write { "write to" } else { "read from" };
            return Err(Error::Status(403, format!("this account may not {what} the collection")));
        }
        if route == Route::AddObjects {
            if !is_taxii_content_type(head.header("content-type")) {
                return Err(status(415, "the Content-Type must be application/taxii+json;version=2.1"));
            }
            if let Some(len) = head.header("content-length").and_then(|l| l.parse::<u64>().ok())
                && len > self.max_content_length()
            {
                return Err(status(413, "the request body is larger than max_content_length"));
            }
        }
        adm.root = Some(root);
        adm.collection = Some((coll, rights));
        Ok(adm)
    }

    pub fn taxii2_handle(&self, mut adm: Admitted, req: Request) -> Response {
        let path = req.head.path().to_string();
        let who = adm.account.as_ref().map(|a| a.username.clone());
        let result = match adm.route {
            Route::Discovery => discovery::discovery(self, &mut adm),
            Route::ApiRoot => discovery::api_root(self, &adm),
            Route::Collections => discovery::collections(&mut adm),
            Route::Collection => discovery::collection(&mut adm),
            Route::Status => discovery::status_resource(&mut adm),
            Route::Objects | Route::Object | Route::Manifest | Route::Versions => {
                objects::get(self, &mut adm, &req)
            }
            Route::DeleteObject => objects::delete(self, &mut adm, &req),
            Route::AddObjects => ingest::add(self, &mut adm, &req),
            _ => Err(status(404, "no such resource")),
        };
        let resp = result.unwrap_or_else(|e| self.taxii2_error(&path, e));
        match who {
            Some(name) => resp.for_account(&name),
            None => resp,
        }
    }

    /// The one mapping of TAXII 2.1 failures to responses.
    pub fn taxii2_error(&self, path: &str, e: Error) -> Response {
        match e {
            Error::Unauthorized => {
                let mut r = error_response(401, "valid credentials are required");
                r = r.header("WWW-Authenticate", "Bearer realm=\"taxiid\"");
                if self.auth.basic_enabled() {
                    r = r.header("WWW-Authenticate", "Basic realm=\"taxiid\"");
                }
                r
            }
            Error::Status(code, msg) => error_response(code, &msg),
            Error::Db(d) => self.failure(path, d.into()),
        }
    }

    /// The POST limit advertised as the API root's `max_content_length` and enforced.
    pub fn max_content_length(&self) -> u64 {
        self.config.taxii2.max_content_length.min(self.config.http.max_body_bytes)
    }
}

/// A TAXII error object with the TAXII media type.
pub fn error_response(code: u16, description: &str) -> Response {
    let body = serde_json::json!({
        "title": http::reason(code),
        "http_status": code.to_string(),
        "description": description,
    });
    Response::new(code).header("Content-Type", MEDIA_TYPE).body(body.to_string().into_bytes())
}

pub fn json_response(code: u16, body: Vec<u8>) -> Response {
    Response::new(code).header("Content-Type", MEDIA_TYPE).body(body)
}

/// Whether an `Accept` header allows a TAXII 2.1 answer: missing, `*/*`, `application/*`,
/// bare `application/taxii+json` or with `version=2.1` (any other parameters and q-values
/// tolerated, names case-insensitive). A range with q=0 does not count.
pub fn accepts_taxii(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return true };
    if accept.trim().is_empty() {
        return true;
    }
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let mt = parts.next().unwrap_or("").to_ascii_lowercase();
        let (mut version, mut q_zero) = (None, false);
        for p in parts {
            let (k, v) =
                p.split_once('=').map(|(k, v)| (k.trim(), v.trim().trim_matches('"'))).unwrap_or((p, ""));
            if k.eq_ignore_ascii_case("version") {
                version = Some(v.to_string());
            } else if k.eq_ignore_ascii_case("q") {
                q_zero = v.parse::<f32>().is_ok_and(|q| q <= 0.0);
            }
        }
        if q_zero {
            return false;
        }
        match mt.as_str() {
            "*/*" | "application/*" => true,
            "application/taxii+json" => version.is_none_or(|v| v == "2.1"),
            _ => false,
        }
    })
}

/// POST bodies: `application/taxii+json`, optionally `version=2.1` and `charset=utf-8`.
pub fn is_taxii_content_type(ct: Option<&str>) -> bool {
    let Some(ct) = ct else { return false };
    let mut parts = ct.split(';').map(str::trim);
    if !parts.next().unwrap_or("").eq_ignore_ascii_case("application/taxii+json") {
        return false;
    }
    parts.all(|p| {
        let (k, v) =
            p.split_once('=').map(|(k, v)| (k.trim(), v.trim().trim_matches('"'))).unwrap_or((p, ""));
        (k.eq_ignore_ascii_case("version") && v == "2.1")
            || (k.eq_ignore_ascii_case("charset") && v.eq_ignore_ascii_case("utf-8"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        for ok in [
            None,
            Some("application/taxii+json;version=2.1"),
            Some("application/taxii+json"),
            Some("*/*"),
            Some("application/json;q=0.5, application/taxii+json; version=2.1;q=1"),
            Some("Application/TAXII+JSON;Version=2.1"),
        ] {
            assert!(accepts_taxii(ok), "{ok:?}");
        }
        for bad in [
            "application/json",
            "application/taxii+json;version=2.0",
            "text/html",
            "application/taxii+json;version=2.1;q=0",
        ] {
            assert!(!accepts_taxii(Some(bad)), "{bad}");
        }
        assert!(is_taxii_content_type(Some("application/taxii+json;version=2.1; charset=utf-8")));
        assert!(is_taxii_content_type(Some("application/taxii+json")));
        assert!(!is_taxii_content_type(Some("application/json")));
        assert!(!is_taxii_content_type(None));
    }
}
