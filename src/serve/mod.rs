//! `softkms serve`: the tokens of this configuration behind a process
//! boundary, speaking the AWS KMS JSON 1.1 API (`docs/serve.md`,
//! `docs/aws-api.md`).
//!
//! The server owns its token files: it refuses to start when one is readable
//! by others. It logs in once as the token owner, keeps that session, and
//! checks each request's SigV4 signature with the secret of its access key
//! ([`crate::api::Token::access_key`]). Each request then runs on a session
//! of its own that acts for the access key's principal
//! ([`crate::api::Token::act_as`]), so the key gate applies that principal's
//! key policies and records its uses, as for a PKCS#11 client; the request
//! itself is recorded too (operation, principal, access key, source
//! address, key, outcome) in the same hash chain.
//!
//! Layout: this file (settings, listener, TLS, shutdown), `http` (one
//! request: authentication, dispatch, audit, response), `ops` (the
//! operations on the safe API), `grants`, `aws_policy` (AWS's policy grammar
//! to ours and back), `input` and `errors` (AWS's JSON shapes), `names` (key
//! ids and ARNs), [`sigv4`].

pub mod aws_policy;
mod console;
mod ecdsa_der;
mod errors;
mod grants;
mod http;
mod input;
mod names;
mod ops;
mod pkcs11;
pub mod sigv4;

pub use console::DEFAULT_IDLE as DEFAULT_CONSOLE_IDLE;
pub use names::Naming;
#[doc(hidden)]
pub use pkcs11::serve_stream as pkcs11_serve_stream;
pub use pkcs11::{
    Pkcs11Settings, MAX_CONNECTIONS as MAX_PKCS11_CONNECTIONS,
    MAX_CONNECTIONS_PER_UID as MAX_PKCS11_CONNECTIONS_PER_UID, MAX_SESSIONS as MAX_PKCS11_SESSIONS,
};

use crate::api::{Pin, Principal, Softkms, Token};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::rustls;

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8470";
/// The default region of the ARNs.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The default account of the ARNs.
pub const DEFAULT_ACCOUNT: &str = "111122223333";
/// The most connections served at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 1024;
/// The most connections from one address at once; more are closed at once.
const MAX_CONNECTIONS_PER_ADDRESS: usize = 128;
/// How long a client may take to send a request's headers (and how long a
/// kept-alive connection may sit idle).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight requests may take to finish after SIGTERM.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// TLS certificate chain and private key, PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
}

/// What `softkms serve` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where to listen; other than loopback only with TLS.
    pub listen: SocketAddr,
    /// Region and account of the ARNs.
    pub naming: Naming,
    /// TLS, when set.
    pub tls: Option<TlsFiles>,
    /// The slot whose token the API serves.
    pub slot: u64,
    /// The PKCS#11 service for `libsoftkms.so` in client mode
    /// (`docs/remote-protocol.md`).
    pub pkcs11: Pkcs11Settings,
    /// Serve the AWS KMS API (over HTTP on `listen`). Without it the server
    /// serves PKCS#11 clients alone: it needs no owner PIN, and the token
    /// may be uninitialized (a client initializes it with `C_InitToken`).
    pub aws_api: bool,
    /// The console under `/console` (`docs/console.md`); `None`: no console.
    pub console: Option<ConsoleSettings>,
}

/// The console's settings (`docs/console.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// How long a console session lasts without a request.
    pub idle: Duration,
    /// Host names (`name` or `name:port`) the console answers to besides IP
    /// addresses and `localhost`: the names browsers use to reach it. Any
    /// other `Host` is refused (DNS rebinding).
    pub hosts: Vec<String>,
    /// Whether the SO may sign in from addresses other than loopback.
    pub remote_so: bool,
}

/// What the request handlers share.
pub(crate) struct State {
    /// SoftKMS, opened.
    pub kms: Softkms,
    /// The token owner's session: keeps the login, looks up access keys.
    pub anchor: Token,
    /// The settings.
    pub settings: Settings,
    /// Held across each read-modify-write of a key policy (PutKeyPolicy,
    /// grants), so that two requests never lose each other's change.
    pub policy_writes: parking_lot::Mutex<()>,
    /// The console's sessions, when it is on.
    pub console: Option<console::Console>,
}

/// Why a token file may not be served: readable or writable by others.
fn check_file_mode(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let me = crate::sys::euid();
    let files = [
        path.to_path_buf(),
        PathBuf::from(format!("{}-wal", path.display())),
        PathBuf::from(format!("{}-shm", path.display())),
    ];
    for f in files {
        match std::fs::symlink_metadata(&f) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!(
                    "{} is a symbolic link: the server owns its token files; give the real path",
                    f.display()
                ))
            }
            Ok(m) if m.uid() != me => {
                return Err(format!(
                    "{} belongs to uid {}, not to the server's uid {me}: the server owns its token files",
                    f.display(),
                    m.uid()
                ))
            }
            Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                return Err(format!(
                    "{} is open to other users (mode {:o}): the server owns its token files; \
                     chmod 600 it",
                    f.display(),
                    m.permissions().mode() & 0o777
                ))
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && f.as_path() != path => {}
            Err(e) => return Err(format!("{}: {e}", f.display())),
        }
    }
    check_token_dir(path)
}

