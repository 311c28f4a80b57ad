//! The harness of tests/serve.rs: a throw-away token driven by the CLI, the
//! `softkms serve` process (killed when dropped), and a small HTTP/1.1 client
//! that signs its requests with `softkms::serve::sigv4::sign`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use serde_json::{json, Value};
use softkms::serve::sigv4;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const SO_PIN: &str = "serve-so-pin";
pub const OWNER_PIN: &str = "serve-owner-pin";
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "111122223333";
/// How long a server may take to say it listens, or to exit.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

// ---------------------------------------------------------------------------
// The token and the CLI
// ---------------------------------------------------------------------------

/// An access key: id and secret.
#[derive(Clone)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
}

/// A throw-away token in its own directory, driven by the `softkms` CLI.
pub struct Token {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
}

impl Token {
    /// A configuration with one slot, the token not initialized.
    pub fn blank() -> Token {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("softkms.toml");
        std::fs::write(
            &conf,
            format!(
                "[[slot]]\npath = \"{}\"\nkdf = \"fast\"\n",
                dir.path().join("token.db").display()
            ),
        )
        .unwrap();
        Token { dir, conf }
    }

    /// An initialized token with the named principal alice.
    pub fn ready() -> Token {
        let t = Token::blank();
        t.ok(&["token", "init", "--label", "t"]);
        t.ok_with(
            &[("SOFTKMS_NEW_PIN", "alice-pin")],
            &["user", "add", "alice"],
        );
        t
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_softkms"));
        cmd.args(args)
            .env("SOFTKMS_CONF", &self.conf)
            .env("SOFTKMS_SO_PIN", SO_PIN)
            .env("SOFTKMS_PIN", OWNER_PIN)
            .env_remove("SOFTKMS_NEW_PIN")
            .env_remove("SOFTKMS_LOG");
        cmd
    }

