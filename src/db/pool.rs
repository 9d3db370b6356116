//! The PostgreSQL connection pool (r2d2): session settings, TLS, and fail-fast behaviour
//! while the database is down. Opening the pool never blocks and never fails for an
//! unreachable server; handlers get `DbError::Unavailable` (→ 503 + Retry-After) within a
//! fraction of a second while PostgreSQL is down, and recovery needs no restart.
//! SQL of the application lives elsewhere; this module hands out connections only.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postgres::Statement;
use postgres::config::{Host, SslMode};
use r2d2::{CustomizeConnection, HandleError, ManageConnection};
use r2d2_postgres::PostgresConnectionManager;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::describe;
use crate::config::{DatabaseConfig, mask_url};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const TCP_TIMEOUT: Duration = Duration::from_secs(30);
/// tokio-postgres's default; a URL that sets `keepalives_idle` explicitly is left alone.
const DEFAULT_KEEPALIVES_IDLE: Duration = Duration::from_secs(2 * 60 * 60);
/// How long `get` waits for a free connection while the database is up (pool exhausted).
const UP_WAIT: Duration = Duration::from_secs(5);
/// How long `get` waits while the database is known to be down: just enough to pick up a
/// connection the background retry may have established meanwhile.
const DOWN_WAIT: Duration = Duration::from_millis(300);
/// `get` waits in slices so that it notices a database going down while it waits.
const SLICE: Duration = Duration::from_millis(100);
const WARN_EVERY: Duration = Duration::from_secs(10);
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A pooled connection; derefs to `postgres::Client`.
pub type Conn = r2d2::PooledConnection<Manager>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbError {
    /// PostgreSQL cannot be reached, the connection broke, or no connection became free in
    /// time. Transient: answer 503 with Retry-After.
    Unavailable(String),
    /// The statement was cancelled by `database.statement_timeout`. Also transient (503).
    Timeout(String),
    /// Any other failure: a bug or a schema problem (500).
    Query(String),
}

impl DbError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, DbError::Unavailable(_))
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Unavailable(m) => write!(f, "database unavailable: {m}"),
            DbError::Timeout(m) => write!(f, "database statement timed out: {m}"),
            DbError::Query(m) => write!(f, "database error: {m}"),
        }
    }
}

impl std::error::Error for DbError {}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> Self {
        let msg = describe(&e);
        if let Some(code) = e.code().map(|c| c.code()) {
            // 08: connection exception; 57P0x: server shutting down / starting up;
            // 53300: too many connections.
            return match code {
                "57014" => DbError::Timeout(msg),
                c if c.starts_with("08") || c.starts_with("57P0") || c == "53300" => {
                    DbError::Unavailable(msg)
                }
                _ => DbError::Query(msg),
            };
        }
        // Without a server error, a closed or failing socket means the connection is gone.
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        if e.is_closed() || io { DbError::Unavailable(msg) } else { DbError::Query(msg) }
    }
}

/// Whether the server answered the last connection attempt; shared by the pool's
/// connection manager (which observes it) and `Db::get` (which acts on it).
#[derive(Debug, Default)]
struct Health {
    state: Mutex<HealthState>,
}

#[derive(Debug, Default)]
struct HealthState {
    down_since: Option<Instant>,
    last_error: Option<String>,
    last_warning: Option<Instant>,
}

impl Health {
    fn lock(&self) -> std::sync::MutexGuard<'_, HealthState> {
        // A panic elsewhere while holding this lock leaves plain data; keep using it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_down(&self) -> bool {
        self.lock().down_since.is_some()
    }

    fn mark_up(&self) {
        let mut s = self.lock();
        if let Some(since) = s.down_since.take() {
            log::info!("PostgreSQL is reachable again (after {}s)", since.elapsed().as_secs());
        }
        s.last_error = None;
    }

    fn mark_down(&self, error: String) {
        let mut s = self.lock();
        s.down_since.get_or_insert_with(Instant::now);
        s.last_error = Some(error);
    }

    fn last_error(&self) -> String {
        self.lock().last_error.clone().unwrap_or_else(|| "no connection could be established".into())
    }

    /// Rate-limited warning: r2d2 retries in the background and would log every attempt.
    fn warn(&self, target: &str, error: &postgres::Error) {
        let mut s = self.lock();
        if s.last_warning.is_some_and(|t| t.elapsed() < WARN_EVERY) {
            return;
        }
        s.last_warning = Some(Instant::now());
        drop(s);
        log::warn!("PostgreSQL at {target}: {} (repeats suppressed for 10 s)", describe(error));
    }
}

