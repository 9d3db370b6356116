//! The event-driven front: one thread that owns every listener and every connection that is
//! idle, handshaking or still sending its request head. Only a connection with a complete head
//! is handed to a worker, so idle or half-open sockets never hold a thread. Above
//! `max_connections` the listeners are left unarmed and new clients wait in the kernel backlog.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use polling::{Event, Events, Poller};

use super::conn::{Conn, Transport};
use super::head::{self, Head, Parsed};
use super::{App, Limits, worker};

/// A bound listening socket, TLS when it has a configuration.
pub struct Listener {
    pub socket: TcpListener,
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// Asks a running [`Server`] to stop gracefully (SIGTERM does the same).
#[derive(Clone)]
pub struct ServerHandle {
    stop: Arc<AtomicBool>,
}

impl ServerHandle {
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// The flag signal handlers set; the front checks it at least every 200 ms.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }
}

pub(super) struct Job {
    pub key: usize,
    pub conn: Conn,
    pub head: Head,
}

/// A connection coming back from a worker.
pub(super) enum Back {
    Keep(usize, Conn),
    Close(usize, Conn),
    /// The worker lost the connection to a panic outside the handler; only the slot is freed.
    Lost(usize),
}

struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

/// What the front and the workers share.
pub(super) struct Shared<A: App> {
    pub app: Arc<A>,
    pub limits: Limits,
    pub poller: Poller,
    queue: Mutex<Queue>,
    ready: Condvar,
    back: Mutex<Vec<Back>>,
    /// Set once shutdown began: workers answer with `Connection: close`.
    pub stopping: AtomicBool,
}

impl<A: App> Shared<A> {
    pub fn give_back(&self, b: Back) {
        self.back.lock().unwrap_or_else(|e| e.into_inner()).push(b);
        let _ = self.poller.notify();
    }
}

enum Slot {
    Free,
    Idle(Conn),
    Busy,
}

pub struct Server<A: App> {
    shared: Arc<Shared<A>>,
    listeners: Vec<Listener>,
    armed: Vec<bool>,
    slots: Vec<Slot>,
    free: Vec<usize>,
    open: usize,
    busy: usize,
    stop: Arc<AtomicBool>,
    accept_pause_until: Option<Instant>,
    last_accept_warning: Option<Instant>,
    /// Keys below this are listeners; connection `idx` has key `base + idx`.
    base: usize,
}

const SWEEP_EVERY: Duration = Duration::from_millis(200);

impl<A: App> Server<A> {
    pub fn new(listeners: Vec<Listener>, limits: Limits, app: Arc<A>) -> io::Result<Server<A>> {
        let shared = Arc::new(Shared {
            app,
            limits,
            poller: Poller::new()?,
            queue: Mutex::new(Queue { jobs: VecDeque::new(), closed: false }),
            ready: Condvar::new(),
            back: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
        });
        for (i, l) in listeners.iter().enumerate() {
            l.socket.set_nonblocking(true)?;
            register(&shared.poller, &l.socket, Event::readable(i))?;
        }
        let n = listeners.len();
        Ok(Server {
            shared,
            listeners,
            armed: vec![true; n],
            slots: Vec::new(),
            free: Vec::new(),
            open: 0,
            busy: 0,
            stop: Arc::new(AtomicBool::new(false)),
            accept_pause_until: None,
            last_accept_warning: None,
            base: n,
        })
    }

    pub fn handle(&self) -> ServerHandle {
        ServerHandle { stop: self.stop.clone() }
    }

    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.iter().filter_map(|l| l.socket.local_addr().ok()).collect()
    }

