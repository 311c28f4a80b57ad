//! The server side of the remote protocol (`docs/remote-protocol.md`):
//! `libsoftkms.so` in client mode connects here over a Unix socket or TLS
//! with a client certificate, and its calls run on a [`Module`] of the
//! connection's own, as if the client process had loaded the library on
//! this host: its own sessions, handles, operations and login. The token
//! file, the token master key and key material stay in this process.
//!
//! One thread per connection runs its calls in order (one call in flight
//! per connection). A connection that ends, however it ends, closes its
//! sessions, writes its audit events and logs out. Limits: at most
//! [`MAX_CONNECTIONS`] connections (more are refused with
//! `CKR_DEVICE_MEMORY`), [`MAX_SESSIONS`] sessions per connection (more are
//! `CKR_SESSION_COUNT`), and the protocol's frame limit.

use super::TlsFiles;
use crate::config::{MechanismSettings, SlotConfig};
use crate::error::Error;
use crate::module::Module;
use crate::remote::proto::{self, Body, Hello, Reply, Request, Welcome};
use crate::remote::{encode, read_frame, read_frame_max};
use cryptoki_sys::*;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio_rustls::rustls;

mod dispatch;
use dispatch::{dispatch, done, wipe};

/// The most client connections at once.
pub const MAX_CONNECTIONS: usize = 256;
/// The most sessions one connection may have open.
pub const MAX_SESSIONS: usize = 256;
/// The most connections of one uid at once (Unix socket).
pub const MAX_CONNECTIONS_PER_UID: usize = 64;
/// The most connections in their handshake at once, per listener; more are
/// closed at once.
const MAX_HANDSHAKES: usize = 32;
/// How long a client may take for the whole handshake (TLS and hello).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long writing one reply may take in all (a client that does not read).
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest hello a client may send.
const MAX_HELLO: usize = 256;
/// How often the listeners look at the stop flag.
const POLL: Duration = Duration::from_millis(50);

/// Where the PKCS#11 service listens (`softkms serve --pkcs11-socket …`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pkcs11Settings {
    /// A Unix socket path.
    pub socket: Option<PathBuf>,
    /// The uids that may connect to the socket besides the server's own.
    pub allow_uids: Vec<u32>,
    /// Any uid may connect to the socket.
    pub allow_any_uid: bool,
    /// A TCP address for TLS clients (needs the server's TLS files and
    /// `client_ca`).
    pub listen: Option<SocketAddr>,
    /// The CA whose certificates clients must present over TLS.
    pub client_ca: Option<PathBuf>,
}

impl Pkcs11Settings {
    /// Nothing to listen on.
    pub fn is_empty(&self) -> bool {
        self.socket.is_none() && self.listen.is_none()
    }
}

/// Sets a timeout of a connection's socket: the read timeout (`false`) or
/// the write timeout (`true`); `None` waits forever.
type Timeout = Box<dyn Fn(bool, Option<Duration>) + Send>;

/// One live connection, for the shutdown.
struct Live {
    /// Ends the connection's stream, so its thread stops reading.
    shutdown: Box<dyn Fn() + Send>,
    thread: Option<JoinHandle<()>>,
}

/// A bounded count; [`Slots::take`] hands out a place that is given back
/// when dropped.
struct Slots {
    n: AtomicUsize,
    max: usize,
}

/// A place taken in [`Slots`].
struct Slot(Arc<Slots>);

