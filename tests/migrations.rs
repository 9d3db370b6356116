//! Schema and migrations against a real PostgreSQL: the migrated schema is exactly
//! OpenTAXII's, an OpenTAXII database is adopted untouched, concurrent migrations apply once,
//! the pool fails fast while the database is down and recovers, and no cluster outlives a
//! killed owner.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier, mpsc};
use std::thread::sleep;
use std::time::{Duration, Instant};

use taxiid::db::cluster::process_alive;
use taxiid::db::{self, Cluster, ClusterOptions, Db, DbError};

const REFERENCE_SCHEMA: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/reference/opentaxii-schema.sql");
const FIXTURE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/reference/opentaxii-fixture/opentaxii_fixture.sql");

/// OpenTAXII's tables with the fixture's row counts (its README).
const FIXTURE_TABLES: &[(&str, i64)] = &[
    ("accounts", 6),
    ("collection_to_content_block", 21),
    ("content_blocks", 18),
    ("data_collections", 4),
    ("inbox_messages", 16),
    ("opentaxii_api_root", 3),
    ("opentaxii_collection", 5),
    ("opentaxii_job", 9),
    ("opentaxii_job_detail", 12),
    ("opentaxii_stixobject", 11),
    ("result_sets", 1),
    ("service_to_collection", 12),
    ("services", 5),
    ("subscriptions", 2),
];

const SEQUENCES: &[&str] =
    &["accounts_id_seq", "content_blocks_id_seq", "data_collections_id_seq", "inbox_messages_id_seq"];

