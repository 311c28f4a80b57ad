//! Shared setup for the black-box tests: they load the built `libsoftkms.so`
//! (or the module named by `TEST_PKCS11_MODULE`) through `cryptoki`, each test
//! with its own token files in a temporary directory.
//!
//! PKCS#11 state is per process, so the tests of one binary take a lock and
//! each initializes and finalizes the module itself.

#![allow(dead_code)]

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, Once};

pub const SO_PIN: &str = "so-pin-1234";
pub const USER_PIN: &str = "user-pin-5678";

static LOCK: Mutex<()> = Mutex::new(());
static BUILD: Once = Once::new();

/// The profile directory the tests were built in (`target/debug` or `target/release`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf()
}

/// The module under test. Without `TEST_PKCS11_MODULE`, builds `libsoftkms.so`
/// (cargo does not build the cdylib for integration tests) once per test binary.
pub fn module_path() -> PathBuf {
    if let Some(p) = std::env::var_os("TEST_PKCS11_MODULE") {
        return PathBuf::from(p);
    }
    let dir = profile_dir();
    let release = dir.file_name().is_some_and(|n| n == "release");
    BUILD.call_once(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--lib", "--quiet"]);
        // The module is built with the crypto backend this test binary was
        // built with: a test run of the pure-Rust build tests the pure-Rust .so.
        if cfg!(feature = "aws-lc") {
            cmd.args(["--features", "test-clock"]);
        } else {
            cmd.args([
                "--no-default-features",
                "--features",
                "pure-rust,test-clock",
            ]);
        }
        if release {
            cmd.arg("--release");
        }
        if let Some(target) = dir.parent() {
            cmd.env("CARGO_TARGET_DIR", target);
        }
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
        let status = cmd.status().expect("run cargo build --lib");
        assert!(status.success(), "cargo build --lib failed");
    });
    let so = dir.join("libsoftkms.so");
    assert!(so.exists(), "{} missing", so.display());
    so
}

/// One test's module: loaded, initialized, with token files in a temp dir.
pub struct Ctx {
    pub p11: Pkcs11,
    pub dir: tempfile::TempDir,
    _guard: MutexGuard<'static, ()>,
}

impl Ctx {
    /// A module with `slots` slots (ids 0..slots), fast KDF, and `extra` config lines per slot.
    pub fn new(slots: usize) -> Ctx {
        Self::with_config(slots, "")
    }

    pub fn with_config(slots: usize, extra: &str) -> Ctx {
        Self::with_top_config(slots, "", extra)
    }

    /// As [`Ctx::with_config`], with `top` lines before the slots (top-level
    /// options such as `min_rsa_bits` or `legacy_mechanisms`).
    pub fn with_top_config(slots: usize, top: &str, extra: &str) -> Ctx {
        let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // The test build's clock starts at the real time in every test.
        std::env::remove_var("SOFTKMS_TEST_CLOCK_OFFSET");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conf = format!("{top}\n");
        for i in 0..slots {
            conf.push_str(&format!(
                "[[slot]]\nid = {i}\npath = \"{}\"\nkdf = \"fast\"\n{extra}\n",
                dir.path().join(format!("token{i}.db")).display()
            ));
        }
        let conf_path = dir.path().join("softkms.toml");
        std::fs::write(&conf_path, conf).expect("write config");
        std::env::set_var("SOFTKMS_CONF", &conf_path);
        let p11 = Pkcs11::new(module_path()).expect("load module");
        match p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) => {}
            Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {
                // A previous test panicked before finalizing.
                p11.clone().finalize().expect("finalize leftover");
                p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
                    .expect("initialize");
            }
            Err(e) => panic!("initialize: {e}"),
        }
        Ctx {
            p11,
            dir,
            _guard: guard,
        }
    }

    /// Finalizes and initializes again (same config).
    pub fn restart(&mut self) {
        self.p11.clone().finalize().expect("finalize");
        self.p11 = Pkcs11::new(module_path()).expect("load module");
        self.p11
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .expect("initialize");
    }

    pub fn slot(&self, i: usize) -> Slot {
        self.p11.get_all_slots().expect("slots")[i]
    }

    pub fn token_path(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("token{i}.db"))
    }

    /// Initializes slot `i`'s token and sets the user PIN.
    pub fn init_token(&self, i: usize) -> Slot {
        let slot = self.slot(i);
        self.p11
            .init_token(slot, &pin(SO_PIN), "test token")
            .expect("init token");
        let s = self.p11.open_rw_session(slot).expect("session");
        s.login(UserType::So, Some(&pin(SO_PIN))).expect("so login");
        s.init_pin(&pin(USER_PIN)).expect("init pin");
        s.logout().expect("logout");
        slot
    }

    /// A R/W session logged in as the user on an initialized slot `i`.
    pub fn user_session(&self, i: usize) -> Session {
        let s = self.p11.open_rw_session(self.slot(i)).expect("session");
        s.login(UserType::User, Some(&pin(USER_PIN)))
            .expect("user login");
        s
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        let _ = self.p11.clone().finalize();
    }
}