impl Slots {
    fn new(max: usize) -> Arc<Slots> {
        Arc::new(Slots {
            n: AtomicUsize::new(0),
            max,
        })
    }
    fn take(self: &Arc<Self>) -> Option<Slot> {
        let mut n = self.n.load(Ordering::SeqCst);
        loop {
            if n >= self.max {
                return None;
            }
            match self
                .n
                .compare_exchange(n, n + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return Some(Slot(Arc::clone(self))),
                Err(now) => n = now,
            }
        }
    }
    fn count(&self) -> usize {
        self.n.load(Ordering::SeqCst)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.n.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What the listeners and connections share.
struct Shared {
    slot: SlotConfig,
    settings: MechanismSettings,
    /// The AWS API holds a session of the token: `C_InitToken` is refused
    /// (`CKR_SESSION_EXISTS`, as for any token with an open session).
    shared: bool,
    stop: AtomicBool,
    next: AtomicU64,
    live: Mutex<HashMap<u64, Live>>,
    /// Connections past their handshake.
    established: Arc<Slots>,
    /// Connections in their handshake, per listener (Unix, TLS), so that
    /// peers that never finish one cannot keep others out.
    handshaking: [Arc<Slots>; 2],
    /// Established connections per uid (Unix socket).
    per_uid: Mutex<HashMap<u32, usize>>,
}

impl Shared {
    fn new(slot: SlotConfig, settings: MechanismSettings, shared: bool) -> Shared {
        Shared {
            slot,
            settings,
            shared,
            stop: AtomicBool::new(false),
            next: AtomicU64::new(1),
            live: Mutex::new(HashMap::new()),
            established: Slots::new(MAX_CONNECTIONS),
            handshaking: [Slots::new(MAX_HANDSHAKES), Slots::new(MAX_HANDSHAKES)],
            per_uid: Mutex::new(HashMap::new()),
        }
    }
}

/// A uid's place among the established connections; given back when dropped.
struct UidSlot<'a> {
    map: &'a Mutex<HashMap<u32, usize>>,
    uid: u32,
}

impl<'a> UidSlot<'a> {
    fn take(map: &'a Mutex<HashMap<u32, usize>>, uid: u32) -> Option<UidSlot<'a>> {
        let mut m = map.lock();
        let n = m.entry(uid).or_insert(0);
        if *n >= MAX_CONNECTIONS_PER_UID {
            return None;
        }
        *n += 1;
        Some(UidSlot { map, uid })
    }
}

impl Drop for UidSlot<'_> {
    fn drop(&mut self) {
        let mut m = self.map.lock();
        if let Some(n) = m.get_mut(&self.uid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.uid);
            }
        }
    }
}

/// The running PKCS#11 service; [`Pkcs11Server::stop`] ends it.
pub(crate) struct Pkcs11Server {
    shared: Arc<Shared>,
    listeners: Vec<JoinHandle<()>>,
    socket: Option<PathBuf>,
}

