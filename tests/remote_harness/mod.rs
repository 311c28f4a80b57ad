//! The harness of tests/remote.rs: `softkms serve` with its PKCS#11 service
//! (the built binary on a throw-away token of `serve_harness::Token`), the
//! configuration of a client-mode `libsoftkms.so`, and a raw client of the
//! protocol (`softkms::internals::remote`) for the hostile cases.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use crate::serve_harness::{unique, Server, Token, PATIENCE};
use softkms::internals::remote::proto::{self, Hello, Reply, Request, Welcome};
use softkms::internals::remote::{encode, read_frame, write_frame};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The slot id the client configurations give the remote slot.
pub const REMOTE_SLOT: u64 = 3;
/// The slot id of the library-mode slot beside it.
pub const LOCAL_SLOT: u64 = 0;

/// A token initialized by `softkms token init` (SO PIN `serve_harness::SO_PIN`,
/// user PIN `serve_harness::OWNER_PIN`), its file mode 600.
pub fn initialized_token() -> Token {
    let t = Token::blank();
    t.ok(&["token", "init", "--label", "remote"]);
    std::fs::set_permissions(t.path("token.db"), std::fs::Permissions::from_mode(0o600)).unwrap();
    t
}

/// A running `softkms serve` with the PKCS#11 service; killed when dropped.
pub struct P11Server {
    pub server: Server,
    /// The Unix socket.
    pub socket: PathBuf,
    /// The TLS address of the PKCS#11 service (`--pkcs11-listen`).
    pub tls: Option<SocketAddr>,
    /// The AWS API's address (without `--pkcs11-only`).
    pub http: Option<SocketAddr>,
}

/// How a server is started.
pub struct Opts<'a> {
    /// `--pkcs11-only` (no AWS API, no owner PIN).
    pub only: bool,
    /// More arguments.
    pub args: &'a [&'a str],
    /// The socket's file name in the token's directory.
    pub socket: &'a str,
}

impl Default for Opts<'_> {
    fn default() -> Self {
        Opts {
            only: true,
            args: &[],
            socket: "p11.sock",
        }
    }
}

/// Starts `softkms serve --pkcs11-socket DIR/SOCKET` on `t`'s token; waits
/// until it prints every address it was asked to listen on.
pub fn start(t: &Token, o: &Opts<'_>) -> P11Server {
    let socket = t.path(o.socket);
    let mut a: Vec<&str> = vec!["serve", "--pkcs11-socket", socket.to_str().unwrap()];
    if o.only {
        a.push("--pkcs11-only");
    } else {
        a.extend(["--listen", "127.0.0.1:0"]);
    }
    a.extend_from_slice(o.args);
    let want_tls = o.args.contains(&"--pkcs11-listen");
    let stderr = t.path(&format!("serve-{}.err", unique()));
    let mut cmd = t.cmd(&a);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut p = P11Server {
        server: Server {
            child,
            addr: None,
            scheme: String::new(),
            stderr,
            lines: rx,
        },
        socket: socket.clone(),
        tls: None,
        http: None,
    };
    let (mut unix, deadline) = (false, Instant::now() + PATIENCE);
    while !(unix && (!want_tls || p.tls.is_some()) && (o.only || p.http.is_some())) {
        match p.server.lines.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                if let Some(at) = line.strip_prefix("softkms serve: PKCS#11 clients on ") {
                    if let Some(path) = at.strip_prefix("unix:") {
                        assert_eq!(Path::new(path), socket, "{line}");
                        unix = true;
                    } else if let Some(addr) = at.strip_prefix("tls://") {
                        p.tls = Some(addr.parse().unwrap());
                    } else {
                        panic!("unexpected output of softkms serve: {line}");
                    }
                } else if let Some(rest) = line.strip_prefix("softkms serve: listening on ") {
                    let (_, addr) = rest.split_once("://").unwrap();
                    p.http = Some(addr.parse().unwrap());
                } else {
                    panic!("unexpected output of softkms serve: {line}");
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                let st = p.server.wait_exit();
                panic!(
                    "softkms serve {a:?} exited: {st}: {}",
                    p.server.stderr_text()
                );
            }
        }
        assert!(
            Instant::now() < deadline,
            "softkms serve {a:?} did not start: {}",
            p.server.stderr_text()
        );
    }
    p
}

