//! The safe PKCS#11 surface: one method per `C_*` function.
//!
//! `ffi` turns each C call into one call here. The module-wide state lives in a
//! process global guarded by a lock that is only held to clone an `Arc`; it also
//! records the process id at `C_Initialize`, so that a forked child is told
//! `CKR_CRYPTOKI_NOT_INITIALIZED` until it initializes again (SoftHSMv2 does the
//! same).
//!
//! Lock order (outer first): `GLOBAL` → `Module::sessions` → one `Session` →
//! a token's state → a token's store. No lock of this list is held across
//! crypto work or SQLite I/O of another token.

use crate::error::{Error, Result};
use crate::mechanism::{Mechanism, Param};
use crate::object::attr::Template;
use crate::object::rules::AttrRead;
use crate::outbuf::OutBuf;
use cryptoki_sys::*;
use parking_lot::RwLock;
use std::sync::Arc;

/// How the caller asked the library to lock (`CK_C_INITIALIZE_ARGS`), already
/// checked by `ffi` for the all-or-none rule of the mutex callbacks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InitArgs {
    /// The caller supplied mutex callbacks.
    pub mutex_callbacks: bool,
    /// `CKF_OS_LOCKING_OK`.
    pub os_locking_ok: bool,
    /// `CKF_LIBRARY_CANT_CREATE_OS_THREADS`.
    pub cant_create_threads: bool,
}

/// `CK_INFO` in Rust form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    /// Cryptoki version (3.0).
    pub cryptoki_version: (u8, u8),
    /// `manufacturerID`.
    pub manufacturer: String,
    /// `libraryDescription`.
    pub description: String,
    /// `libraryVersion`.
    pub library_version: (u8, u8),
}

/// `CK_SLOT_INFO` in Rust form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    /// `slotDescription`.
    pub description: String,
    /// `manufacturerID`.
    pub manufacturer: String,
    /// `CKF_*` slot flags.
    pub flags: CK_FLAGS,
    /// Hardware version.
    pub hardware_version: (u8, u8),
    /// Firmware version.
    pub firmware_version: (u8, u8),
}

/// `CK_TOKEN_INFO` in Rust form. Counts that are not known are
/// `CK_UNAVAILABLE_INFORMATION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// `label`.
    pub label: String,
    /// `manufacturerID`.
    pub manufacturer: String,
    /// `model`.
    pub model: String,
    /// `serialNumber`.
    pub serial: String,
    /// `CKF_*` token flags.
    pub flags: CK_FLAGS,
    /// `ulMaxSessionCount`.
    pub max_session_count: CK_ULONG,
    /// `ulSessionCount`.
    pub session_count: CK_ULONG,
    /// `ulMaxRwSessionCount`.
    pub max_rw_session_count: CK_ULONG,
    /// `ulRwSessionCount`.
    pub rw_session_count: CK_ULONG,
    /// `ulMaxPinLen`.
    pub max_pin_len: CK_ULONG,
    /// `ulMinPinLen`.
    pub min_pin_len: CK_ULONG,
    /// `ulTotalPublicMemory`.
    pub total_public_memory: CK_ULONG,
    /// `ulFreePublicMemory`.
    pub free_public_memory: CK_ULONG,
    /// `ulTotalPrivateMemory`.
    pub total_private_memory: CK_ULONG,
    /// `ulFreePrivateMemory`.
    pub free_private_memory: CK_ULONG,
    /// `hardwareVersion`.
    pub hardware_version: (u8, u8),
    /// `firmwareVersion`.
    pub firmware_version: (u8, u8),
    /// `utcTime` (16 characters, or empty when the token has no clock).
    pub utc_time: String,
}

/// `CK_SESSION_INFO` in Rust form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionInfo {
    /// The slot.
    pub slot: CK_SLOT_ID,
    /// `CKS_*`.
    pub state: CK_STATE,
    /// `CKF_RW_SESSION | CKF_SERIAL_SESSION`.
    pub flags: CK_FLAGS,
    /// `ulDeviceError`.
    pub device_error: CK_ULONG,
}

