//! `taxiid dev`: the README's run command. A private PostgreSQL cluster under a state
//! directory (created on the first run, reused later), migrated and seeded with example data,
//! and the real server on top. Ctrl-C stops both.

use std::path::PathBuf;

use crate::config::{self, Config};
use crate::db::cluster::{Cluster, ClusterOptions};
use crate::db::{self, Db};

use super::serve;

pub struct Options {
    pub dir: PathBuf,
    pub listen: Option<String>,
}

pub fn run(mut cfg: Config, opts: Options) -> Result<(), String> {
    std::fs::create_dir_all(&opts.dir).map_err(|e| format!("{}: {e}", opts.dir.display()))?;
    let dir = opts.dir.canonicalize().map_err(|e| format!("{}: {e}", opts.dir.display()))?;
    eprintln!("taxiid dev: starting PostgreSQL in {}", dir.join("pg").display());
    let mut cluster = Cluster::start(&dir.join("pg"), ClusterOptions { ephemeral: false })?;
    let result = serve_on(&mut cfg, &cluster, &dir, opts.listen);
    let stopped = cluster.stop();
    result.and(stopped)
}

fn serve_on(
    cfg: &mut Config,
    cluster: &Cluster,
    dir: &std::path::Path,
    listen: Option<String>,
) -> Result<(), String> {
    let mut admin = cluster.connect("postgres")?;
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = 'taxiid'", &[])
        .map_err(|e| e.to_string())?
        .is_some();
    if !exists {
        cluster.create_database("taxiid", None)?;
    }
    cfg.database.url = cluster.conninfo("taxiid");
    if let Some(l) = listen {
        cfg.listen = config::parse_listen(&l).map_err(|e| format!("--listen: {e}"))?;
    }
    if cfg.auth.secret.is_none() {
        cfg.auth.secret = Some(dev_secret(dir)?);
    }
    let db = Db::open(&cfg.database)?;
    let seeded = {
        let mut conn = db.get().map_err(|e| e.to_string())?;
        db::migrate::migrate(&mut conn).map_err(|e| format!("migration failed: {e}"))?;
        db::seed::example_data(&mut *conn).map_err(|e| e.to_string())?
    };
    drop(db);
    let server = serve::start(cfg.clone(), false)?;
    let base = server
        .local_addrs()
        .first()
        .map(|a| format!("{}://{a}", if cfg.listen[0].tls { "https" } else { "http" }))
        .unwrap_or_default();
    let password = match &seeded.admin_password {
        Some(p) => format!("{p}   (shown only now: note it)"),
        None => "(printed on the first run; remove the state directory to start over)".into(),
    };
    let collections: Vec<String> =
        seeded.collections.iter().map(|(id, t)| format!("    {id}  {t}")).collect();
    let taxii1: Vec<String> =
        seeded.taxii1_services.iter().map(|(kind, path)| format!("    {kind:<22} {base}{path}")).collect();
    println!(
        "\n\
         taxiid dev is serving on {base}\n\
         \n  admin account:  admin\n  password:       {password}\n\
         \n  API root:       {root}\n  collections:\n{cols}\n\
         \n  TAXII 1 services (collections {t1cols}):\n{t1}\n\
         \n  Try:\n    curl {base}/management/health\n    curl {base}/management/ready\n\
         \x20   taxii-discovery --path {base}/services/discovery   (cabby)\n\
         \n  Ctrl-C stops the server and the PostgreSQL cluster; data stays in {dir}.\n",
        root = seeded.api_root,
        cols = collections.join("\n"),
        t1cols = seeded.taxii1_collections.join(", "),
        t1 = taxii1.join("\n"),
        dir = dir.display()
    );
    serve::run(server)
}

/// A signing secret generated once per state directory, so tokens survive restarts.
fn dev_secret(dir: &std::path::Path) -> Result<String, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join("auth-secret");
    if let Ok(s) = std::fs::read_to_string(&path)
        && !s.trim().is_empty()
    {
        return Ok(s.trim().to_string());
    }
    let secret = crate::auth::password::random_token(48);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    std::io::Write::write_all(&mut f, secret.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(secret)
}
