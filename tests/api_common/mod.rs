//! The fixture of the Rust API tests (`tests/api.rs`, `tests/key_specs.rs`):
//! SoftKMS opened on a throw-away token in a temporary directory, found
//! through `SOFTKMS_CONF`. SoftKMS is opened once per process at a time, so
//! the tests of one binary take turns.

#![allow(dead_code)] // each test binary uses its part

use softkms::api::{ErrorKind, Pin, Principal, Softkms, Token};
use std::sync::{Mutex, MutexGuard};

static LOCK: Mutex<()> = Mutex::new(());

/// The SO PIN of the fixture's token.
pub const SO_PIN: &str = "api-so-pin";
/// The user PIN of the fixture's token.
pub const USER_PIN: &str = "api-user-pin";

/// SoftKMS opened on a fresh, initialized token (user PIN set), and the
/// directory that holds it.
pub struct Fixture {
    pub kms: Softkms,
    pub dir: tempfile::TempDir,
    _guard: MutexGuard<'static, ()>,
}

impl Fixture {
    /// A token labelled `label`; `slot_options` are more lines of the slot's
    /// configuration table (such as `audit = "per-call"`).
    pub fn new(label: &str, slot_options: &str) -> Fixture {
        let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("softkms.toml");
        std::fs::write(
            &conf,
            format!(
                "[[slot]]\nid = 0\npath = \"{}\"\nkdf = \"fast\"\n{slot_options}",
                dir.path().join("t.db").display()
            ),
        )
        .unwrap();
        std::env::set_var("SOFTKMS_CONF", &conf);
        let kms = Softkms::open().unwrap();
        assert_eq!(kms.slots(), vec![0]);
        assert!(!kms.token_status(0).unwrap().initialized);
        assert_eq!(kms.token(0).unwrap_err().kind(), ErrorKind::Uninitialized);
        kms.init_token(0, label, &Pin::from(SO_PIN)).unwrap();
        {
            let so = kms.token(0).unwrap();
            so.login(&Principal::SecurityOfficer, &Pin::from(SO_PIN))
                .unwrap();
            so.init_user_pin(&Pin::from(USER_PIN)).unwrap();
        }
        let st = kms.token_status(0).unwrap();
        assert!(st.initialized && st.user_pin_initialized);
        assert_eq!(st.label, label);
        Fixture {
            kms,
            dir,
            _guard: guard,
        }
    }

    /// The token, logged in as the user.
    pub fn user(&self) -> Token {
        let t = self.kms.token(0).unwrap();
        t.login(&Principal::User, &Pin::from(USER_PIN)).unwrap();
        t
    }
}