/// `pg_dump --schema-only` as a list of statements, without comments, session settings,
/// blank lines, psql meta-commands and anything of taxiid's own.
fn schema_statements(dump: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in dump.lines().map(str::trim_end) {
        let skip = ["--", "SET ", "SELECT pg_catalog.", "\\restrict", "\\unrestrict"];
        if line.is_empty() || skip.iter().any(|p| line.starts_with(p)) {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if line.ends_with(';') {
            statements.push(std::mem::take(&mut current));
        }
    }
    assert!(current.trim().is_empty(), "unterminated statement in dump: {current}");
    statements.retain(|s| !s.contains("taxiid"));
    statements
}

fn dump_schema(conninfo: &str) -> Vec<String> {
    let out = Command::new(common::pg_program("pg_dump"))
        .args(["--schema-only", "--no-owner", "--no-privileges", "-d", conninfo])
        .output()
        .expect("run pg_dump");
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
    schema_statements(&String::from_utf8(out.stdout).expect("UTF-8 dump"))
}

fn reference_statements() -> Vec<String> {
    let statements =
        schema_statements(&std::fs::read_to_string(REFERENCE_SCHEMA).expect("read the reference schema"));
    let tables = statements.iter().filter(|s| s.starts_with("CREATE TABLE ")).count();
    assert_eq!(tables, FIXTURE_TABLES.len(), "the reference schema parsed into statements");
    statements
}

fn assert_same_schema(actual: &[String], expected: &[String], what: &str) {
    let missing: Vec<&String> = expected.iter().filter(|s| !actual.contains(s)).collect();
    let extra: Vec<&String> = actual.iter().filter(|s| !expected.contains(s)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: schema differs\n--- missing:\n{}\n--- unexpected:\n{}",
        missing.iter().map(|s| s.as_str()).collect::<String>(),
        extra.iter().map(|s| s.as_str()).collect::<String>()
    );
    assert_eq!(actual, expected, "{what}: same statements, different order");
}

fn psql_file(conninfo: &str, file: &str) {
    let out = Command::new(common::pg_program("psql"))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-f", file])
        .output()
        .expect("run psql");
    assert!(out.status.success(), "psql -f {file}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Row count and a digest of every row of each OpenTAXII table, and the sequence states.
fn snapshot(client: &mut postgres::Client) -> BTreeMap<String, String> {
    let mut snap = BTreeMap::new();
    for (table, _) in FIXTURE_TABLES {
        // Table names come from the constant list above; identifiers cannot be parameters.
        let sql = format!(
            "SELECT count(*)::text || ' ' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') \
             FROM public.{table} t"
        );
        snap.insert(table.to_string(), client.query_one(&sql, &[]).expect(&sql).get(0));
    }
    for seq in SEQUENCES {
        let sql = format!("SELECT last_value::text || ' ' || is_called::text FROM public.{seq}");
        snap.insert(seq.to_string(), client.query_one(&sql, &[]).expect(&sql).get(0));
    }
    snap
}

#[test]
fn migrating_an_empty_database_creates_exactly_the_opentaxii_schema() {
    let conninfo = common::empty_database();
    let mut client = common::connect(&conninfo);
    assert_eq!(db::pending(&mut client).unwrap(), vec![1, 2, 3, 4]);
    assert_eq!(db::migrate(&mut client).unwrap(), vec![1, 2, 3, 4]);
    assert_eq!(db::LATEST, 4);
    assert_eq!(db::pending(&mut client).unwrap(), Vec::<i32>::new());
    assert_eq!(db::migrate(&mut client).unwrap(), Vec::<i32>::new(), "a second migrate is a no-op");

    assert_same_schema(&dump_schema(&conninfo), &reference_statements(), "migrated empty database");
    let index: Option<String> = client
        .query_one(
            "SELECT pg_catalog.to_regclass($1)::text",
            &[&"public.taxiid_stixobject_col_date_added_id"],
        )
        .unwrap()
        .get(0);
    assert!(index.is_some(), "migration 2 adds the keyset index");
}

#[test]
fn an_opentaxii_database_is_adopted_untouched() {
    let conninfo = common::empty_database();
    psql_file(&conninfo, REFERENCE_SCHEMA);
    psql_file(&conninfo, FIXTURE);
    let mut client = common::connect(&conninfo);

    let rows_before = snapshot(&mut client);
    for (table, count) in FIXTURE_TABLES {
        let n: i64 = rows_before[*table].split(' ').next().unwrap().parse().unwrap();
        assert_eq!(n, *count, "fixture rows in {table}");
    }
    let schema_before = dump_schema(&conninfo);
    assert_same_schema(&schema_before, &reference_statements(), "loaded fixture");

    assert_eq!(db::pending(&mut client).unwrap(), vec![1, 2, 3, 4]);
    assert_eq!(db::migrate(&mut client).unwrap(), vec![1, 2, 3, 4]);
    assert_eq!(snapshot(&mut client), rows_before, "rows and sequences unchanged");
    assert_same_schema(&dump_schema(&conninfo), &schema_before, "OpenTAXII objects after migrate");
    assert_eq!(db::migrate(&mut client).unwrap(), Vec::<i32>::new(), "a second migrate is a no-op");
}

#[test]
fn a_database_created_by_opentaxii_master_keeps_its_own_indexes() {
    // Master (0.10) has ix_opentaxii_stixobject_col_date_added_id instead of
    // ix_opentaxii_stixobject_date_added_id; it also covers taxiid's keyset index.
    let conninfo = common::empty_database();
    psql_file(&conninfo, REFERENCE_SCHEMA);
    let mut client = common::connect(&conninfo);
    client
        .batch_execute(
            "DROP INDEX public.ix_opentaxii_stixobject_date_added_id;
             CREATE INDEX ix_opentaxii_stixobject_col_date_added_id
                 ON public.opentaxii_stixobject USING btree (collection_id, date_added, id);",
        )
        .unwrap();
    let before = dump_schema(&conninfo);
    assert_eq!(db::migrate(&mut client).unwrap(), vec![1, 2, 3, 4]);
    assert_same_schema(&dump_schema(&conninfo), &before, "master database after migrate");
    let indexes: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_catalog.pg_indexes
             WHERE schemaname = 'public' AND tablename = 'opentaxii_stixobject' AND indexname LIKE $1",
            &[&"taxiid%"],
        )
        .unwrap()
        .get(0);
    assert_eq!(indexes, 0, "master's own keyset index serves; taxiid adds none to the table");
}

#[test]
fn racing_migrations_apply_each_version_once() {
    let conninfo = common::empty_database();
    let barrier = Arc::new(Barrier::new(2));
    let racers: Vec<_> = (0..2)
        .map(|_| {
            let (conninfo, barrier) = (conninfo.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut client = common::connect(&conninfo);
                barrier.wait();
                db::migrate(&mut client)
            })
        })
        .collect();
    let mut results: Vec<Vec<i32>> = racers.into_iter().map(|t| t.join().unwrap().unwrap()).collect();
    results.sort();
    assert_eq!(results, vec![vec![], vec![1, 2, 3, 4]]);
    let mut client = common::connect(&conninfo);
    let versions: Vec<i32> = client
        .query("SELECT version FROM public.taxiid_schema_migrations ORDER BY version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, vec![1, 2, 3, 4]);
}

#[test]
fn fresh_databases_are_migrated() {
    let mut client = common::connect(&common::fresh_database());
    assert_eq!(db::pending(&mut client).unwrap(), Vec::<i32>::new());
}

fn select_one(db: &Db) -> Result<i32, DbError> {
    Ok(db.get()?.query_one("SELECT 1", &[])?.get(0))
}

#[test]
fn the_pool_fails_fast_while_the_database_is_down_and_recovers() {
    // A cluster of its own: stopping the shared one would break the other tests.
    let dir = common::unique_temp_dir("taxiid-test-pool");
    let mut cluster = Cluster::start(&dir, ClusterOptions { ephemeral: true }).unwrap();
    let db = Db::open(&common::db_config(&cluster.conninfo("postgres"))).unwrap();
    db.wait_until_up(Duration::from_secs(10)).unwrap();
    assert_eq!(select_one(&db).unwrap(), 1);
    let tz: String = db.get().unwrap().query_one("SHOW TimeZone", &[]).unwrap().get(0);
    assert_eq!(tz, "UTC");

    cluster.stop().unwrap();
    for attempt in 0..3 {
        let start = Instant::now();
        let err = select_one(&db).unwrap_err();
        let took = start.elapsed();
        assert!(err.is_unavailable(), "attempt {attempt}: {err}");
        assert!(took < Duration::from_secs(1), "attempt {attempt} took {took:?}");
    }
    assert!(!db.is_up());

    cluster.start_again().unwrap();
    let start = Instant::now();
    while select_one(&db).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "no recovery within 10 s");
        sleep(Duration::from_millis(50));
    }
    assert!(db.is_up());

    drop(db);
    drop(cluster);
    assert!(!dir.exists(), "an ephemeral cluster removes its directory when dropped");
}