/// The TLS server configuration: our certificate, and client certificates
/// that chain to `ca`, required.
fn tls_config(
    files: &TlsFiles,
    ca: &std::path::Path,
) -> std::result::Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let pem = |p: &std::path::Path| -> std::result::Result<Vec<CertificateDer<'static>>, String> {
        CertificateDer::pem_file_iter(p)
            .map_err(|e| format!("{}: {e}", p.display()))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in pem(ca)? {
        roots.add(c).map_err(|e| format!("{}: {e}", ca.display()))?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::clone(&provider),
    )
    .build()
    .map_err(|e| format!("client CA: {e}"))?;
    let certs = pem(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| format!("{}: {e}", files.key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS: {e}"))?;
    Ok(Arc::new(config))
}

/// Starts listening. `ready` is told each address ("unix:PATH", "tls://ADDR").
pub(crate) fn start(
    p: &Pkcs11Settings,
    tls: Option<&TlsFiles>,
    slot: SlotConfig,
    settings: MechanismSettings,
    shared_token: bool,
    mut ready: impl FnMut(String),
) -> std::result::Result<Pkcs11Server, String> {
    let shared = Arc::new(Shared::new(slot, settings, shared_token));
    let mut listeners = Vec::new();
    if let Some(path) = &p.socket {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_socket() => {
                // A socket left by a server that did not stop cleanly.
                if UnixStream::connect(path).is_ok() {
                    return Err(format!("{}: another server listens there", path.display()));
                }
                std::fs::remove_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            Ok(_) => return Err(format!("{}: exists and is not a socket", path.display())),
            Err(_) => {}
        }
        let l = UnixListener::bind(path)
            .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
        // Who may connect is decided by the uid check (and the directory's
        // permissions), not by the socket file's mode.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        l.set_nonblocking(true).map_err(|e| e.to_string())?;
        let allow = if p.allow_any_uid {
            None
        } else {
            let mut a = p.allow_uids.clone();
            a.push(crate::sys::euid());
            Some(a)
        };
        let sh = Arc::clone(&shared);
        listeners.push(
            std::thread::Builder::new()
                .name("softkms-p11-unix".into())
                .spawn(move || accept_unix(l, allow, sh))
                .map_err(|e| e.to_string())?,
        );
        ready(format!("unix:{}", path.display()));
    }
    if let Some(addr) = p.listen {
        let (Some(files), Some(ca)) = (tls, &p.client_ca) else {
            return Err(
                "--pkcs11-listen needs --tls-cert, --tls-key and --pkcs11-client-ca".into(),
            );
        };
        let config = tls_config(files, ca)?;
        let l = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = l.local_addr().map_err(|e| e.to_string())?;
        l.set_nonblocking(true).map_err(|e| e.to_string())?;
        let sh = Arc::clone(&shared);
        listeners.push(
            std::thread::Builder::new()
                .name("softkms-p11-tls".into())
                .spawn(move || accept_tls(l, config, sh))
                .map_err(|e| e.to_string())?,
        );
        ready(format!("tls://{local}"));
    }
    Ok(Pkcs11Server {
        shared,
        listeners,
        socket: p.socket.clone(),
    })
}

impl Pkcs11Server {
    /// Stops accepting, ends every connection (each finishes the call it
    /// runs, closes its sessions and writes its audit events) and waits.
    pub(crate) fn stop(self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for l in self.listeners {
            let _ = l.join();
        }
        let live: Vec<Live> = self.shared.live.lock().drain().map(|(_, l)| l).collect();
        for l in &live {
            (l.shutdown)();
        }
        for mut l in live {
            if let Some(t) = l.thread.take() {
                let _ = t.join();
            }
        }
        if let Some(p) = &self.socket {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The sockets of the two listeners, as a connection needs them.
trait Socket: Sized + Send + 'static {
    fn try_clone(&self) -> std::io::Result<Self>;
    fn set_nonblocking(&self, on: bool) -> std::io::Result<()>;
    fn set_read_timeout(&self, t: Option<Duration>) -> std::io::Result<()>;
    fn set_write_timeout(&self, t: Option<Duration>) -> std::io::Result<()>;
    fn shutdown(&self) -> std::io::Result<()>;
}

macro_rules! socket {
    ($t:ty) => {
        impl Socket for $t {
            fn try_clone(&self) -> std::io::Result<Self> {
                <$t>::try_clone(self)
            }
            fn set_nonblocking(&self, on: bool) -> std::io::Result<()> {
                <$t>::set_nonblocking(self, on)
            }
            fn set_read_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
                <$t>::set_read_timeout(self, t)
            }
            fn set_write_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
                <$t>::set_write_timeout(self, t)
            }
            fn shutdown(&self) -> std::io::Result<()> {
                <$t>::shutdown(self, std::net::Shutdown::Both)
            }
        }
    };
}
socket!(UnixStream);
socket!(TcpStream);

/// An accepted connection, or `None` when there is none yet (after a short
/// sleep, so that the listener looks at the stop flag again).
fn accepted<T>(r: std::io::Result<T>) -> Option<T> {
    match r {
        Ok(a) => Some(a),
        Err(e) => {
            if e.kind() != std::io::ErrorKind::WouldBlock {
                log::warn!("serve: pkcs11 accept: {e}");
            }
            std::thread::sleep(POLL);
            None
        }
    }
}

/// A blocking socket's shutdown and timeout handles.
fn handles(s: &impl Socket) -> Option<(Box<dyn Fn() + Send>, Timeout)> {
    s.set_nonblocking(false).ok()?;
    let (closer, timer) = (s.try_clone().ok()?, s.try_clone().ok()?);
    let shutdown = Box::new(move || {
        let _ = closer.shutdown();
    });
    let timeout: Timeout = Box::new(move |write, t| {
        let _ = if write {
            timer.set_write_timeout(t)
        } else {
            timer.set_read_timeout(t)
        };
    });
    Some((shutdown, timeout))
}

fn accept_unix(l: UnixListener, allow: Option<Vec<u32>>, shared: Arc<Shared>) {
    let mut last_refusal = 0u64;
    while !shared.stop.load(Ordering::SeqCst) {
        let Some((s, _)) = accepted(l.accept()) else {
            continue;
        };
        let uid = match crate::sys::peer_uid(&s) {
            Ok(u) => u,
            Err(e) => {
                log::warn!("serve: pkcs11: SO_PEERCRED: {e}");
                continue;
            }
        };
        if allow.as_ref().is_some_and(|a| !a.contains(&uid)) {
            // At most one line a second, whatever a refused uid tries.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            if last_refusal != now {
                last_refusal = now;
                log::warn!("serve: pkcs11: uid {uid} may not connect (not in --pkcs11-allow-uid)");
            }
            continue;
        }
        let Some(place) = shared.handshaking[0].take() else {
            log::debug!("serve: pkcs11: too many handshakes in progress; closing uid {uid}'s");
            continue;
        };
        let Some((shutdown, timeout)) = handles(&s) else {
            continue;
        };
        let peer = Peer {
            name: format!("uid {uid}"),
            uid: Some(uid),
        };
        spawn_connection(&shared, peer, place, shutdown, timeout, move |_| Ok(s));
    }
}

