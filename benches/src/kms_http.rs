//! A minimal HTTP/1.1 client for `kms-bench`: one keep-alive connection, `POST /`
//! with a body of known length, responses with `Content-Length` or chunked bodies.
//! Only plain HTTP (the servers under test listen on loopback).
//!
//! Written here rather than taken from a crate so that each worker owns exactly
//! one connection and the bench sees every reconnect.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The longest status or header line read.
const MAX_LINE: usize = 8 * 1024;
/// The most header lines read.
const MAX_HEADERS: usize = 100;
/// The largest response body read.
const MAX_BODY: usize = 1024 * 1024;
/// How long a request may wait for the server, either way.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Where to send requests: an `http://HOST:PORT` URL, resolved once.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The value of the `Host` header (`HOST:PORT` as in the URL).
    pub host: String,
    /// The address connected to.
    pub addr: SocketAddr,
}

impl Endpoint {
    /// Parses `http://HOST:PORT` (a trailing `/` is allowed) and resolves it.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
        let host = rest.strip_suffix('/').unwrap_or(rest);
        if host.is_empty() || host.contains('/') {
            return Err(format!("{url}: expected http://HOST:PORT"));
        }
        let addr = host
            .to_socket_addrs()
            .map_err(|e| format!("{url}: {e}"))?
            .next()
            .ok_or_else(|| format!("{url}: no address"))?;
        Ok(Endpoint {
            host: host.to_string(),
            addr,
        })
    }
}

/// A response: status and body.
#[derive(Debug)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// One connection, opened on first use and again after the server closes it.
pub struct Conn {
    endpoint: Endpoint,
    stream: Option<BufReader<TcpStream>>,
    /// How many TCP connections this one has opened so far.
    pub connects: u64,
}

impl Conn {
    /// A connection to `endpoint`, not yet open.
    pub fn new(endpoint: Endpoint) -> Conn {
        Conn {
            endpoint,
            stream: None,
            connects: 0,
        }
    }

    fn open(&mut self) -> Result<&mut BufReader<TcpStream>, String> {
        if self.stream.is_none() {
            let s = TcpStream::connect_timeout(&self.endpoint.addr, IO_TIMEOUT)
                .map_err(|e| format!("connect to {}: {e}", self.endpoint.addr))?;
            let _ = s.set_nodelay(true);
            s.set_read_timeout(Some(IO_TIMEOUT))
                .and_then(|()| s.set_write_timeout(Some(IO_TIMEOUT)))
                .map_err(|e| e.to_string())?;
            self.connects += 1;
            self.stream = Some(BufReader::new(s));
        }
        self.stream.as_mut().ok_or_else(|| "no connection".into())
    }

    /// Sends `POST /` with `headers` (besides `Content-Length`) and `body`, and reads
    /// the response. An I/O error closes the connection (the next call opens a new
    /// one) and is returned; so is a malformed response.
    pub fn post(&mut self, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, String> {
        let r = self.exchange(headers, body);
        match &r {
            Ok((_, keep)) if *keep => {}
            _ => self.stream = None,
        }
        r.map(|(resp, _)| resp)
    }

    fn exchange(
        &mut self,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(Response, bool), String> {
        let mut req = Vec::with_capacity(512 + body.len());
        req.extend_from_slice(b"POST / HTTP/1.1\r\n");
        for (name, value) in headers {
            req.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        req.extend_from_slice(body);
        let s = self.open()?;
        s.get_mut()
            .write_all(&req)
            .map_err(|e| format!("send: {e}"))?;
        read_response(s)
    }
}

/// One line without its CRLF, at most [`MAX_LINE`] bytes.
fn read_line(r: &mut impl BufRead) -> Result<String, String> {
    let mut line = Vec::new();
    let n = r
        .take(MAX_LINE as u64 + 2)
        .read_until(b'\n', &mut line)
        .map_err(|e| format!("receive: {e}"))?;
    if n == 0 {
        return Err("the server closed the connection".into());
    }
    if line.last() != Some(&b'\n') {
        return Err("response line too long".into());
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| "response line not UTF-8".into())
}

/// Reads a response; the flag says whether the connection may be used again.
fn read_response(r: &mut impl BufRead) -> Result<(Response, bool), String> {
    let status_line = read_line(r)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut keep = version == "HTTP/1.1";
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut count = 0;
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            break;
        }
        count += 1;
        if count > MAX_HEADERS {
            return Err("too many response headers".into());
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("bad header line {line:?}"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n: usize = value
                .parse()
                .map_err(|_| format!("bad Content-Length {value:?}"))?;
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                keep = false;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                keep = true;
            }
        }
    }
    let body = if chunked {
        read_chunked(r)?
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(format!("response body of {n} bytes"));
        }
        let mut body = vec![0; n];
        r.read_exact(&mut body)
            .map_err(|e| format!("receive: {e}"))?;
        body
    } else {
        // No length: the body runs to the end of the connection.
        let mut body = Vec::new();
        r.take(MAX_BODY as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| format!("receive: {e}"))?;
        if body.len() > MAX_BODY {
            return Err("response body too large".into());
        }
        keep = false;
        body
    };
    Ok((Response { status, body }, keep))
}

/// A chunked body (trailers are skipped).
fn read_chunked(r: &mut impl BufRead) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let n = usize::from_str_radix(size, 16).map_err(|_| format!("bad chunk size {size:?}"))?;
        if n == 0 {
            while !read_line(r)?.is_empty() {}
            return Ok(body);
        }
        if body.len().saturating_add(n) > MAX_BODY {
            return Err("response body too large".into());
        }
        let start = body.len();
        body.resize(start + n, 0);
        r.read_exact(&mut body[start..])
            .map_err(|e| format!("receive: {e}"))?;
        if !read_line(r)?.is_empty() {
            return Err("chunk not followed by CRLF".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<(Response, bool), String> {
        read_response(&mut raw.as_bytes())
    }

    #[test]
    fn reads_content_length_and_chunked_bodies() {
        let (r, keep) = parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcxyz").unwrap();
        assert_eq!(
            (r.status, r.body.as_slice(), keep),
            (200, &b"abc"[..], true)
        );
        let (r, keep) = parse(
            "HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
             2\r\nab\r\n1;x=y\r\nc\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            (r.status, r.body.as_slice(), keep),
            (400, &b"abc"[..], false)
        );
        let (r, keep) = parse("HTTP/1.0 200 OK\r\n\r\nto the end").unwrap();
        assert_eq!((r.body.as_slice(), keep), (&b"to the end"[..], false));
    }

    #[test]
    fn refuses_malformed_responses() {
        assert!(parse("").is_err());
        assert!(parse("HTTP/1.1 abc\r\n\r\n").is_err());
        assert!(parse("HTTP/1.1 200 OK\r\nno colon\r\n\r\n").is_err());
        assert!(parse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n").is_err());
        assert!(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab").is_err());
        assert!(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err());
        let long = format!(
            "HTTP/1.1 200 OK\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_LINE + 10)
        );
        assert!(parse(&long).is_err());
    }

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("http://127.0.0.1:8470/").unwrap();
        assert_eq!(e.host, "127.0.0.1:8470");
        assert_eq!(e.addr.port(), 8470);
        assert!(Endpoint::parse("https://127.0.0.1:1").is_err());
        assert!(Endpoint::parse("http://127.0.0.1:1/x").is_err());
        assert!(Endpoint::parse("http://").is_err());
    }
}
