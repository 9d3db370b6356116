//! `/management/` endpoints that are not protocol specific: liveness and readiness.
//! (`/management/auth` joins with the accounts work.)

use crate::db::{self, Db, DbError};
use crate::http::Response;

/// Liveness: the process answers. OpenTAXII's exact answer, so existing probes keep working.
pub fn health() -> Response {
    json(200, r#"{"alive": true}"#)
}

/// Readiness: the database answers and its schema is current.
pub fn ready(db: &Db) -> Response {
    let check = || -> Result<Option<String>, DbError> {
        let mut conn = db.get()?;
        let pending = db::migrate::pending(&mut conn)?;
        Ok(if pending.is_empty() {
            None
        } else {
            Some(format!("{} migrations pending: run `taxiid migrate`", pending.len()))
        })
    };
    match check() {
        Ok(None) => json(200, r#"{"ready": true}"#),
        Ok(Some(reason)) => not_ready(&reason),
        Err(DbError::Unavailable(_)) => not_ready("the database is unavailable").header("Retry-After", "1"),
        Err(e) => {
            log::warn!("readiness check: {e}");
            not_ready("the database check failed")
        }
    }
}

fn not_ready(reason: &str) -> Response {
    json(503, &serde_json::json!({"ready": false, "reason": reason}).to_string())
}

fn json(status: u16, body: &str) -> Response {
    Response::new(status).header("Content-Type", "application/json").body(body.as_bytes().to_vec())
}