/// r2d2's connection manager: r2d2_postgres's, plus bookkeeping of connect outcomes.
pub struct Manager {
    inner: PostgresConnectionManager<MakeRustlsConnect>,
    health: Arc<Health>,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager").field("health", &self.health).finish_non_exhaustive()
    }
}

impl ManageConnection for Manager {
    type Connection = postgres::Client;
    type Error = postgres::Error;

    fn connect(&self) -> Result<postgres::Client, postgres::Error> {
        let result = self.inner.connect();
        match &result {
            Ok(_) => self.health.mark_up(),
            Err(e) => self.health.mark_down(describe(e)),
        }
        result
    }

    /// Runs at every checkout, so it must not cost a round trip: it reads what the server sent
    /// while the connection sat idle (a shutdown's FATAL message, EOF) and only queries, which
    /// then fails, a connection found closed. A server gone without a word is noticed by the
    /// next query instead (a 503 for that request; the pool then drops the connection).
    fn is_valid(&self, conn: &mut postgres::Client) -> Result<(), postgres::Error> {
        use postgres::fallible_iterator::FallibleIterator;
        conn.notifications().iter().count()?;
        if conn.is_closed() {
            return self.inner.is_valid(conn);
        }
        Ok(())
    }

    fn has_broken(&self, conn: &mut postgres::Client) -> bool {
        self.inner.has_broken(conn)
    }
}

#[derive(Debug)]
struct QuietErrors {
    health: Arc<Health>,
    target: String,
}

impl HandleError<postgres::Error> for QuietErrors {
    fn handle_error(&self, error: postgres::Error) {
        self.health.warn(&self.target, &error);
    }
}

/// Per-session settings, applied once to every new connection.
#[derive(Debug)]
struct Session {
    statement_timeout_ms: String,
}

impl CustomizeConnection<postgres::Client, postgres::Error> for Session {
    fn on_acquire(&self, conn: &mut postgres::Client) -> Result<(), postgres::Error> {
        // UTC: the TAXII 2.1 tables hold naive UTC timestamps (OpenTAXII on a UTC server).
        // Every statement reads a page or a few rows: a parallel worker or JIT compilation
        // (which plans estimated over a big table can trigger) costs milliseconds and buys
        // nothing.
        // A 202 or SUCCESS is sent after COMMIT returns, so COMMIT must mean durable: with a
        // server-wide `synchronous_commit = off` (a common tuning tip) a PostgreSQL crash lost
        // acknowledged objects (tests/faults_database.rs, immediate shutdown). `local` is the
        // least that keeps the promise; any other setting the operator chose (on, remote_*)
        // stays.
        conn.execute(
            "SELECT pg_catalog.set_config('TimeZone', 'UTC', false), \
                    pg_catalog.set_config('statement_timeout', $1, false), \
                    pg_catalog.set_config('max_parallel_workers_per_gather', '0', false), \
                    pg_catalog.set_config('jit', 'off', false), \
                    CASE WHEN pg_catalog.current_setting('synchronous_commit') = 'off' \
                         THEN pg_catalog.set_config('synchronous_commit', 'local', false) END",
            &[&self.statement_timeout_ms],
        )
        .map(drop)
    }
}

