//! Client mode: a slot of the configuration that names a server
//! (`server = "unix:PATH"` or `"tls://HOST:PORT"`) is a [`Remote`]. The
//! module forwards every call on it to `softkms serve`, which keeps the
//! sessions, the handles, the operations and the key material; this side
//! keeps only the map from its session handles to the server's.
//!
//! One connection per remote slot carries the calls of all the process's
//! threads, one call at a time. A connection that fails mid-call is dropped:
//! the call returns `CKR_DEVICE_REMOVED`, the server closes the sessions it
//! held, and their handles here become invalid; the next call that needs the
//! server connects again. A server that cannot be reached makes the token
//! absent (`CKR_TOKEN_NOT_PRESENT`).

use super::proto::{self, Body, Capacity, Hello, Reply, Request, Welcome};
use crate::config::{RemoteSlotConfig, Target};
use crate::error::{Error, Result};
use crate::outbuf::OutBuf;
use cryptoki_sys::*;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

mod calls;

/// How long the client waits for one reply before it gives the connection
/// up (key generation and PIN checks take seconds at most).
const REPLY_TIMEOUT: Duration = Duration::from_secs(300);
/// How long connecting (and the handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The byte stream to the server.
enum Stream {
    Unix(UnixStream),
    #[cfg(feature = "serve")]
    Tls(
        Box<
            tokio_rustls::rustls::StreamOwned<
                tokio_rustls::rustls::ClientConnection,
                std::net::TcpStream,
            >,
        >,
    ),
}

impl Stream {
    fn set_read_timeout(&self, t: Duration) -> std::io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_read_timeout(Some(t)),
            #[cfg(feature = "serve")]
            Stream::Tls(s) => s.sock.set_read_timeout(Some(t)),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            #[cfg(feature = "serve")]
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            #[cfg(feature = "serve")]
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            #[cfg(feature = "serve")]
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// One remote slot.
pub(crate) struct Remote {
    /// Its configuration.
    pub(crate) cfg: RemoteSlotConfig,
    /// The connection, when one is open. Held for the whole of a call.
    conn: Mutex<Option<Stream>>,
    /// Our session handles → the server's.
    sessions: Mutex<HashMap<CK_SESSION_HANDLE, u64>>,
}

fn lost(e: &std::io::Error) -> Error {
    log::warn!("remote slot: connection lost: {e}");
    Error::DeviceRemoved
}

fn rv(rv: CK_RV) -> Result<()> {
    if rv == CKR_OK {
        Ok(())
    } else {
        Err(Error::from_rv(rv))
    }
}

fn unexpected(body: &Body) -> Error {
    Error::General(format!(
        "unexpected reply from the server: {}",
        body_name(body)
    ))
}

fn body_name(b: &Body) -> &'static str {
    match b {
        Body::None => "none",
        Body::Handle(_) => "handle",
        Body::Handles(_) => "handles",
        Body::Ulong(_) => "ulong",
        Body::Out { .. } => "output",
        Body::Attrs(_) => "attributes",
        Body::SlotInfo(_) => "slot info",
        Body::TokenInfo(_) => "token info",
        Body::SessionInfo(_) => "session info",
        Body::Mechanisms(_) => "mechanisms",
        Body::MechInfo(_) => "mechanism info",
        Body::Derived { .. } => "derived",
        Body::Message { .. } => "message",
        Body::Encapsulated { .. } => "encapsulated",
    }
}

/// The capacity to announce for `out`.
fn capacity(out: &OutBuf) -> Capacity {
    out.capacity().map(|c| c as u64)
}

/// Applies an output the server returned to the caller's buffer, with the
/// length rules: the length comes back with `CKR_BUFFER_TOO_SMALL` too.
fn apply_out(out: &mut OutBuf, code: CK_RV, len: u64, data: &[u8]) -> Result<()> {
    let len = usize::try_from(len).map_err(|_| Error::General("output length".into()))?;
    match code {
        CKR_OK if out.is_query() => out.reserve(len).map(|_| ()),
        CKR_OK if data.len() == len => out.write(data).map(|_| ()),
        CKR_OK => Err(Error::General(
            "output length differs from its bytes".into(),
        )),
        CKR_BUFFER_TOO_SMALL => {
            let _ = out.reserve(len);
            Err(Error::BufferTooSmall)
        }
        other => rv(other),
    }
}

