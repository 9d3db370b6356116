//! Shared integration-test harness, compiled into each test binary that declares `mod common;`.
//!
//! Sections (besides the submodules `http`, `server`, `tls`):
//! - Paths and processes: unique temporary directories, PostgreSQL client programs.
//! - PostgreSQL: one private, ephemeral cluster per test binary (the same `Cluster` code
//!   `taxiid dev` uses), and fresh databases in it, migrated or empty.
//!
//! The cluster lives in a `static` and is never dropped; its guardian process stops the
//! server and removes the directory when the test binary exits, however it exits.
#![allow(dead_code)] // each test binary uses a different part of the harness

// HTTP client helpers, the taxiid binary as a process, a throwaway TLS PKI, figures for
// the reliability tests (memory, tables), the rigs of the hostile-client and fault tests.
pub mod auth;
pub mod faults;
pub mod figures;
pub mod hostile;
pub mod http;
pub mod server;
pub mod taxii1;
pub mod taxii2;
pub mod tls;

use std::hash::{BuildHasher, RandomState};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use taxiid::config::{Config, DatabaseConfig};
use taxiid::db::{Cluster, ClusterOptions};

// ---------------------------------------------------------------------------------------
// Paths and processes
// ---------------------------------------------------------------------------------------

/// `<temp>/<prefix>-<pid>-<random>`, not yet created. Under the system temp directory, so
/// the `postgres` user can reach it when the tests run as root.
pub fn unique_temp_dir(prefix: &str) -> PathBuf {
    let random = RandomState::new().hash_one(std::time::SystemTime::now());
    std::env::temp_dir().join(format!("{prefix}-{}-{random:016x}", std::process::id()))
}

/// A PostgreSQL client program (`pg_dump`, `psql`), of the server's version when possible.
pub fn pg_program(name: &str) -> PathBuf {
    taxiid::db::cluster::find_binary(name).unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------

const TEMPLATE: &str = "taxiid_migrated_template";

/// The test binary's cluster, started on first use.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        Cluster::start(&unique_temp_dir("taxiid-test"), ClusterOptions { ephemeral: true })
            .unwrap_or_else(|e| panic!("cannot start the test PostgreSQL cluster: {e}"))
    })
}

/// A new database holding the fully migrated schema (copied from a template migrated once
/// per test binary through `taxiid::db::migrate`). Returns its conninfo.
pub fn fresh_database() -> String {
    static MIGRATED: OnceLock<()> = OnceLock::new();
    MIGRATED.get_or_init(|| {
        cluster().create_database(TEMPLATE, None).unwrap_or_else(|e| panic!("{e}"));
        let mut client = connect(&cluster().conninfo(TEMPLATE));
        taxiid::db::migrate(&mut client).unwrap_or_else(|e| panic!("migrating the template: {e}"));
        // CREATE DATABASE ... TEMPLATE needs the template free of sessions.
        client.close().unwrap_or_else(|e| panic!("{e}"));
    });
    new_database("t", Some(TEMPLATE))
}

/// A new, empty database (no taxiid or OpenTAXII objects). Returns its conninfo.
pub fn empty_database() -> String {
    new_database("e", None)
}

fn new_database(prefix: &str, template: Option<&str>) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let name = format!("{prefix}_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    cluster().create_database(&name, template).unwrap_or_else(|e| panic!("{e}"));
    cluster().conninfo(&name)
}

/// A new database holding OpenTAXII's schema and the OpenTAXII 0.9.3 fixture data
/// (shared/reference/opentaxii-fixture), loaded with psql as OpenTAXII's dump is, then
/// migrated by taxiid. Returns its conninfo.
pub fn opentaxii_fixture_database() -> String {
    const SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/reference/opentaxii-schema.sql");
    const DATA: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/reference/opentaxii-fixture/opentaxii_fixture.sql");
    let conninfo = empty_database();
    for file in [SCHEMA, DATA] {
        let out = std::process::Command::new(pg_program("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &conninfo, "-f", file])
            .output()
            .expect("run psql");
        assert!(out.status.success(), "psql -f {file}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mut db = connect(&conninfo);
    taxiid::db::migrate(&mut db).unwrap_or_else(|e| panic!("migrating the fixture: {e}"));
    conninfo
}

/// A plain connection for test SQL.
pub fn connect(conninfo: &str) -> postgres::Client {
    postgres::Client::connect(conninfo, postgres::NoTls).unwrap_or_else(|e| panic!("connect {conninfo}: {e}"))
}

/// taxiid's database settings pointed at `conninfo`, with a small pool.
pub fn db_config(conninfo: &str) -> DatabaseConfig {
    DatabaseConfig { url: conninfo.to_string(), pool_size: 4, ..Config::default().database }
}
