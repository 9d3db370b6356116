//! `taxiid serve` and `taxiid migrate`: open the database (waiting for it at startup), check or
//! apply the schema, bind the listeners, and run the server until SIGTERM/SIGINT.

use std::net::TcpListener;
use std::sync::Arc;

use crate::config::Config;
use crate::db::{self, Db};
use crate::http::{self, Limits, Listener, Server};
use crate::server::Taxiid;

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

pub fn serve(cfg: Config, migrate: bool) -> Result<(), String> {
    let server = start(cfg, migrate)?;
    run(server)
}

fn open_db(cfg: &Config) -> Result<Db, String> {
    let db = Db::open(&cfg.database)?;
    db.wait_until_up(cfg.database.startup_wait)?;
    Ok(db)
}

/// Everything up to the first accepted connection: database, schema, listeners.
pub fn start(cfg: Config, migrate: bool) -> Result<Server<Taxiid>, String> {
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
    let tls = match (&cfg.tls_certificate, &cfg.tls_private_key) {
        (Some(c), Some(k)) if cfg.listen.iter().any(|l| l.tls) => Some(http::tls::server_config(c, k)?),
        _ => None,
    };
    let mut listeners = Vec::new();
    for l in &cfg.listen {
        let socket = TcpListener::bind(l.addr).map_err(|e| format!("cannot listen on {}: {e}", l.addr))?;
        listeners.push(Listener { socket, tls: if l.tls { tls.clone() } else { None } });
    }
    let schemes: Vec<&str> = cfg.listen.iter().map(|l| if l.tls { "https" } else { "http" }).collect();
    let limits = Limits::from_config(&cfg.http);
    let app = Arc::new(Taxiid::new(Arc::new(cfg), db));
    let server = Server::new(listeners, limits, app).map_err(|e| format!("cannot start the server: {e}"))?;
    for (addr, scheme) in server.local_addrs().iter().zip(schemes) {
        log::info!("listening on {scheme}://{addr}");
    }
    Ok(server)
}

/// Serves until SIGTERM/SIGINT, then drains in-flight requests.
pub fn run<A: http::App>(server: Server<A>) -> Result<(), String> {
    let stop = server.handle().stop_flag();
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).map_err(|e| format!("signal handler: {e}"))?;
    }
    install_panic_hook();
    server.run().map_err(|e| format!("server failed: {e}"))?;
    log::info!("stopped");
    Ok(())
}

/// One error line per panic, through the logger (so journald keeps its priority).
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        log::error!("panic in {}: {info}", thread.name().unwrap_or("?"));
    }));
}
