//! Request bodies on a worker: Content-Length and chunked framing, the body size limit, and the
//! `min_body_rate` floor that keeps a slow client from pinning a worker.

use std::io;
use std::time::Instant;

use super::Limits;
use super::conn::Conn;

#[derive(Debug, PartialEq)]
pub enum BodyError {
    TooLarge,
    Timeout,
    Malformed(&'static str),
    /// The peer went away; nothing can be answered.
    Gone,
}

/// How a request body is delimited.
#[derive(Debug, PartialEq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// Average-rate floor: after the grace period the body must have averaged `min_rate` B/s.
struct Pace {
    start: Instant,
    bytes: u64,
    min_rate: u64,
    grace: std::time::Duration,
}

impl Pace {
    fn check(&self) -> Result<(), BodyError> {
        let elapsed = self.start.elapsed();
        if elapsed > self.grace && (self.bytes as f64) < self.min_rate as f64 * elapsed.as_secs_f64() {
            return Err(BodyError::Timeout);
        }
        Ok(())
    }
}

struct Reader<'a> {
    conn: &'a mut Conn,
    pace: Pace,
}

impl Reader<'_> {
    /// Reads at least one more byte into the connection buffer.
    fn more(&mut self) -> Result<(), BodyError> {
        loop {
            match self.conn.fill() {
                Ok(0) => return Err(BodyError::Gone),
                Ok(n) => {
                    self.pace.bytes += n as u64;
                    return Ok(());
                }
                // The socket's read timeout is a one-second tick for the rate check.
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    self.pace.check()?
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(BodyError::Gone),
            }
        }
    }

    /// Moves `n` bytes from the connection into `out`.
    fn take(&mut self, mut n: u64, out: &mut Vec<u8>) -> Result<(), BodyError> {
        while n > 0 {
            if self.conn.buf.is_empty() {
                self.more()?;
            }
            let k = (n as usize).min(self.conn.buf.len());
            out.extend_from_slice(&self.conn.buf[..k]);
            self.conn.buf.drain(..k);
            n -= k as u64;
            self.pace.check()?;
        }
        Ok(())
    }

    /// One CRLF-terminated line (chunk size or trailer), without its terminator.
    fn line(&mut self) -> Result<Vec<u8>, BodyError> {
        const MAX_LINE: usize = 4096;
        loop {
            if let Some(pos) = self.conn.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.conn.buf.drain(..=pos).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.conn.buf.len() > MAX_LINE {
                return Err(BodyError::Malformed("chunk line too long"));
            }
            self.more()?;
        }
    }
}

pub fn read(conn: &mut Conn, framing: &Framing, limits: &Limits) -> Result<Vec<u8>, BodyError> {
    let pace = Pace {
        start: Instant::now(),
        bytes: 0,
        min_rate: limits.min_body_rate,
        grace: limits.body_rate_grace,
    };
    let mut r = Reader { conn, pace };
    match framing {
        Framing::None => Ok(Vec::new()),
        Framing::Length(n) => {
            // The declared length was checked against the limit; grow as bytes arrive.
            let mut body = Vec::with_capacity((*n).min(1 << 20) as usize);
            r.take(*n, &mut body)?;
            Ok(body)
        }
        Framing::Chunked => {
            let mut body = Vec::new();
            loop {
                let line = r.line()?;
                let size = chunk_size(&line)?;
                if size == 0 {
                    // Trailer fields are read and dropped.
                    let mut trailer_bytes = 0usize;
                    loop {
                        let t = r.line()?;
                        if t.is_empty() {
                            return Ok(body);
                        }
                        trailer_bytes += t.len();
                        if trailer_bytes > super::MAX_HEAD_BYTES {
                            return Err(BodyError::TooLarge);
                        }
                    }
                }
                if body.len() as u64 + size > limits.max_body_bytes {
                    return Err(BodyError::TooLarge);
                }
                r.take(size, &mut body)?;
                if !r.line()?.is_empty() {
                    return Err(BodyError::Malformed("chunk data longer than its size"));
                }
            }
        }
    }
}

fn chunk_size(line: &[u8]) -> Result<u64, BodyError> {
    let bad = BodyError::Malformed("invalid chunk size");
    let text = std::str::from_utf8(line).map_err(|_| BodyError::Malformed("invalid chunk size"))?;
    let hex = text.split(';').next().unwrap_or("").trim();
    if hex.is_empty() || hex.len() > 15 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad);
    }
    u64::from_str_radix(hex, 16).map_err(|_| bad)
}

/// Decides the framing from the head: both Content-Length and Transfer-Encoding, several or
/// invalid Content-Length values, or a coding other than chunked are refused.
pub fn framing(head: &super::Head) -> Result<Framing, (u16, &'static str)> {
    let lengths: Vec<&[u8]> = head.header_all("content-length").collect();
    let codings: Vec<&[u8]> = head.header_all("transfer-encoding").collect();
    if !codings.is_empty() {
        if !lengths.is_empty() {
            return Err((400, "Content-Length and Transfer-Encoding together"));
        }
        if head.minor == 0 {
            return Err((400, "Transfer-Encoding in an HTTP/1.0 request"));
        }
        let joined = codings.join(&b","[..]);
        let only_chunked =
            std::str::from_utf8(&joined).is_ok_and(|s| s.trim().eq_ignore_ascii_case("chunked"));
        if !only_chunked {
            return Err((501, "only the chunked transfer coding is supported"));
        }
        return Ok(Framing::Chunked);
    }
    match lengths.as_slice() {
        [] => Ok(Framing::None),
        [one] => {
            let s = std::str::from_utf8(one).map_err(|_| (400, "invalid Content-Length"))?;
            if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err((400, "invalid Content-Length"));
            }
            let n: u64 = s.parse().map_err(|_| (400, "invalid Content-Length"))?;
            Ok(if n == 0 { Framing::None } else { Framing::Length(n) })
        }
        _ => Err((400, "more than one Content-Length")),
    }
}