fn accept_tls(l: TcpListener, config: Arc<rustls::ServerConfig>, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        let Some((s, addr)) = accepted(l.accept()) else {
            continue;
        };
        let Some(place) = shared.handshaking[1].take() else {
            log::debug!("serve: pkcs11: too many handshakes in progress; closing {addr}'s");
            continue;
        };
        let Some((shutdown, timeout)) = handles(&s) else {
            continue;
        };
        let _ = s.set_nodelay(true);
        let config = Arc::clone(&config);
        let peer = Peer {
            name: addr.to_string(),
            uid: None,
        };
        spawn_connection(&shared, peer, place, shutdown, timeout, move |until| {
            tls_accept(s, config, until)
        });
    }
}

/// The TLS handshake, done by `until`.
fn tls_accept(
    s: TcpStream,
    config: Arc<rustls::ServerConfig>,
    until: Instant,
) -> std::io::Result<rustls::StreamOwned<rustls::ServerConnection, TcpStream>> {
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, s);
    while tls.conn.is_handshaking() {
        let left = time_left(until)?;
        tls.sock.set_read_timeout(Some(left))?;
        tls.sock.set_write_timeout(Some(left))?;
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// The time until `until`, or `TimedOut` when it has passed.
fn time_left(until: Instant) -> std::io::Result<Duration> {
    match until.checked_duration_since(Instant::now()) {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

/// Who is at the other end.
struct Peer {
    /// For the log: "uid 1000" or the address.
    name: String,
    /// The uid of a Unix socket peer.
    uid: Option<u32>,
}

/// Runs a connection on a thread of its own, registered for the shutdown;
/// `place` is its place among the handshakes, given back when the
/// handshake ends. `open` finishes setting the stream up (the TLS
/// handshake) on that thread, by the deadline it is given.
fn spawn_connection<S: Read + Write + Send + 'static>(
    shared: &Arc<Shared>,
    peer: Peer,
    place: Slot,
    shutdown: Box<dyn Fn() + Send>,
    timeout: Timeout,
    open: impl FnOnce(Instant) -> std::io::Result<S> + Send + 'static,
) {
    let id = shared.next.fetch_add(1, Ordering::Relaxed);
    let mut live = shared.live.lock();
    let sh = Arc::clone(shared);
    let t = std::thread::Builder::new()
        .name("softkms-p11-conn".into())
        .spawn(move || {
            let until = Instant::now() + HANDSHAKE_TIMEOUT;
            match open(until) {
                Ok(s) => connection(s, &sh, &peer, place, until, &timeout),
                Err(e) => log::debug!("serve: pkcs11 {}: {e}", peer.name),
            }
            sh.live.lock().remove(&id);
        });
    match t {
        Ok(t) => {
            live.insert(
                id,
                Live {
                    shutdown,
                    thread: Some(t),
                },
            );
        }
        Err(e) => log::warn!("serve: pkcs11: cannot start a thread: {e}"),
    }
}

/// Serves one connection on `s` to its end, as a connection of a running
/// server would be served (the fuzz target drives the protocol through
/// this).
pub fn serve_stream(s: impl Read + Write, slot: SlotConfig, settings: MechanismSettings) {
    let shared = Shared::new(slot, settings, false);
    let Some(place) = shared.handshaking[0].take() else {
        return;
    };
    let peer = Peer {
        name: "stream".into(),
        uid: None,
    };
    let until = Instant::now() + HANDSHAKE_TIMEOUT;
    connection(s, &shared, &peer, place, until, &|_, _| {});
}

/// A stream whose reads and writes must be done by a deadline: before each,
/// the socket's timeout is set to the time left.
struct Deadline<'a, S> {
    s: &'a mut S,
    until: Instant,
    timeout: &'a dyn Fn(bool, Option<Duration>),
}

impl<S: Read> Read for Deadline<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        (self.timeout)(false, Some(time_left(self.until)?));
        self.s.read(buf)
    }
}

impl<S: Write> Write for Deadline<'_, S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        (self.timeout)(true, Some(time_left(self.until)?));
        self.s.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        (self.timeout)(true, Some(time_left(self.until)?));
        self.s.flush()
    }
}

