//! One request on a worker thread: framing checks, `Expect: 100-continue`, the body, the
//! application (its panics caught), the response, the access log line. The socket is blocking
//! here with one-second timeouts that act as ticks for the rate and stall checks.

use std::io::{self, BufWriter, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::body::{self, BodyError, Framing};
use super::conn::Conn;
use super::front::Shared;
use super::{App, Body, Head, Observation, Request, Response, reason};

const TICK: Duration = Duration::from_secs(1);

/// Serves one request; returns the connection and whether it may be kept alive.
pub(super) fn serve<A: App>(sh: &Shared<A>, mut conn: Conn, mut head: Head) -> (Conn, bool) {
    let started = Instant::now();
    head.tls = conn.is_tls();
    head.remote = Some(conn.remote);
    let sock = conn.socket();
    if sock.set_nonblocking(false).is_err()
        || sock.set_read_timeout(Some(TICK)).is_err()
        || sock.set_write_timeout(Some(TICK)).is_err()
    {
        return (conn, false);
    }
    let app = &sh.app;
    let path = head.path().to_string();
    let tls = head.tls;
    let mut keep = wants_keep_alive(&head) && !sh.stopping.load(Ordering::SeqCst);
    let mut bytes_in = 0;

    let resp = 'resp: {
        let framing = match body::framing(&head) {
            Ok(f) => f,
            Err((status, msg)) => {
                keep = false;
                break 'resp app.error(&path, tls, status, msg);
            }
        };
        if head.minor == 1 && head.header("host").is_none() {
            keep = false;
            break 'resp app.error(&path, tls, 400, "HTTP/1.1 request without Host");
        }
        if let Framing::Length(n) = framing
            && n > sh.limits.max_body_bytes
        {
            // Refused before a byte of the body is read (and without 100 Continue).
            keep = false;
            break 'resp app.error(&path, tls, 413, "request body larger than the server accepts");
        }
        // Request bodies are never decompressed: a gzip or deflate body used to be read as if
        // it were JSON or XML, a confusing 422 or BAD_MESSAGE (or stored, if the coding was a
        // lie). Refused before reading, with the codings we take (RFC 9110 §8.4.1, §12.5.3).
        if framing != Framing::None && head.header_all("content-encoding").any(|v| !is_identity(v)) {
            keep = false;
            break 'resp app
                .error(&path, tls, 415, "Content-Encoding is not supported: send the body uncompressed")
                .header("Accept-Encoding", "identity");
        }
        let expect = head.header("expect").map(str::to_ascii_lowercase);
        if expect.as_deref().is_some_and(|e| e != "100-continue") {
            keep = false;
            break 'resp app.error(&path, tls, 417, "only Expect: 100-continue is supported");
        }
        // Admission does real work (credentials, database lookups): its panics are caught like
        // the handler's, answered 500 without reading the body.
        let admitted = match catch_unwind(AssertUnwindSafe(|| app.admit(&head))) {
            Ok(a) => a,
            Err(_) => {
                keep = false;
                break 'resp app.error(&path, tls, 500, "internal error");
            }
        };
        let ticket = match admitted {
            Ok(t) => t,
            Err(r) => {
                // An unread body makes the connection unusable, unless it is already here.
                match framing {
                    Framing::None => {}
                    Framing::Length(n) if conn.buf.len() as u64 >= n => {
                        conn.buf.drain(..n as usize);
                    }
                    _ => keep = false,
                }
                break 'resp r;
            }
        };
        if expect.is_some()
            && head.minor == 1
            && framing != Framing::None
            && conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").and_then(|_| conn.flush()).is_err()
        {
            return (conn, false);
        }
        let body = match body::read(&mut conn, &framing, &sh.limits) {
            Ok(b) => {
                bytes_in = b.len() as u64;
                b
            }
            Err(e) => {
                keep = false;
                match e {
                    BodyError::Gone => return (conn, false),
                    BodyError::TooLarge => {
                        break 'resp app.error(
                            &path,
                            tls,
                            413,
                            "request body larger than the server accepts",
                        );
                    }
                    BodyError::Timeout => {
                        break 'resp app.error(&path, tls, 408, "request body arrived too slowly");
                    }
                    BodyError::Malformed(m) => break 'resp app.error(&path, tls, 400, m),
                }
            }
        };
        let req = Request { head: head.clone(), body, remote: conn.remote };
        match catch_unwind(AssertUnwindSafe(|| app.handle(ticket, req))) {
            Ok(r) => r,
            Err(_) => {
                // The panic hook has logged the message and location.
                app.error(&path, tls, 500, "internal error")
            }
        }
    };

    keep &= !resp.close && !sh.stopping.load(Ordering::SeqCst);
    let (status, label) = (resp.status, resp.label);
    let account = resp.account.clone();
    let written = write_response(&mut conn, &head, resp, &mut keep, sh.limits.io_timeout);
    let elapsed = started.elapsed();
    let bytes_out = *written.as_ref().unwrap_or(&0);
    app.observe(&Observation { label, status, bytes_in, bytes_out, elapsed });
    let ms = elapsed.as_millis();
    let who = account.as_deref().unwrap_or("-");
    match written {
        Ok(bytes) => log::info!(
            target: "taxiid::access",
            "{} {} {} {status} {bytes} {ms}ms {who}", conn.remote, head.method, path
        ),
        Err(e) => {
            log::info!(
                target: "taxiid::access",
                "{} {} {} {status} - {ms}ms {who} (write failed: {e})", conn.remote, head.method, path
            );
            keep = false;
        }
    }
    conn.served += 1;
    (conn, keep)
}

