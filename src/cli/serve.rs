//! `taxiid serve` and `taxiid migrate`: take the sockets systemd passed (socket activation),
//! open the database (waiting for it at startup), check or apply the schema, bind the
//! listeners, tell systemd we are ready, and serve until SIGTERM/SIGINT. SIGHUP re-reads the
//! configuration file and applies what can change without a restart: `log.level` and the TLS
//! certificate (new handshakes get the new one; open connections are not touched).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::config::{Bind, Config};
use crate::db::{self, Db};
use crate::http::tls::CertStore;
use crate::http::{self, Limits, Listener, Server};
use crate::server::Taxiid;
use crate::systemd;

pub fn migrate(cfg: &Config) -> Result<(), String> {
    let db = open_db(cfg)?;
    let mut conn = db.get().map_err(|e| e.to_string())?;
    let applied = db::migrate::migrate(&mut conn).map_err(|e| format!("migration failed: {e}"))?;
    if applied.is_empty() {
        println!("schema is current (version {})", db::migrate::LATEST);
    } else {
        let v: Vec<String> = applied.iter().map(|v| v.to_string()).collect();
        println!("applied migrations {}; schema is at version {}", v.join(", "), db::migrate::LATEST);
    }
    Ok(())
}

/// `taxiid serve`: `path` is the configuration file SIGHUP re-reads.
pub fn serve(cfg: Config, migrate: bool, path: &Path) -> Result<(), String> {
    let (server, certs) = start_reloadable(cfg.clone(), migrate)?;
    let reload = Reload { path: path.to_path_buf(), running: cfg, certs };
    run_until_signalled(server, Some(reload))
}

fn open_db(cfg: &Config) -> Result<Db, String> {
    let db = Db::open(&cfg.database)?;
    db.wait_until_up(cfg.database.startup_wait)?;
    Ok(db)
}

/// Everything up to the first accepted connection: database, schema, listeners.
pub fn start(cfg: Config, migrate: bool) -> Result<Server<Taxiid>, String> {
    start_reloadable(cfg, migrate).map(|(server, _)| server)
}

/// [`start`], also returning the TLS certificate store a reload swaps certificates in.
fn start_reloadable(cfg: Config, migrate: bool) -> Result<(Server<Taxiid>, Option<Arc<CertStore>>), String> {
    // First, before any other file is opened: see `systemd::listeners`.
    let mut passed = match cfg.listen.iter().any(|l| l.bind == Bind::Systemd) {
        true => Some(systemd::listeners()?),
        false => None,
    };
    crate::server::check_secret(cfg.auth.secret.as_deref())?;
    let db = open_db(&cfg)?;
    {
        let mut conn = db.get().map_err(|e| e.to_string())?;
        let pending = db::migrate::pending(&mut conn).map_err(|e| e.to_string())?;
        if !pending.is_empty() {
            if !migrate {
                return Err(format!(
                    "the database schema is not current ({} migrations pending): run `taxiid migrate` \
                     (or start with `taxiid serve --migrate`)",
                    pending.len()
                ));
            }
            db::migrate::migrate(&mut conn).map_err(|e| format!("migration failed: {e}"))?;
            log::info!("database migrated to version {}", db::migrate::LATEST);
        }
    }
    let (tls, certs) = match (&cfg.tls_certificate, &cfg.tls_private_key) {
        (Some(c), Some(k)) if cfg.listen.iter().any(|l| l.tls) => {
            let (tls, certs) = http::tls::reloadable_server_config(c, k)?;
            (Some(tls), Some(certs))
        }
        _ => (None, None),
    };
    let mut listeners = Vec::new();
    let mut schemes = Vec::new();
    for l in &cfg.listen {
        let sockets = match &l.bind {
            Bind::Addr(a) => vec![TcpListener::bind(a).map_err(|e| format!("cannot listen on {a}: {e}"))?],
            Bind::Systemd => {
                let sockets = passed.take().unwrap_or_default();
                log::info!("serving {} sockets passed by systemd", sockets.len());
                sockets
            }
        };
        for socket in sockets {
            listeners.push(Listener { socket, tls: if l.tls { tls.clone() } else { None } });
            schemes.push(if l.tls { "https" } else { "http" });
        }
    }
    let limits = Limits::from_config(&cfg.http);
    let app = Arc::new(Taxiid::new(Arc::new(cfg), db));
    // TAXII 1 addresses known from the start, so that a refusal before the first TAXII 1
    // request (413, 503, …) already reaches a TAXII 1 client as a Status_Message.
    if let Ok(rows) = app.db.get().and_then(|mut c| crate::db::taxii1::services(&mut c)) {
        app.taxii1.load(&rows);
    }
    let server = Server::new(listeners, limits, app).map_err(|e| format!("cannot start the server: {e}"))?;
    for (addr, scheme) in server.local_addrs().iter().zip(schemes) {
        log::info!("listening on {scheme}://{addr}");
    }
    Ok((server, certs))
}