pub fn pin(s: &str) -> AuthPin {
    AuthPin::new(s.into())
}

/// The PKCS#11 return value of a failed call.
pub fn rv<T: std::fmt::Debug>(r: cryptoki::error::Result<T>) -> RvError {
    match r {
        Err(CkError::Pkcs11(rv, _)) => rv,
        other => panic!("expected a PKCS#11 error, got {other:?}"),
    }
}

impl Ctx {
    /// In a child process: the module with the parent's `SOFTKMS_CONF`.
    pub fn with_existing_config() -> Ctx {
        let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = std::env::var_os("SOFTKMS_CONF").expect("SOFTKMS_CONF");
        let src = PathBuf::from(conf);
        let p11 = Pkcs11::new(module_path()).expect("load module");
        p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .expect("initialize");
        // Point token paths at the parent's files through the parent's config.
        let _ = src;
        Ctx {
            p11,
            dir,
            _guard: guard,
        }
    }
}

/// Lower-case hex of `b`.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The bytes of the hex string `s` (panics on bad hex: test data only).
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The complete lines of a log another process is writing (a line still
/// being written is left out).
pub fn lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    complete.lines().map(str::to_string).collect()
}

/// A `CK_ULONG` attribute (a vendor one, say) of object `k`.
pub fn read_ulong(
    s: &Session,
    k: cryptoki::object::ObjectHandle,
    ty: cryptoki_sys::CK_ULONG,
) -> cryptoki_sys::CK_ULONG {
    use cryptoki::object::{Attribute, AttributeType};
    match &s
        .get_attributes(k, &[AttributeType::VendorDefined(ty)])
        .expect("C_GetAttributeValue")[..]
    {
        [Attribute::VendorDefined((_, v))] => {
            cryptoki_sys::CK_ULONG::from_ne_bytes(v[..].try_into().expect("a CK_ULONG"))
        }
        other => panic!("attribute 0x{ty:x}: {other:?}"),
    }
}

/// The vendor parameter structs of include/softkms.h.
#[allow(unused_imports)] // each test binary uses some of them
pub use p11_testkit::vendor::{EnvelopeParams, GdkParams};

/// One log file for the whole test binary (named after it): the module
/// installs its logger once per process, on the first `C_Initialize` that asks
/// for one, and keeps its file.
pub fn log_path() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{}-{}.log",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ))
}

/// A module with `slots` slots that logs at info level to [`log_path`].
pub fn logging_ctx(slots: usize) -> Ctx {
    // Without this, a SOFTKMS_LOG from the environment would install a logger on
    // stderr at Ctx::new's C_Initialize, before the config names the file.
    std::env::remove_var("SOFTKMS_LOG");
    let mut c = Ctx::new(slots);
    let mut conf = format!("log = \"info\"\nlog_file = \"{}\"\n", log_path().display());
    for i in 0..slots {
        conf.push_str(&format!(
            "[[slot]]\nid = {i}\npath = \"{}\"\nkdf = \"fast\"\n",
            c.token_path(i).display()
        ));
    }
    std::fs::write(c.dir.path().join("softkms.toml"), conf).expect("write config");
    c.restart();
    c
}

/// The lines of [`log_path`] that mention `needle` (a token path or an object uid).
pub fn log_lines(needle: &str) -> Vec<String> {
    std::fs::read_to_string(log_path())
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// `C_Finalize`: the module closes its connections (the WAL is checkpointed
/// away), so that the test may edit the token file.
pub fn stop(ctx: &Ctx) {
    ctx.p11.clone().finalize().expect("finalize");
}

/// A fresh load and `C_Initialize` after [`stop`].
pub fn start(ctx: &mut Ctx) {
    ctx.p11 = Pkcs11::new(module_path()).expect("load module");
    ctx.p11
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .expect("initialize");
}

/// A connection to a token file, behind the module's back.
pub fn db(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("open token file")
}

/// The bucket of an object row in the integrity root (an unkeyed FNV-1a over
/// kind and uid, documented in src/store/integrity.rs): objects in other
/// buckets than a damaged row must keep working.
pub fn bucket(kind: &str, id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in kind.bytes().chain([0u8]).chain(id.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h % 64
}
