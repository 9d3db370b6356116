//! A private PostgreSQL cluster in a directory of its own, for `taxiid dev` and the test
//! suite (both use this same code). It runs `initdb` on first use, starts `postgres` as our
//! child listening only on a unix socket inside that directory, and guarantees that no
//! server outlives its owner: a guardian shell process holds the read end of a pipe whose
//! write end only we have, and when our process dies (even by SIGKILL) the guardian sees
//! EOF, shuts the server down and, for ephemeral clusters, removes the directory.
//!
//! Not for production: authentication is `trust` (the socket directory is mode 0700), and
//! ephemeral clusters run with fsync off.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::describe;

/// The port only names the socket file (`.s.PGSQL.<port>`); the directory is private.
pub const PORT: u16 = 5432;
/// The cluster's superuser (initdb `-U`).
pub const SUPERUSER: &str = "taxiid";

const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Fast shutdown normally takes well under a second; escalate if it does not.
const STOP_ESCALATE_AFTER: Duration = Duration::from_secs(20);
const UNIX_PATH_MAX: usize = 107;

/// The guardian: `$1` = cluster directory, `$2` = 1 if ephemeral. Each line on stdin is the
/// pid to watch (`0` = none). EOF means the owner is gone: fast-shut the server (escalating
/// to immediate, then kill) and remove an ephemeral directory. A zombie counts as gone,
/// because PID 1 in a container may never reap the orphaned server.
const GUARDIAN: &str = r#"
trap '' HUP INT
pid=0
while IFS= read -r line; do pid=$line; done
alive() {
    state=$(sed 's/.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null)
    [ -n "$state" ] && [ "$state" != Z ]
}
if [ "$pid" -gt 0 ] 2>/dev/null; then
    kill -s INT "$pid" 2>/dev/null
    n=0
    while alive "$pid"; do
        n=$((n + 1))
        [ "$n" -eq 200 ] && kill -s QUIT "$pid" 2>/dev/null
        [ "$n" -eq 300 ] && kill -s KILL "$pid" 2>/dev/null
        sleep 0.05
    done
fi
if [ "$2" = 1 ]; then rm -rf -- "$1"; fi
"#;

#[derive(Clone, Copy, Debug, Default)]
pub struct ClusterOptions {
    /// Remove the directory when the cluster is dropped or its owning process dies, and
    /// trade durability for speed (fsync off). For tests.
    pub ephemeral: bool,
}

/// The unprivileged account the server runs as when we are root (PostgreSQL refuses root).
#[derive(Clone, Debug)]
struct RunAs {
    name: String,
    uid: u32,
    gid: u32,
}

#[derive(Debug)]
struct Guardian {
    child: Child,
    /// Dropping this closes the pipe: the guardian's signal to clean up.
    pipe: Option<ChildStdin>,
}

#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    opts: ClusterOptions,
    bin: PathBuf,
    run_as: Option<RunAs>,
    postgres: Option<Child>,
    guardian: Guardian,
}

