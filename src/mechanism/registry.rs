//! The mechanism registry: every mechanism family adds its definitions here.

use crate::error::{Error, Result};
use crate::mechanism::MechanismDef;
use cryptoki_sys::*;
use once_cell::sync::Lazy;
use std::collections::BTreeMap;

/// Every mechanism SoftKMS implements, by `CKM_*` value.
static REGISTRY: Lazy<BTreeMap<CK_MECHANISM_TYPE, MechanismDef>> = Lazy::new(|| {
    let families: &[&[MechanismDef]] = &[
        super::digest::MECHANISMS,
        super::hmac::MECHANISMS,
        super::aes::MECHANISMS,
        super::rsa::MECHANISMS,
        super::ec::MECHANISMS,
        super::kdf::MECHANISMS,
        super::envelope::MECHANISMS,
    ];
    let mut map = BTreeMap::new();
    for family in families {
        for def in family.iter() {
            map.insert(def.mech, *def);
        }
    }
    map
});

/// The definitions, in `CKM_*` order.
pub fn all() -> impl Iterator<Item = &'static MechanismDef> {
    REGISTRY.values()
}

/// The name of a mechanism this module lists (`CKM_AES_GCM`), or its value in
/// hex for any other.
pub fn display_name(mech: CK_MECHANISM_TYPE) -> String {
    get(mech)
        .map(|d| d.name.to_string())
        .unwrap_or_else(|_| format!("0x{mech:08x}"))
}

/// The definition of one mechanism, or `CKR_MECHANISM_INVALID`.
pub fn get(mech: CK_MECHANISM_TYPE) -> Result<&'static MechanismDef> {
    REGISTRY.get(&mech).ok_or(Error::MechanismInvalid)
}

/// Mechanisms whose decryption and unwrapping authenticate their input, so that
/// a managed key's older versions can be tried after a rotation (`mechanism::versioned`).
const AUTHENTICATED: &[CK_MECHANISM_TYPE] = &[CKM_AES_GCM, CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_KWP];

/// True when decryption with `mech` can tell a wrong key version from the right one.
pub fn tries_versions(mech: CK_MECHANISM_TYPE) -> bool {
    AUTHENTICATED.contains(&mech)
}

/// The mechanisms whose caller chooses the IV, counter or nonce, and the bare
/// block cipher: under a key whose policy lets a principal encrypt (or wrap)
/// but not decrypt (or unwrap), the key gate refuses them, since their output
/// under chosen inputs is the key stream of other people's ciphertexts
/// (`crate::gate`, the IV rule). Message-based GCM decides per message.
const CALLER_IV: &[CK_MECHANISM_TYPE] = &[
    CKM_AES_ECB,
    CKM_AES_CBC,
    CKM_AES_CBC_PAD,
    CKM_AES_CTR,
    CKM_AES_GCM,
];

/// Whether the caller of `mech` chooses its IV (see [`CALLER_IV`]).
pub fn caller_chooses_iv(mech: CK_MECHANISM_TYPE) -> bool {
    CALLER_IV.contains(&mech)
}
