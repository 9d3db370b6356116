//! A minimal HTTP/1.1 client for tests: write raw bytes, read one response (Content-Length,
//! chunked or close-delimited), compare bytes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Reads exactly one response from `r` (byte by byte for the head, so nothing is over-read
/// from a keep-alive connection).
pub fn read_response(r: &mut impl Read) -> Resp {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match r.read(&mut b) {
            Ok(1) => head.push(b[0]),
            Ok(_) => panic!("connection closed inside a response head: {:?}", String::from_utf8_lossy(&head)),
            Err(e) => panic!("reading a response head: {e} after {:?}", String::from_utf8_lossy(&head)),
        }
    }
    let text = String::from_utf8(head).expect("UTF-8 head");
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_string(), v.trim().to_string())
        })
        .collect();
    let mut resp = Resp { status, headers, body: Vec::new() };
    if status < 200 || status == 204 || status == 304 {
        return resp;
    }
    if let Some(len) = resp.header("content-length") {
        let mut body = vec![0u8; len.parse().unwrap()];
        r.read_exact(&mut body).unwrap();
        resp.body = body;
    } else if resp.header("transfer-encoding") == Some("chunked") {
        let mut br = BufReader::with_capacity(1, r);
        loop {
            let mut line = String::new();
            br.read_line(&mut line).unwrap();
            let size = usize::from_str_radix(line.trim(), 16).unwrap();
            if size == 0 {
                br.read_line(&mut line).unwrap();
                break;
            }
            let mut chunk = vec![0u8; size + 2];
            br.read_exact(&mut chunk).unwrap();
            resp.body.extend_from_slice(&chunk[..size]);
        }
    } else {
        r.read_to_end(&mut resp.body).unwrap();
    }
    resp
}

/// One request on a new connection.
pub fn request(addr: SocketAddr, raw: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw).unwrap();
    read_response(&mut s)
}

/// `GET path` with optional extra header lines.
pub fn get(addr: SocketAddr, path: &str) -> Resp {
    request(addr, format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
}

/// The response bytes as text without the (time-dependent) `Date` line.
pub fn strip_date(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::new();
    for line in text.split_inclusive("\r\n") {
        if !line.starts_with("Date: ") {
            out.push_str(line);
        }
    }
    out
}
