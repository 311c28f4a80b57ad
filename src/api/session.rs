//! [`Softkms`] (the module, opened in this process) and [`Token`] (a session
//! on one slot's token), with the calls that are not about one key.

use super::error::{Error, ErrorKind, Result};
use super::types::{
    check_len, MechanismInfo, ObjectClass, ObjectSummary, Pin, Principal, TokenStatus,
};
use crate::mechanism::{Mechanism, Param};
use crate::module::{self, InitArgs, Module};
use crate::object::attr::{decode_ulong, Attribute, Template};
use crate::object::rules::AttrRead;
use crate::outbuf::OutBuf;
use cryptoki_sys::*;
use parking_lot::Mutex;
use std::path::PathBuf;
use std::sync::Arc;

/// The most random bytes one [`Token::generate_random`] call returns.
pub const MAX_RANDOM_BYTES: usize = 1 << 20;

/// Finalizes the module when the last handle goes.
struct Opened {
    module: Arc<Module>,
}

impl Drop for Opened {
    fn drop(&mut self) {
        let _ = module::finalize();
    }
}

/// SoftKMS, opened in this process: the slots of its configuration, each with
/// one token file.
///
/// The configuration is found as the module finds it (`docs/configuration.md`):
/// the file `SOFTKMS_CONF` names, else `$XDG_CONFIG_HOME/softkms/softkms.toml`
/// when present, else one slot whose token is
/// `$XDG_DATA_HOME/softkms/token.db`.
///
/// The PKCS#11 state is per process: one `Softkms` may be open at a time (and
/// not beside a PKCS#11 client of `libsoftkms.so` in the same process). It is
/// closed (`C_Finalize`) when it and every [`Token`] made from it are dropped.
#[derive(Clone)]
pub struct Softkms {
    opened: Arc<Opened>,
}

impl std::fmt::Debug for Softkms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Softkms")
    }
}

impl Softkms {
    /// Opens SoftKMS (`C_Initialize`) with the configuration of the
    /// environment. [`ErrorKind::InvalidState`] when it is already open in
    /// this process.
    pub fn open() -> Result<Softkms> {
        module::initialize(InitArgs {
            os_locking_ok: true,
            ..InitArgs::default()
        })
        .map_err(|e| match e {
            crate::error::Error::AlreadyInitialized => {
                Error::from(e).with_kind(ErrorKind::InvalidState)
            }
            e => Error::from(e),
        })?;
        let module = match module::get() {
            Ok(m) => m,
            Err(e) => {
                let _ = module::finalize();
                return Err(e.into());
            }
        };
        Ok(Softkms {
            opened: Arc::new(Opened { module }),
        })
    }

    /// The configuration file in effect, if any (none: the defaults).
    pub fn config_file() -> Option<PathBuf> {
        crate::config::config_file_path()
    }

    fn module(&self) -> &Module {
        &self.opened.module
    }

    /// The slot ids.
    pub fn slots(&self) -> Vec<u64> {
        self.module().slot_list(false)
    }

    /// The state of the token in `slot` (needs no login).
    pub fn token_status(&self, slot: u64) -> Result<TokenStatus> {
        let t = self.module().token_info(slot)?;
        let path = crate::config::Config::load()
            .ok()
            .and_then(|c| c.slots.into_iter().find(|s| s.id == slot))
            .map(|s| s.path);
        Ok(TokenStatus {
            slot,
            path,
            initialized: t.flags & CKF_TOKEN_INITIALIZED != 0,
            label: t.label,
            serial: t.serial,
            user_pin_initialized: t.flags & CKF_USER_PIN_INITIALIZED != 0,
            sessions: t.session_count,
        })
    }

    /// Initializes the token in `slot` (`C_InitToken`) with the label
    /// (at most 32 bytes) and the SO PIN. Re-initializing wipes every object
    /// and needs the current SO PIN; no session may be open on it. The user
    /// PIN is set afterwards by the SO ([`Token::init_user_pin`]).
    pub fn init_token(&self, slot: u64, label: &str, so_pin: &Pin) -> Result<()> {
        if label.len() > 32 {
            return Err(Error::invalid("a label has at most 32 bytes"));
        }
        super::words::check_pin_len(self.module(), slot, so_pin)?;
        let mut padded = label.as_bytes().to_vec();
        padded.resize(32, b' ');
        self.module()
            .init_token(slot, so_pin.bytes(), &padded)
            .map_err(Error::from)
            .inspect_err(|e| {
                super::words::failed(&format!("initialize the token in slot {slot}"), e)
            })
    }

