//! Sessions: the session table entry, its state, and the operations it runs.
//!
//! Each kind of operation has its own slot (`Option<Box<dyn …>>`); an operation
//! lives there from its `Init` until a single-part call, its `Final`, or an
//! error takes it out (PKCS#11 3.0 §5.2 and §5.8–§5.17); [`step`] applies
//! those rules to every call.

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
    /// Which operations have run in parts (an `Update` succeeded since
    /// their `Init`): a single-part call is then refused ([`step`]).
    pub in_parts: InParts,
}

/// Per kind of operation, whether it runs in parts; [`start`] clears it.
#[derive(Debug, Default)]
pub(crate) struct InParts {
    /// `C_EncryptUpdate` succeeded.
    pub encrypt: bool,
    /// `C_DecryptUpdate` succeeded.
    pub decrypt: bool,
    /// `C_DigestUpdate`/`C_DigestKey` succeeded.
    pub digest: bool,
    /// `C_SignUpdate` succeeded.
    pub sign: bool,
    /// `C_VerifyUpdate` succeeded.
    pub verify: bool,
    /// `C_VerifySignatureUpdate` succeeded.
    pub verify_signature: bool,
    /// A message-based encryption runs (`C_EncryptMessageBegin`).
    pub message_encrypt: bool,
    /// A message-based decryption runs (`C_DecryptMessageBegin`).
    pub message_decrypt: bool,
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
    /// `C_VerifySignature*` (PKCS#11 3.2), which runs beside `C_Verify*`.
    VerifySignature,
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
pub(crate) struct OpKeys([Option<OpKey>; 7]);

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
    /// `C_EncryptUpdate` and friends: success keeps the operation and marks it
    /// as running in parts.
    Update,
    /// A single-part call (`C_Encrypt`, `C_Sign`, …): success ends the
    /// operation; refused with `CKR_OPERATION_ACTIVE` once an `Update` ran,
    /// the operation and its data left as they were.
    Single,
    /// A `Final`: success ends the operation.
    Last,
    /// `C_EncryptMessage`/`C_DecryptMessage`: the call begins and ends one
    /// message (PKCS#11 3.0 §5.9.2, §5.11.2); whatever its result, the
    /// message-based process stays until `C_Message*Final`.
    Message,
}

/// An operation's slot in the session and whether it has run in parts (an
/// `Update` succeeded since its `Init`).
pub(crate) type OpSlotRef<'a, T> = (&'a mut Option<Box<T>>, &'a mut bool);

/// Runs one step of the operation in `slot` with the rules of PKCS#11 3.0
/// §5.2 and §5.8–§5.15, to the letter: no operation →
/// `CKR_OPERATION_NOT_INITIALIZED`; a single-part call after an `Update` →
/// `CKR_OPERATION_ACTIVE`, the operation kept as it was; a size query (a
/// successful call with a null output pointer) or `CKR_BUFFER_TOO_SMALL`
/// keeps the operation; success of a single-part call or a `Final`, and any
/// other error (`CKR_ARGUMENTS_BAD` included), ends it.
pub(crate) fn step<T: ?Sized, R>(
    (slot, in_parts): OpSlotRef<'_, T>,
    step: Step,
    query: bool,
    f: impl FnOnce(&mut T) -> Result<R>,
) -> Result<R> {
    let op = slot.as_mut().ok_or(Error::OperationNotInitialized)?;
    if step == Step::Single && *in_parts {
        return Err(Error::OperationActive);
    }
    let r = f(op);
    let keep = match &r {
        Ok(_) => query || matches!(step, Step::Update | Step::Message),
        Err(Error::BufferTooSmall) => true,
        Err(_) if step == Step::Message => true,
        Err(_) => false,
    };
    if keep {
        if step == Step::Update && r.is_ok() {
            *in_parts = true;
        }
    } else {
        *slot = None;
        *in_parts = false;
    }
    r
}

/// Ends the operation in `slot`, if any (an error the module did not see,
/// such as a null pointer refused before the call reached it, ends it too).
pub(crate) fn end<T: ?Sized>((slot, in_parts): OpSlotRef<'_, T>) {
    *slot = None;
    *in_parts = false;
}

/// Starts an operation: `CKR_OPERATION_ACTIVE` when one of this kind runs.
pub(crate) fn start<T: ?Sized>((slot, in_parts): OpSlotRef<'_, T>, op: Box<T>) -> Result<()> {
    if slot.is_some() {
        return Err(Error::OperationActive);
    }
    *slot = Some(op);
    *in_parts = false;
    Ok(())
}

/// Makes sure no operation of this kind runs yet.
pub(crate) fn idle<T: ?Sized>(slot: &Option<Box<T>>) -> Result<()> {
    if slot.is_some() {
        return Err(Error::OperationActive);
    }
    Ok(())
}
