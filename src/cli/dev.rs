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
    let pg = cluster_dir(&dir)?;
    eprintln!("taxiid dev: starting PostgreSQL in {}", pg.display());
    let mut cluster = Cluster::start(&pg, ClusterOptions { ephemeral: false })?;
    let result = serve_on(&mut cfg, &cluster, &dir, opts.listen);
    let stopped = cluster.stop();
    result.and(stopped)
}

/// `DIR/pg`, unless we run as root and PostgreSQL's user cannot enter DIR (a clone under
/// root's 0700 home, the usual case on a fresh server): then a directory under /var/tmp named
/// after DIR, kept across runs and reboots like DIR itself.
fn cluster_dir(dir: &std::path::Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::MetadataExt;
    if crate::db::cluster::server_can_enter(dir)? {
        return Ok(dir.join("pg"));
    }
    // FNV-1a of the path: stable across runs, different per state directory.
    let hash = dir
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    let parent = PathBuf::from(format!("/var/tmp/taxiid-dev-{hash:016x}"));
    match std::fs::symlink_metadata(&parent) {
        // /var/tmp is world-writable: adopt only a directory root made.
        Ok(m) if !m.is_dir() || m.uid() != 0 => {
            return Err(format!("{} exists and is not root's directory: remove it", parent.display()));
        }
        Ok(_) => {}
        Err(_) => std::fs::create_dir(&parent).map_err(|e| format!("{}: {e}", parent.display()))?,
    }
    eprintln!(
        "taxiid dev: PostgreSQL runs as an unprivileged user that cannot enter {}; its cluster lives in {}",
        dir.display(),
        parent.display()
    );
    Ok(parent.join("pg"))
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
    // Single quotes: the generated password is letters and digits, safe in any shell.
    let basic = format!("admin:{}", seeded.admin_password.as_deref().unwrap_or("PASSWORD"));
    let first = seeded.collections.first().map_or("COLLECTION", |(id, _)| id.as_str());
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
         \x20   curl -u '{basic}' -H 'Accept: application/taxii+json;version=2.1' {base}/taxii2/\n\
         \x20   curl -u '{basic}' -H 'Accept: application/taxii+json;version=2.1' \\\n\
         \x20        '{base}/taxii2/{root}/collections/{first}/objects/?limit=5'\n\
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