    /// A session on the token in `slot`, not logged in yet.
    pub fn token(&self, slot: u64) -> Result<Token> {
        let m = self.module();
        match m.open_session(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION) {
            Ok(h) => Ok(Token {
                opened: Arc::clone(&self.opened),
                slot,
                h,
                busy: Mutex::new(()),
            }),
            Err(e) => {
                let uninitialized = matches!(e, crate::error::Error::TokenNotRecognized(_))
                    && m.token_info(slot)
                        .is_ok_and(|t| t.flags & CKF_TOKEN_INITIALIZED == 0);
                let e = Error::from(e);
                Err(if uninitialized {
                    e.with_kind(ErrorKind::Uninitialized)
                } else {
                    e
                })
            }
        }
    }

    /// The mechanisms the module offers, as `C_GetMechanismList` lists them.
    pub fn mechanisms(&self) -> Vec<MechanismInfo> {
        let settings = self.module().mechanism_settings();
        crate::mechanism::registry::offered(&settings)
            .map(|d| {
                let flags = d.info_flags();
                MechanismInfo {
                    name: d.name,
                    min_key_size: d.min_key,
                    max_key_size: d.max_key,
                    functions: function_names(flags),
                    pkcs11_flags: flags,
                }
            })
            .collect()
    }
}

/// `CKF_*` names of a mechanism's flags, in the standard's order.
fn function_names(flags: CK_FLAGS) -> Vec<&'static str> {
    const NAMES: [(CK_FLAGS, &str); 22] = [
        (CKF_HW, "hw"),
        (CKF_MESSAGE_ENCRYPT, "message-encrypt"),
        (CKF_MESSAGE_DECRYPT, "message-decrypt"),
        (CKF_ENCRYPT, "encrypt"),
        (CKF_DECRYPT, "decrypt"),
        (CKF_DIGEST, "digest"),
        (CKF_SIGN, "sign"),
        (CKF_SIGN_RECOVER, "sign-recover"),
        (CKF_VERIFY, "verify"),
        (CKF_VERIFY_RECOVER, "verify-recover"),
        (CKF_GENERATE, "generate"),
        (CKF_GENERATE_KEY_PAIR, "generate-key-pair"),
        (CKF_WRAP, "wrap"),
        (CKF_UNWRAP, "unwrap"),
        (CKF_DERIVE, "derive"),
        (CKF_ENCAPSULATE, "encapsulate"),
        (CKF_DECAPSULATE, "decapsulate"),
        (CKF_EC_F_P, "ec-f-p"),
        (CKF_EC_OID, "ec-oid"),
        (CKF_EC_UNCOMPRESS, "ec-uncompress"),
        (CKF_EC_COMPRESS, "ec-compress"),
        (CKF_EC_CURVENAME, "ec-curvename"),
    ];
    NAMES
        .iter()
        .filter(|(f, _)| flags & f != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// A session on one token: log in, then manage and use its keys.
///
/// Every call goes through the module's safe PKCS#11 surface, so each key
/// use passes the key gate (usage, lifecycle, key policy with the call's
/// encryption context) and is audited, as it would be for a PKCS#11 client.
///
/// The login belongs to the token, not to the session (PKCS#11): every
/// `Token` of one slot in this process shares it, and it ends when the last
/// of them is dropped or [`Token::logout`] is called. Calls on one `Token`
/// from several threads take turns.
pub struct Token {
    opened: Arc<Opened>,
    slot: u64,
    h: CK_SESSION_HANDLE,
    /// Held for the whole of each call: a call is several PKCS#11 calls on
    /// the one session (find, init/update/final), which must not interleave.
    busy: Mutex<()>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token").field("slot", &self.slot).finish()
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        let _ = self.opened.module.close_session(self.h);
    }
}

impl Token {
    pub(super) fn m(&self) -> &Module {
        &self.opened.module
    }

    pub(super) fn h(&self) -> CK_SESSION_HANDLE {
        self.h
    }

    /// Takes this session for one call.
    pub(super) fn take(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.busy.lock()
    }

    /// The slot.
    pub fn slot(&self) -> u64 {
        self.slot
    }

    /// Logs `who` in with `pin` (`C_Login`, or `C_LoginUser` for a named
    /// principal). A wrong PIN is [`ErrorKind::PinIncorrect`]; after too many,
    /// [`ErrorKind::PinLocked`].
    pub fn login(&self, who: &Principal, pin: &Pin) -> Result<()> {
        let _g = self.take();
        let (user, name) = match who {
            Principal::SecurityOfficer => (CKU_SO, None),
            Principal::User => (CKU_USER, None),
            Principal::Named(n) => (CKU_USER, Some(n.as_bytes())),
        };
        self.m()
            .login(self.h, user, pin.bytes(), name)
            .map_err(Error::from)
            .inspect_err(|e| super::words::failed(&format!("log in as {}", who.name()), e))
    }

