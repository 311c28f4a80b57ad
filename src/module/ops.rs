//! The cryptographic operations of a session (PKCS#11 3.0 §5.8–§5.17, the
//! message-based functions among them): each `Init` puts an operation object in the session,
//! the following calls step it by the rules of [`crate::session::step`].

use super::Module;
use crate::error::{Error, Result};
use crate::gate::{Granted, Use};
use crate::mechanism::versioned;
use crate::mechanism::{registry, Functions, KeyOpCtor, Mechanism, Param};
use crate::outbuf::OutBuf;
use crate::remote::proto::{InKind, InOutKind, InitKind, OpKind, OutKind};
use crate::session::{self, OpKey, OpSlot, OpSlotRef, Ops, Step};
use cryptoki_sys::*;

/// What the audit log needs of a running operation's key.
fn op_key(mech: &Mechanism, g: &Granted) -> OpKey {
    OpKey {
        mech: mech.mech,
        uid: std::sync::Arc::from(g.key_id()),
        version: g.current_version(),
        context: mech.param.context().to_vec(),
    }
}

/// The kinds of single and multi-part operations (`C_SessionCancel`'s
/// flags), for [`Module::end_operation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// `C_Encrypt*`.
    Encrypt,
    /// `C_Decrypt*`.
    Decrypt,
    /// `C_Digest*`.
    Digest,
    /// `C_Sign*`.
    Sign,
    /// `C_Verify*`.
    Verify,
    /// `C_VerifySignature*` (PKCS#11 3.2).
    VerifySignature,
}

impl From<Operation> for OpKind {
    fn from(op: Operation) -> OpKind {
        match op {
            Operation::Encrypt => OpKind::Encrypt,
            Operation::Decrypt => OpKind::Decrypt,
            Operation::Digest => OpKind::Digest,
            Operation::Sign => OpKind::Sign,
            Operation::Verify => OpKind::Verify,
            Operation::VerifySignature => OpKind::VerifySignature,
        }
    }
}

impl From<OpKind> for Operation {
    fn from(op: OpKind) -> Operation {
        match op {
            OpKind::Encrypt => Operation::Encrypt,
            OpKind::Decrypt => Operation::Decrypt,
            OpKind::Digest => Operation::Digest,
            OpKind::Sign => Operation::Sign,
            OpKind::Verify => Operation::Verify,
            OpKind::VerifySignature => Operation::VerifySignature,
        }
    }
}

impl Module {
    /// Ends the operation of kind `op` on session `h`, if one runs: the
    /// caller's call failed before it reached the module (a null pointer,
    /// `CKR_ARGUMENTS_BAD`), and every error but `CKR_BUFFER_TOO_SMALL` ends
    /// the operation (PKCS#11 3.0 §5.2, §5.8–§5.15). An unknown session is
    /// left to the call's own error.
    pub(crate) fn end_operation(&self, h: CK_SESSION_HANDLE, op: Operation) {
        if let Some(r) = self.remote(h) {
            return r.end_operation(h, op.into());
        }
        let Ok((s, _)) = self.session(h) else { return };
        let mut s = s.lock();
        let o = &mut s.ops;
        let i = &mut o.in_parts;
        match op {
            Operation::Encrypt => session::end((&mut o.encrypt, &mut i.encrypt)),
            Operation::Decrypt => session::end((&mut o.decrypt, &mut i.decrypt)),
            Operation::Digest => session::end((&mut o.digest, &mut i.digest)),
            Operation::Sign => session::end((&mut o.sign, &mut i.sign)),
            Operation::Verify => session::end((&mut o.verify, &mut i.verify)),
            Operation::VerifySignature => {
                session::end((&mut o.verify_signature, &mut i.verify_signature))
            }
        }
    }