impl Cluster {
    /// Creates `dir` if needed, runs initdb unless `dir/data` already holds a cluster, starts
    /// the server and waits until it accepts connections.
    pub fn start(dir: &Path, opts: ClusterOptions) -> Result<Cluster, String> {
        let bin = server_bin_dir()?;
        // The directory is deleted afterwards: never adopt one that holds anything.
        if opts.ephemeral && fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
            return Err(format!("{}: an ephemeral cluster needs a new or empty directory", dir.display()));
        }
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let dir = dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))?;
        check_dir_name(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot chmod {}: {e}", dir.display()))?;
        check_not_running(&dir.join("data"))?;
        let run_as = if running_as_root() { Some(unprivileged_user()?) } else { None };
        // From here on the guardian removes an ephemeral directory even if we die mid-way.
        let guardian = spawn_guardian(&dir, opts.ephemeral)?;
        let mut cluster = Cluster { dir, opts, bin, run_as, postgres: None, guardian };
        cluster.prepare()?;
        cluster.start_again()?;
        Ok(cluster)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory holding the server's unix socket (the cluster directory itself).
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    pub fn port(&self) -> u16 {
        PORT
    }

    pub fn superuser(&self) -> &str {
        SUPERUSER
    }

    /// The server log (initdb and postgres output).
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// The postmaster's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.postgres.as_ref().map(Child::id)
    }

    /// key=value conninfo over the unix socket.
    pub fn conninfo(&self, dbname: &str) -> String {
        format!(
            "host={} port={PORT} user={SUPERUSER} dbname={}",
            conninfo_value(&self.dir.to_string_lossy()),
            conninfo_value(dbname)
        )
    }

    /// A plain (no TLS) connection as the superuser.
    pub fn connect(&self, dbname: &str) -> Result<postgres::Client, String> {
        postgres::Client::connect(&self.conninfo(dbname), postgres::NoTls)
            .map_err(|e| format!("cannot connect to the cluster in {}: {e}", self.dir.display()))
    }

    /// `CREATE DATABASE name [TEMPLATE template]`.
    pub fn create_database(&self, name: &str, template: Option<&str>) -> Result<(), String> {
        // Identifiers cannot be bind parameters; they are quoted instead.
        let mut sql = format!("CREATE DATABASE {}", quote_ident(name));
        if let Some(t) = template {
            sql.push_str(&format!(" TEMPLATE {}", quote_ident(t)));
        }
        let mut client = self.connect("postgres")?;
        client.batch_execute(&sql).map_err(|e| format!("{sql}: {}", describe(&e)))
    }

    /// Fast shutdown (SIGINT) and wait for the server to exit. A no-op when not running.
    pub fn stop(&mut self) -> Result<(), String> {
        let Some(mut child) = self.postgres.take() else { return Ok(()) };
        let pid = child.id();
        let _ = signal(pid, "INT");
        let start = Instant::now();
        let mut escalated = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) => {}
                Err(e) => return Err(format!("waiting for postgres (pid {pid}): {e}")),
            }
            if start.elapsed() > STOP_ESCALATE_AFTER && !escalated {
                log::warn!("postgres (pid {pid}) ignored fast shutdown; sending SIGQUIT");
                let _ = signal(pid, "QUIT");
                escalated = true;
            } else if start.elapsed() > STOP_ESCALATE_AFTER * 2 {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            sleep(Duration::from_millis(20));
        };
        // Reaped: the pid may be reused, so the guardian must forget it.
        self.tell_guardian(0);
        match status {
            Some(_) if !escalated => Ok(()),
            _ => Err(format!("postgres (pid {pid}) had to be killed; see {}", self.log_path().display())),
        }
    }

    /// Starts the server on the existing data directory (after `stop`, or from `start`).
    pub fn start_again(&mut self) -> Result<(), String> {
        if self.postgres.is_some() {
            return Ok(());
        }
        check_not_running(&self.dir.join("data"))?;
        let log = self.open_log()?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(self.bin.join("postgres"));
        cmd.arg("-D").arg(self.dir.join("data"));
        let mut settings = vec![
            "listen_addresses=".to_string(),
            format!("unix_socket_directories={}", self.dir.display()),
            "unix_socket_permissions=0700".to_string(),
            format!("port={PORT}"),
        ];
        if self.opts.ephemeral {
            // Test clusters: speed over durability, and room for many parallel pools.
            settings.extend(
                ["fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=300"]
                    .map(String::from),
            );
        }
        for s in settings {
            cmd.arg("-c").arg(s);
        }
        cmd.stdin(Stdio::null()).stdout(log).stderr(log2);
        let child = self.spawn(cmd).map_err(|e| format!("cannot start postgres: {e}"))?;
        self.tell_guardian(child.id());
        self.postgres = Some(child);
        self.wait_ready()
    }

    /// Directory ownership, the traversal check and initdb: everything before the server.
    fn prepare(&mut self) -> Result<(), String> {
        let data = self.dir.join("data");
        self.open_log()?;
        if let Some(u) = &self.run_as {
            run(Command::new("chown").arg("-R").arg(format!("{}:{}", u.uid, u.gid)).arg(&self.dir))?;
            let reachable = Command::new("sh")
                .args(["-c", r#"cd -- "$1" && test -w ."#, "sh"])
                .arg(&self.dir)
                .uid(u.uid)
                .gid(u.gid)
                .stderr(Stdio::null())
                .status()
                .map_err(|e| format!("cannot run sh: {e}"))?;
            if !reachable.success() {
                return Err(format!(
                    "PostgreSQL refuses to run as root, so it runs as `{}`, but that user cannot reach {} \
                     (a parent directory is not searchable by it, e.g. a 0700 home directory); use a \
                     directory under /tmp or /var/lib, or make its parents searchable",
                    u.name,
                    self.dir.display()
                ));
            }
        }
        if data.join("PG_VERSION").exists() {
            return Ok(());
        }
        if data.exists() {
            return Err(format!(
                "{} exists but holds no PostgreSQL cluster (an interrupted initdb?); remove it",
                data.display()
            ));
        }
        let log = self.open_log()?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(self.bin.join("initdb"));
        cmd.arg("-D").arg(&data).args([
            "--auth=trust",
            &format!("--username={SUPERUSER}"),
            "--encoding=UTF8",
            "--no-locale",
        ]);
        if self.opts.ephemeral {
            cmd.arg("--no-sync");
        }
        cmd.stdin(Stdio::null()).stdout(log).stderr(log2);
        let status =
            self.spawn(cmd).and_then(|mut c| c.wait()).map_err(|e| format!("cannot run initdb: {e}"))?;
        if !status.success() {
            return Err(format!("initdb failed ({status}):\n{}", self.log_tail()));
        }
        Ok(())
    }

    /// Spawns a server-side program: as the unprivileged user when we are root, in the
    /// cluster directory, and in its own process group so a terminal's Ctrl-C reaches only
    /// us (we then stop the server in order).
    fn spawn(&self, mut cmd: Command) -> std::io::Result<Child> {
        cmd.current_dir(&self.dir).process_group(0);
        if let Some(u) = &self.run_as {
            cmd.uid(u.uid).gid(u.gid);
        }
        cmd.spawn()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let start = Instant::now();
        let conninfo = self.conninfo("postgres");
        loop {
            let last = match postgres::Client::connect(&conninfo, postgres::NoTls) {
                Ok(_) => return Ok(()),
                Err(e) => describe(&e),
            };
            let exited = match self.postgres.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => Some(status.to_string()),
                Some(Err(e)) => Some(e.to_string()),
                _ => None,
            };
            if let Some(status) = exited {
                self.postgres = None;
                self.tell_guardian(0);
                return Err(format!("postgres exited during startup ({status}):\n{}", self.log_tail()));
            }
            if start.elapsed() > READY_TIMEOUT {
                let _ = self.stop();
                return Err(format!(
                    "postgres did not accept connections within {}s ({last}):\n{}",
                    READY_TIMEOUT.as_secs(),
                    self.log_tail()
                ));
            }
            sleep(Duration::from_millis(50));
        }
    }

    fn tell_guardian(&mut self, pid: u32) {
        if let Some(pipe) = self.guardian.pipe.as_mut()
            && let Err(e) = writeln!(pipe, "{pid}")
        {
            log::warn!("cluster guardian for {} is gone: {e}", self.dir.display());
        }
    }

    fn open_log(&self) -> Result<File, String> {
        let path = self.log_path();
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            log::warn!("{e}");
        }
        // EOF: the guardian removes an ephemeral directory; waiting makes that synchronous.
        drop(self.guardian.pipe.take());
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if !matches!(self.guardian.child.try_wait(), Ok(None)) {
                return;
            }
            sleep(Duration::from_millis(10));
        }
        log::warn!("cluster guardian for {} did not finish", self.dir.display());
    }
}