impl P11Server {
    /// The server's threads now (`/proc/PID/task`).
    pub fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.server.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Waits (at most `within`) until the server has at most `n` threads;
    /// the count at the end.
    pub fn threads_settle(&self, n: usize, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            let now = self.threads();
            if now <= n || Instant::now() >= deadline {
                return now;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server process is still there.
    pub fn alive(&mut self) -> bool {
        self.server.running()
    }

    /// SIGTERM, and waits for the exit.
    pub fn stop(&mut self) {
        self.server.terminate();
        let st = self.server.wait_exit();
        assert!(st.success(), "exit: {st}: {}", self.server.stderr_text());
    }

    /// `server = "unix:…"` of a client configuration.
    pub fn unix_target(&self) -> String {
        format!("server = \"unix:{}\"\n", self.socket.display())
    }
}

/// A client configuration: the remote slot [`REMOTE_SLOT`] with `target`
/// (a `server = …` line and more), and when given a library-mode slot
/// [`LOCAL_SLOT`] on the token file `local`.
pub fn client_conf(target: &str, local: Option<&Path>) -> String {
    let mut c = String::new();
    if let Some(p) = local {
        c.push_str(&format!(
            "[[slot]]\nid = {LOCAL_SLOT}\npath = \"{}\"\nkdf = \"fast\"\n",
            p.display()
        ));
    }
    c.push_str(&format!("[[slot]]\nid = {REMOTE_SLOT}\n{target}"));
    c
}

// ---------------------------------------------------------------------------
// The protocol, spoken directly
// ---------------------------------------------------------------------------

/// A Unix socket connection with read and write timeouts.
pub fn dial(path: &Path) -> UnixStream {
    let s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// The magic and `hello` as the client sends them.
pub fn hello_bytes(hello: &Hello) -> Vec<u8> {
    let mut b = proto::MAGIC.to_vec();
    b.extend_from_slice(&encode(hello).unwrap().unwrap());
    b
}

/// A connection after the handshake.
pub struct Wire {
    pub s: UnixStream,
}

impl Wire {
    /// Connects and says hello: the connection, or the server's refusal.
    pub fn open(path: &Path) -> Result<Wire, Welcome> {
        let mut s = dial(path);
        write_frame(&mut s, &hello_bytes(&Hello::ours())).unwrap();
        match read_frame::<Welcome>(&mut s).unwrap() {
            Some(Welcome::Accepted { version }) => {
                assert_eq!(version, proto::VERSION);
                Ok(Wire { s })
            }
            Some(w) => Err(w),
            None => panic!("the server closed the connection instead of answering"),
        }
    }

    /// One request and its reply.
    pub fn call(&mut self, req: &Request) -> std::io::Result<Reply> {
        write_frame(&mut self.s, &encode(req).unwrap().unwrap())?;
        read_frame::<Reply>(&mut self.s)?
            .ok_or_else(|| std::io::Error::other("closed before the reply"))
    }
}

/// The peer closed `s` (end of stream or a reset) within the read timeout,
/// with nothing (more) to read.
pub fn closed(s: &mut UnixStream) -> bool {
    let mut b = [0u8; 64];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => return false,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// A complete, well-behaved exchange with the server: handshake, token info,
/// open and close a session.
pub fn still_serves(path: &Path) {
    let mut w = Wire::open(path).unwrap_or_else(|e| panic!("refused: {e:?}"));
    let r = w.call(&Request::SlotInfo).unwrap();
    assert_eq!(r.rv, cryptoki_sys::CKR_OK, "{r:?}");
    let r = w
        .call(&Request::OpenSession {
            flags: cryptoki_sys::CKF_SERIAL_SESSION,
        })
        .unwrap();
    assert_eq!(r.rv, cryptoki_sys::CKR_OK, "{r:?}");
    let proto::Body::Handle(h) = r.body else {
        panic!("{r:?}")
    };
    let r = w.call(&Request::CloseSession { h }).unwrap();
    assert_eq!(r.rv, cryptoki_sys::CKR_OK, "{r:?}");
}

// ---------------------------------------------------------------------------
// A little randomness for the kill points
// ---------------------------------------------------------------------------

/// xorshift64*: the kill points of one run, from a seed the test prints.
pub struct Rng(pub u64);

impl Rng {
    /// Seeded from `SOFTKMS_REMOTE_SEED` or the clock.
    pub fn from_env() -> Rng {
        let seed = std::env::var("SOFTKMS_REMOTE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let d = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap();
                (d.as_secs() << 30) ^ u64::from(d.subsec_nanos()) | 1
            });
        eprintln!("kill points: SOFTKMS_REMOTE_SEED={seed}");
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
