//! A throw-away SoftKMS token for tests and runnable doc examples that use
//! `cryptoki` (softkms-cryptoki's doctests and tests): builds `libsoftkms.so`
//! as the root crate's tests do (`tests/common/mod.rs`), writes a configuration
//! with one fast-KDF slot in a temporary directory, points `SOFTKMS_CONF` at
//! it, initializes the module and the token. Dropping it finalizes the module
//! and removes the directory.
//!
//! PKCS#11 state is per process: the tokens of one process take turns (a lock).

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, Once};

/// The SO PIN of a throw-away token.
pub const SO_PIN: &str = "so-pin-1234";
/// The user PIN of a throw-away token.
pub const USER_PIN: &str = "user-pin-5678";

static LOCK: Mutex<()> = Mutex::new(());
static BUILD: Once = Once::new();

/// The workspace root (this crate's parent directory).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("p11-testkit sits in the workspace")
        .to_path_buf()
}

/// `target/<profile>` of the running test: the directory above `deps/` for a
/// test binary; for a doctest (built elsewhere) `$CARGO_TARGET_DIR/debug` or
/// the workspace's `target/debug`.
fn profile_dir() -> PathBuf {
    if let Ok(exe) = std::env::current_exe() {
        if let Some(deps) = exe.parent().filter(|d| d.ends_with("deps")) {
            if let Some(p) = deps.parent() {
                return p.to_path_buf();
            }
        }
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let target = if target.is_relative() {
        workspace().join(target)
    } else {
        target
    };
    target.join("debug")
}

/// The module: `TEST_PKCS11_MODULE`, or `libsoftkms.so` of the running
/// profile, built once per process with `cargo build --lib` (the feature set
/// of the root crate's tests, so that the same build serves both).
pub fn module_path() -> PathBuf {
    if let Some(p) = std::env::var_os("TEST_PKCS11_MODULE") {
        return PathBuf::from(p);
    }
    let dir = profile_dir();
    BUILD.call_once(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--lib", "--quiet", "-p", "softkms"])
            .args(["--features", "test-clock"]);
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        if let Some(target) = dir.parent() {
            cmd.env("CARGO_TARGET_DIR", target);
        }
        let status = cmd
            .current_dir(workspace())
            .status()
            .expect("run cargo build --lib");
        assert!(status.success(), "cargo build --lib failed");
    });
    let so = dir.join("libsoftkms.so");
    assert!(so.exists(), "{} missing", so.display());
    so
}

/// A PIN.
pub fn pin(s: &str) -> AuthPin {
    AuthPin::new(s.into())
}

/// An initialized token (SO PIN [`SO_PIN`], user PIN [`USER_PIN`]) in a
/// temporary directory, on an initialized module.
pub struct Token {
    /// The module, initialized.
    pub pkcs11: Pkcs11,
    /// The token's slot.
    pub slot: Slot,
    /// The directory with the configuration and the token file.
    pub dir: PathBuf,
    _tmp: TempDir,
    _guard: MutexGuard<'static, ()>,
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Default for Token {
    fn default() -> Token {
        Token::new()
    }
}

impl Token {
    /// A fresh token (panics when anything fails: it is a test fixture).
    pub fn new() -> Token {
        let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let so = module_path();
        let dir = std::env::temp_dir().join(format!(
            "softkms-throwaway-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let tmp = TempDir(dir.clone());
        let conf = dir.join("softkms.toml");
        std::fs::write(
            &conf,
            format!(
                "[[slot]]\nid = 0\npath = \"{}\"\nkdf = \"fast\"\n",
                dir.join("token.db").display()
            ),
        )
        .expect("write the configuration");
        std::env::set_var("SOFTKMS_CONF", &conf);
        let pkcs11 = Pkcs11::new(so).expect("load libsoftkms.so");
        pkcs11
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .expect("C_Initialize");
        let slot = pkcs11.get_all_slots().expect("slots")[0];
        pkcs11
            .init_token(slot, &pin(SO_PIN), "throw-away")
            .expect("C_InitToken");
        let s = pkcs11.open_rw_session(slot).expect("session");
        s.login(UserType::So, Some(&pin(SO_PIN))).expect("SO login");
        s.init_pin(&pin(USER_PIN)).expect("C_InitPIN");
        s.logout().expect("logout");
        drop(s);
        Token {
            pkcs11,
            slot,
            dir,
            _tmp: tmp,
            _guard: guard,
        }
    }

    /// A read-write session logged in as the token owner.
    pub fn user_session(&self) -> Session {
        let s = self.pkcs11.open_rw_session(self.slot).expect("session");
        s.login(UserType::User, Some(&pin(USER_PIN)))
            .expect("user login");
        s
    }

    /// A read-write session logged in as the SO.
    pub fn so_session(&self) -> Session {
        let s = self.pkcs11.open_rw_session(self.slot).expect("session");
        s.login(UserType::So, Some(&pin(SO_PIN))).expect("SO login");
        s
    }

    /// A managed key labelled `label` (AES-256, token, sensitive, not
    /// extractable, encrypt, decrypt, derive), made with a plain template.
    pub fn managed_key(&self, session: &Session, label: &str) -> ObjectHandle {
        session
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Token(true),
                    Attribute::Label(label.as_bytes().to_vec()),
                    Attribute::ValueLen(32.into()),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Encrypt(true),
                    Attribute::Decrypt(true),
                    Attribute::Wrap(true),
                    Attribute::Unwrap(true),
                    Attribute::Derive(true),
                ],
            )
            .expect("a managed key")
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        let _ = self.pkcs11.clone().finalize();
    }
}