/// Reads the client's magic and hello (at most [`MAX_HELLO`] bytes), takes
/// the connection's places (`CKR_DEVICE_MEMORY` when there is none) and
/// answers. `None` ends the connection.
fn handshake<'a>(
    s: &mut (impl Read + Write),
    shared: &'a Shared,
    peer: &Peer,
) -> Option<(Slot, Option<UidSlot<'a>>)> {
    let mut magic = [0u8; 8];
    s.read_exact(&mut magic).ok()?;
    if magic != proto::MAGIC {
        return None;
    }
    let hello: Hello = read_frame_max(s, MAX_HELLO).ok()??;
    let refuse = |rv: CK_RV, why: &str| Welcome::Refused {
        rv,
        why: why.to_string(),
    };
    let mut places = None;
    let answer = if hello.version != proto::VERSION {
        refuse(CKR_GENERAL_ERROR, "protocol version not supported")
    } else if !proto::layout_matches(&hello) {
        refuse(
            CKR_GENERAL_ERROR,
            "CK_ULONG size or byte order differs from the server's",
        )
    } else {
        let uid_place = match peer.uid {
            Some(uid) => UidSlot::take(&shared.per_uid, uid).map(Some),
            None => Some(None),
        };
        match (uid_place, shared.established.take()) {
            (Some(u), Some(e)) => {
                places = Some((e, u));
                Welcome::Accepted {
                    version: proto::VERSION,
                }
            }
            (None, _) => refuse(CKR_DEVICE_MEMORY, "this uid has too many connections"),
            (_, None) => refuse(CKR_DEVICE_MEMORY, "the server has too many connections"),
        }
    };
    let frame = encode(&answer).ok()??;
    crate::remote::write_frame(s, &frame).ok()?;
    places
}

/// Writes one frame by its deadline.
fn write_frame(
    s: &mut (impl Read + Write),
    frame: &[u8],
    timeout: &dyn Fn(bool, Option<Duration>),
) -> std::io::Result<()> {
    let mut d = Deadline {
        s,
        until: Instant::now() + WRITE_TIMEOUT,
        timeout,
    };
    crate::remote::write_frame(&mut d, frame)
}

/// One connection: handshake, then requests until the client goes.
fn connection(
    mut s: impl Read + Write,
    shared: &Shared,
    peer: &Peer,
    handshaking: Slot,
    until: Instant,
    timeout: &dyn Fn(bool, Option<Duration>),
) {
    let places = {
        let mut d = Deadline {
            s: &mut s,
            until,
            timeout,
        };
        handshake(&mut d, shared, peer)
    };
    drop(handshaking);
    let Some(_places) = places else {
        log::debug!("serve: pkcs11 {}: handshake refused or failed", peer.name);
        return;
    };
    // Sessions live as long as the connection: an idle client keeps them.
    timeout(false, None);
    log::debug!("serve: pkcs11 {}: connected", peer.name);
    let module = Module::serving(shared.slot.clone(), shared.settings);
    loop {
        let req = match read_frame::<Request>(&mut s) {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                log::debug!("serve: pkcs11 {}: {e}", peer.name);
                break;
            }
        };
        let run = std::panic::AssertUnwindSafe(|| match req {
            // A token with a session open elsewhere is not re-initialized
            // (§5.5): the AWS API's, or another client's.
            Request::InitToken { .. } if shared.shared || shared.established.count() > 1 => {
                done(Err(Error::SessionExists))
            }
            req => dispatch(&module, shared.slot.id, req),
        });
        let Ok(mut reply) = std::panic::catch_unwind(run) else {
            log::error!(
                "serve: pkcs11 {}: a call panicked; closing the connection",
                peer.name
            );
            break;
        };
        let frame = match encode(&reply) {
            Ok(Some(f)) => f,
            Ok(None) => match encode(&Reply {
                rv: CKR_DEVICE_MEMORY,
                body: Body::None,
            }) {
                Ok(Some(f)) => f,
                _ => break,
            },
            Err(e) => {
                log::warn!("serve: pkcs11 {}: {e}", peer.name);
                break;
            }
        };
        wipe(&mut reply);
        if write_frame(&mut s, &frame, timeout).is_err() {
            break;
        }
    }
    module.close();
    log::debug!("serve: pkcs11 {}: closed", peer.name);
}