    /// Logs out (`C_Logout`).
    pub fn logout(&self) -> Result<()> {
        let _g = self.take();
        Ok(self.m().logout(self.h)?)
    }

    /// The SO, logged in, sets the user's PIN (`C_InitPIN`).
    pub fn init_user_pin(&self, pin: &Pin) -> Result<()> {
        self.check_pin(pin)?;
        let _g = self.take();
        self.m()
            .init_pin(self.h, pin.bytes())
            .map_err(Error::from)
            .inspect_err(|e| super::words::failed("set the user PIN", e))
    }

    /// Changes the PIN of whoever is logged in (`C_SetPIN`).
    pub fn change_pin(&self, old: &Pin, new: &Pin) -> Result<()> {
        self.check_pin(new)?;
        let _g = self.take();
        self.m()
            .set_pin(self.h, old.bytes(), new.bytes())
            .map_err(Error::from)
            .inspect_err(|e| super::words::failed("change the PIN", e))
    }

    /// `n` random bytes from the module's generator (at most
    /// [`MAX_RANDOM_BYTES`]).
    pub fn generate_random(&self, n: usize) -> Result<Vec<u8>> {
        check_len("random bytes", n, MAX_RANDOM_BYTES)?;
        let _g = self.take();
        let mut buf = vec![0u8; n];
        self.m().generate_random(self.h, &mut buf)?;
        Ok(buf)
    }

    /// The objects this session sees: public ones, and private ones once a
    /// user is logged in.
    pub fn list_objects(&self) -> Result<Vec<ObjectSummary>> {
        let _g = self.take();
        let mut rows = Vec::new();
        for o in self.find(&Vec::new(), usize::MAX)? {
            rows.push(ObjectSummary {
                label: self.text(o, CKA_LABEL),
                class: ObjectClass::from_class(self.ulong(o, CKA_CLASS)),
                id: self.text(o, CKA_UNIQUE_ID).unwrap_or_default(),
            });
        }
        Ok(rows)
    }

    // ---- helpers for the other files of the API (the caller holds `take`)

    /// The handles of the objects that match `template`, at most `max`.
    pub(super) fn find(&self, template: &Template, max: usize) -> Result<Vec<CK_OBJECT_HANDLE>> {
        let m = self.m();
        m.find_init(self.h, template)?;
        let mut found = Vec::new();
        let r = loop {
            match m.find(self.h, 64) {
                Ok(more) if more.is_empty() => break Ok(()),
                Ok(more) => {
                    found.extend(more);
                    if found.len() >= max {
                        found.truncate(max);
                        break Ok(());
                    }
                }
                Err(e) => break Err(e),
            }
        };
        let fin = m.find_final(self.h);
        r?;
        fin?;
        Ok(found)
    }

    /// Attribute values of `o` (`None` for one it does not have or that is
    /// sensitive).
    pub(super) fn attrs(
        &self,
        o: CK_OBJECT_HANDLE,
        types: &[CK_ATTRIBUTE_TYPE],
    ) -> Vec<Option<zeroize::Zeroizing<Vec<u8>>>> {
        match self.m().get_attributes(self.h, o, types) {
            Ok(v) => v
                .into_iter()
                .map(|a| match a {
                    AttrRead::Value(v) => Some(v),
                    _ => None,
                })
                .collect(),
            Err(_) => types.iter().map(|_| None).collect(),
        }
    }

    pub(super) fn text(&self, o: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> Option<String> {
        self.attrs(o, &[ty])
            .pop()
            .flatten()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    pub(super) fn ulong(&self, o: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> Option<u64> {
        self.attrs(o, &[ty])
            .pop()
            .flatten()
            .and_then(|v| decode_ulong(ty, &v).ok())
    }

    pub(super) fn set(&self, o: CK_OBJECT_HANDLE, template: &Template) -> Result<()> {
        Ok(self.m().set_attributes(self.h, o, template)?)
    }
}

/// A mechanism without a parameter.
pub(super) fn mech(m: CK_MECHANISM_TYPE) -> Mechanism {
    Mechanism {
        mech: m,
        param: Param::None,
    }
}

/// A label attribute.
pub(super) fn label(text: &str) -> Attribute {
    Attribute::new(CKA_LABEL, text.as_bytes().to_vec())
}

/// Calls `f` for the output's size, then for the output (PKCS#11's length
/// query), and returns the output.
pub(super) fn call(mut f: impl FnMut(&mut OutBuf) -> crate::error::Result<()>) -> Result<Vec<u8>> {
    let mut q = OutBuf::query();
    f(&mut q)?;
    let mut res = vec![0u8; q.len()];
    let len = {
        let mut ob = OutBuf::new(Some(&mut res));
        f(&mut ob)?;
        ob.len()
    };
    res.truncate(len);
    Ok(res)
}