fn spawn_guardian(dir: &Path, ephemeral: bool) -> Result<Guardian, String> {
    // std creates pipes close-on-exec, so no later child inherits our write end: the pipe
    // closes exactly when this process dies or drops the Cluster.
    let mut child = Command::new("sh")
        .args(["-c", GUARDIAN, "taxiid-cluster-guardian"])
        .arg(dir)
        .arg(if ephemeral { "1" } else { "0" })
        .current_dir("/")
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the cluster guardian (sh): {e}"))?;
    let pipe = child.stdin.take();
    Ok(Guardian { child, pipe })
}

/// Refuses a data directory whose postmaster is alive (postgres itself clears stale pid files).
fn check_not_running(data: &Path) -> Result<(), String> {
    let Ok(text) = fs::read_to_string(data.join("postmaster.pid")) else { return Ok(()) };
    let Some(pid) = text.lines().next().and_then(|l| l.trim().parse::<u32>().ok()) else { return Ok(()) };
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.trim() == "postgres" && process_alive(pid) {
        return Err(format!(
            "a PostgreSQL server (pid {pid}) is already running on {}; stop it first \
             (is another `taxiid dev` using this directory?)",
            data.display()
        ));
    }
    Ok(())
}

/// True while `pid` exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // The state follows the parenthesised command name, which may itself contain ") ".
    stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z'))
}

