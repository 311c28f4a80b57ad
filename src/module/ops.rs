//! The cryptographic operations of a session (PKCS#11 3.0 §5.8–5.13 and the 3.0
//! message-based functions): each `Init` puts an operation object in the session,
//! the following calls step it by the rules of [`crate::session::step`].

use super::Module;
use crate::error::{Error, Result};
use crate::kms::versioned;
use crate::mechanism::{registry, Functions, KeyOpCtor, Mechanism, Param};
use crate::outbuf::OutBuf;
use crate::session::{self, Ops, Step};
use cryptoki_sys::*;

impl Module {
    /// Starts a key operation of one kind on a session.
    #[allow(clippy::too_many_arguments)]
    fn init_op<T: ?Sized>(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
        usage: CK_ATTRIBUTE_TYPE,
        pick: for<'a> fn(&'a mut Ops) -> &'a mut Option<Box<T>>,
        ctor: fn(&Functions) -> Option<KeyOpCtor<T>>,
        function: &'static str,
    ) -> Result<()> {
        let (s, t) = self.session(h)?;
        let mut s = s.lock();
        session::idle(pick(&mut s.ops))?;
        let def = registry::get(mech.mech)?;
        let make = ctor(&def.functions).ok_or(Error::MechanismInvalid)?;
        let mut always_auth = false;
        let op = self
            .key(
                t,
                def,
                key,
                usage,
                mech.param.context(),
                Error::KeyHandleInvalid,
            )
            .and_then(|k| {
                always_auth = k.flag(CKA_ALWAYS_AUTHENTICATE, false);
                make(mech, &k).inspect_err(|e| log::info!("{}: {e}", def.name))
            });
        self.audit_use(t, h, function, mech, key, &op);
        session::start(pick(&mut s.ops), op?)?;
        if usage == CKA_SIGN {
            s.context_login_needed = always_auth;
        }
        Ok(())
    }

    /// Runs one step of a running operation.
    fn run<T: ?Sized, R>(
        &self,
        h: CK_SESSION_HANDLE,
        pick: for<'a> fn(&'a mut Ops) -> &'a mut Option<Box<T>>,
        step: Step,
        query: bool,
        f: impl FnOnce(&mut T) -> Result<R>,
    ) -> Result<R> {
        let (s, _) = self.session(h)?;
        let mut s = s.lock();
        session::step(pick(&mut s.ops), step, query, f)
    }

    /// `C_EncryptInit` (§5.8).
    pub fn encrypt_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.init_op(
            h,
            mech,
            key,
            CKA_ENCRYPT,
            |o| &mut o.encrypt,
            |f| f.encrypt,
            "C_EncryptInit",
        )
    }
    /// `C_Encrypt` (§5.8).
    pub fn encrypt(&self, h: CK_SESSION_HANDLE, data: &[u8], out: &mut OutBuf) -> Result<()> {
        let q = out.is_query();
        self.run(
            h,
            |o| &mut o.encrypt,
            Step::Last,
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
        let q = out.is_query();
        self.run(
            h,
            |o| &mut o.encrypt,
            Step::Update,
            q,
            |op| op.update(data, out),
        )
    }
    /// `C_EncryptFinal` (§5.8).
    pub fn encrypt_final(&self, h: CK_SESSION_HANDLE, out: &mut OutBuf) -> Result<()> {
        let q = out.is_query();
        self.run(h, |o| &mut o.encrypt, Step::Last, q, |op| op.finish(out))
    }
    /// `C_DecryptInit` (§5.9).
    pub fn decrypt_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        let (s, t) = self.session(h)?;
        let mut s = s.lock();
        session::idle(&s.ops.decrypt)?;
        let def = registry::get(mech.mech)?;
        let make = def.functions.decrypt.ok_or(Error::MechanismInvalid)?;
        let handle = key;
        let mut always_auth = false;
        let op = self
            .key(
                t,
                def,
                key,
                CKA_DECRYPT,
                mech.param.context(),
                Error::KeyHandleInvalid,
            )
            .and_then(|key| {
                always_auth = key.flag(CKA_ALWAYS_AUTHENTICATE, false);
                if registry::tries_versions(mech.mech) {
                    let ops = versioned::version_objects(&key)?
                        .iter()
                        .map(|k| make(mech, k))
                        .collect::<Result<Vec<_>>>()?;
                    Ok(Box::new(versioned::VersionedCipher::new(ops))
                        as Box<dyn crate::mechanism::CipherOp>)
                } else {
                    make(mech, &key)
                }
            });
        self.audit_use(t, h, "C_DecryptInit", mech, handle, &op);
        session::start(&mut s.ops.decrypt, op?)?;
        s.context_login_needed = always_auth;
        Ok(())
    }
    /// `C_Decrypt` (§5.9).
    pub fn decrypt(&self, h: CK_SESSION_HANDLE, data: &[u8], out: &mut OutBuf) -> Result<()> {
        self.check_context_login(h, false)?;
        let q = out.is_query();
        self.run(
            h,
            |o| &mut o.decrypt,
            Step::Last,
            q,
            |op| op.one_shot(data, out),
        )
    }
    /// `C_DecryptUpdate` (§5.9).
    pub fn decrypt_update(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        out: &mut OutBuf,
    ) -> Result<()> {
        self.check_context_login(h, false)?;
        let q = out.is_query();
        self.run(
            h,
            |o| &mut o.decrypt,
            Step::Update,
            q,
            |op| op.update(data, out),
        )
    }
    /// `C_DecryptFinal` (§5.9).
    pub fn decrypt_final(&self, h: CK_SESSION_HANDLE, out: &mut OutBuf) -> Result<()> {
        self.check_context_login(h, false)?;
        let q = out.is_query();
        self.run(h, |o| &mut o.decrypt, Step::Last, q, |op| op.finish(out))
    }
    /// `C_DigestInit` (§5.10).
    pub fn digest_init(&self, h: CK_SESSION_HANDLE, mech: &Mechanism) -> Result<()> {
        let (s, _) = self.session(h)?;
        let mut s = s.lock();
        session::idle(&s.ops.digest)?;
        let def = registry::get(mech.mech)?;
        let make = def.functions.digest.ok_or(Error::MechanismInvalid)?;
        session::start(&mut s.ops.digest, make(mech)?)
    }
    /// `C_Digest` (§5.10).
    pub fn digest(&self, h: CK_SESSION_HANDLE, data: &[u8], out: &mut OutBuf) -> Result<()> {
        let q = out.is_query();
        self.run(
            h,
            |o| &mut o.digest,
            Step::Last,
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
    /// `C_DigestUpdate` (§5.10).
    pub fn digest_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.run(
            h,
            |o| &mut o.digest,
            Step::Update,
            false,
            |op| op.update(data),
        )
    }
    /// `C_DigestKey` (§5.10): digests a secret key's value.
    pub fn digest_key(&self, h: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) -> Result<()> {
        let (_, t) = self.session(h)?;
        let k = self.object(t, key, Error::KeyHandleInvalid)?;
        if k.class() != Some(CKO_SECRET_KEY) {
            return Err(Error::KeyIndigestible);
        }
        let value = k.get(CKA_VALUE).ok_or(Error::KeyIndigestible)?.to_vec();
        let value = zeroize::Zeroizing::new(value);
        self.run(
            h,
            |o| &mut o.digest,
            Step::Update,
            false,
            |op| op.update(&value),
        )
    }
    /// `C_DigestFinal` (§5.10).
    pub fn digest_final(&self, h: CK_SESSION_HANDLE, out: &mut OutBuf) -> Result<()> {
        let q = out.is_query();
        self.run(h, |o| &mut o.digest, Step::Last, q, |op| op.finish(out))
    }
    /// `C_SignInit` (§5.11).
    pub fn sign_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.init_op(
            h,
            mech,
            key,
            CKA_SIGN,
            |o| &mut o.sign,
            |f| f.sign,
            "C_SignInit",
        )
    }
    /// `C_Sign` (§5.11).
    pub fn sign(&self, h: CK_SESSION_HANDLE, data: &[u8], out: &mut OutBuf) -> Result<()> {
        self.check_context_login(h, true)?;
        let q = out.is_query();
        self.run(
            h,
            |o| &mut o.sign,
            Step::Last,
            q,
            |op| op.one_shot(data, out),
        )
    }
    /// `C_SignUpdate` (§5.11).
    pub fn sign_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.check_context_login(h, true)?;
        self.run(
            h,
            |o| &mut o.sign,
            Step::Update,
            false,
            |op| op.update(data),
        )
    }
    /// `C_SignFinal` (§5.11).
    pub fn sign_final(&self, h: CK_SESSION_HANDLE, out: &mut OutBuf) -> Result<()> {
        self.check_context_login(h, true)?;
        let q = out.is_query();
        self.run(h, |o| &mut o.sign, Step::Last, q, |op| op.finish(out))
    }
    /// `C_VerifyInit` (§5.13).
    pub fn verify_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.init_op(
            h,
            mech,
            key,
            CKA_VERIFY,
            |o| &mut o.verify,
            |f| f.verify,
            "C_VerifyInit",
        )
    }
    /// `C_Verify` (§5.13).
    pub fn verify(&self, h: CK_SESSION_HANDLE, data: &[u8], signature: &[u8]) -> Result<()> {
        self.run(
            h,
            |o| &mut o.verify,
            Step::Last,
            false,
            |op| op.one_shot(data, signature),
        )
    }
    /// `C_VerifyUpdate` (§5.13).
    pub fn verify_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.run(
            h,
            |o| &mut o.verify,
            Step::Update,
            false,
            |op| op.update(data),
        )
    }
    /// `C_VerifyFinal` (§5.13).
    pub fn verify_final(&self, h: CK_SESSION_HANDLE, signature: &[u8]) -> Result<()> {
        self.run(
            h,
            |o| &mut o.verify,
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
        self.init_op(
            h,
            mech,
            key,
            CKA_ENCRYPT,
            |o| &mut o.message_encrypt,
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
        let q = out.is_query();
        self.run(
            h,
            |o| &mut o.message_encrypt,
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
        self.run(
            h,
            |o| &mut o.message_encrypt,
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
        let q = out.is_query();
        self.run(
            h,
            |o| &mut o.message_encrypt,
            Step::Update,
            q,
            |op| op.next(param, data, last, out),
        )
    }
    /// `C_MessageEncryptFinal`.
    pub fn message_encrypt_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        self.run(h, |o| &mut o.message_encrypt, Step::Last, false, |_| Ok(()))
    }
    /// `C_MessageDecryptInit`.
    pub fn message_decrypt_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.init_op(
            h,
            mech,
            key,
            CKA_DECRYPT,
            |o| &mut o.message_decrypt,
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
        let q = out.is_query();
        self.run(
            h,
            |o| &mut o.message_decrypt,
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
        self.run(
            h,
            |o| &mut o.message_decrypt,
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
        let q = out.is_query();
        self.run(
            h,
            |o| &mut o.message_decrypt,
            Step::Update,
            q,
            |op| op.next(param, data, last, out),
        )
    }
    /// `C_MessageDecryptFinal`.
    pub fn message_decrypt_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        self.run(h, |o| &mut o.message_decrypt, Step::Last, false, |_| Ok(()))
    }
}
