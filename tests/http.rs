//! The HTTP/1.1 layer at the byte level: raw requests written to a socket, exact responses
//! read back. The server is taxiid's own `http::Server` in this process with a small test
//! application, so framing, limits, timeouts, TLS and shutdown are tested without a database.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::http::{read_response, request, strip_date};
use taxiid::http::{App, Head, Limits, Listener, Request, Response, Server, ServerHandle};

struct TestApp;

impl App for TestApp {
    type Ticket = ();

    fn admit(&self, head: &Head) -> Result<(), Response> {
        match head.path() {
            "/refuse" => Err(Response::new(403).body("refused")),
            "/panic-admitting" => panic!("an admission bug"),
            _ => Ok(()),
        }
    }

    fn handle(&self, _: (), req: Request) -> Response {
        match req.head.path() {
            "/panic" => panic!("a handler bug"),
            "/slow" => {
                thread::sleep(Duration::from_millis(1500));
                Response::new(200).body("slow done")
            }
            "/echo" => Response::new(200).body(req.body),
            "/stream" => Response::new(200).stream(|w| {
                for i in 0..100 {
                    writeln!(w, "line {i}")?;
                }
                Ok(())
            }),
            "/private" => Response::new(200).body("secret").for_account("alice"),
            p => Response::new(200).body(format!("{} {p}", req.head.method)),
        }
    }

    fn error(&self, _path: &str, _tls: bool, status: u16, message: &str) -> Response {
        Response::new(status).header("Content-Type", "text/plain").body(format!("E{status} {message}"))
    }
}