    /// Starts a key operation of one kind on a session.
    #[allow(clippy::too_many_arguments)]
    fn init_op<T: ?Sized>(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
        what: Use,
        slot: OpSlot,
        pick: for<'a> fn(&'a mut Ops) -> OpSlotRef<'a, T>,
        ctor: fn(&Functions) -> Option<KeyOpCtor<T>>,
        function: &'static str,
    ) -> Result<()> {
        let (s, t) = self.session(h)?;
        let mut s = s.lock();
        session::idle(pick(&mut s.ops).0)?;
        let def = self.mechanism(mech.mech)?;
        let make = ctor(&def.functions).ok_or(Error::MechanismInvalid)?;
        let invalid = Error::KeyHandleInvalid;
        let (op, always_auth, k) =
            self.use_key(t, h, function, &def, mech, key, what, invalid, |g| {
                let op = make(mech, g).inspect_err(|e| log::info!("{}: {e}", def.name))?;
                Ok((
                    op,
                    g.key().flag(CKA_ALWAYS_AUTHENTICATE, false),
                    op_key(mech, g),
                ))
            })?;
        session::start(pick(&mut s.ops), op)?;
        s.op_keys.set(slot, k);
        if what == Use::Sign {
            s.context_login_needed = always_auth;
        }
        Ok(())
    }

    /// Runs one step of a running operation.
    /// A failure inside a key operation (`slot`, as `function`) is audited
    /// against its key, with its error.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run<T: ?Sized, R>(
        &self,
        h: CK_SESSION_HANDLE,
        slot: Option<OpSlot>,
        function: &'static str,
        pick: for<'a> fn(&'a mut Ops) -> OpSlotRef<'a, T>,
        step: Step,
        query: bool,
        f: impl FnOnce(&mut T) -> Result<R>,
    ) -> Result<R> {
        let (s, t) = self.session(h)?;
        let mut s = s.lock();
        let r = session::step(pick(&mut s.ops), step, query, f);
        if let (Err(e), Some(slot)) = (&r, slot) {
            if !matches!(
                e,
                Error::BufferTooSmall | Error::OperationNotInitialized | Error::OperationActive
            ) {
                if let Some(k) = s.op_keys.get(slot) {
                    crate::gate::record_use(
                        t,
                        h,
                        function,
                        k.mech,
                        &k.context,
                        &k.uid,
                        Some(u64::from(k.version)),
                        Some(e),
                    );
                }
            }
        }
        r
    }

    /// `C_EncryptInit` (§5.8).
    pub fn encrypt_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.init(h, InitKind::Encrypt, mech, key);
        }
        self.init_op(
            h,
            mech,
            key,
            Use::Encrypt,
            OpSlot::Encrypt,
            |o| (&mut o.encrypt, &mut o.in_parts.encrypt),
            |f| f.encrypt,
            "C_EncryptInit",
        )
    }
    /// `C_Encrypt` (§5.8).
    pub fn encrypt(&self, h: CK_SESSION_HANDLE, data: &[u8], out: &mut OutBuf) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.in_out(h, InOutKind::Encrypt, data, out);
        }
        let q = out.is_query();
        self.run(
            h,
            Some(OpSlot::Encrypt),
            "C_Encrypt",
            |o| (&mut o.encrypt, &mut o.in_parts.encrypt),
            Step::Single,
            q,
            |op| op.one_shot(data, out),
        )
    }
    /// `C_EncryptUpdate` (§5.8).
    pub fn encrypt_update(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        out: &mut OutBuf,
    ) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.in_out(h, InOutKind::EncryptUpdate, data, out);
        }
        let q = out.is_query();
        self.run(
            h,
            Some(OpSlot::Encrypt),
            "C_EncryptUpdate",
            |o| (&mut o.encrypt, &mut o.in_parts.encrypt),
            Step::Update,
            q,
            |op| op.update(data, out),
        )
    }
    /// `C_EncryptFinal` (§5.8).
    pub fn encrypt_final(&self, h: CK_SESSION_HANDLE, out: &mut OutBuf) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.output(h, OutKind::EncryptFinal, out);
        }
        let q = out.is_query();
        self.run(
            h,
            Some(OpSlot::Encrypt),
            "C_EncryptFinal",
            |o| (&mut o.encrypt, &mut o.in_parts.encrypt),
            Step::Last,
            q,
            |op| op.finish(out),
        )
    }
    /// `C_DecryptInit` (§5.10).
    pub fn decrypt_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.init(h, InitKind::Decrypt, mech, key);
        }
        let (s, t) = self.session(h)?;
        let mut s = s.lock();
        session::idle(&s.ops.decrypt)?;
        let def = self.mechanism(mech.mech)?;
        let make = def.functions.decrypt.ok_or(Error::MechanismInvalid)?;
        let function = "C_DecryptInit";
        let invalid = Error::KeyHandleInvalid;
        let (op, always_auth, k) = self.use_key(
            t,
            h,
            function,
            &def,
            mech,
            key,
            Use::Decrypt,
            invalid,
            |g| {
                let op = if registry::tries_versions(mech.mech) && g.each_version().nth(1).is_some()
                {
                    g.each_version()
                        .map(|k| make(mech, &k))
                        .collect::<Result<Vec<_>>>()
                        .map(|ops| {
                            Box::new(versioned::VersionedCipher::new(ops))
                                as Box<dyn crate::mechanism::CipherOp>
                        })
                } else {
                    make(mech, g)
                };
                let op = op.inspect_err(|e| log::info!("{}: {e}", def.name))?;
                Ok((
                    op,
                    g.key().flag(CKA_ALWAYS_AUTHENTICATE, false),
                    op_key(mech, g),
                ))
            },
        )?;
        let o = &mut s.ops;
        session::start((&mut o.decrypt, &mut o.in_parts.decrypt), op)?;
        s.op_keys.set(OpSlot::Decrypt, k);
        s.context_login_needed = always_auth;
        Ok(())
    }
    /// `C_Decrypt` (§5.10).
    pub fn decrypt(&self, h: CK_SESSION_HANDLE, data: &[u8], out: &mut OutBuf) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.in_out(h, InOutKind::Decrypt, data, out);
        }
        self.check_context_login(h, false)?;
        let q = out.is_query();
        self.run(
            h,
            Some(OpSlot::Decrypt),
            "C_Decrypt",
            |o| (&mut o.decrypt, &mut o.in_parts.decrypt),
            Step::Single,
            q,
            |op| op.one_shot(data, out),
        )
    }
    /// `C_DecryptUpdate` (§5.10).
    pub fn decrypt_update(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        out: &mut OutBuf,
    ) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.in_out(h, InOutKind::DecryptUpdate, data, out);
        }
        self.check_context_login(h, false)?;
        let q = out.is_query();
        self.run(
            h,
            Some(OpSlot::Decrypt),
            "C_DecryptUpdate",
            |o| (&mut o.decrypt, &mut o.in_parts.decrypt),
            Step::Update,
            q,
            |op| op.update(data, out),
        )
    }
    /// `C_DecryptFinal` (§5.10).
    pub fn decrypt_final(&self, h: CK_SESSION_HANDLE, out: &mut OutBuf) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.output(h, OutKind::DecryptFinal, out);
        }
        self.check_context_login(h, false)?;
        let q = out.is_query();
        self.run(
            h,
            Some(OpSlot::Decrypt),
            "C_DecryptFinal",
            |o| (&mut o.decrypt, &mut o.in_parts.decrypt),
            Step::Last,
            q,
            |op| op.finish(out),
        )
    }
    /// `C_DigestInit` (§5.12).
    pub fn digest_init(&self, h: CK_SESSION_HANDLE, mech: &Mechanism) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.digest_init(h, mech);
        }
        let (s, _) = self.session(h)?;
        let mut s = s.lock();
        session::idle(&s.ops.digest)?;
        let def = self.mechanism(mech.mech)?;
        let make = def.functions.digest.ok_or(Error::MechanismInvalid)?;
        let o = &mut s.ops;
        session::start((&mut o.digest, &mut o.in_parts.digest), make(mech)?)
    }
    /// `C_Digest` (§5.12).
    pub fn digest(&self, h: CK_SESSION_HANDLE, data: &[u8], out: &mut OutBuf) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.in_out(h, InOutKind::Digest, data, out);
        }
        let q = out.is_query();
        self.run(
            h,
            None,
            "C_Digest",
            |o| (&mut o.digest, &mut o.in_parts.digest),
            Step::Single,
            q,
            |op| {
                if q {
                    // Only the length is wanted: the data stays unhashed.
                    return op.finish(out);
                }
                // A buffer too small must leave the operation as it was (§5.2):
                // check the length before hashing anything.
                let mut len = OutBuf::query();
                op.finish(&mut len)?;
                out.reserve(len.len())?;
                op.update(data)?;
                op.finish(out)
            },
        )
    }
    /// `C_DigestUpdate` (§5.12).
    pub fn digest_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.input(h, InKind::DigestUpdate, data);
        }
        self.run(
            h,
            None,
            "C_DigestUpdate",
            |o| (&mut o.digest, &mut o.in_parts.digest),
            Step::Update,
            false,
            |op| op.update(data),
        )
    }
    /// `C_DigestKey` (§5.12): digests a secret key's value. The key passes the
    /// key gate (`DeriveKey`: a digest of a key is a derivation of it).
    pub fn digest_key(&self, h: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.digest_key(h, key);
        }
        let (s, t) = self.session(h)?;
        if s.lock().ops.digest.is_none() {
            return Err(Error::OperationNotInitialized);
        }
        let value = crate::gate::admit(
            t,
            h,
            "C_DigestKey",
            &crate::gate::Request {
                handle: key,
                what: Use::DigestKey,
                mech: 0,
                key_types: &[],
                context: &[],
                caller_iv: false,
                invalid: Error::KeyHandleInvalid,
            },
        )
        .and_then(|g| {
            let v = g.key().get(CKA_VALUE).ok_or(Error::KeyIndigestible)?;
            Ok(zeroize::Zeroizing::new(v.to_vec()))
        });
        let value = match value {
            Ok(v) => v,
            Err(e) => {
                // An error of C_DigestKey ends the digest (§5.12.4), a refused
                // or indigestible key included.
                let mut s = s.lock();
                let o = &mut s.ops;
                session::end((&mut o.digest, &mut o.in_parts.digest));
                return Err(e);
            }
        };
        self.run(
            h,
            None,
            "C_DigestKey",
            |o| (&mut o.digest, &mut o.in_parts.digest),
            Step::Update,
            false,
            |op| op.update(&value),
        )
    }
    /// `C_DigestFinal` (§5.12).
    pub fn digest_final(&self, h: CK_SESSION_HANDLE, out: &mut OutBuf) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.output(h, OutKind::DigestFinal, out);
        }
        let q = out.is_query();
        self.run(
            h,
            None,
            "C_DigestFinal",
            |o| (&mut o.digest, &mut o.in_parts.digest),
            Step::Last,
            q,
            |op| op.finish(out),
        )
    }
    /// `C_SignInit` (§5.13).
    pub fn sign_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.init(h, InitKind::Sign, mech, key);
        }
        self.init_op(
            h,
            mech,
            key,
            Use::Sign,
            OpSlot::Sign,
            |o| (&mut o.sign, &mut o.in_parts.sign),
            |f| f.sign,
            "C_SignInit",
        )
    }
    /// `C_Sign` (§5.13).
    pub fn sign(&self, h: CK_SESSION_HANDLE, data: &[u8], out: &mut OutBuf) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.in_out(h, InOutKind::Sign, data, out);
        }
        self.check_context_login(h, true)?;
        let q = out.is_query();
        self.run(
            h,
            Some(OpSlot::Sign),
            "C_Sign",
            |o| (&mut o.sign, &mut o.in_parts.sign),
            Step::Single,
            q,
            |op| op.one_shot(data, out),
        )
    }
    /// `C_SignUpdate` (§5.13).
    pub fn sign_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.input(h, InKind::SignUpdate, data);
        }
        self.check_context_login(h, true)?;
        self.run(
            h,
            Some(OpSlot::Sign),
            "C_SignUpdate",
            |o| (&mut o.sign, &mut o.in_parts.sign),
            Step::Update,
            false,
            |op| op.update(data),
        )
    }
    /// `C_SignFinal` (§5.13).
    pub fn sign_final(&self, h: CK_SESSION_HANDLE, out: &mut OutBuf) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.output(h, OutKind::SignFinal, out);
        }
        self.check_context_login(h, true)?;
        let q = out.is_query();
        self.run(
            h,
            Some(OpSlot::Sign),
            "C_SignFinal",
            |o| (&mut o.sign, &mut o.in_parts.sign),
            Step::Last,
            q,
            |op| op.finish(out),
        )
    }
    /// `C_VerifyInit` (§5.15).
    pub fn verify_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.init(h, InitKind::Verify, mech, key);
        }
        self.init_op(
            h,
            mech,
            key,
            Use::Verify,
            OpSlot::Verify,
            |o| (&mut o.verify, &mut o.in_parts.verify),
            |f| f.verify,
            "C_VerifyInit",
        )
    }
    /// `C_Verify` (§5.15).
    pub fn verify(&self, h: CK_SESSION_HANDLE, data: &[u8], signature: &[u8]) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.verify(h, data, signature);
        }
        self.run(
            h,
            Some(OpSlot::Verify),
            "C_Verify",
            |o| (&mut o.verify, &mut o.in_parts.verify),
            Step::Single,
            false,
            |op| op.one_shot(data, signature),
        )
    }
    /// `C_VerifyUpdate` (§5.15).
    pub fn verify_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.input(h, InKind::VerifyUpdate, data);
        }
        self.run(
            h,
            Some(OpSlot::Verify),
            "C_VerifyUpdate",
            |o| (&mut o.verify, &mut o.in_parts.verify),
            Step::Update,
            false,
            |op| op.update(data),
        )
    }
    /// `C_VerifyFinal` (§5.15).
    pub fn verify_final(&self, h: CK_SESSION_HANDLE, signature: &[u8]) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.verify_final(h, signature);
        }
        self.run(
            h,
            Some(OpSlot::Verify),
            "C_VerifyFinal",
            |o| (&mut o.verify, &mut o.in_parts.verify),
            Step::Last,
            false,
            |op| op.finish(signature),
        )
    }

    /// `C_MessageEncryptInit` (3.0 §5.9, message-based encryption).
    pub fn message_encrypt_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.init(h, InitKind::MessageEncrypt, mech, key);
        }
        self.init_op(
            h,
            mech,
            key,
            Use::Encrypt,
            OpSlot::MessageEncrypt,
            |o| (&mut o.message_encrypt, &mut o.in_parts.message_encrypt),
            |f| f.message_encrypt,
            "C_MessageEncryptInit",
        )
    }
    /// `C_EncryptMessage`: `param` is the per-message parameter; IV/tag outputs are
    /// written into it and copied back by `ffi`.
    pub fn encrypt_message(
        &self,
        h: CK_SESSION_HANDLE,
        param: &mut Param,
        aad: &[u8],
        data: &[u8],
        out: &mut OutBuf,
    ) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.message(h, true, param, aad, data, out);
        }
        let q = out.is_query();
        self.run(
            h,
            Some(OpSlot::MessageEncrypt),
            "C_EncryptMessage",
            |o| (&mut o.message_encrypt, &mut o.in_parts.message_encrypt),
            Step::Message,
            q,
            |op| op.one_shot(param, aad, data, out),
        )
    }
    /// `C_EncryptMessageBegin`.
    pub fn encrypt_message_begin(
        &self,
        h: CK_SESSION_HANDLE,
        param: &mut Param,
        aad: &[u8],
    ) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.message_begin(h, true, param, aad);
        }
        self.run(
            h,
            Some(OpSlot::MessageEncrypt),
            "C_EncryptMessageBegin",
            |o| (&mut o.message_encrypt, &mut o.in_parts.message_encrypt),
            Step::Update,
            false,
            |op| op.begin(param, aad),
        )
    }
    /// `C_EncryptMessageNext`; `last` is `CKF_END_OF_MESSAGE`.
    pub fn encrypt_message_next(
        &self,
        h: CK_SESSION_HANDLE,
        param: &mut Param,
        data: &[u8],
        last: bool,
        out: &mut OutBuf,
    ) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.message_next(h, true, param, data, last, out);
        }
        let q = out.is_query();
        self.run(
            h,
            Some(OpSlot::MessageEncrypt),
            "C_EncryptMessageNext",
            |o| (&mut o.message_encrypt, &mut o.in_parts.message_encrypt),
            Step::Update,
            q,
            |op| op.next(param, data, last, out),
        )
    }
    /// `C_MessageEncryptFinal`.
    pub fn message_encrypt_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.message_final(h, true);
        }
        self.run(
            h,
            Some(OpSlot::MessageEncrypt),
            "C_MessageEncryptFinal",
            |o| (&mut o.message_encrypt, &mut o.in_parts.message_encrypt),
            Step::Last,
            false,
            |_| Ok(()),
        )
    }
    /// `C_MessageDecryptInit`.
    pub fn message_decrypt_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.init(h, InitKind::MessageDecrypt, mech, key);
        }
        self.init_op(
            h,
            mech,
            key,
            Use::Decrypt,
            OpSlot::MessageDecrypt,
            |o| (&mut o.message_decrypt, &mut o.in_parts.message_decrypt),
            |f| f.message_decrypt,
            "C_MessageDecryptInit",
        )
    }
    /// `C_DecryptMessage`.
    pub fn decrypt_message(
        &self,
        h: CK_SESSION_HANDLE,
        param: &mut Param,
        aad: &[u8],
        data: &[u8],
        out: &mut OutBuf,
    ) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.message(h, false, param, aad, data, out);
        }
        let q = out.is_query();
        self.run(
            h,
            Some(OpSlot::MessageDecrypt),
            "C_DecryptMessage",
            |o| (&mut o.message_decrypt, &mut o.in_parts.message_decrypt),
            Step::Message,
            q,
            |op| op.one_shot(param, aad, data, out),
        )
    }
    /// `C_DecryptMessageBegin`.
    pub fn decrypt_message_begin(
        &self,
        h: CK_SESSION_HANDLE,
        param: &mut Param,
        aad: &[u8],
    ) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.message_begin(h, false, param, aad);
        }
        self.run(
            h,
            Some(OpSlot::MessageDecrypt),
            "C_DecryptMessageBegin",
            |o| (&mut o.message_decrypt, &mut o.in_parts.message_decrypt),
            Step::Update,
            false,
            |op| op.begin(param, aad),
        )
    }
    /// `C_DecryptMessageNext`.
    pub fn decrypt_message_next(
        &self,
        h: CK_SESSION_HANDLE,
        param: &mut Param,
        data: &[u8],
        last: bool,
        out: &mut OutBuf,
    ) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.message_next(h, false, param, data, last, out);
        }
        let q = out.is_query();
        self.run(
            h,
            Some(OpSlot::MessageDecrypt),
            "C_DecryptMessageNext",
            |o| (&mut o.message_decrypt, &mut o.in_parts.message_decrypt),
            Step::Update,
            q,
            |op| op.next(param, data, last, out),
        )
    }
    /// `C_MessageDecryptFinal`.
    pub fn message_decrypt_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.message_final(h, false);
        }
        self.run(
            h,
            Some(OpSlot::MessageDecrypt),
            "C_MessageDecryptFinal",
            |o| (&mut o.message_decrypt, &mut o.in_parts.message_decrypt),
            Step::Last,
            false,
            |_| Ok(()),
        )
    }
}