    /// Serves until shutdown is requested, then drains in-flight requests for up to
    /// `shutdown_grace`.
    pub fn run(mut self) -> io::Result<()> {
        let workers = self.spawn_workers()?;
        let mut events = Events::new();
        let mut last_sweep = Instant::now();
        let mut drain_deadline: Option<Instant> = None;
        loop {
            events.clear();
            match self.shared.poller.wait(&mut events, Some(SWEEP_EVERY)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            let nl = self.base;
            for ev in events.iter() {
                if ev.key < nl {
                    if ev.key < self.listeners.len() {
                        self.armed[ev.key] = false;
                        self.accept(ev.key);
                    }
                } else {
                    self.service(ev.key - nl);
                }
            }
            self.take_back();
            self.shared.app.connections(self.open, self.busy);
            let now = Instant::now();
            if self.accept_pause_until.is_some_and(|t| now >= t) {
                self.accept_pause_until = None;
                for i in 0..self.listeners.len() {
                    self.arm_listener(i);
                }
            }
            if now.duration_since(last_sweep) >= SWEEP_EVERY {
                last_sweep = now;
                self.sweep(now);
            }
            if drain_deadline.is_none() && self.stop.load(Ordering::SeqCst) {
                log::info!("shutting down: no new connections, finishing {} in-flight requests", self.busy);
                self.shared.stopping.store(true, Ordering::SeqCst);
                for l in std::mem::take(&mut self.listeners) {
                    let _ = self.shared.poller.delete(&l.socket);
                }
                self.close_idle();
                drain_deadline = Some(now + self.shared.limits.shutdown_grace);
            }
            if let Some(deadline) = drain_deadline
                && (self.busy == 0 || now >= deadline)
            {
                if self.busy > 0 {
                    log::warn!("shutdown grace over: {} requests still running are abandoned", self.busy);
                }
                let mut q = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
                q.closed = true;
                drop(q);
                self.shared.ready.notify_all();
                if self.busy == 0 {
                    for w in workers {
                        let _ = w.join();
                    }
                }
                return Ok(());
            }
        }
    }

    fn spawn_workers(&self) -> io::Result<Vec<thread::JoinHandle<()>>> {
        (0..self.shared.limits.workers)
            .map(|i| {
                let sh = self.shared.clone();
                thread::Builder::new().name(format!("taxiid-worker-{i}")).spawn(move || worker_loop(&sh))
            })
            .collect()
    }

    fn arm_listener(&mut self, i: usize) {
        if i < self.listeners.len()
            && !self.armed[i]
            && self.open < self.shared.limits.max_connections
            && self.accept_pause_until.is_none()
            && self.shared.poller.modify(&self.listeners[i].socket, Event::readable(i)).is_ok()
        {
            self.armed[i] = true;
        }
    }

    fn accept(&mut self, i: usize) {
        loop {
            if self.open >= self.shared.limits.max_connections {
                return; // stays unarmed: the kernel backlog holds newcomers
            }
            match self.listeners[i].socket.accept() {
                Ok((sock, remote)) => {
                    if sock.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let _ = sock.set_nodelay(true);
                    let transport = match &self.listeners[i].tls {
                        None => Transport::Plain(sock),
                        Some(cfg) => match rustls::ServerConnection::new(cfg.clone()) {
                            Ok(tls) => Transport::Tls(sock, Box::new(tls)),
                            Err(e) => {
                                log::warn!("TLS session for {remote}: {e}");
                                continue;
                            }
                        },
                    };
                    self.insert(Conn::new(transport, remote));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.arm_listener(i);
                    return;
                }
                Err(e)
                    if matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted) => {}
                Err(e) => {
                    // EMFILE/ENFILE/ENOBUFS: back off instead of spinning on a full process.
                    let now = Instant::now();
                    if self
                        .last_accept_warning
                        .is_none_or(|t| now.duration_since(t) > Duration::from_secs(10))
                    {
                        log::warn!("accept: {e}; pausing new connections briefly");
                        self.last_accept_warning = Some(now);
                    }
                    self.accept_pause_until = Some(now + Duration::from_millis(100));
                    return;
                }
            }
        }
    }

    fn key(&self, idx: usize) -> usize {
        self.base + idx
    }

