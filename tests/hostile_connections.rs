//! Hostile clients at the connection and body level, against a real `taxiid serve` over
//! loopback (issue 8, "Hostile clients"): 2,000 idle or dribbling (slowloris) connections
//! are all closed by `http.header_timeout` while a new client is served at once; bodies
//! declaring 10 GB, chunked bodies that never end and `Content-Encoding` are refused at the
//! TAXII 2 and TAXII 1 addresses without being read or stored. Each test prints a table
//! `case | answer | time | RSS` (RSS: the server's peak resident memory during the case,
//! above what it held before) that the README's Reliability section quotes.
//!
//! Single cases that tests/http.rs already pins at the HTTP layer are repeated here only as
//! rows of these tables, against the whole server with its database, to measure them.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::figures::{Table, dur, mib, peak_kib, raise_fd_limit, reset_peak, rss_kib};
use common::hostile::{MAX_BODY, Rig, describe};
use common::http::{Resp, read_response};
use common::taxii1 as t1;
use common::taxii2 as t2;
use t2::T21;
use taxiid::taxii1::messages::{StatusType, Version, write};

/// A raw request on a new connection; the response (the server may answer before it has
/// read the body, so a failed write is not an error).
fn raw(addr: SocketAddr, bytes: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = s.write_all(bytes);
    read_response(&mut s)
}

/// Whether the server closed `s` (end of stream or reset) within `wait`.
fn closed_by_server(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return false,
            Err(_) => return true,
        }
    }
}