/// `CK_MECHANISM_INFO` in Rust form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MechInfo {
    /// `ulMinKeySize`.
    pub min_key: CK_ULONG,
    /// `ulMaxKeySize`.
    pub max_key: CK_ULONG,
    /// `flags`.
    pub flags: CK_FLAGS,
}

/// The module-wide state of one initialization.
pub struct Module {
    _private: (),
}

struct Global {
    pid: u32,
    module: Arc<Module>,
}

static GLOBAL: RwLock<Option<Global>> = RwLock::new(None);

/// `C_Initialize` (PKCS#11 3.0 §5.4): sets up the module for this process.
pub fn initialize(args: InitArgs) -> Result<()> {
    let _ = args;
    Err(Error::FunctionNotSupported)
}

/// `C_Finalize` (§5.4): ends this process's use of the module.
pub fn finalize() -> Result<()> {
    Err(Error::FunctionNotSupported)
}

/// The module of this process, or `CKR_CRYPTOKI_NOT_INITIALIZED` (also in a
/// forked child that has not called `C_Initialize` itself).
pub fn get() -> Result<Arc<Module>> {
    let g = GLOBAL.read();
    match g.as_ref() {
        Some(g) if g.pid == std::process::id() => Ok(Arc::clone(&g.module)),
        _ => Err(Error::NotInitialized),
    }
}