/// Statements prepared on one pooled connection, by SQL text: a request's statement is parsed
/// and planned once per connection and then costs one round trip per use.
#[derive(Default)]
struct Prepared(HashMap<&'static str, Statement>);

/// `sql` as a statement prepared on `conn`, from the connection's cache (fixed SQL texts only:
/// the cache is never pruned).
///
/// A connection that serves requests plans generically (`plan_cache_mode`): planning a page
/// query costs as much as running it, and PostgreSQL's own choice keeps re-planning any
/// statement with `LIMIT $n` (it costs a generic plan for 10 % of the rows). So every
/// statement a request runs must have a good generic plan: bounds that position an index
/// scan are `coalesce($n, …)`, never switched off by `$n IS NULL OR …`. The administration
/// commands never prepare and keep PostgreSQL's choice.
pub fn prepared(conn: &mut Conn, sql: &'static str) -> Result<Statement, DbError> {
    let ext = r2d2::PooledConnection::extensions(conn);
    if let Some(s) = ext.get::<Prepared>().and_then(|p| p.0.get(sql)) {
        return Ok(s.clone());
    }
    if ext.get::<Prepared>().is_none() {
        // PostgreSQL before 12 has no such setting and plans each execution.
        let _ = conn.batch_execute("SET plan_cache_mode = force_generic_plan");
        r2d2::PooledConnection::extensions_mut(conn).insert(Prepared::default());
    }
    let statement = conn.prepare(sql)?;
    if let Some(p) = r2d2::PooledConnection::extensions_mut(conn).get_mut::<Prepared>() {
        p.0.insert(sql, statement.clone());
    }
    Ok(statement)
}

/// The pool. Cheap to clone; all clones share the connections.
#[derive(Clone, Debug)]
pub struct Db {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: r2d2::Pool<Manager>,
    health: Arc<Health>,
    /// `database.url` with the password masked, for messages.
    target: String,
}

impl Db {
    /// Builds the pool without connecting: connections are made on demand.
    pub fn open(cfg: &DatabaseConfig) -> Result<Db, String> {
        let target = mask_url(&cfg.url);
        let mut pg =
            postgres::Config::from_str(&cfg.url).map_err(|e| format!("database.url {target}: {e}"))?;
        if pg.get_hosts().is_empty() {
            return Err(format!("database.url {target}: no host given"));
        }
        if let Some(password) = &cfg.password {
            pg.password(password);
        }
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(CONNECT_TIMEOUT);
        }
        // A peer that vanished without a reset (dead host, firewall) would otherwise hold a
        // worker for the kernel's ~15 min of retransmissions, or 2 h of keepalive idle.
        if pg.get_tcp_user_timeout().is_none() {
            pg.tcp_user_timeout(TCP_TIMEOUT);
        }
        if pg.get_keepalives_idle() == DEFAULT_KEEPALIVES_IDLE {
            pg.keepalives_idle(TCP_TIMEOUT);
        }
        if pg.get_application_name().is_none() {
            pg.application_name("taxiid");
        }
        let tls = tls_for(&mut pg, cfg.ca_file.as_deref()).map_err(|e| format!("database: {e}"))?;
        let health = Arc::new(Health::default());
        let manager = Manager { inner: PostgresConnectionManager::new(pg, tls), health: health.clone() };
        let pool = r2d2::Pool::builder()
            .max_size(cfg.pool_size.max(1))
            // No eager connections: opening must not block or spam the log.
            .min_idle(Some(0))
            .connection_timeout(UP_WAIT)
            // Drops connections a server restart has closed before handing them out.
            .test_on_check_out(true)
            .error_handler(Box::new(QuietErrors { health: health.clone(), target: target.clone() }))
            .connection_customizer(Box::new(Session {
                statement_timeout_ms: cfg.statement_timeout.as_millis().to_string(),
            }))
            .build_unchecked(manager);
        Ok(Db { inner: Arc::new(Inner { pool, health, target }) })
    }

    /// A connection, or `Unavailable` quickly while the database is down and after at most
    /// 5 s while the pool is exhausted.
    pub fn get(&self) -> Result<Conn, DbError> {
        let start = Instant::now();
        loop {
            let limit = if self.inner.health.is_down() { DOWN_WAIT } else { UP_WAIT };
            let left = limit.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(self.unavailable(start));
            }
            if let Ok(conn) = self.inner.pool.get_timeout(left.min(SLICE)) {
                // A validated checkout proves the server is up even without a new connect.
                self.inner.health.mark_up();
                return Ok(conn);
            }
        }
    }

    fn unavailable(&self, start: Instant) -> DbError {
        if self.inner.health.is_down() {
            DbError::Unavailable(self.inner.health.last_error())
        } else {
            let size = self.inner.pool.max_size();
            DbError::Unavailable(format!(
                "no connection free within {} ms (database.pool_size = {size})",
                start.elapsed().as_millis()
            ))
        }
    }

    /// Startup: waits up to `max` for PostgreSQL to accept a connection.
    pub fn wait_until_up(&self, max: Duration) -> Result<(), String> {
        let start = Instant::now();
        let mut announced = false;
        loop {
            let left = max.saturating_sub(start.elapsed());
            // The pool retries in the background with backoff; this only waits on it.
            if self
                .inner
                .pool
                .get_timeout(left.clamp(Duration::from_millis(100), Duration::from_secs(1)))
                .is_ok()
            {
                self.inner.health.mark_up();
                return Ok(());
            }
            if start.elapsed() >= max {
                break;
            }
            if !announced {
                log::info!("waiting up to {}s for PostgreSQL at {}", max.as_secs(), self.inner.target);
                announced = true;
            }
        }
        Err(format!(
            "PostgreSQL at {} is not reachable after {}s: {}. Check database.url, that PostgreSQL is \
             running and accepts connections from this host (listen_addresses, pg_hba.conf), and the \
             password (database.password_file)",
            self.inner.target,
            start.elapsed().as_secs(),
            self.inner.health.last_error()
        ))
    }

    /// Whether a working connection can be had right now (health checks).
    pub fn is_up(&self) -> bool {
        self.get().is_ok()
    }

    /// Pool usage for metrics, without touching the database: (open connections, idle ones,
    /// `database.pool_size`, whether the last connection attempt failed).
    pub fn usage(&self) -> (u32, u32, u32, bool) {
        let s = self.inner.pool.state();
        (s.connections, s.idle_connections, self.inner.pool.max_size(), self.inner.health.is_down())
    }

    /// `database.url` with its password masked.
    pub fn target(&self) -> &str {
        &self.inner.target
    }
}