/// The directory of a token file must be the server's (or root's) and not
/// writable by others: whoever may write it can replace the file, or place
/// its own before the server creates it.
fn check_token_dir(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let m = std::fs::metadata(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let me = crate::sys::euid();
    if m.uid() != me && m.uid() != 0 {
        return Err(format!(
            "{} belongs to uid {}: the directory of the token file must be the server's (uid {me}) or root's",
            dir.display(),
            m.uid()
        ));
    }
    if m.permissions().mode() & 0o022 != 0 {
        return Err(format!(
            "{} may be written by other users (mode {:o}): keep the token file in a directory only the server writes",
            dir.display(),
            m.permissions().mode() & 0o777
        ));
    }
    Ok(())
}

/// The TLS acceptor of `files`.
fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| format!("{}: {e}", files.cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", files.cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate", files.cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| format!("{}: {e}", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS: {e}"))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Runs the server until SIGTERM or SIGINT: checks the settings and the token
/// file, logs in as the token owner with `owner_pin`, listens, calls `ready`
/// with the address it listens on, and serves. On a signal it stops
/// accepting, lets in-flight requests finish (at most 30 s), flushes the audit
/// log and returns.
pub fn run(
    kms: Softkms,
    settings: Settings,
    owner_pin: Option<&Pin>,
    ready: impl FnOnce(SocketAddr),
    pkcs11_ready: impl FnMut(String),
) -> Result<(), String> {
    let Some(owner_pin) = owner_pin.filter(|_| settings.aws_api) else {
        return run_pkcs11_only(&kms, &settings, pkcs11_ready);
    };
    settings.naming.check()?;
    if !settings.listen.ip().is_loopback() && settings.tls.is_none() {
        return Err(format!(
            "listening on {} needs TLS: give --tls-cert and --tls-key (plain HTTP only on loopback)",
            settings.listen
        ));
    }
    let status = kms.token_status(settings.slot).map_err(|e| e.to_string())?;
    if let Some(path) = &status.path {
        check_file_mode(path)?;
    }
    if !status.initialized {
        return Err(format!(
            "the token of slot {} is not initialized: run softkms token init first",
            settings.slot
        ));
    }
    let tls = settings.tls.as_ref().map(tls_acceptor).transpose()?;
    let anchor = kms.token(settings.slot).map_err(|e| e.to_string())?;
    anchor
        .login(&Principal::User, owner_pin)
        .map_err(|e| format!("log in as the token owner: {e}"))?;
    let pkcs11 = if settings.pkcs11.is_empty() {
        None
    } else {
        Some(start_pkcs11(&settings, true, pkcs11_ready)?)
    };
    let console = settings
        .console
        .clone()
        .map(|c| console::Console::new(c, settings.tls.is_some()));
    let state = Arc::new(State {
        kms,
        anchor,
        settings,
        policy_writes: parking_lot::Mutex::new(()),
        console,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("softkms-serve")
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let r = runtime.block_on(serve(Arc::clone(&state), tls, ready));
    drop(runtime);
    if let Some(p) = pkcs11 {
        p.stop();
    }
    // The owner's logout flushes the aggregated key uses to the audit log.
    if let Err(e) = state.anchor.logout() {
        log::warn!("serve: logout: {e}");
    }
    r
}

/// Starts the PKCS#11 service for the slot of `settings`. `shared`: the AWS
/// API holds a session of the token, so clients may not re-initialize it.
fn start_pkcs11(
    settings: &Settings,
    shared: bool,
    ready: impl FnMut(String),
) -> Result<pkcs11::Pkcs11Server, String> {
    let cfg = crate::config::Config::load().map_err(|e| e.to_string())?;
    let slot = cfg
        .slots
        .iter()
        .find(|s| s.id == settings.slot)
        .cloned()
        .ok_or_else(|| format!("no slot {}", settings.slot))?;
    pkcs11::start(
        &settings.pkcs11,
        settings.tls.as_ref(),
        slot,
        cfg.mechanisms,
        shared,
        ready,
    )
}

/// `softkms serve --pkcs11-only`: the PKCS#11 service alone, until SIGTERM
/// or SIGINT.
fn run_pkcs11_only(
    kms: &Softkms,
    settings: &Settings,
    ready: impl FnMut(String),
) -> Result<(), String> {
    if settings.pkcs11.is_empty() {
        return Err("nothing to serve: give --pkcs11-socket or --pkcs11-listen".into());
    }
    let status = kms.token_status(settings.slot).map_err(|e| e.to_string())?;
    if let Some(path) = &status.path {
        if std::fs::symlink_metadata(path).is_ok() {
            check_file_mode(path)?;
        } else {
            check_token_dir(path)?;
        }
    }
    let server = start_pkcs11(settings, false, ready)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(shutdown_signal());
    server.stop();
    Ok(())
}

/// One connection counted against its address; uncounted when dropped.
struct PerAddress {
    map: Arc<parking_lot::Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl PerAddress {
    /// Counts a connection from `ip`, or `None` when it has too many.
    fn take(
        map: &Arc<parking_lot::Mutex<HashMap<IpAddr, usize>>>,
        ip: IpAddr,
    ) -> Option<PerAddress> {
        let mut m = map.lock();
        let n = m.entry(ip).or_insert(0);
        if *n >= MAX_CONNECTIONS_PER_ADDRESS {
            return None;
        }
        *n += 1;
        Some(PerAddress {
            map: Arc::clone(map),
            ip,
        })
    }
}

impl Drop for PerAddress {
    fn drop(&mut self) {
        let mut m = self.map.lock();
        if let Some(n) = m.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// Waits for SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        log::error!("serve: cannot listen for signals; stop me with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => log::info!("serve: SIGTERM: finishing in-flight requests"),
        _ = int.recv() => log::info!("serve: SIGINT: finishing in-flight requests"),
    }
}

async fn serve(
    state: Arc<State>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), String> {
    let listener = TcpListener::bind(state.settings.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", state.settings.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    ready(local);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let addresses: Arc<parking_lot::Mutex<HashMap<IpAddr, usize>>> = Arc::default();
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            () = &mut stop => break,
            p = Arc::clone(&slots).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut stop => break,
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    log::warn!("serve: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(per_address) = PerAddress::take(&addresses, peer.ip()) else {
            log::warn!(
                "serve: {} has {MAX_CONNECTIONS_PER_ADDRESS} connections open: closing another",
                peer.ip()
            );
            drop(stream);
            continue;
        };
        let permit = (permit, per_address);
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let service = hyper::service::service_fn(move |req| {
            let state = Arc::clone(&state);
            async move { Ok::<_, std::convert::Infallible>(http::handle(state, peer, req).await) }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .max_buf_size(64 * 1024);
        match &tls {
            None => {
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        log::debug!("serve: connection from {peer}: {e}");
                    }
                    drop(permit);
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let tls = tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await;
                    match tls {
                        Ok(Ok(s)) => {
                            let conn = builder.serve_connection(TokioIo::new(s), service);
                            if let Err(e) = watcher.watch(conn).await {
                                log::debug!("serve: connection from {peer}: {e}");
                            }
                        }
                        Ok(Err(e)) => log::debug!("serve: TLS handshake with {peer}: {e}"),
                        Err(_) => log::debug!("serve: TLS handshake with {peer} timed out"),
                    }
                    drop(permit);
                });
            }
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => log::info!("serve: all connections closed"),
        () = tokio::time::sleep(DRAIN_TIMEOUT) => {
            log::warn!("serve: connections still open after {DRAIN_TIMEOUT:?}; closing them");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_open_to_others_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("softkms-serve-mode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let f = dir.join("t.db");
        std::fs::write(&f, b"x").unwrap_or_default();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap_or_default();
        assert!(check_file_mode(&f).is_ok());
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap_or_default();
        assert!(check_file_mode(&f).is_err_and(|e| e.contains("chmod 600")));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap_or_default();
        std::fs::write(dir.join("t.db-wal"), b"").unwrap_or_default();
        std::fs::set_permissions(dir.join("t.db-wal"), std::fs::Permissions::from_mode(0o644))
            .unwrap_or_default();
        assert!(check_file_mode(&f).is_err());
        assert!(check_file_mode(&dir.join("missing.db")).is_err());
        let _ = std::fs::remove_file(dir.join("t.db-wal"));
        assert!(check_file_mode(&f).is_ok());
        // A symbolic link is refused, even to a file of ours.
        let link = dir.join("link.db");
        std::os::unix::fs::symlink(&f, &link).unwrap_or_default();
        assert!(check_file_mode(&link).is_err_and(|e| e.contains("symbolic link")));
        // A directory others may write is refused.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap_or_default();
        assert!(check_file_mode(&f).is_err_and(|e| e.contains("written by other users")));
        assert!(check_token_dir(&dir.join("new.db")).is_err());
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap_or_default();
        assert!(check_token_dir(&dir.join("new.db")).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
