//! PKCS#11 3.2's verification with the signature given first (§5.15,
//! `C_VerifySignatureInit`, `C_VerifySignature`, `C_VerifySignatureUpdate`,
//! `C_VerifySignatureFinal`): the same mechanisms and key gate as `C_Verify*`,
//! in a slot of its own, so that it runs beside a `C_Verify*` operation.

use super::Module;
use crate::error::{Error, Result};
use crate::gate::Use;
use crate::mechanism::{Mechanism, SignatureVerify};
use crate::remote::proto::InKind;
use crate::session::{self, OpKey, OpSlot, Step};
use cryptoki_sys::*;

/// The longest signature `C_VerifySignatureInit` takes.
const MAX_SIGNATURE_LEN: usize = 8192;

impl Module {
    /// `C_VerifySignatureInit`: the key passes the key gate for `CKA_VERIFY`.
    pub fn verify_signature_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
        signature: &[u8],
    ) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.verify_signature_init(h, mech, key, signature);
        }
        let (s, t) = self.session(h)?;
        let mut s = s.lock();
        session::idle(&s.ops.verify_signature)?;
        // No signature of any mechanism is longer (ML-DSA-87: 4,627 bytes;
        // RSA-8192: 1,024); a longer one is refused before it is copied.
        if signature.len() > MAX_SIGNATURE_LEN {
            return Err(Error::SignatureLenRange);
        }
        let def = &self.mechanism(mech.mech)?;
        let make = def.functions.verify.ok_or(Error::MechanismInvalid)?;
        let invalid = Error::KeyHandleInvalid;
        let function = "C_VerifySignatureInit";
        let (op, k) = self.use_key(t, h, function, def, mech, key, Use::Verify, invalid, |g| {
            let op = make(mech, g).inspect_err(|e| log::info!("{}: {e}", def.name))?;
            let k = OpKey {
                mech: mech.mech,
                uid: std::sync::Arc::from(g.key_id()),
                version: g.current_version(),
                context: mech.param.context().to_vec(),
            };
            Ok((op, k))
        })?;
        let op = Box::new(SignatureVerify::new(op, signature.to_vec()));
        let o = &mut s.ops;
        session::start(
            (&mut o.verify_signature, &mut o.in_parts.verify_signature),
            op,
        )?;
        s.op_keys.set(OpSlot::VerifySignature, k);
        Ok(())
    }

    /// `C_VerifySignature`.
    pub fn verify_signature(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.input(h, InKind::VerifySignature, data);
        }
        self.run(
            h,
            Some(OpSlot::VerifySignature),
            "C_VerifySignature",
            |o| (&mut o.verify_signature, &mut o.in_parts.verify_signature),
            Step::Single,
            false,
            |op| op.one_shot(data),
        )
    }

    /// `C_VerifySignatureUpdate`.
    pub fn verify_signature_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.input(h, InKind::VerifySignatureUpdate, data);
        }
        self.run(
            h,
            Some(OpSlot::VerifySignature),
            "C_VerifySignatureUpdate",
            |o| (&mut o.verify_signature, &mut o.in_parts.verify_signature),
            Step::Update,
            false,
            |op| op.update(data),
        )
    }

    /// `C_VerifySignatureFinal`.
    pub fn verify_signature_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        if let Some(r) = self.remote(h) {
            return r.verify_signature_final(h);
        }
        self.run(
            h,
            Some(OpSlot::VerifySignature),
            "C_VerifySignatureFinal",
            |o| (&mut o.verify_signature, &mut o.in_parts.verify_signature),
            Step::Last,
            false,
            SignatureVerify::finish,
        )
    }
}
