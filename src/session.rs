//! Sessions: the session table entry, its state, and the operations it runs.
//!
//! Each kind of operation has its own slot (`Option<Box<dyn …>>`); an operation
//! lives there from its `Init` until a single-part call, its `Final`, or an
//! error takes it out (PKCS#11 3.0 §5.2 and §5.8–§5.17).

use crate::error::{Error, Result};
use crate::mechanism::{CipherOp, DigestOp, MessageOp, SignOp, SignatureVerify, VerifyOp};
use cryptoki_sys::*;

/// An object search in progress.
pub(crate) struct FindState {
    /// Handles still to return.
    pub pending: Vec<CK_OBJECT_HANDLE>,
}

/// The operations a session is running.
#[derive(Default)]
pub(crate) struct Ops {
    /// `C_Encrypt*`.
    pub encrypt: Option<Box<dyn CipherOp>>,
    /// `C_Decrypt*`.
    pub decrypt: Option<Box<dyn CipherOp>>,
    /// `C_Digest*`.
    pub digest: Option<Box<dyn DigestOp>>,
    /// `C_Sign*`.
    pub sign: Option<Box<dyn SignOp>>,
    /// `C_Verify*`.
    pub verify: Option<Box<dyn VerifyOp>>,
    /// `C_VerifySignature*` (PKCS#11 3.2).
    pub verify_signature: Option<Box<SignatureVerify>>,
    /// `C_MessageEncrypt*`.
    pub message_encrypt: Option<Box<dyn MessageOp>>,
    /// `C_MessageDecrypt*`.
    pub message_decrypt: Option<Box<dyn MessageOp>>,
    /// `C_FindObjects*`.
    pub find: Option<FindState>,
}

/// Which of a session's key operations a call steps (for its audit record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpSlot {
    /// `C_Encrypt*`.
    Encrypt,
    /// `C_Decrypt*`.
    Decrypt,
    /// `C_Sign*`.
    Sign,
    /// `C_Verify*`.
    Verify,
    /// `C_*EncryptMessage*`.
    MessageEncrypt,
    /// `C_*DecryptMessage*`.
    MessageDecrypt,
}

/// The key and mechanism of a running key operation, so that a failure inside
/// it (`C_Decrypt` of a message with the wrong context, a bad tag) is audited
/// against the key.
#[derive(Debug, Clone)]
pub(crate) struct OpKey {
    /// The mechanism.
    pub mech: CK_MECHANISM_TYPE,
    /// The key's `CKA_UNIQUE_ID`.
    pub uid: std::sync::Arc<str>,
    /// The key version the operation started with.
    pub version: u32,
    /// The encryption context of the mechanism parameter.
    pub context: Vec<u8>,
}

/// [`OpKey`] per running key operation.
#[derive(Debug, Default)]
pub(crate) struct OpKeys([Option<OpKey>; 6]);

impl OpKeys {
    /// The key of the operation in `slot`.
    pub(crate) fn get(&self, slot: OpSlot) -> Option<&OpKey> {
        self.0[slot as usize].as_ref()
    }
    /// Remembers the key of the operation just started in `slot`.
    pub(crate) fn set(&mut self, slot: OpSlot, key: OpKey) {
        self.0[slot as usize] = Some(key);
    }
}

/// One open session.
pub(crate) struct Session {
    /// Its handle.
    pub handle: CK_SESSION_HANDLE,
    /// The slot it was opened on.
    pub slot: CK_SLOT_ID,
    /// `CKF_RW_SESSION`.
    pub rw: bool,
    /// Running operations.
    pub ops: Ops,
    /// The keys of the running key operations (for the audit log).
    pub op_keys: OpKeys,
    /// The signing or decryption just started uses a key with
    /// `CKA_ALWAYS_AUTHENTICATE`: it waits for `C_Login(CKU_CONTEXT_SPECIFIC)`.
    pub context_login_needed: bool,
}

impl Session {
    /// A new session.
    pub(crate) fn new(handle: CK_SESSION_HANDLE, slot: CK_SLOT_ID, rw: bool) -> Session {
        Session {
            handle,
            slot,
            rw,
            ops: Ops::default(),
            op_keys: OpKeys::default(),
            context_login_needed: false,
        }
    }
}

/// How a call relates to its operation: whether success ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// `C_EncryptUpdate` and friends: success keeps the operation.
    Update,
    /// A single-part call or a `Final`: success ends the operation.
    Last,
    /// `C_EncryptMessage`/`C_DecryptMessage`: the call begins and ends one
    /// message (PKCS#11 3.0 §5.9.2, §5.11.2); whatever its result, the
    /// message-based process stays until `C_Message*Final`.
    Message,
}

/// Runs one step of the operation in `slot` with the rules of §5.2: no operation
/// → `CKR_OPERATION_NOT_INITIALIZED`; a size query or `CKR_BUFFER_TOO_SMALL` keeps
/// the operation; success of a `Last` step or any other error ends it.
pub(crate) fn step<T: ?Sized, R>(
    slot: &mut Option<Box<T>>,
    step: Step,
    query: bool,
    f: impl FnOnce(&mut T) -> Result<R>,
) -> Result<R> {
    let op = slot.as_mut().ok_or(Error::OperationNotInitialized)?;
    let r = f(op);
    let keep = match &r {
        Ok(_) => query || step != Step::Last,
        Err(Error::BufferTooSmall) => true,
        Err(_) if step == Step::Message => true,
        Err(_) => false,
    };
    if !keep {
        *slot = None;
    }
    r
}

/// Starts an operation: `CKR_OPERATION_ACTIVE` when one of this kind runs.
pub(crate) fn start<T: ?Sized>(slot: &mut Option<Box<T>>, op: Box<T>) -> Result<()> {
    if slot.is_some() {
        return Err(Error::OperationActive);
    }
    *slot = Some(op);
    Ok(())
}

/// Makes sure no operation of this kind runs yet.
pub(crate) fn idle<T: ?Sized>(slot: &Option<Box<T>>) -> Result<()> {
    if slot.is_some() {
        return Err(Error::OperationActive);
    }
    Ok(())
}
