//! A small logger to stderr behind the `log` facade. Under systemd (`JOURNAL_STREAM` set) lines
//! carry `<N>` syslog priorities so journald keeps levels; elsewhere they start with an RFC 3339
//! time, the level and the target. The level can change at run time (SIGHUP reload).

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

static LEVEL: AtomicUsize = AtomicUsize::new(3);

struct Logger {
    journal: bool,
}

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata) -> bool {
        (m.level() as usize) <= LEVEL.load(Ordering::Relaxed)
    }

    fn log(&self, r: &log::Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        // Our own crates only below info: dependencies are noisy at debug.
        if r.level() > log::Level::Info && !r.target().starts_with("taxiid") {
            return;
        }
        let line = if self.journal {
            let prio = match r.level() {
                log::Level::Error => 3,
                log::Level::Warn => 4,
                log::Level::Info => 6,
                log::Level::Debug | log::Level::Trace => 7,
            };
            format!("<{prio}>{}: {}\n", r.target(), r.args())
        } else {
            format!(
                "{} {:<5} {}: {}\n",
                crate::timefmt::rfc3339(crate::timefmt::now()),
                r.level(),
                r.target(),
                r.args()
            )
        };
        // One write per line so concurrent workers never interleave within a line.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Installs the logger once; later calls only change the level.
pub fn init(level: log::LevelFilter) {
    set_level(level);
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    if log::set_boxed_logger(Box::new(Logger { journal })).is_ok() {
        log::set_max_level(log::LevelFilter::Trace);
    }
}

pub fn set_level(level: log::LevelFilter) {
    LEVEL.store(level as usize, Ordering::Relaxed);
}