/// A `Content-Encoding` value that leaves the body as it is (`identity`, or empty).
fn is_identity(value: &[u8]) -> bool {
    String::from_utf8_lossy(value)
        .split(',')
        .all(|c| c.trim().is_empty() || c.trim().eq_ignore_ascii_case("identity"))
}

fn wants_keep_alive(head: &Head) -> bool {
    if head.minor == 0 {
        head.has_token("connection", "keep-alive")
    } else {
        !head.has_token("connection", "close")
    }
}

/// Status line and headers for `resp`; `length` is `None` for a chunked body.
fn encode_head(resp: &Response, length: Option<usize>, keep: bool, minor: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let _ = write!(out, "HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    let _ = write!(
        out,
        "Date: {}\r\nServer: taxiid\r\nX-Content-Type-Options: nosniff\r\n",
        crate::timefmt::http_date(crate::timefmt::now())
    );
    if resp.account.is_some() && !resp.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("cache-control")) {
        out.extend_from_slice(b"Cache-Control: no-store\r\n");
    }
    for (n, v) in &resp.headers {
        // A value can never smuggle a header line.
        if v.bytes().any(|b| b == b'\r' || b == b'\n') {
            continue;
        }
        let _ = write!(out, "{n}: {v}\r\n");
    }
    let bodiless = resp.status < 200 || resp.status == 204 || resp.status == 304;
    if !bodiless {
        match length {
            Some(n) => {
                let _ = write!(out, "Content-Length: {n}\r\n");
            }
            None => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        }
    }
    if !keep {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if minor == 0 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// A complete error response as bytes, for the front's refusals (always closes).
pub(super) fn encode_simple(resp: Response) -> Vec<u8> {
    let body = match &resp.body {
        Body::Bytes(b) => b.clone(),
        Body::Stream(_) => Vec::new(),
    };
    let mut out = encode_head(&resp, Some(body.len()), false, 1);
    out.extend_from_slice(&body);
    out
}

fn write_response(
    conn: &mut Conn,
    head: &Head,
    resp: Response,
    keep: &mut bool,
    io_timeout: Duration,
) -> io::Result<u64> {
    let is_head = head.method == "HEAD";
    let mut w = BufWriter::with_capacity(
        32 * 1024,
        Stalled { conn, last: Instant::now(), limit: io_timeout, bytes: 0 },
    );
    match resp.body {
        Body::Bytes(ref b) => {
            w.write_all(&encode_head(&resp, Some(b.len()), *keep, head.minor))?;
            if !is_head {
                w.write_all(b)?;
            }
        }
        Body::Stream(_) if head.minor == 0 => {
            // HTTP/1.0 has no chunked coding: the end of the body is the end of the connection.
            *keep = false;
            let mut r = resp;
            let Body::Stream(f) = std::mem::replace(&mut r.body, Body::Bytes(Vec::new())) else {
                unreachable!()
            };
            let mut out = encode_head(&r, None, false, 0);
            // Drop the chunked header line we cannot use.
            if let Some(pos) = find(&out, b"Transfer-Encoding: chunked\r\n") {
                out.drain(pos..pos + 28);
            }
            w.write_all(&out)?;
            if !is_head {
                f(&mut w)?;
            }
        }
        Body::Stream(_) => {
            let mut r = resp;
            let Body::Stream(f) = std::mem::replace(&mut r.body, Body::Bytes(Vec::new())) else {
                unreachable!()
            };
            w.write_all(&encode_head(&r, None, *keep, head.minor))?;
            if !is_head {
                let mut chunked = BufWriter::with_capacity(32 * 1024, Chunked { inner: &mut w });
                f(&mut chunked)?;
                chunked.flush()?;
                drop(chunked);
                w.write_all(b"0\r\n\r\n")?;
            }
        }
    }
    w.flush()?;
    let bytes = w.get_ref().bytes;
    Ok(bytes)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Each write becomes one chunk.
struct Chunked<'a, W: Write> {
    inner: &'a mut W,
}

impl<W: Write> Write for Chunked<'_, W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        write!(self.inner, "{:x}\r\n", data.len())?;
        self.inner.write_all(data)?;
        self.inner.write_all(b"\r\n")?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes to the connection, giving up when the client has taken nothing for `limit`.
struct Stalled<'a> {
    conn: &'a mut Conn,
    last: Instant,
    limit: Duration,
    bytes: u64,
}

impl Write for Stalled<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        loop {
            match self.conn.write(data) {
                Ok(n) => {
                    self.last = Instant::now();
                    self.bytes += n as u64;
                    return Ok(n);
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    if self.last.elapsed() > self.limit {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "client stopped reading"));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        loop {
            match self.conn.flush() {
                Ok(()) => return Ok(()),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    if self.last.elapsed() > self.limit {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "client stopped reading"));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}
