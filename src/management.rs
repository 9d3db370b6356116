//! `/management/` endpoints that are not protocol specific: liveness, readiness, login
//! (`/management/auth`) and the Prometheus metrics.

use crate::db::{self, Db, DbError};
use crate::http::Response;
use crate::metrics::AuthFailure;

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

/// `POST /management/auth`: `{"username", "password"}` (JSON or form) → `{"token": …}`, a JWT
/// OpenTAXII with the same secret also accepts. 429 while the name or the client address is
/// throttled after failed logins.
pub fn login(app: &crate::server::Taxiid, req: &crate::http::Request) -> Response {
    let (user, pass) = credentials(req);
    let (Some(user), Some(pass)) = (user, pass) else {
        return json(
            400,
            r#"{"title": "Bad Request", "http_status": "400", "description": "Both username and password are required"}"#,
        );
    };
    if let Some(wait) = app.auth.login_refusal(&user) {
        return app.throttled(&req.head, AuthFailure::Login, wait);
    }
    let outcome = app.db.get().and_then(|mut c| app.auth.login(&mut *c, &user, &pass));
    match outcome {
        Ok(Some(account)) => {
            let token = app.auth.token_for(account.id);
            json(200, &serde_json::json!({ "token": token }).to_string()).for_account(&account.username)
        }
        Ok(None) => {
            crate::metrics::auth_failure(AuthFailure::Login);
            log::info!("failed login for account name of {} characters", user.chars().count());
            json(
                401,
                r#"{"title": "Unauthorized", "http_status": "401", "description": "wrong username or password"}"#,
            )
        }
        Err(e) => app.failure(req.head.path(), e.into()),
    }
}

fn credentials(req: &crate::http::Request) -> (Option<String>, Option<String>) {
    let form =
        req.head.header("content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form {
        let text = String::from_utf8_lossy(&req.body);
        let pairs = crate::router::query_pairs(&text).unwrap_or_default();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        return (get("username"), get("password"));
    }
    let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
    let get = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    (get("username"), get("password"))
}

/// `GET /management/metrics`: Prometheus text for admins (Bearer or Basic), or for anyone
/// with `metrics.public = yes` (then no database round trip either).
pub fn metrics(app: &crate::server::Taxiid, req: &crate::http::Request) -> Response {
    let mut account = None;
    if !app.config.metrics_public {
        if let Some(wait) = app.auth.basic_refusal(req.head.header("authorization")) {
            return app.throttled(&req.head, AuthFailure::Metrics, wait);
        }
        let who = app
            .db
            .get()
            .map_err(crate::auth::AuthError::Db)
            .and_then(|mut c| app.auth.authenticate(&mut *c, req.head.header("authorization")));
        match who {
            Ok(Some(a)) if a.is_admin => account = Some(a.username),
            Ok(Some(_)) => {
                return json(
                    403,
                    r#"{"title": "Forbidden", "http_status": "403", "description": "metrics are for admins"}"#,
                );
            }
            Ok(None) => return unauthorized(app),
            Err(crate::auth::AuthError::Invalid) => {
                crate::metrics::auth_failure(AuthFailure::Metrics);
                return unauthorized(app);
            }
            Err(crate::auth::AuthError::Db(e)) => return app.failure(req.head.path(), e.into()),
        }
    }
    let r = Response::new(200)
        .header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        .header("Cache-Control", "no-store")
        .body(crate::metrics::render(app));
    match account {
        Some(name) => r.for_account(&name),
        None => r,
    }
}

fn unauthorized(app: &crate::server::Taxiid) -> Response {
    let r = json(
        401,
        r#"{"title": "Unauthorized", "http_status": "401", "description": "admin credentials are required"}"#,
    )
    .header("WWW-Authenticate", "Bearer realm=\"taxiid\"");
    if app.auth.basic_enabled() { r.header("WWW-Authenticate", "Basic realm=\"taxiid\"") } else { r }
}