struct Running {
    addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<thread::JoinHandle<std::io::Result<()>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn limits() -> Limits {
    Limits {
        workers: 4,
        max_connections: 10_000,
        max_body_bytes: 1024 * 1024,
        header_timeout: Duration::from_secs(2),
        keepalive_timeout: Duration::from_secs(1),
        min_body_rate: 1024,
        body_rate_grace: Duration::from_secs(1),
        io_timeout: Duration::from_secs(5),
        shutdown_grace: Duration::from_secs(5),
    }
}

fn start_with(limits: Limits, tls: Option<Arc<rustls::ServerConfig>>) -> Running {
    let socket = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = Server::new(vec![Listener { socket, tls }], limits, Arc::new(TestApp)).unwrap();
    let addr = server.local_addrs()[0];
    let handle = server.handle();
    let thread = Some(thread::spawn(move || server.run()));
    Running { addr, handle, thread }
}

fn start() -> Running {
    start_with(limits(), None)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads until the server closes the connection (or the read timeout).
fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

#[test]
fn get_answers_with_exact_bytes() {
    let srv = start();
    let mut s = connect(srv.addr);
    s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let got = strip_date(&read_to_close(&mut s));
    assert_eq!(
        got,
        "HTTP/1.1 200 OK\r\nServer: taxiid\r\nX-Content-Type-Options: nosniff\r\n\
         Content-Length: 10\r\nConnection: close\r\n\r\nGET /hello"
    );
}

#[test]
fn keep_alive_reuses_the_connection() {
    let srv = start();
    let mut s = connect(srv.addr);
    for i in 0..5 {
        s.write_all(format!("GET /n{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).unwrap();
        let r = read_response(&mut s);
        assert_eq!(r.status, 200);
        assert_eq!(r.body, format!("GET /n{i}").as_bytes());
        assert!(r.header("connection").is_none());
    }
}

#[test]
fn http10_closes_unless_keep_alive_asked() {
    let srv = start();
    let mut s = connect(srv.addr);
    s.write_all(b"GET /a HTTP/1.0\r\n\r\n").unwrap();
    let got = strip_date(&read_to_close(&mut s));
    assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
    assert!(got.contains("Connection: close\r\n"), "{got}");

    let mut s = connect(srv.addr);
    s.write_all(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
    let r = read_response(&mut s);
    assert_eq!(r.header("connection"), Some("keep-alive"));
    s.write_all(b"GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s).body, b"GET /b");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let srv = start();
    let mut s = connect(srv.addr);
    let mut burst = Vec::new();
    for i in 0..10 {
        burst.extend_from_slice(format!("GET /p{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    burst.extend_from_slice(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody");
    s.write_all(&burst).unwrap();
    for i in 0..10 {
        assert_eq!(read_response(&mut s).body, format!("GET /p{i}").as_bytes());
    }
    assert_eq!(read_response(&mut s).body, b"body");
}

#[test]
fn chunked_request_body_is_decoded() {
    let srv = start();
    let mut s = connect(srv.addr);
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n",
    )
    .unwrap();
    let r = read_response(&mut s);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello, world"[..]));
    // The connection is still usable afterwards.
    s.write_all(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s).body, b"GET /after");
}

#[test]
fn malformed_chunk_size_is_400() {
    let srv = start();
    let mut s = connect(srv.addr);
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    )
    .unwrap();
    let got = strip_date(&read_to_close(&mut s));
    assert!(got.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{got}");
}

#[test]
fn streamed_response_uses_chunked_encoding() {
    let srv = start();
    let mut s = connect(srv.addr);
    s.write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let r = read_response(&mut s);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    let text = String::from_utf8(r.body).unwrap();
    assert_eq!(text.lines().count(), 100);
    assert!(text.ends_with("line 99\n"));
}

#[test]
fn expect_100_continue_is_answered_before_the_body() {
    let srv = start();
    let mut s = connect(srv.addr);
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        .unwrap();
    let mut interim = [0u8; 25];
    s.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"abc").unwrap();
    assert_eq!(read_response(&mut s).body, b"abc");
}

#[test]
fn expect_100_continue_gets_the_final_status_when_refused() {
    let srv = start();
    let mut s = connect(srv.addr);
    s.write_all(b"POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        .unwrap();
    let got = strip_date(&read_to_close(&mut s));
    assert!(got.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{got}");
    assert!(!got.contains("100 Continue"), "{got}");

    let mut s = connect(srv.addr);
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let got = strip_date(&read_to_close(&mut s));
    assert!(got.starts_with("HTTP/1.1 413 Content Too Large\r\n"), "{got}");
}

#[test]
fn oversize_body_is_413_before_it_is_read() {
    let srv = start();
    let mut s = connect(srv.addr);
    // Declares 10 GB and sends none of it: the answer must come anyway, at once.
    let t = Instant::now();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n").unwrap();
    let got = strip_date(&read_to_close(&mut s));
    assert!(got.starts_with("HTTP/1.1 413 Content Too Large\r\n"), "{got}");
    assert!(got.contains("Connection: close\r\n"));
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[test]
fn endless_chunked_body_is_cut_at_the_limit() {
    let srv = start();
    let mut s = connect(srv.addr);
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "a".repeat(64 * 1024));
    let mut sent = 0;
    // 1 MiB limit: the server must stop us well before 4 MiB.
    while sent < 4 * 1024 * 1024 {
        if s.write_all(chunk.as_bytes()).is_err() {
            break;
        }
        sent += 64 * 1024;
    }
    let got = strip_date(&read_to_close(&mut s));
    assert!(got.starts_with("HTTP/1.1 413 "), "{got}");
}

#[test]
fn long_uri_is_414_and_big_heads_431() {
    let srv = start();
    let mut s = connect(srv.addr);
    s.write_all(format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(9000)).as_bytes()).unwrap();
    let got = strip_date(&read_to_close(&mut s));
    assert!(got.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{got}");

    let mut s = connect(srv.addr);
    s.write_all(format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(20_000)).as_bytes()).unwrap();
    let got = strip_date(&read_to_close(&mut s));
    assert!(got.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{got}");

    let mut s = connect(srv.addr);
    let big = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "b".repeat(17_000));
    s.write_all(big.as_bytes()).unwrap();
    let got = strip_date(&read_to_close(&mut s));
    assert!(got.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "{got}");

    let mut s = connect(srv.addr);
    let mut many = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    for i in 0..101 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    s.write_all(many.as_bytes()).unwrap();
    let got = strip_date(&read_to_close(&mut s));
    assert!(got.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "{got}");
}

#[test]
fn ambiguous_framing_is_400() {
    let srv = start();
    for req in [
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -3\r\n\r\nabc",
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabc",
        "GET / HTTP/1.1\r\n\r\n",
        "NOT A REQUEST\r\n\r\n",
    ] {
        let mut s = connect(srv.addr);
        s.write_all(req.as_bytes()).unwrap();
        let got = strip_date(&read_to_close(&mut s));
        assert!(got.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{req:?} → {got}");
    }
}

#[test]
fn head_has_headers_and_no_body() {
    let srv = start();
    let mut s = connect(srv.addr);
    s.write_all(b"HEAD /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let got = strip_date(&read_to_close(&mut s));
    assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
    assert!(got.contains("Content-Length: 7\r\n"), "{got}");
    assert!(got.ends_with("\r\n\r\n"), "{got}");
}

#[test]
fn authenticated_responses_are_not_cached() {
    let srv = start();
    let mut s = connect(srv.addr);
    s.write_all(b"GET /private HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s).header("cache-control"), Some("no-store"));
}

#[test]
fn header_timeout_cuts_off_a_dribbling_client() {
    let srv = start(); // header_timeout 2 s
    let mut s = connect(srv.addr);
    let t = Instant::now();
    let head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut got = Vec::new();
    for b in head {
        if s.write_all(&[*b]).is_err() {
            break;
        }
        thread::sleep(Duration::from_millis(200));
        s.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 512];
        if let Ok(n) = s.read(&mut buf)
            && n > 0
        {
            got.extend_from_slice(&buf[..n]);
            break;
        }
        s.set_nonblocking(false).unwrap();
    }
    s.set_nonblocking(false).unwrap();
    got.extend(read_to_close(&mut s));
    let got = strip_date(&got);
    assert!(got.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{got}");
    let took = t.elapsed();
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(4), "{took:?}");
}

#[test]
fn idle_keep_alive_connection_is_closed() {
    let srv = start(); // keepalive_timeout 1 s
    let mut s = connect(srv.addr);
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    read_response(&mut s);
    let t = Instant::now();
    let rest = read_to_close(&mut s);
    assert!(rest.is_empty(), "idle close sends nothing");
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn body_below_min_rate_is_cut_off() {
    let srv = start(); // 1 KiB/s after 1 s
    let mut s = connect(srv.addr);
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n").unwrap();
    let t = Instant::now();
    let mut got = Vec::new();
    // 10 bytes every 100 ms is 100 B/s: far below the floor.
    for _ in 0..100 {
        if s.write_all(b"0123456789").is_err() {
            break;
        }
        thread::sleep(Duration::from_millis(100));
        s.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 512];
        if let Ok(n) = s.read(&mut buf)
            && n > 0
        {
            got.extend_from_slice(&buf[..n]);
            break;
        }
        s.set_nonblocking(false).unwrap();
    }
    s.set_nonblocking(false).unwrap();
    got.extend(read_to_close(&mut s));
    let got = strip_date(&got);
    assert!(got.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{got}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[test]
fn panicking_handler_gives_500_and_the_server_goes_on() {
    let srv = start();
    let mut s = connect(srv.addr);
    s.write_all(b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let r = read_response(&mut s);
    assert_eq!((r.status, r.body.as_slice()), (500, &b"E500 internal error"[..]));
    // Same connection, then enough new ones to touch every worker.
    s.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s).status, 200);
    for _ in 0..8 {
        let r = request(srv.addr, b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_eq!(r.status, 200);
    }
}

#[test]
fn panicking_admission_gives_500_and_the_server_goes_on() {
    // Admission runs before the body is read (credentials, database lookups): a bug there is
    // answered too, and the body it never read closes the connection.
    let srv = start();
    for _ in 0..20 {
        let r =
            request(srv.addr, b"POST /panic-admitting HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
        assert_eq!((r.status, r.body.as_slice()), (500, &b"E500 internal error"[..]));
    }
    for _ in 0..8 {
        let r = request(srv.addr, b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_eq!(r.status, 200);
    }
}

#[test]
fn graceful_shutdown_completes_an_in_flight_request() {
    let mut srv = start();
    let mut s = connect(srv.addr);
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut idle = connect(srv.addr);
    idle.write_all(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    read_response(&mut idle);
    thread::sleep(Duration::from_millis(300));
    srv.handle.shutdown();
    let r = read_response(&mut s);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"slow done"[..]));
    assert_eq!(r.header("connection"), Some("close"));
    // The idle keep-alive connection was closed, and the server thread ended cleanly.
    assert!(read_to_close(&mut idle).is_empty());
    let result = srv.thread.take().unwrap().join().unwrap();
    assert!(result.is_ok());
    assert!(TcpStream::connect_timeout(&srv.addr, Duration::from_millis(500)).is_err());
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Raises the open-files soft limit to `n` (up to the hard limit), as a plain `cargo test`
/// under the usual soft limit of 1024 would otherwise fail.
fn require_fds(n: u64) {
    let soft = common::figures::raise_fd_limit(n);
    assert!(soft >= n, "this test needs `ulimit -n {n}` (soft limit is {soft}, the hard limit is lower)");
}

#[test]
fn two_thousand_idle_connections_do_not_block_a_new_client() {
    require_fds(4500);
    let mut l = limits();
    l.header_timeout = Duration::from_secs(30);
    let srv = start_with(l, None);
    let before = rss_kib();
    let mut idle = Vec::new();
    for i in 0..2000 {
        let mut s = TcpStream::connect(srv.addr).unwrap();
        // Half are silent, half sent part of a head (slowloris).
        if i % 2 == 0 {
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        }
        idle.push(s);
    }
    thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    let r = request(srv.addr, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let took = t.elapsed();
    assert_eq!(r.status, 200);
    let grown = rss_kib().saturating_sub(before);
    println!("2000 idle connections: new request answered in {took:?}, RSS grew by {grown} KiB");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(grown < 64 * 1024, "RSS grew by {grown} KiB");
}

#[test]
fn beyond_max_connections_newcomers_wait_in_the_backlog() {
    let mut l = limits();
    l.max_connections = 50;
    l.header_timeout = Duration::from_secs(30);
    let srv = start_with(l, None);
    let before = rss_kib();
    let mut held: Vec<TcpStream> = (0..50).map(|_| TcpStream::connect(srv.addr).unwrap()).collect();
    thread::sleep(Duration::from_millis(200));
    // The 51st connects (kernel backlog) but is not served until a slot frees.
    // Fewer than std's listen backlog (128), so every connect completes in the kernel.
    let mut extra: Vec<TcpStream> =
        (0..60).filter_map(|_| TcpStream::connect_timeout(&srv.addr, Duration::from_secs(2)).ok()).collect();
    let mut waiting = extra.pop().unwrap();
    waiting.write_all(b"GET /late HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    waiting.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut buf = [0u8; 64];
    assert!(waiting.read(&mut buf).is_err(), "served beyond max_connections");
    drop(extra);
    held.clear();
    waiting.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = read_response(&mut waiting);
    assert_eq!(r.body, b"GET /late");
    let grown = rss_kib().saturating_sub(before);
    println!("at max_connections: RSS grew by {grown} KiB");
    assert!(grown < 32 * 1024, "RSS grew by {grown} KiB");
}

#[test]
fn https_with_a_test_ca() {
    let pki = common::tls::TestPki::new();
    let srv = start_with(limits(), Some(pki.server_config()));
    let mut tls = pki.connect(srv.addr);
    tls.write_all(b"GET /secure HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let r = read_response(&mut tls);
    assert_eq!(r.body, b"GET /secure");
    // Keep-alive over TLS, then a chunked POST.
    tls.write_all(
        b"POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    )
    .unwrap();
    assert_eq!(read_response(&mut tls).body, b"abc");
}

#[test]
fn plaintext_to_a_tls_port_is_closed_cleanly() {
    let pki = common::tls::TestPki::new();
    let srv = start_with(limits(), Some(pki.server_config()));
    let mut s = connect(srv.addr);
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let t = Instant::now();
    let got = read_to_close(&mut s);
    assert!(t.elapsed() < Duration::from_secs(2));
    // At most a TLS alert record; never an HTTP answer in clear.
    assert!(!got.starts_with(b"HTTP/"), "{got:?}");
    // The server still serves TLS afterwards.
    let mut tls = pki.connect(srv.addr);
    tls.write_all(b"GET /again HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut tls).body, b"GET /again");
}
