//! Data key pairs (AWS KMS's `GenerateDataKeyPair` and
//! `GenerateDataKeyPairWithoutPlaintext`; `docs/kms.md`, "Data key pairs"):
//! `C_GenerateKeyPair` of a session pair, `C_WrapKey` of its private key under
//! a managed key with `CKM_SOFTKMS_ENVELOPE`, the pair destroyed after.
//!
//! The envelope wrap of a key the module generated in a session needs only
//! `GenerateDataKey` on the managed key (or `Encrypt`). The private key's
//! plaintext, when asked for, leaves the module wrapped under a second fresh
//! session key of the caller's own (`CKM_AES_KEY_WRAP_KWP`) and is unwrapped
//! with `C_Decrypt` under that key: no `Decrypt` on the managed key is needed
//! and nothing but the caller's own fresh keys is used. Every step passes the
//! key gate and is audited.

use super::envelope::envelope;
use super::error::{Error, Result};
use super::keys::{DataKeyPair, KeyId, KeyRef, KeySpec};
use super::manage::pair_generation;
use super::session::{call, mech, Token};
use super::types::{EncryptionContext, SecretBytes};
use super::words::{self, Need};
use crate::mechanism::{Mechanism, Param};
use crate::object::attr::Attribute;
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// The specs of data key pairs, as AWS KMS offers them.
const PAIR_SPECS: [KeySpec; 8] = [
    KeySpec::Rsa2048,
    KeySpec::Rsa3072,
    KeySpec::Rsa4096,
    KeySpec::EccNistP256,
    KeySpec::EccNistP384,
    KeySpec::EccNistP521,
    KeySpec::EccSecgP256k1,
    KeySpec::Ed25519,
];

impl Token {
    /// A fresh key pair of `spec` whose private key is encrypted under the
    /// managed key `key`, bound to `context` (AWS KMS's
    /// `GenerateDataKeyPair`; `with_plaintext = false`:
    /// `GenerateDataKeyPairWithoutPlaintext`). The specs are RSA 2048, 3072
    /// and 4096, P-256, P-384, P-521, secp256k1 and Ed25519. Needs
    /// `GenerateDataKey` (or `Encrypt`) on `key`; [`Token::decrypt`] of the
    /// blob (with `Decrypt`) gives the private key's PKCS#8 DER again.
    pub fn generate_data_key_pair(
        &self,
        key: &KeyRef,
        spec: KeySpec,
        context: &EncryptionContext,
        with_plaintext: bool,
    ) -> Result<DataKeyPair> {
        self.data_key_pair(key, spec, context, with_plaintext)
            .inspect_err(|e| {
                words::failed(&format!("generate a {spec} data key pair under {key:?}"), e);
            })
    }

    fn data_key_pair(
        &self,
        key: &KeyRef,
        spec: KeySpec,
        context: &EncryptionContext,
        with_plaintext: bool,
    ) -> Result<DataKeyPair> {
        let generation = pair_generation(spec).filter(|_| PAIR_SPECS.contains(&spec));
        let Some((generator, mut public, _)) = generation else {
            return Err(Error::invalid(format!(
                "a data key pair is one of {}, not {spec}",
                words::pair_spec_names(&PAIR_SPECS)
            )));
        };
        let _g = self.take();
        let k = self.key_handle(key)?;
        self.expect_key(k, Need::Encryption)?;
        let (m, h) = (self.m(), self.h());
        public.push(Attribute::bool(CKA_TOKEN, false));
        let private = vec![
            Attribute::bool(CKA_TOKEN, false),
            Attribute::bool(CKA_PRIVATE, true),
            Attribute::bool(CKA_SENSITIVE, true),
            Attribute::bool(CKA_EXTRACTABLE, true),
        ];
        let (public_h, private_h) = m.generate_key_pair(h, &mech(generator), &public, &private)?;
        let result = (|| {
            let public_key = self
                .attrs(public_h, &[CKA_PUBLIC_KEY_INFO])
                .pop()
                .flatten()
                .filter(|v| !v.is_empty())
                .map(|v| v.to_vec())
                .ok_or_else(|| Error::new(super::ErrorKind::Internal, "no public key made"))?;
            let blob = call(|ob| m.wrap_key(h, &envelope(context), k, private_h, ob))
                .map_err(|e| self.refine(k, e))?;
            let plaintext = if with_plaintext {
                Some(self.pkcs8_of(private_h)?)
            } else {
                None
            };
            Ok(DataKeyPair {
                key_id: KeyId::new(self.text(k, CKA_UNIQUE_ID).unwrap_or_default()),
                spec,
                public_key,
                private_key_plaintext: plaintext,
                private_key_ciphertext_blob: blob,
            })
        })();
        for o in [private_h, public_h] {
            if let Err(e) = m.destroy_object(h, o) {
                // It goes with the session at the latest.
                log::warn!("data key pair: a session key was not destroyed: {e}");
            }
        }
        result
    }

    /// The PKCS#8 DER of a session private key of the caller's own: wrapped
    /// under a fresh session AES key with KWP, and decrypted under it.
    fn pkcs8_of(&self, private: CK_OBJECT_HANDLE) -> Result<SecretBytes> {
        let (m, h) = (self.m(), self.h());
        let template = vec![
            Attribute::ulong(CKA_VALUE_LEN, 32),
            Attribute::bool(CKA_TOKEN, false),
            Attribute::bool(CKA_SENSITIVE, true),
            Attribute::bool(CKA_EXTRACTABLE, false),
            Attribute::bool(CKA_WRAP, true),
            Attribute::bool(CKA_DECRYPT, true),
        ];
        let transport = m.generate_key(h, &mech(CKM_AES_KEY_GEN), &template)?;
        let kwp = Mechanism {
            mech: CKM_AES_KEY_WRAP_KWP,
            param: Param::None,
        };
        let result = (|| {
            let wrapped = call(|ob| m.wrap_key(h, &kwp, transport, private, ob))?;
            m.decrypt_init(h, &kwp, transport)?;
            let der = Zeroizing::new(call(|ob| m.decrypt(h, &wrapped, ob))?);
            Ok(SecretBytes::from(der))
        })();
        if let Err(e) = m.destroy_object(h, transport) {
            log::warn!("data key pair: the transport key was not destroyed: {e}");
        }
        result
    }
}