/// Serves until SIGTERM/SIGINT, then drains in-flight requests.
pub fn run<A: http::App>(server: Server<A>) -> Result<(), String> {
    run_until_signalled(server, None)
}

/// Runs the server with a thread that turns signals into shutdown or reload and tells
/// systemd about each state (READY, RELOADING, STOPPING).
fn run_until_signalled<A: http::App>(server: Server<A>, mut reload: Option<Reload>) -> Result<(), String> {
    let stop = server.handle();
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])
        .map_err(|e| format!("signal handler: {e}"))?;
    let signals_handle = signals.handle();
    let watcher = std::thread::Builder::new()
        .name("taxiid-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if sig != SIGHUP {
                    systemd::notify("STOPPING=1");
                    stop.shutdown();
                } else if let Some(r) = reload.as_mut() {
                    systemd::notify("RELOADING=1");
                    r.apply();
                    systemd::notify("READY=1\nSTATUS=serving");
                } else {
                    log::info!("SIGHUP ignored: no configuration file to reload");
                }
            }
        })
        .map_err(|e| format!("signal thread: {e}"))?;
    install_panic_hook();
    // Listeners are bound and the database answered: connections are accepted from here on.
    systemd::notify("READY=1\nSTATUS=serving");
    let result = server.run();
    signals_handle.close();
    let _ = watcher.join();
    result.map_err(|e| format!("server failed: {e}"))?;
    log::info!("stopped");
    Ok(())
}

/// What SIGHUP needs: the file, the configuration the process started with (to report
/// changes that need a restart), and the TLS certificate store.
struct Reload {
    path: PathBuf,
    running: Config,
    certs: Option<Arc<CertStore>>,
}

/// Keys a reload applies; changes to any other key wait for a restart.
const RELOADABLE: &[&str] = &["log.level", "tls.certificate", "tls.private_key"];

impl Reload {
    /// Applies what can change at run time; on any error the running settings stay.
    fn apply(&mut self) {
        let new = match Config::load(&self.path, false) {
            Ok(c) => c,
            Err(e) => return log::error!("reload: {e}; the running configuration stays"),
        };
        if let Some(store) = &self.certs {
            match (&new.tls_certificate, &new.tls_private_key) {
                (Some(c), Some(k)) => match store.replace(c, k) {
                    Ok(()) => log::info!("reload: TLS certificate loaded from {}", c.display()),
                    Err(e) => log::error!("reload: {e}; the current certificate stays"),
                },
                _ => log::warn!("reload: no tls.certificate/tls.private_key; the current certificate stays"),
            }
        }
        crate::logging::set_level(new.log_level);
        let (old, now) = (self.running.render(), new.render());
        let changed: Vec<&str> = now
            .lines()
            .filter(|line| !old.lines().any(|o| o == *line))
            .filter_map(|line| line.split(" = ").next())
            .filter(|key| !RELOADABLE.contains(key))
            .collect();
        if !changed.is_empty() {
            log::warn!("reload: changes to {} take effect at the next restart", changed.join(", "));
        }
        log::info!(
            "configuration reloaded from {} (log.level = {})",
            self.path.display(),
            new.log_level.to_string().to_lowercase()
        );
    }
}

/// One error line per panic, through the logger (so journald keeps its priority).
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        log::error!("panic in {}: {info}", thread.name().unwrap_or("?"));
    }));
}
