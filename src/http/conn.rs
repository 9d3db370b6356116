//! A client connection: plain TCP or TLS over TCP, usable both non-blocking (the front) and
//! blocking with timeouts (a worker). rustls is sans-IO, so one code path serves both modes:
//! a `WouldBlock` simply surfaces to the caller.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

pub enum Transport {
    Plain(TcpStream),
    Tls(TcpStream, Box<rustls::ServerConnection>),
}

pub struct Conn {
    pub transport: Transport,
    /// Bytes received and not yet consumed: the rest of a head, body bytes, pipelined requests.
    pub buf: Vec<u8>,
    pub remote: SocketAddr,
    /// When the first byte of the current request head arrived (header timeout).
    pub head_started: Option<Instant>,
    /// When the connection became idle (keep-alive timeout).
    pub idle_since: Instant,
    /// Requests answered on this connection.
    pub served: u64,
}

const READ_CHUNK: usize = 16 * 1024;

impl Conn {
    pub fn new(transport: Transport, remote: SocketAddr) -> Conn {
        Conn { transport, buf: Vec::new(), remote, head_started: None, idle_since: Instant::now(), served: 0 }
    }

    pub fn socket(&self) -> &TcpStream {
        match &self.transport {
            Transport::Plain(s) | Transport::Tls(s, _) => s,
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.transport, Transport::Tls(..))
    }

    /// Appends whatever plaintext is available to `buf`. `Ok(0)` is end of stream.
    pub fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; READ_CHUNK];
        let n = self.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// TLS records are waiting to be written (the front then also waits for writability).
    pub fn wants_write(&self) -> bool {
        match &self.transport {
            Transport::Plain(_) => false,
            Transport::Tls(_, tls) => tls.wants_write(),
        }
    }

    /// Writes pending TLS records; `WouldBlock` in non-blocking mode leaves the rest queued.
    pub fn flush_tls(&mut self) -> io::Result<()> {
        if let Transport::Tls(sock, tls) = &mut self.transport {
            while tls.wants_write() {
                tls.write_tls(sock)?;
            }
        }
        Ok(())
    }

    /// Sends a TLS close_notify (best effort) before the socket is dropped.
    pub fn close_notify(&mut self) {
        if let Transport::Tls(_, tls) = &mut self.transport {
            tls.send_close_notify();
        }
        let _ = self.flush_tls();
    }
}

impl Read for Conn {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match &mut self.transport {
            Transport::Plain(s) => s.read(out),
            Transport::Tls(sock, tls) => loop {
                match tls.reader().read(out) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                // Handshake replies must leave before we wait for the peer's next flight.
                while tls.wants_write() {
                    tls.write_tls(sock)?;
                }
                if tls.read_tls(sock)? == 0 {
                    return Ok(0);
                }
                if let Err(e) = tls.process_new_packets() {
                    // Let the alert go out, then report: the connection is finished.
                    let _ = tls.write_tls(sock);
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                }
            },
        }
    }
}

impl Write for Conn {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match &mut self.transport {
            Transport::Plain(s) => s.write(data),
            Transport::Tls(sock, tls) => {
                // Back-pressure first, so rustls never buffers more than one write's worth.
                while tls.wants_write() {
                    tls.write_tls(sock)?;
                }
                let n = tls.writer().write(data)?;
                // The plaintext is accepted now; a stalled socket must not make us report
                // an error for bytes that would then be written twice.
                while tls.wants_write() {
                    match tls.write_tls(sock) {
                        Ok(_) => {}
                        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                            break;
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.transport {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(..) => self.flush_tls(),
        }
    }
}
