//! The taxiid binary as a process: a config file in a fresh directory, `taxiid serve` on an
//! ephemeral loopback port (read back from its "listening on" log line), its stderr kept for
//! assertions, SIGTERM to stop.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_taxiid");

pub struct Taxiid {
    pub addr: SocketAddr,
    pub child: Child,
    pub config: PathBuf,
    logs: Arc<Mutex<String>>,
}

static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A fresh directory for a test's files (config, certificates).
pub fn scratch_dir() -> PathBuf {
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("taxiid-t-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A config file for `conninfo` plus `extra` lines; listens on an ephemeral loopback port.
pub fn write_config(conninfo: &str, extra: &str) -> PathBuf {
    let path = scratch_dir().join("taxiid.conf");
    let text = format!(
        "listen = 127.0.0.1:0\ndatabase.url = {conninfo}\nauth.secret = test-secret-{}\nlog.level = info\n{extra}\n",
        std::process::id()
    );
    std::fs::write(&path, text).unwrap();
    path
}

impl Taxiid {
    /// `taxiid serve` on a database that is already migrated.
    pub fn start(conninfo: &str, extra: &str) -> Taxiid {
        Taxiid::start_with(write_config(conninfo, extra), &[])
    }

    pub fn start_with(config: PathBuf, args: &[&str]) -> Taxiid {
        let mut child = Command::new(BIN)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .args(args)
            .env_remove("JOURNAL_STREAM")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn taxiid");
        let logs = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) =
                    line.split("listening on http://").nth(1).or(line.split("listening on https://").nth(1))
                {
                    let _ = tx.send(addr.trim().parse::<SocketAddr>().unwrap());
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => Taxiid { addr, child, config, logs },
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("taxiid did not start:\n{}", logs.lock().unwrap());
            }
        }
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// SIGTERM and wait for the exit.
    pub fn stop(&mut self) -> ExitStatus {
        signal(self.child.id(), "TERM");
        self.child.wait().unwrap()
    }
}

impl Drop for Taxiid {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().unwrap().success();
    assert!(ok, "kill -{sig} {pid}");
}

/// Runs `taxiid ARGS` to completion: (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    run_env(args, &[])
}

/// [`run`] with extra environment variables.
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("JOURNAL_STREAM")
        .envs(env.iter().copied())
        .output()
        .expect("run taxiid");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