#[test]
fn unreachable_database_at_startup_is_reported_clearly() {
    let dir = common::unique_temp_dir("taxiid-test-nowhere");
    let url = format!("host={} port=5432 user=taxiid dbname=taxiid", dir.display());
    let db = Db::open(&common::db_config(&url)).unwrap();
    let start = Instant::now();
    let err = db.wait_until_up(Duration::from_millis(500)).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());
    assert!(err.contains("database.url") && err.contains("pg_hba"), "{err}");
    assert!(select_one(&db).unwrap_err().is_unavailable());
}

#[test]
fn as_root_a_directory_the_server_user_cannot_reach_is_refused_clearly() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
        return; // only root hands the cluster to another user
    }
    let parent = common::unique_temp_dir("taxiid-test-private");
    std::fs::create_dir(&parent).unwrap();
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o700)).unwrap();
    let err = Cluster::start(&parent.join("pg"), ClusterOptions { ephemeral: true }).unwrap_err();
    assert!(err.contains("cannot reach") && err.contains("/tmp"), "{err}");
    std::fs::remove_dir_all(&parent).unwrap();
}

#[test]
fn an_ephemeral_cluster_never_takes_a_directory_with_content() {
    let dir = common::unique_temp_dir("taxiid-test-occupied");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("precious"), "keep me").unwrap();
    let err = Cluster::start(&dir, ClusterOptions { ephemeral: true }).unwrap_err();
    assert!(err.contains("new or empty"), "{err}");
    assert!(dir.join("precious").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

const GUARDIAN_CHILD_DIR: &str = "TAXIID_TEST_GUARDIAN_CHILD_DIR";

/// Not a test by itself: the owner process for the guardian test, which SIGKILLs it.
#[test]
#[ignore = "helper process of owner_killed_means_cluster_stopped_and_removed"]
fn guardian_helper_process() {
    let Some(dir) = std::env::var_os(GUARDIAN_CHILD_DIR) else { return };
    let cluster = Cluster::start(Path::new(&dir), ClusterOptions { ephemeral: true }).unwrap();
    println!("postgres-pid={}", cluster.pid().unwrap());
    loop {
        sleep(Duration::from_secs(60));
    }
}

#[test]
fn owner_killed_means_cluster_stopped_and_removed() {
    let dir = common::unique_temp_dir("taxiid-test-guardian");
    let mut owner = Command::new(std::env::current_exe().unwrap())
        .args(["guardian_helper_process", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(GUARDIAN_CHILD_DIR, &dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = owner.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest prints "test name ... " on the same line first.
            if let Some((_, pid)) = line.split_once("postgres-pid=") {
                let _ = tx.send(pid.trim().parse::<u32>().unwrap());
            }
        }
    });
    let pid = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|e| {
        let _ = owner.kill();
        panic!("the helper never reported its postgres pid: {e}")
    });
    assert!(process_alive(pid));
    assert!(dir.exists());

    owner.kill().unwrap(); // SIGKILL: no destructor, no atexit
    owner.wait().unwrap();
    let start = Instant::now();
    while (process_alive(pid) || dir.exists()) && start.elapsed() < Duration::from_secs(15) {
        sleep(Duration::from_millis(50));
    }
    assert!(!process_alive(pid), "postgres (pid {pid}) survived its owner");
    assert!(!dir.exists(), "{} was not removed", dir.display());
}
