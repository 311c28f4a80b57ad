//! PKCS#11 3.2's verification with the signature given first (§5.15,
//! `C_VerifySignatureInit`, `C_VerifySignature`, `C_VerifySignatureUpdate`,
//! `C_VerifySignatureFinal`): the same mechanisms and key gate as `C_Verify*`,
//! in a slot of its own, so that it runs beside a `C_Verify*` operation.

use super::Module;
use crate::error::{Error, Result};
use crate::gate::Use;
use crate::mechanism::{registry, Mechanism, SignatureVerify};
use crate::session::{self, OpKey, OpSlot, Step};
use cryptoki_sys::*;

impl Module {
    /// `C_VerifySignatureInit`: the key passes the key gate for `CKA_VERIFY`.
    pub fn verify_signature_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
        signature: &[u8],
    ) -> Result<()> {
        let (s, t) = self.session(h)?;
        let mut s = s.lock();
        session::idle(&s.ops.verify_signature)?;
        let def = registry::get(mech.mech)?;
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
        s.op_keys.set(OpSlot::Verify, k);
        Ok(())
    }

    /// `C_VerifySignature`.
    pub fn verify_signature(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.run(
            h,
            Some(OpSlot::Verify),
            "C_VerifySignature",
            |o| (&mut o.verify_signature, &mut o.in_parts.verify_signature),
            Step::Single,
            false,
            |op| op.one_shot(data),
        )
    }

    /// `C_VerifySignatureUpdate`.
    pub fn verify_signature_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.run(
            h,
            Some(OpSlot::Verify),
            "C_VerifySignatureUpdate",
            |o| (&mut o.verify_signature, &mut o.in_parts.verify_signature),
            Step::Update,
            false,
            |op| op.update(data),
        )
    }

    /// `C_VerifySignatureFinal`.
    pub fn verify_signature_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        self.run(
            h,
            Some(OpSlot::Verify),
            "C_VerifySignatureFinal",
            |o| (&mut o.verify_signature, &mut o.in_parts.verify_signature),
            Step::Last,
            false,
            SignatureVerify::finish,
        )
    }
}