/// Whether the user PostgreSQL will run as can enter `dir` (always, unless we are root and a
/// parent such as a 0700 home directory shuts the `postgres` user out).
pub fn server_can_enter(dir: &Path) -> Result<bool, String> {
    if !running_as_root() {
        return Ok(true);
    }
    let u = unprivileged_user()?;
    let status = Command::new("sh")
        .args(["-c", r#"cd -- "$1""#, "sh"])
        .arg(dir)
        .uid(u.uid)
        .gid(u.gid)
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    Ok(status.success())
}

/// `/proc/self` is owned by the effective uid.
fn running_as_root() -> bool {
    fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

fn unprivileged_user() -> Result<RunAs, String> {
    let passwd = fs::read_to_string("/etc/passwd").map_err(|e| format!("/etc/passwd: {e}"))?;
    let find = |wanted: &str| {
        passwd.lines().find_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 4 || f[0] != wanted {
                return None;
            }
            Some(RunAs { name: wanted.to_string(), uid: f[2].parse().ok()?, gid: f[3].parse().ok()? })
        })
    };
    find("postgres")
        .or_else(|| find("nobody"))
        .ok_or_else(|| "running as root, and neither a `postgres` nor a `nobody` user exists".to_string())
}

fn check_dir_name(dir: &Path) -> Result<(), String> {
    let s = dir.to_string_lossy();
    // unix_socket_directories is a comma-separated list with "quoting".
    if s.contains([',', '"']) {
        return Err(format!("{s}: a cluster directory may not contain `,` or `\"`"));
    }
    if s.len() + format!("/.s.PGSQL.{PORT}").len() > UNIX_PATH_MAX {
        return Err(format!("{s}: path too long for a unix socket; use a shorter directory"));
    }
    Ok(())
}

/// The directory holding `postgres` and `initdb` of one PostgreSQL version: the one found on
/// PATH (symlinks resolved, so Debian's wrappers lead to the real bin dir), else the highest
/// `/usr/lib/postgresql/<version>/bin` (Debian installs the server only there).
pub fn server_bin_dir() -> Result<PathBuf, String> {
    let has_server = |d: &Path| d.join("postgres").is_file() && d.join("initdb").is_file();
    if let Some(p) = on_path("postgres")
        && let Some(d) = p.canonicalize().ok().and_then(|p| p.parent().map(Path::to_path_buf))
        && has_server(&d)
    {
        return Ok(d);
    }
    let mut versions: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v =
                e.file_name().to_string_lossy().split('.').map(|n| n.parse().ok()).collect::<Option<_>>()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, d)| has_server(d))
        .collect();
    versions.sort();
    versions.pop().map(|(_, d)| d).ok_or_else(|| {
        "PostgreSQL server programs (initdb, postgres) not found on PATH or in /usr/lib/postgresql/*/bin; \
         install the postgresql package"
            .to_string()
    })
}

/// A PostgreSQL program (`pg_dump`, `psql`, ...), preferring the server's own version.
pub fn find_binary(name: &str) -> Result<PathBuf, String> {
    if let Ok(d) = server_bin_dir()
        && d.join(name).is_file()
    {
        return Ok(d.join(name));
    }
    on_path(name).ok_or_else(|| format!("{name} not found; install the postgresql package"))
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(())
}

/// Sends a signal through the shell's `kill` builtin (std has no safe kill(2)).
fn signal(pid: u32, sig: &str) -> Result<(), String> {
    run(Command::new("sh").args(["-c", r#"kill -s "$1" "$2""#, "sh", sig, &pid.to_string()]))
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A conninfo value, quoted when it contains anything but plain characters.
fn conninfo_value(v: &str) -> String {
    if !v.is_empty() && !v.contains([' ', '\'', '\\']) {
        return v.to_string();
    }
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conninfo_values_are_quoted_when_needed() {
        assert_eq!(conninfo_value("/tmp/x"), "/tmp/x");
        assert_eq!(conninfo_value("a b"), "'a b'");
        assert_eq!(conninfo_value(r"it's\"), r"'it\'s\\'");
        assert_eq!(conninfo_value(""), "''");
        let pg: postgres::Config = format!("host={} dbname=x", conninfo_value("/tmp/a b")).parse().unwrap();
        assert_eq!(pg.get_hosts(), &[postgres::config::Host::Unix("/tmp/a b".into())]);
    }

    #[test]
    fn liveness_from_proc() {
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(u32::MAX));
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident(r#"t_1"#), r#""t_1""#);
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
    }
}
