//! systemd integration without libsystemd: readiness notifications (`sd_notify(3)`) and socket
//! activation (`sd_listen_fds(3)`). Both protocols are a few lines each, so taxiid speaks them
//! itself instead of linking libsystemd (the binary is static) or adding a crate.
//!
//! - [`notify`] sends one datagram to `$NOTIFY_SOCKET` (a path, or `@name` for an abstract
//!   socket); the kernel attaches our pid, which is all `NotifyAccess=main` needs.
//! - [`listeners`] adopts the sockets systemd passed as fds 3.. when `LISTEN_PID` is ours.

use std::ffi::OsStr;
use std::io;
use std::net::TcpListener;
use std::os::fd::{FromRawFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::atomic::{AtomicBool, Ordering};

/// First fd passed by the service manager (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;

/// Tells the service manager about a state change (`READY=1`, `RELOADING=1`, `STOPPING=1`,
/// `STATUS=…`, several separated by newlines). Without `$NOTIFY_SOCKET` (not started by systemd
/// with `Type=notify`) this does nothing; a failure is logged and otherwise ignored, since the
/// service itself works either way.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    if let Err(e) = send(&path, state) {
        log::warn!("sd_notify to {}: {e}", path.to_string_lossy());
    }
}

fn send(path: &OsStr, state: &str) -> io::Result<()> {
    let bytes = path.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None if bytes.starts_with(b"/") => SocketAddr::from_pathname(path)?,
        // e.g. `vsock:…` (systemd 253+ in VMs): not needed on a host service.
        None => return Err(io::Error::new(io::ErrorKind::Unsupported, "unsupported socket address")),
    };
    let sock = UnixDatagram::unbound()?;
    sock.send_to_addr(state.as_bytes(), &addr)?;
    Ok(())
}

static TAKEN: AtomicBool = AtomicBool::new(false);

/// The listening TCP sockets systemd passed to this process, in the order of the `.socket`
/// unit's `Listen*=` lines. Call it before opening any other file, so fd numbers claimed by
/// a wrong `LISTEN_FDS` cannot belong to something else yet. Each socket is taken once.
pub fn listeners() -> Result<Vec<TcpListener>, String> {
    const HINT: &str = "`listen = systemd` needs sockets from systemd (start taxiid.socket)";
    if TAKEN.swap(true, Ordering::SeqCst) {
        return Err("the sockets passed by systemd were already taken".into());
    }
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse::<u32>().ok());
    match var("LISTEN_PID") {
        Some(pid) if pid == std::process::id() => {}
        Some(_) => return Err(format!("{HINT}: LISTEN_PID names another process")),
        None => return Err(format!("{HINT}: LISTEN_PID/LISTEN_FDS are not set")),
    }
    let count = var("LISTEN_FDS").unwrap_or(0);
    if count == 0 {
        return Err(format!("{HINT}: LISTEN_FDS is 0"));
    }
    let mut out = Vec::new();
    for fd in LISTEN_FDS_START..LISTEN_FDS_START + count as RawFd {
        // Verified through /proc before adopting: the fd is open and a socket.
        let target = std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .map_err(|e| format!("LISTEN_FDS names fd {fd}, which is not open: {e}"))?;
        if !target.as_os_str().as_bytes().starts_with(b"socket:") {
            return Err(format!("fd {fd} passed by systemd is not a socket ({})", target.display()));
        }
        let inherited = adopt(fd);
        // Fails for AF_UNIX and other non-IP sockets, which this server cannot serve.
        inherited.local_addr().map_err(|e| format!("fd {fd} passed by systemd is not a TCP socket: {e}"))?;
        // A close-on-exec duplicate, so the socket never leaks into a child process.
        let socket = inherited.try_clone().map_err(|e| format!("fd {fd}: {e}"))?;
        drop(inherited);
        out.push(socket);
    }
    Ok(out)
}

/// Takes ownership of a descriptor inherited through socket activation.
#[allow(unsafe_code)]
fn adopt(fd: RawFd) -> TcpListener {
    // SAFETY: per sd_listen_fds(3) the service manager passed fds 3..3+LISTEN_FDS to this
    // process (LISTEN_PID checked), nothing else in the process owns them (`listeners` runs
    // before other files are opened, and TAKEN makes each adoption happen once), and the caller
    // checked through /proc that the fd is open and a socket.
    unsafe { TcpListener::from_raw_fd(fd) }
}