    pub fn run_with(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = self.cmd(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    pub fn ok_with(&self, env: &[(&str, &str)], args: &[&str]) -> String {
        let o = self.run_with(env, args);
        assert!(
            o.status.success(),
            "softkms {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_with(&[], args)
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.ok(&a);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("softkms {args:?}: {e}: {out}"))
    }

    /// A new access key of `principal` ("user" is the token owner).
    pub fn access_key(&self, principal: &str) -> AccessKey {
        let v = self.json(&["access-key", "create", principal]);
        assert_eq!(v["Principal"], principal, "{v}");
        AccessKey {
            id: v["AccessKeyId"].as_str().unwrap().to_string(),
            secret: v["SecretAccessKey"].as_str().unwrap().to_string(),
        }
    }

    /// The audit records (`audit show --json`, read by the token owner).
    pub fn audit(&self) -> Vec<Value> {
        match self.json(&["audit", "show"]) {
            Value::Array(a) => a,
            v => panic!("audit show: not an array: {v}"),
        }
    }

    /// Starts `softkms serve` with `args`; panics when it does not say it listens.
    pub fn serve(&self, args: &[&str]) -> Server {
        match self.try_serve(args, &[]) {
            Ok(s) => s,
            Err((status, stderr)) => panic!("softkms serve {args:?}: {status}: {stderr}"),
        }
    }

    /// Starts `softkms serve --listen 127.0.0.1:0` with `args`.
    pub fn serve_local(&self, args: &[&str]) -> Server {
        let mut a = vec!["--listen", "127.0.0.1:0"];
        a.extend_from_slice(args);
        self.serve(&a)
    }

    /// Starts `softkms serve` with `args` and `env`: the running server, or its
    /// exit status and standard error when it stopped before listening.
    pub fn try_serve(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Server, (std::process::ExitStatus, String)> {
        let mut a = vec!["serve"];
        a.extend_from_slice(args);
        let stderr_path = self.path(&format!("serve-{}.err", unique()));
        let mut cmd = self.cmd(&a);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap());
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
        let guard = Server {
            child,
            addr: None,
            scheme: String::new(),
            stderr: stderr_path,
            lines: rx,
        };
        guard.wait_ready()
    }
}

/// The text of an audit record: its `reason`, or its `errorMessage` when it
/// failed.
pub fn record_text(r: &Value) -> &str {
    r["reason"]
        .as_str()
        .or_else(|| r["errorMessage"].as_str())
        .unwrap_or_default()
}

/// A number no other call in this process returns.
pub fn unique() -> u64 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

// ---------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------

/// A running `softkms serve`; killed when dropped (also on a panic).
pub struct Server {
    pub child: Child,
    pub addr: Option<SocketAddr>,
    pub scheme: String,
    pub stderr: PathBuf,
    pub lines: std::sync::mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Server {
    /// Waits for `softkms serve: listening on SCHEME://ADDR`.
    pub fn wait_ready(mut self) -> Result<Server, (std::process::ExitStatus, String)> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    let rest = line
                        .strip_prefix("softkms serve: listening on ")
                        .unwrap_or_else(|| panic!("unexpected output of softkms serve: {line}"));
                    let (scheme, addr) = rest.split_once("://").unwrap();
                    self.scheme = scheme.to_string();
                    self.addr = Some(addr.parse().unwrap());
                    return Ok(self);
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.wait_exit();
                    return Err((status, self.stderr_text()));
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Read what it printed before exiting.
                if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
                    panic!("softkms serve exited ({status}) after printing {line:?}");
                }
                return Err((status, self.stderr_text()));
            }
            assert!(
                Instant::now() < deadline,
                "softkms serve did not start within {PATIENCE:?}: {}",
                self.stderr_text()
            );
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr.unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let st = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(st.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit (at most [`PATIENCE`]).
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "softkms serve did not exit within {PATIENCE:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A client signing with `key`, over plain HTTP.
    pub fn client(&self, key: &AccessKey) -> Client {
        assert_eq!(self.scheme, "http");
        Client::new(self.addr(), key.clone(), None)
    }
}

// ---------------------------------------------------------------------------
// A small HTTP/1.1 client
// ---------------------------------------------------------------------------

pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// A response: status, headers (names in lower case) and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {}: body not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The AWS error type (`__type`).
    pub fn error_type(&self) -> String {
        self.json()["__type"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Asserts a 200 and returns the JSON body.
    pub fn ok(&self) -> Value {
        assert_eq!(
            self.status,
            200,
            "expected 200: {}",
            String::from_utf8_lossy(&self.body)
        );
        self.json()
    }

    /// Asserts an error of `status` and `kind`; returns its message.
    pub fn refused(&self, status: u16, kind: &str) -> String {
        assert_eq!(
            (self.status, self.error_type().as_str()),
            (status, kind),
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        self.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Reads one response from `r`; `None` when the peer closed before a status line.
pub fn read_response(r: &mut impl BufRead) -> std::io::Result<Option<Response>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            return Err(std::io::Error::other("connection closed in the headers"));
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok(Some(Response {
        status,
        headers,
        body,
    }))
}

/// `YYYYMMDDTHHMMSSZ` of `unix` seconds.
pub fn amz_date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

pub fn now_unix() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// How a request is signed.
#[derive(Clone, Copy)]
pub enum Signing<'a> {
    /// With the client's key, dated now.
    Good,
    /// With the client's key id and another secret.
    Secret(&'a str),
    /// With the client's key, dated this many seconds ago.
    Aged(i64),
    /// Not at all (no `Authorization`).
    None,
}

/// The bytes of a KMS request: `POST /` with `X-Amz-Target:
/// TrentService.OP`, signed as `signing` says.
pub fn kms_request(
    host: &str,
    key: &AccessKey,
    op: &str,
    body: &[u8],
    signing: Signing<'_>,
    extra: &[(&str, &str)],
) -> Vec<u8> {
    let age = match signing {
        Signing::Aged(s) => s,
        _ => 0,
    };
    let date = amz_date(now_unix() - age);
    let target = format!("TrentService.{op}");
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("host", host.as_bytes()),
        ("content-type", b"application/x-amz-json-1.1"),
        ("x-amz-date", date.as_bytes()),
        ("x-amz-target", target.as_bytes()),
    ];
    for (k, v) in extra {
        headers.push((k, v.as_bytes()));
    }
    let secret = match signing {
        Signing::Secret(s) => s,
        _ => key.secret.as_str(),
    };
    let authorization = sigv4::sign(
        &sigv4::Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body,
        },
        &sigv4::Credentials {
            access_key_id: &key.id,
            secret: secret.as_bytes(),
            region: REGION,
            service: "kms",
            amz_date: &date,
        },
    );
    let mut out = b"POST / HTTP/1.1\r\n".to_vec();
    for (k, v) in &headers {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    if !matches!(signing, Signing::None) {
        out.extend_from_slice(format!("authorization: {authorization}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// A client of one server with one access key, on one keep-alive connection.
pub struct Client {
    pub addr: SocketAddr,
    pub key: AccessKey,
    pub tls: Option<(Arc<rustls::ClientConfig>, String)>,
    pub conn: Option<BufReader<Box<dyn Stream>>>,
}

impl Client {
    pub fn new(
        addr: SocketAddr,
        key: AccessKey,
        tls: Option<(Arc<rustls::ClientConfig>, String)>,
    ) -> Client {
        Client {
            addr,
            key,
            tls,
            conn: None,
        }
    }

    pub fn connect(&self) -> std::io::Result<BufReader<Box<dyn Stream>>> {
        let tcp = TcpStream::connect(self.addr)?;
        tcp.set_read_timeout(Some(PATIENCE))?;
        tcp.set_write_timeout(Some(PATIENCE))?;
        let s: Box<dyn Stream> = match &self.tls {
            None => Box::new(tcp),
            Some((config, name)) => {
                let name = rustls::pki_types::ServerName::try_from(name.clone()).unwrap();
                let conn = rustls::ClientConnection::new(Arc::clone(config), name)
                    .map_err(std::io::Error::other)?;
                Box::new(rustls::StreamOwned::new(conn, tcp))
            }
        };
        Ok(BufReader::new(s))
    }

    /// Sends `raw` on the kept connection (opening one if needed) and reads the
    /// response.
    pub fn send_raw(&mut self, raw: &[u8]) -> std::io::Result<Response> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self.connect()?,
        };
        conn.get_mut().write_all(raw)?;
        conn.get_mut().flush()?;
        let r = read_response(&mut conn)?
            .ok_or_else(|| std::io::Error::other("connection closed before a response"))?;
        if r.header("connection") != Some("close") {
            self.conn = Some(conn);
        }
        Ok(r)
    }

    /// Calls `op` with `body`, signed as `signing` says.
    pub fn call_as(&mut self, op: &str, body: &Value, signing: Signing<'_>) -> Response {
        let host = self.addr.to_string();
        let raw = kms_request(
            &host,
            &self.key,
            op,
            body.to_string().as_bytes(),
            signing,
            &[],
        );
        self.send_raw(&raw).unwrap()
    }

    pub fn call(&mut self, op: &str, body: &Value) -> Response {
        self.call_as(op, body, Signing::Good)
    }

    /// `CreateKey` (a symmetric key): its KeyId.
    pub fn create_key(&mut self) -> String {
        let v = self.call("CreateKey", &json!({})).ok();
        v["KeyMetadata"]["KeyId"].as_str().unwrap().to_string()
    }

    pub fn encrypt(&mut self, key_id: &str, plaintext: &[u8]) -> Response {
        self.call(
            "Encrypt",
            &json!({"KeyId": key_id, "Plaintext": b64(plaintext)}),
        )
    }

    pub fn decrypt(&mut self, blob: &str) -> Response {
        self.call("Decrypt", &json!({"CiphertextBlob": blob}))
    }
}

/// A free port of 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TLS client configuration trusting `roots` only.
pub fn tls_config(roots: rustls::RootCertStore) -> std::sync::Arc<rustls::ClientConfig> {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

impl Token {
    /// `softkms serve` over TLS with a fresh self-signed certificate for
    /// `localhost`, and a client configuration that trusts it alone.
    pub fn serve_tls(&self) -> (Server, std::sync::Arc<rustls::ClientConfig>) {
        use std::os::unix::fs::PermissionsExt;
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let (cert, key) = (self.path("cert.pem"), self.path("key.pem"));
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let server = self.serve_local(&[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ]);
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ck.cert.der().clone()).unwrap();
        (server, tls_config(roots))
    }
}