impl Remote {
    /// A remote slot, not connected yet.
    pub(crate) fn new(cfg: RemoteSlotConfig) -> Self {
        Remote {
            cfg,
            conn: Mutex::new(None),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Closes the connection (`C_Finalize`): the server ends its sessions.
    pub(crate) fn disconnect(&self) {
        *self.conn.lock() = None;
        self.sessions.lock().clear();
    }

    /// True when `h` is one of this slot's sessions.
    pub(crate) fn has_session(&self, h: CK_SESSION_HANDLE) -> bool {
        self.sessions.lock().contains_key(&h)
    }

    /// The process behind a Unix socket must be the server's: the uid of
    /// `server_uid`, or else the owner of the socket's directory. Anyone who
    /// could put a socket at that path first must not get the PINs.
    fn check_server_uid(
        &self,
        s: &UnixStream,
        path: &std::path::Path,
    ) -> std::result::Result<(), String> {
        use std::os::unix::fs::MetadataExt;
        let peer = crate::sys::peer_uid(s).map_err(|e| format!("SO_PEERCRED: {e}"))?;
        let expected = match self.cfg.server_uid {
            Some(u) => u,
            None => {
                let dir = path.parent().ok_or("the socket path has no directory")?;
                std::fs::metadata(dir)
                    .map_err(|e| format!("{}: {e}", dir.display()))?
                    .uid()
            }
        };
        if peer != expected {
            return Err(format!(
                "{} is served by uid {peer}, not by uid {expected} (the owner of its directory, or server_uid): refusing to talk to it",
                path.display()
            ));
        }
        Ok(())
    }

    fn connect(&self) -> Result<Stream> {
        let absent = |why: String| {
            log::warn!("remote slot {}: {why}", self.cfg.id);
            Error::TokenNotPresent
        };
        let mut s = match &self.cfg.target {
            Target::Unix(path) => {
                let s = UnixStream::connect(path)
                    .map_err(|e| absent(format!("{}: {e}", path.display())))?;
                self.check_server_uid(&s, path).map_err(absent)?;
                s.set_read_timeout(Some(CONNECT_TIMEOUT))
                    .map_err(|e| absent(e.to_string()))?;
                s.set_write_timeout(Some(REPLY_TIMEOUT))
                    .map_err(|e| absent(e.to_string()))?;
                Stream::Unix(s)
            }
            #[cfg(feature = "serve")]
            Target::Tls {
                host,
                port,
                ca,
                cert,
                key,
            } => Stream::Tls(Box::new(
                tls::connect(host, *port, ca, cert, key).map_err(absent)?,
            )),
            #[cfg(not(feature = "serve"))]
            Target::Tls { .. } => return Err(absent("this build has no TLS client".into())),
        };
        let hello = super::encode(&Hello::ours())
            .map_err(|e| absent(e.to_string()))?
            .ok_or(Error::DeviceMemory)?;
        let mut first = proto::MAGIC.to_vec();
        first.extend_from_slice(&hello);
        super::write_frame(&mut s, &first).map_err(|e| absent(format!("handshake: {e}")))?;
        match super::read_frame::<Welcome>(&mut s) {
            Ok(Some(Welcome::Accepted { version })) if version == proto::VERSION => {}
            Ok(Some(Welcome::Refused { rv, why })) => {
                log::warn!("remote slot {}: the server refused: {why}", self.cfg.id);
                return Err(Error::from_rv(rv));
            }
            Ok(_) => return Err(absent("unexpected handshake answer".into())),
            Err(e) => return Err(absent(format!("handshake: {e}"))),
        }
        s.set_read_timeout(REPLY_TIMEOUT)
            .map_err(|e| absent(e.to_string()))?;
        Ok(s)
    }

    /// Sends one request and waits for its reply, connecting first when
    /// needed. A failure of the connection drops it and every session.
    fn call(&self, req: &Request) -> Result<Reply> {
        let frame = super::encode(req)
            .map_err(|e| Error::General(e.to_string()))?
            .ok_or(Error::DeviceMemory)?;
        // Sessions are forgotten whenever the connection is, so a new
        // connection starts with none.
        let mut conn = self.conn.lock();
        let s = match conn.as_mut() {
            Some(s) => s,
            None => conn.insert(self.connect()?),
        };
        match super::write_frame(s, &frame).and_then(|()| super::read_frame::<Reply>(s)) {
            Ok(Some(reply)) => Ok(reply),
            broken => {
                *conn = None;
                self.sessions.lock().clear();
                let e = broken
                    .err()
                    .unwrap_or_else(|| std::io::ErrorKind::UnexpectedEof.into());
                Err(lost(&e))
            }
        }
    }

    /// The server's handle of our session `h`.
    fn server(&self, h: CK_SESSION_HANDLE) -> Result<u64> {
        self.sessions
            .lock()
            .get(&h)
            .copied()
            .ok_or(Error::SessionHandleInvalid)
    }

    fn unit(&self, req: &Request) -> Result<()> {
        rv(self.call(req)?.rv)
    }

    fn handle(&self, req: &Request) -> Result<u64> {
        let r = self.call(req)?;
        rv(r.rv)?;
        match r.body {
            Body::Handle(k) => Ok(k),
            b => Err(unexpected(&b)),
        }
    }

    fn out(&self, req: &Request, out: &mut OutBuf) -> Result<()> {
        let r = self.call(req)?;
        match r.body {
            Body::Out { len, data } => {
                // Wiped when dropped: it may be plaintext or a key's value.
                let data = zeroize::Zeroizing::new(data);
                apply_out(out, r.rv, len, &data)
            }
            _ if r.rv != CKR_OK => rv(r.rv),
            b => Err(unexpected(&b)),
        }
    }
}

/// The TLS client (rustls on aws-lc-rs).
#[cfg(feature = "serve")]
mod tls {
    use std::path::Path;
    use std::sync::Arc;
    use tokio_rustls::rustls;

    pub(super) type Stream = rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>;

    /// Connects to `host:port`, checks the server's certificate against
    /// `ca` and the name `host`, and presents `cert`/`key`.
    pub(super) fn connect(
        host: &str,
        port: u16,
        ca: &Path,
        cert: &Path,
        key: &Path,
    ) -> Result<Stream, String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
        let pem = |p: &Path| -> Result<Vec<CertificateDer<'static>>, String> {
            CertificateDer::pem_file_iter(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{}: {e}", p.display()))
        };
        let mut roots = rustls::RootCertStore::empty();
        for c in pem(ca)? {
            roots.add(c).map_err(|e| format!("{}: {e}", ca.display()))?;
        }
        let chain = pem(cert)?;
        let key =
            PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("TLS: {e}"))?;
        let name = ServerName::try_from(host.to_string()).map_err(|e| format!("{host}: {e}"))?;
        let conn = rustls::ClientConnection::new(Arc::new(config), name)
            .map_err(|e| format!("TLS: {e}"))?;
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
            .map_err(|e| format!("{host}:{port}: {e}"))?
            .next()
            .ok_or_else(|| format!("{host}:{port}: no address"))?;
        let sock = std::net::TcpStream::connect_timeout(&addr, super::CONNECT_TIMEOUT)
            .map_err(|e| format!("{addr}: {e}"))?;
        let _ = sock.set_nodelay(true);
        sock.set_read_timeout(Some(super::CONNECT_TIMEOUT))
            .map_err(|e| e.to_string())?;
        sock.set_write_timeout(Some(super::REPLY_TIMEOUT))
            .map_err(|e| e.to_string())?;
        Ok(rustls::StreamOwned::new(conn, sock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_follow_the_length_rules() {
        // A length query: the length, nothing written.
        let mut q = OutBuf::query();
        apply_out(&mut q, CKR_OK, 5, &[]).unwrap();
        assert_eq!(q.len(), 5);
        // Written.
        let mut b = [0u8; 8];
        let mut o = OutBuf::new(Some(&mut b));
        apply_out(&mut o, CKR_OK, 3, b"abc").unwrap();
        assert_eq!(o.len(), 3);
        assert_eq!(&b[..3], b"abc");
        // Too small: the needed length comes back with the error.
        let mut b = [0u8; 2];
        let mut o = OutBuf::new(Some(&mut b));
        assert_eq!(
            apply_out(&mut o, CKR_BUFFER_TOO_SMALL, 16, &[]),
            Err(Error::BufferTooSmall)
        );
        assert_eq!(o.len(), 16);
        // A server that claims more bytes than the caller's buffer holds, or
        // a length that differs from its bytes, is refused, not trusted.
        let mut b = [0u8; 2];
        let mut o = OutBuf::new(Some(&mut b));
        assert!(apply_out(&mut o, CKR_OK, 3, b"abc").is_err());
        let mut b = [0u8; 8];
        let mut o = OutBuf::new(Some(&mut b));
        assert!(apply_out(&mut o, CKR_OK, 2, b"abc").is_err());
        // Other errors pass through.
        let mut q = OutBuf::query();
        assert_eq!(
            apply_out(&mut q, CKR_KEY_HANDLE_INVALID, 0, &[]),
            Err(Error::KeyHandleInvalid)
        );
    }

    #[test]
    fn an_unreachable_server_makes_the_token_absent() {
        let r = Remote::new(RemoteSlotConfig {
            id: 9,
            description: "nowhere".into(),
            target: Target::Unix("/nonexistent/softkms.sock".into()),
            server_uid: None,
        });
        let i = r.slot_info().unwrap();
        assert_eq!(i.flags & CKF_TOKEN_PRESENT, 0);
        assert_eq!(r.token_info().unwrap_err(), Error::TokenNotPresent);
        assert_eq!(
            r.open_session(CKF_SERIAL_SESSION, 77).unwrap_err(),
            Error::TokenNotPresent
        );
        assert_eq!(r.logout(77).unwrap_err(), Error::SessionHandleInvalid);
    }
}
