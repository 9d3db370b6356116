//! Database layer: the connection pool (`pool`), schema migrations (`migrate`, SQL in
//! `sql/`), private PostgreSQL clusters for `taxiid dev` and the tests (`cluster`), and the
//! `taxiid dev` example data (`seed`).
//! Queries of the TAXII and management handlers live with those handlers, not here.

pub mod accounts;
pub mod admin;
pub mod cluster;
pub mod migrate;
pub mod pool;
pub mod seed;
pub mod sync;
pub mod taxii1;
pub mod taxii1_content;
pub mod taxii2;
pub mod taxii2_write;

pub use cluster::{Cluster, ClusterOptions};
pub use migrate::{LATEST, migrate, pending};
pub use pool::{Conn, Db, DbError};

/// A postgres error with the server's message and SQLSTATE, not just "db error".
pub(crate) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{}: {} (SQLSTATE {})", db.severity(), db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                s.push_str(&format!("; {detail}"));
            }
            s
        }
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}