    fn insert(&mut self, conn: Conn) {
        let idx = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot::Free);
            self.slots.len() - 1
        });
        let key = self.key(idx);
        if register(&self.shared.poller, conn.socket(), Event::readable(key)).is_err() {
            self.free.push(idx);
            return;
        }
        self.slots[idx] = Slot::Idle(conn);
        self.open += 1;
    }

    /// Reads what the connection has; dispatches a complete head to a worker.
    fn service(&mut self, idx: usize) {
        let Some(Slot::Idle(mut conn)) = self.slots.get_mut(idx).map(|s| std::mem::replace(s, Slot::Busy))
        else {
            return;
        };
        loop {
            if !conn.buf.is_empty() {
                match head::parse(&conn.buf) {
                    Parsed::Complete(head, len) => {
                        conn.buf.drain(..len);
                        self.busy += 1;
                        let key = idx;
                        let mut q = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
                        q.jobs.push_back(Job { key, conn, head });
                        drop(q);
                        self.shared.ready.notify_one();
                        return;
                    }
                    Parsed::Refuse(status, msg) => {
                        self.refuse(idx, conn, status, msg);
                        return;
                    }
                    Parsed::Partial => {}
                }
            }
            match conn.fill() {
                Ok(0) => return self.close(idx, conn),
                Ok(_) => {
                    if conn.head_started.is_none() && !conn.buf.is_empty() {
                        conn.head_started = Some(Instant::now());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let interest = Event::new(self.key(idx), true, conn.wants_write());
                    if self.shared.poller.modify(conn.socket(), interest).is_err() {
                        return self.close(idx, conn);
                    }
                    self.slots[idx] = Slot::Idle(conn);
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.close(idx, conn),
            }
        }
    }

    /// Answers a request the front refuses by itself (malformed or oversize head, timeout).
    fn refuse(&mut self, idx: usize, mut conn: Conn, status: u16, msg: &str) {
        let started = conn.head_started.unwrap_or_else(Instant::now);
        let resp = self.shared.app.error(&head::path_hint(&conn.buf), conn.is_tls(), status, msg);
        let bytes = worker::encode_simple(resp);
        // Best effort: the socket is non-blocking and we close right after.
        let _ = conn.write_all(&bytes);
        let _ = conn.flush();
        self.shared.app.observe(&super::Observation {
            label: None,
            status,
            bytes_in: 0,
            bytes_out: bytes.len() as u64,
            elapsed: started.elapsed(),
        });
        log::info!(target: "taxiid::access", "{} - - {status} {} 0ms", conn.remote, bytes.len());
        self.close(idx, conn);
    }

    fn close(&mut self, idx: usize, mut conn: Conn) {
        let _ = self.shared.poller.delete(conn.socket());
        conn.close_notify();
        drop(conn);
        self.slots[idx] = Slot::Free;
        self.free.push(idx);
        self.open -= 1;
        for i in 0..self.listeners.len() {
            self.arm_listener(i);
        }
    }

    fn take_back(&mut self) {
        let backs = std::mem::take(&mut *self.shared.back.lock().unwrap_or_else(|e| e.into_inner()));
        for b in backs {
            self.busy -= 1;
            match b {
                Back::Keep(idx, mut conn) if !self.shared.stopping.load(Ordering::SeqCst) => {
                    conn.idle_since = Instant::now();
                    conn.head_started = if conn.buf.is_empty() { None } else { Some(conn.idle_since) };
                    if conn.socket().set_nonblocking(true).is_err() {
                        self.close(idx, conn);
                        continue;
                    }
                    self.slots[idx] = Slot::Idle(conn);
                    // Pipelined bytes (or TLS plaintext rustls still holds) raise no new event.
                    self.service(idx);
                }
                Back::Keep(idx, conn) | Back::Close(idx, conn) => self.close(idx, conn),
                Back::Lost(idx) => {
                    self.slots[idx] = Slot::Free;
                    self.free.push(idx);
                    self.open -= 1;
                }
            }
        }
    }

    /// Header timeout (408) and idle keep-alive timeout (silent close).
    fn sweep(&mut self, now: Instant) {
        let l = &self.shared.limits;
        let (header, keepalive) = (l.header_timeout, l.keepalive_timeout);
        for idx in 0..self.slots.len() {
            let Slot::Idle(c) = &self.slots[idx] else { continue };
            let expired_head = c.head_started.is_some_and(|t| now.duration_since(t) > header);
            let idle_limit = if c.served == 0 { header } else { keepalive };
            let expired_idle = c.head_started.is_none() && now.duration_since(c.idle_since) > idle_limit;
            if !(expired_head || expired_idle) {
                continue;
            }
            let Slot::Idle(conn) = std::mem::replace(&mut self.slots[idx], Slot::Busy) else { continue };
            if expired_head {
                self.refuse(idx, conn, 408, "the request head did not arrive in time");
            } else {
                self.close(idx, conn);
            }
        }
    }

    fn close_idle(&mut self) {
        for idx in 0..self.slots.len() {
            if let Slot::Idle(_) = self.slots[idx]
                && let Slot::Idle(conn) = std::mem::replace(&mut self.slots[idx], Slot::Busy)
            {
                self.close(idx, conn);
            }
        }
    }
}

fn worker_loop<A: App>(sh: &Shared<A>) {
    loop {
        let job = {
            let mut q = sh.queue.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(job) = q.jobs.pop_front() {
                    break job;
                }
                if q.closed {
                    return;
                }
                q = sh.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        let key = job.key;
        // Handler panics are caught inside; this catches a bug of ours so the slot is freed.
        match catch_unwind(AssertUnwindSafe(|| worker::serve(sh, job.conn, job.head))) {
            Ok((conn, true)) => sh.give_back(Back::Keep(key, conn)),
            Ok((conn, false)) => sh.give_back(Back::Close(key, conn)),
            Err(_) => sh.give_back(Back::Lost(key)),
        }
    }
}

/// The one place that registers a socket with epoll. `Poller::add` is unsafe because the
/// source must be deleted before it is closed; every connection leaves through
/// `Server::close`, which deletes it first (a `Lost` connection's socket is closed by the
/// kernel's own epoll cleanup, since its fd was never duplicated).
#[allow(unsafe_code)]
fn register(poller: &Poller, sock: &impl std::os::fd::AsRawFd, ev: Event) -> io::Result<()> {
    // SAFETY: see above; the fd outlives its registration.
    unsafe { poller.add(sock.as_raw_fd(), ev) }
}
