//! Schema migrations, embedded from `sql/` and recorded in `taxiid_schema_migrations`.
//!
//! Migration 1 creates OpenTAXII's own schema where it is missing, so an OpenTAXII
//! database is adopted as it is. Every later migration is additive only: it may add
//! `taxiid_`-prefixed objects, and it never alters or drops an OpenTAXII table, column,
//! index or constraint, so OpenTAXII can still run on the same database.
//!
//! All pending migrations run in one transaction under an advisory lock, so two instances
//! starting together neither race nor apply anything twice; a failure applies nothing.

use postgres::Client;

use super::DbError;

/// The newest schema version this binary knows.
pub const LATEST: i32 = 4;

struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "opentaxii_schema",
        sql: include_str!("../../sql/0001_opentaxii_schema.sql"),
    },
    Migration {
        version: 2,
        name: "stixobject_keyset_index",
        sql: include_str!("../../sql/0002_stixobject_keyset_index.sql"),
    },
    Migration {
        version: 3,
        name: "taxii2_side_tables",
        sql: include_str!("../../sql/0003_taxii2_side_tables.sql"),
    },
    Migration {
        version: 4,
        name: "taxii1_side_tables",
        sql: include_str!("../../sql/0004_taxii1_side_tables.sql"),
    },
];

/// Advisory lock key ("taxiid" in ASCII); advisory locks are per database.
const LOCK_KEY: i64 = 0x7461_7869_6964;

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS public.taxiid_schema_migrations (
    version integer PRIMARY KEY,
    applied_at timestamp with time zone NOT NULL DEFAULT now()
)";

/// Applies all pending migrations; returns the versions applied (empty: nothing to do).
pub fn migrate(client: &mut Client) -> Result<Vec<i32>, DbError> {
    let mut tx = client.transaction()?;
    // Index builds on a large adopted table may outlast the pool's statement_timeout, and a
    // second instance must wait for the first one's lock however long it takes.
    tx.batch_execute("SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0")?;
    tx.execute("SELECT pg_catalog.pg_advisory_xact_lock($1)", &[&LOCK_KEY])?;
    tx.batch_execute(CREATE_TABLE)?;
    let applied: Vec<i32> = tx
        .query("SELECT version FROM public.taxiid_schema_migrations", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if let Some(newer) = applied.iter().copied().filter(|v| *v > LATEST).max() {
        log::warn!("the database has schema version {newer}, newer than this taxiid ({LATEST}); continuing");
    }
    let mut done = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        tx.batch_execute(m.sql).map_err(|e| match DbError::from(e) {
            DbError::Query(msg) => DbError::Query(format!("migration {:04}_{}: {msg}", m.version, m.name)),
            other => other,
        })?;
        tx.execute("INSERT INTO public.taxiid_schema_migrations (version) VALUES ($1)", &[&m.version])?;
        done.push(m.version);
    }
    tx.commit()?;
    if !done.is_empty() {
        log::info!("applied schema migrations {done:?}; schema version is now {LATEST}");
    }
    Ok(done)
}

/// The versions `migrate` would apply; all of them on a database taxiid never touched.
pub fn pending(client: &mut Client) -> Result<Vec<i32>, DbError> {
    let table: Option<String> = client
        .query_one("SELECT pg_catalog.to_regclass($1)::text", &[&"public.taxiid_schema_migrations"])?
        .get(0);
    let applied: Vec<i32> = match table {
        None => Vec::new(),
        Some(_) => client
            .query("SELECT version FROM public.taxiid_schema_migrations", &[])?
            .iter()
            .map(|r| r.get(0))
            .collect(),
    };
    Ok(MIGRATIONS.iter().map(|m| m.version).filter(|v| !applied.contains(v)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_and_end_at_latest() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i32 + 1);
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(LATEST));
    }

    #[test]
    fn later_migrations_are_additive() {
        for m in &MIGRATIONS[1..] {
            let sql = m.sql.to_ascii_uppercase();
            assert!(
                !sql.contains("DROP ") && !sql.contains("ALTER "),
                "migration {} alters or drops",
                m.version
            );
        }
    }
}