#[allow(unused_variables, missing_docs)]
impl Module {
    /// `C_GetInfo` (§5.4).
    pub fn info(&self) -> ModuleInfo {
        ModuleInfo {
            cryptoki_version: (3, 0),
            manufacturer: "SoftKMS".into(),
            description: "SoftKMS PKCS#11 module".into(),
            library_version: (0, 1),
        }
    }
    /// `C_GetSlotList` (§5.5).
    pub fn slot_list(&self, token_present: bool) -> Vec<CK_SLOT_ID> {
        Vec::new()
    }
    /// `C_GetSlotInfo` (§5.5).
    pub fn slot_info(&self, slot: CK_SLOT_ID) -> Result<SlotInfo> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_GetTokenInfo` (§5.5).
    pub fn token_info(&self, slot: CK_SLOT_ID) -> Result<TokenInfo> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_GetMechanismList` (§5.5).
    pub fn mechanism_list(&self, slot: CK_SLOT_ID) -> Result<Vec<CK_MECHANISM_TYPE>> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_GetMechanismInfo` (§5.5).
    pub fn mechanism_info(&self, slot: CK_SLOT_ID, mech: CK_MECHANISM_TYPE) -> Result<MechInfo> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_InitToken` (§5.5); `label` is the 32-byte blank-padded label.
    pub fn init_token(&self, slot: CK_SLOT_ID, so_pin: &[u8], label: &[u8]) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_InitPIN` (§5.5).
    pub fn init_pin(&self, h: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_SetPIN` (§5.5).
    pub fn set_pin(&self, h: CK_SESSION_HANDLE, old: &[u8], new: &[u8]) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_OpenSession` (§5.6).
    pub fn open_session(&self, slot: CK_SLOT_ID, flags: CK_FLAGS) -> Result<CK_SESSION_HANDLE> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_CloseSession` (§5.6).
    pub fn close_session(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_CloseAllSessions` (§5.6).
    pub fn close_all_sessions(&self, slot: CK_SLOT_ID) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_GetSessionInfo` (§5.6).
    pub fn session_info(&self, h: CK_SESSION_HANDLE) -> Result<SessionInfo> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_SessionCancel` (§5.6, 3.0): ends the operations named by `flags`.
    pub fn session_cancel(&self, h: CK_SESSION_HANDLE, flags: CK_FLAGS) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_Login` and `C_LoginUser` (§5.6); `username` is `None` for `C_Login`.
    pub fn login(&self, h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &[u8], username: Option<&[u8]>) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_Logout` (§5.6).
    pub fn logout(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_CreateObject` (§5.7).
    pub fn create_object(&self, h: CK_SESSION_HANDLE, template: &Template) -> Result<CK_OBJECT_HANDLE> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_CopyObject` (§5.7).
    pub fn copy_object(&self, h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE, template: &Template) -> Result<CK_OBJECT_HANDLE> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_DestroyObject` (§5.7).
    pub fn destroy_object(&self, h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_GetObjectSize` (§5.7).
    pub fn object_size(&self, h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE) -> Result<CK_ULONG> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_GetAttributeValue` (§5.7): one answer per asked type, in order; `ffi`
    /// applies the length rules and picks the return value.
    pub fn get_attributes(&self, h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE, types: &[CK_ATTRIBUTE_TYPE]) -> Result<Vec<AttrRead>> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_SetAttributeValue` (§5.7).
    pub fn set_attributes(&self, h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE, template: &Template) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_FindObjectsInit` (§5.7).
    pub fn find_init(&self, h: CK_SESSION_HANDLE, template: &Template) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_FindObjects` (§5.7): up to `max` more handles.
    pub fn find(&self, h: CK_SESSION_HANDLE, max: usize) -> Result<Vec<CK_OBJECT_HANDLE>> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_FindObjectsFinal` (§5.7).
    pub fn find_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_EncryptInit` (§5.8).
    pub fn encrypt_init(&self, h: CK_SESSION_HANDLE, mech: &Mechanism, key: CK_OBJECT_HANDLE) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_Encrypt` (§5.8).
    pub fn encrypt(&self, h: CK_SESSION_HANDLE, data: &[u8], out: &mut OutBuf) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_EncryptUpdate` (§5.8).
    pub fn encrypt_update(&self, h: CK_SESSION_HANDLE, data: &[u8], out: &mut OutBuf) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_EncryptFinal` (§5.8).
    pub fn encrypt_final(&self, h: CK_SESSION_HANDLE, out: &mut OutBuf) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_DecryptInit` (§5.9).
    pub fn decrypt_init(&self, h: CK_SESSION_HANDLE, mech: &Mechanism, key: CK_OBJECT_HANDLE) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_Decrypt` (§5.9).
    pub fn decrypt(&self, h: CK_SESSION_HANDLE, data: &[u8], out: &mut OutBuf) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_DecryptUpdate` (§5.9).
    pub fn decrypt_update(&self, h: CK_SESSION_HANDLE, data: &[u8], out: &mut OutBuf) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_DecryptFinal` (§5.9).
    pub fn decrypt_final(&self, h: CK_SESSION_HANDLE, out: &mut OutBuf) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_DigestInit` (§5.10).
    pub fn digest_init(&self, h: CK_SESSION_HANDLE, mech: &Mechanism) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_Digest` (§5.10).
    pub fn digest(&self, h: CK_SESSION_HANDLE, data: &[u8], out: &mut OutBuf) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_DigestUpdate` (§5.10).
    pub fn digest_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_DigestKey` (§5.10).
    pub fn digest_key(&self, h: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_DigestFinal` (§5.10).
    pub fn digest_final(&self, h: CK_SESSION_HANDLE, out: &mut OutBuf) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_SignInit` (§5.11).
    pub fn sign_init(&self, h: CK_SESSION_HANDLE, mech: &Mechanism, key: CK_OBJECT_HANDLE) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_Sign` (§5.11).
    pub fn sign(&self, h: CK_SESSION_HANDLE, data: &[u8], out: &mut OutBuf) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_SignUpdate` (§5.11).
    pub fn sign_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_SignFinal` (§5.11).
    pub fn sign_final(&self, h: CK_SESSION_HANDLE, out: &mut OutBuf) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_VerifyInit` (§5.13).
    pub fn verify_init(&self, h: CK_SESSION_HANDLE, mech: &Mechanism, key: CK_OBJECT_HANDLE) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_Verify` (§5.13).
    pub fn verify(&self, h: CK_SESSION_HANDLE, data: &[u8], signature: &[u8]) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_VerifyUpdate` (§5.13).
    pub fn verify_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_VerifyFinal` (§5.13).
    pub fn verify_final(&self, h: CK_SESSION_HANDLE, signature: &[u8]) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_GenerateKey` (§5.15).
    pub fn generate_key(&self, h: CK_SESSION_HANDLE, mech: &Mechanism, template: &Template) -> Result<CK_OBJECT_HANDLE> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_GenerateKeyPair` (§5.15): (public, private).
    pub fn generate_key_pair(&self, h: CK_SESSION_HANDLE, mech: &Mechanism, public: &Template, private: &Template) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_WrapKey` (§5.15).
    pub fn wrap_key(&self, h: CK_SESSION_HANDLE, mech: &Mechanism, wrapping_key: CK_OBJECT_HANDLE, key: CK_OBJECT_HANDLE, out: &mut OutBuf) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_UnwrapKey` (§5.15).
    pub fn unwrap_key(&self, h: CK_SESSION_HANDLE, mech: &Mechanism, unwrapping_key: CK_OBJECT_HANDLE, wrapped: &[u8], template: &Template) -> Result<CK_OBJECT_HANDLE> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_DeriveKey` (§5.15). `mech` may carry output fields (vendor mechanisms).
    pub fn derive_key(&self, h: CK_SESSION_HANDLE, mech: &mut Mechanism, base_key: CK_OBJECT_HANDLE, template: &Template) -> Result<CK_OBJECT_HANDLE> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_SeedRandom` (§5.16).
    pub fn seed_random(&self, h: CK_SESSION_HANDLE, seed: &[u8]) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_GenerateRandom` (§5.16).
    pub fn generate_random(&self, h: CK_SESSION_HANDLE, buf: &mut [u8]) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_MessageEncryptInit` (§5.9 in 3.0's message-based encryption).
    pub fn message_encrypt_init(&self, h: CK_SESSION_HANDLE, mech: &Mechanism, key: CK_OBJECT_HANDLE) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_EncryptMessage`: `param` is the per-message parameter; IV/tag outputs are
    /// written into it and copied back by `ffi`.
    pub fn encrypt_message(&self, h: CK_SESSION_HANDLE, param: &mut Param, aad: &[u8], data: &[u8], out: &mut OutBuf) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_EncryptMessageBegin`.
    pub fn encrypt_message_begin(&self, h: CK_SESSION_HANDLE, param: &mut Param, aad: &[u8]) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_EncryptMessageNext`; `last` is `CKF_END_OF_MESSAGE`.
    pub fn encrypt_message_next(&self, h: CK_SESSION_HANDLE, param: &mut Param, data: &[u8], last: bool, out: &mut OutBuf) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_MessageEncryptFinal`.
    pub fn message_encrypt_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_MessageDecryptInit`.
    pub fn message_decrypt_init(&self, h: CK_SESSION_HANDLE, mech: &Mechanism, key: CK_OBJECT_HANDLE) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_DecryptMessage`.
    pub fn decrypt_message(&self, h: CK_SESSION_HANDLE, param: &mut Param, aad: &[u8], data: &[u8], out: &mut OutBuf) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_DecryptMessageBegin`.
    pub fn decrypt_message_begin(&self, h: CK_SESSION_HANDLE, param: &mut Param, aad: &[u8]) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_DecryptMessageNext`.
    pub fn decrypt_message_next(&self, h: CK_SESSION_HANDLE, param: &mut Param, data: &[u8], last: bool, out: &mut OutBuf) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
    /// `C_MessageDecryptFinal`.
    pub fn message_decrypt_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        Err(Error::FunctionNotSupported)
    }
}