/// A TAXII 1.1 Status_Message of `ty` in HTTP 200 (the TAXII headers and version checked).
#[track_caller]
fn assert_taxii1_status(r: Resp, ty: StatusType) -> String {
    let text = r.text();
    let reply = t1::check_reply(r, Version::V11);
    let s = reply.status();
    assert_eq!(s.status_type, ty, "{text}");
    s.message.clone().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Connections: slowloris
// ---------------------------------------------------------------------------------------

/// Open file descriptors of process `pid`.
fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

struct Held {
    s: TcpStream,
    dribble: bool,
    sent: usize,
    opened: Instant,
    closed: Option<Instant>,
    answer: Vec<u8>,
}

#[test]
fn connections_slowloris_idle_and_dribbling() {
    const N: usize = 2000;
    // taxiid's default, set explicitly: every connection must be closed by it.
    const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    // Both ends of every connection live on this host: N sockets here, N in the server
    // (which inherits this limit).
    let soft = raise_fd_limit(N as u64 + 1024);
    assert!(soft >= N as u64 + 256, "open files limit {soft}: run with `ulimit -n {}`", N + 1024);
    let rig = Rig::start(&format!("http.header_timeout = {}s\n", HEADER_TIMEOUT.as_secs()));
    let (addr, pid) = (rig.addr(), rig.pid());
    let head =
        b"GET /management/health HTTP/1.1\r\nHost: localhost\r\nX-Slowloris: aaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let (rss_before, fds_before) = (rss_kib(pid), fd_count(pid));
    reset_peak(pid);

    // Half never send a byte; half send one byte of a request head every second.
    let t_open = Instant::now();
    let mut slowest_connect = Duration::ZERO;
    let mut held: Vec<Held> = (0..N)
        .map(|i| {
            let t = Instant::now();
            let mut s = TcpStream::connect(addr).unwrap();
            slowest_connect = slowest_connect.max(t.elapsed());
            let dribble = i % 2 == 1;
            if dribble {
                s.write_all(&head[..1]).unwrap();
            }
            s.set_nonblocking(true).unwrap();
            // Connecting outruns accepting on a busy machine: past the listen backlog (128)
            // the kernel drops SYNs and the client retries a second later. Let the server
            // catch up every 64 connections, so opening measures it and not retransmits.
            if i % 64 == 63 {
                let t = Instant::now();
                while fd_count(pid) + 16 < fds_before + i + 1 && t.elapsed() < Duration::from_secs(2) {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            Held {
                s,
                dribble,
                sent: usize::from(dribble),
                opened: Instant::now(),
                closed: None,
                answer: vec![],
            }
        })
        .collect();
    let opening = t_open.elapsed();

    let mut health: Vec<Duration> = Vec::new();
    let (mut open_at_check, mut rss_during, mut fds_during) = (0, 0, 0);
    let mut next_byte = t_open + Duration::from_secs(1);
    let deadline = t_open + HEADER_TIMEOUT + Duration::from_secs(15);
    loop {
        let now = Instant::now();
        if health.is_empty() && now >= t_open + opening + Duration::from_millis(500) {
            open_at_check = held.iter().filter(|h| h.closed.is_none()).count();
            (rss_during, fds_during) = (rss_kib(pid), fd_count(pid));
            // A new client, five times over (the worst counts).
            for _ in 0..5 {
                let t = Instant::now();
                let r = t2::Req::get("/management/health").send(addr);
                health.push(t.elapsed());
                assert_eq!((r.status, r.text().as_str()), (200, "{\"alive\": true}"), "{}", r.text());
            }
        }
        if now >= next_byte {
            next_byte += Duration::from_secs(1);
            for h in held.iter_mut().filter(|h| h.dribble && h.closed.is_none() && h.sent < head.len()) {
                if h.s.write_all(&head[h.sent..h.sent + 1]).is_ok() {
                    h.sent += 1;
                }
            }
        }
        let mut buf = [0u8; 1024];
        for h in held.iter_mut().filter(|h| h.closed.is_none()) {
            loop {
                match h.s.read(&mut buf) {
                    Ok(0) => h.closed = Some(Instant::now()),
                    Ok(n) => {
                        h.answer.extend_from_slice(&buf[..n]);
                        continue;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => h.closed = Some(Instant::now()),
                }
                break;
            }
        }
        if held.iter().all(|h| h.closed.is_some()) || now > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let still_open = held.iter().filter(|h| h.closed.is_none()).count();
    let last_closed = held.iter().filter_map(|h| h.closed).max().unwrap_or(t_open).duration_since(t_open);
    let lifetimes: Vec<Duration> =
        held.iter().filter_map(|h| h.closed.map(|c| c.duration_since(h.opened))).collect();
    let (shortest, longest) = (lifetimes.iter().min().copied(), lifetimes.iter().max().copied());
    let got_408 = held.iter().filter(|h| h.dribble && h.answer.starts_with(b"HTTP/1.1 408 ")).count();
    let silent_answered = held.iter().filter(|h| !h.dribble && !h.answer.is_empty()).count();
    let dribbled = held.iter().filter(|h| h.dribble).map(|h| h.sent).max().unwrap_or(0);
    std::thread::sleep(Duration::from_millis(300));
    let (rss_after, fds_after, peak) = (rss_kib(pid), fd_count(pid), peak_kib(pid));
    let worst = health.iter().max().copied().unwrap_or_default();

    let mut t = Table::new(
        &format!(
            "Connections: {N} held open against one taxiid (http.header_timeout = {}s)",
            HEADER_TIMEOUT.as_secs()
        ),
        &["case", "answer", "time", "RSS"],
    );
    t.row(&[
        &format!("open {} silent + {} dribbling (1 byte/s) connections", N / 2, N / 2),
        &format!("all accepted; {open_at_check} open at the health check"),
        &format!("{} (slowest connect {})", dur(opening), dur(slowest_connect)),
        &format!(
            "{} → {} (+{})",
            mib(rss_before),
            mib(rss_during),
            mib(rss_during.saturating_sub(rss_before))
        ),
    ]);
    t.row(&[
        "GET /management/health from a new client, meanwhile (worst of 5)",
        "200 {\"alive\": true}",
        &dur(worst),
        &format!("server fds {fds_before} → {fds_during}"),
    ]);
    t.row(&[
        "dribbling connections",
        &format!("408 then closed: {got_408} of {}; at most {dribbled} bytes sent each", N / 2),
        &format!("closed after {}–{}", dur(shortest.unwrap_or_default()), dur(longest.unwrap_or_default())),
        "",
    ]);
    t.row(&[
        "silent connections",
        &format!("closed without an answer: {} of {}", N / 2 - silent_answered, N / 2),
        &format!("last of all {N} closed {} after the first opened", dur(last_closed)),
        &format!("after: {} (peak {}), server fds {fds_after}", mib(rss_after), mib(peak)),
    ]);
    t.print();

    assert_eq!(open_at_check, N, "connections closed before the health check: timing is off");
    assert!(worst < Duration::from_secs(1), "health check took {worst:?} with {N} connections held");
    assert_eq!(still_open, 0, "{still_open} connections still open {deadline:?} after the first opened");
    assert_eq!(got_408, N / 2, "every dribbling connection gets 408");
    assert_eq!(silent_answered, 0, "silent connections are closed without an answer");
    let longest = longest.unwrap();
    assert!(
        shortest.unwrap() >= HEADER_TIMEOUT - Duration::from_millis(100)
            && longest < HEADER_TIMEOUT + Duration::from_secs(3),
        "connections lived {shortest:?}..{longest:?}, header timeout {HEADER_TIMEOUT:?}"
    );
    let grown = rss_during.saturating_sub(rss_before);
    assert!(grown < 64 * 1024, "{N} held connections grew the server's RSS by {}", mib(grown));
    assert!(fds_during + 8 >= fds_before + N, "the server held {fds_during} fds, {fds_before} before");
    assert!(fds_after <= fds_before + 8, "server fds {fds_before} before, {fds_after} after");
    rig.assert_no_internal_errors();
}

// ---------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------

/// CRC-32 (IEEE), for a hand-made gzip member.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// `data` as one stored (uncompressed) DEFLATE block (< 64 KiB).
fn deflate_stored(data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(data.len()).unwrap();
    let mut out = vec![0x01];
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// A valid gzip member (RFC 1952) holding `data`.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    out.extend(deflate_stored(data));
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// A valid zlib stream (RFC 1950, HTTP's `deflate`) holding `data`.
fn zlib(data: &[u8]) -> Vec<u8> {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    let mut out = vec![0x78, 0x01];
    out.extend(deflate_stored(data));
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

/// A chunked body that never ends: 64 KiB chunks from a second thread while this one waits
/// for the answer. Returns the answer, the bytes sent before the server stopped taking them,
/// and whether the server then closed the connection.
fn endless_chunked(addr: SocketAddr, head: &str) -> (Resp, u64, bool) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "A".repeat(64 * 1024));
        let mut sent = 0u64;
        // Give up at 4 × the limit: a server that reads on forever fails the test.
        while sent < 4 * MAX_BODY && w.write_all(chunk.as_bytes()).is_ok() {
            sent += 64 * 1024;
        }
        sent
    });
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let r = read_response(&mut s);
    let closed = closed_by_server(&mut s, Duration::from_secs(5));
    let _ = s.shutdown(std::net::Shutdown::Both);
    (r, writer.join().unwrap(), closed)
}

#[test]
fn bodies_oversize_endless_and_compressed() {
    let rig = Rig::start("");
    let addr = rig.addr();
    let objects = t2::objects(t2::PUBLIC);
    let auth = format!("Authorization: Bearer {}\r\n", rig.token);
    let t2_head = |extra: &str| {
        format!(
            "POST {objects} HTTP/1.1\r\nHost: localhost\r\n{auth}Accept: {T21}\r\nContent-Type: {T21}\r\n{extra}\r\n"
        )
    };
    let t1_head = |extra: &str| {
        format!(
            "POST {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\n\
             X-TAXII-Content-Type: {}\r\nX-TAXII-Services: {}\r\nX-TAXII-Protocol: {}\r\n{extra}\r\n",
            t1::INBOX,
            Version::V11.message_binding(),
            Version::V11.services(),
            taxiid::taxii1::messages::PROTOCOL_HTTP
        )
    };
    // No TAXII 1 request before: the server knows its TAXII 1 addresses from the start, so
    // the first refusal at one is already a Status_Message.
    let envelope = t2::envelope(&[t2::sdo("indicator", 1, "2024-01-01T00:00:00.000Z")]);
    let inbox =
        write(Version::V11, &t1::inbox_message(&[], vec![t1::block(t1::STIX111, &t1::stix("compressed"))]));

    let mut t = Table::new(
        &format!("Bodies (http.max_body_bytes = {} in this test; default 200 MiB)", mib(MAX_BODY / 1024)),
        &["case", "answer", "time", "RSS"],
    );
    let mut row = |case: &str, run: &dyn Fn() -> String| {
        let (answer, took, peak) = rig.measure(run);
        t.row(&[case, &answer, &dur(took), &format!("+{}", mib(peak))]);
    };

    row("TAXII 2 POST declaring Content-Length: 10 GB, no body sent", &|| {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(t2_head("Content-Length: 10000000000\r\n").as_bytes()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let t = Instant::now();
        let r = read_response(&mut s);
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        t2::assert_error(&r, 413);
        assert_eq!(r.header("connection"), Some("close"));
        assert!(closed_by_server(&mut s, Duration::from_secs(2)));
        format!("{}, closed, nothing read", describe(&r))
    });
    row("TAXII 1 inbox declaring Content-Length: 10 GB, no body sent", &|| {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(t1_head("Content-Length: 10000000000\r\n").as_bytes()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let r = read_response(&mut s);
        assert_eq!(r.header("connection"), Some("close"));
        assert!(closed_by_server(&mut s, Duration::from_secs(2)));
        let m = assert_taxii1_status(r, StatusType::Failure);
        assert!(m.contains("HTTP 413"), "{m}");
        "200 FAILURE \"… (HTTP 413 Content Too Large)\", closed".to_string()
    });
    row("TAXII 2 POST, chunked body that never ends", &|| {
        let (r, sent, closed) = endless_chunked(addr, &t2_head("Transfer-Encoding: chunked\r\n"));
        t2::assert_error(&r, 413);
        assert!(closed, "the connection stays open after the 413");
        assert!(sent < 2 * MAX_BODY, "{sent} bytes were taken");
        format!("413 TAXII error after {} sent, closed", mib(sent / 1024))
    });
    row("TAXII 1 inbox, chunked body that never ends", &|| {
        let (r, sent, closed) = endless_chunked(addr, &t1_head("Transfer-Encoding: chunked\r\n"));
        assert!(closed, "the connection stays open after the refusal");
        assert!(sent < 2 * MAX_BODY, "{sent} bytes were taken");
        let m = assert_taxii1_status(r, StatusType::Failure);
        assert!(m.contains("HTTP 413"), "{m}");
        format!("200 FAILURE (HTTP 413) after {} sent, closed", mib(sent / 1024))
    });
    for (coding, body) in [("gzip", gzip(envelope.as_bytes())), ("deflate", zlib(envelope.as_bytes()))] {
        row(&format!("TAXII 2 POST, Content-Encoding: {coding} (a valid {coding} envelope)"), &|| {
            let mut req =
                t2_head(&format!("Content-Encoding: {coding}\r\nContent-Length: {}\r\n", body.len()))
                    .into_bytes();
            req.extend_from_slice(&body);
            let r = raw(addr, &req);
            t2::assert_error(&r, 415);
            assert_eq!(r.header("accept-encoding"), Some("identity"));
            format!("{}, Accept-Encoding: identity", describe(&r))
        });
    }
    row("TAXII 2 POST, Content-Encoding: gzip on a plain envelope (a lying client)", &|| {
        let req = format!(
            "{}{envelope}",
            t2_head(&format!("Content-Encoding: gzip\r\nContent-Length: {}\r\n", envelope.len()))
        );
        let r = raw(addr, req.as_bytes());
        t2::assert_error(&r, 415);
        describe(&r)
    });
    row("TAXII 1 inbox, Content-Encoding: gzip", &|| {
        let body = gzip(&inbox);
        let mut req =
            t1_head(&format!("Content-Encoding: gzip\r\nContent-Length: {}\r\n", body.len())).into_bytes();
        req.extend_from_slice(&body);
        let m = assert_taxii1_status(raw(addr, &req), StatusType::Failure);
        assert!(m.contains("HTTP 415"), "{m}");
        format!("200 FAILURE \"{m}\"")
    });
    row("TAXII 2 POST, Content-Encoding: identity", &|| {
        let req = format!(
            "{}{envelope}",
            t2_head(&format!("Content-Encoding: identity\r\nContent-Length: {}\r\n", envelope.len()))
        );
        let r = raw(addr, req.as_bytes());
        assert_eq!(r.status, 202, "{}", r.text());
        describe(&r)
    });
    row("TAXII 2 POST, Transfer-Encoding: gzip, chunked", &|| {
        let req = format!("{}0\r\n\r\n", t2_head("Transfer-Encoding: gzip, chunked\r\n"));
        let r = raw(addr, req.as_bytes());
        t2::assert_error(&r, 501);
        describe(&r)
    });
    t.print();
    // Nothing compressed was stored: only the identity envelope (one object).
    let n = t1::count(&mut rig.db(), "SELECT count(*) FROM opentaxii_stixobject");
    assert_eq!(n, 1);
    assert_eq!(t1::count(&mut rig.db(), "SELECT count(*) FROM content_blocks"), 0);
    rig.assert_no_internal_errors();
}