/// Chooses TLS for `pg` and returns the connector. Without `database.ca_file`, an absent
/// sslmode or `prefer` means plain TCP (set `sslmode=require` and `database.ca_file` for
/// TLS); `require` without a CA file verifies against the system bundle. With TLS the server
/// certificate and host name are always verified (libpq's verify-full).
fn tls_for(pg: &mut postgres::Config, ca_file: Option<&Path>) -> Result<MakeRustlsConnect, String> {
    // PostgreSQL never offers TLS on unix sockets.
    let all_unix = pg.get_hosts().iter().all(|h| matches!(h, Host::Unix(_)));
    let mode = pg.get_ssl_mode();
    let roots = match (mode, ca_file) {
        _ if all_unix => {
            pg.ssl_mode(SslMode::Disable);
            RootCertStore::empty()
        }
        (SslMode::Disable, Some(ca)) => {
            return Err(format!("ca_file {} is set, but database.url says sslmode=disable", ca.display()));
        }
        (SslMode::Disable, None) => RootCertStore::empty(),
        (SslMode::Prefer, None) => {
            pg.ssl_mode(SslMode::Disable);
            RootCertStore::empty()
        }
        (_, Some(ca)) => {
            pg.ssl_mode(SslMode::Require);
            load_roots(ca, true)?
        }
        (_, None) => load_roots(Path::new(SYSTEM_CA_BUNDLE), false).map_err(|e| {
            format!("sslmode=require without database.ca_file needs the system CA bundle: {e}")
        })?,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// PEM certificates from `path`; `strict` rejects unusable ones (the operator's own CA file)
/// instead of skipping them (a system bundle may hold a few odd ones).
fn load_roots(path: &Path, strict: bool) -> Result<RootCertStore, String> {
    let at = |e: &dyn fmt::Display| format!("{}: {e}", path.display());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| at(&e))? {
        let cert = cert.map_err(|e| at(&e))?;
        match roots.add(cert) {
            Ok(()) => {}
            Err(e) if strict => return Err(at(&e)),
            Err(_) => {}
        }
    }
    if roots.is_empty() {
        return Err(at(&"no CA certificates in it"));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_for(url: &str, ca_file: Option<&Path>) -> Result<SslMode, String> {
        let mut pg = postgres::Config::from_str(url).unwrap();
        tls_for(&mut pg, ca_file).map(|_| pg.get_ssl_mode())
    }

    #[test]
    fn tls_only_when_asked_for() {
        assert_eq!(mode_for("postgresql://u@db.example/x", None), Ok(SslMode::Disable));
        assert_eq!(mode_for("postgresql://u@db.example/x?sslmode=prefer", None), Ok(SslMode::Disable));
        assert_eq!(mode_for("host=/run/postgresql dbname=x sslmode=require", None), Ok(SslMode::Disable));
        let err =
            mode_for("host=db.example sslmode=disable", Some(Path::new("/nonexistent.pem"))).unwrap_err();
        assert!(err.contains("sslmode=disable"), "{err}");
        let err = mode_for("host=db.example", Some(Path::new("/nonexistent.pem"))).unwrap_err();
        assert!(err.contains("/nonexistent.pem"), "{err}");
        if Path::new(SYSTEM_CA_BUNDLE).exists() {
            assert_eq!(mode_for("host=db.example sslmode=require", None), Ok(SslMode::Require));
        }
    }

    #[test]
    fn open_never_connects_and_checks_the_url() {
        let cfg = |url: &str| DatabaseConfig { url: url.into(), ..crate::config::Config::default().database };
        // Nothing listens there; opening must still succeed at once.
        assert!(Db::open(&cfg("postgresql://taxiid:secret@127.0.0.1:1/taxiid")).is_ok());
        assert!(Db::open(&cfg("host=/nonexistent dbname=x")).is_ok());
        let err = Db::open(&cfg("postgresql://taxiid:secret@/taxiid")).unwrap_err();
        assert!(err.contains("no host") && !err.contains("secret"), "{err}");
        assert!(Db::open(&cfg("nonsense=1")).is_err());
    }
}
